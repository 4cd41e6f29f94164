//! kvctl against a real 3-member kvstore cluster: runtime membership (`member add|promote|update|remove`) and
//! backups (`snapshot save`, then `kvstore --restore`), as an operator would do them from a shell.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use flotilla_tests::{binary, free_port, stderr, stdout, wait_for, Kv};

fn kvctl(endpoints: &str, args: &[&str]) -> Output {
    Command::new(binary("kvctl"))
        .arg(format!("--endpoints={endpoints}"))
        .args(args)
        .env_remove("ETCDCTL_API")
        .env_remove("ETCDCTL_ENDPOINTS")
        .env_remove("KVCTL_ENDPOINTS")
        .output()
        .unwrap()
}

/// `kvctl` that must succeed; its stdout.
fn ok(endpoints: &str, args: &[&str]) -> String {
    let out = kvctl(endpoints, args);
    assert!(out.status.success(), "kvctl {args:?}: {out:?}");
    stdout(&out)
}

/// The hex ID `member list` shows for `name`.
fn member_id(endpoints: &str, name: &str) -> String {
    let list = ok(endpoints, &["member", "list"]);
    list.lines()
        .find(|l| l.split(", ").nth(2) == Some(name))
        .and_then(|l| l.split(',').next())
        .unwrap_or_else(|| panic!("no member {name} in {list}"))
        .to_string()
}

/// `KEY="value"` lines as environment variables.
fn env_lines(printed: &str) -> Vec<(String, String)> {
    printed
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("KVSTORE_"))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

#[test]
fn kvctl_adds_promotes_updates_and_removes_members() {
    let mut kv = Kv::start();
    let all = kv.url();
    for i in 0..30 {
        ok(&all, &["put", &format!("k{i:02}"), "v"]);
    }
    // Bad arguments are refused before anything is sent, with etcdctl's messages and exit code 128.
    let out = kvctl(&all, &["member", "remove", "not-hex"]);
    assert_eq!(out.status.code(), Some(128), "{out:?}");
    assert!(
        stderr(&out).contains(
            "bad member ID arg (strconv.ParseUint: parsing \"not-hex\": invalid syntax), expecting ID in Hex"
        ),
        "{out:?}"
    );
    let out = kvctl(&all, &["member", "add", "kv3"]);
    assert_eq!(out.status.code(), Some(128), "{out:?}");
    assert!(
        stderr(&out).contains("member peer urls not provided"),
        "{out:?}"
    );
    let out = kvctl(&all, &["member", "remove", "1234abcd"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("member not found"), "{out:?}");

    // Add a learner; the lines kvctl prints are all the new member needs to join.
    let (new, peer_url) = kv.reserve_member("kv3");
    let printed = ok(
        &all,
        &[
            "member",
            "add",
            "kv3",
            &format!("--peer-urls={peer_url}"),
            "--learner",
        ],
    );
    let first = printed.lines().next().unwrap();
    assert!(
        first.starts_with("Member ") && first.contains(" added as learner to cluster "),
        "{printed}"
    );
    let env = env_lines(&printed);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("KVSTORE_NAME").as_deref(), Some("kv3"), "{printed}");
    assert_eq!(
        get("KVSTORE_INITIAL_CLUSTER_STATE").as_deref(),
        Some("existing")
    );
    assert_eq!(
        get("KVSTORE_INITIAL_ADVERTISE_PEER_URLS").as_deref(),
        Some(peer_url.as_str())
    );
    let initial = get("KVSTORE_INITIAL_CLUSTER").unwrap();
    assert_eq!(initial.split(',').count(), 4, "{initial}");
    assert!(initial.contains(&format!("kv3={peer_url}")), "{initial}");
    kv.join_member(new, env);
    let new_ep = kv.urls()[new].clone();
    assert!(
        wait_for(Duration::from_secs(15), || {
            stdout(&kvctl(&new_ep, &["get", "k29", "--consistency=s"])).contains("k29")
        }),
        "the new member never served the cluster's keys"
    );
    // Started, it publishes its name and client URL, as etcd members do.
    assert!(
        wait_for(Duration::from_secs(10), || {
            ok(&all, &["member", "list"]).contains(", started, kv3, ")
        }),
        "the new member never published its name: {}",
        ok(&all, &["member", "list"])
    );
    // A learner serves serializable reads and status only, as etcd's do: writes go to the voters.
    let out = kvctl(&new_ep, &["put", "via-learner", "no"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("etcdserver: rpc not supported for learner"),
        "{out:?}"
    );
    assert!(!kvctl(&new_ep, &["get", "k29"]).status.success());
    ok(&new_ep, &["endpoint", "status"]);
    let id = member_id(&all, "kv3");
    assert!(ok(&all, &["member", "list"])
        .contains(&format!("{id}, started, kv3, {peer_url}, {new_ep}, true")));

    // Promote it; as a voter it takes writes.
    let printed = ok(&all, &["member", "promote", &id]);
    assert!(
        printed.starts_with(&format!("Member {id:>16} promoted in cluster ")),
        "{printed}"
    );
    // The member that answered applied the promotion; kv3 applies it a moment later and refuses writes until then.
    assert!(
        wait_for(Duration::from_secs(5), || {
            let out = kvctl(&new_ep, &["put", "via-kv3", "yes"]);
            assert!(
                out.status.success() || stderr(&out).contains("not supported for learner"),
                "{out:?}"
            );
            out.status.success()
        }),
        "kv3 still refuses writes as a learner after its promotion"
    );
    assert!(ok(&all, &["member", "list"])
        .contains(&format!("{id}, started, kv3, {peer_url}, {new_ep}, false")));

    // Hand it the leadership (etcdctl move-leader finds the current leader among the endpoints).
    let out = kvctl(&all, &["move-leader", "1234"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("etcdserver: bad leader transferee"),
        "{out:?}"
    );
    let printed = ok(&all, &["move-leader", &id]);
    assert!(
        printed.starts_with("Leadership transferred from ")
            && printed.trim_end().ends_with(&format!(" to {id}")),
        "{printed}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&new_ep, &["endpoint", "status", "-w", "json"])).unwrap();
    let s = &status[0]["Status"];
    assert!(s["leader"].is_u64(), "{status}");
    assert_eq!(s["leader"], s["header"]["member_id"], "{status}");

    // Update its peer URL (the same port by another name for this host): the list shows it, the cluster works on.
    let renamed = peer_url.replace("127.0.0.1", "localhost");
    let printed = ok(
        &all,
        &["member", "update", &id, &format!("--peer-urls={renamed}")],
    );
    assert!(printed.contains(" updated in cluster "), "{printed}");
    assert!(ok(&all, &["member", "list", "-w", "json"]).contains(&renamed));

    // Remove a founder: it stops by itself; the other three go on.
    let founder = member_id(&all, "kv0");
    let rest = kv.urls()[1..].join(",");
    let printed = ok(&rest, &["member", "remove", &founder]);
    assert!(
        printed.starts_with(&format!("Member {founder:>16} removed from cluster ")),
        "{printed}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || kv.member_exited(0)),
        "the removed member kept running"
    );
    let list = ok(&rest, &["member", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    // If the removed founder led, the others elect a new leader first; a put they forwarded to it just before it
    // stopped fails (its outcome unknown), so it is retried.
    assert!(
        wait_for(Duration::from_secs(5), || {
            kvctl(&rest, &["put", "after-remove", "yes"])
                .status
                .success()
        }),
        "the remaining members never took a write"
    );
    assert_eq!(
        ok(&new_ep, &["get", "after-remove", "--print-value-only"]),
        "yes\n"
    );
}

#[test]
fn a_backup_from_kvctl_snapshot_save_restores_into_a_new_cluster() {
    let kv = Kv::start();
    let all = kv.url();
    for i in 0..200 {
        ok(&all, &["put", &format!("k{i:03}"), &format!("value {i}")]);
    }
    ok(&all, &["del", "k007"]);
    let before = ok(&all, &["get", "k", "--prefix", "-w", "json"]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("backup.db");
    let file_s = file.to_str().unwrap();

    // etcdctl's rules: one endpoint only, exit 5 otherwise.
    let out = kvctl(&all, &["snapshot", "save", file_s]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        stderr(&out).contains("snapshot must be requested to one selected node, not multiple"),
        "{out:?}"
    );
    assert!(!file.exists());

    let printed = ok(&kv.urls()[1], &["snapshot", "save", file_s]);
    assert_eq!(printed, format!("Snapshot saved at {file_s}\n"));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        meta.len() % 512,
        32,
        "padded and SHA-256 trailed like etcd's"
    );
    assert!(!tmp.path().join("backup.db.part").exists());

    // A new single-member cluster from the backup serves the same keys at the same revisions.
    let (client, peer, metrics) = (
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
    );
    let mut restored = Command::new(binary("kvstore"))
        .arg("--restore")
        .arg(&file)
        .args(["--name", "r", "--data-dir"])
        .arg(tmp.path().join("r"))
        .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
        ))
        .arg(format!("--initial-cluster=r=http://127.0.0.1:{peer}"))
        .arg(format!("--listen-metrics-urls=http://127.0.0.1:{metrics}"))
        .arg("--log-level=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("r.log")).unwrap())
        .spawn()
        .unwrap();
    let ep = format!("127.0.0.1:{client}");
    let served = wait_for(Duration::from_secs(20), || {
        kvctl(&ep, &["get", "k000"]).status.success()
    });
    let after = served.then(|| ok(&ep, &["get", "k", "--prefix", "-w", "json"]));
    let _ = restored.kill();
    let _ = restored.wait();
    let after = after.unwrap_or_else(|| {
        panic!(
            "the restored member never served: {}",
            std::fs::read_to_string(tmp.path().join("r.log")).unwrap_or_default()
        )
    });
    let kvs = |json: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(json).unwrap()["kvs"].clone()
    };
    assert_eq!(kvs(&after).as_array().unwrap().len(), 199);
    assert_eq!(
        kvs(&before),
        kvs(&after),
        "keys, values and revisions survive the round trip"
    );
}
