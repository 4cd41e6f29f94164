//! An in-memory [`CgroupManager`] for tests of code that uses one (the daemon's manager tests).
//!
//! Owns nothing on disk: it records each unit's limits and the pids given to [`CgroupManager::add_pid`], and
//! signals exactly those. It has no join paths (a child joins nothing) and cannot see a unit's forks, so it
//! fits tests that care about the manager's decisions, not about process tracking.

use crate::error::Result;
use crate::limits::Limits;
use crate::name::validate;
use crate::{CgroupManager, Stats};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What the fake knows about one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeUnit {
    /// The limits last created/applied.
    pub limits: Limits,
    /// Pids added with `add_pid` (dead ones are dropped when listed).
    pub pids: Vec<i32>,
    /// What `oom_kills` reports; set with [`FakeCgroups::set_oom_kills`].
    pub oom_kills: u64,
}

/// An in-memory cgroup manager.
#[derive(Debug, Default)]
pub struct FakeCgroups {
    slice: String,
    units: Mutex<BTreeMap<String, FakeUnit>>,
}

impl FakeCgroups {
    /// A fake slice with no units.
    pub fn new(slice: &str) -> FakeCgroups {
        FakeCgroups {
            slice: slice.to_string(),
            units: Mutex::default(),
        }
    }

    /// A snapshot of a unit, `None` if it has no cgroup.
    pub fn unit(&self, unit: &str) -> Option<FakeUnit> {
        self.lock().get(unit).cloned()
    }

    /// Makes `oom_kills(unit)` report `n`.
    pub fn set_oom_kills(&self, unit: &str, n: u64) {
        self.lock().entry(unit.to_string()).or_default().oom_kills = n;
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, FakeUnit>> {
        self.units.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence; no memory is involved.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

impl CgroupManager for FakeCgroups {
    fn version(&self) -> u8 {
        2
    }

    fn slice(&self) -> &str {
        &self.slice
    }

    fn create(&self, unit: &str, limits: &Limits) -> Result<()> {
        validate("unit", unit)?;
        limits.validate()?;
        self.lock().entry(unit.to_string()).or_default().limits = limits.clone();
        Ok(())
    }

    fn apply(&self, unit: &str, limits: &Limits) -> Result<()> {
        self.create(unit, limits)
    }

    fn join_paths(&self, unit: &str) -> Result<Vec<CString>> {
        validate("unit", unit)?;
        Ok(Vec::new())
    }

    fn add_pid(&self, unit: &str, pid: i32) -> Result<()> {
        validate("unit", unit)?;
        self.lock()
            .entry(unit.to_string())
            .or_default()
            .pids
            .push(pid);
        Ok(())
    }

    fn pids(&self, unit: &str) -> Result<Vec<i32>> {
        let mut units = self.lock();
        let Some(u) = units.get_mut(unit) else {
            return Ok(Vec::new());
        };
        u.pids.retain(|&p| alive(p));
        Ok(u.pids.clone())
    }

    fn kill_all(&self, unit: &str, signal: i32) -> Result<usize> {
        let pids = self.pids(unit)?;
        for &pid in &pids {
            // SAFETY: kill(2) has no memory-safety preconditions; pid > 0 (checked by alive()).
            unsafe { libc::kill(pid, signal) };
        }
        Ok(pids.len())
    }

    fn oom_kills(&self, unit: &str) -> Result<u64> {
        Ok(self.lock().get(unit).map_or(0, |u| u.oom_kills))
    }

    fn stats(&self, unit: &str) -> Result<Stats> {
        let tasks = self.pids(unit)?.len() as u64;
        Ok(Stats {
            tasks_current: Some(tasks),
            ..Stats::default()
        })
    }

    fn remove(&self, unit: &str) -> Result<()> {
        self.lock().remove(unit);
        Ok(())
    }

    fn units(&self) -> Result<Vec<String>> {
        Ok(self.lock().keys().cloned().collect())
    }

    fn remove_slice(&self) -> Result<()> {
        self.lock().clear();
        Ok(())
    }

    fn find_unit_of_pid(&self, pid: i32) -> Option<String> {
        self.lock()
            .iter()
            .find(|(_, u)| u.pids.contains(&pid))
            .map(|(name, _)| name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_limits_and_pids() -> Result<()> {
        let fake = FakeCgroups::new("t.slice");
        let limits = Limits {
            tasks_max: Some(3),
            ..Limits::default()
        };
        fake.create("a.service", &limits)?;
        fake.add_pid("a.service", std::process::id() as i32)?;
        assert_eq!(fake.unit("a.service").map(|u| u.limits), Some(limits));
        assert_eq!(fake.pids("a.service")?.len(), 1);
        assert_eq!(
            fake.find_unit_of_pid(std::process::id() as i32).as_deref(),
            Some("a.service")
        );
        fake.set_oom_kills("a.service", 2);
        assert_eq!(fake.oom_kills("a.service")?, 2);
        assert_eq!(fake.unit_path("a.service"), "/t.slice/a.service");
        fake.remove("a.service")?;
        assert!(fake.units()?.is_empty());
        Ok(())
    }
}
