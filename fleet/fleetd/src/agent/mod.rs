//! The agent: makes this machine run what the cluster says it should.
//!
//! - `presence` keeps the machine's presence key alive under a lease and hands the lease to the rest.
//! - The reconcile loop (here) runs on every relevant change (a watch on fleet's prefix), every five seconds
//!   (fleet's interval) and once at start: it reads the cluster, computes what should be here
//!   ([`fleet_model::agent_units`]: units scheduled here and matching global units), plans the tasks
//!   ([`tasks::plan`]) and carries them out through unitd ([`unitd::Unitd`]). Unit states are published every
//!   second when they changed, bound to the presence lease so they vanish with the machine.
//! - When the KV store cannot be read, nothing local changes: units keep running and are reconciled again once
//!   it answers. When the agent does not see its own machine in the cluster (its presence is being renewed),
//!   it does not act either — an empty view must never unload everything.
//! - A graceful stop unloads every local unit (as fleet did) before the presence lease is revoked, so the
//!   engine moves them at once.

pub mod presence;
pub mod tasks;
pub mod unitd;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use fleet_model::{agent_units, can_run_on, is_launched_state, TargetState, UnitState};
use fleet_registry::{Cluster, Registry};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn, Instrument};
use unitd_client::{JobResult, UnitAction};

use crate::metrics::Metrics;
use tasks::{Task, UnitVersion};
use unitd::{Unitd, UnitdError};

/// fleet's agent reconcile interval.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);
/// How often unit states are compared with what was published.
const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// The agent of this machine.
pub struct Agent {
    pub registry: Registry,
    pub machine_id: String,
    pub unitd_address: String,
    pub watches: bool,
    pub metrics: Arc<Metrics>,
    /// unitd's journal directory, once known (the API's journal endpoint reads it).
    pub journal_dir: Arc<RwLock<Option<PathBuf>>>,
    /// The presence lease, from [`presence::run`].
    pub lease: watch::Receiver<Option<i64>>,
    unitd: Option<Unitd>,
    local: BTreeMap<String, UnitVersion>,
    published: BTreeMap<String, UnitState>,
    published_under: Option<i64>,
}

impl Agent {
    pub fn new(
        registry: Registry,
        machine_id: String,
        unitd_address: String,
        watches: bool,
        metrics: Arc<Metrics>,
        journal_dir: Arc<RwLock<Option<PathBuf>>>,
        lease: watch::Receiver<Option<i64>>,
    ) -> Agent {
        Agent {
            registry,
            machine_id,
            unitd_address,
            watches,
            metrics,
            journal_dir,
            lease,
            unitd: None,
            local: BTreeMap::new(),
            published: BTreeMap::new(),
            published_under: None,
        }
    }

    /// Runs until `shutdown`, then unloads every local unit and withdraws their states.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let changed = Arc::new(Notify::new());
        let watcher = self
            .watches
            .then(|| tokio::spawn(watch_changes(self.registry.clone(), changed.clone())));
        let mut reconcile_tick = tokio::time::interval(RECONCILE_INTERVAL);
        let mut publish_tick = tokio::time::interval(PUBLISH_INTERVAL);
        let mut lease = self.lease.clone();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = changed.notified() => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    self.reconcile().await;
                }
                changed = lease.changed() => {
                    if changed.is_err() {
                        break; // the presence task ended: fleetd is stopping
                    }
                    self.reconcile().await;
                }
                _ = reconcile_tick.tick() => self.reconcile().await,
                _ = publish_tick.tick() => self.publish().await,
            }
        }
        if let Some(w) = watcher {
            w.abort();
        }
        self.purge().await;
    }

    /// Connects to unitd if needed, recovering what an earlier run of the agent loaded.
    async fn unitd(&mut self) -> Option<&Unitd> {
        if self.unitd.is_none() {
            match Unitd::connect(&self.unitd_address).await {
                Ok(u) => {
                    info!(unit_dir = %u.unit_dir.display(), "connected to unitd");
                    if let Ok(mut dir) = self.journal_dir.write() {
                        *dir = Some(u.journal_dir.clone());
                    }
                    let files = u.loaded_files();
                    let names: Vec<String> = files.keys().cloned().collect();
                    let statuses = u.statuses(&names).await.unwrap_or_default();
                    for (name, hash) in files {
                        let running = statuses
                            .get(&name)
                            .is_some_and(|s| is_launched_state(&s.active_state));
                        let state = if running {
                            TargetState::Launched
                        } else {
                            TargetState::Loaded
                        };
                        self.local
                            .entry(name)
                            .or_insert(UnitVersion { hash, state });
                    }
                    self.unitd = Some(u);
                }
                Err(e) => {
                    warn!(error = %e, "cannot reach unitd; retrying");
                    return None;
                }
            }
        }
        self.unitd.as_ref()
    }

    /// One reconcile pass.
    async fn reconcile(&mut self) {
        let span = tracing::info_span!("agent_reconcile", machine = %fleet_model::short_id(&self.machine_id));
        async {
            if self.unitd().await.is_none() {
                return;
            }
            if self.lease.borrow().is_none() {
                return;
            }
            let cluster = match self.registry.cluster().await {
                Ok(c) => c,
                Err(e) => {
                    self.metrics.registry_error("agent_reconcile");
                    debug!(error = %e, "cannot read the cluster; local units left as they are");
                    return;
                }
            };
            if !cluster.machines.contains_key(&self.machine_id) {
                debug!("this machine is not in the cluster view yet; waiting");
                return;
            }
            let (desired, keep) = desired_here(&self.machine_id, &cluster);
            let tasks = tasks::plan(&desired, &self.local, &keep);
            for name in &keep {
                if self.local.contains_key(name) {
                    debug!(unit = %name, "not scheduled anywhere; keeps running here until placed");
                }
            }
            if !tasks.is_empty() {
                if let Err(e) = self.execute(&tasks, &cluster, &desired).await {
                    warn!(error = %e, "unitd request failed; reconnecting");
                    self.unitd = None;
                }
            }
            self.publish().await;
        }
        .instrument(span)
        .await
    }

    /// Carries out `tasks` (already ordered: unloads, loads, stops, starts).
    async fn execute(
        &mut self,
        tasks: &[Task],
        cluster: &Cluster,
        desired: &BTreeMap<String, UnitVersion>,
    ) -> Result<(), UnitdError> {
        let Some(unitd) = self.unitd.as_ref() else {
            return Ok(());
        };
        let of = |kind: &str| -> Vec<String> {
            tasks
                .iter()
                .filter(|t| t.kind() == kind)
                .map(|t| t.unit().to_string())
                .collect()
        };
        for t in tasks {
            match t {
                Task::Unload { unit, reason }
                | Task::Load { unit, reason }
                | Task::Stop { unit, reason }
                | Task::Start { unit, reason } => {
                    info!(task = t.kind(), unit, reason, "agent task")
                }
            }
        }
        let mut reload = false;
        // Unload: stop, and only when that worked remove the file.
        let unloads = of("unload");
        for (unit, result) in unitd.run_jobs(UnitAction::Stop, &unloads).await? {
            let stopped = matches!(result, Some(Ok(JobResult::Done)))
                || matches!(&result, Some(Err(e)) if e.contains("NoSuchUnit") || e.contains("not loaded"));
            if stopped {
                let has_install = cluster
                    .units
                    .get(&unit)
                    .is_some_and(|u| u.file.has_install_section());
                if has_install {
                    let _ = unitd.disable(&unit).await;
                }
                unitd.remove_unit(&unit)?;
                unitd.reset_failed(&unit).await;
                self.local.remove(&unit);
                reload = true;
                self.metrics.agent_task("unload", true);
            } else {
                warn!(
                    unit,
                    ?result,
                    "stop before unload did not finish; the unit stays loaded"
                );
                self.metrics.agent_task("unload", false);
            }
        }
        // Load: write every file, then one daemon-reload.
        let loads = of("load");
        let mut enable = Vec::new();
        for unit in &loads {
            let (Some(u), Some(d)) = (cluster.units.get(unit), desired.get(unit)) else {
                continue;
            };
            unitd.write_unit(unit, &d.hash, &u.file.to_text())?;
            if u.file.has_install_section() {
                enable.push(unit.clone());
            }
            self.local.insert(
                unit.clone(),
                UnitVersion {
                    hash: d.hash,
                    state: TargetState::Loaded,
                },
            );
            reload = true;
            self.metrics.agent_task("load", true);
        }
        if reload {
            unitd.reload().await?;
        }
        for unit in enable {
            if let Err(e) = unitd.enable(&unit).await {
                warn!(unit, error = %e, "failed to enable unit");
            }
        }
        let stops = of("stop");
        for (unit, result) in unitd.run_jobs(UnitAction::Stop, &stops).await? {
            self.metrics
                .agent_task("stop", matches!(result, Some(Ok(JobResult::Done))));
            if let Some(l) = self.local.get_mut(&unit) {
                l.state = TargetState::Loaded;
            }
        }
        let starts = of("start");
        for (unit, result) in unitd.run_jobs(UnitAction::Start, &starts).await? {
            let ok = matches!(result, Some(Ok(JobResult::Done)) | None);
            if !ok {
                warn!(unit, ?result, "start job did not succeed");
            }
            self.metrics.agent_task("start", ok);
            if let Some(l) = self.local.get_mut(&unit) {
                l.state = TargetState::Launched;
            }
        }
        Ok(())
    }

    /// Publishes the states of local units that changed since last published, and withdraws the states of
    /// units no longer here.
    async fn publish(&mut self) {
        let Some(lease) = *self.lease.borrow() else {
            return;
        };
        if self.published_under != Some(lease) {
            self.published.clear();
            self.published_under = Some(lease);
        }
        let names: Vec<String> = self.local.keys().cloned().collect();
        let Some(unitd) = self.unitd.as_ref() else {
            return;
        };
        let statuses = match unitd.statuses(&names).await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot read unit states from unitd; reconnecting");
                self.unitd = None;
                return;
            }
        };
        for (name, local) in &self.local {
            let Some(status) = statuses.get(name) else {
                continue;
            };
            let state = UnitState {
                name: name.clone(),
                load_state: status.load_state.clone(),
                active_state: status.active_state.clone(),
                sub_state: status.sub_state.clone(),
                hash: local.hash.to_string(),
                machine_id: self.machine_id.clone(),
            };
            if self.published.get(name) == Some(&state) {
                continue;
            }
            match self.registry.put_unit_state(&state, lease).await {
                Ok(()) => {
                    self.published.insert(name.clone(), state);
                }
                Err(e) => {
                    self.metrics.registry_error("publish_state");
                    debug!(error = %e, "cannot publish unit state");
                    return;
                }
            }
        }
        let gone: Vec<String> = self
            .published
            .keys()
            .filter(|n| !self.local.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            if self
                .registry
                .delete_unit_state(&name, &self.machine_id)
                .await
                .is_ok()
            {
                self.published.remove(&name);
            }
        }
        self.metrics.agent_units(self.local.len());
    }

    /// Graceful stop: every local unit stopped and unloaded, its state withdrawn.
    async fn purge(&mut self) {
        let names: Vec<String> = self.local.keys().cloned().collect();
        if names.is_empty() {
            return;
        }
        info!(units = names.len(), "stopping and unloading local units");
        let Some(unitd) = self.unitd.as_ref() else {
            return;
        };
        if let Ok(results) = unitd.run_jobs(UnitAction::Stop, &names).await {
            for (unit, result) in results {
                if matches!(result, Some(Ok(JobResult::Done))) {
                    let _ = unitd.disable(&unit).await;
                    let _ = unitd.remove_unit(&unit);
                    self.local.remove(&unit);
                }
            }
        }
        let _ = unitd.reload().await;
        for name in names {
            let _ = self
                .registry
                .delete_unit_state(&name, &self.machine_id)
                .await;
        }
    }
}

/// What should be loaded here (with hashes and states), and which local units to keep although not desired
/// here: units that still want to run, are scheduled nowhere, and this machine could still run.
pub fn desired_here(
    machine_id: &str,
    cluster: &Cluster,
) -> (BTreeMap<String, UnitVersion>, BTreeSet<String>) {
    let snapshot = cluster.snapshot();
    let here = agent_units(machine_id, &snapshot);
    let desired = here
        .iter()
        .filter_map(|(name, job)| {
            let unit = cluster.units.get(*name)?;
            Some((
                name.to_string(),
                UnitVersion {
                    hash: unit.hash,
                    state: job.target_state,
                },
            ))
        })
        .collect();
    // Scheduled nowhere, still wanted, and this machine could still run it: keep it running here.
    let me = snapshot.machines.iter().find(|m| m.id == machine_id);
    let keep = snapshot
        .jobs
        .iter()
        .filter(|j| {
            j.target_state != TargetState::Inactive
                && j.target.is_none()
                && !j.requirements.global
                && me.is_some_and(|m| can_run_on(m, &here, j).is_ok())
        })
        .map(|j| j.name.clone())
        .collect();
    (desired, keep)
}

/// Notifies `changed` on every change under fleet's prefix that the agent acts on (not unit states, nor the
/// engine's reasons), re-watching after errors.
async fn watch_changes(registry: Registry, changed: Arc<Notify>) {
    let keys = registry.keys().clone();
    loop {
        let revision = match registry.probe().await {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Ok(mut stream) = registry.watch_changes(revision + 1).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        while let Ok(Some((_, events))) = stream.next().await {
            let relevant = events.iter().any(|(key, _)| {
                !key.starts_with(&keys.states_dir())
                    && key != &keys.engine_leader()
                    && !matches!(keys.parse_job_key(key), Some((_, "unschedulable")))
            });
            if relevant {
                changed.notify_one();
            }
        }
        // The watch ended: changes may have been missed, so reconcile once and watch again.
        changed.notify_one();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
