//! The engine: one per cluster at a time, elected through a key bound to a lease.
//!
//! Every fleetd without `disable_engine` runs this loop. A standby watches fleet's prefix and campaigns as soon
//! as the leader key is gone; the leader renews its lease every third of its TTL, and reconciles on every
//! relevant change (after a short debounce that folds bursts into one pass) and every
//! `engine_reconcile_interval`. A pass reads the cluster at one revision, calls the pure
//! [`fleet_model::reconcile`], and writes the target changes and unschedulable reasons that differ from what it
//! read, in transactions fenced by the leader key and each target's revision (so a deposed leader or a stale
//! pass writes nothing). The leader lease TTL is the agents' `agent_ttl`: an engine is declared dead on the same
//! clock as a machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_model::{reconcile, Decision};
use fleet_registry::{Cluster, Lease, Registry, ScheduleChange};
use tokio::sync::watch;
use tracing::{debug, info, warn, Instrument};

use crate::metrics::Metrics;

/// How long after a change the engine waits for more before a pass.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// The engine of one fleetd.
pub struct Engine {
    pub registry: Registry,
    pub machine_id: String,
    pub reconcile_interval: Duration,
    pub lease_ttl: Duration,
    pub watches: bool,
    pub metrics: Arc<Metrics>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub scheduled: usize,
    pub unscheduled: usize,
    pub unschedulable: usize,
    pub written: usize,
    pub refused: usize,
}

impl Engine {
    /// Runs until `shutdown` turns true, then resigns if it leads.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut lease: Option<Lease> = None;
        let mut last_renew = Instant::now();
        while !*shutdown.borrow() {
            // Campaign (or confirm leadership).
            let leading = match self.ensure_leadership(&mut lease, &mut last_renew).await {
                Ok(l) => l,
                Err(e) => {
                    debug!(error = %e, "engine: KV store unavailable");
                    false
                }
            };
            self.metrics.engine_leader(leading);
            let mut seen = None;
            if leading {
                match self.pass(lease.map_or(0, |l| l.id)).await {
                    Ok((_, revision)) => seen = Some(revision),
                    Err(e) => {
                        self.metrics.registry_error("engine_pass");
                        warn!(error = %e, "engine pass failed");
                    }
                }
            }
            // Wait for a change, the interval, or (as leader) the next renewal.
            let mut wait = self.reconcile_interval;
            if let Some(l) = lease {
                let renew_every = Duration::from_secs(l.ttl.max(1) as u64) / 3;
                wait = wait.min(renew_every.saturating_sub(last_renew.elapsed()));
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = self.wait_for_change(seen, wait) => {}
            }
        }
        if let Some(l) = lease {
            if let Err(e) = self.registry.resign(&self.machine_id, l.id).await {
                debug!(error = %e, "engine: resigning failed; the lease expires instead");
            }
            let _ = self.registry.revoke_lease(l.id).await;
            info!("engine stopped");
        }
        self.metrics.engine_leader(false);
    }

    /// Holds or wins the leader key; `Ok(true)` while this engine leads.
    async fn ensure_leadership(
        &self,
        lease: &mut Option<Lease>,
        last_renew: &mut Instant,
    ) -> Result<bool, fleet_registry::RegistryError> {
        if let Some(l) = *lease {
            if last_renew.elapsed() >= Duration::from_secs(l.ttl.max(1) as u64) / 3 {
                if self.registry.keep_alive(l.id).await? {
                    *last_renew = Instant::now();
                } else {
                    warn!("engine lease expired; no longer the leader");
                    *lease = None;
                }
            }
        }
        let l = match *lease {
            Some(l) => l,
            None => {
                // Someone leads: stand by without holding a lease.
                if self.registry.engine_leader().await?.is_some() {
                    return Ok(false);
                }
                let l = self.registry.grant_lease(self.lease_ttl).await?;
                *last_renew = Instant::now();
                *lease = Some(l);
                l
            }
        };
        let won = self.registry.campaign(&self.machine_id, l.id).await?;
        if !won {
            // Lost the race to another engine: a standby holds no lease.
            let _ = self.registry.revoke_lease(l.id).await;
            *lease = None;
        }
        Ok(won)
    }

    /// Sleeps up to `max`, returning early when something the engine acts on changes after revision `seen`
    /// (default: now) — never on the unit states agents publish, nor on the engine's own target and reason
    /// writes.
    async fn wait_for_change(&self, seen: Option<i64>, max: Duration) {
        if !self.watches {
            tokio::time::sleep(max).await;
            return;
        }
        let deadline = tokio::time::Instant::now() + max;
        let keys = self.registry.keys().clone();
        let seen = match seen {
            Some(r) => r,
            None => match self.registry.probe().await {
                Ok(r) => r,
                Err(_) => {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            },
        };
        let Ok(mut stream) = self.registry.watch_changes(seen + 1).await else {
            tokio::time::sleep_until(deadline).await;
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                next = stream.next() => match next {
                    Ok(Some((_, changed))) => {
                        let relevant = changed.iter().any(|(key, _)| {
                            if key.starts_with(&keys.states_dir()) {
                                return false;
                            }
                            !matches!(keys.parse_job_key(key), Some((_, "target" | "unschedulable")))
                        });
                        if relevant {
                            tokio::time::sleep(DEBOUNCE).await;
                            return;
                        }
                    }
                    _ => {
                        tokio::time::sleep_until(deadline).await;
                        return;
                    }
                }
            }
        }
    }

    /// One reconcile pass as leader under `lease`; returns its counts and the revision it read.
    pub async fn pass(
        &self,
        lease: i64,
    ) -> Result<(PassStats, i64), fleet_registry::RegistryError> {
        let span = tracing::info_span!("engine_pass", machine = %short(&self.machine_id));
        async move {
            let started = Instant::now();
            let cluster = self.registry.cluster().await?;
            let (changes, mut stats) = plan_changes(&cluster);
            if !changes.is_empty() {
                let written = self
                    .registry
                    .apply_schedule(&changes, &self.machine_id, lease)
                    .await?;
                stats.written = written.applied;
                stats.refused = written.refused;
                if written.refused > 0 {
                    warn!(
                        refused = written.refused,
                        "some schedule writes lost a race; the next pass retries"
                    );
                }
            }
            self.metrics.engine_pass(
                started.elapsed().as_secs_f64(),
                stats.scheduled,
                stats.unscheduled,
                stats.unschedulable,
            );
            Ok((stats, cluster.revision))
        }
        .instrument(span)
        .await
    }
}

/// The writes a pass makes over `cluster`, and its counts. Logs each decision.
pub fn plan_changes(cluster: &Cluster) -> (Vec<ScheduleChange>, PassStats) {
    let plan = reconcile(&cluster.snapshot());
    let mut stats = PassStats::default();
    for d in &plan.decisions {
        match d {
            Decision::Schedule {
                unit,
                machine,
                reason,
            } => {
                stats.scheduled += 1;
                info!(unit, machine = %short(machine), reason, "scheduling unit");
            }
            Decision::Unschedule {
                unit,
                machine,
                reason,
            } => {
                stats.unscheduled += 1;
                info!(unit, machine = %short(machine), reason, "unscheduling unit");
            }
            Decision::Unschedulable { unit, reason } => {
                stats.unschedulable += 1;
                if cluster
                    .units
                    .get(unit)
                    .and_then(|u| u.unschedulable.as_deref())
                    != Some(reason.as_str())
                {
                    warn!(unit, reason, "unable to schedule unit");
                }
            }
        }
    }
    let mut changes = Vec::new();
    for (name, target) in &plan.targets {
        let Some(unit) = cluster.units.get(name) else {
            continue;
        };
        changes.push(ScheduleChange::Target {
            unit: name.clone(),
            machine: target.clone(),
            expected_revision: unit.target_revision,
        });
    }
    for (name, unit) in &cluster.units {
        let wanted = plan.unschedulable.get(name);
        if unit.unschedulable.as_ref() != wanted {
            changes.push(ScheduleChange::Reason {
                unit: name.clone(),
                reason: wanted.cloned(),
            });
        }
    }
    (changes, stats)
}

fn short(id: &str) -> &str {
    fleet_model::short_id(id)
}
