//! Starts real `kvstore` processes on loopback ports for the integration tests, and kills them on drop.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(dead_code)]

pub mod cluster;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct KvStore {
    pub child: Child,
    pub data_dir: PathBuf,
    pub ports: Ports,
    pub client_port: u16,
    pub metrics_port: u16,
    _tmp: Option<tempfile::TempDir>,
}

/// The loopback ports of one member; a restarted member must keep its peer URL (it is part of its id).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub client: u16,
    pub peer: u16,
    pub metrics: u16,
}

impl Ports {
    pub fn free() -> Ports {
        Ports {
            client: free_port(),
            peer: free_port(),
            metrics: free_port(),
        }
    }
}

/// A loopback port for a server this test starts (below the ephemeral range, so no outgoing connection of a
/// concurrent test can take it first: see [`flotilla_tests::free_port`]).
pub fn free_port() -> u16 {
    flotilla_tests::free_port("127.0.0.1")
}

impl KvStore {
    /// A fresh member in a new temporary data dir.
    pub fn start() -> KvStore {
        KvStore::start_with(&[])
    }

    /// A fresh member in a new temporary data dir, with `extra` flags.
    pub fn start_with(extra: &[&str]) -> KvStore {
        KvStore::start_serving("http", extra)
    }

    /// A fresh member whose client URL is on `scheme` (http, or https with the TLS flags in `extra`).
    pub fn start_serving(scheme: &str, extra: &[&str]) -> KvStore {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut s = KvStore::start_in_with(&dir, Ports::free(), scheme, extra);
        s._tmp = Some(tmp);
        s
    }

    /// A member on `data_dir` with the given ports (to restart one that was killed).
    pub fn start_in(data_dir: &Path, ports: Ports) -> KvStore {
        KvStore::start_in_with(data_dir, ports, "http", &[])
    }

    /// A member on `data_dir` with the given ports, serving clients on `scheme` with `extra` flags.
    pub fn start_in_with(data_dir: &Path, ports: Ports, scheme: &str, extra: &[&str]) -> KvStore {
        let Ports {
            client: client_port,
            peer: peer_port,
            metrics: metrics_port,
        } = ports;
        let child = Command::new(env!("CARGO_BIN_EXE_kvstore"))
            .args(["--name", "test", "--data-dir"])
            .arg(data_dir)
            .arg(format!(
                "--listen-client-urls={scheme}://127.0.0.1:{client_port}"
            ))
            .arg(format!(
                "--advertise-client-urls={scheme}://127.0.0.1:{client_port}"
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=test=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--listen-metrics-urls=http://127.0.0.1:{metrics_port}"
            ))
            .arg("--log-level=warn")
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn kvstore");
        let s = KvStore {
            child,
            data_dir: data_dir.to_path_buf(),
            ports,
            client_port,
            metrics_port,
            _tmp: None,
        };
        s.wait_ready();
        s
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.client_port)).is_ok()
                && http_get(self.metrics_port, "/health").is_some_and(|(code, _)| code == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("kvstore did not become ready on port {}", self.client_port);
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for KvStore {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits up to `within` for `child` — a kvstore expected to refuse to start, its stderr piped — to exit: its
/// stderr. Panics with what it printed if it is still running then (it started), or if it exited successfully.
pub fn refused_within(mut child: Child, within: Duration, what: &str) -> String {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {within:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{what}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A minimal HTTP/1.0 GET on loopback: (status code, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    cluster::http_get_at("127.0.0.1", port, path)
}

/// The Debian etcdctl 3.4; the README's test command installs it (package etcd-client).
pub fn etcdctl_path() -> &'static str {
    let p = "/usr/bin/etcdctl";
    assert!(
        Path::new(p).exists(),
        "etcdctl is missing: run `apt-get install -y etcd-client` (the README's test command does)"
    );
    p
}

/// Runs `etcdctl --endpoints=EP args...` with ETCDCTL_API=3.
pub fn etcdctl(ep: &str, args: &[&str]) -> Output {
    Command::new(etcdctl_path())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={ep}"))
        .args(args)
        .output()
        .expect("run etcdctl")
}

/// Runs `etcdctl --endpoints=EP args...` with `input` on its stdin (`txn`'s interactive form).
pub fn etcdctl_with_input(ep: &str, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut c = Command::new(etcdctl_path())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={ep}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run etcdctl");
    c.stdin
        .take()
        .expect("etcdctl stdin")
        .write_all(input.as_bytes())
        .expect("write etcdctl stdin");
    c.wait_with_output().expect("etcdctl output")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
