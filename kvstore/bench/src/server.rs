//! Starting, probing and stopping one server process (kvstore or etcd), and reading its memory use.
//!
//! Both servers take etcd's flags, so one argument list serves both. Each start gets a fresh temporary directory
//! (data dir + log file) and three free 127.0.0.1 ports (client, peer, metrics). The [`Server`] value owns the
//! process: dropping it — at the end of a run, on an error, on a panic, or when Ctrl-C drops the whole run — kills
//! the process and removes the directory. As a second line of defence the child asks the kernel for SIGKILL when
//! kvbench itself dies (`PR_SET_PDEATHSIG`), so not even `kill -9 kvbench` leaves a server behind.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kvstore_proto::etcdserverpb::{RangeRequest, StatusRequest};
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};

/// How a server is launched: which binary, plus any extra flags after the common etcd-style ones.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// "kvstore" or "etcd": the member name and the report's column.
    pub label: &'static str,
    /// The executable to run.
    pub binary: PathBuf,
    /// Extra flags appended after the common ones (e.g. tuning flags for one server only).
    pub extra_args: Vec<String>,
}

/// A running server. Dropping it kills the process and deletes its data.
pub struct Server {
    /// The process; killed and reaped on drop.
    child: Child,
    /// Port of the gRPC client listener on 127.0.0.1.
    client_port: u16,
    /// Holds the data dir and the log; removed on drop (after the kill, see `Drop`).
    dir: TempDir,
}

/// How many times a start is retried when the process exits early, e.g. because another process took one of
/// the free ports between our probe and the server's bind.
const START_ATTEMPTS: usize = 3;

impl Server {
    /// Starts the server on fresh ports and a fresh data dir and waits until a linearizable Range succeeds.
    pub async fn start(spec: &ServerSpec, ready_timeout: Duration) -> Result<Server> {
        let mut last_err = None;
        for attempt in 1..=START_ATTEMPTS {
            let mut server = Self::spawn(spec)?;
            match server.wait_ready(ready_timeout).await {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let exited = server.exit_status().is_some();
                    last_err = Some(e.context(format!(
                        "{} did not become ready (attempt {attempt})",
                        spec.label
                    )));
                    // A process that is still running but never answered will not get better by retrying.
                    if !exited {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("{} did not start", spec.label)))
    }

    fn spawn(spec: &ServerSpec) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("kvbench-{}-", spec.label))
            .tempdir()
            .context("creating a temporary directory for the server")?;
        let [client, peer, metrics] = free_ports()?;
        let log_path = dir.path().join("server.log");
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .with_context(|| format!("duplicating {}", log_path.display()))?;

        let mut cmd = Command::new(&spec.binary);
        cmd.args(server_args(
            spec.label,
            &dir.path().join("data"),
            client,
            peer,
            metrics,
        ))
        .args(&spec.extra_args)
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
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", spec.binary.display()))?;
        Ok(Server {
            child,
            client_port: client,
            dir,
        })
    }

    /// Polls until a linearizable Range of one key answers: then the server has a leader and serves reads through
    /// it, which is what the benchmark needs (a Status answer alone can come before the first election).
    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                bail!(
                    "server exited with {status} before it was ready; log tail:\n{}",
                    self.log_tail(20)
                );
            }
            let last = match probe(&self.url()).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                bail!(
                    "no answer to Range within {timeout:?} (last error: {last:#}); log tail:\n{}",
                    self.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's version as its Status call reports it; `None` if Status is not implemented or fails.
    pub async fn version(&self) -> Option<String> {
        let channel = connect(&self.url()).await.ok()?;
        let resp = tokio::time::timeout(
            Duration::from_secs(5),
            MaintenanceClient::new(channel).status(StatusRequest {}),
        )
        .await
        .ok()?
        .ok()?;
        Some(resp.into_inner().version).filter(|v| !v.is_empty())
    }

    /// `http://127.0.0.1:PORT`, for gRPC clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// `127.0.0.1:PORT`, for etcdctl's `--endpoints`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The process's memory figures from `/proc/PID/status`.
    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        Memory::parse(&text).with_context(|| format!("no VmRSS/VmHWM in {path}"))
    }

    /// `Some` once the process has exited (crashed, or refused its flags).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the server's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.dir.path().join("server.log"), lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL, not SIGTERM: the data is thrown away anyway, and a server that ignores SIGTERM must not keep
        // kvbench waiting. Reap it before TempDir's own drop removes the directory under it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags both servers understand: a one-member cluster on 127.0.0.1 only.
pub fn server_args(
    name: &str,
    data_dir: &Path,
    client: u16,
    peer: u16,
    metrics: u16,
) -> Vec<String> {
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    vec![
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
        peer_url.clone(),
        "--initial-cluster".into(),
        format!("{name}={peer_url}"),
        "--listen-metrics-urls".into(),
        format!("http://127.0.0.1:{metrics}"),
    ]
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
/// exec. kvbench forks from the thread that runs `main`'s future, which lives as long as kvbench does.
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

/// Three distinct free ports on 127.0.0.1. The listeners are held until all three are chosen (so they differ)
/// and then closed; the server binds them a moment later. A port stolen in between makes the server exit, which
/// [`Server::start`] notices and retries.
fn free_ports() -> Result<[u16; 3]> {
    let bind = || -> Result<(TcpListener, u16)> {
        let l = TcpListener::bind("127.0.0.1:0").context("binding a probe socket on 127.0.0.1")?;
        let port = l
            .local_addr()
            .context("reading the probe socket's port")?
            .port();
        Ok((l, port))
    };
    let (_a, p1) = bind()?;
    let (_b, p2) = bind()?;
    let (_c, p3) = bind()?;
    Ok([p1, p2, p3])
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
    tokio::time::timeout(Duration::from_secs(2), KvClient::new(channel).range(req))
        .await
        .context("Range timed out")?
        .context("Range failed")?;
    Ok(())
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
        let args = server_args("etcd", Path::new("/tmp/d"), 1, 2, 3);
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
        assert!(args
            .iter()
            .filter(|a| a.starts_with("http://"))
            .all(|a| a.starts_with("http://127.0.0.1:")));
    }

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports().unwrap();
        assert!(a != b && b != c && a != c);
    }
}
