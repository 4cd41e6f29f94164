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
