//! The cgroup v1 backend: one directory per unit in each controller hierarchy.
//!
//! Owns the v1 file layout: `<mount>/<slice>/<unit>/` under every hierarchy of
//! [`V1_CONTROLLERS`](crate::mountinfo::V1_CONTROLLERS) that is mounted, the v1 knob names
//! (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `cpu.shares`, `pids.max`, `blkio.weight`, `cpuset.cpus`),
//! cpuset's need for `cpuset.cpus`/`cpuset.mems` to be filled in (copied from the parent) before a task can
//! join, and the choice of one *tracking* hierarchy (pids, else freezer, memory, …) whose `cgroup.procs` is
//! the truth about which processes a unit has. Freezing uses the freezer hierarchy when it is mounted.

use crate::error::{CgroupError, Result};
use crate::fs::{self, mkdir, read_keyed, read_u64, rmdir_tree, write, write_opt};
use crate::kill::{kill_loop, Group};
use crate::limits::{self, Limits, CFS_PERIOD_US};
use crate::mountinfo::Hierarchy;
use crate::name::{escape, unescape, validate};
use crate::procfs::{read_proc_cgroup, unit_from_proc_cgroup};
use crate::{CgroupManager, Stats};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Order of preference for the hierarchy whose `cgroup.procs` lists a unit's processes.
const TRACKING_PREFERENCE: &[&str] = &["pids", "freezer", "memory", "cpu", "cpuacct"];

/// Unit cgroups on a v1 (legacy or hybrid) host.
#[derive(Debug, Clone)]
pub struct V1 {
    /// The slice name as given (`flotilla.slice`).
    slice: String,
    /// Its directory name (escaped).
    slice_dir: String,
    /// The hierarchies a unit joins; never empty.
    hierarchies: Vec<Hierarchy>,
    /// The hierarchy `pids()` reads (one of `hierarchies`).
    tracking: Hierarchy,
}

impl V1 {
    /// Uses `hierarchies` (from [`crate::mountinfo::Layout`]) and creates the slice directory in each.
    pub fn new(hierarchies: Vec<Hierarchy>, slice: &str) -> Result<V1> {
        validate("slice", slice)?;
        let tracking = TRACKING_PREFERENCE
            .iter()
            .find_map(|c| hierarchies.iter().find(|h| h.has(c)))
            .or(hierarchies.first())
            .cloned()
            .ok_or(CgroupError::NoHierarchy)?;
        let v1 = V1 {
            slice: slice.to_string(),
            slice_dir: escape(slice),
            hierarchies,
            tracking,
        };
        for h in &v1.hierarchies {
            v1.ensure_dir(h, &h.mount_point.join(&v1.slice_dir))?;
        }
        Ok(v1)
    }

    /// The hierarchies in use.
    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    fn find(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.has(controller))
    }

    fn slice_path(&self, h: &Hierarchy) -> PathBuf {
        h.mount_point.join(&self.slice_dir)
    }

    fn unit_dir(&self, h: &Hierarchy, unit: &str) -> PathBuf {
        self.slice_path(h).join(escape(unit))
    }

    /// Creates `dir` (if missing) and, in the cpuset hierarchy, fills in its cpus/mems from the parent.
    fn ensure_dir(&self, h: &Hierarchy, dir: &Path) -> Result<()> {
        mkdir(dir)?;
        if h.has("cpuset") {
            for knob in ["cpuset.cpus", "cpuset.mems"] {
                let own = fs::read_opt(&dir.join(knob))?;
                if own.is_some_and(|v| v.trim().is_empty()) {
                    copy_from_parent(dir, knob)?;
                }
            }
        }
        Ok(())
    }
}

/// Copies `knob` from `dir`'s parent cgroup into `dir`.
fn copy_from_parent(dir: &Path, knob: &str) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let value = fs::read_string(&parent.join(knob))?;
    let value = value.trim();
    if !value.is_empty() {
        write(&dir.join(knob), value)?;
    }
    Ok(())
}

/// Writes `value` to an optional knob; if the file is missing and the unit asked for a limit, says so.
fn write_knob(dir: &Path, knob: &str, value: &str, requested: bool) -> Result<()> {
    if !write_opt(&dir.join(knob), value)? {
        if requested {
            tracing::warn!(path = %dir.join(knob).display(), "limit not supported by this kernel; skipped");
        } else {
            tracing::debug!(path = %dir.join(knob).display(), "knob missing; skipped");
        }
    }
    Ok(())
}

struct V1Group {
    tracking_dir: PathBuf,
    freezer_dir: Option<PathBuf>,
}

impl Group for V1Group {
    fn pids(&self) -> Result<Vec<i32>> {
        fs::read_pids_recursive(&self.tracking_dir)
    }

    fn set_frozen(&self, frozen: bool) -> Result<bool> {
        let Some(dir) = &self.freezer_dir else {
            return Ok(false);
        };
        write(
            &dir.join("freezer.state"),
            if frozen { "FROZEN" } else { "THAWED" },
        )?;
        Ok(true)
    }

    fn is_frozen(&self) -> Result<bool> {
        match &self.freezer_dir {
            Some(dir) => Ok(fs::read_string(&dir.join("freezer.state"))?.trim() == "FROZEN"),
            None => Ok(true),
        }
    }
}

impl CgroupManager for V1 {
    fn version(&self) -> u8 {
        1
    }

    fn slice(&self) -> &str {
        &self.slice
    }

    fn create(&self, unit: &str, limits: &Limits) -> Result<()> {
        validate("unit", unit)?;
        limits.validate()?;
        for h in &self.hierarchies {
            self.ensure_dir(h, &self.slice_path(h))?;
            self.ensure_dir(h, &self.unit_dir(h, unit))?;
        }
        self.apply(unit, limits)
    }

    fn apply(&self, unit: &str, limits: &Limits) -> Result<()> {
        validate("unit", unit)?;
        limits.validate()?;
        match self.find("memory") {
            Some(h) => {
                let value = limits
                    .memory_max
                    .map_or_else(|| "-1".to_string(), |m| m.to_string());
                write(
                    &self.unit_dir(h, unit).join("memory.limit_in_bytes"),
                    &value,
                )?;
            }
            None if limits.memory_max.is_some() => {
                tracing::warn!(unit, "memory controller not mounted; MemoryMax ignored")
            }
            None => {}
        }
        match self.find("cpu") {
            Some(h) => {
                let dir = self.unit_dir(h, unit);
                let quota = limits.cfs_quota_us();
                write_knob(
                    &dir,
                    "cpu.cfs_period_us",
                    &CFS_PERIOD_US.to_string(),
                    quota.is_some(),
                )?;
                let quota = quota.map_or_else(|| "-1".to_string(), |q| q.to_string());
                write_knob(
                    &dir,
                    "cpu.cfs_quota_us",
                    &quota,
                    limits.cpu_quota_percent.is_some(),
                )?;
                let requested = limits.cpu_shares.is_some() || limits.cpu_weight.is_some();
                write_knob(
                    &dir,
                    "cpu.shares",
                    &limits.v1_cpu_shares().to_string(),
                    requested,
                )?;
            }
            None if limits.cpu_quota_percent.is_some() || limits.cpu_weight.is_some() => {
                tracing::warn!(unit, "cpu controller not mounted; CPU limits ignored")
            }
            None => {}
        }
        match self.find("pids") {
            Some(h) => {
                let value = limits
                    .tasks_max
                    .map_or_else(|| "max".to_string(), |t| t.to_string());
                write(&self.unit_dir(h, unit).join("pids.max"), &value)?;
            }
            None if limits.tasks_max.is_some() => {
                tracing::warn!(unit, "pids controller not mounted; TasksMax ignored")
            }
            None => {}
        }
        if let Some(h) = self.find("blkio") {
            let dir = self.unit_dir(h, unit);
            let weight = limits.io_weight.unwrap_or(limits::WEIGHT_DEFAULT);
            // CFQ (kernels < 5.0) has blkio.weight; BFQ has blkio.bfq.weight; neither: silently nothing.
            let cfq = limits::io_weight_to_blkio(weight).to_string();
            if !write_opt(&dir.join("blkio.weight"), &cfq)? {
                let bfq = limits::io_weight_to_bfq(weight).to_string();
                if !write_opt(&dir.join("blkio.bfq.weight"), &bfq)? {
                    tracing::debug!(unit, "no blkio weight knob; IOWeight skipped");
                }
            }
        }
        if let Some(h) = self.find("cpuset") {
            let dir = self.unit_dir(h, unit);
            match &limits.allowed_cpus {
                Some(cpus) => write(&dir.join("cpuset.cpus"), cpus.trim())?,
                None => copy_from_parent(&dir, "cpuset.cpus")?,
            }
        }
        Ok(())
    }

    fn join_paths(&self, unit: &str) -> Result<Vec<CString>> {
        validate("unit", unit)?;
        self.hierarchies
            .iter()
            .map(|h| {
                let path = self.unit_dir(h, unit).join("cgroup.procs");
                CString::new(path.as_os_str().as_bytes()).map_err(|_| CgroupError::InvalidName {
                    kind: "unit",
                    name: unit.to_string(),
                })
            })
            .collect()
    }

    fn add_pid(&self, unit: &str, pid: i32) -> Result<()> {
        validate("unit", unit)?;
        for h in &self.hierarchies {
            write(
                &self.unit_dir(h, unit).join("cgroup.procs"),
                &pid.to_string(),
            )?;
        }
        Ok(())
    }

    fn pids(&self, unit: &str) -> Result<Vec<i32>> {
        validate("unit", unit)?;
        fs::read_pids_recursive(&self.unit_dir(&self.tracking, unit))
    }

    fn kill_all(&self, unit: &str, signal: i32) -> Result<usize> {
        validate("unit", unit)?;
        let tracking_dir = self.unit_dir(&self.tracking, unit);
        if !tracking_dir.is_dir() {
            return Ok(0);
        }
        let freezer_dir = self
            .find("freezer")
            .map(|h| self.unit_dir(h, unit))
            .filter(|d| d.is_dir());
        if freezer_dir.is_none() {
            tracing::debug!(unit, "no freezer hierarchy; signalling without freezing");
        }
        kill_loop(
            &V1Group {
                tracking_dir,
                freezer_dir,
            },
            signal,
        )
    }

    fn oom_kills(&self, unit: &str) -> Result<u64> {
        validate("unit", unit)?;
        let Some(h) = self.find("memory") else {
            return Ok(0);
        };
        // `oom_kill` appeared in memory.oom_control in Linux 4.13.
        Ok(read_keyed(
            &self.unit_dir(h, unit).join("memory.oom_control"),
            "oom_kill",
        )?
        .unwrap_or(0))
    }

    fn stats(&self, unit: &str) -> Result<Stats> {
        validate("unit", unit)?;
        let file = |controller: &str, knob: &str| -> Result<Option<u64>> {
            match self.find(controller) {
                Some(h) => read_u64(&self.unit_dir(h, unit).join(knob)),
                None => Ok(None),
            }
        };
        Ok(Stats {
            memory_current: file("memory", "memory.usage_in_bytes")?,
            tasks_current: file("pids", "pids.current")?,
            cpu_usage_nsec: file("cpuacct", "cpuacct.usage")?,
        })
    }

    fn remove(&self, unit: &str) -> Result<()> {
        validate("unit", unit)?;
        let mut first_error = None;
        for h in &self.hierarchies {
            if let Err(e) = rmdir_tree(&self.unit_dir(h, unit)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn units(&self) -> Result<Vec<String>> {
        list_units(&self.slice_path(&self.tracking))
    }

    fn remove_slice(&self) -> Result<()> {
        let mut first_error = None;
        for h in &self.hierarchies {
            if let Err(e) = rmdir_tree(&self.slice_path(h)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn find_unit_of_pid(&self, pid: i32) -> Option<String> {
        unit_from_proc_cgroup(&read_proc_cgroup(pid)?, &self.slice_dir, false)
    }
}

/// The unit names of the cgroup directories in `slice_path`.
pub(crate) fn list_units(slice_path: &Path) -> Result<Vec<String>> {
    let mut units = Vec::new();
    let entries = match std::fs::read_dir(slice_path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(units),
        Err(e) => return Err(CgroupError::io("list", slice_path, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| CgroupError::io("list", slice_path, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| CgroupError::io("stat", entry.path(), e))?
            .is_dir();
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
            units.push(unescape(name).to_string());
        }
    }
    units.sort();
    Ok(units)
}

/// Reads a knob for tests and diagnostics: the trimmed content, `None` if missing.
#[cfg(test)]
pub(crate) fn read_knob(dir: &Path, knob: &str) -> Result<Option<String>> {
    Ok(fs::read_opt(&dir.join(knob))?.map(|s| s.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake v1 tree in a temp dir: enough to check the file names and values the backend writes.
    fn fake_hierarchies(root: &Path) -> Result<Vec<Hierarchy>> {
        let mut out = Vec::new();
        for c in ["memory", "cpu,cpuacct", "pids", "cpuset"] {
            let mount = root.join(c);
            std::fs::create_dir_all(&mount).map_err(|e| CgroupError::io("mkdir", &mount, e))?;
            out.push(Hierarchy {
                controllers: c.split(',').map(str::to_string).collect(),
                mount_point: mount,
            });
        }
        for (knob, value) in [("cpuset/cpuset.cpus", "0-1"), ("cpuset/cpuset.mems", "0")] {
            let p = root.join(knob);
            std::fs::write(&p, value).map_err(|e| CgroupError::io("write", &p, e))?;
        }
        Ok(out)
    }

    /// Pre-creates the knob files a real cgroupfs would show in a new directory.
    fn touch_knobs(root: &Path, slice: &str, unit: &str) -> Result<()> {
        let knobs = [
            ("memory", "memory.limit_in_bytes"),
            ("cpu,cpuacct", "cpu.cfs_period_us"),
            ("cpu,cpuacct", "cpu.cfs_quota_us"),
            ("cpu,cpuacct", "cpu.shares"),
            ("pids", "pids.max"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
        ];
        for (h, knob) in knobs {
            for dir in [
                root.join(h).join(slice),
                root.join(h).join(slice).join(unit),
            ] {
                std::fs::create_dir_all(&dir).map_err(|e| CgroupError::io("mkdir", &dir, e))?;
                let p = dir.join(knob);
                if !p.exists() {
                    std::fs::write(&p, "").map_err(|e| CgroupError::io("write", &p, e))?;
                }
            }
        }
        Ok(())
    }

    #[test]
    fn writes_v1_knobs_with_conversions() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| CgroupError::io("tempdir", "/tmp", e))?;
        let root = tmp.path();
        let hierarchies = fake_hierarchies(root)?;
        touch_knobs(root, "t.slice", "_cpu.service")?;
        let v1 = V1::new(hierarchies, "t.slice")?;
        assert_eq!(v1.unit_path("cpu.service"), "/t.slice/_cpu.service");
        let limits = Limits {
            memory_max: Some(64 << 20),
            cpu_quota_percent: Some(50),
            cpu_weight: Some(200),
            tasks_max: Some(10),
            ..Limits::default()
        };
        v1.create("cpu.service", &limits)?;
        let unit = |h: &str| root.join(h).join("t.slice").join("_cpu.service");
        let knob = |h: &str, k: &str| read_knob(&unit(h), k);
        assert_eq!(
            knob("memory", "memory.limit_in_bytes")?.as_deref(),
            Some("67108864")
        );
        assert_eq!(
            knob("cpu,cpuacct", "cpu.cfs_period_us")?.as_deref(),
            Some("100000")
        );
        assert_eq!(
            knob("cpu,cpuacct", "cpu.cfs_quota_us")?.as_deref(),
            Some("50000")
        );
        assert_eq!(knob("cpu,cpuacct", "cpu.shares")?.as_deref(), Some("2048"));
        assert_eq!(knob("pids", "pids.max")?.as_deref(), Some("10"));
        // cpuset filled in from the parent chain before anything could join.
        assert_eq!(knob("cpuset", "cpuset.cpus")?.as_deref(), Some("0-1"));
        assert_eq!(knob("cpuset", "cpuset.mems")?.as_deref(), Some("0"));
        // Re-applying without limits resets them.
        v1.apply("cpu.service", &Limits::default())?;
        assert_eq!(
            knob("memory", "memory.limit_in_bytes")?.as_deref(),
            Some("-1")
        );
        assert_eq!(
            knob("cpu,cpuacct", "cpu.cfs_quota_us")?.as_deref(),
            Some("-1")
        );
        assert_eq!(knob("pids", "pids.max")?.as_deref(), Some("max"));
        // One join path per hierarchy; tracking prefers pids.
        let paths = v1.join_paths("cpu.service")?;
        assert_eq!(paths.len(), 4);
        assert!(paths.iter().all(|p| p
            .to_bytes()
            .ends_with(b"/t.slice/_cpu.service/cgroup.procs")));
        assert_eq!(v1.units()?, ["cpu.service"]);
        Ok(())
    }

    #[test]
    fn invalid_names_and_limits_are_rejected() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| CgroupError::io("tempdir", "/tmp", e))?;
        let hierarchies = fake_hierarchies(tmp.path())?;
        assert!(matches!(
            V1::new(hierarchies.clone(), "../x"),
            Err(CgroupError::InvalidName { kind: "slice", .. })
        ));
        assert!(matches!(
            V1::new(Vec::new(), "t.slice"),
            Err(CgroupError::NoHierarchy)
        ));
        let v1 = V1::new(hierarchies, "t.slice")?;
        assert!(matches!(
            v1.create("a/b", &Limits::default()),
            Err(CgroupError::InvalidName { kind: "unit", .. })
        ));
        let bad = Limits {
            cpu_quota_percent: Some(0),
            ..Limits::default()
        };
        assert!(matches!(
            v1.create("a.service", &bad),
            Err(CgroupError::InvalidLimit(_))
        ));
        Ok(())
    }
}
