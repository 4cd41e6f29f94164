//! Drives the built `kvctl` binary against a real etcd 3.4 (`/usr/bin/etcd`) on loopback ports of its own, one
//! etcd per test with a temporary data directory. Skips, with a note, where etcd is not installed.
//!
//! `KVCTL_TEST_SERVER=/path/to/kvstore` runs the same tests against another server that takes etcd's flags
//! (Flotilla's `kvstore`), to check both sides of the wire against the same expectations.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ETCD: &str = "/usr/bin/etcd";

/// The server binary under test: `KVCTL_TEST_SERVER`, else etcd.
fn server_binary() -> String {
    std::env::var("KVCTL_TEST_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ETCD.to_string())
}
const KVCTL: &str = env!("CARGO_BIN_EXE_kvctl");

/// Environment that would change kvctl's behaviour behind a test's back.
const ENV_KNOBS: &[&str] = &[
    "ETCDCTL_API",
    "KVCTL_API",
    "ETCDCTL_ENDPOINTS",
    "KVCTL_ENDPOINTS",
    "ETCDCTL_WRITE_OUT",
    "ETCDCTL_HEX",
    "ETCDCTL_DIAL_TIMEOUT",
    "ETCDCTL_COMMAND_TIMEOUT",
    "ETCDCTL_CACERT",
    "ETCDCTL_CERT",
    "ETCDCTL_KEY",
    "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
    "ETCDCTL_INSECURE_TRANSPORT",
];

/// A running etcd, killed on drop.
struct Etcd {
    child: Child,
    endpoint: String,
    /// Flags every kvctl run gets (a TLS server's `--cacert`).
    client_args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    flotilla_tests::free_port("127.0.0.1")
}

impl Etcd {
    /// Starts etcd, or returns `None` (after saying so) when it is not installed.
    fn start() -> Option<Etcd> {
        Etcd::start_with(&[])
    }

    /// Starts etcd with `extra` flags.
    fn start_with(extra: &[&str]) -> Option<Etcd> {
        Etcd::start_serving("http", extra, &[])
    }

    /// Starts etcd with its client URL on `scheme` (http or https), `extra` flags, and `client_args` for every
    /// kvctl run.
    fn start_serving(scheme: &str, extra: &[&str], client_args: &[&str]) -> Option<Etcd> {
        let server = server_binary();
        if !Path::new(&server).exists() {
            eprintln!("note: {server} not found; skipping the test against a real etcd");
            return None;
        }
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let (client, peer, metrics) = (free_port(), free_port(), free_port());
            let client_url = format!("{scheme}://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let child = Command::new(&server)
                .arg("--name")
                .arg("default")
                .arg("--data-dir")
                .arg(dir.path())
                .arg("--listen-client-urls")
                .arg(&client_url)
                .arg("--advertise-client-urls")
                .arg(&client_url)
                .arg("--listen-peer-urls")
                .arg(&peer_url)
                .arg("--initial-advertise-peer-urls")
                .arg(&peer_url)
                .arg("--initial-cluster")
                .arg(format!("default={peer_url}"))
                .arg("--listen-metrics-urls")
                .arg(format!("http://127.0.0.1:{metrics}"))
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start etcd");
            let mut etcd = Etcd {
                child,
                endpoint: if scheme == "http" {
                    format!("127.0.0.1:{client}")
                } else {
                    client_url.clone()
                },
                client_args: client_args.iter().map(|a| a.to_string()).collect(),
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = etcd.child.try_wait() {
                    break; // lost a port race; try again with new ports
                }
                if etcd.run(&["endpoint", "health"]).code == 0 {
                    return Some(etcd);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        panic!("etcd did not become healthy");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(KVCTL);
        for k in ENV_KNOBS {
            cmd.env_remove(k);
        }
        cmd.arg("--endpoints")
            .arg(&self.endpoint)
            .args(&self.client_args)
            .args(args);
        cmd
    }

    /// Runs kvctl to completion.
    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None, &[])
    }

    /// Runs kvctl with stdin text and extra environment.
    fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start kvctl");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        let out = child.wait_with_output().expect("kvctl output");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The store's current revision.
    fn revision(&self) -> i64 {
        let out = self.run(&["get", "any-key", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        v["header"]["revision"].as_i64().expect("revision")
    }

    /// Starts a long-running kvctl whose stdout lines arrive on a channel.
    fn spawn_lines(&self, args: &[&str], env: &[(&str, &str)]) -> Lines {
        self.spawn_lines_with_input(args, env, "")
    }

    /// Like `spawn_lines`, writing `input` to its stdin first (then closing it).
    fn spawn_lines_with_input(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Lines {
        let mut child = self
            .command(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kvctl");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Lines { child, rx }
    }
}

/// A finished kvctl run.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "kvctl failed: {self:?}");
        &self.stdout
    }
}

/// A running kvctl read line by line; killed on drop.
struct Lines {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Lines {
    #[track_caller]
    fn expect(&self, want: &[&str]) {
        for w in want {
            let got = self
                .rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no line; wanted {w:?}"));
            assert_eq!(&got, w);
        }
    }

    fn wait(mut self) -> (i32, String) {
        let status = self.child.wait().expect("wait");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn put_get_del() {
    let Some(etcd) = Etcd::start() else { return };
    assert_eq!(etcd.run(&["put", "/a/b", "1"]).ok(), "OK\n");
    assert_eq!(etcd.run(&["put", "/a/c/d", "2"]).ok(), "OK\n");
    assert_eq!(
        etcd.run_with(&["put", "/z"], Some("from stdin"), &[]).ok(),
        "OK\n"
    );
    assert_eq!(
        etcd.run(&["get", "--prefix", "/a"]).ok(),
        "/a/b\n1\n/a/c/d\n2\n"
    );
    assert_eq!(
        etcd.run(&["get", "/z", "--print-value-only"]).ok(),
        "from stdin\n"
    );
    assert_eq!(etcd.run(&["get", "/a", "/a/c"]).ok(), "/a/b\n1\n");
    assert_eq!(
        etcd.run(&["get", "--prefix", "/a", "--keys-only"]).ok(),
        "/a/b\n\n/a/c/d\n\n"
    );
    assert_eq!(
        etcd.run(&["get", "--prefix", "/a", "--count-only"]).ok(),
        "2\n"
    );
    assert_eq!(
        etcd.run(&["get", "--prefix", "/a", "--limit", "1"]).ok(),
        "/a/b\n1\n"
    );
    assert_eq!(
        etcd.run(&["get", "--from-key", "/a/c"]).ok(),
        "/a/c/d\n2\n/z\nfrom stdin\n"
    );
    assert_eq!(
        etcd.run(&["get", "--prefix", "/a", "--order", "DESCEND"])
            .ok(),
        "/a/c/d\n2\n/a/b\n1\n"
    );

    let json: serde_json::Value =
        serde_json::from_str(etcd.run(&["get", "/a/b", "-w", "json"]).ok()).expect("json");
    assert_eq!(json["kvs"][0]["key"], "L2EvYg==");
    assert_eq!(json["kvs"][0]["value"], "MQ==");
    assert_eq!(json["count"], 1);
    assert!(json["header"]["cluster_id"].is_u64() && json["header"]["raft_term"].is_u64());

    let table = etcd.run(&["get", "/a/b", "-w", "table"]);
    assert!(table.ok().contains("| /a/b | 1     |"), "{table:?}");

    let prev = etcd.run(&["put", "/a/b", "one", "--prev-kv"]);
    assert_eq!(prev.ok(), "OK\n/a/b\n1\n");
    assert_eq!(etcd.run(&["del", "--prefix", "/a"]).ok(), "2\n");
    assert_eq!(
        etcd.run(&["del", "/z", "--prev-kv"]).ok(),
        "1\n/z\nfrom stdin\n"
    );
    assert_eq!(etcd.run(&["get", "--prefix", "/a"]).ok(), "");

    let bad = etcd.run(&["get"]);
    assert_eq!(bad.code, 128);
    assert_eq!(
        bad.stderr,
        "Error: get command needs one argument as key and an optional argument as range_end\n"
    );
    let bad = etcd.run(&["get", "k", "-w", "yaml"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (4, "Error: unsupported output format\n")
    );
    let bad = etcd.run(&["put", "k", "-w", "table", "v"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (4, "Error: table not supported as output format\n")
    );
}

#[test]
fn txn_branches() {
    let Some(etcd) = Etcd::start() else { return };
    etcd.run(&["put", "key1", "1"]).ok();
    let input = "mod(\"key1\") > \"0\"\n\nput key1 \"overwrote key1\"\nget key1\n\nput key2 \"some extra key\"\n\n";
    let out = etcd.run_with(&["txn"], Some(input), &[]);
    assert_eq!(out.ok(), "SUCCESS\n\nOK\n\nkey1\noverwrote key1\n");
    let input = "value(\"key1\") = \"nope\"\n\nput key1 x\n\nput key2 y\ndel key1\n\n";
    let out = etcd.run_with(&["txn"], Some(input), &[]);
    assert_eq!(out.ok(), "FAILURE\n\nOK\n\n1\n");
    let out = etcd.run_with(
        &["txn", "-i"],
        Some("create(\"key1\") = \"0\"\n\nput key1 created\n\n\n"),
        &[],
    );
    assert_eq!(
        out.ok(),
        "compares:\nsuccess requests (get, put, del):\nfailure requests (get, put, del):\nSUCCESS\n\nOK\n"
    );
    assert_eq!(
        etcd.run(&["get", "key1", "--print-value-only"]).ok(),
        "created\n"
    );
    let bad = etcd.run_with(&["txn"], Some("mod(key1) > 0\n\n\n\n"), &[]);
    assert_eq!(bad.code, 3);
    assert_eq!(bad.stderr, "Error: malformed comparison: mod(key1) > 0\n");
    let bad = etcd.run_with(&["txn"], Some("\nfrob k\n\n\n"), &[]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (3, "Error: invalid txn request: frob k\n")
    );
}

#[test]
fn leases() {
    let Some(etcd) = Etcd::start() else { return };
    let granted = etcd.run(&["lease", "grant", "60"]);
    let text = granted.ok().to_string();
    let id = text
        .strip_prefix("lease ")
        .and_then(|s| s.strip_suffix(" granted with TTL(60s)\n"))
        .unwrap_or_else(|| panic!("grant output: {text:?}"))
        .to_string();
    assert_eq!(id.len(), 16);
    etcd.run(&["put", "--lease", &id, "leased", "v"]).ok();
    let ttl = etcd.run(&["lease", "timetolive", &id, "--keys"]);
    assert!(
        ttl.ok()
            .starts_with(&format!("lease {id} granted with TTL(60s), remaining(")),
        "{ttl:?}"
    );
    assert!(
        ttl.stdout.ends_with(", attached keys([leased])\n"),
        "{ttl:?}"
    );
    assert_eq!(
        etcd.run(&["lease", "keep-alive", "--once", &id]).ok(),
        format!("lease {id} keepalived with TTL(60)\n")
    );
    assert!(etcd
        .run(&["lease", "list"])
        .ok()
        .contains(&format!("{id}\n")));
    assert_eq!(
        etcd.run(&["lease", "revoke", &id]).ok(),
        format!("lease {id} revoked\n")
    );
    assert_eq!(
        etcd.run(&["get", "leased"]).ok(),
        "",
        "the key goes with its lease"
    );
    assert_eq!(
        etcd.run(&["lease", "timetolive", &id]).ok(),
        format!("lease {id} already expired\n")
    );
    let bad = etcd.run(&["lease", "revoke", &id]);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr,
        "Error: failed to revoke lease (etcdserver: requested lease not found)\n"
    );
    let bad = etcd.run(&["lease", "keep-alive", "--once", &id]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (2, "Error: etcdserver: requested lease not found\n")
    );
    let bad = etcd.run(&["lease", "revoke", "xyz"]);
    assert_eq!(bad.code, 128);

    // keep-alive keeps going until the lease is gone.
    let id2 = etcd
        .run(&["lease", "grant", "3"])
        .ok()
        .split(' ')
        .nth(1)
        .expect("id")
        .to_string();
    let ka = etcd.spawn_lines(&["lease", "keep-alive", &id2], &[]);
    let line = format!("lease {id2} keepalived with TTL(3)");
    ka.expect(&[&line, &line]);
    etcd.run(&["lease", "revoke", &id2]).ok();
    let mut rest = Vec::new();
    while let Ok(l) = ka.rx.recv_timeout(Duration::from_secs(5)) {
        rest.push(l);
    }
    assert_eq!(
        rest.last().map(String::as_str),
        Some(format!("lease {id2} expired or revoked.").as_str())
    );
    assert_eq!(ka.wait().0, 0);
}

#[test]
fn v2_verbs() {
    let Some(etcd) = Etcd::start() else { return };
    assert_eq!(
        etcd.run(&["set", "/services/web/host1", "10.0.0.1"]).ok(),
        "10.0.0.1\n"
    );
    assert_eq!(
        etcd.run(&["set", "/services/web/host2", "10.0.0.2", "--ttl", "30"])
            .ok(),
        "10.0.0.2\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(etcd.run(&["get", "/services/web/host2", "-w", "json"]).ok())
            .expect("json");
    assert!(
        json["kvs"][0]["lease"].as_i64().unwrap_or(0) != 0,
        "--ttl attaches a lease: {json}"
    );
    assert_eq!(
        etcd.run(&["mk", "/services/db/main", "10.0.0.3"]).ok(),
        "10.0.0.3\n"
    );

    let exists = etcd.run(&["mk", "/services/web/host1", "other"]);
    assert_eq!(exists.code, 4);
    let rev = etcd.revision();
    assert_eq!(
        exists.stderr,
        format!("Error:  105: Key already exists (/services/web/host1) [{rev}]\n")
    );
    assert_eq!(
        etcd.run(&["ls", "/services"]).ok(),
        "/services/db\n/services/web\n"
    );
    assert_eq!(etcd.run(&["ls"]).ok(), "/services\n");
    assert_eq!(
        etcd.run(&["ls", "--recursive", "-p", "/services"]).ok(),
        "/services/db/\n/services/db/main\n/services/web/\n/services/web/host1\n/services/web/host2\n"
    );
    assert_eq!(
        etcd.run(&["ls", "/services/web/host1"]).ok(),
        "/services/web/host1\n"
    );

    let v2 = [("ETCDCTL_API", "2")];
    assert_eq!(
        etcd.run_with(&["get", "/services/web/host1"], None, &v2)
            .ok(),
        "10.0.0.1\n"
    );
    assert_eq!(
        etcd.run_with(&["get", "/services/web/host1"], None, &[("KVCTL_API", "2")])
            .ok(),
        "10.0.0.1\n"
    );
    let dir = etcd.run_with(&["get", "/services/web"], None, &v2);
    assert_eq!(
        (dir.code, dir.stderr.as_str()),
        (1, "/services/web: is a directory\n")
    );
    let missing = etcd.run_with(&["get", "/nope"], None, &v2);
    assert_eq!(missing.code, 4);
    assert!(
        missing
            .stderr
            .starts_with("Error:  100: Key not found (/nope) ["),
        "{missing:?}"
    );

    let missing = etcd.run(&["rm", "/nope"]);
    let rev = etcd.revision();
    assert_eq!(
        (missing.code, missing.stderr.as_str()),
        (
            4,
            format!("Error:  100: Key not found (/nope) [{rev}]\n").as_str()
        )
    );
    let not_file = etcd.run(&["rm", "/services/web"]);
    assert_eq!(not_file.code, 4);
    assert!(not_file
        .stderr
        .starts_with("Error:  102: Not a file (/services/web) ["));
    assert_eq!(
        etcd.run(&["rm", "/services/web/host2"]).ok(),
        "PrevNode.Value: 10.0.0.2\n"
    );
    assert_eq!(etcd.run(&["rm", "--recursive", "/services/web"]).ok(), "");
    assert_eq!(etcd.run(&["ls", "/services"]).ok(), "/services/db\n");
    let gone = etcd.run(&["ls", "/services/web"]);
    assert_eq!(gone.code, 4);
    let no_key = etcd.run(&["set"]);
    assert_eq!(
        (no_key.code, no_key.stderr.as_str()),
        (1, "Error:  key required\n")
    );
}

#[test]
fn watches() {
    let Some(etcd) = Etcd::start() else { return };
    etcd.run(&["put", "/w/start", "0"]).ok();
    let from = (etcd.revision() + 1).to_string();
    let watch = etcd.spawn_lines(&["watch", "--prefix", "/w/", "--rev", &from], &[]);
    etcd.run(&["put", "/w/a", "1"]).ok();
    etcd.run(&["put", "/other", "x"]).ok();
    etcd.run(&["del", "/w/a"]).ok();
    watch.expect(&["PUT", "/w/a", "1", "DELETE", "/w/a", ""]);
    drop(watch);

    let prev = etcd.spawn_lines(&["watch", "/w/b", "--prev-kv", "--rev", &from], &[]);
    etcd.run(&["put", "/w/b", "1"]).ok();
    etcd.run(&["put", "/w/b", "2"]).ok();
    prev.expect(&["PUT", "/w/b", "1", "PUT", "/w/b", "1", "/w/b", "2"]);
    drop(prev);

    // Interactive: watches come from stdin lines, on one stream; end of stdin keeps them running.
    let from = (etcd.revision() + 1).to_string();
    let input = format!("watch /w/i1 --rev {from}\nbogus\nwatch --prefix /w/i2 --rev {from}\n");
    let interactive = etcd.spawn_lines_with_input(&["watch", "-i"], &[], &input);
    etcd.run(&["put", "/w/i1", "x"]).ok();
    etcd.run(&["put", "/w/i2/k", "y"]).ok();
    let mut got: Vec<String> = (0..6)
        .map(|_| {
            interactive
                .rx
                .recv_timeout(Duration::from_secs(10))
                .expect("an event line")
        })
        .collect();
    got.sort();
    assert_eq!(got, ["/w/i1", "/w/i2/k", "PUT", "PUT", "x", "y"]);
    drop(interactive);

    // v2 watch: one change, print the value, exit 0.
    let after = etcd.revision().to_string();
    let v2 = etcd.spawn_lines(
        &["watch", "/w/v2", "--after-index", &after],
        &[("ETCDCTL_API", "2")],
    );
    etcd.run(&["set", "/w/v2", "hello"]).ok();
    v2.expect(&["hello"]);
    assert_eq!(v2.wait().0, 0);

    // Watching from a compacted revision: etcdctl's messages and exit code 5.
    let rev = etcd.revision().to_string();
    assert_eq!(
        etcd.run(&["compaction", &rev]).ok(),
        format!("compacted revision {rev}\n")
    );
    let compacted = etcd.spawn_lines(&["watch", "/w/a", "--rev", "1"], &[]);
    let (code, err) = compacted.wait();
    assert_eq!(code, 5);
    assert_eq!(
        err,
        "watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server\n"
    );
    let get = etcd.run(&["get", "/w/a", "--rev", "1"]);
    assert_eq!(
        (get.code, get.stderr.as_str()),
        (
            1,
            "Error: etcdserver: mvcc: required revision has been compacted\n"
        )
    );
}

/// A one-byte quota: the first put raises NOSPACE. `alarm list`, `alarm disarm` and `defrag` print what
/// etcdctl prints.
#[test]
fn alarms_and_defrag() {
    let Some(etcd) = Etcd::start_with(&["--quota-backend-bytes=1"]) else {
        return;
    };
    assert_eq!(etcd.run(&["alarm", "list"]).ok(), "");
    let put = etcd.run(&["put", "k", "v"]);
    assert_eq!(put.code, 1, "{put:?}");
    assert!(
        put.stderr
            .contains("etcdserver: mvcc: database space exceeded"),
        "{put:?}"
    );
    let list = etcd.run(&["alarm", "list"]);
    let line = list.ok().to_string();
    assert!(
        line.starts_with("memberID:") && line.ends_with(" alarm:NOSPACE \n"),
        "{line:?}"
    );
    assert_eq!(etcd.run(&["alarm", "disarm"]).ok(), line);
    assert_eq!(etcd.run(&["alarm", "list"]).ok(), "");
    assert_eq!(
        etcd.run(&["defrag"]).ok(),
        format!("Finished defragmenting etcd member[{}]\n", etcd.endpoint)
    );
}

#[test]
fn cluster_and_connection() {
    let Some(etcd) = Etcd::start() else { return };
    let members = etcd.run(&["member", "list"]);
    let line = members.ok().trim_end().to_string();
    let fields: Vec<&str> = line.split(", ").collect();
    assert_eq!(fields.len(), 6, "{line}");
    assert_eq!(
        (fields[1], fields[2], fields[5]),
        ("started", "default", "false")
    );
    assert_eq!(fields[4], format!("http://{}", etcd.endpoint));

    let status = etcd.run(&["endpoint", "status", "-w", "table"]);
    let header = status.ok().lines().nth(1).unwrap_or_default().to_string();
    let names: Vec<&str> = header
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        names,
        [
            "ENDPOINT",
            "ID",
            "VERSION",
            "DB SIZE",
            "IS LEADER",
            "IS LEARNER",
            "RAFT TERM",
            "RAFT INDEX",
            "RAFT APPLIED INDEX",
            "ERRORS"
        ]
    );
    let row = status.stdout.lines().nth(3).unwrap_or_default().to_string();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells.get(1), Some(&etcd.endpoint.as_str()), "{status:?}");
    assert!(
        cells.get(3).is_some_and(|v| v.starts_with("3.4")),
        "{status:?}"
    );
    assert_eq!(
        cells.get(5),
        Some(&"true"),
        "a single member leads: {status:?}"
    );
    let health = etcd.run(&["endpoint", "health"]);
    assert_eq!(health.ok(), "");
    assert!(
        health.stderr.starts_with(&format!(
            "{} is healthy: successfully committed proposal: took = ",
            etcd.endpoint
        )),
        "{health:?}"
    );

    // The history's hash, as etcdctl prints it; up to a fixed revision it does not change as history grows.
    etcd.run(&["put", "hashed", "1"]).ok();
    let rev = etcd.run(&["get", "hashed", "-w", "json"]);
    let rev: serde_json::Value = serde_json::from_str(rev.ok()).unwrap();
    let rev = rev["header"]["revision"].as_i64().unwrap().to_string();
    let simple = etcd.run(&["endpoint", "hashkv", "--rev", &rev]);
    let (ep, hash) = simple.ok().trim_end().split_once(", ").unwrap();
    assert_eq!(ep, etcd.endpoint);
    assert!(hash.parse::<u32>().is_ok(), "{simple:?}");
    let json = etcd.run(&["endpoint", "hashkv", "--rev", &rev, "-w", "json"]);
    let json: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(json[0]["Endpoint"], etcd.endpoint.as_str());
    assert_eq!(json[0]["HashKV"]["hash"].to_string(), hash);
    assert_eq!(
        json[0]["HashKV"]["compact_revision"], -1,
        "never compacted: {json}"
    );
    assert!(json[0]["HashKV"]["header"]["member_id"].is_u64(), "{json}");
    let table = etcd.run(&["endpoint", "hashkv", "-w", "table"]);
    assert!(
        table
            .ok()
            .lines()
            .nth(1)
            .unwrap_or_default()
            .contains("ENDPOINT")
            && table.stdout.contains("HASH"),
        "{table:?}"
    );
    let fields = etcd.run(&["endpoint", "hashkv", "--rev", &rev, "-w", "fields"]);
    assert!(
        fields.ok().contains(&format!(
            "\"Endpoint\" : \"{}\"\n\"Hash\" : {hash}\n",
            etcd.endpoint
        )),
        "{fields:?}"
    );
    etcd.run(&["put", "hashed", "2"]).ok();
    let again = etcd.run(&["endpoint", "hashkv", "--rev", &rev]);
    assert_eq!(
        again.ok(),
        simple.stdout,
        "the hash up to a revision is fixed"
    );
    let future = etcd.run(&["endpoint", "hashkv", "--rev", "1000000"]);
    assert_eq!(future.code, 1, "{future:?}");
    assert!(
        future.stderr.contains(&format!(
            "Failed to get the hash of endpoint {} (etcdserver: mvcc: required revision is a future revision)",
            etcd.endpoint
        )) && future
            .stderr
            .contains("Error: etcdserver: mvcc: required revision is a future revision"),
        "{future:?}"
    );

    // The first endpoint is dead: kvctl falls back to the next one.
    let dead = format!("127.0.0.1:{}", free_port());
    let both = format!("{dead},http://{}", etcd.endpoint);
    let mut cmd = Command::new(KVCTL);
    for k in ENV_KNOBS {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["put", "fallback", "ok"])
        .env("ETCDCTL_ENDPOINTS", &both)
        .output()
        .expect("run kvctl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n");

    let mut cmd = Command::new(KVCTL);
    for k in ENV_KNOBS {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["--endpoints", &dead, "get", "fallback"])
        .output()
        .expect("run kvctl");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Error: "));
}

/// `lock` and `elect` on the server's Lock and Election services: a command runs holding the lock (with
/// ETCD_LOCK_KEY in its environment) and its failure is kvctl's; a held lock makes the next one wait until
/// SIGINT releases it; a candidate prints its key and value, and so does an observer.
#[test]
fn locks_and_elections() {
    let Some(etcd) = Etcd::start() else { return };
    let ran = etcd.run(&["lock", "door", "sh", "-c", "echo held $ETCD_LOCK_KEY"]);
    assert!(ran.ok().starts_with("held door/"), "{ran:?}");
    assert_eq!(
        etcd.run(&["get", "door", "--prefix"]).ok(),
        "",
        "released after the command"
    );
    let failed = etcd.run(&["lock", "door", "sh", "-c", "exit 3"]);
    assert_eq!(
        (failed.code, failed.stderr.as_str()),
        (1, "Error: exit status 3\n")
    );
    let bad = etcd.run(&["lock"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (
            128,
            "Error: lock takes a lock name argument and an optional command to execute.\n"
        )
    );

    let holder = etcd.spawn_lines(&["lock", "door"], &[]);
    let key = holder
        .rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the lock key");
    assert!(key.starts_with("door/"), "{key}");
    let next = etcd.spawn_lines(&["lock", "door", "echo", "second"], &[]);
    assert!(
        next.rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "two holders at once"
    );
    interrupt(&holder);
    next.expect(&["second"]);
    assert_eq!(holder.wait().0, 0);

    let observer = etcd.spawn_lines(&["elect", "-l", "lead"], &[]);
    let candidate = etcd.spawn_lines(&["elect", "lead", "10.0.0.1"], &[]);
    let key = candidate
        .rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the leader key");
    assert!(key.starts_with("lead/"), "{key}");
    candidate.expect(&["10.0.0.1"]);
    observer.expect(&[&key, "10.0.0.1"]);
    interrupt(&candidate);
    assert_eq!(candidate.wait().0, 0);
    assert_eq!(
        etcd.run(&["get", "lead", "--prefix"]).ok(),
        "",
        "resigned on SIGINT"
    );
    let bad = etcd.run(&["elect", "lead"]);
    assert_eq!(
        (bad.code, bad.stderr.as_str()),
        (128, "Error: no proposal argument but -l not set\n")
    );
}

/// SIGINT, as Ctrl-C in a shell.
fn interrupt(l: &Lines) {
    let ok = Command::new("kill")
        .args(["-INT", &l.child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok);
}

/// kvctl on a server with TLS on its client URL, as etcdctl's flags set it up: `--cacert` trusts the server,
/// `--cert`/`--key` identify the client when the server demands it (`--client-cert-auth`), a server from an
/// unknown CA is refused, and a TLS file that cannot be read fails before anything is sent.
#[test]
fn tls_endpoints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = flotilla_tests::pki::Pki::new(dir.path(), "cluster");
    let server = pki.issue("server", &["127.0.0.1", "localhost"]);
    let client = pki.issue("client", &["127.0.0.1"]);
    let other = flotilla_tests::pki::Pki::new(dir.path(), "other");
    let stranger = other.issue("client", &["127.0.0.1"]);
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let (ca, cert, key) = (path(&pki.ca()), path(&client.cert), path(&client.key));
    let Some(etcd) = Etcd::start_serving(
        "https",
        &[
            "--cert-file",
            &path(&server.cert),
            "--key-file",
            &path(&server.key),
            "--client-cert-auth",
            "--trusted-ca-file",
            &ca,
        ],
        &["--cacert", &ca, "--cert", &cert, "--key", &key],
    ) else {
        return;
    };

    let out = etcd.run(&["put", "secure", "value"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "OK\n"), "{out:?}");
    let out = etcd.run(&["get", "secure", "--print-value-only"]);
    assert_eq!(out.stdout, "value\n", "{out:?}");

    // The same flags through etcdctl's environment variables, and a scheme-less endpoint: TLS because a TLS
    // flag is set.
    let port = etcd.endpoint.rsplit(':').next().expect("port");
    let out = Command::new(KVCTL)
        .args(["--endpoints", &format!("localhost:{port}"), "get", "secure"])
        .env("ETCDCTL_CACERT", &ca)
        .env("ETCDCTL_CERT", &cert)
        .env("ETCDCTL_KEY", &key)
        .output()
        .expect("kvctl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "secure\nvalue\n",
        "{out:?}"
    );

    let bare = |args: &[&str]| {
        let out = Command::new(KVCTL)
            .args(["--endpoints", &etcd.endpoint, "--dial-timeout", "2s"])
            .args(args)
            .env_remove("ETCDCTL_CACERT")
            .output()
            .expect("kvctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // No client certificate: the server refuses the handshake, nothing is written.
    let (code, _, err) = bare(&["--cacert", &ca, "put", "secure", "overwritten"]);
    assert_ne!(code, 0, "{err}");
    // A certificate from another CA: refused too.
    let (code, _, err) = bare(&[
        "--cacert",
        &ca,
        "--cert",
        &path(&stranger.cert),
        "--key",
        &path(&stranger.key),
        "put",
        "secure",
        "overwritten",
    ]);
    assert_ne!(code, 0, "{err}");
    // A server certificate this client has no CA for: kvctl refuses the server.
    let (code, _, err) = bare(&[
        "--cacert",
        &path(&other.ca()),
        "--cert",
        &cert,
        "--key",
        &key,
        "get",
        "secure",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // ... unless told not to check.
    let (code, out, err) = bare(&[
        "--insecure-skip-tls-verify",
        "--cert",
        &cert,
        "--key",
        &key,
        "get",
        "secure",
        "--print-value-only",
    ]);
    assert_eq!((code, out.as_str()), (0, "value\n"), "{err}");
    // Bad TLS flags fail before dialing, with exit code 128.
    let missing = dir.path().join("missing.pem");
    let (code, _, err) = bare(&["--cacert", &path(&missing), "get", "secure"]);
    assert_eq!(code, 128, "{err}");
    assert!(
        err.starts_with(&format!("Error: {}", missing.display())),
        "{err}"
    );
    let (code, _, err) = bare(&["--cacert", &ca, "--cert", &cert, "get", "secure"]);
    assert_eq!(
        (code, err.as_str()),
        (128, "Error: --key is required with --cert\n")
    );

    let out = etcd.run(&["get", "secure", "--print-value-only"]);
    assert_eq!(out.stdout, "value\n", "nothing was overwritten: {out:?}");
}

/// The number of keys under `prefix`.
fn count(server: &Etcd, prefix: &str) -> i64 {
    let out = server.run(&["get", "--prefix", prefix, "--count-only", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.ok()).expect("json");
    v["count"].as_i64().unwrap_or(0)
}

/// `make-mirror`: the keys under a prefix (more than one page of 1,000) are copied to another server under
/// another prefix, then every later change follows — a transaction's keys together — and keys outside the
/// prefix stay behind.
#[test]
fn make_mirror() {
    let Some(source) = Etcd::start() else { return };
    let Some(dest) = Etcd::start() else { return };
    for batch in 0..9 {
        let puts: String = (0..120)
            .map(|i| format!("put /m/k{:04} v{}\n", batch * 120 + i, batch * 120 + i))
            .collect();
        source
            .run_with(&["txn"], Some(&format!("\n{puts}\n\n")), &[])
            .ok();
    }
    source.run(&["put", "/outside", "x"]).ok();
    let mirror = source.spawn_lines(
        &[
            "make-mirror",
            "--prefix",
            "/m/",
            "--dest-prefix",
            "/copy/",
            &dest.endpoint,
        ],
        &[],
    );
    assert!(
        flotilla_tests::wait_for(Duration::from_secs(10), || count(&dest, "/copy/") == 1080),
        "the base copy: not within 10 s"
    );
    assert_eq!(
        dest.run(&["get", "/copy/k1079", "--print-value-only"]).ok(),
        "v1079\n"
    );

    source.run(&["put", "/m/new", "fresh"]).ok();
    source.run(&["del", "/m/k0001"]).ok();
    source
        .run_with(&["txn"], Some("\nput /m/t1 a\nput /m/t2 b\n\n\n"), &[])
        .ok();
    source.run(&["put", "/outside", "y"]).ok();
    assert!(
        flotilla_tests::wait_for(Duration::from_secs(10), || count(&dest, "/copy/t") == 2),
        "the changes: not within 10 s"
    );
    assert_eq!(
        dest.run(&["get", "/copy/new", "--print-value-only"]).ok(),
        "fresh\n"
    );
    assert_eq!(dest.run(&["get", "/copy/k0001"]).ok(), "");
    assert_eq!(count(&dest, "/copy/"), 1080 + 1 - 1 + 2);
    let revs: Vec<i64> = ["/copy/t1", "/copy/t2"]
        .iter()
        .map(|k| {
            let v: serde_json::Value =
                serde_json::from_str(dest.run(&["get", k, "-w", "json"]).ok()).expect("json");
            v["kvs"][0]["mod_revision"].as_i64().expect("mod_revision")
        })
        .collect();
    assert_eq!(
        revs[0], revs[1],
        "one source transaction, one destination revision"
    );
    assert_eq!(count(&dest, "/outside"), 0, "keys outside the prefix stay");
    drop(mirror);

    let both = source.run(&[
        "make-mirror",
        "--dest-prefix",
        "/x/",
        "--no-dest-prefix",
        &dest.endpoint,
    ]);
    assert_eq!(
        (both.code, both.stderr.as_str()),
        (
            128,
            "Error: `--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one\n"
        )
    );
    let none = source.run(&["make-mirror"]);
    assert_eq!(
        (none.code, none.stderr.as_str()),
        (128, "Error: make-mirror takes one destination argument\n")
    );
}

/// etcdctl's rules for its environment: a variable shadowed by its flag on the command line is refused (exit 1,
/// nothing done) with etcdctl's own message, as Debian's etcdctl 3.4 refuses it; an unknown `ETCDCTL_*` variable
/// (a typo) is reported and the command still runs.
#[test]
fn etcdctl_variables_shadowed_by_a_flag_or_unknown() {
    let Some(etcd) = Etcd::start() else { return };
    let conflict =
        "conflicting environment variable \"ETCDCTL_ENDPOINTS\" is shadowed by corresponding \
                    command-line flag (either unset environment variable or disable flag)";
    let env = [("ETCDCTL_ENDPOINTS", "127.0.0.1:1")];
    let shadowed = etcd.run_with(&["put", "shadowed", "x"], None, &env);
    assert_eq!(shadowed.code, 1, "{shadowed:?}");
    assert_eq!(shadowed.stderr, format!("Error: {conflict}\n"));
    if Path::new("/usr/bin/etcdctl").exists() {
        let reference = Command::new("/usr/bin/etcdctl")
            .args(["--endpoints", &etcd.endpoint, "put", "shadowed", "x"])
            .env("ETCDCTL_API", "3")
            .envs(env)
            .output()
            .expect("run etcdctl");
        assert_eq!(reference.status.code(), Some(1), "{reference:?}");
        assert!(
            String::from_utf8_lossy(&reference.stderr).contains(conflict),
            "{reference:?}"
        );
    }
    let env = [("ETCDCTL_WRITE_OUT", "simple")];
    let shadowed = etcd.run_with(&["put", "shadowed", "x", "-w", "json"], None, &env);
    assert_eq!(shadowed.code, 1, "{shadowed:?}");
    assert_eq!(
        etcd.run(&["get", "shadowed"]).ok(),
        "",
        "nothing was written"
    );

    let typo = etcd.run_with(
        &["put", "typo", "x"],
        None,
        &[("ETCDCTL_DIAL_TIMEOUTS", "1s")],
    );
    assert_eq!(typo.ok(), "OK\n");
    assert!(
        typo.stderr
            .contains("unrecognized environment variable ETCDCTL_DIAL_TIMEOUTS=1s"),
        "{typo:?}"
    );
}
