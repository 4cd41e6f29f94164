//! Starting, probing and stopping one server — a single process or a cluster of members (kvstore or etcd) — and
//! reading its memory use.
//!
//! Both servers take etcd's flags, so one argument list serves both. Each start gets a fresh temporary directory
//! (data dirs + logs) and three free 127.0.0.1 ports per member (client, peer, metrics). With one member the flags
//! are exactly the one-member cluster `--initial-cluster NAME=PEER`; with several, the members are named `a`, `b`,
//! `c`… and get `--initial-cluster a=…,b=…,c=… --initial-cluster-token kvbench-LABEL --initial-cluster-state new`.
//!
//! The [`Cluster`] value owns the processes: dropping it — at the end of a run, on an error, on a panic, or when
//! Ctrl-C drops the whole run — kills every member and removes the directory (unless it was asked to keep it). As
//! a second line of defence each child asks the kernel for SIGKILL when kvbench itself dies
//! (`PR_SET_PDEATHSIG`), so not even `kill -9 kvbench` leaves a server behind. For the failover phase a member can
//! be killed (SIGKILL) and started again on its own data dir.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kvstore_proto::etcdserverpb::{RangeRequest, StatusRequest, StatusResponse};
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

/// How a server is launched: which binary, plus any extra flags after the common etcd-style ones.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// "kvstore" or "etcd": the member name (of a one-member cluster) and the report's column.
    pub label: &'static str,
    /// The executable to run.
    pub binary: PathBuf,
    /// Extra flags appended after the common ones (e.g. tuning flags for one server only).
    pub extra_args: Vec<String>,
}

/// One member process and how to start it again.
struct Member {
    /// `--name`.
    name: String,
    /// Every flag it is started with (the same on a restart).
    args: Vec<String>,
    /// Port of its gRPC client listener on 127.0.0.1.
    client_port: u16,
    /// stdout and stderr of every start, appended.
    log_path: PathBuf,
    /// `None` while it is killed (failover phase).
    child: Option<Child>,
}

/// A running server: one or more members. Dropping it kills every process and deletes their data.
pub struct Cluster {
    binary: PathBuf,
    members: Vec<Member>,
    /// Holds the data dirs and logs; removed on drop (after the kills, see `Drop`), unless kept.
    dir: Option<TempDir>,
    /// Where the directory is when it is kept.
    kept: Option<PathBuf>,
    /// Member ids, in member order, once [`Cluster::member_ids`] asked for them.
    ids: Vec<u64>,
}

/// How many times a start is retried when a process exits early, e.g. because another process took one of
/// the free ports between our probe and the server's bind.
const START_ATTEMPTS: usize = 3;

/// Timeout of one Status or probe call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

impl Cluster {
    /// Starts `members` members on fresh ports and a fresh directory and waits until every one of them answers
    /// a linearizable Range (which needs an elected leader).
    pub async fn start(
        spec: &ServerSpec,
        members: usize,
        ready_timeout: Duration,
    ) -> Result<Cluster> {
        let mut last_err = None;
        for attempt in 1..=START_ATTEMPTS {
            let mut cluster = Self::spawn(spec, members)?;
            match cluster.wait_ready(ready_timeout).await {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    let exited = cluster.exited().is_some();
                    last_err = Some(e.context(format!(
                        "{} did not become ready (attempt {attempt})",
                        spec.label
                    )));
                    // Processes that are still running but never answered will not get better by retrying.
                    if !exited {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{} did not start", spec.label)))
    }

    fn spawn(spec: &ServerSpec, n: usize) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("kvbench-{}-", spec.label))
            .tempdir()
            .context("creating a temporary directory for the server")?;
        let ports = free_ports(3 * n)?;
        let mut members = Vec::with_capacity(n);
        if n == 1 {
            let [client, peer, metrics] = [ports[0], ports[1], ports[2]];
            let initial = format!("{}=http://127.0.0.1:{peer}", spec.label);
            members.push(Member {
                name: spec.label.to_string(),
                args: server_args(
                    spec.label,
                    &dir.path().join("data"),
                    [client, peer, metrics],
                    &initial,
                    None,
                ),
                client_port: client,
                log_path: dir.path().join("server.log"),
                child: None,
            });
        } else {
            let names: Vec<String> = (0..n).map(member_name).collect();
            let initial = names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{name}=http://127.0.0.1:{}", ports[3 * i + 1]))
                .collect::<Vec<_>>()
                .join(",");
            let token = format!("kvbench-{}", spec.label);
            for (i, name) in names.into_iter().enumerate() {
                let p = [ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]];
                members.push(Member {
                    args: server_args(
                        &name,
                        &dir.path().join(format!("{name}.data")),
                        p,
                        &initial,
                        Some(&token),
                    ),
                    client_port: p[0],
                    log_path: dir.path().join(format!("{name}.log")),
                    name,
                    child: None,
                });
            }
        }
        let mut cluster = Cluster {
            binary: spec.binary.clone(),
            members,
            dir: Some(dir),
            kept: None,
            ids: Vec::new(),
        };
        for m in &mut cluster.members {
            m.args.extend(spec.extra_args.iter().cloned());
            m.child = Some(spawn_member(&spec.binary, &m.args, &m.log_path, false)?);
        }
        Ok(cluster)
    }

    /// Polls until a linearizable Range of one key answers on every member: then the cluster has a leader and
    /// every member serves reads through it, which is what the benchmark needs (a Status answer alone can come
    /// before the first election).
    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut ready = vec![false; self.members.len()];
        loop {
            if let Some((i, status)) = self.exited() {
                bail!(
                    "{}exited with {status} before it was ready; log tail:\n{}",
                    self.who(i),
                    self.log_tail(i, 20)
                );
            }
            let mut last = None;
            for (i, done) in ready.iter_mut().enumerate() {
                if !*done {
                    match probe(&self.url(i)).await {
                        Ok(()) => *done = true,
                        Err(e) => last = Some((i, e)),
                    }
                }
            }
            let Some((i, last)) = last else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let who = if self.members.len() == 1 {
                    String::new()
                } else {
                    format!("member {}: ", self.members[i].name)
                };
                bail!(
                    "{who}no answer to Range within {timeout:?} (last error: {last:#}); log tail:\n{}",
                    self.log_tail(i, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// "member b: " in a cluster, nothing for a single server (whose messages stay as they always were).
    fn who(&self, i: usize) -> String {
        if self.members.len() == 1 {
            "server ".to_string()
        } else {
            format!("member {} ", self.members[i].name)
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Member `i`'s name.
    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    /// The server's version as the first member's Status call reports it; `None` if Status is not implemented
    /// or fails.
    pub async fn version(&self) -> Option<String> {
        let resp = status(&self.url(0)).await.ok()?;
        Some(resp.version).filter(|v| !v.is_empty())
    }

    /// Member `i`'s `http://127.0.0.1:PORT`, for gRPC clients.
    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.members[i].client_port)
    }

    /// Every member's client address, `127.0.0.1:PORT,127.0.0.1:PORT…`, for etcdctl's `--endpoints`.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Member `i`'s memory figures from `/proc/PID/status`.
    pub fn memory(&self, i: usize) -> Result<Memory> {
        let child = self.members[i]
            .child
            .as_ref()
            .with_context(|| format!("member {} is not running", self.members[i].name))?;
        let path = format!("/proc/{}/status", child.id());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        Memory::parse(&text).with_context(|| format!("no VmRSS/VmHWM in {path}"))
    }

    /// The first member that exited on its own (crashed, or refused its flags), with its status. Members this
    /// program killed are not counted.
    pub fn exited(&mut self) -> Option<(usize, ExitStatus)> {
        self.members.iter_mut().enumerate().find_map(|(i, m)| {
            let status = m.child.as_mut()?.try_wait().ok().flatten()?;
            Some((i, status))
        })
    }

    /// A one-line description of an exit, with the log tail, for the report.
    pub fn describe_exit(&self, i: usize, status: ExitStatus, lines: usize) -> String {
        format!(
            "{}exited with {status}; log tail:\n{}",
            self.who(i),
            self.log_tail(i, lines)
        )
    }

    /// The last `lines` lines of member `i`'s log, for error messages.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        log_tail(&self.members[i].log_path, lines)
    }

    /// SIGKILLs member `i` and reaps it; its data dir stays for [`Cluster::restart`].
    pub fn kill(&mut self, i: usize) -> Result<()> {
        let name = self.members[i].name.clone();
        let mut child = self.members[i]
            .child
            .take()
            .with_context(|| format!("member {name} is not running"))?;
        child
            .kill()
            .with_context(|| format!("killing member {name}"))?;
        child
            .wait()
            .with_context(|| format!("reaping member {name}"))?;
        Ok(())
    }

    /// Starts member `i` again with the flags and data dir it had; its log is appended to.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        if m.child.is_some() {
            bail!("member {} is still running", m.name);
        }
        m.child = Some(spawn_member(&self.binary, &m.args, &m.log_path, true)?);
        Ok(())
    }

    /// Member `i`'s Status answer.
    pub async fn status(&self, i: usize) -> Result<StatusResponse> {
        status(&self.url(i)).await
    }

    /// Every member's id, from the header of its own Status answer (asked once, then remembered: ids survive a
    /// restart).
    pub async fn member_ids(&mut self) -> Result<Vec<u64>> {
        if self.ids.is_empty() {
            let mut ids = Vec::with_capacity(self.members.len());
            for i in 0..self.members.len() {
                let s = self
                    .status(i)
                    .await
                    .with_context(|| format!("Status of member {}", self.members[i].name))?;
                let id = s.header.map(|h| h.member_id).unwrap_or(0);
                if id == 0 {
                    bail!("member {}'s Status has no member id", self.members[i].name);
                }
                ids.push(id);
            }
            self.ids = ids;
        }
        Ok(self.ids.clone())
    }

    /// The index of the leader, from the `leader` field of Status on the running members (asked in order; the
    /// first that names a member wins). Polls for up to `within` while no running member knows a leader.
    pub async fn leader(&mut self, within: Duration) -> Result<usize> {
        let ids = self.member_ids().await?;
        let deadline = Instant::now() + within;
        loop {
            let mut last = anyhow::anyhow!("no running member");
            for i in (0..self.members.len()).filter(|&i| self.running(i)) {
                match self.status(i).await {
                    Ok(s) if s.leader != 0 => match ids.iter().position(|&id| id == s.leader) {
                        Some(l) => return Ok(l),
                        None => {
                            last = anyhow::anyhow!(
                                "member {} names an unknown leader {:x}",
                                self.members[i].name,
                                s.leader
                            )
                        }
                    },
                    Ok(_) => {
                        last = anyhow::anyhow!("member {} knows no leader", self.members[i].name)
                    }
                    Err(e) => {
                        last = e.context(format!("Status of member {}", self.members[i].name))
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(last.context(format!("no leader found within {within:?}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether member `i` is running (not killed by us).
    pub fn running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    /// Keeps the directory with the data dirs and logs when the cluster is dropped; returns where it is.
    pub fn keep_dir(&mut self) -> Option<PathBuf> {
        if let Some(dir) = self.dir.take() {
            self.kept = Some(dir.keep());
        }
        self.kept.clone()
    }

    /// The directory holding the data dirs and logs.
    pub fn dir(&self) -> Option<&Path> {
        self.dir
            .as_ref()
            .map(TempDir::path)
            .or(self.kept.as_deref())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGKILL, not SIGTERM: the data is thrown away anyway, and a server that ignores SIGTERM must not keep
        // kvbench waiting. Reap them before TempDir's own drop removes the directory under them.
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Cluster member names: `a`, `b`, `c`, …
pub fn member_name(i: usize) -> String {
    let letter = u8::try_from(i % 26).unwrap_or(0);
    let base = char::from(b'a' + letter).to_string();
    if i < 26 {
        base
    } else {
        format!("{base}{}", i / 26)
    }
}

/// Spawns one member with its output going to `log_path` (appended to on a restart, created otherwise).
fn spawn_member(binary: &Path, args: &[String], log_path: &Path, append: bool) -> Result<Child> {
    let log = if append {
        OpenOptions::new().create(true).append(true).open(log_path)
    } else {
        File::create(log_path)
    }
    .with_context(|| format!("opening {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .with_context(|| format!("duplicating {}", log_path.display()))?;

    let mut cmd = Command::new(binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // ETCD_* variables in our environment would silently reconfigure etcd (or clash with the flags).
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ETCD_") {
            cmd.env_remove(key);
        }
    }
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(die_with_parent);
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// The flags both servers understand, for one member on 127.0.0.1 only. `ports` are client, peer, metrics.
/// `token` is `None` for a one-member cluster (whose flags stay the minimal set), and set for a real cluster,
/// which then also gets `--initial-cluster-state new`.
pub fn server_args(
    name: &str,
    data_dir: &Path,
    ports: [u16; 3],
    initial_cluster: &str,
    token: Option<&str>,
) -> Vec<String> {
    let [client, peer, metrics] = ports;
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut args: Vec<String> = vec![
        "--name".into(),
        name.into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--listen-client-urls".into(),
        client_url.clone(),
        "--advertise-client-urls".into(),
        client_url,
        "--listen-peer-urls".into(),
        peer_url.clone(),
        "--initial-advertise-peer-urls".into(),
        peer_url,
        "--initial-cluster".into(),
        initial_cluster.into(),
        "--listen-metrics-urls".into(),
        format!("http://127.0.0.1:{metrics}"),
    ];
    if let Some(token) = token {
        args.extend([
            "--initial-cluster-token".into(),
            token.into(),
            "--initial-cluster-state".into(),
            "new".into(),
        ]);
    }
    args
}

/// A process's resident memory, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident now, KiB.
    pub rss_kib: u64,
    /// VmHWM: the most it has been resident since it started, KiB.
    pub peak_kib: u64,
}

impl Memory {
    /// Parses the `VmRSS:` and `VmHWM:` lines (`VmRSS:\t   12345 kB`).
    pub fn parse(status: &str) -> Option<Memory> {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
        };
        Some(Memory {
            rss_kib: field("VmRSS")?,
            peak_kib: field("VmHWM")?,
        })
    }
}

/// Asks the kernel to SIGKILL this (child) process when the thread that forked it dies. Runs between fork and
/// exec. kvbench forks from the thread that runs `main`'s future (never from a spawned task), which lives as long
/// as kvbench does.
pub fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a plain integer argument and touches no memory of ours.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `n` distinct free ports on 127.0.0.1. The listeners are held until all are chosen (so they differ) and then
/// closed; the servers bind them a moment later. A port stolen in between makes a server exit, which
/// [`Cluster::start`] notices and retries.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").context("binding a probe socket on 127.0.0.1")?;
        ports.push(
            l.local_addr()
                .context("reading the probe socket's port")?
                .port(),
        );
        held.push(l);
    }
    Ok(ports)
}

/// One gRPC connection to `url`, with a connect timeout so a dead port fails fast.
pub async fn connect(url: &str) -> Result<Channel> {
    Endpoint::from_shared(url.to_string())
        .with_context(|| format!("bad endpoint {url}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

async fn probe(url: &str) -> Result<()> {
    let channel = connect(url).await?;
    let req = RangeRequest {
        key: b"kvbench/ready".to_vec(),
        ..Default::default()
    };
    tokio::time::timeout(CALL_TIMEOUT, KvClient::new(channel).range(req))
        .await
        .context("Range timed out")?
        .context("Range failed")?;
    Ok(())
}

/// One Status call on a fresh connection.
async fn status(url: &str) -> Result<StatusResponse> {
    let channel = connect(url).await?;
    let resp = tokio::time::timeout(
        CALL_TIMEOUT,
        MaintenanceClient::new(channel).status(StatusRequest {}),
    )
    .await
    .context("Status timed out")?
    .context("Status failed")?;
    Ok(resp.into_inner())
}

fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            if all.is_empty() {
                return "(the log is empty)".to_string();
            }
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_peak() {
        let status = "Name:\tetcd\nVmPeak:\t11812868 kB\nVmHWM:\t   99000 kB\nVmRSS:\t   97544 kB\nThreads:\t12\n";
        assert_eq!(
            Memory::parse(status),
            Some(Memory {
                rss_kib: 97_544,
                peak_kib: 99_000
            })
        );
    }

    #[test]
    fn missing_rss_is_none() {
        assert_eq!(Memory::parse("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn args_describe_a_one_member_cluster_on_loopback() {
        let args = server_args(
            "etcd",
            Path::new("/tmp/d"),
            [1, 2, 3],
            "etcd=http://127.0.0.1:2",
            None,
        );
        let joined = args.join(" ");
        assert!(
            joined.contains("--initial-cluster etcd=http://127.0.0.1:2"),
            "{joined}"
        );
        assert!(
            joined.contains("--listen-client-urls http://127.0.0.1:1"),
            "{joined}"
        );
        assert!(
            joined.contains("--listen-metrics-urls http://127.0.0.1:3"),
            "{joined}"
        );
        assert!(!joined.contains("--initial-cluster-token"), "{joined}");
        assert!(args
            .iter()
            .filter(|a| a.starts_with("http://"))
            .all(|a| a.starts_with("http://127.0.0.1:")));
    }

    #[test]
    fn args_of_a_cluster_member_carry_token_and_state() {
        let initial = "a=http://127.0.0.1:2,b=http://127.0.0.1:5,c=http://127.0.0.1:8";
        let args = server_args("b", Path::new("/tmp/b"), [4, 5, 6], initial, Some("t"));
        let joined = args.join(" ");
        assert!(
            joined.contains(&format!("--initial-cluster {initial}")),
            "{joined}"
        );
        assert!(
            joined.ends_with("--initial-cluster-token t --initial-cluster-state new"),
            "{joined}"
        );
        assert!(joined.starts_with("--name b "), "{joined}");
    }

    #[test]
    fn member_names_are_letters() {
        let names: Vec<String> = (0..3).map(member_name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(9).unwrap();
        let distinct: std::collections::HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 9);
    }
}
