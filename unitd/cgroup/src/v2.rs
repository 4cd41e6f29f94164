//! The cgroup v2 backend: one directory per unit in the unified hierarchy.
//!
//! Owns the v2 file layout `<root>/<slice>/<unit>/`, turning on the controllers unitd needs (memory, cpu,
//! pids, io, cpuset — whichever the kernel offers) in `cgroup.subtree_control` of the root and the slice, the
//! v2 knob names (`memory.max`, `cpu.max`, `cpu.weight`, `pids.max`, `io.weight`, `cpuset.cpus`), freezing
//! through `cgroup.freeze`/`cgroup.events`, and `cgroup.kill` (Linux 5.14) for SIGKILL.
//!
//! The root can be any cgroup2 mount: `/sys/fs/cgroup` on a unified host, or the (controller-less)
//! `/sys/fs/cgroup/unified` of a hybrid host, where process tracking, freezing and killing still work but
//! limits have no files to go to and are skipped with a warning.

use crate::error::{CgroupError, Result};
use crate::fs::{self, mkdir, read_keyed, read_opt, read_u64, rmdir_tree, write, write_opt};
use crate::kill::{kill_loop, Group};
use crate::limits::{self, Limits, CFS_PERIOD_US};
use crate::name::{escape, validate};
use crate::procfs::{read_proc_cgroup, unit_from_proc_cgroup};
use crate::v1::list_units;
use crate::{CgroupManager, Stats};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Controllers enabled for the slice and its units when the kernel offers them.
pub const V2_CONTROLLERS: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

/// Unit cgroups on a cgroup2 hierarchy.
#[derive(Debug, Clone)]
pub struct V2 {
    /// The cgroup2 mount point.
    root: PathBuf,
    /// The slice name as given.
    slice: String,
    /// Its directory name (escaped).
    slice_dir: String,
}

impl V2 {
    /// Uses the cgroup2 hierarchy mounted at `root`: enables controllers in the root, creates the slice and
    /// enables them there too.
    pub fn new(root: impl Into<PathBuf>, slice: &str) -> Result<V2> {
        validate("slice", slice)?;
        let v2 = V2 {
            root: root.into(),
            slice: slice.to_string(),
            slice_dir: escape(slice),
        };
        enable_controllers(&v2.root)?;
        mkdir(&v2.slice_path())?;
        enable_controllers(&v2.slice_path())?;
        Ok(v2)
    }

    /// The cgroup2 mount point in use.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn slice_path(&self) -> PathBuf {
        self.root.join(&self.slice_dir)
    }

    fn unit_dir(&self, unit: &str) -> PathBuf {
        self.slice_path().join(escape(unit))
    }
}

/// Turns on each of [`V2_CONTROLLERS`] that `dir`'s `cgroup.controllers` offers and isn't on yet. One write
/// per controller, so one refusal (e.g. cpu with realtime tasks around) doesn't cost the others.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = read_opt(&dir.join("cgroup.controllers"))?.unwrap_or_default();
    let enabled = read_opt(&dir.join("cgroup.subtree_control"))?.unwrap_or_default();
    let available: Vec<&str> = available.split_whitespace().collect();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    for controller in V2_CONTROLLERS {
        if !available.contains(controller) {
            tracing::debug!(controller, dir = %dir.display(), "cgroup v2 controller not available; skipped");
            continue;
        }
        if enabled.contains(controller) {
            continue;
        }
        if let Err(e) = write(
            &dir.join("cgroup.subtree_control"),
            &format!("+{controller}"),
        ) {
            tracing::warn!(controller, %e, "could not enable cgroup v2 controller");
        }
    }
    Ok(())
}

/// Writes `value` to an optional knob; if the file is missing and the unit asked for a limit, says so.
fn write_knob(dir: &Path, knob: &str, value: &str, requested: bool) -> Result<bool> {
    let written = write_opt(&dir.join(knob), value)?;
    if !written {
        if requested {
            tracing::warn!(path = %dir.join(knob).display(), "controller not enabled; limit skipped");
        } else {
            tracing::debug!(path = %dir.join(knob).display(), "knob missing; skipped");
        }
    }
    Ok(written)
}

struct V2Group {
    dir: PathBuf,
}

impl Group for V2Group {
    fn pids(&self) -> Result<Vec<i32>> {
        fs::read_pids_recursive(&self.dir)
    }

    fn set_frozen(&self, frozen: bool) -> Result<bool> {
        // cgroup.freeze appeared in Linux 5.2.
        write_opt(
            &self.dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
        )
    }

    fn is_frozen(&self) -> Result<bool> {
        Ok(read_keyed(&self.dir.join("cgroup.events"), "frozen")? == Some(1))
    }
}

impl CgroupManager for V2 {
    fn version(&self) -> u8 {
        2
    }

    fn slice(&self) -> &str {
        &self.slice
    }

    fn create(&self, unit: &str, limits: &Limits) -> Result<()> {
        validate("unit", unit)?;
        limits.validate()?;
        if mkdir(&self.slice_path())? {
            enable_controllers(&self.slice_path())?; // someone removed the slice meanwhile
        }
        mkdir(&self.unit_dir(unit))?;
        self.apply(unit, limits)
    }

    fn apply(&self, unit: &str, limits: &Limits) -> Result<()> {
        validate("unit", unit)?;
        limits.validate()?;
        let dir = self.unit_dir(unit);
        let memory = limits
            .memory_max
            .map_or_else(|| "max".to_string(), |m| m.to_string());
        write_knob(&dir, "memory.max", &memory, limits.memory_max.is_some())?;
        let quota = limits
            .cfs_quota_us()
            .map_or_else(|| "max".to_string(), |q| q.to_string());
        write_knob(
            &dir,
            "cpu.max",
            &format!("{quota} {CFS_PERIOD_US}"),
            limits.cpu_quota_percent.is_some(),
        )?;
        let weight_requested = limits.cpu_weight.is_some() || limits.cpu_shares.is_some();
        write_knob(
            &dir,
            "cpu.weight",
            &limits.v2_cpu_weight().to_string(),
            weight_requested,
        )?;
        let tasks = limits
            .tasks_max
            .map_or_else(|| "max".to_string(), |t| t.to_string());
        write_knob(&dir, "pids.max", &tasks, limits.tasks_max.is_some())?;
        // io.weight (iocost) or io.bfq.weight (BFQ); neither: silently nothing.
        let io = limits.io_weight.unwrap_or(limits::WEIGHT_DEFAULT);
        if !write_opt(&dir.join("io.weight"), &format!("default {io}"))? {
            let bfq = limits::io_weight_to_bfq(io);
            if !write_opt(&dir.join("io.bfq.weight"), &format!("default {bfq}"))? {
                tracing::debug!(unit, "no io weight knob; IOWeight skipped");
            }
        }
        match &limits.allowed_cpus {
            Some(cpus) => {
                write_knob(&dir, "cpuset.cpus", cpus.trim(), true)?;
            }
            None => {
                // Empty means "inherit the parent's"; only write when something narrower was set before.
                let current = read_opt(&dir.join("cpuset.cpus"))?.unwrap_or_default();
                if !current.trim().is_empty() {
                    write(&dir.join("cpuset.cpus"), "\n")?;
                }
            }
        }
        Ok(())
    }

    fn join_paths(&self, unit: &str) -> Result<Vec<CString>> {
        validate("unit", unit)?;
        let path = self.unit_dir(unit).join("cgroup.procs");
        let path =
            CString::new(path.as_os_str().as_bytes()).map_err(|_| CgroupError::InvalidName {
                kind: "unit",
                name: unit.to_string(),
            })?;
        Ok(vec![path])
    }

    fn add_pid(&self, unit: &str, pid: i32) -> Result<()> {
        validate("unit", unit)?;
        write(&self.unit_dir(unit).join("cgroup.procs"), &pid.to_string())
    }

    fn pids(&self, unit: &str) -> Result<Vec<i32>> {
        validate("unit", unit)?;
        fs::read_pids_recursive(&self.unit_dir(unit))
    }

    fn kill_all(&self, unit: &str, signal: i32) -> Result<usize> {
        validate("unit", unit)?;
        let dir = self.unit_dir(unit);
        if !dir.is_dir() {
            return Ok(0);
        }
        if signal == libc::SIGKILL {
            // cgroup.kill (Linux 5.14) kills the whole subtree atomically: no fork can escape it.
            let count = fs::read_pids_recursive(&dir)?.len();
            if write_opt(&dir.join("cgroup.kill"), "1")? {
                return Ok(count);
            }
        }
        kill_loop(&V2Group { dir }, signal)
    }

    fn oom_kills(&self, unit: &str) -> Result<u64> {
        validate("unit", unit)?;
        Ok(read_keyed(&self.unit_dir(unit).join("memory.events"), "oom_kill")?.unwrap_or(0))
    }

    fn stats(&self, unit: &str) -> Result<Stats> {
        validate("unit", unit)?;
        let dir = self.unit_dir(unit);
        Ok(Stats {
            memory_current: read_u64(&dir.join("memory.current"))?,
            tasks_current: read_u64(&dir.join("pids.current"))?,
            cpu_usage_nsec: read_keyed(&dir.join("cpu.stat"), "usage_usec")?
                .map(|usec| usec.saturating_mul(1000)),
        })
    }

    fn remove(&self, unit: &str) -> Result<()> {
        validate("unit", unit)?;
        rmdir_tree(&self.unit_dir(unit))
    }

    fn units(&self) -> Result<Vec<String>> {
        list_units(&self.slice_path())
    }

    fn remove_slice(&self) -> Result<()> {
        rmdir_tree(&self.slice_path())
    }

    fn find_unit_of_pid(&self, pid: i32) -> Option<String> {
        unit_from_proc_cgroup(&read_proc_cgroup(pid)?, &self.slice_dir, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, content: &str) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CgroupError::io("mkdir", parent, e))?;
        }
        std::fs::write(path, content).map_err(|e| CgroupError::io("write", path, e))
    }

    fn knob(dir: &Path, name: &str) -> Result<String> {
        Ok(fs::read_string(&dir.join(name))?.trim().to_string())
    }

    #[test]
    fn writes_v2_knobs_with_conversions() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| CgroupError::io("tempdir", "/tmp", e))?;
        let root = tmp.path();
        touch(
            &root.join("cgroup.controllers"),
            "cpuset cpu io memory pids hugetlb\n",
        )?;
        touch(&root.join("cgroup.subtree_control"), "")?;
        let unit = root.join("t.slice/a.service");
        for k in [
            "memory.max",
            "cpu.max",
            "cpu.weight",
            "pids.max",
            "io.weight",
            "cpuset.cpus",
        ] {
            touch(&unit.join(k), "")?;
        }
        let v2 = V2::new(root, "t.slice")?;
        // A regular file keeps only the last write: the controllers were enabled one at a time.
        assert_eq!(knob(root, "cgroup.subtree_control")?, "+pids");
        v2.create(
            "a.service",
            &Limits {
                memory_max: Some(1 << 30),
                cpu_quota_percent: Some(250),
                cpu_shares: Some(512),
                tasks_max: Some(7),
                io_weight: Some(300),
                allowed_cpus: Some("0".into()),
                ..Limits::default()
            },
        )?;
        assert_eq!(knob(&unit, "memory.max")?, "1073741824");
        assert_eq!(knob(&unit, "cpu.max")?, "250000 100000");
        assert_eq!(knob(&unit, "cpu.weight")?, "50");
        assert_eq!(knob(&unit, "pids.max")?, "7");
        assert_eq!(knob(&unit, "io.weight")?, "default 300");
        assert_eq!(knob(&unit, "cpuset.cpus")?, "0");
        v2.apply("a.service", &Limits::default())?;
        assert_eq!(knob(&unit, "memory.max")?, "max");
        assert_eq!(knob(&unit, "cpu.max")?, "max 100000");
        assert_eq!(knob(&unit, "cpu.weight")?, "100");
        assert_eq!(knob(&unit, "cpuset.cpus")?, "");
        assert_eq!(v2.join_paths("a.service")?.len(), 1);
        assert_eq!(v2.unit_path("a.service"), "/t.slice/a.service");
        Ok(())
    }
}
