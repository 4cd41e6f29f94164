//! systemd.kill(5): how a unit's processes are stopped — `KillMode=`, `KillSignal=`, `FinalKillSignal=`,
//! `RestartKillSignal=`, `WatchdogSignal=`, `SendSIGKILL=`, `SendSIGHUP=`. Every bad value is a warning.

use super::ctx::Ctx;
use crate::raw::RawEntry;
use crate::signal::{signal_from_string, SIGABRT, SIGKILL, SIGTERM};

/// `KillMode=`: which processes get the stop signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KillMode {
    /// `control-group` (default): every process in the unit's cgroup.
    #[default]
    ControlGroup,
    /// `mixed`: SIGTERM to the main process, SIGKILL to the whole cgroup.
    Mixed,
    /// `process`: only the main process.
    Process,
    /// `none`: no process is killed (only `ExecStop=` runs).
    None,
}

impl KillMode {
    /// Parses systemd's spelling.
    pub fn from_name(s: &str) -> Option<KillMode> {
        Some(match s {
            "control-group" => KillMode::ControlGroup,
            "mixed" => KillMode::Mixed,
            "process" => KillMode::Process,
            "none" => KillMode::None,
            _ => return None,
        })
    }
}

/// How a service's processes are stopped (systemd.kill(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSettings {
    /// `KillMode=`.
    pub kill_mode: KillMode,
    /// `KillSignal=` (default SIGTERM).
    pub kill_signal: i32,
    /// `FinalKillSignal=` (default SIGKILL), sent after `TimeoutStopSec=` when `send_sigkill`.
    pub final_kill_signal: i32,
    /// `RestartKillSignal=` (defaults to `kill_signal`).
    pub restart_kill_signal: Option<i32>,
    /// `WatchdogSignal=` (default SIGABRT).
    pub watchdog_signal: i32,
    /// `SendSIGKILL=` (default yes).
    pub send_sigkill: bool,
    /// `SendSIGHUP=` (default no): SIGHUP right after the kill signal.
    pub send_sighup: bool,
}

impl Default for KillSettings {
    fn default() -> Self {
        KillSettings {
            kill_mode: KillMode::ControlGroup,
            kill_signal: SIGTERM,
            final_kill_signal: SIGKILL,
            restart_kill_signal: None,
            watchdog_signal: SIGABRT,
            send_sigkill: true,
            send_sighup: false,
        }
    }
}

impl KillSettings {
    pub(crate) fn apply(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        let signal = |ctx: &mut Ctx| -> Option<i32> {
            let s = signal_from_string(&e.value);
            if s.is_none() {
                ctx.warn(
                    e,
                    format!("Failed to parse signal name, ignoring: {}", e.value),
                );
            }
            s
        };
        match e.key.as_str() {
            "KillMode" if e.value.is_empty() => self.kill_mode = KillMode::default(),
            "KillMode" => {
                if let Some(m) = ctx.enumeration(
                    e,
                    "Failed to parse kill mode specification",
                    KillMode::from_name,
                ) {
                    self.kill_mode = m;
                }
            }
            "KillSignal" => self.kill_signal = signal(ctx).unwrap_or(self.kill_signal),
            "FinalKillSignal" => {
                self.final_kill_signal = signal(ctx).unwrap_or(self.final_kill_signal)
            }
            "WatchdogSignal" => self.watchdog_signal = signal(ctx).unwrap_or(self.watchdog_signal),
            "RestartKillSignal" => {
                if let Some(s) = signal(ctx) {
                    self.restart_kill_signal = Some(s);
                }
            }
            "SendSIGKILL" => self.send_sigkill = ctx.bool(e).unwrap_or(self.send_sigkill),
            "SendSIGHUP" => self.send_sighup = ctx.bool(e).unwrap_or(self.send_sighup),
            _ => return false,
        }
        true
    }
}
