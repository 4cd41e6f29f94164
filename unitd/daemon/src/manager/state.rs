//! The states a unit can be in, with systemd's names: load state, active state, the service sub-states and
//! results. Pure data; the transitions live in [`super::service`].

use std::fmt;

/// Whether the unit's configuration could be loaded (systemd's `LoadState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    Loaded,
    NotFound,
    BadSetting,
    Error,
    Masked,
}

impl LoadState {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Loaded => "loaded",
            LoadState::NotFound => "not-found",
            LoadState::BadSetting => "bad-setting",
            LoadState::Error => "error",
            LoadState::Masked => "masked",
        }
    }
}

/// The high-level state every unit type shares (systemd's `ActiveState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveState {
    Active,
    Reloading,
    Inactive,
    Failed,
    Activating,
    Deactivating,
}

impl ActiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveState::Active => "active",
            ActiveState::Reloading => "reloading",
            ActiveState::Inactive => "inactive",
            ActiveState::Failed => "failed",
            ActiveState::Activating => "activating",
            ActiveState::Deactivating => "deactivating",
        }
    }

    /// Active or reloading: the unit is up.
    pub fn is_active_or_reloading(self) -> bool {
        matches!(self, ActiveState::Active | ActiveState::Reloading)
    }

    /// Inactive or failed: nothing of the unit is running.
    pub fn is_inactive_or_failed(self) -> bool {
        matches!(self, ActiveState::Inactive | ActiveState::Failed)
    }
}

/// A service's sub-state (systemd's `service_state_table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Dead,
    StartPre,
    Start,
    StartPost,
    Running,
    Exited,
    Reload,
    Stop,
    StopSigterm,
    StopSigkill,
    StopPost,
    FinalSigterm,
    FinalSigkill,
    Failed,
    AutoRestart,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Dead => "dead",
            ServiceState::StartPre => "start-pre",
            ServiceState::Start => "start",
            ServiceState::StartPost => "start-post",
            ServiceState::Running => "running",
            ServiceState::Exited => "exited",
            ServiceState::Reload => "reload",
            ServiceState::Stop => "stop",
            ServiceState::StopSigterm => "stop-sigterm",
            ServiceState::StopSigkill => "stop-sigkill",
            ServiceState::StopPost => "stop-post",
            ServiceState::FinalSigterm => "final-sigterm",
            ServiceState::FinalSigkill => "final-sigkill",
            ServiceState::Failed => "failed",
            ServiceState::AutoRestart => "auto-restart",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceState> {
        Some(match s {
            "dead" => ServiceState::Dead,
            "running" => ServiceState::Running,
            "exited" => ServiceState::Exited,
            "failed" => ServiceState::Failed,
            _ => return None,
        })
    }

    /// systemd's `state_translation_table`.
    pub fn active_state(self) -> ActiveState {
        use ServiceState::*;
        match self {
            Dead => ActiveState::Inactive,
            StartPre | Start | StartPost | AutoRestart => ActiveState::Activating,
            Running | Exited => ActiveState::Active,
            Reload => ActiveState::Reloading,
            Stop | StopSigterm | StopSigkill | StopPost | FinalSigterm | FinalSigkill => {
                ActiveState::Deactivating
            }
            Failed => ActiveState::Failed,
        }
    }
}

/// Why a service last stopped or failed (systemd's `ServiceResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceResult {
    Success,
    Resources,
    Protocol,
    Timeout,
    ExitCode,
    Signal,
    CoreDump,
    Watchdog,
    StartLimitHit,
    OomKill,
}

impl ServiceResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceResult::Success => "success",
            ServiceResult::Resources => "resources",
            ServiceResult::Protocol => "protocol",
            ServiceResult::Timeout => "timeout",
            ServiceResult::ExitCode => "exit-code",
            ServiceResult::Signal => "signal",
            ServiceResult::CoreDump => "core-dump",
            ServiceResult::Watchdog => "watchdog",
            ServiceResult::StartLimitHit => "start-limit-hit",
            ServiceResult::OomKill => "oom-kill",
        }
    }

    pub fn parse(s: &str) -> ServiceResult {
        match s {
            "resources" => ServiceResult::Resources,
            "protocol" => ServiceResult::Protocol,
            "timeout" => ServiceResult::Timeout,
            "exit-code" => ServiceResult::ExitCode,
            "signal" => ServiceResult::Signal,
            "core-dump" => ServiceResult::CoreDump,
            "watchdog" => ServiceResult::Watchdog,
            "start-limit-hit" => ServiceResult::StartLimitHit,
            "oom-kill" => ServiceResult::OomKill,
            _ => ServiceResult::Success,
        }
    }
}

impl fmt::Display for ServiceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, as `waitid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this status (CLD_EXITED).
    Code(i32),
    /// Killed by this signal (CLD_KILLED).
    Killed(i32),
    /// Killed by this signal and dumped core (CLD_DUMPED).
    Dumped(i32),
}

impl Exit {
    /// systemd's `ExecMainCode` (1 exited, 2 killed, 3 dumped).
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(_) => 1,
            Exit::Killed(_) => 2,
            Exit::Dumped(_) => 3,
        }
    }

    /// systemd's `ExecMainStatus`: the exit status or the signal.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(s) | Exit::Killed(s) | Exit::Dumped(s) => s,
        }
    }

    /// The result this exit gives a service: a clean exit is success, as are SIGHUP, SIGINT, SIGTERM and SIGPIPE
    /// for the main process (systemd's "clean" signals), and any status listed in `SuccessExitStatus=`.
    pub fn result(self, main: bool, success: &unitfile::ExitStatusSet) -> ServiceResult {
        match self {
            Exit::Code(0) => ServiceResult::Success,
            Exit::Code(s) if u8::try_from(s).is_ok_and(|s| success.statuses.contains(&s)) => {
                ServiceResult::Success
            }
            Exit::Code(_) => ServiceResult::ExitCode,
            Exit::Killed(s)
                if main
                    && matches!(
                        s,
                        libc::SIGHUP | libc::SIGINT | libc::SIGTERM | libc::SIGPIPE
                    ) =>
            {
                ServiceResult::Success
            }
            Exit::Killed(s) if success.signals.contains(&s) => ServiceResult::Success,
            Exit::Killed(_) => ServiceResult::Signal,
            Exit::Dumped(_) => ServiceResult::CoreDump,
        }
    }

    /// `$EXIT_CODE` for ExecStop=/ExecStopPost= (and `$MONITOR_EXIT_CODE`): `exited`, `killed` or `dumped`.
    pub fn code_name(self) -> &'static str {
        match self {
            Exit::Code(_) => "exited",
            Exit::Killed(_) => "killed",
            Exit::Dumped(_) => "dumped",
        }
    }

    /// `$EXIT_STATUS`: the exit status in decimal, or the signal's name without `SIG` (`TERM`).
    pub fn status_text(self) -> String {
        match self {
            Exit::Code(s) => s.to_string(),
            Exit::Killed(s) | Exit::Dumped(s) => signal_name(s),
        }
    }

    /// Text like systemd's status line: `code=exited, status=1/FAILURE`.
    pub fn describe(self) -> String {
        match self {
            Exit::Code(s) => {
                let name = match s {
                    0 => "SUCCESS",
                    1 => "FAILURE",
                    2 => "INVALIDARGUMENT",
                    3 => "NOTIMPLEMENTED",
                    4 => "NOPERMISSION",
                    5 => "NOTINSTALLED",
                    6 => "NOTCONFIGURED",
                    7 => "NOTRUNNING",
                    _ => crate::exec::spawn::exit_status_name(s).unwrap_or(""),
                };
                if name.is_empty() {
                    format!("code=exited, status={s}")
                } else {
                    format!("code=exited, status={s}/{name}")
                }
            }
            Exit::Killed(s) => format!("code=killed, status={s}/{}", signal_name(s)),
            Exit::Dumped(s) => format!("code=dumped, status={s}/{}", signal_name(s)),
        }
    }
}

/// `SIGTERM` → `TERM`.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().trim_start_matches("SIG").to_string())
        .unwrap_or_else(|_| sig.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_states_map_to_systemd_active_states() {
        assert_eq!(
            ServiceState::AutoRestart.active_state(),
            ActiveState::Activating
        );
        assert_eq!(ServiceState::Exited.active_state(), ActiveState::Active);
        assert_eq!(
            ServiceState::StopSigterm.active_state(),
            ActiveState::Deactivating
        );
        assert_eq!(ServiceState::Failed.active_state(), ActiveState::Failed);
    }

    #[test]
    fn clean_signals_count_as_success_for_the_main_process_only() {
        let none = unitfile::ExitStatusSet::default();
        let three = unitfile::ExitStatusSet {
            statuses: vec![3],
            signals: vec![],
        };
        assert_eq!(
            Exit::Killed(libc::SIGTERM).result(true, &none),
            ServiceResult::Success
        );
        assert_eq!(
            Exit::Killed(libc::SIGTERM).result(false, &none),
            ServiceResult::Signal
        );
        assert_eq!(
            Exit::Killed(libc::SIGKILL).result(true, &none),
            ServiceResult::Signal
        );
        assert_eq!(Exit::Code(3).result(true, &three), ServiceResult::Success);
        assert_eq!(Exit::Code(3).result(true, &none), ServiceResult::ExitCode);
        assert_eq!(
            Exit::Dumped(libc::SIGSEGV).result(true, &none),
            ServiceResult::CoreDump
        );
    }

    #[test]
    fn exits_are_described_like_systemd() {
        assert_eq!(Exit::Code(1).describe(), "code=exited, status=1/FAILURE");
        assert_eq!(Exit::Code(203).describe(), "code=exited, status=203/EXEC");
        assert_eq!(Exit::Killed(9).describe(), "code=killed, status=9/KILL");
    }
}
