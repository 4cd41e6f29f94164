//! End-to-end harness: a real unitd (its own unit, state and runtime directories and cgroup slice, private
//! socket only) and the real unitctl binary pointed at it with `--address unix:path=RUNTIME/private`.
//!
//! unitd is another package's binary, so `CARGO_BIN_EXE_unitd` does not exist here; [`unitd_binary`] finds it
//! next to this test executable (`target/<profile>/deps/e2e-…` → `target/<profile>/unitd`), where
//! `cargo test --workspace` or `cargo build -p unitd --bin unitd` puts it.
//!
//! The start-up and clean-up follow unitd's own harness (`unitd/daemon/tests/common/mod.rs`): wait for the
//! private socket; on drop SIGTERM (units are stopped), then kill whatever is left in the test's slice in every
//! cgroup hierarchy and remove it; print unitd's log if the test panicked.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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

/// A unitd process for one test.
pub struct Unitd {
    child: Option<Child>,
    /// Holds every directory below; removed on drop.
    pub root: tempfile::TempDir,
    /// `--unit-path` (also the configuration directory `enable` links in).
    pub units: PathBuf,
    /// `--state-dir` (the journal is in `state/journal`).
    pub state: PathBuf,
    /// `--runtime-dir` (the private socket is `run/private`).
    pub runtime: PathBuf,
    /// `--slice`, unique per test so parallel tests don't share cgroups.
    pub slice: String,
    /// `--bus-address`: also serve on this message bus (else `--no-bus`).
    pub bus: Option<String>,
}

impl Unitd {
    /// A unitd over a fresh unit directory, not started yet: write units, then [`Unitd::start`].
    pub fn new() -> Unitd {
        let root = tempfile::tempdir().expect("tempdir");
        let units = root.path().join("units");
        std::fs::create_dir_all(&units).expect("units dir");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Unitd {
            child: None,
            units,
            state: root.path().join("state"),
            runtime: root.path().join("run"),
            slice: format!("unitd-test-{}-{n}.slice", std::process::id()),
            root,
            bus: None,
        }
    }

    /// Writes `units/<name>` (parent directories too, for drop-ins).
    pub fn write_unit(&self, name: &str, body: &str) -> PathBuf {
        let path = self.units.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("unit parent dir");
        }
        std::fs::write(&path, body).expect("write unit");
        path
    }

    /// The private socket.
    pub fn private_socket(&self) -> PathBuf {
        self.runtime.join("private")
    }

    /// The D-Bus address for `--address`.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.private_socket().display())
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("unitd.log")
    }

    /// unitd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts unitd and waits until its private socket accepts connections.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(unitd_binary())
            .arg("--unit-path")
            .arg(&self.units)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--runtime-dir")
            .arg(&self.runtime)
            .arg("--slice")
            .arg(&self.slice)
            .args(match &self.bus {
                Some(address) => vec!["--bus-address", address.as_str()],
                None => vec!["--no-bus"],
            })
            .arg("--stop-timeout")
            .arg("20")
            .env("UNITD_LOG", "debug")
            .env_remove("UNITD_UNIT_PATH")
            .env_remove("UNITD_STATE_DIR")
            .env_remove("UNITD_RUNTIME_DIR")
            .env_remove("UNITD_SLICE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn unitd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(self.private_socket()).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("unitd exited ({status}); log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("unitd did not come up; log:\n{}", self.log());
    }

    /// A unitctl command aimed at this unitd (times in UTC, no inherited UNITD_ADDRESS).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_unitctl"));
        cmd.env_remove("UNITD_ADDRESS")
            .env("TZ", "UTC")
            .arg("--address")
            .arg(self.address())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs unitctl to the end (a 30 s limit keeps a hung verb from hanging the test).
    pub fn unitctl(&self, args: &[&str]) -> Output {
        run_with_timeout(self.command(args), Duration::from_secs(30))
    }

    /// Runs unitctl and panics unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.unitctl(args);
        assert_eq!(out.code, 0, "unitctl {args:?} failed:\n{out}");
        out
    }

    /// SIGTERM and wait: units are stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Unitd {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- unitd log ({}) ----\n{}",
                self.log_path().display(),
                self.log()
            );
        }
        remove_slice(&self.slice);
    }
}

/// Kills what a failed test left in `slice` and removes it, in every hierarchy.
fn remove_slice(slice: &str) {
    let bases = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(PathBuf::from)
        .chain(
            std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path()),
        );
    for base in bases {
        let slice = base.join(slice);
        if !slice.is_dir() {
            continue;
        }
        let children = || {
            std::fs::read_dir(&slice)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
        };
        for dir in children() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: killing leftovers of this test's own slice.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        std::thread::sleep(Duration::from_millis(20));
        for dir in children() {
            let _ = std::fs::remove_dir(&dir);
        }
        let _ = std::fs::remove_dir(&slice);
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

/// A private message bus (`dbus-daemon --session`) for a test; killed on drop.
pub struct DbusDaemon {
    child: Child,
    /// Its D-Bus address (`unix:path=…/bus`).
    pub address: String,
}

impl DbusDaemon {
    /// Starts a bus with its socket in `dir`; panics if dbus-daemon is missing or does not come up.
    pub fn start(dir: &Path) -> DbusDaemon {
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon is required (apt-get install dbus)");
        let bus = DbusDaemon { child, address };
        assert!(
            wait_for(Duration::from_secs(10), || socket.exists()),
            "dbus-daemon did not come up"
        );
        bus
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
