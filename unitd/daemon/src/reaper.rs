//! Reaping: unitd is a child subreaper, so every process of every service — the main process, control processes
//! and the daemons they fork and abandon — ends up its child. On each SIGCHLD all exited children are collected
//! with `waitid(P_ALL, WEXITED|WNOHANG)` and handed to the manager as [`Event::ChildExit`].

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::UnboundedSender;

use crate::manager::{state::Exit, Event};

/// Makes this process the subreaper of everything it starts (prctl PR_SET_CHILD_SUBREAPER).
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Collects every exited child now, without blocking.
pub fn reap_all() -> Vec<(i32, Exit)> {
    let mut exits = Vec::new();
    loop {
        // SAFETY: siginfo_t is plain data; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a siginfo_t.
        let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG) };
        if rc != 0 {
            break; // ECHILD: no children at all
        }
        // SAFETY: waitid filled si_pid/si_status for a child event.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            break; // children exist, none has exited
        }
        let exit = match info.si_code {
            libc::CLD_EXITED => Exit::Code(status),
            libc::CLD_DUMPED => Exit::Dumped(status),
            _ => Exit::Killed(status),
        };
        exits.push((pid, exit));
    }
    exits
}

/// Runs until the manager goes away: every SIGCHLD becomes zero or more `ChildExit` events.
pub async fn run(events: UnboundedSender<Event>) -> std::io::Result<()> {
    let mut sigchld = signal(SignalKind::child())?;
    loop {
        for (pid, exit) in reap_all() {
            if events.send(Event::ChildExit { pid, exit }).is_err() {
                return Ok(());
            }
        }
        if sigchld.recv().await.is_none() {
            return Ok(());
        }
    }
}
