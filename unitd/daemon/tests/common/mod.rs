//! Test harness: a real unitd process ([`unitd_testkit::Unitd`]: its own unit directory, state and runtime
//! directories and cgroup slice) driven over its private D-Bus socket with the `unitd-client` crate — the same
//! path unitctl and the fleet agent use. What is here is the part only these tests need: this package's unitd
//! binary, the connection, and the async helpers over it.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use unitd_client::{proxies, Connection, JobMode, JobResult, Target};
pub use unitd_testkit::Unitd;

/// What these tests add to the shared harness.
pub trait UnitdExt {
    /// A unitd (this package's binary) over a fresh unit directory (not started yet: write units first, or call
    /// `start`).
    fn new() -> Self;

    /// A connection to its private socket.
    async fn conn(&self) -> Connection;
}

impl UnitdExt for Unitd {
    fn new() -> Unitd {
        Unitd::with_binary(env!("CARGO_BIN_EXE_unitd"))
    }

    async fn conn(&self) -> Connection {
        unitd_client::connect_to(&Target::Private(self.private_socket()))
            .await
            .expect("connect to unitd")
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
