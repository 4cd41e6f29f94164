//! Unit objects at `/org/freedesktop/systemd1/unit/<escaped id>`: `org.freedesktop.systemd1.Unit` for every unit
//! and `org.freedesktop.systemd1.Service` for services, read from the manager's snapshots.

use zbus::{interface, OwnedObjectPath};

use super::error::BusError;
use super::{job_path, BusCtx};
use crate::manager::jobs::{JobKind, JobMode};
use crate::manager::unit::{ServiceSnapshot, UnitSnapshot};
use crate::manager::{KillWhom, Request};

pub struct UnitIface {
    pub ctx: BusCtx,
    pub name: String,
}

impl UnitIface {
    fn get<T: Default>(&self, f: impl FnOnce(&UnitSnapshot) -> T) -> T {
        self.ctx
            .shared
            .read()
            .ok()
            .and_then(|s| s.units.get(&self.name).map(f))
            .unwrap_or_default()
    }

    async fn enqueue(&self, mode: String, kind: JobKind) -> Result<OwnedObjectPath, BusError> {
        let mode = JobMode::parse(&mode)
            .ok_or_else(|| BusError::invalid_args(format!("Job mode {mode} invalid.")))?;
        let unit = self.name.clone();
        let id = self
            .ctx
            .call(|reply| Request::Job {
                unit,
                kind,
                mode,
                only_if_active: false,
                reply,
            })
            .await?;
        Ok(job_path(id))
    }
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl UnitIface {
    async fn start(&self, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.enqueue(mode, JobKind::Start).await
    }

    async fn stop(&self, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.enqueue(mode, JobKind::Stop).await
    }

    async fn restart(&self, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.enqueue(mode, JobKind::Restart).await
    }

    async fn reload(&self, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.enqueue(mode, JobKind::Reload).await
    }

    async fn kill(&self, whom: String, signal: i32) -> Result<(), BusError> {
        let whom = match whom.as_str() {
            "main" => KillWhom::Main,
            "control" => KillWhom::Control,
            _ => KillWhom::All,
        };
        let unit = self.name.clone();
        self.ctx
            .call(|reply| Request::Kill {
                unit,
                whom,
                signal,
                reply,
            })
            .await
    }

    /// `systemctl set-property` addressed to the unit object.
    async fn set_properties(
        &self,
        runtime: bool,
        properties: Vec<(String, zbus::OwnedVariant)>,
    ) -> Result<(), BusError> {
        super::manager_iface::set_properties(&self.ctx, self.name.clone(), runtime, properties)
            .await
    }

    async fn reset_failed(&self) -> Result<(), BusError> {
        let unit = Some(self.name.clone());
        self.ctx
            .call(|reply| Request::ResetFailed { unit, reply })
            .await
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> String {
        self.name.clone()
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn names(&self) -> Vec<String> {
        vec![self.name.clone()]
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn description(&self) -> String {
        self.get(|u| u.description.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn load_state(&self) -> String {
        self.get(|u| u.load_state.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn active_state(&self) -> String {
        self.get(|u| u.active_state.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn sub_state(&self) -> String {
        self.get(|u| u.sub_state.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn fragment_path(&self) -> String {
        self.get(|u| u.fragment_path.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn drop_in_paths(&self) -> Vec<String> {
        self.get(|u| u.dropin_paths.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn unit_file_state(&self) -> String {
        self.get(|u| u.unit_file_state.clone())
    }

    /// The current activation's 128-bit ID (`$INVOCATION_ID`); empty before the first start.
    #[zbus(property(emits_changed_signal = "false"), name = "InvocationID")]
    fn invocation_id(&self) -> Vec<u8> {
        self.get(|u| u.invocation_id.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn requires(&self) -> Vec<String> {
        self.get(|u| u.deps.requires.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn requisite(&self) -> Vec<String> {
        self.get(|u| u.deps.requisite.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn wants(&self) -> Vec<String> {
        self.get(|u| u.deps.wants.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn binds_to(&self) -> Vec<String> {
        self.get(|u| u.deps.binds_to.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn part_of(&self) -> Vec<String> {
        self.get(|u| u.deps.part_of.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn conflicts(&self) -> Vec<String> {
        self.get(|u| u.deps.conflicts.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn before(&self) -> Vec<String> {
        self.get(|u| u.deps.before.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn after(&self) -> Vec<String> {
        self.get(|u| u.deps.after.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn wanted_by(&self) -> Vec<String> {
        self.get(|u| u.deps.wanted_by.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn required_by(&self) -> Vec<String> {
        self.get(|u| u.deps.required_by.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn requisite_of(&self) -> Vec<String> {
        self.get(|u| u.deps.requisite_of.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn bound_by(&self) -> Vec<String> {
        self.get(|u| u.deps.bound_by.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn upholds(&self) -> Vec<String> {
        self.get(|u| u.deps.upholds.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn upheld_by(&self) -> Vec<String> {
        self.get(|u| u.deps.upheld_by.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn consists_of(&self) -> Vec<String> {
        self.get(|u| u.deps.consists_of.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn conflicted_by(&self) -> Vec<String> {
        self.get(|u| u.deps.conflicted_by.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn on_failure(&self) -> Vec<String> {
        self.get(|u| u.deps.on_failure.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn on_failure_of(&self) -> Vec<String> {
        self.get(|u| u.deps.on_failure_of.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn on_success(&self) -> Vec<String> {
        self.get(|u| u.deps.on_success.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn on_success_of(&self) -> Vec<String> {
        self.get(|u| u.deps.on_success_of.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn active_enter_timestamp(&self) -> u64 {
        self.get(|u| u.timestamps.active_enter)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn active_exit_timestamp(&self) -> u64 {
        self.get(|u| u.timestamps.active_exit)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn inactive_enter_timestamp(&self) -> u64 {
        self.get(|u| u.timestamps.inactive_enter)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn inactive_exit_timestamp(&self) -> u64 {
        self.get(|u| u.timestamps.inactive_exit)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn state_change_timestamp(&self) -> u64 {
        self.get(|u| u.timestamps.state_change)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn job(&self) -> (u32, OwnedObjectPath) {
        let job = self
            .ctx
            .shared
            .read()
            .ok()
            .and_then(|s| s.units.get(&self.name).and_then(|u| u.job.clone()));
        match job {
            Some((id, _)) => (id, job_path(id)),
            None => (0, super::root_path()),
        }
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn load_error(&self) -> (String, String) {
        self.get(|u| u.load_error.clone())
    }
}

pub struct ServiceIface {
    pub ctx: BusCtx,
    pub name: String,
}

impl ServiceIface {
    fn get<T: Default>(&self, f: impl FnOnce(&ServiceSnapshot) -> T) -> T {
        self.ctx
            .shared
            .read()
            .ok()
            .and_then(|s| {
                s.units
                    .get(&self.name)
                    .and_then(|u| u.service.as_ref().map(f))
            })
            .unwrap_or_default()
    }
}

/// systemd's ExecStart property: (path, argv, ignore_failure, start realtime, start monotonic, exit realtime,
/// exit monotonic, pid, code, status).
type ExecRow = (String, Vec<String>, bool, u64, u64, u64, u64, u32, i32, i32);

#[interface(name = "org.freedesktop.systemd1.Service")]
impl ServiceIface {
    #[zbus(property(emits_changed_signal = "false"))]
    fn r#type(&self) -> String {
        self.get(|s| s.service_type.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn restart(&self) -> String {
        self.get(|s| s.restart.clone())
    }

    #[zbus(property(emits_changed_signal = "false"), name = "RestartUSec")]
    fn restart_usec(&self) -> u64 {
        self.get(|s| s.restart_usec)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "NRestarts")]
    fn n_restarts(&self) -> u32 {
        self.get(|s| s.n_restarts)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn remain_after_exit(&self) -> bool {
        self.get(|s| s.remain_after_exit)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "PIDFile")]
    fn pid_file(&self) -> String {
        self.get(|s| s.pid_file.clone())
    }

    #[zbus(property(emits_changed_signal = "false"), name = "MainPID")]
    fn main_pid(&self) -> u32 {
        self.get(|s| s.main_pid)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "ControlPID")]
    fn control_pid(&self) -> u32 {
        self.get(|s| s.control_pid)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "ExecMainPID")]
    fn exec_main_pid(&self) -> u32 {
        self.get(|s| s.exec_main_pid)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn exec_main_code(&self) -> i32 {
        self.get(|s| s.exec_main_code)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn exec_main_status(&self) -> i32 {
        self.get(|s| s.exec_main_status)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn exec_main_start_timestamp(&self) -> u64 {
        self.get(|s| s.exec_main_start_timestamp)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn exec_main_exit_timestamp(&self) -> u64 {
        self.get(|s| s.exec_main_exit_timestamp)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn result(&self) -> String {
        self.get(|s| s.result.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn status_text(&self) -> String {
        self.get(|s| s.status_text.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn control_group(&self) -> String {
        self.get(|s| s.control_group.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn memory_current(&self) -> u64 {
        self.ctx
            .stats(&self.name)
            .and_then(|s| s.memory_current)
            .unwrap_or(u64::MAX)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn tasks_current(&self) -> u64 {
        self.ctx
            .stats(&self.name)
            .and_then(|s| s.tasks_current)
            .unwrap_or(u64::MAX)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "CPUUsageNSec")]
    fn cpu_usage_nsec(&self) -> u64 {
        self.ctx
            .stats(&self.name)
            .and_then(|s| s.cpu_usage_nsec)
            .unwrap_or(u64::MAX)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "TimeoutStartUSec")]
    fn timeout_start_usec(&self) -> u64 {
        self.get(|s| s.timeout_start_usec)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "TimeoutStopUSec")]
    fn timeout_stop_usec(&self) -> u64 {
        self.get(|s| s.timeout_stop_usec)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "WatchdogUSec")]
    fn watchdog_usec(&self) -> u64 {
        self.get(|s| s.watchdog_usec)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn kill_mode(&self) -> String {
        self.get(|s| s.kill_mode.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn kill_signal(&self) -> i32 {
        self.get(|s| s.kill_signal)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn memory_max(&self) -> u64 {
        self.get(|s| s.memory_max)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn tasks_max(&self) -> u64 {
        self.get(|s| s.tasks_max)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "CPUQuotaPerSecUSec")]
    fn cpu_quota_per_sec_usec(&self) -> u64 {
        self.get(|s| s.cpu_quota_per_sec_usec)
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn exec_start(&self) -> Vec<ExecRow> {
        self.get(|s| {
            s.exec_start
                .iter()
                .map(|(path, argv, ignore)| {
                    (
                        path.clone(),
                        argv.clone(),
                        *ignore,
                        s.exec_main_start_timestamp,
                        0,
                        s.exec_main_exit_timestamp,
                        0,
                        s.exec_main_pid,
                        s.exec_main_code,
                        s.exec_main_status,
                    )
                })
                .collect()
        })
    }
}
