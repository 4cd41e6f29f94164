//! The agent's side of unitd's D-Bus API: where fleet-loaded unit files go, loading and unloading them, jobs,
//! and reading unit states. unitd is reached only through `unitd-client` (never its code), so this works
//! against any unitd the address points at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_model::UnitHash;
use unitd_client::{
    proxies, ClientError, Connection, JobMode, JobResult, JobWaiter, ManagerProxy, OwnedObjectPath,
    UnitAction,
};

/// The first line of every unit file the agent writes: marks the file as fleet's and carries its hash, so a
/// restarted agent knows what it had loaded.
const MARKER: &str = "# Loaded by fleetd; unit hash ";

/// How long the agent waits for a batch of jobs before going on (the jobs keep running in unitd).
const JOB_WAIT: Duration = Duration::from_secs(20);

/// Errors of the unitd side.
#[derive(Debug, thiserror::Error)]
pub enum UnitdError {
    #[error("unitd: {0}")]
    Client(#[from] ClientError),
    #[error("unitd: {0}")]
    Bus(#[from] zbus::Error),
    #[error("unitd's UnitPath {0:?} has no directory under its runtime directory {1:?}")]
    NoRuntimeDir(Vec<String>, String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A unit's state as unitd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitStatus {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
}

/// A connection to this host's unitd.
pub struct Unitd {
    conn: Connection,
    manager: ManagerProxy<'static>,
    /// Where fleet-loaded unit files are written (unitd's `RUNTIME_DIR/system`, learned from `UnitPath`).
    pub unit_dir: PathBuf,
    /// unitd's journal directory (`StateDirectory/journal`).
    pub journal_dir: PathBuf,
}

impl Unitd {
    /// Connects (`address` as unitctl's `--address`; empty: discover) and learns unitd's directories.
    pub async fn connect(address: &str) -> Result<Unitd, UnitdError> {
        let conn = unitd_client::connect(Some(address).filter(|a| !a.is_empty())).await?;
        let manager = proxies::manager(&conn).await?;
        let flotilla = proxies::flotilla_manager(&conn).await?;
        let runtime = flotilla.runtime_directory().await?;
        let state = flotilla.state_directory().await?;
        let unit_path = manager.unit_path().await?;
        let unit_dir = runtime_unit_dir(&unit_path, &runtime)
            .ok_or_else(|| UnitdError::NoRuntimeDir(unit_path.clone(), runtime.clone()))?;
        std::fs::create_dir_all(&unit_dir).map_err(|source| UnitdError::Io {
            path: unit_dir.display().to_string(),
            source,
        })?;
        Ok(Unitd {
            conn,
            manager,
            unit_dir,
            journal_dir: Path::new(&state).join("journal"),
        })
    }

    /// The units this agent (or an earlier run of it) wrote, with their hashes.
    pub fn loaded_files(&self) -> BTreeMap<String, UnitHash> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(&self.unit_dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let hash = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix(MARKER))
                .and_then(|h| UnitHash::parse(h.trim()));
            if let Some(hash) = hash {
                out.insert(name, hash);
            }
        }
        out
    }

    /// Writes a unit file (atomically: a temporary file renamed over it).
    pub fn write_unit(&self, name: &str, hash: &UnitHash, text: &str) -> Result<(), UnitdError> {
        let path = self.unit_dir.join(name);
        let tmp = self.unit_dir.join(format!(".{name}.tmp"));
        let io = |source| UnitdError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::write(&tmp, format!("{MARKER}{hash}\n{text}")).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Removes a unit file this agent wrote.
    pub fn remove_unit(&self, name: &str) -> Result<(), UnitdError> {
        let path = self.unit_dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(UnitdError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// daemon-reload.
    pub async fn reload(&self) -> Result<(), UnitdError> {
        Ok(self.manager.reload().await?)
    }

    /// Enables a unit with an `[Install]` section, in the runtime directory (gone at reboot, as fleet's).
    pub async fn enable(&self, name: &str) -> Result<(), UnitdError> {
        self.manager.enable_unit_files(&[name], true, true).await?;
        Ok(())
    }

    /// Undoes [`Unitd::enable`].
    pub async fn disable(&self, name: &str) -> Result<(), UnitdError> {
        self.manager.disable_unit_files(&[name], true).await?;
        Ok(())
    }

    /// Clears a failed state so a unit loaded again starts clean.
    pub async fn reset_failed(&self, name: &str) {
        let _ = self.manager.reset_failed_unit(name).await;
    }

    /// Enqueues `action` for each unit and waits (up to a bound) for the jobs; the result per unit, `None` when
    /// the job was still running when the wait ended.
    pub async fn run_jobs(
        &self,
        action: UnitAction,
        units: &[String],
    ) -> Result<BTreeMap<String, Option<Result<JobResult, String>>>, UnitdError> {
        let mut out = BTreeMap::new();
        if units.is_empty() {
            return Ok(out);
        }
        let mut waiter = JobWaiter::new(&self.conn).await?;
        let mut jobs: Vec<(String, OwnedObjectPath)> = Vec::new();
        for unit in units {
            match waiter.enqueue(action, unit, JobMode::Replace).await {
                Ok(job) => jobs.push((unit.clone(), job)),
                Err(e) => {
                    out.insert(unit.clone(), Some(Err(e.to_string())));
                }
            }
        }
        let waited = tokio::time::timeout(JOB_WAIT, async {
            let mut results = Vec::new();
            for (unit, job) in &jobs {
                results.push((unit.clone(), waiter.wait(job).await.map(|o| o.result)));
            }
            results
        })
        .await;
        match waited {
            Ok(results) => {
                for (unit, r) in results {
                    out.insert(unit, Some(r.map_err(|e| e.to_string())));
                }
            }
            Err(_) => {
                for (unit, _) in jobs {
                    out.entry(unit).or_insert(None);
                }
            }
        }
        Ok(out)
    }

    /// The states of `names` (a unit unitd does not know is `not-found`/`inactive`/`dead`).
    pub async fn statuses(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, UnitStatus>, UnitdError> {
        let listed = self.manager.list_units().await?;
        let mut out = BTreeMap::new();
        for entry in listed {
            if names.contains(&entry.id) {
                out.insert(
                    entry.id.clone(),
                    UnitStatus {
                        load_state: entry.load_state,
                        active_state: entry.active_state,
                        sub_state: entry.sub_state,
                    },
                );
            }
        }
        for name in names {
            if !out.contains_key(name) {
                let status = match self.manager.load_unit(name).await {
                    Ok(path) => {
                        let unit = proxies::unit_at(&self.conn, path).await?;
                        UnitStatus {
                            load_state: unit.load_state().await?,
                            active_state: unit.active_state().await?,
                            sub_state: unit.sub_state().await?,
                        }
                    }
                    Err(_) => UnitStatus {
                        load_state: "not-found".into(),
                        active_state: "inactive".into(),
                        sub_state: "dead".into(),
                    },
                };
                out.insert(name.clone(), status);
            }
        }
        Ok(out)
    }
}

/// The entry of unitd's `UnitPath` under its runtime directory.
fn runtime_unit_dir(unit_path: &[String], runtime: &str) -> Option<PathBuf> {
    let runtime = runtime.trim_end_matches('/');
    // Not the runtime `system.control` directory, which comes first and holds only set-property drop-ins.
    unit_path
        .iter()
        .find(|p| {
            Path::new(p).starts_with(runtime) && !p.trim_end_matches('/').ends_with(".control")
        })
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_unit_directory_comes_from_unit_path() {
        let path = vec![
            "/etc/flotilla/system.control".to_string(),
            "/run/unitd/system.control".to_string(),
            "/etc/flotilla/system".to_string(),
            "/run/unitd/system".to_string(),
            "/usr/lib/flotilla/system".to_string(),
        ];
        assert_eq!(
            runtime_unit_dir(&path, "/run/unitd"),
            Some(PathBuf::from("/run/unitd/system"))
        );
        assert_eq!(
            runtime_unit_dir(&path, "/run/unitd/"),
            Some(PathBuf::from("/run/unitd/system"))
        );
        assert_eq!(runtime_unit_dir(&path, "/run/other"), None);
        // A sibling whose name merely starts the same is not under it.
        assert_eq!(
            runtime_unit_dir(&["/run/unitd2/system".to_string()], "/run/unitd"),
            None
        );
    }
}
