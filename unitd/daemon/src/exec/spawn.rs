//! fork + exec of one service process, systemd style.
//!
//! unitd forks by hand instead of using `std::process::Command` for two reasons: the child must join the unit's
//! cgroups *before* it can fork (a write of `0` to each `cgroup.procs`, so no grandchild ever escapes), and unitd
//! reaps every child itself with `waitid(P_ALL)` (it is a child subreaper), which would race std's own `waitpid`.
//!
//! Everything the child needs is prepared in the parent ([`SpawnPlan`]); between `fork` and `execve` the child
//! calls only async-signal-safe functions and allocates nothing. If a step fails, the child writes the step and
//! errno to a close-on-exec pipe and exits with systemd's exit status for that step (203/EXEC, 200/CHDIR, …); the
//! parent reads the pipe, so it learns of a failed exec before it reports the start.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The steps of child setup; the discriminant is systemd's exit status for a failure at that step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Step {
    Chdir = 200,
    Stdio = 208,
    Signals = 211,
    Group = 216,
    User = 217,
    Cgroup = 219,
    Setsid = 220,
    Exec = 203,
}

impl Step {
    fn from_code(code: i32) -> Step {
        match code {
            200 => Step::Chdir,
            208 => Step::Stdio,
            211 => Step::Signals,
            216 => Step::Group,
            217 => Step::User,
            219 => Step::Cgroup,
            220 => Step::Setsid,
            _ => Step::Exec,
        }
    }

    /// systemd's name for the exit status (`203/EXEC`).
    pub fn name(self) -> &'static str {
        match self {
            Step::Chdir => "CHDIR",
            Step::Stdio => "STDOUT",
            Step::Signals => "SIGNAL_MASK",
            Step::Group => "GROUP",
            Step::User => "USER",
            Step::Cgroup => "CGROUP",
            Step::Setsid => "SETSID",
            Step::Exec => "EXEC",
        }
    }
}

/// systemd's symbolic name of a special exit status, if it is one (`203` → `EXEC`).
pub fn exit_status_name(status: i32) -> Option<&'static str> {
    match status {
        200 | 203 | 208 | 211 | 216 | 217 | 219 | 220 => Some(Step::from_code(status).name()),
        _ => None,
    }
}

/// Everything the child needs, prepared before the fork.
pub struct SpawnPlan {
    /// Absolute path handed to `execve`.
    pub path: CString,
    pub argv: Vec<CString>,
    /// `KEY=value` strings: the complete environment of the process.
    pub env: Vec<CString>,
    pub cwd: Option<CString>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: Vec<u32>,
    pub umask: u32,
    /// `cgroup.procs` files the child writes `0` into, joining the unit's cgroup in every hierarchy.
    pub cgroup_procs: Vec<CString>,
    /// Standard output and error of the child (None: /dev/null).
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A forked child; `failure` is set when a setup step or the exec failed (the child has exited then).
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    pub failure: Option<(Step, i32)>,
}

/// Why a spawn could not even fork.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot create the exec status pipe: {0}")]
    Pipe(std::io::Error),
    #[error("fork failed: {0}")]
    Fork(std::io::Error),
    #[error("cannot open /dev/null: {0}")]
    DevNull(std::io::Error),
}

/// Forks and execs `plan`. Returns once the child has exec'd or failed; `on_fork` runs in the parent with the
/// child's pid before that, while the child is still setting up (so its first output can be attributed).
pub fn spawn(plan: &SpawnPlan, on_fork: impl FnOnce(i32)) -> Result<Spawned, SpawnError> {
    let argv: Vec<*const libc::c_char> = plan
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = plan
        .env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let dev_null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(SpawnError::DevNull)?;
    let null_fd = dev_null.as_raw_fd();
    let out_fd = plan.stdout.as_ref().map_or(null_fd, |f| f.as_raw_fd());
    let err_fd = plan.stderr.as_ref().map_or(null_fd, |f| f.as_raw_fd());

    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SpawnError::Pipe(std::io::Error::last_os_error()));
    }
    let (read_end, write_end) = (fds[0], fds[1]);

    // SAFETY: the child branch below only calls async-signal-safe functions on memory prepared before the fork,
    // and always ends in execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let err = std::io::Error::last_os_error();
        // SAFETY: both ends were just created by pipe2 and are owned here.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return Err(SpawnError::Fork(err));
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child; see child_setup_and_exec.
        unsafe { child_setup_and_exec(plan, &argv, &envp, null_fd, out_fd, err_fd, write_end) }
    }
    // SAFETY: the parent no longer needs the write end.
    unsafe { libc::close(write_end) };
    on_fork(pid);
    let mut buf = [0u8; 8];
    let mut got = 0usize;
    while got < buf.len() {
        // SAFETY: reading into the unread tail of a local buffer.
        let n = unsafe { libc::read(read_end, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    // SAFETY: the read end is owned here and no longer used.
    unsafe { libc::close(read_end) };
    let failure = (got == 8).then(|| {
        let step = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
        (Step::from_code(step), errno)
    });
    Ok(Spawned { pid, failure })
}

/// The child side. Never returns.
///
/// # Safety
/// Must be called only in the child right after `fork`; it touches no allocator and no locks.
#[allow(clippy::too_many_arguments)]
unsafe fn child_setup_and_exec(
    plan: &SpawnPlan,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    null_fd: RawFd,
    out_fd: RawFd,
    err_fd: RawFd,
    status_fd: RawFd,
) -> ! {
    unsafe fn fail(status_fd: RawFd, step: Step) -> ! {
        let errno = unsafe { *libc::__errno_location() };
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&(step as i32).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        unsafe {
            libc::write(status_fd, msg.as_ptr().cast(), msg.len());
            libc::_exit(step as i32)
        }
    }
    unsafe {
        // Signals: unblock everything and restore default dispositions (the runtime may have changed them).
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
            fail(status_fd, Step::Signals);
        }
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        // Join the unit's cgroups first, so that nothing the service forks can escape them.
        for procs in &plan.cgroup_procs {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(status_fd, Step::Cgroup);
            }
            libc::close(fd);
        }
        if libc::setsid() < 0 {
            fail(status_fd, Step::Setsid);
        }
        if libc::dup2(null_fd, 0) < 0 || libc::dup2(out_fd, 1) < 0 || libc::dup2(err_fd, 2) < 0 {
            fail(status_fd, Step::Stdio);
        }
        // Nothing unitd holds open leaks into the service; the status pipe closes at exec.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        libc::umask(plan.umask as libc::mode_t);
        if let Some(gid) = plan.gid {
            if libc::setgroups(plan.groups.len(), plan.groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
            {
                fail(status_fd, Step::Group);
            }
        }
        if let Some(uid) = plan.uid {
            if libc::setuid(uid) != 0 {
                fail(status_fd, Step::User);
            }
        }
        if let Some(cwd) = &plan.cwd {
            if libc::chdir(cwd.as_ptr()) != 0 {
                fail(status_fd, Step::Chdir);
            }
        }
        libc::execve(plan.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        fail(status_fd, Step::Exec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(path: &str, args: &[&str]) -> SpawnPlan {
        SpawnPlan {
            path: CString::new(path).unwrap(),
            argv: args.iter().map(|a| CString::new(*a).unwrap()).collect(),
            env: vec![CString::new("FOO=bar").unwrap()],
            cwd: Some(CString::new("/").unwrap()),
            uid: None,
            gid: None,
            groups: vec![],
            umask: 0o022,
            cgroup_procs: vec![],
            stdout: None,
            stderr: None,
        }
    }

    fn wait(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn exec_runs_with_the_given_environment() {
        let spawned = spawn(
            &plan("/bin/sh", &["sh", "-c", "test \"$FOO\" = bar"]),
            |_| {},
        )
        .unwrap();
        assert!(spawned.failure.is_none());
        assert_eq!(wait(spawned.pid), 0);
    }

    #[test]
    fn missing_binary_is_reported_as_203_exec() {
        let spawned = spawn(&plan("/nonexistent/binary", &["x"]), |_| {}).unwrap();
        assert_eq!(spawned.failure.map(|f| f.0), Some(Step::Exec));
        assert_eq!(spawned.failure.map(|f| f.1), Some(libc::ENOENT));
        assert_eq!(wait(spawned.pid), 203);
    }

    #[test]
    fn bad_working_directory_is_reported_as_200_chdir() {
        let mut p = plan("/bin/true", &["true"]);
        p.cwd = Some(CString::new("/nonexistent-dir").unwrap());
        let spawned = spawn(&p, |_| {}).unwrap();
        assert_eq!(spawned.failure.map(|f| f.0), Some(Step::Chdir));
        assert_eq!(wait(spawned.pid), 200);
    }
}
