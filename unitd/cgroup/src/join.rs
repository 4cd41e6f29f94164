//! Putting a freshly forked child into its unit's cgroups.
//!
//! Owns [`join_in_child`]: between fork and exec only async-signal-safe calls are allowed, so the paths are
//! computed beforehand ([`crate::CgroupManager::join_paths`]) and the child only does `open`/`write("0")`/
//! `close` on each — writing 0 to `cgroup.procs` moves the writing process. Joining before exec means the
//! service's first instruction already runs inside its limits and its first fork is already tracked.

use std::ffi::CString;
use std::io;

/// Writes `"0"` to each `cgroup.procs` path, moving the calling process into those cgroups.
///
/// Async-signal-safe: no allocation, no locks, only `open(2)`, `write(2)` and `close(2)` — meant for
/// `std::os::unix::process::CommandExt::pre_exec`. Stops at the first failure and returns it.
pub fn join_in_child(procs_paths: &[CString]) -> io::Result<()> {
    for path in procs_paths {
        // SAFETY: `path` is a valid NUL-terminated C string that outlives the call.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the buffer is a 1-byte static; fd was just opened for writing.
        let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        let result = if written == 1 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        };
        // SAFETY: fd is ours and closed exactly once.
        unsafe { libc::close(fd) };
        result?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_zero_to_each_file() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::write(&a, "")?;
        std::fs::write(&b, "")?;
        let paths: Vec<CString> = [&a, &b]
            .iter()
            .map(|p| CString::new(p.to_string_lossy().as_bytes()).map_err(io::Error::other))
            .collect::<io::Result<_>>()?;
        join_in_child(&paths)?;
        assert_eq!(std::fs::read_to_string(&a)?, "0");
        assert_eq!(std::fs::read_to_string(&b)?, "0");
        let missing = CString::new(tmp.path().join("nope").to_string_lossy().as_bytes())
            .map_err(io::Error::other)?;
        let err = join_in_child(&[missing]).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::NotFound));
        Ok(())
    }
}
