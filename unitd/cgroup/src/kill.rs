//! Signalling every process of a cgroup without racing forks.
//!
//! Owns the freeze → list → signal → thaw loop both backends use for `kill_all`: while the group is frozen
//! nobody in it can fork, so the listed pids are all of them; after thawing, any process that a signal
//! handler forked shows up as new in the next round. Rounds repeat until one finds nothing new (bounded by
//! [`MAX_ROUNDS`]). A backend without a freezer still gets the loop, just without the guarantee.

use crate::error::Result;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Upper bound on signal rounds; a group that keeps producing new pids this long is left to the caller.
pub(crate) const MAX_ROUNDS: usize = 64;
/// How long to wait for a freeze to take effect before signalling anyway.
pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations the loop needs from one unit's cgroup.
pub(crate) trait Group {
    /// All pids in the group (and its sub-cgroups).
    fn pids(&self) -> Result<Vec<i32>>;
    /// Requests freezing (`true`) or thawing; `Ok(false)` if the group can't be frozen (no freezer).
    fn set_frozen(&self, frozen: bool) -> Result<bool>;
    /// Whether the freeze requested has completed.
    fn is_frozen(&self) -> Result<bool>;
}

/// Sends `signal` to every process in `group`; returns how many distinct pids were signalled.
pub(crate) fn kill_loop(group: &dyn Group, signal: i32) -> Result<usize> {
    let mut signalled: HashSet<i32> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        // Nothing new to signal (an empty group, or every process already signalled): no need to freeze.
        if group
            .pids()?
            .iter()
            .all(|pid| *pid <= 0 || signalled.contains(pid))
        {
            return Ok(signalled.len());
        }
        let frozen = group.set_frozen(true)?;
        let round = if frozen { wait_frozen(group) } else { Ok(()) }
            .and_then(|()| signal_new(group, signal, &mut signalled));
        // Thaw whatever happened in between: a unit must never be left frozen.
        if frozen {
            group.set_frozen(false)?;
        }
        if round? == 0 {
            return Ok(signalled.len());
        }
    }
    tracing::warn!(
        signalled = signalled.len(),
        "cgroup kept spawning processes; gave up after {MAX_ROUNDS} rounds"
    );
    Ok(signalled.len())
}

fn wait_frozen(group: &dyn Group) -> Result<()> {
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    // Freezing usually completes within tens of microseconds: poll finely first, back off later.
    let mut pause = Duration::from_micros(50);
    while !group.is_frozen()? {
        if Instant::now() >= deadline {
            tracing::warn!("cgroup did not freeze within {FREEZE_TIMEOUT:?}; signalling anyway");
            return Ok(());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

fn signal_new(group: &dyn Group, signal: i32, signalled: &mut HashSet<i32>) -> Result<usize> {
    let mut count = 0;
    for pid in group.pids()? {
        if pid <= 0 || !signalled.insert(pid) {
            continue;
        }
        count += 1;
        // SAFETY: kill(2) has no memory-safety preconditions; pid > 0 targets exactly one process.
        if unsafe { libc::kill(pid, signal) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ESRCH) {
                tracing::debug!(pid, signal, %err, "kill failed");
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A group whose pid list changes at every thaw (what forked meanwhile shows up): pids that don't exist,
    /// so kill(2) only returns ESRCH.
    struct Scripted {
        rounds: RefCell<Vec<Vec<i32>>>,
        freezes: RefCell<Vec<bool>>,
    }

    impl Group for Scripted {
        fn pids(&self) -> Result<Vec<i32>> {
            Ok(self.rounds.borrow().first().cloned().unwrap_or_default())
        }
        fn set_frozen(&self, frozen: bool) -> Result<bool> {
            self.freezes.borrow_mut().push(frozen);
            let mut rounds = self.rounds.borrow_mut();
            if !frozen && rounds.len() > 1 {
                rounds.remove(0);
            }
            Ok(true)
        }
        fn is_frozen(&self) -> Result<bool> {
            Ok(true)
        }
    }

    #[test]
    fn rounds_until_nothing_new_and_always_thaws() -> Result<()> {
        // Pids near the pid_max ceiling that won't exist.
        let g = Scripted {
            rounds: RefCell::new(vec![
                vec![4_194_301, 4_194_302],
                vec![4_194_301, 4_194_303],
                vec![4_194_303],
            ]),
            freezes: RefCell::new(Vec::new()),
        };
        assert_eq!(kill_loop(&g, 0)?, 3);
        // Two rounds found new pids; the third saw only signalled ones and did not freeze at all.
        assert_eq!(*g.freezes.borrow(), [true, false, true, false]);
        Ok(())
    }

    #[test]
    fn an_empty_group_is_never_frozen() -> Result<()> {
        let g = Scripted {
            rounds: RefCell::new(vec![vec![]]),
            freezes: RefCell::new(Vec::new()),
        };
        assert_eq!(kill_loop(&g, libc::SIGTERM)?, 0);
        assert!(g.freezes.borrow().is_empty());
        Ok(())
    }
}
