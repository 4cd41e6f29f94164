//! # unitd — the per-host unit daemon
//!
//! unitd runs the processes of a Flotilla host the way systemd does: it reads systemd unit files (through the
//! `unitfile` crate), runs each service in its own cgroup (through `unitd-cgroup`), captures its output into the
//! journal (`unitd-journal`), restarts it by its Restart= policy, orders start and stop jobs by the units'
//! dependencies, and serves systemd's D-Bus API so that busctl, `unitctl` and the fleet agent drive it the way
//! they would drive systemd.
//!
//! ## Layout
//! - [`manager`]: the single task that owns all units and jobs: the service state machine, transactions,
//!   enable/disable, the state file for re-attaching after a restart.
//! - [`exec`]: building a service process (environment, user, output) and the fork/exec itself.
//! - [`reaper`]: unitd is a child subreaper; SIGCHLD → exits of every process of every unit.
//! - [`notify`]: the sd_notify socket.
//! - [`logs`]: per-unit FIFOs from service output to the journal writer.
//! - [`dbus`]: the org.freedesktop.systemd1 objects on the private socket and the system bus.
//! - [`daemon`]: wiring it all up ([`daemon::run`]); `main.rs` only parses flags.
//!
//! ## Why these crates
//! zbus (pure Rust D-Bus, tokio-native, both peer-to-peer and bus connections, with the `#[interface]` macro
//! generating introspection data busctl reads), nix/libc (the fork/exec path and waitid need raw calls; nix for
//! user/group lookup and SCM_CREDENTIALS), tokio (timers, signals, sockets), tracing.

pub mod daemon;
pub mod dbus;
pub mod exec;
pub mod logs;
pub mod manager;
pub mod notify;
pub mod reaper;

/// Wall-clock microseconds since the epoch, the unit of systemd's timestamps.
pub fn now_usec() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The private socket's listening descriptor, handed to the next unitd across a re-exec so that clients are
/// never refused while it starts (`-1`: none).
pub static PRIVATE_LISTENER_FD: std::sync::atomic::AtomicI32 =
    std::sync::atomic::AtomicI32::new(-1);

/// The environment variable that carries [`PRIVATE_LISTENER_FD`] across the exec.
pub const PRIVATE_FD_ENV: &str = "UNITD_PRIVATE_FD";

/// Replaces this process with a fresh unitd with the same arguments (Manager.Reexecute), keeping the private
/// socket's listener open for it. Only returns on error.
pub fn reexec_self() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new("/proc/self/exe");
    command.args(std::env::args_os().skip(1));
    let fd = PRIVATE_LISTENER_FD.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: clearing FD_CLOEXEC on our own listening socket so that it survives the exec.
    if fd >= 0 && unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == 0 {
        command.env(PRIVATE_FD_ENV, fd.to_string());
    }
    command.exec()
}
