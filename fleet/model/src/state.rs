//! Desired and reported unit states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the user asked for a unit (fleet's job target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    /// In the registry only: not scheduled, not on any machine.
    Inactive,
    /// Scheduled and its file loaded into the machine's unitd, not started.
    Loaded,
    /// Scheduled, loaded and started.
    Launched,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Inactive => "inactive",
            TargetState::Loaded => "loaded",
            TargetState::Launched => "launched",
        }
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target state that is none of the three (fleet's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {0:?} for JobState")]
pub struct TargetStateError(pub String);

impl FromStr for TargetState {
    type Err = TargetStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inactive" => Ok(TargetState::Inactive),
            "loaded" => Ok(TargetState::Loaded),
            "launched" => Ok(TargetState::Launched),
            other => Err(TargetStateError(other.to_string())),
        }
    }
}

/// What an agent reports about a unit on its machine (the value of `state/<unit>/<machine>`, bound to the
/// agent's lease so it disappears with the machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UnitState {
    pub name: String,
    /// unitd's `LoadState` (loaded, not-found, …).
    pub load_state: String,
    /// unitd's `ActiveState` (active, activating, failed, …).
    pub active_state: String,
    /// unitd's `SubState` (running, exited, dead, …).
    pub sub_state: String,
    /// The hash of the unit file the agent loaded.
    pub hash: String,
    pub machine_id: String,
}

impl UnitState {
    /// Whether the unit has processes or is coming up here, so moving it would restart it.
    pub fn is_running(&self) -> bool {
        is_running_state(&self.active_state)
    }
}

/// Whether a unit in this unitd `ActiveState` has processes or is coming up (or going down): stopping or moving
/// it would interrupt it.
pub fn is_running_state(active_state: &str) -> bool {
    matches!(
        active_state,
        "active" | "activating" | "reloading" | "deactivating"
    )
}

/// Whether fleet shows a unit in this unitd `ActiveState` as `launched`: running, or on its way up.
pub fn is_launched_state(active_state: &str) -> bool {
    matches!(active_state, "active" | "activating" | "reloading")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_states_round_trip_and_refuse_others() {
        for s in [
            TargetState::Inactive,
            TargetState::Loaded,
            TargetState::Launched,
        ] {
            assert_eq!(s.as_str().parse::<TargetState>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).expect("ser"), format!("\"{s}\""));
        }
        assert_eq!(
            "running".parse::<TargetState>().unwrap_err().to_string(),
            "invalid value \"running\" for JobState"
        );
        assert!(
            TargetState::Inactive < TargetState::Loaded
                && TargetState::Loaded < TargetState::Launched
        );
    }
}
