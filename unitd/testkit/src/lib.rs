//! # unitd-testkit
//!
//! A real `unitd` process for tests: the part of the harness that unitd's integration tests
//! (`unitd/daemon/tests/`) and unitctl's end-to-end tests (`unitd/unitctl/tests/e2e.rs`) share. Both start the
//! same binary the same way and must clean up after it the same way; when each kept its own copy the two drifted
//! (only one failed fast when unitd exited at start-up). Dev-only: `publish = false`, used from
//! `[dev-dependencies]`, and like those tests it needs root and cgroups.
//!
//! What it owns:
//! - the unitd process ([`Unitd`]): a temporary unit, state and runtime directory, a cgroup slice unique to the
//!   test, writing units, starting with or without a message bus, waiting for the private socket (and failing
//!   fast if unitd exits first), `kill -9` and the clean SIGTERM stop; on drop it stops unitd, prints unitd's log
//!   if the test panicked, and kills and removes whatever is left of the slice in every cgroup hierarchy;
//! - reading a unit's processes from its cgroup ([`cgroup_pids`]);
//! - a private message bus ([`DbusDaemon`]) for tests of unitd on a bus;
//! - polling a condition ([`wait_for`], blocking).
//!
//! What it leaves to each test crate: how the tests talk to unitd (the daemon's tests over `unitd-client`, with
//! async helpers; unitctl's by running the unitctl binary) and where the unitd binary is. [`Unitd::with_binary`]
//! takes its path: the daemon's tests pass `env!("CARGO_BIN_EXE_unitd")`; Cargo sets that only for a package's own
//! binaries, so unitctl's tests find unitd next to their test executable. Each crate's `tests/common` adds
//! `Unitd::new()` (with its binary) and its own methods through a `UnitdExt` trait, and its free helpers.
//!
//! Layout:
//! - `process.rs`: [`Unitd`], start-up and shutdown.
//! - `cgroup.rs`: [`cgroup_pids`] and the removal of a test's slice.
//! - `bus.rs`: [`DbusDaemon`].
//! - `lib.rs`: [`wait_for`].

mod bus;
mod cgroup;
mod process;

use std::time::{Duration, Instant};

pub use bus::DbusDaemon;
pub use cgroup::cgroup_pids;
pub use process::Unitd;

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
