//! Real multi-member `kvstore` clusters for the integration tests: members on loopback ports (127.0.0.1) or,
//! for partition tests, each in a network namespace of its own on a bridge the test creates
//! ([`Netns`]), so that a member can be cut off by taking its link down.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// Where one member listens.
#[derive(Debug, Clone)]
pub struct MemberAddr {
    pub name: String,
    pub ip: String,
    pub client: u16,
    pub peer: u16,
    pub metrics: u16,
    /// The network namespace it runs in, if any.
    pub netns: Option<String>,
    /// The peer URL's scheme: "http", or "https" for TLS between members.
    pub peer_scheme: &'static str,
    /// The client URL's scheme: "http", or "https" for TLS to clients.
    pub client_scheme: &'static str,
}

impl MemberAddr {
    /// A member on 127.0.0.1, on free ports.
    pub fn local(name: &str) -> MemberAddr {
        MemberAddr {
            name: name.into(),
            ip: "127.0.0.1".into(),
            client: free_port(),
            peer: free_port(),
            metrics: free_port(),
            netns: None,
            peer_scheme: "http",
            client_scheme: "http",
        }
    }

    pub fn client_url(&self) -> String {
        format!("{}://{}:{}", self.client_scheme, self.ip, self.client)
    }
    pub fn peer_url(&self) -> String {
        format!("{}://{}:{}", self.peer_scheme, self.ip, self.peer)
    }
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.ip, self.client)
    }

    /// A `kvstore` command for this member outside a [`Cluster`] (no network namespace): its name, data dir
    /// `dir/<name>` and listen/advertise URLs; the caller adds how it finds its cluster.
    pub fn command(&self, dir: &std::path::Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kvstore"));
        cmd.args(["--name", &self.name, "--data-dir"])
            .arg(dir.join(&self.name))
            .arg(format!("--listen-client-urls={}", self.client_url()))
            .arg(format!("--advertise-client-urls={}", self.client_url()))
            .arg(format!("--listen-peer-urls={}", self.peer_url()))
            .arg(format!("--initial-advertise-peer-urls={}", self.peer_url()))
            .arg(format!(
                "--listen-metrics-urls=http://{}:{}",
                self.ip, self.metrics
            ));
        cmd
    }
}

pub struct Member {
    pub addr: MemberAddr,
    pub data_dir: PathBuf,
    pub child: Option<Child>,
    pub extra: Vec<String>,
    /// `--initial-cluster`, or none when the member bootstraps through `--discovery` (in `extra`).
    initial_cluster: Option<String>,
}

pub struct Cluster {
    pub members: Vec<Member>,
    pub tmp: tempfile::TempDir,
}

impl Cluster {
    /// `n` members on 127.0.0.1 with `extra` flags each.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let addrs = (0..n)
            .map(|i| MemberAddr::local(&format!("m{i}")))
            .collect();
        Cluster::start_at(addrs, extra)
    }

    /// Members at the given addresses, all started, waiting until one leads.
    pub fn start_at(addrs: Vec<MemberAddr>, extra: &[&str]) -> Cluster {
        let initial_cluster = addrs
            .iter()
            .map(|a| format!("{}={}", a.name, a.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        Cluster::start_with(addrs, extra, Some(initial_cluster))
    }

    /// `n` members on 127.0.0.1 that find each other through `--discovery=URL`.
    pub fn start_discovery(n: usize, url: &str) -> Cluster {
        let addrs = (0..n)
            .map(|i| MemberAddr::local(&format!("m{i}")))
            .collect();
        Cluster::start_with(addrs, &[&format!("--discovery={url}")], None)
    }

    fn start_with(
        addrs: Vec<MemberAddr>,
        extra: &[&str],
        initial_cluster: Option<String>,
    ) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = Cluster {
            members: addrs
                .into_iter()
                .map(|addr| Member {
                    data_dir: tmp.path().join(&addr.name),
                    addr,
                    child: None,
                    extra: extra.iter().map(|s| s.to_string()).collect(),
                    initial_cluster: initial_cluster.clone(),
                })
                .collect(),
            tmp,
        };
        for i in 0..c.members.len() {
            c.launch(i);
        }
        c.wait_leader(Duration::from_secs(20));
        c
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.addr.endpoint()).collect()
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(
            self.tmp
                .path()
                .join(format!("{}.log", self.members[i].addr.name)),
        )
        .unwrap_or_default()
    }

    /// Starts member `i` (again) on its data dir.
    pub fn launch(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(
                self.tmp
                    .path()
                    .join(format!("{}.log", self.members[i].addr.name)),
            )
            .unwrap();
        let m = &mut self.members[i];
        let a = &m.addr;
        let mut cmd = match &a.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_kvstore")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_kvstore")),
        };
        cmd.args(["--name", &a.name, "--data-dir"])
            .arg(&m.data_dir)
            .arg(format!("--listen-client-urls={}", a.client_url()))
            .arg(format!("--advertise-client-urls={}", a.client_url()))
            .arg(format!("--listen-peer-urls={}", a.peer_url()))
            .arg(format!("--initial-advertise-peer-urls={}", a.peer_url()))
            .arg(format!(
                "--listen-metrics-urls=http://{}:{}",
                a.ip, a.metrics
            ))
            .args(
                m.initial_cluster
                    .iter()
                    .map(|ic| format!("--initial-cluster={ic}")),
            )
            .arg("--log-level=info")
            .args(&m.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        m.child = Some(cmd.spawn().expect("spawn kvstore"));
    }

    /// Waits up to `within` for member `i` to exit by itself; its exit status, or `None` if it kept running.
    pub fn exited_within(
        &mut self,
        i: usize,
        within: Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.members[i].child.as_mut()?;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                self.members[i].child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGKILL member `i` (inside a namespace, `ip netns exec` execs kvstore, so the child is kvstore itself).
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The `/metrics` text of member `i`, if it answers.
    pub fn metrics(&self, i: usize) -> Option<String> {
        let a = &self.members[i].addr;
        http_get_at(&a.ip, a.metrics, "/metrics").map(|(_, body)| body)
    }

    /// A metric's value on member `i` (first sample).
    pub fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let text = self.metrics(i)?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Index of the member that says it leads, among those alive.
    pub fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| {
            self.members[i].child.is_some() && self.metric(i, "etcd_server_is_leader") == Some(1.0)
        })
    }

    pub fn wait_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.leader() {
                return l;
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Adds `d` to the cluster as a learner with stock `etcdctl member add` on `endpoints`, and returns the
/// `ETCD_INITIAL_CLUSTER` it prints for the new member.
pub fn add_learner(endpoints: &str, d: &MemberAddr) -> String {
    let out = super::etcdctl(
        endpoints,
        &[
            "member",
            "add",
            &d.name,
            &format!("--peer-urls={}", d.peer_url()),
            "--learner",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let printed = super::stdout(&out);
    assert!(
        printed.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""),
        "{printed}"
    );
    printed
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER=\""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{printed}"))
        .to_string()
}

/// The command that starts `d` (added with [`add_learner`], which returned `initial`) into the running
/// cluster, its data dir under `dir`.
pub fn join_command(dir: &std::path::Path, d: &MemberAddr, initial: &str) -> Command {
    let mut cmd = d.command(dir);
    cmd.arg(format!("--initial-cluster={initial}"))
        .arg("--initial-cluster-state=existing");
    cmd
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill9(i);
        }
    }
}

/// A minimal HTTP/1.0 GET: (status code, body).
pub fn http_get_at(ip: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// Network namespaces on a bridge, made by the test and removed on drop: member `i` lives in its own namespace at
/// 10.199.X.(i+1); the bridge (in this namespace) is 10.199.X.254, so the test reaches every member.
pub struct Netns {
    pub tag: String,
    pub subnet: String,
    pub names: Vec<String>,
}

impl Netns {
    pub fn create(n: usize) -> Netns {
        let pid = std::process::id();
        let tag = format!("kv{}", pid % 100_000);
        let subnet = format!("10.199.{}", pid % 250);
        let run = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let br = format!("{tag}br");
        let ns = Netns {
            tag: tag.clone(),
            subnet: subnet.clone(),
            names: (0..n).map(|i| format!("{tag}n{i}")).collect(),
        };
        run(&["link", "add", &br, "type", "bridge"]);
        run(&["addr", "add", &format!("{subnet}.254/24"), "dev", &br]);
        run(&["link", "set", &br, "up"]);
        for (i, name) in ns.names.iter().enumerate() {
            let host = format!("{tag}h{i}");
            let inner = format!("{tag}i{i}");
            run(&["netns", "add", name]);
            run(&["link", "add", &host, "type", "veth", "peer", "name", &inner]);
            run(&["link", "set", &inner, "netns", name]);
            run(&["link", "set", &host, "master", &br]);
            run(&["link", "set", &host, "up"]);
            run(&[
                "-n",
                name,
                "addr",
                "add",
                &format!("{subnet}.{}/24", i + 1),
                "dev",
                &inner,
            ]);
            run(&["-n", name, "link", "set", &inner, "up"]);
            run(&["-n", name, "link", "set", "lo", "up"]);
        }
        ns
    }

    pub fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// Cuts member `i` off (its link to the bridge goes down) or reconnects it.
    pub fn set_connected(&self, i: usize, up: bool) {
        let out = Command::new("ip")
            .args([
                "link",
                "set",
                &format!("{}h{i}", self.tag),
                if up { "up" } else { "down" },
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn addrs(&self) -> Vec<MemberAddr> {
        (0..self.names.len())
            .map(|i| MemberAddr {
                name: format!("m{i}"),
                ip: self.ip(i),
                client: 2379,
                peer: 2380,
                metrics: 2381,
                netns: Some(self.names[i].clone()),
                peer_scheme: "http",
                client_scheme: "http",
            })
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}br", self.tag)])
            .output();
    }
}
