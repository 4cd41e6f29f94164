//! Building a transaction: from one requested job to the set of jobs its dependencies imply, ordered, checked
//! for cycles and conflicts, merged with the jobs already queued, then installed.

use std::collections::{BTreeMap, VecDeque};

use super::jobs::{Job, JobKind, JobMode, JobResult, JobState};
use super::order::{self, Direction, OrderEdge};
use super::unit::{DepKind, Runtime};
use super::{load, Manager, ManagerError, Signal};

pub(super) fn enqueue(
    m: &mut Manager,
    unit: &str,
    kind: JobKind,
    mode: JobMode,
    only_if_active: bool,
) -> Result<u32, ManagerError> {
    let name = load::normalize(unit);
    match m.ensure_loaded(&name) {
        Ok(()) => {}
        // As systemd: only a stop goes ahead whatever the load state, so a unit masked or broken while it runs
        // can still be stopped (one not found and not running has nothing to stop).
        Err(ManagerError::Masked(_) | ManagerError::LoadFailed(..)) if kind == JobKind::Stop => {}
        Err(ManagerError::NoSuchUnit(_))
            if kind == JobKind::Stop
                && m.units
                    .get(&name)
                    .is_some_and(|u| !u.active_state().is_inactive_or_failed()) => {}
        Err(e) => return Err(e),
    }
    check_applicable(m, &name, kind)?;

    if only_if_active
        && m.units
            .get(&name)
            .is_some_and(|u| u.active_state().is_inactive_or_failed())
    {
        // try-restart of an inactive unit: a job that is done at once.
        let id = install_job(m, &name, kind, Vec::new(), Vec::new());
        m.finish_job(id, JobResult::Done);
        return Ok(id);
    }

    // The jobs this request implies, anchor first; and which job's unit requires which.
    let mut plan: BTreeMap<String, JobKind> = BTreeMap::new();
    plan.insert(name.clone(), kind);
    let mut requires: Vec<(String, String)> = Vec::new();
    match kind {
        JobKind::Start | JobKind::Restart if mode != JobMode::IgnoreDependencies => {
            pull_in_starts(m, &name, mode, &mut plan, &mut requires)?;
            pull_in_conflicts(m, &mut plan)?;
            if kind == JobKind::Restart {
                for dependent in reverse_deps(m, &name, &[DepKind::PartOf]) {
                    if !m
                        .units
                        .get(&dependent)
                        .is_some_and(|u| u.active_state().is_inactive_or_failed())
                    {
                        plan.entry(dependent).or_insert(JobKind::Restart);
                    }
                }
            }
        }
        JobKind::Stop if mode != JobMode::IgnoreDependencies => {
            let mut queue = VecDeque::from([name.clone()]);
            while let Some(next) = queue.pop_front() {
                for dependent in reverse_deps(
                    m,
                    &next,
                    &[DepKind::Requires, DepKind::BindsTo, DepKind::PartOf],
                ) {
                    let down = m
                        .units
                        .get(&dependent)
                        .is_some_and(|u| u.active_state().is_inactive_or_failed());
                    if !down && !plan.contains_key(&dependent) {
                        plan.insert(dependent.clone(), JobKind::Stop);
                        queue.push_back(dependent);
                    }
                }
            }
        }
        _ => {}
    }

    // Ordering among the new jobs and the jobs already queued for other units.
    let mut all: Vec<(String, Direction)> = plan
        .iter()
        .map(|(u, k)| (u.clone(), direction(*k)))
        .collect();
    for job in m.jobs.values() {
        if !plan.contains_key(&job.unit) {
            all.push((job.unit.clone(), direction(job.kind)));
        }
    }
    let edges = ordering_edges(m, all.iter().map(|(u, _)| u.as_str()));
    let waits = order::order(&all, &edges).map_err(|cycle| {
        let text = format!("{cycle}; refusing to start {name}");
        for edge in &cycle.0 {
            m.rt.logs.journal().manager(&edge.unit, 3, &text);
        }
        tracing::warn!(unit = %name, "{text}");
        ManagerError::Cyclic(text)
    })?;

    // Merge with queued jobs of the same units.
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    for (unit, job_kind) in &plan {
        let existing = m
            .units
            .get(unit)
            .and_then(|u| u.job)
            .and_then(|id| m.jobs.get(&id).map(|j| (id, j.kind)));
        match existing {
            Some((id, k)) if k == *job_kind => {
                ids.insert(unit.clone(), id);
            }
            Some((id, _)) => {
                if mode == JobMode::Fail {
                    return Err(ManagerError::Destructive(format!(
                        "Transaction for {name}/{} is destructive ({unit} has '{}' job queued, but '{}' is included in transaction).",
                        kind.as_str(),
                        m.jobs.get(&id).map(|j| j.kind.as_str()).unwrap_or("?"),
                        job_kind.as_str()
                    )));
                }
                m.finish_job(id, JobResult::Canceled);
            }
            None => {}
        }
    }
    let new_units: Vec<String> = plan
        .keys()
        .filter(|u| !ids.contains_key(*u))
        .cloned()
        .collect();
    for unit in &new_units {
        let id = install_job(m, unit, plan[unit], Vec::new(), Vec::new());
        ids.insert(unit.clone(), id);
    }
    // Wire waits and requirements of the new jobs.
    let id_of = |unit: &str, m: &Manager| -> Option<u32> {
        ids.get(unit)
            .copied()
            .or_else(|| m.units.get(unit).and_then(|u| u.job))
    };
    for unit in &new_units {
        let Some(pos) = all.iter().position(|(u, _)| u == unit) else {
            continue;
        };
        let waits_for: Vec<u32> = waits[pos]
            .iter()
            .filter_map(|&i| id_of(&all[i].0, m))
            .collect();
        let reqs: Vec<u32> = requires
            .iter()
            .filter(|(u, _)| u == unit)
            .filter_map(|(_, dep)| id_of(dep, m))
            .collect();
        if let Some(job) = ids.get(unit).and_then(|id| m.jobs.get_mut(id)) {
            job.waits_for = waits_for;
            job.requires = reqs;
        }
    }
    // Existing jobs ordered after a new one must wait for it too.
    let existing: Vec<u32> = m
        .jobs
        .keys()
        .copied()
        .filter(|id| !ids.values().any(|v| v == id))
        .collect();
    for id in existing {
        let Some(unit) = m.jobs.get(&id).map(|j| j.unit.clone()) else {
            continue;
        };
        let Some(pos) = all.iter().position(|(u, _)| *u == unit) else {
            continue;
        };
        let extra: Vec<u32> = waits[pos]
            .iter()
            .filter(|&&i| new_units.contains(&all[i].0))
            .filter_map(|&i| ids.get(&all[i].0).copied())
            .collect();
        if let Some(job) = m.jobs.get_mut(&id) {
            for e in extra {
                if !job.waits_for.contains(&e) {
                    job.waits_for.push(e);
                }
            }
        }
    }
    ids.get(&name)
        .copied()
        .ok_or_else(|| ManagerError::Failed("job not installed".into()))
}

fn direction(kind: JobKind) -> Direction {
    match kind {
        JobKind::Stop => Direction::Stop,
        _ => Direction::Start,
    }
}

fn check_applicable(m: &Manager, name: &str, kind: JobKind) -> Result<(), ManagerError> {
    let Some(u) = m.units.get(name) else {
        return Err(ManagerError::NoSuchUnit(name.to_string()));
    };
    match (&u.runtime, kind) {
        (Runtime::Unsupported, JobKind::Stop) => Ok(()),
        (Runtime::Unsupported, k) => Err(ManagerError::NotApplicable(k.as_str(), name.to_string())),
        (Runtime::Target { .. }, JobKind::Reload) => {
            Err(ManagerError::NotApplicable("reload", name.to_string()))
        }
        (Runtime::Service(s), JobKind::Reload) if s.cfg.exec_reload.is_empty() => {
            Err(ManagerError::NotApplicable("reload", name.to_string()))
        }
        _ => Ok(()),
    }
}

/// Start jobs for Requires=/BindsTo=/Requisite=/Wants=, transitively.
fn pull_in_starts(
    m: &mut Manager,
    anchor: &str,
    mode: JobMode,
    plan: &mut BTreeMap<String, JobKind>,
    requires: &mut Vec<(String, String)>,
) -> Result<(), ManagerError> {
    let mut queue = VecDeque::from([anchor.to_string()]);
    while let Some(next) = queue.pop_front() {
        let Some(u) = m.units.get(&next) else {
            continue;
        };
        let hard: Vec<String> = [DepKind::Requires, DepKind::BindsTo]
            .iter()
            .flat_map(|k| u.deps(*k))
            .collect();
        let requisite = u.deps(DepKind::Requisite);
        // Upholds= pulls its units in as Wants= does (and keeps them up: see `Manager::start_upheld`).
        let wants: Vec<String> = [DepKind::Wants, DepKind::Upholds]
            .iter()
            .flat_map(|k| u.deps(*k))
            .collect();
        if mode != JobMode::IgnoreRequirements {
            for dep in hard {
                if let Err(e) = m.ensure_loaded(&dep) {
                    return Err(ManagerError::LoadFailed(
                        dep.clone(),
                        format!("Unit {dep} is required by {next} but cannot be loaded: {e}"),
                    ));
                }
                requires.push((next.clone(), dep.clone()));
                if !plan.contains_key(&dep) {
                    plan.insert(dep.clone(), JobKind::Start);
                    queue.push_back(dep);
                }
            }
            for dep in requisite {
                m.ensure_loaded(&dep)?;
                let active = m
                    .units
                    .get(&dep)
                    .is_some_and(|u| u.active_state().is_active_or_reloading());
                if !active {
                    return Err(ManagerError::Failed(format!(
                        "Unit {dep} (Requisite= of {next}) is not active."
                    )));
                }
            }
        }
        for dep in wants {
            if m.ensure_loaded(&dep).is_ok() && !plan.contains_key(&dep) {
                plan.insert(dep.clone(), JobKind::Start);
                queue.push_back(dep);
            }
        }
    }
    Ok(())
}

/// Stop jobs for units that conflict with a unit being started.
fn pull_in_conflicts(
    m: &mut Manager,
    plan: &mut BTreeMap<String, JobKind>,
) -> Result<(), ManagerError> {
    let starting: Vec<String> = plan.keys().cloned().collect();
    for unit in starting {
        let mut conflicting = m
            .units
            .get(&unit)
            .map(|u| u.deps(DepKind::Conflicts))
            .unwrap_or_default();
        conflicting.extend(reverse_deps(m, &unit, &[DepKind::Conflicts]));
        for other in conflicting {
            if plan.get(&other).is_some_and(|k| *k != JobKind::Stop) {
                return Err(ManagerError::Destructive(format!(
                    "Transaction contains conflicting jobs: {unit} conflicts with {other}, and both are to be started."
                )));
            }
            let _ = m.ensure_loaded(&other);
            if m.units
                .get(&other)
                .is_some_and(|u| !u.active_state().is_inactive_or_failed() || u.job.is_some())
            {
                plan.insert(other, JobKind::Stop);
            }
        }
    }
    Ok(())
}

/// Loaded units that have `unit` in one of the dependency lists `kinds`.
fn reverse_deps(m: &Manager, unit: &str, kinds: &[DepKind]) -> Vec<String> {
    m.units
        .values()
        .filter(|u| kinds.iter().any(|k| u.deps(*k).iter().any(|d| d == unit)))
        .map(|u| u.name.clone())
        .collect()
}

/// After=/Before= edges among `units`, with where each is written.
fn ordering_edges<'a>(m: &Manager, units: impl Iterator<Item = &'a str>) -> Vec<OrderEdge> {
    let mut edges = Vec::new();
    for name in units {
        let Some(u) = m.units.get(name) else { continue };
        for after in m.unit_deps(u, DepKind::After) {
            edges.push(OrderEdge {
                place: u.dep_place(DepKind::After, &after),
                unit: name.to_string(),
                after,
            });
        }
        for before in u.deps(DepKind::Before) {
            edges.push(OrderEdge {
                place: u.dep_place(DepKind::Before, &before),
                unit: before,
                after: name.to_string(),
            });
        }
    }
    edges
}

fn install_job(
    m: &mut Manager,
    unit: &str,
    kind: JobKind,
    waits_for: Vec<u32>,
    requires: Vec<u32>,
) -> u32 {
    let id = m.next_job;
    m.next_job += 1;
    m.jobs.insert(
        id,
        Job {
            id,
            unit: unit.to_string(),
            kind,
            state: JobState::Waiting,
            waits_for,
            requires,
            restart_stopped: false,
            acted: false,
        },
    );
    if let Some(u) = m.units.get_mut(unit) {
        u.job = Some(id);
    }
    if let Ok(mut shared) = m.shared.write() {
        if let Some(job) = m.jobs.get(&id) {
            shared.jobs.insert(id, super::snapshot::job_snapshot(job));
        }
    }
    m.dirty.insert(unit.to_string());
    let _ = m.signals.send(Signal::JobNew {
        id,
        unit: unit.to_string(),
    });
    id
}
