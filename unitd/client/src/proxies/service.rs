//! `org.freedesktop.systemd1.Service` on the object of a service unit.
//!
//! unitd emits `PropertiesChanged` for `MainPID`, `Result`, `ExecMain*` and `StatusText`; the rest are marked as
//! not emitting.

use zbus::proxy;

use super::ExecCommand;

/// A service unit's settings, main process, result and resource use.
#[proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Service {
    /// `Type=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Type")]
    fn type_(&self) -> zbus::Result<String>;

    /// `Restart=`.
    #[zbus(property(emits_changed_signal = "false"), name = "Restart")]
    fn restart(&self) -> zbus::Result<String>;

    /// `RestartSec=` in µs.
    #[zbus(property(emits_changed_signal = "false"), name = "RestartUSec")]
    fn restart_usec(&self) -> zbus::Result<u64>;

    /// How many times it was restarted automatically.
    #[zbus(property(emits_changed_signal = "false"), name = "NRestarts")]
    fn n_restarts(&self) -> zbus::Result<u32>;

    /// `RemainAfterExit=`.
    #[zbus(property(emits_changed_signal = "false"), name = "RemainAfterExit")]
    fn remain_after_exit(&self) -> zbus::Result<bool>;

    /// `PIDFile=`.
    #[zbus(property(emits_changed_signal = "false"), name = "PIDFile")]
    fn pid_file(&self) -> zbus::Result<String>;

    /// The main process, 0 if none.
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> zbus::Result<u32>;

    /// The running control process (ExecStartPre=, ExecStop=, …), 0 if none.
    #[zbus(property(emits_changed_signal = "false"), name = "ControlPID")]
    fn control_pid(&self) -> zbus::Result<u32>;

    /// The last main process.
    #[zbus(property, name = "ExecMainPID")]
    fn exec_main_pid(&self) -> zbus::Result<u32>;

    /// How the last main process ended: 1 exited, 2 killed, 3 dumped; 0 never ran.
    #[zbus(property, name = "ExecMainCode")]
    fn exec_main_code(&self) -> zbus::Result<i32>;

    /// Its exit status or signal.
    #[zbus(property, name = "ExecMainStatus")]
    fn exec_main_status(&self) -> zbus::Result<i32>;

    /// When the last main process started (µs since the epoch).
    #[zbus(property, name = "ExecMainStartTimestamp")]
    fn exec_main_start_timestamp(&self) -> zbus::Result<u64>;

    /// When it exited.
    #[zbus(property, name = "ExecMainExitTimestamp")]
    fn exec_main_exit_timestamp(&self) -> zbus::Result<u64>;

    /// `success`, `resources`, `protocol`, `timeout`, `exit-code`, `signal`, `core-dump`, `watchdog`,
    /// `start-limit-hit` or `oom-kill`.
    #[zbus(property, name = "Result")]
    fn result(&self) -> zbus::Result<String>;

    /// The last `STATUS=` sent over sd_notify.
    #[zbus(property, name = "StatusText")]
    fn status_text(&self) -> zbus::Result<String>;

    /// The unit's cgroup, relative to the hierarchy root.
    #[zbus(property(emits_changed_signal = "false"), name = "ControlGroup")]
    fn control_group(&self) -> zbus::Result<String>;

    /// Memory in use (bytes; u64::MAX when unknown).
    #[zbus(property(emits_changed_signal = "false"), name = "MemoryCurrent")]
    fn memory_current(&self) -> zbus::Result<u64>;

    /// Tasks in the cgroup (u64::MAX when unknown).
    #[zbus(property(emits_changed_signal = "false"), name = "TasksCurrent")]
    fn tasks_current(&self) -> zbus::Result<u64>;

    /// CPU time used (ns; u64::MAX when unknown).
    #[zbus(property(emits_changed_signal = "false"), name = "CPUUsageNSec")]
    fn cpu_usage_nsec(&self) -> zbus::Result<u64>;

    /// `TimeoutStartSec=` in µs.
    #[zbus(property(emits_changed_signal = "false"), name = "TimeoutStartUSec")]
    fn timeout_start_usec(&self) -> zbus::Result<u64>;

    /// `TimeoutStopSec=` in µs.
    #[zbus(property(emits_changed_signal = "false"), name = "TimeoutStopUSec")]
    fn timeout_stop_usec(&self) -> zbus::Result<u64>;

    /// `WatchdogSec=` in µs.
    #[zbus(property(emits_changed_signal = "false"), name = "WatchdogUSec")]
    fn watchdog_usec(&self) -> zbus::Result<u64>;

    /// `KillMode=`.
    #[zbus(property(emits_changed_signal = "false"), name = "KillMode")]
    fn kill_mode(&self) -> zbus::Result<String>;

    /// `KillSignal=`.
    #[zbus(property(emits_changed_signal = "false"), name = "KillSignal")]
    fn kill_signal(&self) -> zbus::Result<i32>;

    /// `MemoryMax=` (u64::MAX = infinity).
    #[zbus(property(emits_changed_signal = "false"), name = "MemoryMax")]
    fn memory_max(&self) -> zbus::Result<u64>;

    /// `TasksMax=` (u64::MAX = infinity).
    #[zbus(property(emits_changed_signal = "false"), name = "TasksMax")]
    fn tasks_max(&self) -> zbus::Result<u64>;

    /// `CPUQuota=` as µs per second (u64::MAX = infinity).
    #[zbus(property(emits_changed_signal = "false"), name = "CPUQuotaPerSecUSec")]
    fn cpu_quota_per_sec_usec(&self) -> zbus::Result<u64>;

    /// `ExecStart=` commands with their last run.
    #[zbus(property, name = "ExecStart")]
    fn exec_start(&self) -> zbus::Result<Vec<ExecCommand>>;
}
