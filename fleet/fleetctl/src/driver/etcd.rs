//! [`EtcdDriver`]: fleet's registry read and written directly in the KV store (`--driver etcd`), through
//! `fleet-registry`. Units are shown as fleet's API shows them, with the same derived `currentState`.
//!
//! Lists read the whole registry at one revision ([`fleet_registry::Registry::cluster`]); a single unit is one
//! narrow read ([`fleet_registry::Registry::unit`]), which is what the waiters poll.

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_model::schema::{ApiMachine, ApiUnit, ApiUnitState};
use fleet_model::{MachineState, TargetState, UnitFile, UnitState};
use fleet_registry::{Registry, Unit};

use super::{Driver, DriverError};
use crate::names::is_template;

/// fleet's registry in the KV store.
pub struct EtcdDriver {
    registry: Registry,
}

impl EtcdDriver {
    /// Connects to the KV store at `endpoints`, fleet's keys under `prefix`.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        request_timeout: Duration,
    ) -> Result<EtcdDriver, DriverError> {
        Ok(EtcdDriver {
            registry: Registry::connect(endpoints, prefix, request_timeout).await?,
        })
    }
}

/// fleet's `currentState` of a non-global unit, derived exactly as fleetd's API derives it (so both drivers
/// show the same): `inactive` unless its machine published a state for it; `launched` if that state is
/// active, activating or reloading; `loaded` otherwise.
pub fn current_state(target: Option<&str>, states: &BTreeMap<String, UnitState>) -> TargetState {
    match target.and_then(|m| states.get(m)) {
        None => TargetState::Inactive,
        Some(s)
            if matches!(
                s.active_state.as_str(),
                "active" | "activating" | "reloading"
            ) =>
        {
            TargetState::Launched
        }
        Some(_) => TargetState::Loaded,
    }
}

/// A registry unit as fleet's API shows it (global units have no machine and no current state).
fn api_unit(unit: &Unit, states: &BTreeMap<String, UnitState>) -> ApiUnit {
    let global = unit.requirements().global;
    let (current_state, machine_id) = if global {
        (String::new(), String::new())
    } else {
        (
            current_state(unit.target.as_deref(), states).to_string(),
            unit.target.clone().unwrap_or_default(),
        )
    };
    ApiUnit {
        name: unit.name.clone(),
        options: unit.file.options().to_vec(),
        desired_state: unit.target_state.to_string(),
        current_state,
        machine_id,
        unschedulable_reason: unit.unschedulable.clone().unwrap_or_default(),
    }
}

fn api_state(s: &UnitState, name: &str, machine: &str) -> ApiUnitState {
    ApiUnitState {
        name: name.to_string(),
        hash: s.hash.clone(),
        machine_id: machine.to_string(),
        load_state: s.load_state.clone(),
        active_state: s.active_state.clone(),
        sub_state: s.sub_state.clone(),
    }
}

fn api_machine(m: &MachineState) -> ApiMachine {
    ApiMachine {
        id: m.id.clone(),
        primary_ip: m.public_ip.clone(),
        metadata: m.metadata.clone(),
        api: m.api.clone(),
    }
}

impl Driver for EtcdDriver {
    async fn units(&self) -> Result<Vec<ApiUnit>, DriverError> {
        let cluster = self.registry.cluster().await?;
        let none = BTreeMap::new();
        Ok(cluster
            .units
            .values()
            .map(|u| api_unit(u, cluster.states.get(&u.name).unwrap_or(&none)))
            .collect())
    }

    async fn unit(&self, name: &str) -> Result<Option<ApiUnit>, DriverError> {
        Ok(self
            .registry
            .unit(name)
            .await?
            .map(|(unit, states)| api_unit(&unit, &states)))
    }

    async fn unit_states(&self, unit: Option<&str>) -> Result<Vec<ApiUnitState>, DriverError> {
        let states = match unit {
            Some(name) => {
                let per_machine = self
                    .registry
                    .unit(name)
                    .await?
                    .map(|(_, s)| s)
                    .unwrap_or_default();
                BTreeMap::from([(name.to_string(), per_machine)])
            }
            None => self.registry.cluster().await?.states,
        };
        Ok(states
            .iter()
            .flat_map(|(name, per_machine)| {
                per_machine
                    .iter()
                    .map(move |(machine, s)| api_state(s, name, machine))
            })
            .collect())
    }

    async fn machines(&self) -> Result<Vec<ApiMachine>, DriverError> {
        let cluster = self.registry.cluster().await?;
        Ok(cluster.machines.values().map(api_machine).collect())
    }

    async fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        Ok(self.registry.create_unit(name, unit, desired).await?)
    }

    async fn replace_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        // Two writes: lower the target first when going down (so agents never start the new contents only to
        // stop them), raise it last when going up or staying.
        if desired == TargetState::Inactive {
            self.registry.set_target_state(name, desired).await?;
            self.registry.replace_unit(name, unit).await?;
        } else {
            self.registry.replace_unit(name, unit).await?;
            self.registry.set_target_state(name, desired).await?;
        }
        Ok(())
    }

    async fn set_desired_state(&self, name: &str, desired: TargetState) -> Result<(), DriverError> {
        if is_template(name) && desired != TargetState::Inactive {
            return Err(DriverError::Refused(format!(
                "cannot activate template {name:?}"
            )));
        }
        Ok(self.registry.set_target_state(name, desired).await?)
    }

    async fn destroy_unit(&self, name: &str) -> Result<(), DriverError> {
        Ok(self.registry.destroy_unit(name).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(machine: &str, active: &str) -> BTreeMap<String, UnitState> {
        BTreeMap::from([(
            machine.to_string(),
            UnitState {
                name: "a.service".into(),
                load_state: "loaded".into(),
                active_state: active.into(),
                sub_state: "x".into(),
                hash: String::new(),
                machine_id: machine.into(),
            },
        )])
    }

    #[test]
    fn current_state_follows_the_schedule_and_the_published_state() {
        use TargetState::*;
        let none = BTreeMap::new();
        let table = [
            (None, none.clone(), Inactive),
            (Some("m1"), none.clone(), Inactive),
            (Some("m1"), states("m2", "active"), Inactive),
            (Some("m1"), states("m1", "inactive"), Loaded),
            (Some("m1"), states("m1", "failed"), Loaded),
            (Some("m1"), states("m1", "deactivating"), Loaded),
            (Some("m1"), states("m1", "activating"), Launched),
            (Some("m1"), states("m1", "reloading"), Launched),
            (Some("m1"), states("m1", "active"), Launched),
            (None, states("m1", "active"), Inactive),
        ];
        for (target, s, want) in table {
            assert_eq!(current_state(target, &s), want, "{target:?} {s:?}");
        }
    }
}
