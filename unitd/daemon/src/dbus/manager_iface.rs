//! `org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1`, with systemd's method names and
//! signatures, and unitd's own `io.flotilla.unitd1.Manager` beside it.

use zbus::object_server::SignalEmitter;
use zbus::{interface, ObjectPath, ObjectServer, OwnedObjectPath, OwnedVariant, Variant};

use super::error::BusError;
use super::{job_path, BusCtx};
use crate::manager::jobs::{JobKind, JobMode};
use crate::manager::{environment, set_property, KillWhom, Request};

/// One row of ListUnits: id, description, load, active, sub, following, unit path, job id, job type, job path.
type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

pub struct ManagerIface {
    pub ctx: BusCtx,
}

impl ManagerIface {
    /// Puts `unit`'s objects on the caller's connection before its path is handed out. The signal pump does
    /// that on every connection too, but asynchronously: a client reading the properties of a path LoadUnit
    /// just returned (a unit loaded on demand, a template instance) could get UnknownObject. Whether it is a
    /// service comes from the unit's snapshot, which the manager publishes before it replies.
    async fn serve_unit(&self, server: &ObjectServer, unit: &str) {
        let service = self
            .ctx
            .shared
            .read()
            .ok()
            .and_then(|s| s.units.get(unit).map(|u| u.service.is_some()));
        if let Some(service) = service {
            super::serve_unit(server, &self.ctx, unit, service).await;
        }
    }

    async fn job(
        &self,
        name: String,
        mode: String,
        kind: JobKind,
        only_if_active: bool,
    ) -> Result<OwnedObjectPath, BusError> {
        let mode = JobMode::parse(&mode)
            .ok_or_else(|| BusError::invalid_args(format!("Job mode {mode} invalid.")))?;
        let id = self
            .ctx
            .call(|reply| Request::Job {
                unit: name,
                kind,
                mode,
                only_if_active,
                reply,
            })
            .await?;
        Ok(job_path(id))
    }

    fn list(&self, states: &[String], patterns: &[String]) -> Vec<UnitRow> {
        let Ok(shared) = self.ctx.shared.read() else {
            return Vec::new();
        };
        let mut rows: Vec<UnitRow> = shared
            .units
            .values()
            .filter(|u| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| *s == u.active_state || *s == u.sub_state || *s == u.load_state)
            })
            .filter(|u| patterns.is_empty() || patterns.iter().any(|p| glob_match(p, &u.id)))
            .map(|u| {
                let (job_id, job_type) = u.job.clone().unwrap_or((0, String::new()));
                (
                    u.id.clone(),
                    u.description.clone(),
                    u.load_state.clone(),
                    u.active_state.clone(),
                    u.sub_state.clone(),
                    String::new(),
                    unitd_client::unit_object_path(&u.id),
                    job_id,
                    job_type,
                    if job_id == 0 {
                        root_path()
                    } else {
                        job_path(job_id)
                    },
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

fn root_path() -> OwnedObjectPath {
    OwnedObjectPath::from(ObjectPath::from_static_str_unchecked("/"))
}

/// fnmatch-style `*` and `?` matching, for ListUnitsByPatterns.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl ManagerIface {
    async fn start_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.job(name, mode, JobKind::Start, false).await
    }

    async fn stop_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.job(name, mode, JobKind::Stop, false).await
    }

    async fn restart_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.job(name, mode, JobKind::Restart, false).await
    }

    async fn try_restart_unit(
        &self,
        name: String,
        mode: String,
    ) -> Result<OwnedObjectPath, BusError> {
        self.job(name, mode, JobKind::Restart, true).await
    }

    async fn reload_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, BusError> {
        self.job(name, mode, JobKind::Reload, false).await
    }

    async fn reload_or_restart_unit(
        &self,
        name: String,
        mode: String,
    ) -> Result<OwnedObjectPath, BusError> {
        match self
            .job(name.clone(), mode.clone(), JobKind::Reload, false)
            .await
        {
            Err(e) if e.to_string().contains("JobTypeNotApplicable") => {
                self.job(name, mode, JobKind::Restart, false).await
            }
            other => other,
        }
    }

    async fn kill_unit(&self, name: String, whom: String, signal: i32) -> Result<(), BusError> {
        let whom = match whom.as_str() {
            "main" => KillWhom::Main,
            "control" => KillWhom::Control,
            "all" | "" => KillWhom::All,
            other => {
                return Err(BusError::invalid_args(format!(
                    "Invalid who argument {other}"
                )))
            }
        };
        self.ctx
            .call(|reply| Request::Kill {
                unit: name,
                whom,
                signal,
                reply,
            })
            .await
    }

    async fn reset_failed_unit(&self, name: String) -> Result<(), BusError> {
        self.ctx
            .call(|reply| Request::ResetFailed {
                unit: Some(name),
                reply,
            })
            .await
    }

    async fn reset_failed(&self) -> Result<(), BusError> {
        self.ctx
            .call(|reply| Request::ResetFailed { unit: None, reply })
            .await
    }

    async fn get_unit(
        &self,
        name: String,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, BusError> {
        let name = self
            .ctx
            .call(|reply| Request::Get { unit: name, reply })
            .await?;
        self.serve_unit(server, &name).await;
        Ok(unitd_client::unit_object_path(&name))
    }

    async fn load_unit(
        &self,
        name: String,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<OwnedObjectPath, BusError> {
        let name = self
            .ctx
            .call(|reply| Request::Load {
                unit: name.clone(),
                reply,
            })
            .await
            .or_else(|e| {
                // A unit that failed to load is still an object (with LoadState=not-found/bad-setting), as in systemd.
                if e.to_string().contains("NoSuchUnit") {
                    Err(e)
                } else {
                    Ok(crate::manager::normalize_unit_name(&name))
                }
            })?;
        self.serve_unit(server, &name).await;
        Ok(unitd_client::unit_object_path(&name))
    }

    #[zbus(name = "GetUnitByPID")]
    async fn get_unit_by_pid(&self, pid: u32) -> Result<OwnedObjectPath, BusError> {
        let name = self
            .ctx
            .call(|reply| Request::UnitByPid { pid, reply })
            .await?;
        Ok(unitd_client::unit_object_path(&name))
    }

    async fn list_units(&self) -> Vec<UnitRow> {
        self.list(&[], &[])
    }

    async fn list_units_filtered(&self, states: Vec<String>) -> Vec<UnitRow> {
        self.list(&states, &[])
    }

    async fn list_units_by_patterns(
        &self,
        states: Vec<String>,
        patterns: Vec<String>,
    ) -> Vec<UnitRow> {
        self.list(&states, &patterns)
    }

    async fn list_unit_files(&self) -> Result<Vec<(String, String)>, BusError> {
        self.ctx
            .call(|reply| Request::ListUnitFiles { reply })
            .await
    }

    async fn get_unit_file_state(&self, file: String) -> Result<String, BusError> {
        self.ctx
            .call(|reply| Request::UnitFileState { file, reply })
            .await
    }

    #[zbus(out_args("carries_install_info", "changes"))]
    async fn enable_unit_files(
        &self,
        files: Vec<String>,
        runtime: bool,
        force: bool,
    ) -> Result<(bool, Vec<(String, String, String)>), BusError> {
        self.ctx
            .call(|reply| Request::Enable {
                files,
                runtime,
                force,
                reply,
            })
            .await
    }

    #[zbus(out_args("carries_install_info", "changes"))]
    async fn reenable_unit_files(
        &self,
        files: Vec<String>,
        runtime: bool,
        force: bool,
    ) -> Result<(bool, Vec<(String, String, String)>), BusError> {
        self.ctx
            .call(|reply| Request::Reenable {
                files,
                runtime,
                force,
                reply,
            })
            .await
    }

    async fn mask_unit_files(
        &self,
        files: Vec<String>,
        runtime: bool,
        force: bool,
    ) -> Result<Vec<(String, String, String)>, BusError> {
        self.ctx
            .call(|reply| Request::Mask {
                files,
                runtime,
                force,
                reply,
            })
            .await
    }

    async fn unmask_unit_files(
        &self,
        files: Vec<String>,
        runtime: bool,
    ) -> Result<Vec<(String, String, String)>, BusError> {
        self.ctx
            .call(|reply| Request::Unmask {
                files,
                runtime,
                reply,
            })
            .await
    }

    async fn disable_unit_files(
        &self,
        files: Vec<String>,
        runtime: bool,
    ) -> Result<Vec<(String, String, String)>, BusError> {
        self.ctx
            .call(|reply| Request::Disable {
                files,
                runtime,
                reply,
            })
            .await
    }

    async fn list_jobs(
        &self,
    ) -> Vec<(
        u32,
        String,
        String,
        String,
        OwnedObjectPath,
        OwnedObjectPath,
    )> {
        let Ok(shared) = self.ctx.shared.read() else {
            return Vec::new();
        };
        shared
            .jobs
            .values()
            .map(|j| {
                (
                    j.id,
                    j.unit.clone(),
                    j.job_type.clone(),
                    j.state.clone(),
                    job_path(j.id),
                    unitd_client::unit_object_path(&j.unit),
                )
            })
            .collect()
    }

    async fn get_job(&self, id: u32) -> Result<OwnedObjectPath, BusError> {
        let known = self
            .ctx
            .shared
            .read()
            .map(|s| s.jobs.contains_key(&id))
            .unwrap_or(false);
        if known {
            Ok(job_path(id))
        } else {
            Err(BusError::new(
                "org.freedesktop.systemd1.NoSuchJob",
                format!("Job {id} does not exist."),
            ))
        }
    }

    async fn cancel_job(&self, id: u32) -> Result<(), BusError> {
        self.ctx
            .call(|reply| Request::CancelJob { id, reply })
            .await
    }

    async fn clear_jobs(&self) -> Result<(), BusError> {
        self.ctx.call(|reply| Request::ClearJobs { reply }).await
    }

    async fn reload(&self) -> Result<(), BusError> {
        self.ctx.call(|reply| Request::Reload { reply }).await
    }

    /// `systemctl set-property`: resource-control properties of a service, applied now and kept as drop-ins.
    async fn set_unit_properties(
        &self,
        name: String,
        runtime: bool,
        properties: Vec<(String, OwnedVariant)>,
    ) -> Result<(), BusError> {
        set_properties(&self.ctx, name, runtime, properties).await
    }

    /// `systemctl set-environment`: variables for every process started from now on.
    async fn set_environment(&self, assignments: Vec<String>) -> Result<(), BusError> {
        self.unset_and_set_environment(Vec::new(), assignments)
            .await
    }

    /// `systemctl unset-environment`: names, or `NAME=value` to unset only that value.
    async fn unset_environment(&self, names: Vec<String>) -> Result<(), BusError> {
        self.unset_and_set_environment(names, Vec::new()).await
    }

    async fn unset_and_set_environment(
        &self,
        names: Vec<String>,
        assignments: Vec<String>,
    ) -> Result<(), BusError> {
        environment::check_names_or_assignments(&names).map_err(BusError::invalid_args)?;
        environment::check_assignments(&assignments).map_err(BusError::invalid_args)?;
        self.ctx
            .call(|reply| Request::SetEnvironment {
                minus: names,
                plus: assignments,
                reply,
            })
            .await
    }

    async fn reexecute(&self) -> Result<(), BusError> {
        self.ctx.reexecute().await
    }

    async fn subscribe(&self) {}

    async fn unsubscribe(&self) {}

    #[zbus(signal)]
    pub async fn unit_new(
        emitter: &SignalEmitter<'_>,
        id: &str,
        unit: ObjectPath<'_>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn unit_removed(
        emitter: &SignalEmitter<'_>,
        id: &str,
        unit: ObjectPath<'_>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn job_new(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    pub async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;

    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        format!("unitd {}", env!("CARGO_PKG_VERSION"))
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn architecture(&self) -> String {
        std::env::consts::ARCH
            .replace("x86_64", "x86-64")
            .replace('_', "-")
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn unit_path(&self) -> Vec<String> {
        self.ctx.manager(|m| m.unit_path.clone())
    }

    #[zbus(property(emits_changed_signal = "false"), name = "NNames")]
    fn n_names(&self) -> u32 {
        self.ctx.manager(|m| m.n_names)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "NJobs")]
    fn n_jobs(&self) -> u32 {
        self.ctx.manager(|m| m.n_jobs)
    }

    #[zbus(property(emits_changed_signal = "false"), name = "NFailedUnits")]
    fn n_failed_units(&self) -> u32 {
        self.ctx.manager(|m| m.n_failed)
    }

    /// The environment spawned processes start from (`show-environment`).
    #[zbus(property(emits_changed_signal = "false"))]
    fn environment(&self) -> Vec<String> {
        self.ctx.manager(|m| m.environment.clone())
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn system_state(&self) -> String {
        let Ok(s) = self.ctx.shared.read() else {
            return "running".into();
        };
        if s.manager.n_jobs > 0 {
            "starting".into()
        } else if s.manager.n_failed > 0 {
            "degraded".into()
        } else {
            "running".into()
        }
    }
}

/// A D-Bus value as [`set_property::PropertyValue`] (a variant inside a variant is unwrapped).
fn property_value(v: &Variant<'_>) -> set_property::PropertyValue {
    use set_property::PropertyValue;
    match v {
        Variant::U64(n) => PropertyValue::U64(*n),
        Variant::Variant(inner) => property_value(inner),
        Variant::Array(a) if a.element_signature().to_string() == "y" => PropertyValue::Bytes(
            a.inner()
                .iter()
                .filter_map(|b| match b {
                    Variant::U8(b) => Some(*b),
                    _ => None,
                })
                .collect(),
        ),
        other => PropertyValue::Other(format!("{other:?}")),
    }
}

/// `SetUnitProperties` and the Unit's `SetProperties`: every property is checked before anything is written.
pub async fn set_properties(
    ctx: &BusCtx,
    unit: String,
    runtime: bool,
    properties: Vec<(String, OwnedVariant)>,
) -> Result<(), BusError> {
    let lines = properties
        .iter()
        .map(|(name, value)| set_property::line(name, &property_value(value)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(BusError::invalid_args)?;
    ctx.call(|reply| Request::SetProperties {
        unit,
        runtime,
        lines,
        reply,
    })
    .await
}

/// unitd's own additions, on the same object.
pub struct FlotillaIface {
    pub ctx: BusCtx,
}

#[interface(name = "io.flotilla.unitd1.Manager")]
impl FlotillaIface {
    #[zbus(property(emits_changed_signal = "const"))]
    fn state_directory(&self) -> String {
        self.ctx.manager(|m| m.state_dir.clone())
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn runtime_directory(&self) -> String {
        self.ctx.manager(|m| m.runtime_dir.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_like_fnmatch() {
        assert!(glob_match("web@*.service", "web@1.service"));
        assert!(glob_match("*.target", "default.target"));
        assert!(!glob_match("*.target", "default.service"));
        assert!(glob_match("a?c", "abc"));
    }
}
