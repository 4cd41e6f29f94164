//! End-to-end harness: a real unitd ([`unitd_testkit::Unitd`]: its own unit, state and runtime directories and
//! cgroup slice, private socket only unless a test gives it a bus) and the real unitctl binary pointed at it with
//! `--address unix:path=RUNTIME/private`. What is here is the part only these tests need: finding unitd and
//! running unitctl.
//!
//! unitd is another package's binary, so `CARGO_BIN_EXE_unitd` does not exist here; [`unitd_binary`] finds it
//! next to this test executable (`target/<profile>/deps/e2e-…` → `target/<profile>/unitd`), where
//! `cargo test --workspace` or `cargo build -p unitd --bin unitd` puts it.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use unitd_testkit::{wait_for, DbusDaemon, Unitd};

/// The unitd binary of the same build as this test.
pub fn unitd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/e2e-HASH → target/<profile>/unitd
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let unitd = profile_dir.join("unitd");
    if !unitd.is_file() {
        panic!(
            "unitd binary not found at {}: build it first (cargo build [--release] -p unitd --bin unitd, \
             or run the tests with cargo test --workspace)",
            unitd.display()
        );
    }
    unitd
}

/// What one unitctl run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    /// The exit status (-1 if killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// What these tests add to the shared harness: unitd from [`unitd_binary`], and unitctl run against it.
pub trait UnitdExt {
    /// A unitd over a fresh unit directory, not started yet: write units, then `start`.
    fn new() -> Self;

    /// A unitctl command aimed at this unitd (times in UTC, no inherited UNITD_ADDRESS).
    fn command(&self, args: &[&str]) -> Command;

    /// Runs unitctl to the end (a 30 s limit keeps a hung verb from hanging the test).
    fn unitctl(&self, args: &[&str]) -> Output;

    /// Runs unitctl and panics unless it exits 0.
    fn ok(&self, args: &[&str]) -> Output;
}

impl UnitdExt for Unitd {
    fn new() -> Unitd {
        Unitd::with_binary(unitd_binary())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_unitctl"));
        cmd.env_remove("UNITD_ADDRESS")
            .env("TZ", "UTC")
            .arg("--address")
            .arg(self.address())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn unitctl(&self, args: &[&str]) -> Output {
        run_with_timeout(self.command(args), Duration::from_secs(30))
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.unitctl(args);
        assert_eq!(out.code, 0, "unitctl {args:?} failed:\n{out}");
        out
    }
}

/// Runs `cmd` with stdout and stderr captured; kills it after `limit`.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unitctl");
    let stdout = Captured::start(child.stdout.take());
    let stderr = Captured::start(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish in {limit:?}\n--- stdout ---\n{}--- stderr ---\n{}",
                stdout.text(),
                stderr.text()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: stdout.finish(),
        stderr: stderr.finish(),
    }
}

/// A pipe read to its end on a thread; the text so far is readable at any time.
pub struct Captured {
    text: Arc<Mutex<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Captured {
    /// Starts reading `pipe` (nothing if `None`).
    pub fn start(pipe: Option<impl Read + Send + 'static>) -> Captured {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = text.clone();
        let thread = pipe.map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            })
        });
        Captured { text, thread }
    }

    /// What was read so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Waits for the end of the pipe and returns everything.
    pub fn finish(mut self) -> String {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.text()
    }
}
