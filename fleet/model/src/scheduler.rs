//! The engine's decisions and the agent's desired set, as pure functions over a [`ClusterSnapshot`].
//!
//! [`reconcile`] is fleet's `calculateClusterTasks` with its least-loaded scheduler:
//! 1. **Unschedule** every scheduled unit whose target state is `inactive`, whose machine went away, or that
//!    its machine can no longer run (`able_to_run` below: MachineID, metadata, MachineOf, Conflicts, Replaces —
//!    in that order, fleet's messages). A unit that another unit on its machine replaces is unscheduled here
//!    and placed elsewhere in step 2: that is how `Replaces=` moves the replaced unit.
//! 2. **Place** every unscheduled unit whose target state is not `inactive` on the least-loaded machine able
//!    to run it (load = units scheduled there plus the global units it runs; ties go to the smaller machine
//!    ID), seeing each decision of the pass in the next one.
//!
//! Both steps run to a fixed point, where fleet made one pass in map order: a `MachineOf` follower is
//! unscheduled together with its peer and placed right after it, whatever their names sort as. And one
//! deliberate addition (fleet issue #1690): an unscheduled unit that an eligible machine still reports running
//! goes back to that machine first, so units whose machine only lost its KV connection for a while are not
//! restarted elsewhere.
//!
//! Global units are not the engine's: agents run them ([`agent_units`]); they count towards a machine's load
//! and their conflicts hold, as in fleet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::machine::{has_metadata, short_id, MachineState};
use crate::requirements::Requirements;
use crate::state::TargetState;

/// A unit as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub target_state: TargetState,
    /// The machine the engine placed it on (`job/<name>/target`), if any.
    pub target: Option<String>,
    pub requirements: Requirements,
}

/// Everything the decisions look at, read at one KV revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// Every unit in the registry, global ones included.
    pub jobs: Vec<Job>,
    /// Every machine with a live presence key.
    pub machines: Vec<MachineState>,
    /// Unit name → machines whose agents report it running (see [`crate::UnitState::is_running`]).
    pub running: HashMap<String, BTreeSet<String>>,
}

/// One decision of a pass, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take `unit` off `machine`.
    Unschedule {
        unit: String,
        machine: String,
        reason: String,
    },
    /// Put `unit` on `machine`.
    Schedule {
        unit: String,
        machine: String,
        reason: String,
    },
    /// `unit` should run but no machine can take it.
    Unschedulable { unit: String, reason: String },
}

/// The outcome of [`reconcile`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What was decided, in order.
    pub decisions: Vec<Decision>,
    /// The new target of every unit whose target changed (`None`: unscheduled).
    pub targets: BTreeMap<String, Option<String>>,
    /// Units that should run but stay unscheduled, with the reason.
    pub unschedulable: BTreeMap<String, String>,
}

/// A machine and the units scheduled on it, while a pass runs.
struct Agent<'a> {
    state: &'a MachineState,
    /// Units that count as here: scheduled non-inactive units and the global units this machine runs. Sorted,
    /// so the unit a refusal names is the same on every pass (reasons are stored and shown; they must not
    /// flap).
    units: BTreeMap<&'a str, &'a Requirements>,
}

impl<'a> Agent<'a> {
    fn load(&self) -> usize {
        self.units.len()
    }

    /// fleet's `AgentState.AbleToRun`; `Err` carries the reason.
    fn able_to_run(&self, name: &str, r: &Requirements) -> Result<(), String> {
        if let Some(id) = &r.machine_id {
            if !self.state.match_id(id) {
                return Err(format!(
                    "agent ID {:?} does not match required {id:?}",
                    self.state.id
                ));
            }
        }
        if !r.metadata.is_empty() && !has_metadata(self.state, &r.metadata) {
            return Err("local Machine metadata insufficient".to_string());
        }
        if let Some(peer) = r
            .peers
            .iter()
            .find(|p| !self.units.contains_key(p.as_str()))
        {
            return Err(format!(
                "required peer Unit({peer}) is not scheduled locally"
            ));
        }
        if let Some(other) = self.conflict(name, r) {
            return Err(format!(
                "found conflict with locally-scheduled Unit({other})"
            ));
        }
        if let Some(other) = self.replaced_by(name, r) {
            return Err(format!("replaced by locally-scheduled Unit({other})"));
        }
        Ok(())
    }

    /// A unit here that `name` conflicts with, or that conflicts with `name`.
    fn conflict(&self, name: &str, r: &Requirements) -> Option<&'a str> {
        self.units
            .iter()
            .filter(|(other, _)| **other != name)
            .find(|(other, or)| or.conflicts_with(name) || r.conflicts_with(other))
            .map(|(other, _)| *other)
    }

    /// A unit here that replaces `name` without `name` replacing it back (circular replaces are ignored).
    fn replaced_by(&self, name: &str, r: &Requirements) -> Option<&'a str> {
        self.units
            .iter()
            .filter(|(other, _)| **other != name)
            .find(|(other, or)| or.replaces_unit(name) && !r.replaces_unit(other))
            .map(|(other, _)| *other)
    }
}

/// The mutable view of one pass: machines with their units, and every unit's current target.
struct Cluster<'a> {
    agents: Vec<Agent<'a>>,
    by_id: HashMap<&'a str, usize>,
    by_short_id: HashMap<&'a str, usize>,
    /// Machines by (load, id): the least-loaded scheduler's order.
    order: BTreeSet<(usize, &'a str, usize)>,
    /// Non-global jobs by name, with their current target.
    jobs: BTreeMap<&'a str, (&'a Job, Option<usize>)>,
}

impl<'a> Cluster<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> Cluster<'a> {
        let mut agents: Vec<Agent<'a>> = snapshot
            .machines
            .iter()
            .map(|state| Agent {
                state,
                units: BTreeMap::new(),
            })
            .collect();
        let by_id: HashMap<&str, usize> = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.state.id.as_str(), i))
            .collect();
        let mut by_short_id = HashMap::new();
        for (i, a) in agents.iter().enumerate() {
            by_short_id.entry(short_id(&a.state.id)).or_insert(i);
        }
        let mut jobs = BTreeMap::new();
        for job in snapshot.jobs.iter().filter(|j| !j.requirements.global) {
            let target = job.target.as_deref().and_then(|t| by_id.get(t).copied());
            if let Some(i) = target {
                if job.target_state != TargetState::Inactive {
                    agents[i].units.insert(&job.name, &job.requirements);
                }
            }
            jobs.insert(
                job.name.as_str(),
                (
                    job,
                    job.target.as_ref().map(|_| target.unwrap_or(usize::MAX)),
                ),
            );
        }
        for job in snapshot
            .jobs
            .iter()
            .filter(|j| j.requirements.global && j.target_state != TargetState::Inactive)
        {
            for agent in agents.iter_mut() {
                if runs_global(agent, job) {
                    agent.units.insert(&job.name, &job.requirements);
                }
            }
        }
        let order = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.load(), a.state.id.as_str(), i))
            .collect();
        Cluster {
            agents,
            by_id,
            by_short_id,
            order,
            jobs,
        }
    }

    fn add(&mut self, machine: usize, job: &'a Job) {
        let agent = &mut self.agents[machine];
        self.order
            .remove(&(agent.load(), agent.state.id.as_str(), machine));
        agent.units.insert(&job.name, &job.requirements);
        self.order
            .insert((agent.load(), agent.state.id.as_str(), machine));
    }

    fn remove(&mut self, machine: usize, name: &str) {
        let agent = &mut self.agents[machine];
        self.order
            .remove(&(agent.load(), agent.state.id.as_str(), machine));
        agent.units.remove(name);
        self.order
            .insert((agent.load(), agent.state.id.as_str(), machine));
    }

    /// Where `job` should go, or why nowhere.
    fn decide(&self, job: &Job, running: Option<&BTreeSet<String>>) -> Result<usize, String> {
        let r = &job.requirements;
        if self.agents.is_empty() {
            return Err("no machines in the cluster".to_string());
        }
        // A required machine or a peer's machine: only that one can take it.
        let fixed = if let Some(id) = &r.machine_id {
            Some(
                self.by_id
                    .get(id.as_str())
                    .or_else(|| self.by_short_id.get(id.as_str()))
                    .copied()
                    .ok_or_else(|| format!("required machine {id:?} is not in the cluster"))?,
            )
        } else if let Some(peer) = r.peers.first() {
            match self.jobs.get(peer.as_str()) {
                Some((_, Some(m))) if *m != usize::MAX => Some(*m),
                _ => return Err(format!("required peer Unit({peer}) is not scheduled")),
            }
        } else {
            None
        };
        if let Some(m) = fixed {
            let agent = &self.agents[m];
            return agent
                .able_to_run(&job.name, r)
                .map(|()| m)
                .map_err(|why| format!("machine {}: {why}", agent.state.short_id()));
        }
        // Back where it still runs, if that machine can take it.
        if let Some(running) = running {
            let back = running
                .iter()
                .filter_map(|id| self.by_id.get(id.as_str()).copied())
                .filter(|&m| self.agents[m].able_to_run(&job.name, r).is_ok())
                .min_by_key(|&m| (self.agents[m].load(), self.agents[m].state.id.as_str()));
            if let Some(m) = back {
                return Ok(m);
            }
        }
        let mut refusals: Vec<String> = Vec::new();
        for &(_, id, m) in &self.order {
            match self.agents[m].able_to_run(&job.name, r) {
                Ok(()) => return Ok(m),
                Err(why) => {
                    if refusals.len() < 3 {
                        refusals.push(format!("{}: {why}", short_id(id)));
                    }
                }
            }
        }
        let more = self.agents.len().saturating_sub(refusals.len());
        let mut reason = format!(
            "no machine can run it ({} machine{}): {}",
            self.agents.len(),
            if self.agents.len() == 1 { "" } else { "s" },
            refusals.join("; ")
        );
        if more > 0 {
            reason.push_str(&format!("; and {more} more"));
        }
        Err(reason)
    }
}

/// Whether a machine runs a global unit: its metadata matches and nothing there conflicts with it.
fn runs_global(agent: &Agent<'_>, job: &Job) -> bool {
    has_metadata(agent.state, &job.requirements.metadata)
        && agent.conflict(&job.name, &job.requirements).is_none()
}

/// One engine pass over `snapshot`.
pub fn reconcile(snapshot: &ClusterSnapshot) -> Plan {
    let mut cluster = Cluster::new(snapshot);
    let mut plan = Plan::default();
    let original: HashMap<&str, Option<&str>> = cluster
        .jobs
        .values()
        .map(|(j, _)| (j.name.as_str(), j.target.as_deref()))
        .collect();

    // 1. Unschedule, to a fixed point.
    loop {
        let mut changed = false;
        let names: Vec<&str> = cluster.jobs.keys().copied().collect();
        for name in names {
            let Some(&(job, Some(m))) = cluster.jobs.get(name) else {
                continue;
            };
            let machine_id = job.target.as_deref().unwrap_or_default();
            let reason = if job.target_state == TargetState::Inactive {
                Some("target state inactive".to_string())
            } else if m == usize::MAX {
                Some(format!("target Machine({machine_id}) went away"))
            } else {
                let agent = &cluster.agents[m];
                agent.able_to_run(name, &job.requirements).err().map(|why| {
                    format!(
                        "target Machine({}) unable to run unit: {why}",
                        agent.state.id
                    )
                })
            };
            if let Some(reason) = reason {
                if m != usize::MAX {
                    let machine = cluster.agents[m].state.id.clone();
                    if job.target_state != TargetState::Inactive {
                        cluster.remove(m, name);
                    }
                    plan.decisions.push(Decision::Unschedule {
                        unit: name.to_string(),
                        machine,
                        reason,
                    });
                } else {
                    plan.decisions.push(Decision::Unschedule {
                        unit: name.to_string(),
                        machine: machine_id.to_string(),
                        reason,
                    });
                }
                cluster.jobs.insert(name, (job, None));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    // 2. Place, to a fixed point (only a unit waiting for a peer can become placeable later in a pass).
    let mut pending: Vec<&str> = cluster
        .jobs
        .values()
        .filter(|(j, t)| t.is_none() && j.target_state != TargetState::Inactive)
        .map(|(j, _)| j.name.as_str())
        .collect();
    let mut failures: BTreeMap<&str, String> = BTreeMap::new();
    loop {
        let mut progress = false;
        let mut still = Vec::new();
        for name in pending {
            let Some(&(job, _)) = cluster.jobs.get(name) else {
                continue;
            };
            match cluster.decide(job, snapshot.running.get(name)) {
                Ok(m) => {
                    cluster.add(m, job);
                    cluster.jobs.insert(name, (job, Some(m)));
                    failures.remove(name);
                    plan.decisions.push(Decision::Schedule {
                        unit: name.to_string(),
                        machine: cluster.agents[m].state.id.clone(),
                        reason: format!("target state {} and unit not scheduled", job.target_state),
                    });
                    progress = true;
                }
                Err(why) => {
                    failures.insert(name, why);
                    if !job.requirements.peers.is_empty() {
                        still.push(name);
                    }
                }
            }
        }
        if !progress || still.is_empty() {
            break;
        }
        pending = still;
    }
    for (name, reason) in failures {
        plan.decisions.push(Decision::Unschedulable {
            unit: name.to_string(),
            reason: reason.clone(),
        });
        plan.unschedulable.insert(name.to_string(), reason);
    }

    for (name, (_, target)) in &cluster.jobs {
        let now = target.map(|m| cluster.agents[m].state.id.as_str());
        if original.get(name).copied().flatten() != now {
            plan.targets
                .insert(name.to_string(), now.map(str::to_string));
        }
    }
    plan
}

/// The units machine `machine_id` should have loaded, with their target states: those the engine scheduled
/// there and the global units it matches (metadata, and no conflict with what is scheduled there). Units
/// whose target state is `inactive` are not included.
pub fn agent_units<'a>(
    machine_id: &str,
    snapshot: &'a ClusterSnapshot,
) -> BTreeMap<&'a str, &'a Job> {
    let mut out: BTreeMap<&str, &Job> = BTreeMap::new();
    let Some(state) = snapshot.machines.iter().find(|m| m.id == machine_id) else {
        return out;
    };
    let mut agent = Agent {
        state,
        units: BTreeMap::new(),
    };
    for job in snapshot.jobs.iter().filter(|j| {
        !j.requirements.global
            && j.target_state != TargetState::Inactive
            && j.target.as_deref() == Some(machine_id)
    }) {
        agent.units.insert(&job.name, &job.requirements);
        out.insert(&job.name, job);
    }
    for job in snapshot
        .jobs
        .iter()
        .filter(|j| j.requirements.global && j.target_state != TargetState::Inactive)
    {
        if runs_global(&agent, job) {
            agent.units.insert(&job.name, &job.requirements);
            out.insert(&job.name, job);
        }
    }
    out
}

/// Whether `machine`, which has the units `here` (what [`agent_units`] gives for it), could also run `job`
/// (the same checks as placement); `Err` names why not. The agent asks this before keeping a unit that is
/// scheduled nowhere: a unit this machine can still run keeps running until the engine places it (fleet issue
/// #1690), one it can no longer run (its metadata changed, a conflicting unit arrived) is stopped.
pub fn can_run_on(
    machine: &MachineState,
    here: &BTreeMap<&str, &Job>,
    job: &Job,
) -> Result<(), String> {
    let agent = Agent {
        state: machine,
        units: here
            .iter()
            .filter(|(name, _)| **name != job.name)
            .map(|(name, j)| (*name, &j.requirements))
            .collect(),
    };
    agent.able_to_run(&job.name, &job.requirements)
}

#[cfg(test)]
mod tests;
