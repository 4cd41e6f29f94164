//! etcd's ways of configuring a member: `--config-file` (etcd.conf.yml), the zap logger writing JSON lines to a
//! file, and the flag spellings etcd's users write (`--pre-vote=false`, `--enable-v2=false`, Go durations).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{etcdctl, free_port, http_get, refused_within, stdout, Ports};

fn kvstore() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvstore"))
}

/// A member started with `--config-file=FILE` and `extra` flags.
fn from_file(file: &std::path::Path, extra: &[&str]) -> std::process::Child {
    kvstore()
        .arg(format!("--config-file={}", file.display()))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits for `/health` on the metrics port; panics with `what` after 20 s.
fn wait_healthy(metrics: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(metrics, "/health").is_none_or(|(code, _)| code != 200) {
        assert!(Instant::now() < deadline, "{what} never became healthy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs kvstore expecting it to refuse to start; returns its stderr.
fn refused(cmd: &mut Command) -> String {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    refused_within(child, Duration::from_secs(10), "kvstore that should refuse")
}

fn etcd_yaml(dir: &std::path::Path, p: Ports, extra: &str) -> String {
    format!(
        "# etcd.conf.yml as etcd 3.4 reads it
name: 'from-file'
data-dir: {data}
listen-client-urls: http://127.0.0.1:{c}
advertise-client-urls: http://127.0.0.1:{c}
listen-peer-urls: http://127.0.0.1:{peer}
initial-advertise-peer-urls: http://127.0.0.1:{peer}
initial-cluster: from-file=http://127.0.0.1:{peer}
initial-cluster-state: 'new'
listen-metrics-urls: http://127.0.0.1:{m}
max-snapshots: 5
max-wals: 5
cors:
enable-v2: false
proxy: 'off'
client-transport-security:
  client-cert-auth: false
  auto-tls: false
{extra}",
        data = dir.join("data").display(),
        c = p.client,
        peer = p.peer,
        m = p.metrics,
    )
}

#[test]
fn a_member_runs_from_etcds_config_file_and_logs_zap_json_to_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Ports::free();
    let log = tmp.path().join("kvstore.log");
    let file = tmp.path().join("etcd.yml");
    std::fs::write(
        &file,
        etcd_yaml(
            tmp.path(),
            p,
            &format!(
                "logger: zap\nlog-outputs: [{}]\nlog-level: info\nexperimental-watch-progress-notify-interval: 500000000\n",
                log.display()
            ),
        ),
    )
    .unwrap();
    // A flag given with the file is ignored, as etcd ignores it, and the log says so.
    let mut child = from_file(&file, &["--name=not-this-one"]);
    wait_healthy(p.metrics, "the member configured by file");
    let ep = format!("127.0.0.1:{}", p.client);
    assert!(etcdctl(&ep, &["put", "k", "v"]).status.success());
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "k", "--print-value-only"])),
        "v\n"
    );
    let members = stdout(&etcdctl(&ep, &["member", "list"]));
    assert!(members.contains(", from-file, "), "{members}");
    assert!(tmp.path().join("data").is_dir(), "data-dir from the file");

    // The watch progress interval from the file (0.5 s, in nanoseconds as etcd writes durations): a watcher
    // that asks for progress notifications gets several within 2 s (etcd's default would send none: 10 min).
    let notices = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(progress_notifications(&ep, Duration::from_secs(2)));
    assert!(notices >= 2, "{notices} progress notifications in 2 s");

    let _ = child.kill();
    let _ = child.wait();
    // zap's JSON lines: level, ts, caller, msg, then the fields.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| l["msg"] == "kvstore member started")
        .unwrap_or_else(|| panic!("no start line in {text}"));
    assert_eq!(started["level"], "info", "{started}");
    assert_eq!(started["name"], "from-file", "{started}");
    let ts = started["ts"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "{ts}"
    );
    assert!(
        started["caller"].as_str().unwrap().contains(".rs:"),
        "{started}"
    );
    let ignored = lines
        .iter()
        .find(|l| l["level"] == "warn" && l["ignored"].as_str() == Some("--name"))
        .unwrap_or_else(|| panic!("no warning about the ignored --name in {text}"));
    assert!(
        ignored["msg"].as_str().unwrap().contains("--config-file"),
        "{ignored}"
    );
}

/// Watches a quiet key asking for progress notifications and counts those that arrive within `within`.
async fn progress_notifications(ep: &str, within: Duration) -> usize {
    use kvstore_proto::etcdserverpb::watch_client::WatchClient;
    use kvstore_proto::etcdserverpb::{watch_request, WatchCreateRequest, WatchRequest};
    let mut client = WatchClient::connect(format!("http://{ep}")).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: b"quiet-key".to_vec(),
                progress_notify: true,
                ..Default::default()
            },
        )),
    })
    .await
    .unwrap();
    let mut stream = client
        .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    let _ = tokio::time::timeout(within, async {
        while let Ok(Some(r)) = stream.message().await {
            if !r.created && !r.canceled && r.events.is_empty() {
                count += 1;
            }
        }
    })
    .await;
    count
}

#[test]
fn a_bad_config_file_is_refused_naming_its_line_and_the_data_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Ports::free();
    let file = tmp.path().join("etcd.yml");
    // First a good run that stores a key.
    std::fs::write(&file, etcd_yaml(tmp.path(), p, "")).unwrap();
    let mut child = from_file(&file, &[]);
    wait_healthy(p.metrics, "the first run");
    let ep = format!("127.0.0.1:{}", p.client);
    assert!(etcdctl(&ep, &["put", "kept", "yes"]).status.success());
    let _ = child.kill();
    let _ = child.wait();

    // A typo: etcd would drop the key silently; kvstore names it and its line.
    let good = etcd_yaml(tmp.path(), p, "");
    std::fs::write(
        &file,
        good.replace("listen-client-urls:", "listen-client-url:"),
    )
    .unwrap();
    let err = refused(kvstore().arg(format!("--config-file={}", file.display())));
    assert!(
        err.contains("unknown field `listen-client-url`") && err.contains("line 4"),
        "{err}"
    );
    // A value of the wrong type, in a section.
    std::fs::write(
        &file,
        good.replace("client-cert-auth: false", "client-cert-auth: maybe"),
    )
    .unwrap();
    let err = refused(kvstore().arg(format!("--config-file={}", file.display())));
    assert!(
        err.contains("client-transport-security") && err.contains("line 17"),
        "{err}"
    );
    // A setting that parses but cannot be honoured: the v2 API.
    std::fs::write(&file, good.replace("enable-v2: false", "enable-v2: true")).unwrap();
    let err = refused(kvstore().arg(format!("--config-file={}", file.display())));
    assert!(
        err.contains(&format!("{} line 14 (enable-v2)", file.display()))
            && err.contains("the v2 API is not served"),
        "{err}"
    );
    // A missing file.
    let err = refused(kvstore().arg("--config-file=/nonexistent/etcd.yml"));
    assert!(
        err.contains("/nonexistent/etcd.yml") && err.contains("No such file"),
        "{err}"
    );

    // Fixed, the member starts on its data: nothing was lost.
    std::fs::write(&file, &good).unwrap();
    let mut child = from_file(&file, &[]);
    wait_healthy(p.metrics, "the run after the fix");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "kept", "--print-value-only"])),
        "yes\n"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn etcds_flag_spellings_are_accepted_and_what_cannot_be_honoured_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, peer, m) = (free_port(), free_port(), free_port());
    let base = |cmd: &mut Command| {
        cmd.arg(format!("--data-dir={}", tmp.path().join("data").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{c}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{c}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
            .arg(format!("--listen-metrics-urls=http://127.0.0.1:{m}"));
    };
    let mut cmd = kvstore();
    base(&mut cmd);
    // Flags from etcd unit files and manifests, in Go's forms.
    cmd.args([
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=error",
        "--pre-vote=false",
        "--enable-v2=false",
        "--strict-reconfig-check=true",
        "--client-cert-auth=false",
        "--debug=false",
        "--max-snapshots=5",
        "--max-wals=5",
        "--metrics=extensive",
        "--grpc-keepalive-min-time=5s",
        "--grpc-keepalive-interval=1h30m",
        "--grpc-keepalive-timeout=10s",
        "--max-concurrent-streams=64",
        "--experimental-watch-progress-notify-interval=10m",
    ]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(m, "the member with etcd's flags");
    let ep = format!("127.0.0.1:{c}");
    assert!(etcdctl(&ep, &["put", "k", "v"]).status.success());
    let _ = child.kill();
    let _ = child.wait();

    for (flags, expect) in [
        (
            &["--enable-v2=true"][..],
            "--enable-v2: the v2 API is not served",
        ),
        (
            &["--enable-v2"][..],
            "--enable-v2: the v2 API is not served",
        ),
        (
            &["--logger=zap", "--log-outputs=default,stdout"][..],
            "--log-outputs: ",
        ),
        (
            &["--logger=glog"][..],
            "--logger: \"glog\": expected zap or capnslog",
        ),
        (
            &["--grpc-keepalive-timeout=20 s"][..],
            "--grpc-keepalive-timeout",
        ),
    ] {
        let mut cmd = kvstore();
        base(&mut cmd);
        let err = refused(cmd.args(flags));
        assert!(err.contains(expect), "{flags:?}: {err}");
    }
}

/// Opens an HTTP/2 connection to `port` that never answers anything (as a client whose host froze would) and
/// returns how long the server kept it open, if it closed it within 4 s.
fn closed_within(port: u16) -> Option<Duration> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The client preface and an empty SETTINGS frame; then silence: no SETTINGS ack, no PING answers.
    conn.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(4) {
        match conn.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn keepalive_pings_close_a_client_connection_that_stopped_answering() {
    let pinging = common::KvStore::start_with(&[
        "--grpc-keepalive-interval=300ms",
        "--grpc-keepalive-timeout=300ms",
    ]);
    let closed = closed_within(pinging.client_port);
    assert!(
        closed.is_some_and(|d| d >= Duration::from_millis(300)),
        "a silent connection was kept open (or closed at once): {closed:?}"
    );
    // etcd's defaults (a ping every 2 hours) leave it alone.
    let quiet = common::KvStore::start();
    assert_eq!(closed_within(quiet.client_port), None);
}

#[tokio::test]
async fn max_concurrent_streams_holds_back_a_connections_extra_streams() {
    use kvstore_proto::etcdserverpb::watch_client::WatchClient;
    use kvstore_proto::etcdserverpb::{watch_request, WatchCreateRequest, WatchRequest};

    let s = common::KvStore::start_with(&["--max-concurrent-streams=2"]);
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.endpoint()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = WatchClient::new(channel);
    // A watch stream on the shared connection, open once the server has answered its headers.
    let open = |mut client: WatchClient<tonic::transport::Channel>| async move {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tx.send(WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: b"k".to_vec(),
                    ..Default::default()
                },
            )),
        })
        .await
        .unwrap();
        let stream = client
            .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        (tx, stream)
    };
    let first = open(client.clone()).await;
    let _second = open(client.clone()).await;
    let third = tokio::spawn(open(client.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !third.is_finished(),
        "a third stream opened on a connection limited to two"
    );
    // One of the two closes: the third opens.
    drop(first);
    tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third stream never opened after another closed")
        .unwrap();
}

/// kvstore with no flags but what `flags` gives, its environment cleared of `KVSTORE_*`/`ETCD_*` variables but
/// for `vars`.
fn with_env(vars: &[(&str, String)], flags: &[&str]) -> Command {
    let mut cmd = kvstore();
    for (name, _) in std::env::vars() {
        if name.starts_with("KVSTORE_") || name.starts_with("ETCD_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().map(|(k, v)| (k, v))).args(flags);
    cmd
}

#[test]
fn a_member_configured_by_etcd_variables_as_debian_sets_them() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Ports::free();
    let log = tmp.path().join("kvstore.log");
    // /etc/default/etcd as Debian's etcd-server package reads it, plus kvstore's own variable for the name.
    let vars = [
        ("ETCD_NAME", "etcd-name".to_string()),
        ("KVSTORE_NAME", "kvstore-name".to_string()),
        (
            "ETCD_DATA_DIR",
            tmp.path().join("data").display().to_string(),
        ),
        (
            "ETCD_LISTEN_CLIENT_URLS",
            format!("http://127.0.0.1:{}", p.client),
        ),
        (
            "ETCD_ADVERTISE_CLIENT_URLS",
            format!("http://127.0.0.1:{}", p.client),
        ),
        (
            "ETCD_LISTEN_PEER_URLS",
            format!("http://127.0.0.1:{}", p.peer),
        ),
        (
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            format!("http://127.0.0.1:{}", p.peer),
        ),
        (
            "ETCD_INITIAL_CLUSTER",
            format!("kvstore-name=http://127.0.0.1:{}", p.peer),
        ),
        (
            "ETCD_LISTEN_METRICS_URLS",
            format!("http://127.0.0.1:{}", p.metrics),
        ),
        // Refused if read (below 5 heartbeats): the flag given with it must win.
        ("ETCD_ELECTION_TIMEOUT", "5".to_string()),
        // A typo: reported, not fatal.
        ("ETCD_SNAPSHOT_CONT", "100".to_string()),
    ];
    let log_flag = format!("--log-outputs={}", log.display());
    let mut child = with_env(
        &vars,
        &["--election-timeout=1000", "--logger=zap", &log_flag],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_healthy(p.metrics, "the member configured by ETCD_* variables");
    let ep = format!("127.0.0.1:{}", p.client);
    assert!(etcdctl(&ep, &["put", "k", "v"]).status.success());
    let members = stdout(&etcdctl(&ep, &["member", "list"]));
    assert!(
        members.contains(", kvstore-name, "),
        "KVSTORE_NAME wins: {members}"
    );
    assert!(
        tmp.path().join("data").is_dir(),
        "data dir from ETCD_DATA_DIR"
    );
    let _ = child.kill();
    let _ = child.wait();

    let text = std::fs::read_to_string(&log).unwrap();
    let said = |a: &str, b: &str| text.lines().any(|l| l.contains(a) && l.contains(b));
    assert!(said("ETCD_DATA_DIR", "recognized and used"), "{text}");
    assert!(
        said("ETCD_ELECTION_TIMEOUT", "shadowed by --election-timeout"),
        "{text}"
    );
    assert!(said("ETCD_NAME", "shadowed by KVSTORE_NAME"), "{text}");
    assert!(said("ETCD_SNAPSHOT_CONT", "unrecognized"), "{text}");
}

#[test]
fn a_bad_etcd_variable_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = (
        "ETCD_DATA_DIR",
        tmp.path().join("data").display().to_string(),
    );
    // A value clap refuses, and one the configuration check refuses: each names the variable.
    for (variable, value, expect) in [
        ("ETCD_SNAPSHOT_COUNT", "lots", "'lots'"),
        ("ETCD_ELECTION_TIMEOUT", "5", "(--election-timeout)"),
    ] {
        let err = refused(&mut with_env(
            &[data.clone(), (variable, value.to_string())],
            &[],
        ));
        assert!(err.contains(expect) && err.contains(variable), "{err}");
    }
    assert!(!tmp.path().join("data").exists(), "nothing was created");
}
