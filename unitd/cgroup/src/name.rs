//! Unit and slice names as cgroup directory names.
//!
//! Owns validation and systemd's escaping (`cg_escape()`): a unit whose name could be mistaken for a cgroupfs
//! control file — `cgroup.*`, `tasks`, or `<controller>.<anything>` such as `cpu.service` or `memory.timer` —
//! gets a leading `_`, as does any name already starting with `_`. [`unescape`] undoes it when a directory
//! name is read back (`/proc/PID/cgroup`, listing a slice).

use crate::error::{CgroupError, Result};

/// Controller names that prefix control files (`<controller>.<knob>`), v1 and v2.
const CONTROLLERS: &[&str] = &[
    "cgroup",
    "cpu",
    "cpuacct",
    "cpuset",
    "io",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// Checks that `name` can be one path component: non-empty, ≤ 255 bytes, no `/`, no NUL or other control
/// characters, not `.`/`..`. `kind` ("unit"/"slice") goes into the error.
pub(crate) fn validate(kind: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < 255 // room for the `_` escape
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(CgroupError::InvalidName {
            kind,
            name: name.to_string(),
        })
    }
}

/// The directory name for `name` (systemd's `cg_escape`).
pub fn escape(name: &str) -> String {
    let needs_prefix = name.starts_with('_')
        || name.starts_with('.')
        || matches!(name, "notify_on_release" | "release_agent" | "tasks")
        || name
            .rsplit_once('.')
            .is_some_and(|(before, _)| CONTROLLERS.contains(&before));
    if needs_prefix {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// The unit or slice name a directory stands for (systemd's `cg_unescape`).
pub fn unescape(dir_name: &str) -> &str {
    dir_name.strip_prefix('_').unwrap_or(dir_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_table() {
        let cases = [
            ("hello.service", "hello.service"),
            ("getty@tty1.service", "getty@tty1.service"),
            ("cpu.service", "_cpu.service"),
            ("memory.timer", "_memory.timer"),
            ("cgroup.procs", "_cgroup.procs"),
            ("tasks", "_tasks"),
            ("_private.service", "__private.service"),
            (".hidden.service", "_.hidden.service"),
            ("cpuish.service", "cpuish.service"),
        ];
        for (name, dir) in cases {
            assert_eq!(escape(name), dir, "{name}");
            assert_eq!(unescape(dir), name, "{dir}");
        }
    }

    #[test]
    fn validation() {
        for ok in ["hello.service", "flotilla.slice", "a b"] {
            assert!(validate("unit", ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(255);
        for bad in ["", ".", "..", "a/b", "a\nb", "a\0b", long.as_str()] {
            assert!(validate("unit", bad).is_err(), "{bad:?}");
        }
    }
}
