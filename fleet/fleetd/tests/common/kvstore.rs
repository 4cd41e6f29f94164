//! A real `kvstore` process on loopback ports in a temporary data directory, killed on drop.
//!
//! kvstore is another package's binary, so `CARGO_BIN_EXE_kvstore` does not exist here; [`kvstore_binary`]
//! finds it next to this test executable (`target/<profile>/deps/api-…` → `target/<profile>/kvstore`), where
//! `cargo build --release -p kvstore --bin kvstore` or `cargo test --workspace` puts it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The kvstore binary of the same build as this test.
pub fn kvstore_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("kvstore");
    assert!(
        bin.is_file(),
        "kvstore binary not found at {}: build it first (cargo build --release -p kvstore --bin kvstore)",
        bin.display()
    );
    bin
}

/// A free loopback port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One single-member kvstore.
pub struct KvStore {
    child: Child,
    /// The client port: `http://127.0.0.1:<client_port>` is the etcd endpoint.
    pub client_port: u16,
    _data: tempfile::TempDir,
}

impl KvStore {
    /// Starts a fresh member and waits until it serves (blocking: call it from `spawn_blocking`).
    pub fn start() -> KvStore {
        let data = tempfile::tempdir().expect("tempdir");
        let (client, peer, metrics) = (free_port(), free_port(), free_port());
        let child = Command::new(kvstore_binary())
            .args(["--name", "test", "--data-dir"])
            .arg(data.path().join("data"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=test=http://127.0.0.1:{peer}"))
            .arg(format!("--listen-metrics-urls=http://127.0.0.1:{metrics}"))
            .arg("--log-level=warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn kvstore");
        let kv = KvStore {
            child,
            client_port: client,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(TcpStream::connect(("127.0.0.1", client)).is_ok() && healthy(metrics)) {
            assert!(Instant::now() < deadline, "kvstore did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        kv
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for KvStore {
    fn drop(&mut self) {
        self.kill();
    }
}

fn healthy(metrics_port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", metrics_port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(s, "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split_whitespace().nth(1) == Some("200")
}
