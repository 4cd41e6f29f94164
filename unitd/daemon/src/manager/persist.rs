//! The state file (`STATE_DIR/units.json`): what a restarted unitd needs to re-attach to units that kept running —
//! each active unit's sub-state, main pid, restart count and timestamps. Written with write-to-temp + rename, so a
//! crash leaves either the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::unit::{Runtime, Timestamps, Unit};

const FILE: &str = "units.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedUnit {
    pub name: String,
    pub sub: String,
    pub main_pid: Option<i32>,
    #[serde(default)]
    pub result: String,
    #[serde(default)]
    pub n_restarts: u32,
    #[serde(default)]
    pub exec_main_start_usec: u64,
    #[serde(default)]
    pub active_enter: u64,
    #[serde(default)]
    pub inactive_exit: u64,
    /// The activation's `InvocationID`, so re-attached units keep theirs.
    #[serde(default)]
    pub invocation_id: Option<[u8; 16]>,
}

impl SavedUnit {
    pub fn timestamps(&self) -> Timestamps {
        Timestamps {
            active_enter: self.active_enter,
            inactive_exit: self.inactive_exit,
            state_change: self.active_enter,
            ..Timestamps::default()
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    units: Vec<SavedUnit>,
}

/// Records every unit that is not plainly dead.
pub fn save(dir: &Path, units: &BTreeMap<String, Unit>) {
    let saved: Vec<SavedUnit> = units
        .values()
        .filter_map(|u| match &u.runtime {
            Runtime::Service(s) if s.state.as_str() != "dead" => Some(SavedUnit {
                name: u.name.clone(),
                sub: s.state.as_str().to_string(),
                main_pid: s.main_pid,
                result: s.result.as_str().to_string(),
                n_restarts: s.n_restarts,
                exec_main_start_usec: s.exec_main_start_usec,
                active_enter: u.timestamps.active_enter,
                inactive_exit: u.timestamps.inactive_exit,
                invocation_id: s.invocation_id,
            }),
            Runtime::Target { active: true } => Some(SavedUnit {
                name: u.name.clone(),
                sub: "active".into(),
                main_pid: None,
                result: String::new(),
                n_restarts: 0,
                exec_main_start_usec: 0,
                active_enter: u.timestamps.active_enter,
                inactive_exit: u.timestamps.inactive_exit,
                invocation_id: None,
            }),
            _ => None,
        })
        .collect();
    let body = match serde_json::to_vec_pretty(&StateFile { units: saved }) {
        Ok(b) => b,
        Err(e) => return tracing::warn!(error = %e, "state not serialized"),
    };
    let tmp = dir.join(format!("{FILE}.tmp"));
    let result = std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, dir.join(FILE)));
    if let Err(e) = result {
        tracing::warn!(dir = %dir.display(), error = %e, "state file not written");
    }
}

/// The units a previous unitd recorded (empty when there is no readable state file).
pub fn load(dir: &Path) -> Vec<SavedUnit> {
    let path = dir.join(FILE);
    let Ok(body) = std::fs::read(&path) else {
        return Vec::new();
    };
    match serde_json::from_slice::<StateFile>(&body) {
        Ok(state) => state.units,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "state file unreadable; starting fresh");
            Vec::new()
        }
    }
}
