//! What the agent must do to bring this machine from what it has to what it should have: a pure function
//! (fleet's `calculateTasksForUnits`), so the ordering rules are tested without unitd.
//!
//! Per unit, with `d` what should be here and `c` what is here:
//! - neither, or `d` inactive and no `c`: nothing;
//! - `c` but no `d`: unload — unless the unit still wants to run, is not scheduled anywhere yet and this
//!   machine could still run it (it is `keep`), in which case it keeps running here until the engine places
//!   it (fleet issue #1690: a machine coming back from a KV outage must not kill units that are not running
//!   anywhere else);
//! - `d` but no `c`: load, then start if `d` is launched;
//! - different hashes: unload, load, and start if launched (`fleetctl --replace`);
//! - `c` loaded and `d` launched: start; `c` launched and `d` loaded: stop.
//!
//! Tasks are ordered unloads, loads, stops, starts (fleet's order; stable within a kind, by unit name), so a
//! replaced unit is gone before its successor loads, and every file is in place before the one daemon-reload
//! that precedes the starts.

use std::collections::{BTreeMap, BTreeSet};

use fleet_model::{TargetState, UnitHash};

/// A unit on this machine: which contents, in which state. Both what should be here and what the agent
/// loaded are described this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitVersion {
    pub hash: UnitHash,
    /// `Loaded` or `Launched` (inactive units are not wanted anywhere, and not kept loaded).
    pub state: TargetState,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    /// Stop (if running), then remove the file; only after a successful stop.
    Unload {
        unit: String,
        reason: &'static str,
    },
    /// Write the file (enable it if it has `[Install]`).
    Load {
        unit: String,
        reason: &'static str,
    },
    Stop {
        unit: String,
        reason: &'static str,
    },
    Start {
        unit: String,
        reason: &'static str,
    },
}

impl Task {
    pub fn unit(&self) -> &str {
        match self {
            Task::Unload { unit, .. }
            | Task::Load { unit, .. }
            | Task::Stop { unit, .. }
            | Task::Start { unit, .. } => unit,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Task::Unload { .. } => "unload",
            Task::Load { .. } => "load",
            Task::Stop { .. } => "stop",
            Task::Start { .. } => "start",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Task::Unload { .. } => 0,
            Task::Load { .. } => 1,
            Task::Stop { .. } => 2,
            Task::Start { .. } => 3,
        }
    }
}

/// The tasks that take `current` to `desired`; `keep` are units to leave running although not desired here.
pub fn plan(
    desired: &BTreeMap<String, UnitVersion>,
    current: &BTreeMap<String, UnitVersion>,
    keep: &BTreeSet<String>,
) -> Vec<Task> {
    let names: BTreeSet<&String> = desired.keys().chain(current.keys()).collect();
    let mut tasks = Vec::new();
    for name in names {
        let unit = name.clone();
        match (desired.get(name), current.get(name)) {
            (None, None) => {}
            (None, Some(_)) => {
                if !keep.contains(name) {
                    tasks.push(Task::Unload {
                        unit,
                        reason: "unit loaded but not scheduled here",
                    });
                }
            }
            (Some(d), None) => {
                tasks.push(Task::Load {
                    unit: unit.clone(),
                    reason: "unit scheduled here but not loaded",
                });
                if d.state == TargetState::Launched {
                    tasks.push(Task::Start {
                        unit,
                        reason: "unit currently loaded but desired state is launched",
                    });
                }
            }
            (Some(d), Some(c)) if d.hash != c.hash => {
                tasks.push(Task::Unload {
                    unit: unit.clone(),
                    reason: "unit loaded but hash differs to expected",
                });
                tasks.push(Task::Load {
                    unit: unit.clone(),
                    reason: "unit scheduled here but not loaded",
                });
                if d.state == TargetState::Launched {
                    tasks.push(Task::Start {
                        unit,
                        reason: "unit currently loaded but desired state is launched",
                    });
                }
            }
            (Some(d), Some(c)) => match (c.state, d.state) {
                (TargetState::Loaded, TargetState::Launched) => tasks.push(Task::Start {
                    unit,
                    reason: "unit currently loaded but desired state is launched",
                }),
                (TargetState::Launched, TargetState::Loaded) => tasks.push(Task::Stop {
                    unit,
                    reason: "unit currently launched but desired state is loaded",
                }),
                _ => {}
            },
        }
    }
    tasks.sort_by_key(Task::rank);
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> UnitHash {
        UnitHash([n; 20])
    }

    /// Units by name: (name, hash byte, state).
    fn units(items: &[(&str, u8, TargetState)]) -> BTreeMap<String, UnitVersion> {
        items
            .iter()
            .map(|(n, hash, state)| {
                (
                    n.to_string(),
                    UnitVersion {
                        hash: h(*hash),
                        state: *state,
                    },
                )
            })
            .collect()
    }

    fn kinds(tasks: &[Task]) -> Vec<String> {
        tasks
            .iter()
            .map(|t| format!("{} {}", t.kind(), t.unit()))
            .collect()
    }

    use TargetState::{Launched, Loaded};

    #[test]
    fn desired_versus_current_table() {
        let d = units(&[
            ("new.service", 1, Launched),
            ("newload.service", 1, Loaded),
            ("up.service", 1, Launched),
            ("down.service", 1, Loaded),
            ("same.service", 1, Launched),
            ("changed.service", 2, Launched),
        ]);
        let c = units(&[
            ("up.service", 1, Loaded),
            ("down.service", 1, Launched),
            ("same.service", 1, Launched),
            ("changed.service", 1, Launched),
            ("gone.service", 1, Launched),
        ]);
        let tasks = plan(&d, &c, &BTreeSet::new());
        assert_eq!(
            kinds(&tasks),
            [
                "unload changed.service",
                "unload gone.service",
                "load changed.service",
                "load new.service",
                "load newload.service",
                "stop down.service",
                "start changed.service",
                "start new.service",
                "start up.service",
            ]
        );
    }

    #[test]
    fn a_unit_not_scheduled_anywhere_keeps_running() {
        let c = units(&[
            ("orphan.service", 1, Launched),
            ("moved.service", 1, Launched),
        ]);
        let keep = BTreeSet::from(["orphan.service".to_string()]);
        assert_eq!(
            kinds(&plan(&BTreeMap::new(), &c, &keep)),
            ["unload moved.service"]
        );
    }

    #[test]
    fn nothing_to_do_when_in_step() {
        let d = units(&[("a.service", 1, Launched)]);
        let c = units(&[("a.service", 1, Launched)]);
        assert!(plan(&d, &c, &BTreeSet::new()).is_empty());
    }
}
