//! # flotilla-tests — the harness for cross-component tests
//!
//! Starts the real binaries of one build: a 3-member `kvstore` cluster on loopback ports, and "hosts" — each a
//! `unitd` (its own unit, state and runtime directories and cgroup slice, via `unitd-testkit`) with a `fleetd`
//! beside it (its own machine ID, a loopback public IP `127.0.0.N`, its API on a unix socket and a TCP port)
//! — plus `fleetctl` pointed at any host. The binaries are found next to the test executable
//! (`target/<profile>/`), where `cargo build --workspace --bins` (run by `scripts/test.sh`) puts them.
//!
//! Everything is torn down on drop: fleetd first (SIGKILL: a test that wants the graceful path calls
//! [`Host::stop_fleetd`]), then unitd and the processes left in its slice, then the KV store.
#![allow(clippy::unwrap_used)] // test harness: a failed unwrap is a failed test

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod cluster;
pub mod pki;

pub use unitd_testkit::{wait_for, Unitd};

static HOSTS: AtomicUsize = AtomicUsize::new(0);

/// A binary of this build: `target/<profile>/<name>`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-HASH → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build --release --workspace --bins`, as scripts/test.sh does)",
        path.display()
    );
    path
}

/// A free TCP port on `ip` for a server a test is about to start, handed out once per test process.
///
/// Not the kernel's choice for port 0: that comes from the ephemeral range, the same range every outgoing
/// connection takes its local port from, so between the probe and the server's bind a peer or client connection
/// of a concurrently running test could take it (a cluster that "did not come up"). These ports lie below that
/// range, from a per-process starting point, each one probed with a bind.
pub fn free_port(ip: &str) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = (10_000, ephemeral_range_start().max(10_001));
    let span = high - low;
    let start = std::process::id() % span;
    for _ in 0..span {
        let port = low + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("ports below the ephemeral range fit in u16");
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip} between {low} and {high}");
}

/// The first port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768 by default).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
        .min(u32::from(u16::MAX))
}

/// The KV store of a test: Flotilla's `kvstore` as a 3-member cluster, or the reference etcd 3.4 as a single
/// member (same flags).
pub struct Kv {
    binary: PathBuf,
    members: Vec<KvMember>,
    /// The client URLs' scheme, and the TLS flags every member gets (see [`Kv::start_tls`]).
    client_scheme: &'static str,
    tls_flags: Vec<String>,
    pub dir: tempfile::TempDir,
    /// The first member's client port (for tools that take one endpoint).
    pub client_port: u16,
}

struct KvMember {
    name: String,
    child: Option<Child>,
    client: u16,
    peer: u16,
    metrics: u16,
    /// For a member joining a running cluster: its identity and cluster come from these `KVSTORE_*` variables
    /// (what `member add` printed) instead of flags.
    join_env: Option<Vec<(String, String)>>,
}

impl KvMember {
    fn new(name: String) -> KvMember {
        KvMember {
            name,
            child: None,
            client: free_port("127.0.0.1"),
            peer: free_port("127.0.0.1"),
            metrics: free_port("127.0.0.1"),
            join_env: None,
        }
    }
}

impl Kv {
    /// Flotilla's kvstore: three members, as a cluster runs it.
    pub fn start() -> Kv {
        Kv::start_binary(binary("kvstore"), 3)
    }

    /// Flotilla's kvstore with `n` members.
    pub fn start_members(n: usize) -> Kv {
        Kv::start_binary(binary("kvstore"), n)
    }

    /// Debian's etcd 3.4 (`/usr/bin/etcd`, installed by scripts/test.sh), one member.
    pub fn start_etcd() -> Kv {
        Kv::start_binary(PathBuf::from("/usr/bin/etcd"), 1)
    }

    /// Flotilla's kvstore with `n` members serving clients on https only, with a certificate from `pki` and
    /// `--client-cert-auth` (clients need a certificate from the same CA).
    pub fn start_tls(n: usize, pki: &pki::Pki) -> Kv {
        let leaf = pki.issue("kv-server", &["127.0.0.1"]);
        let flags = vec![
            format!("--cert-file={}", leaf.cert.display()),
            format!("--key-file={}", leaf.key.display()),
            "--client-cert-auth".to_string(),
            format!("--trusted-ca-file={}", pki.ca().display()),
        ];
        Kv::start_with(binary("kvstore"), n, "https", flags)
    }

    fn start_binary(binary: PathBuf, n: usize) -> Kv {
        Kv::start_with(binary, n, "http", Vec::new())
    }

    fn start_with(
        binary: PathBuf,
        n: usize,
        client_scheme: &'static str,
        tls_flags: Vec<String>,
    ) -> Kv {
        let members: Vec<KvMember> = (0..n).map(|i| KvMember::new(format!("kv{i}"))).collect();
        let mut kv = Kv {
            binary,
            client_scheme,
            tls_flags,
            client_port: members[0].client,
            members,
            dir: tempfile::tempdir().unwrap(),
        };
        kv.restart();
        kv
    }

    /// Every member's client URL, comma-separated (fleet's `etcd_servers`).
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// Every member's client URL.
    pub fn urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("{}://127.0.0.1:{}", self.client_scheme, m.client))
            .collect()
    }

    fn launch(&mut self, i: usize) {
        let initial = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let m = &self.members[i];
        let (c, p, mp) = (m.client, m.peer, m.metrics);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", m.name)))
            .unwrap();
        let mut cmd = Command::new(&self.binary);
        match &m.join_env {
            None => cmd.args(["--name", &m.name]).args([
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{p}"),
                format!("--initial-cluster={initial}"),
            ]),
            Some(env) => cmd.envs(env.iter().cloned()),
        };
        let child = cmd
            .arg("--data-dir")
            .arg(self.dir.path().join(&m.name))
            .arg(format!(
                "--listen-client-urls={}://127.0.0.1:{c}",
                self.client_scheme
            ))
            .arg(format!(
                "--advertise-client-urls={}://127.0.0.1:{c}",
                self.client_scheme
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{p}"))
            .arg(format!("--listen-metrics-urls=http://127.0.0.1:{mp}"))
            .args(&self.tls_flags)
            .arg("--log-level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn kvstore");
        self.members[i].child = Some(child);
    }

    fn wait_healthy(&self) {
        let up = || {
            self.members.iter().all(|m| {
                m.child.is_none()
                    || (TcpStream::connect(("127.0.0.1", m.client)).is_ok() && healthy(m.metrics))
            })
        };
        assert!(
            wait_for(Duration::from_secs(20), up),
            "{} did not come up within 20 s\n{}",
            self.binary.display(),
            self.logs()
        );
    }

    /// Every member's ports and log, for a failure message.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", m.name)))
                    .unwrap_or_default();
                format!(
                    "--- {} (client {}, peer {}, metrics {}):\n{log}",
                    m.name, m.client, m.peer, m.metrics
                )
            })
            .collect()
    }

    /// SIGKILL of every member (an outage).
    pub fn kill9(&mut self) {
        for i in 0..self.members.len() {
            self.kill9_member(i);
        }
    }

    /// SIGKILL of one member.
    pub fn kill9_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts every member again on the same data and ports, and waits until they serve.
    pub fn restart(&mut self) {
        self.kill9();
        for i in 0..self.members.len() {
            self.launch(i);
        }
        self.wait_healthy();
    }

    /// Starts member `i` again (after [`Kv::kill9_member`]).
    pub fn restart_member(&mut self, i: usize) {
        self.kill9_member(i);
        self.launch(i);
        self.wait_healthy();
    }

    /// Ports for a new member `name`, not started: returns its index and the peer URL to `member add` it with.
    pub fn reserve_member(&mut self, name: &str) -> (usize, String) {
        let m = KvMember::new(name.to_string());
        let url = format!("http://127.0.0.1:{}", m.peer);
        self.members.push(m);
        (self.members.len() - 1, url)
    }

    /// Starts reserved member `i` into the running cluster with `env` (the `KVSTORE_*` settings `member add`
    /// printed) as its only identity and cluster settings, and waits until it serves.
    pub fn join_member(&mut self, i: usize, env: Vec<(String, String)>) {
        self.members[i].join_env = Some(env);
        self.launch(i);
        self.wait_healthy();
    }

    /// Whether member `i` was started and has exited (a removed member stops itself).
    pub fn member_exited(&mut self, i: usize) -> bool {
        self.members[i]
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// The process id of member `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().map(Child::id)
    }

    /// The member that leads (per its `/metrics`), if one does.
    pub fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| {
            self.members[i].child.is_some()
                && metric(self.members[i].metrics, "etcd_server_is_leader") == Some(1.0)
        })
    }
}

impl Drop for Kv {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One unlabelled metric from a KV member's `/metrics`.
fn metric(metrics_port: u16, name: &str) -> Option<f64> {
    let body = http_get(metrics_port, "/metrics")?;
    body.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    (reply.split_whitespace().nth(1) == Some("200")).then(|| {
        reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    })
}

/// Whether a KV member's `/health` (on its metrics port) answers 200.
fn healthy(metrics_port: u16) -> bool {
    http_get(metrics_port, "/health").is_some()
}

/// Settings shared by every fleetd of a test.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// `etcd_servers`.
    pub etcd: String,
    /// `agent_ttl`, e.g. `3s`.
    pub agent_ttl: String,
    /// `engine_reconcile_interval` in seconds.
    pub reconcile_interval: String,
}

/// One machine: unitd + fleetd.
pub struct Host {
    pub index: usize,
    pub machine_id: String,
    /// `127.0.0.N`.
    pub ip: String,
    pub unitd: Unitd,
    fleetd: Option<Child>,
    pub dir: tempfile::TempDir,
    pub api_port: u16,
    pub metadata: String,
    settings: FleetSettings,
}

impl Host {
    /// A host with `metadata` (`k=v,…`), its unitd started, fleetd not yet.
    pub fn new(settings: &FleetSettings, metadata: &str) -> Host {
        let index = HOSTS.fetch_add(1, Ordering::SeqCst);
        let n = std::process::id() as usize * 131 + index;
        let machine_id = format!("{:08x}{:024x}", (n as u32).wrapping_mul(2654435761), n);
        let ip = format!(
            "127.0.{}.{}",
            10 + (std::process::id() % 200),
            10 + index % 200
        );
        let mut unitd = Unitd::with_binary(binary("unitd"));
        unitd.start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("machine-id"), format!("{machine_id}\n")).unwrap();
        let api_port = free_port(&ip);
        Host {
            index,
            machine_id,
            ip,
            unitd,
            fleetd: None,
            dir,
            api_port,
            metadata: metadata.to_string(),
            settings: settings.clone(),
        }
    }

    /// The API's unix socket.
    pub fn api_socket(&self) -> PathBuf {
        self.dir.path().join("fleet.sock")
    }

    /// `http://IP:PORT` of the API.
    pub fn api_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.api_port)
    }

    pub fn fleetd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("fleetd.log")).unwrap_or_default()
    }

    /// Starts fleetd with this host's config file.
    pub fn start_fleetd(&mut self) {
        self.start_fleetd_with("");
    }

    /// Starts fleetd with this host's config file plus `extra_config` lines (e.g. `etcd_cafile = ...`).
    pub fn start_fleetd_with(&mut self, extra_config: &str) {
        let config = self.dir.path().join("fleet.conf");
        let s = &self.settings;
        std::fs::write(
            &config,
            format!(
                "etcd_servers = {}\nagent_ttl = {}\nengine_reconcile_interval = {}\npublic_ip = {}\nmetadata = \"{}\"\n\
                 machine_id_file = {}\nunitd_address = {}\napi_listen = unix://{},tcp://{}:{}\n{extra_config}",
                s.etcd,
                s.agent_ttl,
                s.reconcile_interval,
                self.ip,
                self.metadata,
                self.dir.path().join("machine-id").display(),
                self.unitd.private_socket().display(),
                self.api_socket().display(),
                self.ip,
                self.api_port,
            ),
        )
        .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("fleetd.log"))
            .unwrap();
        let child = Command::new(binary("fleetd"))
            .arg("--config")
            .arg(&config)
            .env("FLEET_LOG", "debug")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn fleetd");
        self.fleetd = Some(child);
        let port = self.api_port;
        let ip = self.ip.clone();
        assert!(
            wait_for(Duration::from_secs(20), || TcpStream::connect((
                ip.as_str(),
                port
            ))
            .is_ok()),
            "fleetd API did not come up; log:\n{}",
            self.fleetd_log()
        );
    }

    /// SIGTERM and wait: fleetd unloads its units and leaves the cluster.
    pub fn stop_fleetd(&mut self) {
        if let Some(mut c) = self.fleetd.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The host dies: SIGKILL to fleetd, unitd and every process of its units.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.fleetd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.unitd.kill9();
        for cgroup_procs in slice_procs(&self.unitd.slice) {
            if let Ok(text) = std::fs::read_to_string(&cgroup_procs) {
                for pid in text
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    // SAFETY: killing processes of this test's own cgroup slice.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }

    /// Runs `fleetctl` against this host's API (TCP endpoint).
    pub fn fleetctl(&self, args: &[&str]) -> Output {
        Command::new(binary("fleetctl"))
            .arg(format!("--endpoint={}", self.api_url()))
            .args(args)
            .env_remove("FLEETCTL_ENDPOINT")
            .env_remove("FLEETCTL_DRIVER")
            .output()
            .expect("run fleetctl")
    }

    /// The MainPID unitd reports for `unit` (0 when not running), via the unit's cgroup.
    pub fn unit_pids(&self, unit: &str) -> Vec<i32> {
        self.unitd.cgroup_pids(unit)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut c) = self.fleetd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- fleetd log of host {} ({}) ----\n{}",
                self.index,
                self.machine_id,
                self.fleetd_log()
            );
        }
    }
}

/// `cgroup.procs` files of every cgroup under a slice, v1 and v2 layouts.
fn slice_procs(slice: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/unified",
    ] {
        let dir = Path::new(root).join(slice);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let procs = e.path().join("cgroup.procs");
            if procs.exists() {
                out.push(procs);
            }
        }
    }
    out
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
