//! Reading and writing cgroupfs files.
//!
//! Owns the small file helpers both backends use. cgroupfs files are written with a single `write(2)` of the
//! whole value (the kernel parses each write on its own), read whole, and parsed leniently: flat keyed files
//! (`key value` lines) via [`read_keyed`], single numbers via [`read_u64`], pid lists via [`read_pids`].
//! Every error carries the path.

use crate::error::{CgroupError, Result};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reads a whole cgroup file.
pub(crate) fn read_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CgroupError::io("read", path, e))
}

/// Reads a whole cgroup file, `None` if it doesn't exist (controller not mounted/enabled, old kernel).
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CgroupError::io("read", path, e)),
    }
}

/// Writes `value` to a cgroup file with one `write(2)`.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    write_raw(path, value).map_err(|e| CgroupError::io(format!("write {value:?} to"), path, e))
}

/// [`write`], but a missing file is `Ok(false)` instead of an error.
pub(crate) fn write_opt(path: &Path, value: &str) -> Result<bool> {
    match write_raw(path, value) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CgroupError::io(format!("write {value:?} to"), path, e)),
    }
}

fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    // O_TRUNC is a no-op on cgroupfs and keeps plain files (unit tests' fake trees) holding one value.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    let n = file.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Parses a file holding one unsigned number.
pub(crate) fn parse_u64(path: &Path, content: &str) -> Result<u64> {
    content.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        content: content.trim().to_string(),
    })
}

/// Reads a file holding one unsigned number; `None` if the file doesn't exist.
pub(crate) fn read_u64(path: &Path) -> Result<Option<u64>> {
    match read_opt(path)? {
        Some(s) => parse_u64(path, &s).map(Some),
        None => Ok(None),
    }
}

/// The value of `key` in a flat keyed file (`key value` per line: memory.events, cpu.stat, memory.oom_control).
pub(crate) fn keyed_value(content: &str, key: &str) -> Option<u64> {
    content.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        (parts.next() == Some(key))
            .then(|| parts.next())
            .flatten()
            .and_then(|v| v.parse().ok())
    })
}

/// `key` from a flat keyed file; `None` if the file or the key is missing.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    Ok(read_opt(path)?.and_then(|s| keyed_value(&s, key)))
}

/// The pids in a `cgroup.procs` file (one per line; zombies are not listed).
pub(crate) fn parse_pids(path: &Path, content: &str) -> Result<Vec<i32>> {
    content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse().map_err(|_| CgroupError::Parse {
                path: path.to_path_buf(),
                content: l.to_string(),
            })
        })
        .collect()
}

/// The pids in `dir/cgroup.procs` and in every cgroup below `dir`; empty if `dir` doesn't exist.
pub(crate) fn read_pids_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    for cgroup in subtree(dir)? {
        let procs = cgroup.join("cgroup.procs");
        if let Some(content) = read_opt(&procs)? {
            pids.extend(parse_pids(&procs, &content)?);
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// `dir` and every cgroup directory below it, parents before children; empty if `dir` doesn't exist.
pub(crate) fn subtree(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // removed meanwhile
            Err(e) => return Err(CgroupError::io("list", &d, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| CgroupError::io("list", &d, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| CgroupError::io("stat", entry.path(), e))?
                .is_dir();
            if is_dir {
                stack.push(entry.path());
            }
        }
        out.push(d);
    }
    // A parent is pushed to `out` before its children are popped, so `out` is in pre-order.
    Ok(out)
}

/// Creates a cgroup directory; one that already exists is fine.
pub(crate) fn mkdir(path: &Path) -> Result<bool> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CgroupError::io("mkdir", path, e)),
    }
}

/// How long [`rmdir_tree`] keeps retrying `EBUSY` while the last processes exit.
pub(crate) const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

/// Removes `dir` and the cgroups below it (children first). A cgroup still holding (exiting) processes gives
/// `EBUSY`; that is retried for [`RMDIR_PATIENCE`]. A missing directory is success.
pub(crate) fn rmdir_tree(dir: &Path) -> Result<()> {
    let mut dirs = subtree(dir)?;
    dirs.reverse();
    for d in dirs {
        rmdir_retry(&d)?;
    }
    Ok(())
}

fn rmdir_retry(dir: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + RMDIR_PATIENCE;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(CgroupError::io("rmdir", dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(2));
        assert_eq!(keyed_value(events, "oom"), Some(3));
        assert_eq!(keyed_value(events, "missing"), None);
        assert_eq!(keyed_value("usage_usec x\n", "usage_usec"), None);
    }

    #[test]
    fn pids_parse() {
        let p = Path::new("cgroup.procs");
        assert_eq!(parse_pids(p, "12\n7\n\n").ok(), Some(vec![12, 7]));
        assert!(parse_pids(p, "12\nx\n").is_err());
    }

    #[test]
    fn subtree_is_parents_first_and_rmdir_tree_removes_all() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| CgroupError::io("tempdir", "/tmp", e))?;
        let root = tmp.path().join("u");
        for d in ["u/a/x", "u/b"] {
            std::fs::create_dir_all(tmp.path().join(d))
                .map_err(|e| CgroupError::io("mkdir", d, e))?;
        }
        let dirs = subtree(&root)?;
        assert_eq!(dirs.len(), 4);
        assert_eq!(dirs[0], root);
        let pos = |p: &str| dirs.iter().position(|d| d.ends_with(p));
        assert!(pos("a") < pos("a/x"));
        rmdir_tree(&root)?;
        assert!(!root.exists());
        rmdir_tree(&root)?; // already gone: fine
        assert_eq!(read_pids_recursive(&root)?, Vec::<i32>::new());
        Ok(())
    }

    #[test]
    fn optional_files() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| CgroupError::io("tempdir", "/tmp", e))?;
        let f = tmp.path().join("pids.max");
        assert_eq!(read_u64(&f)?, None);
        assert!(!write_opt(&f, "5")?);
        std::fs::write(&f, "").map_err(|e| CgroupError::io("create", &f, e))?;
        assert!(write_opt(&f, "5")?);
        assert_eq!(read_u64(&f)?, Some(5));
        assert!(matches!(
            parse_u64(&f, "max"),
            Err(CgroupError::Parse { .. })
        ));
        Ok(())
    }
}
