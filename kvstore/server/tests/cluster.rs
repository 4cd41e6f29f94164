//! Three real `kvstore` processes as one cluster: replication, failover, catch-up by snapshot, a minority
//! partition (network namespaces), and durability when every member is killed at once. Stock etcdctl 3.4 and the
//! `etcd-client` crate are the clients.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::cluster::{add_learner, join_command, Cluster, MemberAddr, Netns};
use common::{etcdctl, stdout};
use etcd_client::{Client, ConnectOptions, GetOptions};

fn opts() -> Option<ConnectOptions> {
    Some(
        ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(500))
            .with_timeout(Duration::from_secs(2)),
    )
}

async fn client(eps: &[String]) -> Client {
    Client::connect(eps, opts()).await.unwrap()
}

/// Serializable read of `key` on one member (what that member itself has applied).
async fn local_get(ep: &str, key: &str) -> Option<String> {
    let mut c = Client::connect([ep], opts()).await.ok()?;
    let r = c
        .get(key, Some(GetOptions::new().with_serializable()))
        .await
        .ok()?;
    r.kvs()
        .first()
        .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
}

/// Waits until member `ep` serves `key` from its own store (a serializable read).
async fn wait_serves(ep: &str, key: &str, within: Duration, what: &str) {
    wait_until(within, what, || async move {
        local_get(ep, key).await.is_some()
    })
    .await;
}

async fn hash_kv(ep: &str) -> (u32, i64) {
    let mut c = Client::connect([ep], opts()).await.unwrap();
    let h = c.hash_kv(0).await.unwrap();
    (h.hash(), h.header().unwrap().revision())
}

async fn wait_until<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_any_member_are_read_on_all_and_stock_etcdctl_sees_one_cluster() {
    let c = Cluster::start(3, &[]);
    let eps = c.endpoints();
    // A write on each member (two of them followers: forwarded to the leader) is read on every member.
    for (i, ep) in eps.iter().enumerate() {
        let out = etcdctl(ep, &["put", &format!("from/{i}"), &format!("v{i}")]);
        assert!(out.status.success(), "put on member {i}: {out:?}");
    }
    for ep in &eps {
        let out = etcdctl(ep, &["get", "from/", "--prefix", "--print-value-only"]);
        assert_eq!(stdout(&out), "v0\nv1\nv2\n", "linearizable read on {ep}");
    }
    // A watch on one member sees a write made on another.
    let all = eps.join(",");
    let mut watch = std::process::Command::new(common::etcdctl_path())
        .env("ETCDCTL_API", "3")
        .args([
            &format!("--endpoints={}", eps[2]),
            "watch",
            "w/",
            "--prefix",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(etcdctl(&eps[0], &["put", "w/k", "hello"]).status.success());
    assert!(etcdctl(&eps[1], &["del", "w/k"]).status.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = watch.kill();
    let out = watch.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "PUT\nw/k\nhello\nDELETE\nw/k\n\n");
    // member list and endpoint status --cluster: three started members with their client URLs, one leader.
    let out = etcdctl(&all, &["member", "list"]);
    let list = stdout(&out);
    assert_eq!(list.lines().count(), 3, "{list}");
    for (i, m) in c.members.iter().enumerate() {
        assert!(
            list.contains(&format!(
                ", started, m{i}, {}, {}, false",
                m.addr.peer_url(),
                m.addr.client_url()
            )),
            "{list}"
        );
    }
    let out = etcdctl(&eps[0], &["endpoint", "status", "--cluster", "-w", "json"]);
    assert!(out.status.success(), "{out:?}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{status}");
    let leaders: Vec<u64> = rows
        .iter()
        .map(|r| r["Status"]["leader"].as_u64().unwrap())
        .collect();
    assert!(
        leaders.iter().all(|l| *l == leaders[0] && *l != 0),
        "one leader: {leaders:?}"
    );
    let out = etcdctl(&all, &["endpoint", "health", "--cluster"]);
    let health = String::from_utf8_lossy(&out.stderr); // etcdctl 3.4 prints health to stderr
    assert!(out.status.success(), "{out:?}");
    assert_eq!(health.matches("is healthy").count(), 3, "{out:?}");
    // The etcd-client crate with all three endpoints: lease keep-alive through a follower.
    let mut cl = client(&[eps[1].clone()]).await;
    let lease = cl.lease_grant(3, None).await.unwrap().id();
    cl.put(
        "leased",
        "x",
        Some(etcd_client::PutOptions::new().with_lease(lease)),
    )
    .await
    .unwrap();
    let (mut keeper, _) = cl.lease_keep_alive(lease).await.unwrap();
    for _ in 0..5 {
        keeper.keep_alive().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ttl = cl.lease_time_to_live(lease, None).await.unwrap().ttl();
    assert!(ttl >= 1, "kept alive through a follower for 5 s: ttl {ttl}");
    assert_eq!(local_get(&eps[0], "leased").await.as_deref(), Some("x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_9_fails_over_and_the_member_catches_up_from_a_snapshot() {
    // A short log: the killed member falls behind the truncation point and needs a snapshot.
    let mut c = Cluster::start(3, &["--snapshot-count=100"]);
    let eps = c.endpoints();
    let mut cl = client(&eps).await;
    for i in 0..50 {
        cl.put(format!("k{i:04}"), "before", None).await.unwrap();
    }
    let old = c.wait_leader(Duration::from_secs(5));
    c.kill9(old);
    let killed = Instant::now();
    let others: Vec<String> = (0..3)
        .filter(|&i| i != old)
        .map(|i| eps[i].clone())
        .collect();
    // Writes through the survivors, retried until one is accepted: the failover time a client sees.
    loop {
        let mut w = client(&others).await;
        if w.put("failover", "ok", None).await.is_ok() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no writes 10 s after the leader died"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let failover = killed.elapsed();
    eprintln!("writes accepted again {failover:?} after kill -9 of the leader");
    // etcd 3.4 here: a median 1.29 s at these (default) timeouts. The survivors notice the closed connections at
    // once and elect at a tenth of the election timeout.
    assert!(
        failover < Duration::from_secs(1),
        "failover took {failover:?}; logs:\n{}",
        (0..3)
            .map(|i| format!("--- member {i}\n{}", c.log(i)))
            .collect::<String>()
    );
    let new = c.wait_leader(Duration::from_secs(5));
    assert_ne!(new, old);
    let mut w = client(&others).await;
    for i in 0..400 {
        w.put(format!("k{i:04}"), "after", None).await.unwrap();
    }
    c.launch(old);
    let ep = eps[old].clone();
    wait_until(
        Duration::from_secs(20),
        "restarted member caught up",
        || {
            let ep = ep.clone();
            async move { local_get(&ep, "k0399").await.as_deref() == Some("after") }
        },
    )
    .await;
    assert_eq!(
        c.metric(old, "etcd_network_snapshot_receive_success"),
        Some(1.0),
        "the restarted member was behind the log truncation point and got a snapshot"
    );
    // Identical stores: same hash at the same revision on all three.
    let rev = w
        .get("k0399", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    wait_until(
        Duration::from_secs(10),
        "every member at the same revision",
        || {
            let eps = eps.clone();
            async move {
                let mut hs = Vec::new();
                for ep in &eps {
                    hs.push(hash_kv(ep).await);
                }
                hs.iter().all(|h| *h == hs[0]) && hs[0].1 >= rev
            }
        },
    )
    .await;
    // The restarted member serves writes and linearizable reads like any other.
    let mut r = client(std::slice::from_ref(&ep)).await;
    r.put("via-restarted", "yes", None).await.unwrap();
    let got = r.get("failover", None).await.unwrap();
    assert_eq!(got.kvs()[0].value(), b"ok");
}

/// A write sent while the cluster has no leader waits for the election, as etcd's does, and is applied once
/// the cluster has one; a client that asks to fail fast (etcd's `hasleader` metadata) is told "no leader".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_during_an_election_waits_for_the_new_leader() {
    let mut c = Cluster::start(3, &[]);
    let eps = c.endpoints();
    c.wait_leader(Duration::from_secs(5));
    // Two of three down: the survivor can elect no one.
    c.kill9(1);
    c.kill9(2);
    let survivor = [eps[0].clone()];
    wait_until(
        Duration::from_secs(10),
        "the survivor lost its leader",
        || {
            let fast = ConnectOptions::new()
                .with_timeout(Duration::from_secs(2))
                .with_require_leader(true);
            let survivor = survivor.clone();
            async move {
                let Ok(mut cl) = Client::connect(&survivor, Some(fast)).await else {
                    return false;
                };
                matches!(cl.put("fast", "x", None).await,
                Err(etcd_client::Error::GRpcStatus(s)) if s.message() == "etcdserver: no leader")
            }
        },
    )
    .await;
    let sent = Instant::now();
    let patient = ConnectOptions::new().with_timeout(Duration::from_secs(8));
    let mut cl = Client::connect(&survivor, Some(patient)).await.unwrap();
    let put = tokio::spawn(async move { cl.put("held", "through the election", None).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !put.is_finished(),
        "the write was answered without a leader"
    );
    c.launch(1);
    let res = put.await.unwrap();
    assert!(
        res.is_ok(),
        "the held write failed after {:?}: {res:?}",
        sent.elapsed()
    );
    eprintln!(
        "a write held through an election was applied {:?} after it was sent",
        sent.elapsed()
    );
    for ep in [&eps[0], &eps[1]] {
        let ep = ep.clone();
        wait_until(Duration::from_secs(5), "the held write on both members", || {
            let ep = ep.clone();
            async move { local_get(&ep, "held").await.as_deref() == Some("through the election") }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_of_every_member() {
    let mut c = Cluster::start(3, &[]);
    let eps = c.endpoints();
    // Writers on every member at once: each acknowledgement is counted.
    let mut tasks = Vec::new();
    for (m, ep) in eps.iter().enumerate() {
        for w in 0..4 {
            let ep = ep.clone();
            tasks.push(tokio::spawn(async move {
                let mut cl = client(&[ep]).await;
                let mut acked = Vec::new();
                for i in 0..75 {
                    let key = format!("d/{m}/{w}/{i:03}");
                    cl.put(key.clone(), format!("v{i}"), None).await.unwrap();
                    acked.push(key);
                }
                acked
            }));
        }
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert_eq!(acked.len(), 900);
    for i in 0..3 {
        c.kill9(i);
    }
    for i in 0..3 {
        c.launch(i);
    }
    c.wait_leader(Duration::from_secs(20));
    let mut ranges = Vec::new();
    for ep in &eps {
        let mut cl = client(std::slice::from_ref(ep)).await;
        let r = cl
            .get(
                "d/",
                Some(GetOptions::new().with_prefix().with_serializable()),
            )
            .await
            .unwrap();
        ranges.push(
            r.kvs()
                .iter()
                .map(|kv| (kv.key().to_vec(), kv.mod_revision(), kv.value().to_vec()))
                .collect::<Vec<_>>(),
        );
    }
    let keys: std::collections::BTreeSet<Vec<u8>> =
        ranges[0].iter().map(|(k, _, _)| k.clone()).collect();
    for k in &acked {
        assert!(keys.contains(k.as_bytes()), "acknowledged {k} lost");
    }
    assert_eq!(
        ranges[0], ranges[1],
        "members 0 and 1 agree key by key, revision by revision"
    );
    assert_eq!(ranges[0], ranges[2], "members 0 and 2 agree");
    let h: Vec<(u32, i64)> = futures_hashes(&eps).await;
    assert!(
        h.iter().all(|x| *x == h[0]),
        "HashKV on every member: {h:?}"
    );
}

async fn futures_hashes(eps: &[String]) -> Vec<(u32, i64)> {
    let mut out = Vec::new();
    for ep in eps {
        out.push(hash_kv(ep).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_partition_cannot_write_and_loses_nothing_the_majority_accepted() {
    let ns = Netns::create(3);
    let c = Cluster::start_at(ns.addrs(), &[]);
    let eps = c.endpoints();
    let mut cl = client(&eps).await;
    cl.put("before", "1", None).await.unwrap();
    // Cut off the leader: the worst case, an old leader alone on its side.
    let cut = c.wait_leader(Duration::from_secs(5));
    ns.set_connected(cut, false);
    let majority: Vec<String> = (0..3)
        .filter(|&i| i != cut)
        .map(|i| eps[i].clone())
        .collect();
    let started = Instant::now();
    let mut m = client(&majority).await;
    loop {
        if m.put("during", "majority", None).await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the majority never took writes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..20 {
        m.put(format!("maj/{i}"), "x", None).await.unwrap();
    }
    // The cut-off member, asked from inside its namespace, refuses to write (no quorum) and steps down.
    let minority_put = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.names[cut], common::etcdctl_path()])
        .env("ETCDCTL_API", "3")
        .args([
            &format!("--endpoints={}", eps[cut]),
            "--command-timeout=3s",
            "put",
            "during",
            "minority",
        ])
        .output()
        .unwrap();
    assert!(
        !minority_put.status.success(),
        "the minority accepted a write: {minority_put:?}"
    );
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.names[cut], common::etcdctl_path()])
        .env("ETCDCTL_API", "3")
        .args([
            &format!("--endpoints={}", eps[cut]),
            "endpoint",
            "status",
            "-w",
            "json",
        ])
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    let member = s[0]["Status"]["header"]["member_id"].as_u64();
    let leader = s[0]["Status"]["leader"].as_u64();
    assert!(
        member.is_some() && leader != member,
        "the isolated old leader stepped down: {s}"
    );
    // Heal: the member rejoins without disrupting the leader, and has every majority write, not its own.
    let leader_before = c.leader();
    ns.set_connected(cut, true);
    wait_serves(
        &eps[cut],
        "maj/19",
        Duration::from_secs(15),
        "healed member caught up",
    )
    .await;
    assert_eq!(
        local_get(&eps[cut], "during").await.as_deref(),
        Some("majority")
    );
    assert_eq!(local_get(&eps[cut], "before").await.as_deref(), Some("1"));
    assert_eq!(
        c.leader(),
        leader_before,
        "pre-vote: the rejoining member did not depose the leader"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_bootstrap_through_discovery_and_a_late_one_is_told_the_cluster_is_full() {
    // The discovery store: an ordinary single kvstore, as a seed cloud-config would point at.
    let seed = common::KvStore::start();
    let mut s = client(&[seed.endpoint()]).await;
    s.put("/discovery/abc/_config/size", "3", None)
        .await
        .unwrap();
    let url = format!("http://{}/discovery/abc", seed.endpoint());
    let c = Cluster::start_discovery(3, &url);
    let out = etcdctl(&c.endpoints().join(","), &["member", "list"]);
    let list = stdout(&out);
    assert_eq!(list.lines().count(), 3, "{list}");
    for m in &c.members {
        assert!(
            list.contains(&format!("{}, {}", m.addr.name, m.addr.peer_url())),
            "{list}"
        );
    }
    let registered = s
        .get(
            "/discovery/abc/",
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .unwrap();
    assert_eq!(registered.kvs().len(), 4, "size plus three members");
    // A fourth member with the same discovery URL finds the cluster full and exits with the reason.
    let late = common::cluster::MemberAddr::local("late");
    let dir = tempfile::tempdir().unwrap();
    let out = late
        .command(dir.path())
        .arg(format!("--discovery={url}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--discovery") && err.contains("cluster is full"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_as_learners_promoted_and_removed_at_runtime() {
    let mut c = Cluster::start(3, &["--snapshot-count=50"]);
    let all = c.endpoints().join(",");
    let mut cl = client(&c.endpoints()).await;
    for i in 0..120 {
        cl.put(format!("k{i:03}"), "v", None).await.unwrap();
    }
    // Stock etcdctl adds a learner and prints the flags the new member starts with.
    let d = common::cluster::MemberAddr::local("d");
    let initial = common::cluster::add_learner(&all, &d);
    let log = std::fs::File::create(c.tmp.path().join("d.log")).unwrap();
    let mut child = common::cluster::join_command(c.tmp.path(), &d, &initial)
        .stderr(log)
        .spawn()
        .unwrap();
    // The new member receives the store (a snapshot: the log was truncated long ago) and serves it.
    let dep = d.endpoint();
    wait_serves(
        &dep,
        "k119",
        Duration::from_secs(15),
        "the new member serves the old keys",
    )
    .await;
    // It publishes its name and client URLs through raft once it finds itself in the membership it received
    // (etcd's publish), a moment after it starts serving.
    wait_until(
        Duration::from_secs(5),
        "the new member published its name",
        || {
            let all = all.clone();
            async move { stdout(&etcdctl(&all, &["member", "list"])).contains(", d, ") }
        },
    )
    .await;
    let list = stdout(&etcdctl(&all, &["member", "list"]));
    let id = list
        .lines()
        .find(|l| l.contains(", d, "))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("{list}"))
        .to_string();
    assert!(
        list.contains(&format!(", d, {}, {}, true", d.peer_url(), d.client_url())),
        "{list}"
    );
    // Promoted to a voter, it takes writes like any member; then one of the founders is removed and stops.
    let out = etcdctl(&all, &["member", "promote", &id]);
    assert!(out.status.success(), "{out:?}");
    // The promotion is applied on the member that answered `promote` first; the new member applies it a moment
    // later, and until then refuses writes as a learner (etcd's learner check is the same local one).
    let mut dc = client(std::slice::from_ref(&dep)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match dc.put("via-d", "yes", None).await {
            Ok(_) => break,
            Err(e) if e.to_string().contains("not supported for learner") => {
                assert!(
                    Instant::now() < deadline,
                    "still a learner after promotion: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("a write through the promoted member: {e}"),
        }
    }
    let founder = stdout(&etcdctl(&all, &["member", "list"]))
        .lines()
        .find(|l| l.contains(", m0, "))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_string();
    let out = etcdctl(&c.endpoints()[1], &["member", "remove", &founder]);
    assert!(out.status.success(), "{out:?}");
    let status = c
        .exited_within(0, Duration::from_secs(10))
        .expect("the removed member did not stop");
    assert!(
        !status.success(),
        "the removed member exits with an error: {status:?}"
    );
    assert!(
        c.log(0).contains("removed from the cluster"),
        "{}",
        c.log(0)
    );
    let rest = format!("{},{}", c.endpoints()[1..].join(","), dep);
    let list = stdout(&etcdctl(&rest, &["member", "list"]));
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(!list.contains(", m0, ") && list.contains(", d, "), "{list}");
    // Restarted on its old data dir, the removed member refuses to run instead of disrupting the cluster.
    c.launch(0);
    assert!(
        c.exited_within(0, Duration::from_secs(10)).is_some(),
        "a removed member restarted and kept running"
    );
    // The three members left (m1, m2, d) take writes (after an election if m0 had been leading).
    wait_until(Duration::from_secs(10), "writes after the removal", || {
        let rest = rest.clone();
        async move {
            etcdctl(&rest, &["put", "after-remove", "ok"])
                .status
                .success()
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
}

/// etcd's disaster recovery: the other members are gone for good, and the survivor restarts with
/// `--force-new-cluster` as a cluster of one, keeping every write it had. A removed member that comes back is
/// refused and stops.
#[test]
fn force_new_cluster_restarts_a_survivor_alone_with_its_data() {
    let mut c = Cluster::start(3, &[]);
    for i in 0..30 {
        let ep = &c.endpoints()[i % 3];
        let out = etcdctl(ep, &["put", &format!("k{i}"), &format!("v{i}")]);
        assert!(out.status.success(), "{out:?}");
    }
    let survivor = c.endpoints()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stdout(&etcdctl(
        &survivor,
        &["get", "k29", "--consistency=s", "--print-value-only"],
    )) != "v29\n"
    {
        assert!(
            Instant::now() < deadline,
            "member 0 never applied the last write"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..3 {
        c.kill9(i);
    }

    c.members[0].extra.push("--force-new-cluster".into());
    c.launch(0);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = etcdctl(
            &survivor,
            &["--command-timeout=2s", "put", "after", "alone"],
        );
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the forced member never took writes: {out:?}\n{}",
            c.log(0)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = stdout(&etcdctl(&survivor, &["member", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains(", m0, "), "{list}");
    let keys = stdout(&etcdctl(
        &survivor,
        &["get", "k", "--prefix", "--keys-only"],
    ));
    assert_eq!(keys.lines().filter(|l| !l.is_empty()).count(), 30, "{keys}");

    // Without the flag the member stays a cluster of one.
    c.kill9(0);
    c.members[0].extra.clear();
    c.launch(0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !etcdctl(&survivor, &["--command-timeout=2s", "put", "again", "v"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "{}", c.log(0));
        std::thread::sleep(Duration::from_millis(100));
    }

    // A removed member that comes back learns it was removed and stops; the survivor goes on alone.
    c.launch(1);
    assert!(
        c.exited_within(1, Duration::from_secs(20)).is_some(),
        "the removed member kept running:\n{}",
        c.log(1)
    );
    let out = etcdctl(&survivor, &["get", "again", "--print-value-only"]);
    assert_eq!(stdout(&out), "v\n");
    assert_eq!(
        stdout(&etcdctl(&survivor, &["member", "list"]))
            .lines()
            .count(),
        1
    );
}

/// A learner cannot be the one member left: it is refused before anything is rewritten, naming the reason.
#[test]
fn force_new_cluster_on_a_learner_is_refused() {
    let c = Cluster::start(1, &[]);
    let d = MemberAddr::local("d");
    let initial = add_learner(&c.endpoints()[0], &d);
    let mut learner = join_command(c.tmp.path(), &d, &initial)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the learner has the member's data (it holds the cluster's log from then on).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !etcdctl(&d.endpoint(), &["get", "x", "--consistency=s"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the learner never served");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = learner.kill();
    let _ = learner.wait();
    let out = join_command(c.tmp.path(), &d, &initial)
        .arg("--force-new-cluster")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--force-new-cluster") && err.contains("not a voting member"),
        "{err}"
    );
}

/// The hex id etcdctl's `member list` shows for the member named `name`.
fn member_id(list: &str, name: &str) -> String {
    list.lines()
        .find(|l| l.contains(&format!(", {name}, ")))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no {name} in {list}"))
        .to_string()
}

/// etcd's `--strict-reconfig-check`: with one of three members down, a change that would need it for a quorum is
/// refused with etcd's error, whichever member the request reaches; a learner may still be added and the dead
/// member removed.
#[test]
fn membership_changes_that_would_cost_the_quorum_are_refused() {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let dead = (leader + 1) % 3;
    let follower = (leader + 2) % 3;
    c.kill9(dead);
    // The leader counts a member as up while it answered within an election timeout (1 s).
    std::thread::sleep(Duration::from_millis(1500));
    let eps = c.endpoints();
    for at in [leader, follower] {
        let ep = &eps[at];
        let out = etcdctl(
            ep,
            &["member", "add", "x", "--peer-urls=http://127.0.0.1:1"],
        );
        assert!(!out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("etcdserver: unhealthy cluster"),
            "via member {at}: {err}"
        );
        let list = stdout(&etcdctl(ep, &["member", "list"]));
        let id = member_id(&list, &format!("m{follower}"));
        let out = etcdctl(ep, &["member", "remove", &id]);
        assert!(!out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("etcdserver: unhealthy cluster"),
            "via member {at}: {err}"
        );
        assert_eq!(stdout(&etcdctl(ep, &["member", "list"])).lines().count(), 3);
    }
    let ep = &eps[follower];
    let out = etcdctl(
        ep,
        &[
            "member",
            "add",
            "l",
            "--peer-urls=http://127.0.0.1:2",
            "--learner",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let list = stdout(&etcdctl(ep, &["member", "list"]));
    let dead_id = member_id(&list, &format!("m{dead}"));
    let out = etcdctl(ep, &["member", "remove", &dead_id]);
    assert!(out.status.success(), "{out:?}");
    // Two voters left, both up: writes go on.
    let out = etcdctl(ep, &["put", "after", "v"]);
    assert!(out.status.success(), "{out:?}");
}

/// etcd's `--experimental-initial-corrupt-check`: a member restarted on data whose history no longer matches
/// its peers' refuses to start, naming the peers that disagree; a member with intact data starts as usual, and
/// without the flag the damaged member is not examined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_corrupt_check_stops_a_member_whose_data_differs_from_its_peers() {
    let (mut c, _) = three_with_keys(&["--experimental-initial-corrupt-check"]).await;
    // Intact data: the restarted member compares, agrees, and serves.
    c.kill9(1);
    c.launch(1);
    wait_serves(
        &c.endpoints()[1],
        "k19",
        Duration::from_secs(15),
        "the intact member serves again",
    )
    .await;
    assert!(
        c.log(1).contains("initial corruption check passed"),
        "{}",
        c.log(1)
    );

    // Damage a follower's history on disk (a follower, so the writes below need no election): one revision's
    // entry disappears, as a bad sector would take it.
    let victim = (c.wait_leader(Duration::from_secs(5)) + 1) % 3;
    c.kill9(victim);
    damage_history(&c.members[victim].data_dir);
    c.launch(victim);
    let status = c
        .exited_within(victim, Duration::from_secs(20))
        .expect("the member with damaged data kept running");
    assert!(!status.success());
    let log = c.log(victim);
    assert!(log.contains("found data inconsistency with peers"), "{log}");
    // The other two, and their data, go on (asked directly: a client balancing over all three endpoints may
    // pick the stopped member's, and etcd-client does not retry a refused connection elsewhere).
    let survivor = c.endpoints()[(victim + 1) % 3].clone();
    client(&[survivor])
        .await
        .put("after", "check", None)
        .await
        .unwrap();

    // Without the flag the member is not examined (the check is what stopped it).
    c.members[victim]
        .extra
        .retain(|f| f != "--experimental-initial-corrupt-check");
    c.launch(victim);
    assert!(
        c.exited_within(victim, Duration::from_secs(3)).is_none(),
        "without the check the member starts: {}",
        c.log(victim)
    );
}

/// Three members with `flags`, holding keys k00..k19 that every member has applied.
async fn three_with_keys(flags: &[&str]) -> (Cluster, Client) {
    let c = Cluster::start(3, flags);
    let mut cl = client(&c.endpoints()).await;
    for i in 0..20 {
        cl.put(format!("k{i:02}"), "v", None).await.unwrap();
    }
    for ep in c.endpoints() {
        wait_serves(
            &ep,
            "k19",
            Duration::from_secs(10),
            "every member applied the writes",
        )
        .await;
    }
    (c, cl)
}

/// Deletes the oldest revision entry from a stopped member's store, as a lost sector would.
fn damage_history(data_dir: &std::path::Path) {
    let db = kvstore::storage::Db::open(data_dir).unwrap();
    let cf = db.cf(kvstore::storage::CF_REV).unwrap();
    let mut it = db.db.raw_iterator_cf(cf);
    it.seek_to_first();
    let first = it.key().expect("a revision entry").to_vec();
    drop(it);
    db.db.delete_cf(cf, &first).unwrap();
    db.db.flush_cf(cf).unwrap();
}

/// etcd's `--experimental-corrupt-check-time`: the leader compares the members' hashes while they run; a member
/// whose history differs gets the CORRUPT alarm, after which the cluster refuses writes ("etcdserver: corrupt
/// cluster") but still serves reads, as etcd does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_corrupt_check_raises_the_alarm_and_writes_stop() {
    let (mut c, _) = three_with_keys(&["--experimental-corrupt-check-time=300ms"]).await;
    let all = c.endpoints().join(",");
    // Healthy members raise nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stdout(&etcdctl(&all, &["alarm", "list"])), "");
    let leader = c.wait_leader(Duration::from_secs(5));
    let victim = (leader + 1) % 3;
    let victim_id = member_id(
        &stdout(&etcdctl(&all, &["member", "list"])),
        &format!("m{victim}"),
    );
    c.kill9(victim);
    damage_history(&c.members[victim].data_dir);
    c.launch(victim);
    let expected = format!(
        "memberID:{} alarm:CORRUPT",
        u64::from_str_radix(&victim_id, 16).unwrap()
    );
    wait_until(Duration::from_secs(15), "the CORRUPT alarm", || {
        let all = all.clone();
        let expected = expected.clone();
        async move { stdout(&etcdctl(&all, &["alarm", "list"])).contains(&expected) }
    })
    .await;
    let out = etcdctl(&all, &["put", "after", "corrupt"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("etcdserver: corrupt cluster"),
        "{out:?}"
    );
    assert_eq!(
        stdout(&etcdctl(&all, &["get", "k19", "--print-value-only"])),
        "v\n",
        "reads go on"
    );
}
