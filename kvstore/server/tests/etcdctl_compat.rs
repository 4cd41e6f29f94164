//! The stock etcdctl 3.4 (Debian `etcd-client`, ETCDCTL_API=3) against a real kvstore process.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{etcdctl, stdout, KvStore};

#[test]
fn put_get_prefix_and_delete() {
    let s = KvStore::start();
    let ep = s.endpoint();
    let o = etcdctl(&ep, &["put", "foo", "bar"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "OK\n");
    assert_eq!(stdout(&etcdctl(&ep, &["get", "foo"])), "foo\nbar\n");
    etcdctl(&ep, &["put", "dir/a", "1"]);
    etcdctl(&ep, &["put", "dir/b", "2"]);
    etcdctl(&ep, &["put", "dis", "x"]);
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "dir/", "--prefix"])),
        "dir/a\n1\ndir/b\n2\n"
    );
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "dir/", "--prefix", "--keys-only"])),
        "dir/a\n\ndir/b\n\n"
    );
    assert_eq!(stdout(&etcdctl(&ep, &["del", "dir/", "--prefix"])), "2\n");
    assert_eq!(stdout(&etcdctl(&ep, &["get", "dir/", "--prefix"])), "");
    assert_eq!(stdout(&etcdctl(&ep, &["del", "foo"])), "1\n");
    assert_eq!(stdout(&etcdctl(&ep, &["get", "foo"])), "");
    // A historical read sees the deleted value.
    let o = etcdctl(&ep, &["get", "foo", "-w", "json", "--rev", "2"]);
    assert!(stdout(&o).contains("\"value\":\"YmFy\""), "{}", stdout(&o));
}

#[test]
fn watch_prefix_sees_another_clients_puts_and_deletes() {
    let s = KvStore::start();
    let ep = s.endpoint();
    let mut watcher = Command::new(common::etcdctl_path())
        .env("ETCDCTL_API", "3")
        .args([&format!("--endpoints={ep}"), "watch", "--prefix", "svc/"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give the watch time to be created, then write from "another shell".
    std::thread::sleep(Duration::from_millis(500));
    etcdctl(&ep, &["put", "svc/web", "10.0.0.1:80"]);
    etcdctl(&ep, &["put", "other", "ignored"]);
    etcdctl(&ep, &["del", "svc/web"]);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < 5 && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_eq!(
        lines,
        vec!["PUT", "svc/web", "10.0.0.1:80", "DELETE", "svc/web"]
    );
}

#[test]
fn txn_compare_and_swap() {
    let s = KvStore::start();
    let ep = s.endpoint();
    etcdctl(&ep, &["put", "cas", "old"]);
    let run = |script: &str| common::etcdctl_with_input(&ep, &["txn"], script);
    let o = run("value(\"cas\") = \"old\"\n\nput cas new\n\nput cas lost\n\n");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "SUCCESS\n\nOK\n");
    let o = run("value(\"cas\") = \"old\"\n\nput cas new2\n\nget cas\n\n");
    assert_eq!(stdout(&o), "FAILURE\n\ncas\nnew\n");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "cas", "--print-value-only"])),
        "new\n"
    );
}

#[test]
fn lease_expiry_deletes_the_key() {
    let s = KvStore::start();
    let ep = s.endpoint();
    let o = etcdctl(&ep, &["lease", "grant", "3"]);
    let text = stdout(&o);
    assert!(text.contains("granted with TTL(3s)"), "{text}");
    let id = text.split_whitespace().nth(1).unwrap().to_string();
    assert!(etcdctl(&ep, &["put", "--lease", &id, "ephemeral", "v"])
        .status
        .success());
    let ttl = stdout(&etcdctl(&ep, &["lease", "timetolive", &id, "--keys"]));
    assert!(ttl.contains("attached keys([ephemeral])"), "{ttl}");
    let granted = Instant::now();
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "ephemeral", "--print-value-only"])),
        "v\n"
    );
    loop {
        if stdout(&etcdctl(&ep, &["get", "ephemeral"])).is_empty() {
            break;
        }
        assert!(
            granted.elapsed() < Duration::from_secs(6),
            "key still there after {:?}",
            granted.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone_after = granted.elapsed();
    assert!(
        gone_after >= Duration::from_millis(2500),
        "expired too early: {gone_after:?}"
    );
    assert!(
        gone_after <= Duration::from_secs(5),
        "expired too late: {gone_after:?}"
    );
    let o = etcdctl(&ep, &["lease", "revoke", &id]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("requested lease not found"),
        "{o:?}"
    );
}

#[test]
fn endpoint_status_member_list_and_health() {
    let s = KvStore::start();
    let ep = s.endpoint();
    let o = etcdctl(&ep, &["endpoint", "status", "-w", "table"]);
    assert!(o.status.success(), "{o:?}");
    let t = stdout(&o);
    assert!(
        t.contains("ENDPOINT") && t.contains("IS LEADER") && t.contains(&ep) && t.contains("true"),
        "{t}"
    );
    let o = etcdctl(&ep, &["member", "list"]);
    let t = stdout(&o);
    assert!(t.contains(", started, test, http://127.0.0.1:"), "{t}");
    let o = etcdctl(&ep, &["endpoint", "health"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is healthy")
            || stdout(&o).contains("is healthy"),
        "{o:?}"
    );
}

#[test]
fn check_perf_small_load_passes() {
    let s = KvStore::start();
    let o = etcdctl(&s.endpoint(), &["check", "perf", "--load=s"]);
    let t = stdout(&o);
    eprintln!("{t}");
    assert!(
        o.status.success(),
        "check perf failed: {t} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(t.contains("PASS: Throughput"), "{t}");
    assert!(!t.contains("FAIL"), "{t}");
}

/// `check datascale` writes 10,000 keys and reads the member's memory from `/metrics` on the client URL.
#[test]
fn check_datascale_small_load_passes() {
    let s = KvStore::start();
    let o = etcdctl(&s.endpoint(), &["check", "datascale", "--load=s"]);
    let t = stdout(&o);
    assert!(
        o.status.success(),
        "check datascale failed: {t} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(t.contains("PASS: Approximate system memory used"), "{t}");
}

/// With `--auto-compaction-retention=2s` the server compacts history older than about two seconds itself;
/// the latest value stays.
#[test]
fn auto_compaction_drops_history_older_than_the_retention() {
    let s = KvStore::start_with(&[
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=2s",
    ]);
    let ep = s.endpoint();
    assert!(etcdctl(&ep, &["put", "k", "old"]).status.success());
    let o = etcdctl(&ep, &["get", "k", "-w", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let old_rev = json["header"]["revision"].as_i64().unwrap();
    assert!(etcdctl(&ep, &["put", "k", "new"]).status.success());
    let readable = |rev: i64| etcdctl(&ep, &["get", "k", "--rev", &rev.to_string()]);
    assert!(
        readable(old_rev).status.success(),
        "history is there before the retention passes"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let o = readable(old_rev);
        if !o.status.success() {
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("required revision has been compacted"),
                "{o:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "revision {old_rev} still readable after 15 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "k", "--print-value-only"])),
        "new\n"
    );
}

/// The space quota, as etcd's maintenance guide walks through it: a write that would take the database past
/// `--quota-backend-bytes` raises NOSPACE and is refused, and so is every later write that adds data while the
/// alarm is up; reads and deletes still work; after compaction, defragmentation and `alarm disarm` writes are
/// taken again, and nothing stored was lost on the way.
#[test]
fn the_space_quota_raises_nospace_and_disarming_restores_writes() {
    let s = KvStore::start_with(&["--quota-backend-bytes=1500000"]);
    let ep = s.endpoint();
    // (A command-line argument is at most 128 KiB.)
    let big = "x".repeat(120_000);
    assert!(etcdctl(&ep, &["put", "keep", "me"]).status.success());
    let mut refused = None;
    for i in 0..40 {
        let o = etcdctl(&ep, &["put", &format!("big{i}"), &big]);
        if !o.status.success() {
            refused = Some(o);
            break;
        }
        // The database's size is measured every second.
        std::thread::sleep(Duration::from_millis(300));
    }
    let o = refused.expect("no write was refused past a 1.5 MB quota");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("etcdserver: mvcc: database space exceeded"),
        "{o:?}"
    );
    let alarms = stdout(&etcdctl(&ep, &["alarm", "list"]));
    assert!(alarms.contains("alarm:NOSPACE"), "{alarms:?}");
    let status = stdout(&etcdctl(&ep, &["endpoint", "status"]));
    assert!(status.contains("alarm:NOSPACE"), "{status:?}");
    // etcd's /health fails while an alarm is up (etcdctl 3.4's `endpoint health` does not look at alarms).
    assert_eq!(
        common::http_get(s.client_port, "/health"),
        Some((503, r#"{"health":"false"}"#.to_string()))
    );
    // Small writes are refused too while the alarm is up; reads and deletes are not.
    let o = etcdctl(&ep, &["put", "small", "1"]);
    assert!(!o.status.success(), "a put went through under NOSPACE");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "keep", "--print-value-only"])),
        "me\n"
    );
    assert!(etcdctl(&ep, &["del", "big", "--prefix"]).status.success());
    // Make room: compact history, defragment, disarm.
    let o = etcdctl(&ep, &["get", "keep", "-w", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rev = json["header"]["revision"].as_i64().unwrap().to_string();
    assert!(etcdctl(&ep, &["compaction", &rev, "--physical"])
        .status
        .success());
    assert!(etcdctl(&ep, &["defrag"]).status.success());
    std::thread::sleep(Duration::from_millis(1500));
    let o = etcdctl(&ep, &["alarm", "disarm"]);
    assert!(stdout(&o).contains("alarm:NOSPACE"), "{o:?}");
    assert_eq!(stdout(&etcdctl(&ep, &["alarm", "list"])), "");
    assert_eq!(
        common::http_get(s.client_port, "/health"),
        Some((200, r#"{"health":"true"}"#.to_string()))
    );
    assert!(etcdctl(&ep, &["put", "small", "1"]).status.success());
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "keep", "--print-value-only"])),
        "me\n"
    );
}

/// `--max-txn-ops` and `--max-request-bytes` bound what one request may carry, with etcd's errors.
#[test]
fn request_limits_follow_the_flags() {
    let s = KvStore::start_with(&["--max-txn-ops=2", "--max-request-bytes=2048"]);
    let ep = s.endpoint();
    let txn = |script: &str| common::etcdctl_with_input(&ep, &["txn"], script);
    assert!(txn("\nput a 1\nput b 2\n\n\n").status.success());
    let o = txn("\nput a 1\nput b 2\nput c 3\n\n\n");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("too many operations in txn request"),
        "{o:?}"
    );
    assert!(etcdctl(&ep, &["put", "small", &"v".repeat(1000)])
        .status
        .success());
    let o = etcdctl(&ep, &["put", "big", &"v".repeat(3000)]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("etcdserver: request is too large"),
        "{o:?}"
    );
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "c"])),
        "",
        "the refused txn wrote nothing"
    );
}

/// A bad retention is refused at start, naming the flag.
#[test]
fn a_bad_auto_compaction_retention_is_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_kvstore"))
        .args([
            "--auto-compaction-mode=revision",
            "--auto-compaction-retention=1h",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--auto-compaction-retention") && err.contains("number of revisions"),
        "{err}"
    );
}

#[test]
fn compacted_revisions_are_refused_like_etcd() {
    let s = KvStore::start();
    let ep = s.endpoint();
    for i in 0..5 {
        etcdctl(&ep, &["put", "k", &i.to_string()]);
    }
    let o = etcdctl(&ep, &["compaction", "4"]);
    assert_eq!(stdout(&o), "compacted revision 4\n");
    let o = etcdctl(&ep, &["get", "k", "--rev", "3"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("required revision has been compacted"),
        "{o:?}"
    );
    assert_eq!(
        stdout(&etcdctl(
            &ep,
            &["get", "k", "--rev", "4", "--print-value-only"]
        )),
        "2\n"
    );
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "k", "--print-value-only"])),
        "4\n"
    );
}
