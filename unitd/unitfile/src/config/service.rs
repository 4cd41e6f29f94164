//! `[Service]` (systemd.service(5)): the service's type, command lines, restart and timeout policy, plus the
//! shared exec-context, kill and resource settings; and `service_verify()`, the checks that make systemd refuse
//! a service ("Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.", …).
//!
//! Defaults follow systemd 252 with its stock manager settings: `Type=` from the other settings when unset
//! (`dbus` with `BusName=`, else `simple` with `ExecStart=`, else `oneshot`), `RestartSec=100ms`,
//! `TimeoutStartSec=`/`TimeoutStopSec=` 90s (start: no timeout for `oneshot` unless set), `NotifyAccess=main` for
//! `Type=notify` or with `WatchdogSec=`. `Type=idle` is treated as `simple` (Flotilla has no job-queue idling);
//! `Type=notify-reload` (systemd 253) as `notify`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ctx::{section_loc, Ctx};
use super::exec_context::ExecContext;
use super::kill::{KillMode, KillSettings};
use super::resources::{Resources, ResourcesBuilder};
use super::unit::UnitBuilder;
use crate::diag::Diagnostic;
use crate::exec::ExecCommand;
use crate::raw::{RawEntry, RawUnit};
use crate::signal::{exit_status_from_string, signal_from_string};
use crate::specifier::SpecifierSet;
use crate::value::parse_timespan;
use crate::words::{extract_first_word, Flags};

/// `Type=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    /// `simple` (and `idle`): started as soon as the main process is forked.
    Simple,
    /// `exec`: started once the main process has executed its binary.
    Exec,
    /// `forking`: started when the start process exits; the main process is the daemon it left behind.
    Forking,
    /// `oneshot`: started when the start commands have finished.
    Oneshot,
    /// `dbus`: started when `BusName=` appears on the bus.
    Dbus,
    /// `notify` (and `notify-reload`): started on `READY=1` over the notify socket.
    Notify,
}

impl ServiceType {
    /// Parses systemd's spelling.
    pub fn from_name(s: &str) -> Option<ServiceType> {
        Some(match s {
            "simple" | "idle" => ServiceType::Simple,
            "exec" => ServiceType::Exec,
            "forking" => ServiceType::Forking,
            "oneshot" => ServiceType::Oneshot,
            "dbus" => ServiceType::Dbus,
            "notify" | "notify-reload" => ServiceType::Notify,
            _ => return None,
        })
    }
}

/// `Restart=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// `no` (default).
    #[default]
    No,
    /// `on-success`: after a clean exit (code 0 or a clean signal, or a `SuccessExitStatus=`).
    OnSuccess,
    /// `on-failure`: after an unclean exit code, an unclean signal, a timeout or a watchdog timeout.
    OnFailure,
    /// `on-abnormal`: after an unclean signal, a timeout or a watchdog timeout.
    OnAbnormal,
    /// `on-watchdog`: after a watchdog timeout.
    OnWatchdog,
    /// `on-abort`: after an unclean signal.
    OnAbort,
    /// `always`.
    Always,
}

impl RestartPolicy {
    /// Parses systemd's spelling.
    pub fn from_name(s: &str) -> Option<RestartPolicy> {
        Some(match s {
            "no" => RestartPolicy::No,
            "on-success" => RestartPolicy::OnSuccess,
            "on-failure" => RestartPolicy::OnFailure,
            "on-abnormal" => RestartPolicy::OnAbnormal,
            "on-watchdog" => RestartPolicy::OnWatchdog,
            "on-abort" => RestartPolicy::OnAbort,
            "always" => RestartPolicy::Always,
            _ => return None,
        })
    }
}

/// `NotifyAccess=`: who may send `sd_notify()` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyAccess {
    /// `none` (default unless `Type=notify` or `WatchdogSec=`).
    #[default]
    None,
    /// `main`: only the main process.
    Main,
    /// `exec`: the main process and the control processes of `Exec*=` commands.
    Exec,
    /// `all`: every process of the unit's cgroup.
    All,
}

impl NotifyAccess {
    /// Parses systemd's spelling.
    pub fn from_name(s: &str) -> Option<NotifyAccess> {
        Some(match s {
            "none" => NotifyAccess::None,
            "main" => NotifyAccess::Main,
            "exec" => NotifyAccess::Exec,
            "all" => NotifyAccess::All,
            _ => return None,
        })
    }
}

/// A set of exit statuses and signals (`SuccessExitStatus=`, `RestartPreventExitStatus=`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitStatusSet {
    /// Exit codes, sorted, deduplicated.
    pub statuses: Vec<u8>,
    /// Signal numbers, sorted, deduplicated.
    pub signals: Vec<i32>,
}

impl ExitStatusSet {
    /// Whether nothing is in the set.
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.signals.is_empty()
    }
}

/// A validated `[Service]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// `Type=`, or the type systemd derives when it is unset.
    pub service_type: ServiceType,
    /// `RemainAfterExit=`: the service stays active after its processes exit.
    pub remain_after_exit: bool,
    /// `PIDFile=` for `Type=forking` (a relative path is under /run).
    pub pid_file: Option<PathBuf>,
    /// `GuessMainPID=` (default yes).
    pub guess_main_pid: bool,
    /// `BusName=` for `Type=dbus`.
    pub bus_name: Option<String>,
    /// `ExecCondition=`: a non-zero exit skips the start without failing.
    pub exec_condition: Vec<ExecCommand>,
    /// `ExecStartPre=`.
    pub exec_start_pre: Vec<ExecCommand>,
    /// `ExecStart=` (at most one unless oneshot).
    pub exec_start: Vec<ExecCommand>,
    /// `ExecStartPost=`.
    pub exec_start_post: Vec<ExecCommand>,
    /// `ExecReload=`.
    pub exec_reload: Vec<ExecCommand>,
    /// `ExecStop=`.
    pub exec_stop: Vec<ExecCommand>,
    /// `ExecStopPost=`.
    pub exec_stop_post: Vec<ExecCommand>,
    /// `Restart=`.
    pub restart: RestartPolicy,
    /// `RestartSec=` (default 100ms).
    pub restart_sec: Duration,
    /// `TimeoutStartSec=` / `TimeoutSec=`; `None` = no timeout (`infinity` or 0).
    pub timeout_start_sec: Option<Duration>,
    /// `TimeoutStopSec=` / `TimeoutSec=`; `None` = no timeout.
    pub timeout_stop_sec: Option<Duration>,
    /// `WatchdogSec=`; `None` = no watchdog.
    pub watchdog_sec: Option<Duration>,
    /// `RuntimeMaxSec=`; `None` = unlimited.
    pub runtime_max_sec: Option<Duration>,
    /// KillMode=, KillSignal=, SendSIGKILL=, …
    pub kill: KillSettings,
    /// `SuccessExitStatus=`: extra statuses and signals counted as success.
    pub success_exit_status: ExitStatusSet,
    /// `RestartPreventExitStatus=`: statuses and signals that never restart.
    pub restart_prevent_exit_status: ExitStatusSet,
    /// `RestartForceExitStatus=`: statuses and signals that always restart.
    pub restart_force_exit_status: ExitStatusSet,
    /// Environment=, User=, WorkingDirectory=, UMask=, StandardOutput=, …
    pub exec_context: ExecContext,
    /// `NotifyAccess=`.
    pub notify_access: NotifyAccess,
    /// Resource limits.
    pub resources: Resources,
}

const EXEC_KEYS: [&str; 7] = [
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
];

pub(crate) struct ServiceBuilder {
    service_type: Option<ServiceType>,
    remain_after_exit: bool,
    pid_file: Option<PathBuf>,
    guess_main_pid: bool,
    bus_name: Option<String>,
    exec: [Vec<ExecCommand>; 7],
    restart: RestartPolicy,
    restart_sec: Duration,
    /// Set when `TimeoutStartSec=`/`TimeoutSec=` appeared (`None` inside = no timeout).
    timeout_start: Option<Option<Duration>>,
    timeout_stop: Option<Duration>,
    watchdog_sec: Option<Duration>,
    runtime_max_sec: Option<Duration>,
    success_exit_status: ExitStatusSet,
    restart_prevent_exit_status: ExitStatusSet,
    restart_force_exit_status: ExitStatusSet,
    notify_access: Option<NotifyAccess>,
    exec_ctx: ExecContext,
    kill: KillSettings,
    res: ResourcesBuilder,
}

/// sd-bus's `service_name_is_valid()`: a unique name (`:1.42`) or a well-known name of at least two
/// dot-separated elements of `[A-Za-z0-9_-]` that do not start with a digit; at most 255 bytes.
pub(crate) fn bus_name_is_valid(n: &str) -> bool {
    let (unique, body) = match n.strip_prefix(':') {
        Some(b) => (true, b),
        None => (false, n),
    };
    let elements: Vec<&str> = body.split('.').collect();
    n.len() <= 255
        && elements.len() >= 2
        && elements.iter().all(|el| {
            !el.is_empty()
                && el
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                && (unique || !el.as_bytes()[0].is_ascii_digit())
        })
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

fn exit_status_set(set: &mut ExitStatusSet, e: &RawEntry, ctx: &mut Ctx) {
    if e.value.is_empty() {
        *set = ExitStatusSet::default();
        return;
    }
    let mut p = e.value.as_str();
    while let Ok(Some(w)) = extract_first_word(&mut p, Flags::default()) {
        if let Some(s) = exit_status_from_string(&w.value) {
            set.statuses.push(s);
        } else if let Some(sig) = signal_from_string(&w.value) {
            set.signals.push(sig);
        } else {
            ctx.warn(e, format!("Failed to parse value, ignoring: {}", w.value));
        }
    }
    set.statuses.sort_unstable();
    set.statuses.dedup();
    set.signals.sort_unstable();
    set.signals.dedup();
}

impl ServiceBuilder {
    pub fn new() -> Self {
        ServiceBuilder {
            service_type: None,
            remain_after_exit: false,
            pid_file: None,
            guess_main_pid: true,
            bus_name: None,
            exec: Default::default(),
            restart: RestartPolicy::No,
            restart_sec: Duration::from_millis(100),
            timeout_start: None,
            timeout_stop: Some(DEFAULT_TIMEOUT),
            watchdog_sec: None,
            runtime_max_sec: None,
            success_exit_status: ExitStatusSet::default(),
            restart_prevent_exit_status: ExitStatusSet::default(),
            restart_force_exit_status: ExitStatusSet::default(),
            notify_access: None,
            exec_ctx: ExecContext::default(),
            kill: KillSettings::default(),
            res: ResourcesBuilder::default(),
        }
    }

    /// Applies one `[Service]` entry; false when no parser here knows the key.
    pub fn apply(&mut self, e: &RawEntry, ctx: &mut Ctx, unit: &mut UnitBuilder) -> bool {
        if let Some(i) = EXEC_KEYS.iter().position(|k| *k == e.key) {
            ctx.exec(e, &mut self.exec[i]);
            return true;
        }
        match e.key.as_str() {
            "Type" => match ServiceType::from_name(&e.value) {
                Some(t) => self.service_type = Some(t),
                // systemd ignores an unknown type and runs the service as simple; Flotilla refuses it rather
                // than guess how a service wants to be run (a typo in Type=forking would otherwise hang).
                None => ctx.error(
                    e,
                    format!(
                        "Unknown service type '{}', refusing to guess how to run it.",
                        e.value
                    ),
                ),
            },
            "Restart" => {
                if let Some(r) = ctx.enumeration(
                    e,
                    "Failed to parse service restart specifier",
                    RestartPolicy::from_name,
                ) {
                    self.restart = r;
                }
            }
            "NotifyAccess" => {
                if let Some(n) = ctx.enumeration(
                    e,
                    "Failed to parse notify access specifier",
                    NotifyAccess::from_name,
                ) {
                    self.notify_access = Some(n);
                }
            }
            "ExitType" => {
                if !matches!(e.value.as_str(), "main" | "cgroup") {
                    ctx.warn(
                        e,
                        format!("Failed to parse service exit type, ignoring: {}", e.value),
                    );
                }
            }
            "RemainAfterExit" => {
                self.remain_after_exit = ctx.bool(e).unwrap_or(self.remain_after_exit)
            }
            "GuessMainPID" => self.guess_main_pid = ctx.bool(e).unwrap_or(self.guess_main_pid),
            "PIDFile" => self.pid_file(e, ctx),
            "BusName" => {
                if e.value.is_empty() {
                    self.bus_name = None;
                } else if let Some(n) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Full) {
                    if bus_name_is_valid(&n) {
                        self.bus_name = Some(n);
                    } else {
                        ctx.warn(e, format!("Invalid bus name, ignoring: {n}"));
                    }
                }
            }
            "RestartSec" => {
                if let Some(t) = ctx.sec(e) {
                    self.restart_sec = t.finite().unwrap_or(Duration::MAX);
                }
            }
            "WatchdogSec" => {
                if let Some(t) = ctx.sec(e) {
                    self.watchdog_sec = t.nonzero();
                }
            }
            "RuntimeMaxSec" => {
                if let Some(t) = ctx.sec(e) {
                    self.runtime_max_sec = t.finite();
                }
            }
            "TimeoutSec" | "TimeoutStartSec" => match parse_timespan(&e.value) {
                Ok(t) => {
                    self.timeout_start = Some(t.nonzero());
                    if e.key == "TimeoutSec" {
                        self.timeout_stop = t.nonzero();
                    }
                }
                Err(_) => ctx.warn(
                    e,
                    format!(
                        "Failed to parse {}= parameter, ignoring: {}",
                        e.key, e.value
                    ),
                ),
            },
            "TimeoutStopSec" => match parse_timespan(&e.value) {
                Ok(t) => self.timeout_stop = t.nonzero(),
                Err(_) => ctx.warn(
                    e,
                    format!("Failed to parse time value, ignoring: {}", e.value),
                ),
            },
            "TimeoutAbortSec" => {
                if parse_timespan(&e.value).is_err() && !e.value.is_empty() {
                    ctx.warn(
                        e,
                        format!("Failed to parse time value, ignoring: {}", e.value),
                    );
                }
            }
            "SuccessExitStatus" => exit_status_set(&mut self.success_exit_status, e, ctx),
            "RestartPreventExitStatus" => {
                exit_status_set(&mut self.restart_prevent_exit_status, e, ctx)
            }
            "RestartForceExitStatus" => {
                exit_status_set(&mut self.restart_force_exit_status, e, ctx)
            }
            // Historical places of the start rate limit.
            "StartLimitInterval" => unit.apply_start_limit_interval(e, ctx),
            "StartLimitBurst" => unit.apply_start_limit_burst(e, ctx),
            _ => {
                return self.exec_ctx.apply(e, ctx)
                    || self.kill.apply(e, ctx)
                    || self.res.apply(e, ctx);
            }
        }
        true
    }

    /// `config_parse_pid_file()`: specifiers, relative paths are under the runtime directory.
    fn pid_file(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.pid_file = None;
            return;
        }
        let Some(k) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Full) else {
            return;
        };
        let abs = if k.starts_with('/') {
            k
        } else {
            format!("{}/{k}", ctx.specs.runtime_dir.display())
        };
        if let Some(p) = ctx.check_abs_path(e, &abs, false) {
            self.pid_file = Some(PathBuf::from(p));
        }
    }

    /// The final configuration, and the place unit-level service messages point at (the first `[Service]`
    /// header, preferably the fragment's; else the fragment itself).
    pub fn finish(self, raw: &RawUnit, fragment: Option<&Path>) -> (ServiceConfig, (PathBuf, u32)) {
        let loc = section_loc(raw, "Service", fragment);
        let [exec_condition, exec_start_pre, exec_start, exec_start_post, exec_reload, exec_stop, exec_stop_post] =
            self.exec;
        let service_type = self.service_type.unwrap_or(if self.bus_name.is_some() {
            ServiceType::Dbus
        } else if !exec_start.is_empty() {
            ServiceType::Simple
        } else {
            ServiceType::Oneshot
        });
        let timeout_start_sec = match self.timeout_start {
            Some(t) => t,
            None if service_type == ServiceType::Oneshot => None,
            None => Some(DEFAULT_TIMEOUT),
        };
        let notify_access = self.notify_access.unwrap_or(
            if service_type == ServiceType::Notify || self.watchdog_sec.is_some() {
                NotifyAccess::Main
            } else {
                NotifyAccess::None
            },
        );
        let cfg = ServiceConfig {
            service_type,
            remain_after_exit: self.remain_after_exit,
            pid_file: self.pid_file,
            guess_main_pid: self.guess_main_pid,
            bus_name: self.bus_name,
            exec_condition,
            exec_start_pre,
            exec_start,
            exec_start_post,
            exec_reload,
            exec_stop,
            exec_stop_post,
            restart: self.restart,
            restart_sec: self.restart_sec,
            timeout_start_sec,
            timeout_stop_sec: self.timeout_stop,
            watchdog_sec: self.watchdog_sec,
            runtime_max_sec: self.runtime_max_sec,
            kill: self.kill,
            success_exit_status: self.success_exit_status,
            restart_prevent_exit_status: self.restart_prevent_exit_status,
            restart_force_exit_status: self.restart_force_exit_status,
            exec_context: self.exec_ctx,
            notify_access,
            resources: self.res.finish(),
        };
        (cfg, loc)
    }
}

/// systemd's `service_verify()`: the checks that refuse a service. Runs only when the settings themselves had no
/// error (systemd never gets this far then).
pub(crate) fn verify(s: &ServiceConfig, unit: &UnitBuilder, loc: (PathBuf, u32), ctx: &mut Ctx) {
    if ctx.diags.iter().any(Diagnostic::is_error) {
        return;
    }
    let (file, line) = loc;
    let mut refuse = |msg: &str| ctx.diags.push(Diagnostic::error(&file, line, msg));
    let no_success_action = unit.success_action.is_none();
    if s.exec_start.is_empty() && s.exec_stop.is_empty() && no_success_action {
        refuse("Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.");
        return;
    }
    if s.service_type != ServiceType::Oneshot && s.exec_start.is_empty() {
        refuse("Service has no ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.");
        return;
    }
    if !s.remain_after_exit && s.exec_start.is_empty() && no_success_action {
        refuse(
            "Service has no ExecStart= and no SuccessAction= settings and does not have RemainAfterExit=yes set. \
             Refusing.",
        );
        return;
    }
    if s.service_type != ServiceType::Oneshot && s.exec_start.len() > 1 {
        let second = &s.exec_start[1];
        ctx.diags.push(Diagnostic::error(
            &second.file,
            second.line,
            "Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services. \
             Refusing.",
        ));
        return;
    }
    if s.service_type == ServiceType::Oneshot
        && matches!(s.restart, RestartPolicy::Always | RestartPolicy::OnSuccess)
    {
        refuse(
            "Service has Restart= set to either always or on-success, which isn't allowed for Type=oneshot \
             services. Refusing.",
        );
        return;
    }
    if s.service_type == ServiceType::Dbus && s.bus_name.is_none() {
        refuse("Service is of type D-Bus but no D-Bus service name has been specified. Refusing.");
        return;
    }
    if s.exec_context.pam_name.is_some()
        && !matches!(s.kill.kill_mode, KillMode::ControlGroup | KillMode::Mixed)
    {
        refuse("Service has PAM enabled. Kill mode must be set to 'control-group' or 'mixed'. Refusing.");
    }
}
