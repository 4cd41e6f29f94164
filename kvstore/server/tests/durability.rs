//! Nothing acknowledged is lost on `kill -9`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{KvStore, Ports};
use etcd_client::{Client, GetOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let ports = Ports::free();
    let mut s = KvStore::start_in(&dir, ports);
    let c = Client::connect([s.endpoint()], None).await.unwrap();
    // 16 concurrent writers, so acknowledgements come out of shared (group-committed) fsyncs.
    let mut tasks = Vec::new();
    for w in 0..16 {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..100 {
                let key = format!("d/{w:02}/{i:03}");
                c.put(key.clone(), format!("v{i}"), None).await.unwrap();
                acked.push(key);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let rev_before = c
        .clone()
        .get(
            "d/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    let rev_before = rev_before.header().unwrap().revision();
    s.kill9();
    drop(c);

    let s = KvStore::start_in(&dir, ports);
    let mut c = Client::connect([s.endpoint()], None).await.unwrap();
    let got = c
        .get("d/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(
        got.kvs().len(),
        acked.len(),
        "every acknowledged write is back"
    );
    assert_eq!(
        got.header().unwrap().revision(),
        rev_before,
        "same revision after restart"
    );
    for kv in got.kvs() {
        let key = kv.key_str().unwrap();
        let i: usize = key.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(kv.value_str().unwrap(), format!("v{i}"));
    }
    // And the store keeps working.
    let put = c.put("after", "restart", None).await.unwrap();
    assert_eq!(put.header().unwrap().revision(), rev_before + 1);
}

/// etcd's `--wal-dir`: the synced log lives in its own directory, acknowledged writes survive `kill -9` there,
/// and a restart that looks for the log anywhere else is refused instead of starting from the last flush.
#[test]
fn writes_logged_in_a_separate_wal_dir_survive_kill_9_and_the_dir_cannot_be_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let wal = tmp.path().join("wal");
    let wal_flag = format!("--wal-dir={}", wal.display());
    let ports = Ports::free();
    let mut s = KvStore::start_in_with(&dir, ports, "http", &[&wal_flag]);
    for i in 0..50 {
        let out = common::etcdctl(&s.endpoint(), &["put", &format!("w{i:02}"), "v"]);
        assert!(out.status.success(), "{out:?}");
    }
    s.kill9();
    let logs = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .map(|es| {
                es.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert!(logs(&wal) > 0, "no write-ahead log in {}", wal.display());
    assert_eq!(
        logs(&dir.join("db")),
        0,
        "a write-ahead log beside the tables"
    );

    // Without the flag the log would not be found: refused, naming the flag to use.
    let err = refused_start(&["--data-dir".as_ref(), dir.as_os_str()]);
    assert!(err.contains(&wal_flag), "{err}");

    // Another member's data dir cannot share the directory: the two logs would mix.
    let other = tmp.path().join("other");
    let err = refused_start(&["--data-dir".as_ref(), other.as_os_str(), wal_flag.as_ref()]);
    assert!(err.contains("holds the log of data dir"), "{err}");

    let s = KvStore::start_in_with(&dir, ports, "http", &[&wal_flag]);
    let keys = common::stdout(&common::etcdctl(
        &s.endpoint(),
        &["get", "w", "--prefix", "--keys-only"],
    ));
    assert_eq!(keys.lines().filter(|l| !l.is_empty()).count(), 50, "{keys}");
}

/// Runs `kvstore` with `args`, expecting it to refuse to start: its stderr. Panics if it is still running after
/// 15 s (it started).
fn refused_start(args: &[&std::ffi::OsStr]) -> String {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kvstore"))
        .args(args)
        .args([
            "--listen-client-urls=http://127.0.0.1:0",
            "--listen-peer-urls=http://127.0.0.1:0",
            "--listen-metrics-urls=",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::refused_within(
        child,
        std::time::Duration::from_secs(15),
        &format!("kvstore with {args:?}"),
    )
}
