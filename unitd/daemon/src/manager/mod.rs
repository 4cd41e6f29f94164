//! The manager: one task that owns every unit and job and handles one [`Event`] at a time — a D-Bus request, a
//! child's exit, an sd_notify message, a timer. After each event [`Manager::settle`] runs queued jobs, finishes
//! the ones whose unit reached its goal, propagates BindsTo=, publishes snapshots and D-Bus signals, and persists
//! the state that a restarted unitd needs to re-attach.
//!
//! Layout: [`state`] (systemd's state names), [`service`] (the service state machine), [`context`] (the effects
//! it may cause), [`restart`] (Restart= and start limits), [`jobs`] and [`order`] (transactions), [`unit`],
//! [`install`] (enable/disable links), [`graph`] (the dependency lists D-Bus shows, with their inverses),
//! [`persist`] (the state file).

pub mod context;
pub mod environment;
pub mod graph;
pub mod install;
pub mod jobs;
pub mod order;
pub mod persist;
pub mod restart;
pub mod service;
pub mod set_property;
pub mod state;
pub mod unit;

mod load;

pub use load::normalize as normalize_unit_name;
mod snapshot;
mod transaction;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use unitd_cgroup::CgroupManager;

use context::{Ctx, Runtime, TimerKind};
use jobs::{Job, JobKind, JobMode, JobResult, JobState};
use state::{ActiveState, Exit};
use unit::{DepKind, Unit};

pub use snapshot::{JobSnapshot, ManagerSnapshot, Shared, SharedState};

/// Errors returned to D-Bus callers, each with systemd's D-Bus error name.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ManagerError {
    #[error("Unit {0} not found.")]
    NoSuchUnit(String),
    #[error("Unit {0} not loaded.")]
    NotLoaded(String),
    #[error("{1}")]
    LoadFailed(String, String),
    #[error("Unit {0} is masked.")]
    Masked(String),
    #[error("Job type {0} is not applicable for unit {1}.")]
    NotApplicable(&'static str, String),
    #[error("{0}")]
    Cyclic(String),
    #[error("{0}")]
    Destructive(String),
    #[error("Job {0} does not exist.")]
    NoSuchJob(u32),
    #[error("{0}")]
    InvalidArgs(String),
    #[error("{0}")]
    Failed(String),
}

impl ManagerError {
    /// The D-Bus error name systemd uses for this error.
    pub fn dbus_name(&self) -> &'static str {
        match self {
            ManagerError::NoSuchUnit(_) | ManagerError::NotLoaded(_) => {
                "org.freedesktop.systemd1.NoSuchUnit"
            }
            ManagerError::LoadFailed(..) => "org.freedesktop.systemd1.LoadFailed",
            ManagerError::Masked(_) => "org.freedesktop.systemd1.UnitMasked",
            ManagerError::NotApplicable(..) => "org.freedesktop.systemd1.JobTypeNotApplicable",
            ManagerError::Cyclic(_) => "org.freedesktop.systemd1.TransactionOrderIsCyclic",
            ManagerError::Destructive(_) => "org.freedesktop.systemd1.TransactionIsDestructive",
            ManagerError::NoSuchJob(_) => "org.freedesktop.systemd1.NoSuchJob",
            ManagerError::InvalidArgs(_) => "org.freedesktop.DBus.Error.InvalidArgs",
            ManagerError::Failed(_) => "org.freedesktop.DBus.Error.Failed",
        }
    }
}

pub type Reply<T> = oneshot::Sender<Result<T, ManagerError>>;

/// Who receives KillUnit's signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillWhom {
    Main,
    Control,
    All,
}

/// A row of ListUnitFiles / a change of Enable/DisableUnitFiles.
pub type UnitFileRow = (String, String);
pub type InstallChange = (String, String, String);

/// Requests from the D-Bus layer; each carries its reply channel.
pub enum Request {
    Job {
        unit: String,
        kind: JobKind,
        mode: JobMode,
        only_if_active: bool,
        reply: Reply<u32>,
    },
    Kill {
        unit: String,
        whom: KillWhom,
        signal: i32,
        reply: Reply<()>,
    },
    ResetFailed {
        unit: Option<String>,
        reply: Reply<()>,
    },
    Load {
        unit: String,
        reply: Reply<String>,
    },
    Get {
        unit: String,
        reply: Reply<String>,
    },
    UnitByPid {
        pid: u32,
        reply: Reply<String>,
    },
    ListUnitFiles {
        reply: Reply<Vec<UnitFileRow>>,
    },
    UnitFileState {
        file: String,
        reply: Reply<String>,
    },
    Enable {
        files: Vec<String>,
        runtime: bool,
        force: bool,
        reply: Reply<(bool, Vec<InstallChange>)>,
    },
    Disable {
        files: Vec<String>,
        runtime: bool,
        reply: Reply<Vec<InstallChange>>,
    },
    /// Disable, then enable (picks up a changed `[Install]` section).
    Reenable {
        files: Vec<String>,
        runtime: bool,
        force: bool,
        reply: Reply<(bool, Vec<InstallChange>)>,
    },
    Mask {
        files: Vec<String>,
        runtime: bool,
        force: bool,
        reply: Reply<Vec<InstallChange>>,
    },
    Unmask {
        files: Vec<String>,
        runtime: bool,
        reply: Reply<Vec<InstallChange>>,
    },
    CancelJob {
        id: u32,
        reply: Reply<()>,
    },
    /// Cancel every queued and running job.
    ClearJobs {
        reply: Reply<()>,
    },
    Reload {
        reply: Reply<()>,
    },
    /// `SetUnitProperties`: unit-file lines ([`set_property::line`]) kept as drop-ins and applied.
    SetProperties {
        unit: String,
        runtime: bool,
        lines: Vec<String>,
        reply: Reply<()>,
    },
    /// `UnsetAndSetEnvironment` (and its halves): both lists already validated.
    SetEnvironment {
        minus: Vec<String>,
        plus: Vec<String>,
        reply: Reply<()>,
    },
}

/// Everything that wakes the manager.
pub enum Event {
    Request(Request),
    ChildExit {
        pid: i32,
        exit: Exit,
    },
    /// A re-attached main process (not our child) exited; its status is unknown.
    ForeignExit {
        pid: i32,
    },
    Notify {
        pid: i32,
        fields: Vec<(String, String)>,
    },
    Timer {
        unit: String,
        generation: u64,
        kind: TimerKind,
    },
    /// Stop every unit, then answer.
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    /// Write the state file and answer (before a re-exec).
    Serialize {
        reply: oneshot::Sender<()>,
    },
}

/// What the D-Bus layer must announce.
#[derive(Debug, Clone)]
pub enum Signal {
    UnitNew {
        unit: String,
        service: bool,
    },
    UnitRemoved {
        unit: String,
    },
    JobNew {
        id: u32,
        unit: String,
    },
    JobRemoved {
        id: u32,
        unit: String,
        result: JobResult,
    },
    /// A unit's properties changed (Unit interface; and Service interface when `service`).
    Changed {
        unit: String,
        service: bool,
    },
}

/// Where units come from and where state goes.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Unit search path, highest priority first; the runtime unit directory is part of it.
    pub unit_path: Vec<PathBuf>,
    /// Where `enable` creates links (`runtime=false`), normally the first directory of the path.
    pub config_dir: PathBuf,
    /// Where `enable --runtime` creates links, and where generated and fleet-loaded units go.
    pub runtime_unit_dir: PathBuf,
    pub state_dir: PathBuf,
    /// unitd's runtime directory (cleared at boot): the manager environment is kept there.
    pub runtime_dir: PathBuf,
    /// Where `set-property` keeps its drop-ins (`runtime=false`), and with `--runtime`; both at the head of
    /// `unit_path` (systemd's `system.control` directories).
    pub control_dir: PathBuf,
    pub runtime_control_dir: PathBuf,
    pub default_target: String,
}

pub struct Manager {
    cfg: ManagerConfig,
    loader: unitfile::Loader,
    specifiers: unitfile::Specifiers,
    rt: Runtime,
    units: BTreeMap<String, Unit>,
    jobs: BTreeMap<u32, Job>,
    /// Results of jobs finished during this settle, for jobs that require them.
    finished: HashMap<u32, JobResult>,
    next_job: u32,
    /// Units touched by the current event, to re-snapshot.
    dirty: BTreeSet<String>,
    /// The dependency graph as last published; rebuilt when units change, and a unit whose lists moved (another
    /// unit gained `Wants=` on it, say) is published again.
    published_deps: BTreeMap<String, graph::UnitDeps>,
    /// Set where declared dependencies can change (a unit loaded, daemon-reload, enable links): the graph is
    /// rebuilt at the next publish, not on every state change.
    graph_stale: bool,
    shared: SharedState,
    signals: mpsc::UnboundedSender<Signal>,
    events: mpsc::UnboundedReceiver<Event>,
    shutdown: Option<oneshot::Sender<()>>,
    state_changed: bool,
    /// JobRemoved signals held until the unit snapshots are published, so a client that reacts to one reads
    /// the unit's new state.
    removed_jobs: Vec<Signal>,
    /// Units that entered failed (`OnFailure`) or went inactive after running (`OnSuccess`) in this settle,
    /// whose OnFailure=/OnSuccess= units are to be started.
    triggered: Vec<(String, DepKind)>,
    /// Units whose active state changed since the last uphold check (see [`Manager::start_upheld`]).
    uphold_check: BTreeSet<String>,
    /// Replies held until the end of this settle (see [`Manager::answer`]).
    replies: Vec<Box<dyn FnOnce() + Send>>,
}

impl Manager {
    pub fn new(
        cfg: ManagerConfig,
        rt: Runtime,
        events: mpsc::UnboundedReceiver<Event>,
        signals: mpsc::UnboundedSender<Signal>,
    ) -> Manager {
        let loader = unitfile::Loader::new(cfg.unit_path.clone());
        let mut snapshot = Shared::new(&cfg);
        snapshot.manager.environment =
            environment::effective(&crate::exec::base_environment(), &rt.environment);
        let shared = Arc::new(RwLock::new(snapshot));
        Manager {
            loader,
            specifiers: unitfile::Specifiers::from_host(),
            cfg,
            rt,
            units: BTreeMap::new(),
            jobs: BTreeMap::new(),
            finished: HashMap::new(),
            next_job: 1,
            dirty: BTreeSet::new(),
            published_deps: BTreeMap::new(),
            graph_stale: true,
            shared,
            signals,
            events,
            shutdown: None,
            state_changed: false,
            removed_jobs: Vec::new(),
            triggered: Vec::new(),
            uphold_check: BTreeSet::new(),
            replies: Vec::new(),
        }
    }

    pub fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    /// Edits the manager environment, keeps it in the runtime directory and publishes it; units started
    /// from now on see it (running ones keep what they were started with, as in systemd).
    fn set_environment(&mut self, minus: &[String], plus: &[String]) {
        let env = environment::modify(&self.rt.environment, minus, plus);
        if env == self.rt.environment {
            return;
        }
        environment::save(&self.cfg.runtime_dir, &env);
        tracing::info!(variables = env.len(), "manager environment changed");
        let effective = environment::effective(&crate::exec::base_environment(), &env);
        self.rt.environment = env;
        if let Ok(mut shared) = self.shared.write() {
            shared.manager.environment = effective;
        }
    }

    /// Loads every unit file on the search path, re-attaches to units a previous unitd left running, and
    /// queues the default target.
    pub fn boot(&mut self) {
        self.load_all();
        let saved = persist::load(&self.cfg.state_dir);
        let reattached = self.reattach(saved);
        if reattached == 0 && self.units.contains_key(&self.cfg.default_target) {
            let target = self.cfg.default_target.clone();
            if let Err(e) = self.enqueue(&target, JobKind::Start, JobMode::Replace, false) {
                tracing::warn!(target = %target, error = %e, "default target not started");
            }
        }
        self.settle();
    }

    /// The event loop; returns after a shutdown completed or when every sender is gone.
    pub async fn run(mut self) {
        while let Some(event) = self.events.recv().await {
            self.handle(event);
            self.settle();
            if self.shutdown.is_some() && self.all_stopped() {
                persist::save(&self.cfg.state_dir, &self.units);
                self.remove_cgroups();
                if let Some(reply) = self.shutdown.take() {
                    let _ = reply.send(());
                }
                return;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Request(request) => self.handle_request(request),
            Event::ChildExit { pid, exit } => self.on_exit(pid, exit),
            Event::ForeignExit { pid } => self.on_exit(pid, Exit::Code(0)),
            Event::Notify { pid, fields } => self.on_notify(pid, fields),
            Event::Timer {
                unit,
                generation,
                kind,
            } => {
                self.with_service(&unit, |svc, ctx| svc.on_timer(ctx, generation, kind));
            }
            Event::Shutdown { reply } => {
                tracing::info!("shutting down: stopping all units");
                self.shutdown = Some(reply);
                let active: Vec<String> = self
                    .units
                    .values()
                    .filter(|u| !u.active_state().is_inactive_or_failed())
                    .map(|u| u.name.clone())
                    .collect();
                for name in active {
                    if let Err(e) = self.enqueue(&name, JobKind::Stop, JobMode::Replace, false) {
                        tracing::warn!(unit = %name, error = %e, "stop at shutdown failed");
                    }
                }
            }
            Event::Serialize { reply } => {
                persist::save(&self.cfg.state_dir, &self.units);
                let _ = reply.send(());
            }
        }
    }

    /// At shutdown: remove the units' (now empty) cgroups and the slice.
    fn remove_cgroups(&self) {
        let Some(cg) = &self.rt.cgroups else { return };
        for name in self.units.keys() {
            if cg.is_empty(name).unwrap_or(false) {
                let _ = cg.remove(name);
            }
        }
        if let Err(e) = cg.remove_slice() {
            tracing::debug!(error = %e, "slice not removed");
        }
    }

    fn all_stopped(&self) -> bool {
        self.jobs.is_empty()
            && self.units.values().all(|u| {
                u.active_state().is_inactive_or_failed()
                    || matches!(u.runtime, unit::Runtime::Unsupported)
            })
    }

    fn handle_request(&mut self, request: Request) {
        match request {
            Request::Job {
                unit,
                kind,
                mode,
                only_if_active,
                reply,
            } => {
                let answer = self.enqueue(&unit, kind, mode, only_if_active);
                self.answer(reply, answer);
            }
            Request::Kill {
                unit,
                whom,
                signal,
                reply,
            } => {
                let answer = self.kill(&unit, whom, signal);
                self.answer(reply, answer);
            }
            Request::ResetFailed { unit, reply } => {
                let names: Vec<String> = match unit {
                    Some(u) => {
                        let u = load::normalize(&u);
                        if !self.units.contains_key(&u) {
                            let answer = Err(ManagerError::NotLoaded(u));
                            self.answer(reply, answer);
                            return;
                        }
                        vec![u]
                    }
                    None => self.units.keys().cloned().collect(),
                };
                for name in names {
                    self.with_service(&name, |svc, ctx| svc.reset_failed(ctx));
                }
                let answer = Ok(());
                self.answer(reply, answer);
            }
            Request::Load { unit, reply } => {
                let name = load::normalize(&unit);
                let result = self.ensure_loaded(&name).map(|_| name);
                let answer = result;
                self.answer(reply, answer);
            }
            Request::Get { unit, reply } => {
                let name = load::normalize(&unit);
                let result = if self.units.contains_key(&name) {
                    Ok(name)
                } else {
                    Err(ManagerError::NotLoaded(name))
                };
                let answer = result;
                self.answer(reply, answer);
            }
            Request::UnitByPid { pid, reply } => {
                let found = self
                    .units
                    .values()
                    .find(|u| {
                        u.service().is_some_and(|s| {
                            s.main_pid == Some(pid as i32)
                                || s.control.is_some_and(|c| c.pid == pid as i32)
                        })
                    })
                    .map(|u| u.name.clone())
                    .or_else(|| {
                        self.rt
                            .cgroups
                            .as_ref()
                            .and_then(|cg| cg.find_unit_of_pid(pid as i32))
                    });
                let answer = found.ok_or_else(|| {
                    ManagerError::NoSuchUnit(format!(
                        "PID {pid} does not belong to any loaded unit"
                    ))
                });
                self.answer(reply, answer);
            }
            Request::ListUnitFiles { reply } => {
                let answer = Ok(install::list_unit_files(
                    &self.loader,
                    &self.specifiers,
                    &self.cfg,
                ));
                self.answer(reply, answer);
            }
            Request::UnitFileState { file, reply } => {
                let name = load::normalize(&file);
                let answer =
                    install::unit_file_state(&self.loader, &self.specifiers, &self.cfg, &name);
                self.answer(reply, answer);
            }
            Request::Enable {
                files,
                runtime,
                force,
                reply,
            } => {
                let result = install::enable(
                    &self.loader,
                    &self.specifiers,
                    &self.cfg,
                    &files,
                    runtime,
                    force,
                );
                self.answer_install(reply, result);
            }
            Request::Disable {
                files,
                runtime,
                reply,
            } => {
                let result =
                    install::disable(&self.loader, &self.specifiers, &self.cfg, &files, runtime);
                self.answer_install(reply, result);
            }
            Request::Reenable {
                files,
                runtime,
                force,
                reply,
            } => {
                let result = install::reenable(
                    &self.loader,
                    &self.specifiers,
                    &self.cfg,
                    &files,
                    runtime,
                    force,
                );
                self.answer_install(reply, result);
            }
            Request::Mask {
                files,
                runtime,
                force,
                reply,
            } => {
                let result = install::mask(&self.cfg, &files, runtime, force);
                self.answer_install(reply, result);
            }
            Request::Unmask {
                files,
                runtime,
                reply,
            } => {
                let result = install::unmask(&self.cfg, &files, runtime);
                self.answer_install(reply, result);
            }
            Request::CancelJob { id, reply } => {
                if self.jobs.contains_key(&id) {
                    self.finish_job(id, JobResult::Canceled);
                    let answer = Ok(());
                    self.answer(reply, answer);
                } else {
                    let answer = Err(ManagerError::NoSuchJob(id));
                    self.answer(reply, answer);
                }
            }
            Request::ClearJobs { reply } => {
                let ids: Vec<u32> = self.jobs.keys().copied().collect();
                for id in ids {
                    self.finish_job(id, JobResult::Canceled);
                }
                self.answer(reply, Ok(()));
            }
            Request::Reload { reply } => {
                self.daemon_reload();
                let answer = Ok(());
                self.answer(reply, answer);
            }
            Request::SetProperties {
                unit,
                runtime,
                lines,
                reply,
            } => {
                let answer = self.set_properties(&unit, runtime, &lines);
                self.answer(reply, answer);
            }
            Request::SetEnvironment { minus, plus, reply } => {
                self.set_environment(&minus, &plus);
                self.answer(reply, Ok(()));
            }
        }
    }

    /// Queues a reply to a request; replies go out at the end of [`Manager::settle`], once the snapshots that
    /// D-Bus properties read from show the request's effect.
    fn answer<T: Send + 'static>(&mut self, reply: Reply<T>, answer: Result<T, ManagerError>) {
        self.replies.push(Box::new(move || {
            let _ = reply.send(answer);
        }));
    }

    /// Answers an enable/disable/reenable/mask/unmask request once its links are on disk: every
    /// unit's dependencies from `.wants/`/`.requires/` and its UnitFileState are re-read first, as
    /// systemd does for all five alike, so `show` agrees with the links even under `--no-reload`.
    fn answer_install<T: Send + 'static>(
        &mut self,
        reply: Reply<T>,
        result: Result<T, ManagerError>,
    ) {
        self.refresh_links();
        self.answer(reply, result);
    }

    /// Runs `f` on the service `unit` with its context, marking the unit dirty.
    fn with_service(&mut self, unit: &str, f: impl FnOnce(&mut service::Service, &mut Ctx)) {
        let Some(u) = self.units.get_mut(unit) else {
            return;
        };
        let Some(cfg) = u.config.clone() else { return };
        let unit::Runtime::Service(svc) = &mut u.runtime else {
            return;
        };
        let mut ctx = Ctx {
            unit,
            unit_cfg: &cfg,
            rt: &mut self.rt,
        };
        f(svc, &mut ctx);
        self.dirty.insert(unit.to_string());
    }

    fn on_exit(&mut self, pid: i32, exit: Exit) {
        let owner = self.units.values().find(|u| {
            u.service()
                .is_some_and(|s| s.main_pid == Some(pid) || s.control.is_some_and(|c| c.pid == pid))
        });
        if let Some(name) = owner.map(|u| u.name.clone()) {
            self.with_service(&name, |svc, ctx| {
                svc.on_exit(ctx, pid, exit);
            });
            return;
        }
        // A process a service forked: let stopping services look at their cgroup again.
        let stopping: Vec<String> = self
            .units
            .values()
            .filter(|u| u.active_state() == ActiveState::Deactivating)
            .map(|u| u.name.clone())
            .collect();
        for name in stopping {
            self.with_service(&name, |svc, ctx| {
                svc.on_exit(ctx, pid, exit);
            });
        }
    }

    fn on_notify(&mut self, pid: i32, fields: Vec<(String, String)>) {
        let by_main = self
            .units
            .values()
            .find(|u| u.service().is_some_and(|s| s.main_pid == Some(pid)));
        let name = match by_main {
            Some(u) => Some(u.name.clone()),
            None => {
                // NotifyAccess=all: any process of the unit's cgroup may speak.
                let unit = self
                    .rt
                    .cgroups
                    .as_ref()
                    .and_then(|cg| cg.find_unit_of_pid(pid));
                unit.filter(|name| {
                    self.units
                        .get(name)
                        .and_then(|u| u.service())
                        .is_some_and(|s| s.cfg.notify_access == unitfile::NotifyAccess::All)
                })
            }
        };
        match name {
            Some(name) => self.with_service(&name, |svc, ctx| svc.on_notify(ctx, &fields)),
            None => tracing::debug!(
                pid,
                "notify message from a process of no unit (or not allowed), ignored"
            ),
        }
    }

    fn kill(&mut self, unit: &str, whom: KillWhom, signal: i32) -> Result<(), ManagerError> {
        let name = load::normalize(unit);
        let u = self
            .units
            .get(&name)
            .ok_or_else(|| ManagerError::NotLoaded(name.clone()))?;
        let Some(svc) = u.service() else {
            return Err(ManagerError::NotApplicable("kill", name));
        };
        let main = svc.main_pid;
        let control = svc.control.map(|c| c.pid);
        let signal_one = |pid: Option<i32>| {
            if let Some(pid) = pid {
                // SAFETY: kill(2) of a process of this unit.
                unsafe { libc::kill(pid, signal) };
            }
        };
        match whom {
            KillWhom::Main => {
                if main.is_none() {
                    return Err(ManagerError::Failed(format!(
                        "No main process to kill for {name}"
                    )));
                }
                signal_one(main)
            }
            KillWhom::Control => signal_one(control),
            KillWhom::All => match &self.rt.cgroups {
                Some(cg) => {
                    cg.kill_all(&name, signal)
                        .map_err(|e| ManagerError::Failed(e.to_string()))?;
                }
                None => {
                    signal_one(main);
                    signal_one(control);
                }
            },
        }
        Ok(())
    }

    /// Runs jobs and publishes changes until nothing moves.
    fn settle(&mut self) {
        for _ in 0..64 {
            let progressed = self.run_jobs();
            let newly_down = self.publish();
            let bound = self.propagate_binds_to(&newly_down);
            let triggered = self.start_triggered();
            let upheld = self.start_upheld();
            if !progressed && !bound && !triggered && !upheld {
                break;
            }
        }
        self.finished.clear();
        // Persist before anyone hears of the change: a crash right after a client saw "started" must not
        // forget the unit.
        if self.state_changed {
            self.state_changed = false;
            persist::save(&self.cfg.state_dir, &self.units);
        }
        for reply in self.replies.drain(..) {
            reply();
        }
        for signal in self.removed_jobs.drain(..) {
            let _ = self.signals.send(signal);
        }
    }

    /// Starts runnable jobs and finishes those whose unit reached its goal. True if anything changed.
    fn run_jobs(&mut self) -> bool {
        let mut progressed = false;
        let ids: Vec<u32> = self.jobs.keys().copied().collect();
        for id in ids {
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            if job.state == JobState::Waiting {
                if let Some(failed) = job.requires.iter().find(|r| {
                    self.finished
                        .get(r)
                        .is_some_and(|res| *res != JobResult::Done)
                }) {
                    tracing::debug!(
                        job = id,
                        dependency = failed,
                        "job fails: a required job failed"
                    );
                    self.finish_job(id, JobResult::Dependency);
                    progressed = true;
                    continue;
                }
                if job.waits_for.iter().any(|w| self.jobs.contains_key(w)) {
                    continue;
                }
                if let Some(j) = self.jobs.get_mut(&id) {
                    j.state = JobState::Running;
                }
                self.dirty_job_unit(id);
                progressed = true;
            }
            if self.step_job(id) {
                progressed = true;
            }
        }
        progressed
    }

    fn dirty_job_unit(&mut self, id: u32) {
        if let Some(job) = self.jobs.get(&id) {
            self.dirty.insert(job.unit.clone());
        }
    }

    /// Acts on a running job or finishes it. True if anything changed.
    fn step_job(&mut self, id: u32) -> bool {
        let Some(job) = self.jobs.get(&id) else {
            return false;
        };
        let (name, kind, acted, restart_stopped) =
            (job.unit.clone(), job.kind, job.acted, job.restart_stopped);
        let Some(u) = self.units.get(&name) else {
            self.finish_job(id, JobResult::Failed);
            return true;
        };
        let active = u.active_state();
        if !acted {
            match kind {
                JobKind::Start => {
                    if active.is_active_or_reloading() {
                        self.finish_job(id, JobResult::Done);
                        return true;
                    }
                    if !self.start_unit(&name) {
                        return false; // still stopping; try again later
                    }
                }
                JobKind::Stop => {
                    self.stop_unit(&name);
                }
                JobKind::Restart => {
                    if !restart_stopped {
                        if !active.is_inactive_or_failed() {
                            self.stop_unit(&name);
                            let now_down = self
                                .units
                                .get(&name)
                                .is_some_and(|u| u.active_state().is_inactive_or_failed());
                            if !now_down {
                                return false;
                            }
                        }
                        if let Some(j) = self.jobs.get_mut(&id) {
                            j.restart_stopped = true;
                        }
                    }
                    if !self.start_unit(&name) {
                        return false;
                    }
                }
                JobKind::Reload => {
                    let mut applicable = false;
                    self.with_service(&name, |svc, ctx| applicable = svc.reload(ctx));
                    if !applicable {
                        self.finish_job(id, JobResult::Failed);
                        return true;
                    }
                }
            }
            if let Some(j) = self.jobs.get_mut(&id) {
                j.acted = true;
            }
        }
        let Some(u) = self.units.get(&name) else {
            return true;
        };
        let ok = u
            .service()
            .is_none_or(|s| s.result == state::ServiceResult::Success);
        if let Some(result) = jobs::outcome(kind, u.active_state(), u.sub_state(), ok) {
            self.finish_job(id, result);
        }
        true
    }

    /// Starts a unit's runtime; false when it can't act yet (a service still stopping).
    fn start_unit(&mut self, name: &str) -> bool {
        let Some(u) = self.units.get_mut(name) else {
            return true;
        };
        match &mut u.runtime {
            unit::Runtime::Target { active } => {
                *active = true;
                u.transitions.push((ActiveState::Active, crate::now_usec()));
                self.dirty.insert(name.to_string());
                true
            }
            unit::Runtime::Service(svc) => {
                if !svc.can_start() {
                    return false;
                }
                let monitor = self.monitor_env(name);
                self.with_service(name, |svc, ctx| {
                    svc.monitor_env = monitor;
                    svc.start(ctx, false)
                });
                true
            }
            _ => true,
        }
    }

    fn stop_unit(&mut self, name: &str) {
        let Some(u) = self.units.get_mut(name) else {
            return;
        };
        match &mut u.runtime {
            unit::Runtime::Target { active } => {
                *active = false;
                u.transitions
                    .push((ActiveState::Inactive, crate::now_usec()));
                self.dirty.insert(name.to_string());
            }
            unit::Runtime::Service(_) => self.with_service(name, |svc, ctx| svc.stop(ctx)),
            _ => {}
        }
    }

    fn finish_job(&mut self, id: u32, result: JobResult) {
        let Some(job) = self.jobs.remove(&id) else {
            return;
        };
        tracing::debug!(job = id, unit = %job.unit, kind = job.kind.as_str(), result = result.as_str(), "job finished");
        if matches!(job.kind, JobKind::Start | JobKind::Restart)
            && matches!(
                result,
                JobResult::Failed | JobResult::Dependency | JobResult::Timeout
            )
        {
            let description = self
                .units
                .get(&job.unit)
                .map(|u| u.description())
                .unwrap_or_default();
            let message = match result {
                JobResult::Dependency => format!("Dependency failed for {description}."),
                _ => format!("Failed to start {description}."),
            };
            self.rt.logs.journal().manager(&job.unit, 3, &message);
        }
        if let Some(u) = self.units.get_mut(&job.unit) {
            if u.job == Some(id) {
                u.job = None;
            }
        }
        self.dirty.insert(job.unit.clone());
        self.finished.insert(id, result);
        if let Ok(mut shared) = self.shared.write() {
            shared.jobs.remove(&id);
        }
        self.removed_jobs.push(Signal::JobRemoved {
            id,
            unit: job.unit,
            result,
        });
    }

    /// Starts the OnFailure=/OnSuccess= units of the units that just failed or finished, each start job queued
    /// in the unit's OnFailureJobMode=/OnSuccessJobMode= (default `replace`; `isolate` and `flush`, which unitd
    /// does not have, fall back to it with a warning). True if a job was queued.
    fn start_triggered(&mut self) -> bool {
        let mut queued = false;
        for (name, kind) in std::mem::take(&mut self.triggered) {
            let Some(u) = self.units.get(&name) else {
                continue;
            };
            let targets = u.deps(kind);
            if targets.is_empty() {
                continue;
            }
            let (setting, mode) = match (kind, u.config.as_deref()) {
                (DepKind::OnFailure, Some(c)) => ("OnFailure=", c.on_failure_job_mode.as_str()),
                (DepKind::OnFailure, None) => ("OnFailure=", "replace"),
                (_, Some(c)) => ("OnSuccess=", c.on_success_job_mode.as_str()),
                (_, None) => ("OnSuccess=", "replace"),
            };
            let mode = JobMode::parse(mode).unwrap_or_else(|| {
                tracing::warn!(unit = %name, mode, "{setting} job mode not supported; using replace");
                JobMode::Replace
            });
            tracing::info!(unit = %name, "triggering {setting} dependencies");
            for target in targets {
                match self.enqueue(&target, JobKind::Start, mode, false) {
                    Ok(_) => queued = true,
                    Err(e) => tracing::warn!(
                        unit = %name,
                        dependency = %target,
                        error = %e,
                        "{setting} dependency not started"
                    ),
                }
            }
        }
        queued
    }

    /// Upholds=: a unit found inactive or failed, with no job, while a unit that upholds it is active is
    /// started (job mode `fail`), without delay — systemd's start-when-upheld queue. Looked at when the unit or
    /// its upholder changed state. A unit that hit its start limit stays failed, as in systemd (its start job
    /// would fail at once). True if a job was queued.
    fn start_upheld(&mut self) -> bool {
        let changed = std::mem::take(&mut self.uphold_check);
        let mut candidates: BTreeSet<String> = BTreeSet::new();
        for name in &changed {
            candidates.insert(name.clone());
            if let Some(deps) = self.published_deps.get(name) {
                candidates.extend(deps.upholds.iter().cloned());
            }
        }
        let mut queued = false;
        for name in candidates {
            let Some(u) = self.units.get(&name) else {
                continue;
            };
            if !u.active_state().is_inactive_or_failed()
                || u.job.is_some()
                || u.service()
                    .is_some_and(|s| s.result == state::ServiceResult::StartLimitHit)
            {
                continue;
            }
            let upholder = self.published_deps.get(&name).and_then(|deps| {
                deps.upheld_by.iter().find(|by| {
                    self.units
                        .get(*by)
                        .is_some_and(|b| b.active_state().is_active_or_reloading())
                })
            });
            let Some(upholder) = upholder.cloned() else {
                continue;
            };
            self.rt.log_unit(
                &name,
                6,
                &format!("Unit is started because upheld by active unit {upholder}."),
            );
            match self.enqueue(&name, JobKind::Start, JobMode::Fail, false) {
                Ok(_) => queued = true,
                Err(e) => tracing::warn!(unit = %name, error = %e, "upheld unit not started"),
            }
        }
        queued
    }

    /// Stops units bound (BindsTo=) to units that just went down. True if a job was queued.
    fn propagate_binds_to(&mut self, newly_down: &[String]) -> bool {
        let mut queued = false;
        for down in newly_down {
            let bound: Vec<String> = self
                .units
                .values()
                .filter(|u| {
                    u.deps(DepKind::BindsTo).contains(down)
                        && !u.active_state().is_inactive_or_failed()
                        && u.job.is_none()
                })
                .map(|u| u.name.clone())
                .collect();
            for name in bound {
                tracing::info!(unit = %name, bound_to = %down, "stopping: the unit it is bound to went down");
                if self
                    .enqueue(&name, JobKind::Stop, JobMode::Replace, false)
                    .is_ok()
                {
                    queued = true;
                }
            }
        }
        queued
    }

    /// Re-snapshots dirty units, emits their signals; returns units that went inactive/failed just now.
    fn publish(&mut self) -> Vec<String> {
        let mut newly_down = Vec::new();
        self.refresh_graph_if_stale();
        let no_deps = graph::UnitDeps::default();
        let dirty = std::mem::take(&mut self.dirty);
        for name in dirty {
            let Some(u) = self.units.get_mut(&name) else {
                continue;
            };
            let now = (u.active_state(), u.sub_state());
            let before = u.published;
            // Every active-state change since the last publish, with the time it happened (a restart passes
            // through inactive between two publishes).
            let mut transitions = std::mem::take(&mut u.transitions);
            if let unit::Runtime::Service(svc) = &mut u.runtime {
                transitions.append(&mut svc.transitions);
            }
            if before.map(|b| b.0) != Some(now.0) || !transitions.is_empty() {
                self.uphold_check.insert(name.clone());
            }
            if before.map(|b| b.0) != Some(now.0) && transitions.last().map(|t| t.0) != Some(now.0)
            {
                transitions.push((now.0, crate::now_usec()));
            }
            let mut was = before.map(|b| b.0).unwrap_or(ActiveState::Inactive);
            for (state, ts) in transitions {
                if state == was {
                    continue;
                }
                // Only for changes seen while running: a unit restored failed from the state file after a
                // restart of unitd triggers nothing (systemd neither, while it reloads).
                if before.is_some() {
                    if state == ActiveState::Failed {
                        self.triggered.push((name.clone(), DepKind::OnFailure));
                    } else if state == ActiveState::Inactive && was != ActiveState::Failed {
                        self.triggered.push((name.clone(), DepKind::OnSuccess));
                    }
                }
                let t = &mut u.timestamps;
                if state.is_active_or_reloading() && !was.is_active_or_reloading() {
                    t.active_enter = ts;
                }
                if !state.is_active_or_reloading() && was.is_active_or_reloading() {
                    t.active_exit = ts;
                }
                if state.is_inactive_or_failed() && !was.is_inactive_or_failed() {
                    t.inactive_enter = ts;
                    if !newly_down.contains(&name) {
                        newly_down.push(name.clone());
                    }
                }
                if !state.is_inactive_or_failed() && was.is_inactive_or_failed() {
                    t.inactive_exit = ts;
                }
                t.state_change = ts;
                self.state_changed = true;
                was = state;
            }
            if before.map(|b| b.1) != Some(now.1) {
                if before.map(|b| b.0) == Some(now.0) {
                    u.timestamps.state_change = crate::now_usec();
                }
                self.state_changed = true;
            }
            u.published = Some(now);
            let deps = self.published_deps.get(&name).unwrap_or(&no_deps);
            let snap = snapshot::unit_snapshot(u, deps, &self.jobs, self.rt.cgroups.as_ref());
            let service = snap.service.is_some();
            if let Ok(mut shared) = self.shared.write() {
                shared.units.insert(name.clone(), snap);
                if let Some(job_id) = u.job {
                    if let Some(job) = self.jobs.get(&job_id) {
                        shared.jobs.insert(job_id, snapshot::job_snapshot(job));
                    }
                }
                shared.refresh_counts(&self.units, self.jobs.len());
            }
            let _ = self.signals.send(Signal::Changed {
                unit: name,
                service,
            });
        }
        newly_down
    }

    /// Loads `name` if it isn't loaded; Err when it can't be loaded (the unit is still recorded).
    fn ensure_loaded(&mut self, name: &str) -> Result<(), ManagerError> {
        if !self.units.contains_key(name) {
            let (mut unit, diagnostics) = load::load_unit(&self.loader, &self.specifiers, name);
            self.log_diagnostics(name, &diagnostics, unit.load_error.as_ref());
            unit.unit_file_state =
                install::unit_file_state(&self.loader, &self.specifiers, &self.cfg, name)
                    .unwrap_or_default();
            let service = matches!(unit.runtime, unit::Runtime::Service(_));
            self.units.insert(name.to_string(), unit);
            self.graph_stale = true;
            self.dirty.insert(name.to_string());
            let _ = self.signals.send(Signal::UnitNew {
                unit: name.to_string(),
                service,
            });
        }
        let u = self
            .units
            .get(name)
            .ok_or_else(|| ManagerError::NoSuchUnit(name.to_string()))?;
        load::load_result(u)
    }

    fn load_all(&mut self) {
        for (name, _path) in self.loader.list_unit_files() {
            let name = name.to_string();
            if name.contains("@.") {
                continue; // templates load only as instances
            }
            let _ = self.ensure_loaded(&name);
        }
    }

    /// daemon-reload: re-read every unit file; running services keep their processes and state.
    fn daemon_reload(&mut self) {
        tracing::info!("reloading unit files");
        let names: Vec<String> = self.units.keys().cloned().collect();
        for name in &names {
            self.reload_unit(name);
        }
        self.load_all();
    }

    /// Re-reads one unit's files. A running service keeps its processes and gets the new resource limits at
    /// once (systemd re-applies cgroup settings at daemon-reload too).
    fn reload_unit(&mut self, name: &str) {
        let (fresh, diagnostics) = load::load_unit(&self.loader, &self.specifiers, name);
        self.log_diagnostics(name, &diagnostics, fresh.load_error.as_ref());
        {
            let Some(u) = self.units.get_mut(name) else {
                return;
            };
            u.load_state = fresh.load_state;
            u.load_error = fresh.load_error;
            u.extra_wants = fresh.extra_wants;
            u.extra_requires = fresh.extra_requires;
            match (&mut u.runtime, fresh.runtime) {
                (unit::Runtime::Service(old), unit::Runtime::Service(new)) => {
                    old.cfg = new.cfg.clone()
                }
                (unit::Runtime::Service(old), _)
                    if !old.state.active_state().is_inactive_or_failed() => {}
                (slot, new) => {
                    if !matches!(slot, unit::Runtime::Target { active: true })
                        || !matches!(new, unit::Runtime::Target { .. })
                    {
                        *slot = new;
                    }
                }
            }
            u.config = fresh.config.or(u.config.take());
        }
        self.dirty.insert(name.to_string());
        self.graph_stale = true;
        self.apply_limits(name);
    }

    /// Writes a running service's resource limits to its cgroup.
    fn apply_limits(&mut self, name: &str) {
        let (Some(cg), Some(u)) = (&self.rt.cgroups, self.units.get(name)) else {
            return;
        };
        let Some(svc) = u.service() else { return };
        if svc.state.active_state().is_inactive_or_failed() {
            return;
        }
        let limits = crate::exec::limits(&svc.cfg.resources);
        if let Err(e) = cg.apply(name, &limits) {
            tracing::warn!(unit = %name, error = %e, "resource limits not applied");
        }
    }

    /// `set-property`: writes one drop-in per line to the (runtime) control directory, re-reads the unit and
    /// applies its limits if it runs.
    fn set_properties(
        &mut self,
        name: &str,
        runtime: bool,
        lines: &[String],
    ) -> Result<(), ManagerError> {
        self.ensure_loaded(name)?;
        let Some(u) = self.units.get(name) else {
            return Err(ManagerError::NoSuchUnit(name.to_string()));
        };
        if u.service().is_none() {
            let key = lines.first().map_or("", |l| set_property::key_of(l));
            return Err(ManagerError::InvalidArgs(format!(
                "Cannot set property {key}, or unknown property."
            )));
        }
        let dir = if runtime {
            &self.cfg.runtime_control_dir
        } else {
            &self.cfg.control_dir
        };
        for line in lines {
            let path = set_property::drop_in_path(dir, name, set_property::key_of(line));
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, set_property::drop_in_text(line)));
            if let Err(e) = written {
                return Err(ManagerError::Failed(format!(
                    "Failed to write {}: {e}",
                    path.display()
                )));
            }
        }
        tracing::info!(unit = %name, ?lines, runtime, "properties set");
        self.reload_unit(name);
        Ok(())
    }

    /// `MONITOR_SERVICE_RESULT`, `MONITOR_EXIT_CODE`, `MONITOR_EXIT_STATUS`, `MONITOR_INVOCATION_ID` and
    /// `MONITOR_UNIT` for `name`'s ExecStartPre=/ExecStart=: the state of the service whose OnFailure= or
    /// OnSuccess= names it — a handler unit learns what happened to the unit it handles. As in systemd
    /// (`service_get_triggering_service`), only when exactly one unit names it: with several, nothing is passed
    /// and the unit's journal says so (a template handler, `OnFailure=alert@%n.service`, has one per instance).
    fn monitor_env(&mut self, name: &str) -> Vec<(String, String)> {
        self.refresh_graph_if_stale();
        let Some(deps) = self.published_deps.get(name) else {
            return Vec::new();
        };
        let sources: Vec<&String> = deps
            .on_failure_of
            .iter()
            .chain(&deps.on_success_of)
            .collect();
        let source = match sources[..] {
            [] => return Vec::new(),
            [one] => one.clone(),
            [a, b, ..] => {
                self.rt.log_unit(
                    name,
                    4,
                    &format!(
                        "multiple trigger source candidates for exit status propagation ({a}, {b}), skipping."
                    ),
                );
                return Vec::new();
            }
        };
        let Some(svc) = self.units.get(&source).and_then(Unit::service) else {
            return Vec::new();
        };
        let mut env = svc.result_env("MONITOR_");
        if let Some(id) = &svc.invocation_id {
            env.push((
                "MONITOR_INVOCATION_ID".to_string(),
                crate::exec::invocation_id_hex(id),
            ));
        }
        env.push(("MONITOR_UNIT".to_string(), source));
        env
    }

    /// [`Manager::refresh_graph`] when declarations may have moved since the last rebuild.
    fn refresh_graph_if_stale(&mut self) {
        if std::mem::take(&mut self.graph_stale) {
            self.refresh_graph();
        }
    }

    /// Rebuilds the dependency graph from every unit's declared dependencies and marks dirty each unit whose
    /// lists changed since the last publish (the inverse lists land on the units a changed unit names, which the
    /// change itself did not touch). Runs only when `graph_stale` says declarations may have moved.
    fn refresh_graph(&mut self) {
        let this = &*self;
        let graph = graph::build(this.units.values().flat_map(|u| {
            graph::KINDS.iter().flat_map(move |&kind| {
                this.unit_deps(u, kind)
                    .into_iter()
                    .map(move |to| (u.name.clone(), kind, to))
            })
        }));
        let none = graph::UnitDeps::default();
        for name in self.units.keys() {
            if graph.get(name).unwrap_or(&none) != self.published_deps.get(name).unwrap_or(&none) {
                self.dirty.insert(name.clone());
            }
        }
        self.published_deps = graph;
    }

    /// The dependencies of `kind` of `u`: what it declares (links included) and, for `After`, what a target is
    /// implicitly ordered after (see [`Unit::default_target_after`]).
    fn unit_deps(&self, u: &Unit, kind: DepKind) -> Vec<String> {
        let mut deps = u.deps(kind);
        if kind == DepKind::After {
            for name in u.default_target_after(|n| self.units.get(n)) {
                if !deps.contains(&name) {
                    deps.push(name);
                }
            }
        }
        deps
    }

    /// Re-reads `.wants/`/`.requires/` links and every UnitFileState after a unit-file change.
    fn refresh_links(&mut self) {
        for u in self.units.values_mut() {
            let (wants, requires) = load::link_deps(&self.loader, &u.name);
            u.extra_wants = wants;
            u.extra_requires = requires;
            u.unit_file_state =
                install::unit_file_state(&self.loader, &self.specifiers, &self.cfg, &u.name)
                    .unwrap_or_default();
            self.dirty.insert(u.name.clone());
        }
        self.graph_stale = true;
    }

    /// Problems found while loading `name`: warnings to the log, errors also to the unit's journal.
    fn log_diagnostics(
        &self,
        name: &str,
        diagnostics: &[unitfile::Diagnostic],
        error: Option<&(String, String)>,
    ) {
        for d in diagnostics {
            if d.is_error() {
                tracing::error!(unit = %name, "{d}");
                self.rt.logs.journal().manager(name, 3, &d.to_string());
            } else {
                tracing::warn!(unit = %name, "{d}");
            }
        }
        if let Some((_, message)) = error {
            tracing::debug!(unit = %name, "load failed: {message}");
        }
    }

    /// Restores units recorded by a previous unitd whose processes still run. Returns how many.
    fn reattach(&mut self, saved: Vec<persist::SavedUnit>) -> usize {
        let mut count = 0;
        for s in saved {
            if self.ensure_loaded(&s.name).is_err() {
                continue;
            }
            let Some(u) = self.units.get_mut(&s.name) else {
                continue;
            };
            u.timestamps = s.timestamps();
            match &mut u.runtime {
                unit::Runtime::Target { active } => {
                    *active = s.sub == "active";
                    count += 1;
                }
                unit::Runtime::Service(svc) => {
                    svc.n_restarts = s.n_restarts;
                    svc.invocation_id = s.invocation_id;
                    svc.exec_main_start_usec = s.exec_main_start_usec;
                    let sub = state::ServiceState::parse(&s.sub);
                    let alive = s.main_pid.filter(|pid| {
                        process_alive(*pid)
                            && self.rt.cgroups.as_ref().is_none_or(|cg| {
                                cg.find_unit_of_pid(*pid).as_deref() == Some(s.name.as_str())
                            })
                    });
                    match (sub, alive) {
                        (Some(state::ServiceState::Running), Some(pid)) => {
                            let name = s.name.clone();
                            self.with_service(&name, |svc, ctx| {
                                svc.reattach(ctx, Some(pid), state::ServiceState::Running);
                                let ident = svc
                                    .cfg
                                    .exec_start
                                    .first()
                                    .map(crate::exec::identifier)
                                    .unwrap_or_default();
                                let _ = ctx.rt.logs.writer_for(ctx.unit, &ident, Some(pid as u32));
                            });
                            if !is_our_child(pid) {
                                watch_foreign_exit(pid, self.rt.events.clone());
                            }
                            tracing::info!(unit = %name, pid, "re-attached to running service");
                            count += 1;
                        }
                        (Some(state::ServiceState::Exited), _) => {
                            let name = s.name.clone();
                            self.with_service(&name, |svc, ctx| {
                                svc.reattach(ctx, None, state::ServiceState::Exited)
                            });
                            count += 1;
                        }
                        (Some(state::ServiceState::Failed), _) => {
                            svc.result = state::ServiceResult::parse(&s.result);
                            svc.state = state::ServiceState::Failed;
                        }
                        _ => {
                            // It died while unitd was away: clean up what is left of it.
                            if let Some(cg) = &self.rt.cgroups {
                                let _ = cg.kill_all(&s.name, libc::SIGKILL);
                            }
                        }
                    }
                }
                _ => {}
            }
            // The restored state is not a change: keep the saved timestamps.
            if let Some(u) = self.units.get_mut(&s.name) {
                if let unit::Runtime::Service(svc) = &mut u.runtime {
                    svc.transitions.clear();
                }
                u.transitions.clear();
                u.published = Some((u.active_state(), u.sub_state()));
            }
            self.dirty.insert(s.name.clone());
        }
        count
    }

    /// Queues a job for `unit` and everything its dependencies pull in. Returns the anchor job's id.
    fn enqueue(
        &mut self,
        unit: &str,
        kind: JobKind,
        mode: JobMode,
        only_if_active: bool,
    ) -> Result<u32, ManagerError> {
        transaction::enqueue(self, unit, kind, mode, only_if_active)
    }
}

/// Whether `pid` exists (kill with signal 0).
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Whether `pid`'s parent is this process (after a re-exec our children stay ours).
fn is_our_child(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The comm field may contain spaces; the fields after the last ')' are "state ppid …".
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return false;
    };
    let ppid = rest
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok());
    ppid == Some(std::process::id())
}

/// Watches a process that isn't our child through a pidfd and reports its exit.
fn watch_foreign_exit(pid: i32, events: mpsc::UnboundedSender<Event>) {
    tokio::spawn(async move {
        // SAFETY: pidfd_open takes a pid and flags; the fd is owned below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        if fd < 0 {
            let _ = events.send(Event::ForeignExit { pid });
            return;
        }
        // SAFETY: fd was just returned by pidfd_open.
        let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // SAFETY: `owned` is an OwnedFd, open for as long as the AsyncFd owns it.
        match unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        } {
            Ok(async_fd) => {
                let _ = async_fd.readable().await;
            }
            Err(_) => {
                while process_alive(pid) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let _ = events.send(Event::ForeignExit { pid });
    });
}
