//! An in-memory [`Driver`] for tests: a registry in a mutex, a log of every write, and an optional `tick`
//! run before every read that plays fleetd (schedules, starts, stops) so the waiters have something to watch.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use fleet_model::schema::{ApiMachine, ApiUnit, ApiUnitState};
use fleet_model::{TargetState, UnitFile};

use super::{is_global, unit_file, Driver, DriverError};
use crate::names::is_template;

/// Plays the cluster forward one step.
pub type Tick = Box<dyn FnMut(&mut Cluster) + Send>;

/// The fake's state.
#[derive(Default)]
pub struct Cluster {
    pub units: BTreeMap<String, ApiUnit>,
    pub states: Vec<ApiUnitState>,
    pub machines: Vec<ApiMachine>,
    /// Every write, in order (`create a.service inactive`, `set a.service launched`, `replace a.service
    /// <short hash> launched`, `destroy a.service`).
    pub log: Vec<String>,
    /// Reads so far.
    pub reads: usize,
    /// When set, every read fails with this message.
    pub fail_reads: Option<String>,
}

pub struct FakeDriver {
    cluster: Mutex<Cluster>,
    tick: Mutex<Option<Tick>>,
}

impl FakeDriver {
    pub fn new(cluster: Cluster) -> FakeDriver {
        FakeDriver {
            cluster: Mutex::new(cluster),
            tick: Mutex::new(None),
        }
    }

    /// A fake whose cluster reaches every desired state at once ([`converge`]).
    pub fn converging(cluster: Cluster) -> FakeDriver {
        let d = FakeDriver::new(cluster);
        d.set_tick(Box::new(converge));
        d
    }

    /// A converging fake whose agents then publish every state changed by `edit` (a unit that fails, that
    /// stays activating, that runs other contents).
    pub fn converging_with(
        cluster: Cluster,
        edit: impl Fn(&mut ApiUnitState) + Send + 'static,
    ) -> FakeDriver {
        let d = FakeDriver::new(cluster);
        d.set_tick(Box::new(move |c| {
            converge(c);
            c.states.iter_mut().for_each(&edit);
        }));
        d
    }

    pub fn set_tick(&self, tick: Tick) {
        *self.tick.lock().unwrap_or_else(PoisonError::into_inner) = Some(tick);
    }

    /// Runs `f` on the cluster.
    pub fn with<T>(&self, f: impl FnOnce(&mut Cluster) -> T) -> T {
        f(&mut self.cluster.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn log(&self) -> Vec<String> {
        self.with(|c| c.log.clone())
    }

    fn read<T>(&self, f: impl FnOnce(&Cluster) -> T) -> Result<T, DriverError> {
        let mut c = self.cluster.lock().unwrap_or_else(PoisonError::into_inner);
        c.reads += 1;
        if let Some(tick) = self
            .tick
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            tick(&mut c);
        }
        if let Some(msg) = &c.fail_reads {
            return Err(DriverError::Refused(msg.clone()));
        }
        Ok(f(&c))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Cluster) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        f(&mut self.cluster.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A unit with `text` as its contents.
pub fn unit(name: &str, text: &str, desired: TargetState) -> ApiUnit {
    ApiUnit {
        name: name.to_string(),
        options: UnitFile::parse(text)
            .expect("valid unit text")
            .options()
            .to_vec(),
        desired_state: desired.to_string(),
        current_state: if text.contains("Global=true") {
            String::new()
        } else {
            "inactive".to_string()
        },
        ..ApiUnit::default()
    }
}

pub fn machine(id: &str, ip: &str) -> ApiMachine {
    ApiMachine {
        id: id.to_string(),
        primary_ip: ip.to_string(),
        ..ApiMachine::default()
    }
}

/// An instant fleetd: every unit reaches its desired state now. Units with an unschedulable reason, or with
/// no machine to go to, stay unscheduled.
pub fn converge(c: &mut Cluster) {
    let first = c.machines.first().map(|m| m.id.clone());
    let names: Vec<String> = c.units.keys().cloned().collect();
    for name in names {
        let Some(u) = c.units.get(&name).cloned() else {
            continue;
        };
        let hash = unit_file(&u).hash().to_string();
        let desired: TargetState = u.desired_state.parse().unwrap_or(TargetState::Inactive);
        c.states.retain(|s| s.name != name);
        if is_global(&u) {
            if desired != TargetState::Inactive {
                let ids: Vec<String> = c.machines.iter().map(|m| m.id.clone()).collect();
                for id in ids {
                    c.states.push(published(&name, &hash, &id, desired));
                }
            }
            continue;
        }
        let target = match (desired, first.clone()) {
            (TargetState::Inactive, _) => None,
            _ if !u.unschedulable_reason.is_empty() => None,
            (_, m) => m,
        };
        let entry = c.units.get_mut(&name).expect("present");
        match target {
            None => {
                entry.machine_id.clear();
                entry.current_state = "inactive".into();
            }
            Some(m) => {
                entry.machine_id = m.clone();
                entry.current_state = desired.to_string();
                c.states.push(published(&name, &hash, &m, desired));
            }
        }
    }
}

/// A published state turned into a failed unit's.
pub fn fail(s: &mut ApiUnitState) {
    s.active_state = "failed".into();
    s.sub_state = "failed".into();
}

/// fleetd's answer about a unit it does not have.
fn no_such_unit() -> DriverError {
    DriverError::Api {
        code: 404,
        message: "unit does not exist".into(),
        body: String::new(),
    }
}

/// What an agent would publish for a unit in `state`.
pub fn published(name: &str, hash: &str, machine: &str, state: TargetState) -> ApiUnitState {
    let (active, sub) = match state {
        TargetState::Launched => ("active", "running"),
        _ => ("inactive", "dead"),
    };
    ApiUnitState {
        name: name.to_string(),
        hash: hash.to_string(),
        machine_id: machine.to_string(),
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: sub.into(),
    }
}

impl Driver for FakeDriver {
    async fn units(&self) -> Result<Vec<ApiUnit>, DriverError> {
        self.read(|c| c.units.values().cloned().collect())
    }

    async fn unit(&self, name: &str) -> Result<Option<ApiUnit>, DriverError> {
        self.read(|c| c.units.get(name).cloned())
    }

    async fn unit_states(&self, unit: Option<&str>) -> Result<Vec<ApiUnitState>, DriverError> {
        self.read(|c| {
            let mut s: Vec<ApiUnitState> = c
                .states
                .iter()
                .filter(|s| unit.is_none_or(|u| s.name == u))
                .cloned()
                .collect();
            s.sort_by(|a, b| (&a.name, &a.machine_id).cmp(&(&b.name, &b.machine_id)));
            s
        })
    }

    async fn machines(&self) -> Result<Vec<ApiMachine>, DriverError> {
        self.read(|c| c.machines.clone())
    }

    async fn create_unit(
        &self,
        name: &str,
        file: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        self.write(|c| {
            c.log.push(format!("create {name} {desired}"));
            let mut u = unit(name, "[Unit]\n", desired);
            u.options = file.options().to_vec();
            if is_global(&u) {
                u.current_state.clear();
            }
            c.units.insert(name.to_string(), u);
            Ok(())
        })
    }

    async fn replace_unit(
        &self,
        name: &str,
        file: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        self.write(|c| {
            c.log
                .push(format!("replace {name} {} {desired}", file.hash().short()));
            let u = c.units.get_mut(name).ok_or_else(no_such_unit)?;
            u.options = file.options().to_vec();
            u.desired_state = desired.to_string();
            Ok(())
        })
    }

    async fn set_desired_state(&self, name: &str, desired: TargetState) -> Result<(), DriverError> {
        self.write(|c| {
            if is_template(name) && desired != TargetState::Inactive {
                return Err(DriverError::Api {
                    code: 400,
                    message: format!("cannot activate template {name:?}"),
                    body: String::new(),
                });
            }
            c.log.push(format!("set {name} {desired}"));
            match c.units.get_mut(name) {
                Some(u) => {
                    u.desired_state = desired.to_string();
                    Ok(())
                }
                None => Err(no_such_unit()),
            }
        })
    }

    async fn destroy_unit(&self, name: &str) -> Result<(), DriverError> {
        self.write(|c| {
            c.log.push(format!("destroy {name}"));
            match c.units.remove(name) {
                Some(_) => Ok(()),
                None => Err(no_such_unit()),
            }
        })
    }
}
