//! The unitd process: its directories, start-up, shutdown and clean-up.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cgroup;

/// Numbers the slices of one test process, so parallel tests don't share cgroups.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unitd process for one test.
pub struct Unitd {
    /// The unitd executable; the test crate knows where it is.
    binary: PathBuf,
    /// The running unitd, `None` before `start` and after `stop`/`kill9`.
    child: Option<Child>,
    /// Holds every directory below and unitd's log; removed on drop.
    pub root: tempfile::TempDir,
    /// `--unit-path` (also the configuration directory `enable` links in).
    pub units: PathBuf,
    /// `--state-dir` (the journal is in `state/journal`).
    pub state: PathBuf,
    /// `--runtime-dir` (the private socket is `run/private`).
    pub runtime: PathBuf,
    /// `--slice`, unique per test so parallel tests don't share cgroups.
    pub slice: String,
    /// `--bus-address`: also serve on this message bus (else `--no-bus`, unless [`Unitd::start_with_bus`]).
    pub bus: Option<String>,
    /// More arguments, after all the others.
    pub extra_args: Vec<String>,
}

impl Unitd {
    /// A unitd (the executable at `binary`) over a fresh unit directory, not started yet: write units, then
    /// [`Unitd::start`]. Not `new`: each test crate adds its own `Unitd::new()` that names its binary.
    pub fn with_binary(binary: impl Into<PathBuf>) -> Unitd {
        let root = tempfile::tempdir().expect("tempdir");
        let units = root.path().join("units");
        std::fs::create_dir_all(&units).expect("units dir");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Unitd {
            binary: binary.into(),
            child: None,
            units,
            state: root.path().join("state"),
            runtime: root.path().join("run"),
            slice: format!("unitd-test-{}-{n}.slice", std::process::id()),
            root,
            bus: None,
            extra_args: Vec::new(),
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

    /// The private socket's D-Bus address (`unix:path=…`).
    pub fn address(&self) -> String {
        format!("unix:path={}", self.private_socket().display())
    }

    /// Where unitd's stderr goes.
    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("unitd.log")
    }

    /// unitd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Processes in `unit`'s cgroup in this unitd's slice.
    pub fn cgroup_pids(&self, unit: &str) -> Vec<i32> {
        cgroup::cgroup_pids(&self.slice, unit)
    }

    /// Starts unitd on [`Unitd::bus`] if set, else with `--no-bus` (private socket only), and waits until its
    /// private socket accepts connections.
    pub fn start(&mut self) {
        self.launch(true)
    }

    /// Starts unitd on a message bus: [`Unitd::bus`] if set, else the `--bus-address` in
    /// [`Unitd::extra_args`] (or unitd's default, the system bus); waits like [`Unitd::start`].
    pub fn start_with_bus(&mut self) {
        self.launch(false)
    }

    fn launch(&mut self, no_bus_unless_set: bool) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let bus_args = match &self.bus {
            Some(address) => vec!["--bus-address", address.as_str()],
            None if no_bus_unless_set => vec!["--no-bus"],
            None => vec![],
        };
        let child = Command::new(&self.binary)
            .arg("--unit-path")
            .arg(&self.units)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--runtime-dir")
            .arg(&self.runtime)
            .arg("--slice")
            .arg(&self.slice)
            .args(bus_args)
            .arg("--stop-timeout")
            .arg("20")
            .args(&self.extra_args)
            .env("UNITD_LOG", "debug")
            .env_remove("UNITD_UNIT_PATH")
            .env_remove("UNITD_STATE_DIR")
            .env_remove("UNITD_RUNTIME_DIR")
            .env_remove("UNITD_SLICE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn unitd ({}): {e}", self.binary.display()));
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

    /// SIGKILL: the crash case (units keep running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: the clean shutdown (units are stopped); SIGKILL after 30 s.
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
    /// Stops unitd, shows its log if the test failed, and removes what is left of the test's slice.
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "---- unitd log ({}) ----\n{}",
                self.log_path().display(),
                self.log()
            );
        }
        cgroup::remove_slice(&self.slice);
    }
}
