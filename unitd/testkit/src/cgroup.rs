//! A test's cgroup slice: the processes of a unit in it, and its removal.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Processes in `unit`'s cgroup below `slice` (v1: the pids hierarchy, v2: the unified one); empty if there is
/// no such cgroup.
pub fn cgroup_pids(slice: &str, unit: &str) -> Vec<i32> {
    let dirs = [
        Path::new("/sys/fs/cgroup/pids").join(slice).join(unit),
        Path::new("/sys/fs/cgroup").join(slice).join(unit),
    ];
    for dir in dirs {
        if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            return text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        }
    }
    Vec::new()
}

/// Kills what a failed test left in `slice` and removes it, in every hierarchy.
pub(crate) fn remove_slice(slice: &str) {
    let bases = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(PathBuf::from)
        .chain(
            std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path()),
        );
    for base in bases {
        let slice = base.join(slice);
        if !slice.is_dir() {
            continue;
        }
        let children = || {
            std::fs::read_dir(&slice)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
        };
        for dir in children() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: killing leftovers of this test's own slice.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        // Killed processes leave their cgroups a moment later.
        std::thread::sleep(Duration::from_millis(20));
        for dir in children() {
            let _ = std::fs::remove_dir(&dir);
        }
        let _ = std::fs::remove_dir(&slice);
    }
}
