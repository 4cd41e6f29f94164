//! Test harness: a real unitd process with its own unit directory, state and runtime directories and cgroup
//! slice, driven over its private D-Bus socket with the `unitd-client` crate — the same path unitctl and the
//! fleet agent use.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use unitd_client::{proxies, Connection, JobMode, JobResult, Target};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Unitd {
    pub child: Option<Child>,
    pub root: tempfile::TempDir,
    pub units: PathBuf,
    pub state: PathBuf,
    pub runtime: PathBuf,
    pub slice: String,
    pub extra_args: Vec<String>,
}

impl Unitd {
    /// A unitd over a fresh unit directory (not started yet: write units first, or call `start`).
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
            extra_args: Vec::new(),
        }
    }

    pub fn write_unit(&self, name: &str, body: &str) -> PathBuf {
        let path = self.units.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("unit parent dir");
        }
        std::fs::write(&path, body).expect("write unit");
        path
    }

    pub fn private_socket(&self) -> PathBuf {
        self.runtime.join("private")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("unitd.log")
    }

    /// Starts unitd (private socket only) and waits until its private socket accepts connections.
    pub fn start(&mut self) {
        self.launch(true)
    }

    /// Starts unitd also on the bus given in `extra_args` (`--bus-address`).
    pub fn start_with_bus(&mut self) {
        self.launch(false)
    }

    fn launch(&mut self, no_bus: bool) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_unitd"))
            .arg("--unit-path")
            .arg(&self.units)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--runtime-dir")
            .arg(&self.runtime)
            .arg("--slice")
            .arg(&self.slice)
            .args(no_bus.then_some("--no-bus"))
            .arg("--stop-timeout")
            .arg("20")
            .args(&self.extra_args)
            .env("UNITD_LOG", "debug")
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
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("unitd did not come up; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub async fn conn(&self) -> Connection {
        unitd_client::connect_to(&Target::Private(self.private_socket()))
            .await
            .expect("connect to unitd")
    }

    /// SIGKILL: the crash case (units keep running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: the clean shutdown (units are stopped).
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

    /// Processes in a unit's cgroup (v1: the pids hierarchy, v2: the unified one).
    pub fn cgroup_pids(&self, unit: &str) -> Vec<i32> {
        let dirs = [
            Path::new("/sys/fs/cgroup/pids")
                .join(&self.slice)
                .join(unit),
            Path::new("/sys/fs/cgroup").join(&self.slice).join(unit),
        ];
        for dir in dirs {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                return text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            }
        }
        Vec::new()
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
        // Whatever a failed test left behind: kill and remove the slice in every hierarchy.
        for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .iter()
            .map(PathBuf::from)
            .chain(
                std::fs::read_dir("/sys/fs/cgroup")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            )
        {
            let slice = base.join(&self.slice);
            if !slice.is_dir() {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&slice) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        if let Ok(procs) = std::fs::read_to_string(e.path().join("cgroup.procs")) {
                            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                                // SAFETY: killing leftovers of this test's own slice.
                                unsafe { libc::kill(pid, libc::SIGKILL) };
                            }
                        }
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
            if let Ok(entries) = std::fs::read_dir(&slice) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&slice);
        }
    }
}

pub async fn start(conn: &Connection, unit: &str) -> JobResult {
    unitd_client::start_and_wait(conn, unit, JobMode::Replace)
        .await
        .expect("start job")
}

pub async fn stop(conn: &Connection, unit: &str) -> JobResult {
    unitd_client::stop_and_wait(conn, unit, JobMode::Replace)
        .await
        .expect("stop job")
}

pub async fn restart(conn: &Connection, unit: &str) -> JobResult {
    unitd_client::restart_and_wait(conn, unit, JobMode::Replace)
        .await
        .expect("restart job")
}

pub async fn active_state(conn: &Connection, unit: &str) -> String {
    let u = proxies::unit(conn, unit).await.expect("unit proxy");
    u.active_state().await.expect("ActiveState")
}

pub async fn sub_state(conn: &Connection, unit: &str) -> String {
    let u = proxies::unit(conn, unit).await.expect("unit proxy");
    u.sub_state().await.expect("SubState")
}

pub async fn result(conn: &Connection, unit: &str) -> String {
    let s = proxies::service(conn, unit).await.expect("service proxy");
    s.result().await.expect("Result")
}

pub async fn main_pid(conn: &Connection, unit: &str) -> u32 {
    let s = proxies::service(conn, unit).await.expect("service proxy");
    s.main_pid().await.expect("MainPID")
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// The journal lines of `unit` (messages only), read from the state directory.
pub fn journal_messages(state: &Path, unit: &str) -> Vec<String> {
    let reader = unitd_journal::JournalReader::open(state.join("journal")).expect("journal");
    let filter = unitd_journal::Filter {
        units: vec![unit.to_string()],
        since: None,
        lines: None,
    };
    reader
        .read(&filter)
        .expect("read journal")
        .into_iter()
        .map(|r| r.message)
        .collect()
}
