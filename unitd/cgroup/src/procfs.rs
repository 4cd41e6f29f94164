//! Which unit a process belongs to, from `/proc/PID/cgroup`.
//!
//! Owns the parsing of `hierarchy-id:controllers:path` lines. A v2 backend looks at the `0::` line, a v1
//! backend at the others (a hybrid host has both). The unit is the path component right after the slice's,
//! so a process in a sub-cgroup of a unit (`/flotilla.slice/db.service/worker`) still maps to `db.service`,
//! and a cgroup-namespace or container prefix before the slice doesn't matter.

use crate::name::unescape;

/// The unit name in `content` (a `/proc/PID/cgroup` file) below the slice directory `slice_dir`.
pub(crate) fn unit_from_proc_cgroup(content: &str, slice_dir: &str, v2: bool) -> Option<String> {
    content.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let is_v2_line = id == "0" && controllers.is_empty();
        if is_v2_line != v2 {
            return None;
        }
        let mut components = path.split('/').filter(|c| !c.is_empty());
        components.find(|c| *c == slice_dir)?;
        components.next().map(|unit| unescape(unit).to_string())
    })
}

/// Reads `/proc/PID/cgroup`; `None` if the process is gone.
pub(crate) fn read_proc_cgroup(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
9:name=systemd:/
8:pids:/flotilla.slice/db.service
4:memory:/process_api/abc
0::/other.slice/x.service
";

    #[test]
    fn v1_lines() {
        assert_eq!(
            unit_from_proc_cgroup(HYBRID, "flotilla.slice", false).as_deref(),
            Some("db.service")
        );
        assert_eq!(unit_from_proc_cgroup(HYBRID, "other.slice", false), None);
    }

    #[test]
    fn v2_line_sub_cgroup_and_escape() {
        let v2 = "0::/container/flotilla.slice/_cpu.service/worker\n";
        assert_eq!(
            unit_from_proc_cgroup(v2, "flotilla.slice", true).as_deref(),
            Some("cpu.service")
        );
        assert_eq!(unit_from_proc_cgroup(HYBRID, "flotilla.slice", true), None);
        assert_eq!(
            unit_from_proc_cgroup("0::/flotilla.slice\n", "flotilla.slice", true),
            None
        );
    }
}
