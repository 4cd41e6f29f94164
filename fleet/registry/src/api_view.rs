//! The registry's records as fleet's HTTP API shows them ([`fleet_model::schema`]). fleetd's API serves these,
//! and fleetctl's etcd driver builds the same from the KV store, so both drivers print the same thing.

use std::collections::BTreeMap;

use fleet_model::schema::{ApiMachine, ApiUnit, ApiUnitState};
use fleet_model::{is_launched_state, MachineState, TargetState, UnitState};

use crate::cluster::Unit;

/// fleet's `currentState` of a non-global unit: `inactive` unless its target machine published a state for
/// it; `launched` when that state is active, activating or reloading; `loaded` otherwise.
pub fn current_state(
    target: Option<&str>,
    states: Option<&BTreeMap<String, UnitState>>,
) -> TargetState {
    match target.and_then(|m| states?.get(m)) {
        None => TargetState::Inactive,
        Some(s) if is_launched_state(&s.active_state) => TargetState::Launched,
        Some(_) => TargetState::Loaded,
    }
}

/// A unit; `states` are its published states by machine. Global units have no machine and no current state.
pub fn api_unit(unit: &Unit, states: Option<&BTreeMap<String, UnitState>>) -> ApiUnit {
    let (machine_id, current) = if unit.requirements().global {
        (String::new(), String::new())
    } else {
        (
            unit.target.clone().unwrap_or_default(),
            current_state(unit.target.as_deref(), states)
                .as_str()
                .to_string(),
        )
    };
    ApiUnit {
        name: unit.name.clone(),
        options: unit.file.options().to_vec(),
        desired_state: unit.target_state.as_str().to_string(),
        current_state: current,
        machine_id,
        unschedulable_reason: unit.unschedulable.clone().unwrap_or_default(),
    }
}

/// A published state; the unit and machine are those of its key (`state/<name>/<machine>`).
pub fn api_unit_state(name: &str, machine: &str, s: &UnitState) -> ApiUnitState {
    ApiUnitState {
        name: name.to_string(),
        hash: s.hash.clone(),
        machine_id: machine.to_string(),
        load_state: s.load_state.clone(),
        active_state: s.active_state.clone(),
        sub_state: s.sub_state.clone(),
    }
}

/// A machine.
pub fn api_machine(m: &MachineState) -> ApiMachine {
    ApiMachine {
        id: m.id.clone(),
        primary_ip: m.public_ip.clone(),
        metadata: m.metadata.clone(),
        api: m.api.clone(),
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
            assert_eq!(current_state(target, Some(&s)), want, "{target:?} {s:?}");
        }
        assert_eq!(current_state(Some("m1"), None), Inactive);
    }
}
