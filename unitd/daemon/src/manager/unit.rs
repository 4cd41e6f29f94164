//! A loaded unit: its configuration (or why it has none), its runtime (service state machine or target flag),
//! its job, and the timestamps of its state changes; plus [`UnitSnapshot`], the copy of everything D-Bus reads.

use std::sync::Arc;

use unitfile::UnitConfig;

use super::service::Service;
use super::state::{ActiveState, LoadState};

/// What runs for the unit.
#[derive(Debug)]
pub enum Runtime {
    Service(Box<Service>),
    /// A target only groups other units: active once started.
    Target {
        active: bool,
    },
    /// Loaded but of a type unitd does not run (socket, timer, mount, …); it can't be started.
    Unsupported,
    /// Not loaded (not found, bad setting, masked).
    None,
}

/// Microsecond wall-clock timestamps of state changes (0 = never), as systemd's unit properties.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timestamps {
    pub active_enter: u64,
    pub active_exit: u64,
    pub inactive_enter: u64,
    pub inactive_exit: u64,
    pub state_change: u64,
}

#[derive(Debug)]
pub struct Unit {
    pub name: String,
    pub load_state: LoadState,
    /// The D-Bus error name and message of a failed load.
    pub load_error: Option<(String, String)>,
    pub config: Option<Arc<UnitConfig>>,
    pub runtime: Runtime,
    pub job: Option<u32>,
    pub timestamps: Timestamps,
    /// Units found in `NAME.wants/` and `NAME.requires/` directories (enable links), added to Wants/Requires.
    pub extra_wants: Vec<String>,
    pub extra_requires: Vec<String>,
    /// enabled/disabled/static/…: read at load and after enable/disable, not on every state change.
    pub unit_file_state: String,
    /// Active-state changes of a target since the last publish, with their times (services keep their own).
    pub transitions: Vec<(ActiveState, u64)>,
    /// The states last published, to detect changes.
    pub published: Option<(ActiveState, &'static str)>,
}

impl Unit {
    pub fn active_state(&self) -> ActiveState {
        match &self.runtime {
            Runtime::Service(s) => s.state.active_state(),
            Runtime::Target { active: true } => ActiveState::Active,
            _ => ActiveState::Inactive,
        }
    }

    pub fn sub_state(&self) -> &'static str {
        match &self.runtime {
            Runtime::Service(s) => s.state.as_str(),
            Runtime::Target { active: true } => "active",
            _ => "dead",
        }
    }

    pub fn description(&self) -> String {
        match &self.config {
            Some(c) => c
                .description
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| self.name.clone()),
            _ => self.name.clone(),
        }
    }

    pub fn service(&self) -> Option<&Service> {
        match &self.runtime {
            Runtime::Service(s) => Some(s),
            _ => None,
        }
    }

    pub fn service_mut(&mut self) -> Option<&mut Service> {
        match &mut self.runtime {
            Runtime::Service(s) => Some(s),
            _ => None,
        }
    }

    /// Dependency names of one kind from the configuration (plus enable links for wants/requires).
    pub fn deps(&self, kind: DepKind) -> Vec<String> {
        let mut names: Vec<String> = match &self.config {
            Some(c) => {
                let list = match kind {
                    DepKind::Requires => &c.requires,
                    DepKind::Requisite => &c.requisite,
                    DepKind::Wants => &c.wants,
                    DepKind::BindsTo => &c.binds_to,
                    DepKind::PartOf => &c.part_of,
                    DepKind::Conflicts => &c.conflicts,
                    DepKind::After => &c.after,
                    DepKind::Before => &c.before,
                    DepKind::OnFailure => &c.on_failure,
                    DepKind::OnSuccess => &c.on_success,
                    DepKind::Upholds => &c.upholds,
                };
                list.iter().map(|d| d.unit.to_string()).collect()
            }
            None => Vec::new(),
        };
        match kind {
            DepKind::Wants => names.extend(self.extra_wants.iter().cloned()),
            DepKind::Requires => names.extend(self.extra_requires.iter().cloned()),
            _ => {}
        }
        names
    }

    /// Whether `DefaultDependencies=` is on (the default) for a loaded unit.
    fn default_dependencies(&self) -> bool {
        self.load_state == LoadState::Loaded
            && self.config.as_ref().is_some_and(|c| c.default_dependencies)
    }

    /// The `After=` systemd adds to a target for each unit it pulls in (`Requires=`, `Requisite=`, `Wants=`,
    /// `BindsTo=`, enable links included), as its `unit_add_default_target_dependency`: only between loaded units
    /// that both keep `DefaultDependencies=yes`, and never against an ordering the other way (the target
    /// `Before=` the unit, or the unit `After=` the target). So a target's start job ends once what it pulls in
    /// has started — `systemctl start multi-user.target` returns with its services up. `get` finds a unit by name.
    pub fn default_target_after<'a>(&self, get: impl Fn(&str) -> Option<&'a Unit>) -> Vec<String> {
        if !self.name.ends_with(".target") || !self.default_dependencies() {
            return Vec::new();
        }
        let before = self.deps(DepKind::Before);
        let mut after = Vec::new();
        for kind in [
            DepKind::Requires,
            DepKind::Requisite,
            DepKind::Wants,
            DepKind::BindsTo,
            DepKind::Upholds,
        ] {
            for name in self.deps(kind) {
                let Some(other) = get(&name).filter(|o| o.default_dependencies()) else {
                    continue;
                };
                if before.contains(&name)
                    || other.deps(DepKind::After).contains(&self.name)
                    || after.contains(&name)
                {
                    continue;
                }
                after.push(name);
            }
        }
        after
    }

    /// Where a dependency on `other` of `kind` is written ("file:line"), for cycle reports.
    pub fn dep_place(&self, kind: DepKind, other: &str) -> String {
        let Some(c) = &self.config else {
            return self.name.clone();
        };
        let list = match kind {
            DepKind::After => &c.after,
            DepKind::Before => &c.before,
            _ => &c.requires,
        };
        list.iter()
            .find(|d| d.unit.as_str() == other)
            .map(|d| format!("{}:{}", d.file.display(), d.line))
            .unwrap_or_else(|| self.name.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    Requires,
    Requisite,
    Wants,
    BindsTo,
    PartOf,
    Conflicts,
    After,
    Before,
    /// Started when the unit enters the failed state.
    OnFailure,
    /// Started when the unit goes inactive after running, without failing.
    OnSuccess,
    /// Like Wants=, and started again whenever found inactive or failed while this unit is active.
    Upholds,
}

/// Everything the D-Bus layer reads about a unit, copied after each change so reads never wait on the manager.
#[derive(Debug, Clone, Default)]
pub struct UnitSnapshot {
    pub id: String,
    pub description: String,
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    pub fragment_path: String,
    pub dropin_paths: Vec<String>,
    pub unit_file_state: String,
    /// Its dependency lists, declared and inverse (see [`super::graph`]).
    pub deps: super::graph::UnitDeps,
    pub timestamps: Timestamps,
    pub job: Option<(u32, String)>,
    pub load_error: (String, String),
    /// The current activation's ID, 16 bytes; empty before the first start (systemd's null ID).
    pub invocation_id: Vec<u8>,
    pub service: Option<ServiceSnapshot>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceSnapshot {
    pub service_type: String,
    pub restart: String,
    pub restart_usec: u64,
    pub n_restarts: u32,
    pub remain_after_exit: bool,
    pub pid_file: String,
    pub main_pid: u32,
    pub control_pid: u32,
    pub exec_main_pid: u32,
    pub exec_main_code: i32,
    pub exec_main_status: i32,
    pub exec_main_start_timestamp: u64,
    pub exec_main_exit_timestamp: u64,
    pub result: String,
    pub status_text: String,
    pub control_group: String,
    pub timeout_start_usec: u64,
    pub timeout_stop_usec: u64,
    pub watchdog_usec: u64,
    pub kill_mode: String,
    pub kill_signal: i32,
    pub memory_max: u64,
    pub tasks_max: u64,
    pub cpu_quota_per_sec_usec: u64,
    /// ExecStart= lines as systemd's a(sasbttttuii).
    pub exec_start: Vec<(String, Vec<String>, bool)>,
}
