//! The Rust `etcd-client` crate, unchanged, against a real kvstore process.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::KvStore;
use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_watch_lease_txn() {
    let s = KvStore::start();
    let mut c = Client::connect([s.endpoint()], None).await.unwrap();

    // put / get
    let put = c.put("app/a", "1", None).await.unwrap();
    let rev_a = put.header().unwrap().revision();
    c.put("app/b", "2", None).await.unwrap();
    let got = c
        .get("app/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    let kvs: Vec<(String, String)> = got
        .kvs()
        .iter()
        .map(|kv| {
            (
                kv.key_str().unwrap().to_string(),
                kv.value_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kvs,
        vec![("app/a".into(), "1".into()), ("app/b".into(), "2".into())]
    );
    assert_eq!(got.count(), 2);

    // watch from a past revision replays history, then streams live events
    let mut stream = c
        .watch(
            "app/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev_a)
                    .with_prev_key(),
            ),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut c2 = c.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c2.put("app/a", "3", None).await.unwrap();
        c2.delete("app/b", None).await.unwrap();
    });
    while seen.len() < 4 {
        let resp = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for e in resp.events() {
            let kv = e.kv().unwrap();
            let prev = e.prev_kv().map(|p| p.value_str().unwrap().to_string());
            seen.push((e.event_type(), kv.key_str().unwrap().to_string(), prev));
        }
    }
    assert_eq!(
        seen,
        vec![
            (EventType::Put, "app/a".into(), None),
            (EventType::Put, "app/b".into(), None),
            (EventType::Put, "app/a".into(), Some("1".into())),
            (EventType::Delete, "app/b".into(), Some("2".into())),
        ]
    );

    // lease + keep-alive keeps the key past its TTL
    let lease = c.lease_grant(2, None).await.unwrap();
    c.put(
        "session",
        "alive",
        Some(PutOptions::new().with_lease(lease.id())),
    )
    .await
    .unwrap();
    let (mut keeper, mut responses) = c.lease_keep_alive(lease.id()).await.unwrap();
    for _ in 0..4 {
        keeper.keep_alive().await.unwrap();
        let r = responses.message().await.unwrap().unwrap();
        assert!(r.ttl() > 0);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    assert_eq!(
        c.get("session", None).await.unwrap().kvs().len(),
        1,
        "kept alive past the 2 s TTL"
    );
    let ttl = c.lease_time_to_live(lease.id(), None).await.unwrap();
    assert!(ttl.ttl() > 0 && ttl.granted_ttl() == 2, "{ttl:?}");
    c.lease_revoke(lease.id()).await.unwrap();
    assert!(c.get("session", None).await.unwrap().kvs().is_empty());

    // txn compare-and-swap
    let txn = Txn::new()
        .when([Compare::value("app/a", CompareOp::Equal, "3")])
        .and_then([TxnOp::put("app/a", "4", None)])
        .or_else([TxnOp::get("app/a", None)]);
    assert!(c.txn(txn.clone()).await.unwrap().succeeded());
    assert!(!c.txn(txn).await.unwrap().succeeded());
    assert_eq!(
        c.get("app/a", None).await.unwrap().kvs()[0]
            .value_str()
            .unwrap(),
        "4"
    );
}

/// `lock`/`unlock` go to etcd's Lock service: one holder at a time, waiters served in order, and a holder whose
/// lease expires lets go without unlocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_exclusive_fair_and_released_by_lease_expiry() {
    use etcd_client::LockOptions;
    let s = KvStore::start();
    let mut a = Client::connect([s.endpoint()], None).await.unwrap();
    let mut b = Client::connect([s.endpoint()], None).await.unwrap();
    let lease_a = a.lease_grant(60, None).await.unwrap().id();
    let lease_b = b.lease_grant(60, None).await.unwrap().id();

    let held = a
        .lock("jobs", Some(LockOptions::new().with_lease(lease_a)))
        .await
        .unwrap();
    let key_a = held.key().to_vec();
    assert_eq!(key_a, format!("jobs/{lease_a:x}").into_bytes());
    // Locking again with the same lease is the same acquisition.
    let again = a
        .lock("jobs", Some(LockOptions::new().with_lease(lease_a)))
        .await
        .unwrap();
    assert_eq!(again.key(), &key_a[..]);

    let waiter = tokio::spawn(async move {
        b.lock("jobs", Some(LockOptions::new().with_lease(lease_b)))
            .await
            .map(|r| r.key().to_vec())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished(), "a second holder got the lock");
    a.unlock(key_a.clone()).await.unwrap();
    let key_b = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter did not get the lock after unlock")
        .unwrap()
        .unwrap();
    assert_eq!(key_b, format!("jobs/{lease_b:x}").into_bytes());

    // b holds the lock; a queues behind it on a lease that expires meanwhile: a's place is gone, so b's unlock
    // does not hand the lock to a (it is told its session expired) and a third client gets it at once.
    let mut c = Client::connect([s.endpoint()], None).await.unwrap();
    let lease_c = c.lease_grant(60, None).await.unwrap().id();
    let short = a.lease_grant(2, None).await.unwrap().id();
    let doomed = tokio::spawn(async move {
        a.lock("jobs", Some(LockOptions::new().with_lease(short)))
            .await
            .map(|r| r.key().to_vec())
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut b2 = Client::connect([s.endpoint()], None).await.unwrap();
    b2.unlock(key_b).await.unwrap();
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        c.lock("jobs", Some(LockOptions::new().with_lease(lease_c))),
    )
    .await
    .expect("the lock stayed taken by an expired lease")
    .unwrap();
    assert_eq!(got.key(), format!("jobs/{lease_c:x}").as_bytes());
    let doomed = tokio::time::timeout(Duration::from_secs(5), doomed).await;
    assert!(
        !matches!(doomed, Ok(Ok(Ok(_)))),
        "a waiter whose lease expired was told it holds the lock: {doomed:?}"
    );
}

/// `campaign`/`proclaim`/`leader`/`observe`/`resign` go to etcd's Election service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_has_one_leader_whose_changes_observers_see() {
    use etcd_client::{ProclaimOptions, ResignOptions};
    let s = KvStore::start();
    let mut a = Client::connect([s.endpoint()], None).await.unwrap();
    let mut b = Client::connect([s.endpoint()], None).await.unwrap();
    let mut watcher = Client::connect([s.endpoint()], None).await.unwrap();
    let err = a.leader("svc").await.unwrap_err();
    assert!(err.to_string().contains("election: no leader"), "{err}");

    let lease_a = a.lease_grant(60, None).await.unwrap().id();
    let lease_b = b.lease_grant(60, None).await.unwrap().id();
    let mut seen = watcher.observe("svc").await.unwrap();
    let won = a.campaign("svc", "10.0.0.1", lease_a).await.unwrap();
    let leader_a = won.leader().unwrap().clone();
    assert_eq!(leader_a.key(), format!("svc/{lease_a:x}").as_bytes());
    let first = seen.message().await.unwrap().unwrap();
    assert_eq!(first.kv().unwrap().value(), b"10.0.0.1");

    let challenger = tokio::spawn(async move {
        let r = b.campaign("svc", "10.0.0.2", lease_b).await;
        (b, r.map(|r| r.leader().unwrap().clone()))
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!challenger.is_finished(), "two leaders at once");

    a.proclaim(
        "10.0.0.9",
        Some(ProclaimOptions::new().with_leader(leader_a.clone())),
    )
    .await
    .unwrap();
    let changed = seen.message().await.unwrap().unwrap();
    assert_eq!(changed.kv().unwrap().value(), b"10.0.0.9");
    let now = a.leader("svc").await.unwrap();
    assert_eq!(now.kv().unwrap().value(), b"10.0.0.9");

    a.resign(Some(ResignOptions::new().with_leader(leader_a.clone())))
        .await
        .unwrap();
    let (_b, leader_b) = tokio::time::timeout(Duration::from_secs(5), challenger)
        .await
        .expect("the challenger did not win after the leader resigned")
        .unwrap();
    let leader_b = leader_b.unwrap();
    assert_eq!(leader_b.key(), format!("svc/{lease_b:x}").as_bytes());
    let next = seen.message().await.unwrap().unwrap();
    assert_eq!(next.kv().unwrap().value(), b"10.0.0.2");

    // The old leader's key is gone: it can no longer proclaim.
    let err = a
        .proclaim("stale", Some(ProclaimOptions::new().with_leader(leader_a)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("election: not leader"), "{err}");
    assert_eq!(
        a.leader("svc").await.unwrap().kv().unwrap().value(),
        b"10.0.0.2"
    );
}
