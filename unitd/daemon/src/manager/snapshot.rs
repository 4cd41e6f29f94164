//! Copies of manager state for the D-Bus layer: property reads and ListUnits are answered from here without a
//! round trip to the manager task. The manager refreshes a unit's snapshot whenever the unit changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use unitd_cgroup::{CgroupManager, Cgroups};
use unitfile::{KillMode, RestartPolicy, ServiceType};

use super::graph::UnitDeps;
use super::jobs::Job;
use super::unit::{Runtime, ServiceSnapshot, Unit, UnitSnapshot};
use super::ManagerConfig;

/// Manager-wide properties.
#[derive(Debug, Clone, Default)]
pub struct ManagerSnapshot {
    pub unit_path: Vec<String>,
    pub state_dir: String,
    pub runtime_dir: String,
    pub n_names: u32,
    pub n_jobs: u32,
    pub n_failed: u32,
    /// The manager environment as processes get it (`PATH`, `LANG`, then what `set-environment` set), sorted.
    pub environment: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct JobSnapshot {
    pub id: u32,
    pub unit: String,
    pub job_type: String,
    pub state: String,
}

#[derive(Debug, Default)]
pub struct Shared {
    pub units: HashMap<String, UnitSnapshot>,
    pub jobs: BTreeMap<u32, JobSnapshot>,
    pub manager: ManagerSnapshot,
}

pub type SharedState = Arc<RwLock<Shared>>;

impl Shared {
    pub fn new(cfg: &ManagerConfig) -> Shared {
        Shared {
            manager: ManagerSnapshot {
                unit_path: cfg
                    .unit_path
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                state_dir: cfg.state_dir.display().to_string(),
                runtime_dir: cfg.runtime_dir.display().to_string(),
                ..ManagerSnapshot::default()
            },
            ..Shared::default()
        }
    }

    pub fn refresh_counts(&mut self, units: &BTreeMap<String, Unit>, n_jobs: usize) {
        self.manager.n_names = units.len() as u32;
        self.manager.n_jobs = n_jobs as u32;
        self.manager.n_failed = units
            .values()
            .filter(|u| u.active_state().as_str() == "failed")
            .count() as u32;
    }
}

pub fn job_snapshot(job: &Job) -> JobSnapshot {
    JobSnapshot {
        id: job.id,
        unit: job.unit.clone(),
        job_type: job.kind.as_str().to_string(),
        state: job.state.as_str().to_string(),
    }
}

fn usec(d: Option<std::time::Duration>) -> u64 {
    d.map_or(u64::MAX, |d| d.as_micros() as u64)
}

pub fn unit_snapshot(
    u: &Unit,
    deps: &UnitDeps,
    jobs: &BTreeMap<u32, Job>,
    cgroups: Option<&std::sync::Arc<Cgroups>>,
) -> UnitSnapshot {
    let config = u.config.as_deref();
    let service = match &u.runtime {
        Runtime::Service(s) => {
            let c = &s.cfg;
            let exit = s.exec_main_exit;
            Some(ServiceSnapshot {
                service_type: service_type_name(c.service_type).to_string(),
                restart: restart_name(c.restart).to_string(),
                restart_usec: c.restart_sec.as_micros() as u64,
                n_restarts: s.n_restarts,
                remain_after_exit: c.remain_after_exit,
                pid_file: c
                    .pid_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                main_pid: s.main_pid.unwrap_or(0) as u32,
                control_pid: s.control.map_or(0, |c| c.pid as u32),
                exec_main_pid: s.exec_main_pid,
                exec_main_code: exit.map_or(0, |e| e.code()),
                exec_main_status: exit.map_or(0, |e| e.status()),
                exec_main_start_timestamp: s.exec_main_start_usec,
                exec_main_exit_timestamp: s.exec_main_exit_usec,
                result: s.result.as_str().to_string(),
                status_text: s.status_text.clone(),
                control_group: cgroups.map(|cg| cg.unit_path(&u.name)).unwrap_or_default(),
                timeout_start_usec: usec(c.timeout_start_sec),
                timeout_stop_usec: usec(c.timeout_stop_sec),
                watchdog_usec: c.watchdog_sec.map_or(0, |d| d.as_micros() as u64),
                kill_mode: kill_mode_name(c.kill.kill_mode).to_string(),
                kill_signal: c.kill.kill_signal,
                memory_max: c.resources.memory_max.unwrap_or(u64::MAX),
                tasks_max: c.resources.tasks_max.unwrap_or(u64::MAX),
                cpu_quota_per_sec_usec: c
                    .resources
                    .cpu_quota_percent
                    .map_or(u64::MAX, |p| p as u64 * 10_000),
                exec_start: c
                    .exec_start
                    .iter()
                    .map(|e| (e.path.clone(), e.argv.clone(), e.flags.ignore_failure))
                    .collect(),
            })
        }
        _ => None,
    };
    UnitSnapshot {
        id: u.name.clone(),
        description: u.description(),
        load_state: u.load_state.as_str().to_string(),
        active_state: u.active_state().as_str().to_string(),
        sub_state: u.sub_state().to_string(),
        fragment_path: config
            .and_then(|c| c.fragment_path.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        dropin_paths: config
            .map(|c| {
                c.dropin_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        unit_file_state: u.unit_file_state.clone(),
        deps: deps.clone(),
        timestamps: u.timestamps,
        job: u
            .job
            .and_then(|id| jobs.get(&id))
            .map(|j| (j.id, j.kind.as_str().to_string())),
        load_error: u.load_error.clone().unwrap_or_default(),
        invocation_id: u
            .service()
            .and_then(|s| s.invocation_id)
            .map(|id| id.to_vec())
            .unwrap_or_default(),
        service,
    }
}

fn service_type_name(t: ServiceType) -> &'static str {
    match t {
        ServiceType::Simple => "simple",
        ServiceType::Exec => "exec",
        ServiceType::Forking => "forking",
        ServiceType::Oneshot => "oneshot",
        ServiceType::Dbus => "dbus",
        ServiceType::Notify => "notify",
    }
}

fn restart_name(r: RestartPolicy) -> &'static str {
    match r {
        RestartPolicy::No => "no",
        RestartPolicy::OnSuccess => "on-success",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::OnAbnormal => "on-abnormal",
        RestartPolicy::OnWatchdog => "on-watchdog",
        RestartPolicy::OnAbort => "on-abort",
        RestartPolicy::Always => "always",
    }
}

fn kill_mode_name(k: KillMode) -> &'static str {
    match k {
        KillMode::ControlGroup => "control-group",
        KillMode::Mixed => "mixed",
        KillMode::Process => "process",
        KillMode::None => "none",
    }
}
