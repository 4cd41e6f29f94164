//! The service state machine, after systemd's `src/core/service.c`: start-pre → start → start-post → running,
//! stop → stop-sigterm → stop-sigkill → stop-post → final-sigterm → dead/failed, with auto-restart, timeouts,
//! sd_notify and the watchdog.
//!
//! Each transition is a method that changes memory and asks the [`Ctx`] for effects (spawn, signal, arm a timer);
//! events (a child exited, a timer fired, a notify message came) come back in through `on_*` methods. The manager
//! compares the state before and after every event to publish changes and to finish jobs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use unitfile::{ExecCommand, KillMode, ServiceConfig, ServiceType};

use super::context::{Ctx, ExecRole, TimerKind};
use super::restart::{should_restart, StartLimit};
use super::state::{ActiveState, Exit, ServiceResult, ServiceState};

/// How often the cgroup is polled while unitd waits for it to empty (cgroup v1 has no notification for that).
const EMPTY_POLL: Duration = Duration::from_millis(10);

/// Which command list a control process comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    StartPre,
    Start,
    StartPost,
    Reload,
    Stop,
    StopPost,
}

/// A running control process (ExecStartPre=, ExecStop=, … or a forking service's ExecStart=).
#[derive(Debug, Clone, Copy)]
pub struct Control {
    pub pid: i32,
    pub kind: ExecKind,
    pub index: usize,
}

/// One service's runtime state. Fields are what `systemctl show` reports and what the transitions need.
#[derive(Debug)]
pub struct Service {
    pub cfg: Arc<ServiceConfig>,
    pub state: ServiceState,
    pub result: ServiceResult,
    pub main_pid: Option<i32>,
    /// The main process was found again after a unitd restart: it is not our child, its exit is seen via pidfd.
    pub main_reattached: bool,
    pub control: Option<Control>,
    /// The current main command of a oneshot service (which runs its ExecStart= lines one after the other).
    pub main_index: usize,
    pub exec_main_pid: u32,
    pub exec_main_exit: Option<Exit>,
    pub exec_main_start_usec: u64,
    pub exec_main_exit_usec: u64,
    pub n_restarts: u32,
    pub status_text: String,
    /// A stop was asked for (a job or KillUnit), so the coming death is not a reason to restart.
    pub stop_requested: bool,
    /// Bumped on every state entry; a timer armed for an older generation is stale.
    pub generation: u64,
    pub watchdog_generation: u64,
    pub start_limit: StartLimit,
    /// OOM kills counted in the unit's cgroup when it started; more than this at exit means Result=oom-kill.
    pub oom_baseline: u64,
    /// READY=1 came before the main process was known (notify services that fork early).
    pub notify_ready: bool,
    /// Active-state changes since the manager last published this unit, with their times.
    pub transitions: Vec<(ActiveState, u64)>,
    /// This activation's ID (`$INVOCATION_ID`, the `InvocationID` property): new at each start, restarts
    /// included; none before the first.
    pub invocation_id: Option<[u8; 16]>,
    /// `MONITOR_*` for ExecStartPre=/ExecStart=: the state of the one unit whose OnFailure=/OnSuccess= names
    /// this one, set by the manager when it starts this unit (see `Manager::monitor_env`).
    pub monitor_env: Vec<(String, String)>,
}

impl Service {
    pub fn new(cfg: Arc<ServiceConfig>) -> Service {
        Service {
            cfg,
            state: ServiceState::Dead,
            result: ServiceResult::Success,
            main_pid: None,
            main_reattached: false,
            control: None,
            main_index: 0,
            exec_main_pid: 0,
            exec_main_exit: None,
            exec_main_start_usec: 0,
            exec_main_exit_usec: 0,
            n_restarts: 0,
            status_text: String::new(),
            stop_requested: false,
            generation: 0,
            watchdog_generation: 0,
            start_limit: StartLimit::default(),
            oom_baseline: 0,
            notify_ready: false,
            transitions: Vec::new(),
            invocation_id: None,
            monitor_env: Vec::new(),
        }
    }

    /// `SERVICE_RESULT`, and `EXIT_CODE`/`EXIT_STATUS` once the main process has exited, each name after
    /// `prefix` (`MONITOR_` when another unit's ExecStart= gets them): what systemd passes ExecStop= and
    /// ExecStopPost= so they can tell a crash from a clean stop.
    pub fn result_env(&self, prefix: &str) -> Vec<(String, String)> {
        let mut env = vec![(
            format!("{prefix}SERVICE_RESULT"),
            self.result.as_str().to_string(),
        )];
        if let Some(exit) = self.exec_main_exit {
            env.push((format!("{prefix}EXIT_CODE"), exit.code_name().to_string()));
            env.push((format!("{prefix}EXIT_STATUS"), exit.status_text()));
        }
        env
    }

    /// The variables this service sets for a command of `kind` (systemd's `service_spawn`): its invocation
    /// ID; its result for ExecStop=/ExecStopPost=; the triggering unit's for ExecStartPre=/ExecStart=.
    fn exec_env(&self, kind: ExecKind) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .invocation_id
            .iter()
            .map(|id| {
                (
                    "INVOCATION_ID".to_string(),
                    crate::exec::invocation_id_hex(id),
                )
            })
            .collect();
        match kind {
            ExecKind::Stop | ExecKind::StopPost => env.extend(self.result_env("")),
            ExecKind::StartPre | ExecKind::Start => env.extend(self.monitor_env.iter().cloned()),
            ExecKind::StartPost | ExecKind::Reload => {}
        }
        env
    }

    fn set_state(&mut self, ctx: &mut Ctx, state: ServiceState) {
        self.generation += 1;
        if state.active_state() != self.state.active_state() {
            self.transitions
                .push((state.active_state(), crate::now_usec()));
        }
        self.state = state;
        let timeout = match state {
            ServiceState::StartPre | ServiceState::Start | ServiceState::StartPost => {
                self.cfg.timeout_start_sec
            }
            ServiceState::Reload => self.cfg.timeout_start_sec,
            ServiceState::Stop
            | ServiceState::StopSigterm
            | ServiceState::StopSigkill
            | ServiceState::StopPost
            | ServiceState::FinalSigterm
            | ServiceState::FinalSigkill => self.cfg.timeout_stop_sec,
            ServiceState::AutoRestart => Some(self.cfg.restart_sec),
            _ => None,
        };
        if let Some(after) = timeout {
            ctx.arm_timer(self.generation, after, TimerKind::Timeout);
        }
        if matches!(
            state,
            ServiceState::StopSigterm
                | ServiceState::StopSigkill
                | ServiceState::FinalSigterm
                | ServiceState::FinalSigkill
        ) {
            ctx.arm_timer(self.generation, EMPTY_POLL, TimerKind::Poll);
        }
    }

    fn fail(&mut self, result: ServiceResult) {
        if self.result == ServiceResult::Success {
            self.result = result;
        }
    }

    fn commands(&self, kind: ExecKind) -> &[ExecCommand] {
        match kind {
            ExecKind::StartPre => &self.cfg.exec_start_pre,
            ExecKind::Start => &self.cfg.exec_start,
            ExecKind::StartPost => &self.cfg.exec_start_post,
            ExecKind::Reload => &self.cfg.exec_reload,
            ExecKind::Stop => &self.cfg.exec_stop,
            ExecKind::StopPost => &self.cfg.exec_stop_post,
        }
    }

    // ---- requests -------------------------------------------------------------------------------------------

    /// Whether a start request can act now (systemd: a stopping service first finishes stopping).
    pub fn can_start(&self) -> bool {
        matches!(
            self.state,
            ServiceState::Dead | ServiceState::Failed | ServiceState::AutoRestart
        )
    }

    /// Starts the service. `auto` marks a restart by Restart= rather than by a job.
    pub fn start(&mut self, ctx: &mut Ctx, auto: bool) {
        if !self.can_start() {
            return;
        }
        if !self.start_limit.try_start(
            Instant::now(),
            ctx.unit_cfg.start_limit_interval,
            ctx.unit_cfg.start_limit_burst,
        ) {
            ctx.log("Start request repeated too quickly.".to_string());
            self.result = ServiceResult::StartLimitHit;
            self.set_state(ctx, ServiceState::Failed);
            ctx.log(format!("Failed with result '{}'.", self.result));
            return;
        }
        if auto {
            self.n_restarts += 1;
        }
        self.invocation_id = Some(crate::exec::new_invocation_id());
        self.result = ServiceResult::Success;
        self.stop_requested = false;
        self.main_pid = None;
        self.main_reattached = false;
        self.control = None;
        self.notify_ready = false;
        self.status_text.clear();
        self.main_index = 0;
        if let Err(e) = ctx.prepare_cgroup() {
            ctx.log(format!("Failed to set up the control group: {e}"));
            self.result = ServiceResult::Resources;
            self.set_state(ctx, ServiceState::Failed);
            return;
        }
        self.oom_baseline = ctx.oom_kills();
        if !auto {
            ctx.log_status(format!("Starting {}...", ctx.description()));
        }
        self.run_list_or(ctx, ExecKind::StartPre, 0);
    }

    /// Stops the service (a stop job or a restart's first half).
    pub fn stop(&mut self, ctx: &mut Ctx) {
        self.stop_requested = true;
        match self.state {
            ServiceState::Dead | ServiceState::Failed => {}
            ServiceState::AutoRestart => self.set_state(ctx, ServiceState::Dead),
            ServiceState::StartPre
            | ServiceState::Start
            | ServiceState::StartPost
            | ServiceState::Reload => self.enter_signal(ctx, ServiceState::StopSigterm),
            ServiceState::Running | ServiceState::Exited => self.enter_stop(ctx),
            // Already stopping.
            _ => {}
        }
    }

    /// Runs ExecReload=; false when the service has none (the job type is not applicable).
    pub fn reload(&mut self, ctx: &mut Ctx) -> bool {
        if self.cfg.exec_reload.is_empty() {
            return false;
        }
        if self.state == ServiceState::Running || self.state == ServiceState::Exited {
            self.spawn_control(ctx, ExecKind::Reload, 0);
        }
        true
    }

    /// `systemctl reset-failed`.
    pub fn reset_failed(&mut self, ctx: &mut Ctx) {
        self.start_limit.reset();
        if self.state == ServiceState::Failed {
            self.result = ServiceResult::Success;
            self.set_state(ctx, ServiceState::Dead);
        }
    }

    // ---- transitions ----------------------------------------------------------------------------------------

    /// Runs command `index` of `kind`, or moves on to the next phase when the list is done.
    fn run_list_or(&mut self, ctx: &mut Ctx, kind: ExecKind, index: usize) {
        if index < self.commands(kind).len() {
            if kind == ExecKind::Start {
                self.enter_start(ctx);
            } else {
                self.spawn_control(ctx, kind, index);
            }
            return;
        }
        match kind {
            ExecKind::StartPre => self.enter_start(ctx),
            ExecKind::Start => self.enter_start_post(ctx),
            ExecKind::StartPost => self.enter_running(ctx),
            ExecKind::Reload => self.enter_running(ctx),
            ExecKind::Stop => self.enter_signal(ctx, ServiceState::StopSigterm),
            ExecKind::StopPost => self.enter_signal(ctx, ServiceState::FinalSigterm),
        }
    }

    fn spawn_control(&mut self, ctx: &mut Ctx, kind: ExecKind, index: usize) {
        let state = match kind {
            ExecKind::StartPre => ServiceState::StartPre,
            ExecKind::Start => ServiceState::Start,
            ExecKind::StartPost => ServiceState::StartPost,
            ExecKind::Reload => ServiceState::Reload,
            ExecKind::Stop => ServiceState::Stop,
            ExecKind::StopPost => ServiceState::StopPost,
        };
        let Some(cmd) = self.commands(kind).get(index).cloned() else {
            return self.run_list_or(ctx, kind, index);
        };
        self.set_state(ctx, state);
        let env = self.exec_env(kind);
        match ctx.spawn(&cmd, ExecRole::Control, self.main_pid, &env) {
            Ok(pid) => self.control = Some(Control { pid, kind, index }),
            Err(e) => {
                ctx.log(format!("Failed to run '{}' task: {e}", kind_name(kind)));
                self.control = None;
                self.on_control_failed(ctx, kind, ServiceResult::Resources);
            }
        }
    }

    fn enter_start(&mut self, ctx: &mut Ctx) {
        let Some(cmd) = self.cfg.exec_start.get(self.main_index).cloned() else {
            // A oneshot without ExecStart= (RemainAfterExit=yes): nothing to run.
            return self.enter_start_post(ctx);
        };
        if self.cfg.service_type == ServiceType::Forking {
            // The forking service's ExecStart= is a control process; the daemon it leaves behind is the main one.
            self.set_state(ctx, ServiceState::Start);
            let env = self.exec_env(ExecKind::Start);
            match ctx.spawn(&cmd, ExecRole::Control, None, &env) {
                Ok(pid) => {
                    self.control = Some(Control {
                        pid,
                        kind: ExecKind::Start,
                        index: 0,
                    })
                }
                Err(e) => {
                    ctx.log(format!("Failed to run 'start' task: {e}"));
                    self.fail(ServiceResult::Resources);
                    self.enter_signal(ctx, ServiceState::StopSigterm);
                }
            }
            return;
        }
        self.set_state(ctx, ServiceState::Start);
        let env = self.exec_env(ExecKind::Start);
        match ctx.spawn(&cmd, ExecRole::Main, None, &env) {
            Ok(pid) => {
                self.main_pid = Some(pid);
                self.exec_main_pid = pid as u32;
                self.exec_main_exit = None;
                self.exec_main_start_usec = crate::now_usec();
                self.exec_main_exit_usec = 0;
                if self.cfg.watchdog_sec.is_some() {
                    self.arm_watchdog(ctx);
                }
            }
            Err(e) => {
                ctx.log(format!("Failed to run 'start' task: {e}"));
                self.fail(ServiceResult::Resources);
                return self.enter_signal(ctx, ServiceState::StopSigterm);
            }
        }
        match self.cfg.service_type {
            // simple/exec/idle: started once the process runs; oneshot and notify wait (for exit / READY=1).
            ServiceType::Oneshot => {}
            ServiceType::Notify if !self.notify_ready => {}
            _ => self.enter_start_post(ctx),
        }
    }

    fn enter_start_post(&mut self, ctx: &mut Ctx) {
        if self.cfg.exec_start_post.is_empty() {
            self.enter_running(ctx)
        } else {
            self.spawn_control(ctx, ExecKind::StartPost, 0)
        }
    }

    fn enter_running(&mut self, ctx: &mut Ctx) {
        self.control = None;
        if self.result != ServiceResult::Success {
            return self.enter_signal(ctx, ServiceState::StopSigterm);
        }
        let main_alive = self.main_pid.is_some();
        if main_alive {
            if self.state != ServiceState::Running && self.state != ServiceState::Reload {
                ctx.log_status(format!("Started {}.", ctx.description()));
            }
            self.set_state(ctx, ServiceState::Running);
        } else if self.cfg.remain_after_exit {
            if self.state != ServiceState::Exited && self.state != ServiceState::Reload {
                ctx.log_status(format!("Finished {}.", ctx.description()));
            }
            self.set_state(ctx, ServiceState::Exited);
        } else {
            if self.cfg.service_type == ServiceType::Oneshot {
                ctx.log_status(format!("Finished {}.", ctx.description()));
            }
            self.enter_stop(ctx);
        }
    }

    fn enter_stop(&mut self, ctx: &mut Ctx) {
        if self.stop_requested && matches!(self.state, ServiceState::Running | ServiceState::Exited)
        {
            ctx.log_status(format!("Stopping {}...", ctx.description()));
        }
        if !self.cfg.exec_stop.is_empty()
            && (self.main_pid.is_some() || self.state == ServiceState::Exited)
        {
            self.spawn_control(ctx, ExecKind::Stop, 0);
        } else {
            self.enter_signal(ctx, ServiceState::StopSigterm);
        }
    }

    /// Signals what is left according to KillMode= and waits for it to go (or for the stop timeout).
    fn enter_signal(&mut self, ctx: &mut Ctx, state: ServiceState) {
        let (sigkill, final_phase) = match state {
            ServiceState::StopSigterm => (false, false),
            ServiceState::StopSigkill => (true, false),
            ServiceState::FinalSigterm => (false, true),
            _ => (true, true),
        };
        let signal = if sigkill {
            libc::SIGKILL
        } else {
            self.cfg.kill.kill_signal
        };
        let mode = self.cfg.kill.kill_mode;
        if let Some(control) = self.control {
            if !final_phase || mode != KillMode::None {
                ctx.signal_pid(control.pid, signal);
            }
        }
        match mode {
            KillMode::ControlGroup => {
                ctx.signal_cgroup(signal);
            }
            KillMode::Mixed => {
                if let Some(pid) = self.main_pid {
                    ctx.signal_pid(pid, signal);
                }
                if sigkill {
                    ctx.signal_cgroup(libc::SIGKILL);
                }
            }
            KillMode::Process => {
                if let Some(pid) = self.main_pid {
                    ctx.signal_pid(pid, signal);
                }
            }
            KillMode::None => {}
        }
        if !sigkill && self.cfg.kill.kill_signal != libc::SIGKILL && mode != KillMode::None {
            // systemd follows a SIGTERM with SIGCONT so that stopped processes can act on it.
            match mode {
                KillMode::ControlGroup => ctx.signal_cgroup_unfrozen(libc::SIGCONT),
                _ => {
                    if let Some(pid) = self.main_pid {
                        ctx.signal_pid(pid, libc::SIGCONT);
                    }
                }
            }
        }
        self.set_state(ctx, state);
        self.check_stopped(ctx);
    }

    /// Moves on from a signal state once everything it waits for is gone.
    fn check_stopped(&mut self, ctx: &mut Ctx) {
        if !matches!(
            self.state,
            ServiceState::StopSigterm
                | ServiceState::StopSigkill
                | ServiceState::FinalSigterm
                | ServiceState::FinalSigkill
        ) {
            return;
        }
        let cgroup_matters = matches!(
            self.cfg.kill.kill_mode,
            KillMode::ControlGroup | KillMode::Mixed
        );
        let gone = self.main_pid.is_none()
            && self.control.is_none()
            && (!cgroup_matters || ctx.cgroup_empty());
        if !gone {
            return;
        }
        match self.state {
            ServiceState::StopSigterm | ServiceState::StopSigkill => self.enter_stop_post(ctx),
            _ => self.enter_dead(ctx),
        }
    }

    fn enter_stop_post(&mut self, ctx: &mut Ctx) {
        if self.cfg.exec_stop_post.is_empty() {
            self.enter_signal(ctx, ServiceState::FinalSigterm)
        } else {
            self.spawn_control(ctx, ExecKind::StopPost, 0)
        }
    }

    fn enter_dead(&mut self, ctx: &mut Ctx) {
        self.control = None;
        self.main_pid = None;
        self.watchdog_generation += 1;
        if ctx.oom_kills() > self.oom_baseline
            && matches!(
                self.result,
                ServiceResult::Signal | ServiceResult::Success | ServiceResult::ExitCode
            )
            && self.exec_main_exit == Some(Exit::Killed(libc::SIGKILL))
        {
            self.result = ServiceResult::OomKill;
            ctx.log("A process of this unit has been killed by the OOM killer.".to_string());
        }
        ctx.release_cgroup();
        let failed = self.result != ServiceResult::Success;
        if failed {
            ctx.log(format!("Failed with result '{}'.", self.result));
        } else if self.stop_requested {
            ctx.log_status(format!("Stopped {}.", ctx.description()));
        } else if self.cfg.service_type != ServiceType::Oneshot {
            ctx.log("Deactivated successfully.".to_string());
        }
        if should_restart(self.cfg.restart, self.result, self.stop_requested) {
            self.set_state(ctx, ServiceState::AutoRestart);
            return;
        }
        self.set_state(
            ctx,
            if failed {
                ServiceState::Failed
            } else {
                ServiceState::Dead
            },
        );
    }

    // ---- events ---------------------------------------------------------------------------------------------

    /// A process of this service exited. Returns false when the pid is not the main or a control process.
    pub fn on_exit(&mut self, ctx: &mut Ctx, pid: i32, exit: Exit) -> bool {
        if self.main_pid == Some(pid) {
            self.on_main_exit(ctx, exit);
            true
        } else if self.control.map(|c| c.pid) == Some(pid) {
            self.on_control_exit(ctx, exit);
            true
        } else {
            // A process forked by the service; the cgroup poll notices when the group empties.
            self.check_stopped(ctx);
            false
        }
    }

    fn on_main_exit(&mut self, ctx: &mut Ctx, exit: Exit) {
        self.main_pid = None;
        self.main_reattached = false;
        self.exec_main_exit = Some(exit);
        self.exec_main_exit_usec = crate::now_usec();
        let result = exit.result(true, &self.cfg.success_exit_status);
        let ignore = self
            .cfg
            .exec_start
            .get(self.main_index)
            .is_some_and(|c| c.flags.ignore_failure);
        if result != ServiceResult::Success {
            ctx.log(format!("Main process exited, {}", exit.describe()));
        }
        let result = if ignore {
            ServiceResult::Success
        } else {
            result
        };
        match self.state {
            ServiceState::Start if self.cfg.service_type == ServiceType::Oneshot => {
                if result != ServiceResult::Success {
                    self.fail(result);
                    return self.enter_signal(ctx, ServiceState::StopSigterm);
                }
                self.main_index += 1;
                if self.main_index < self.cfg.exec_start.len() {
                    self.enter_start(ctx);
                } else {
                    self.enter_start_post(ctx);
                }
            }
            ServiceState::Start | ServiceState::StartPost | ServiceState::StartPre => {
                // Died before it was up (a notify service before READY=1).
                self.fail(if result == ServiceResult::Success {
                    ServiceResult::Protocol
                } else {
                    result
                });
                self.enter_signal(ctx, ServiceState::StopSigterm);
            }
            ServiceState::Running => {
                self.fail(result);
                self.enter_stop(ctx);
            }
            ServiceState::Reload => {
                self.fail(result);
                // The reload's control process finishes first; enter_running then sees no main process.
            }
            // A death while stopping is what was asked for: the earlier result stands.
            _ => self.check_stopped(ctx),
        }
    }

    fn on_control_exit(&mut self, ctx: &mut Ctx, exit: Exit) {
        let Some(control) = self.control.take() else {
            return;
        };
        let cmd = self.commands(control.kind).get(control.index).cloned();
        let result = exit.result(false, &self.cfg.success_exit_status);
        let ignore = cmd.as_ref().is_some_and(|c| c.flags.ignore_failure);
        if result != ServiceResult::Success && !ignore {
            ctx.log(format!("Control process exited, {}", exit.describe()));
            return self.on_control_failed(ctx, control.kind, result);
        }
        match control.kind {
            ExecKind::Start => {
                // Forking: the parent exited; find the daemon it left.
                match ctx.find_forked_main_pid(self.cfg.pid_file.as_deref()) {
                    Some(pid) => {
                        self.main_pid = Some(pid);
                        self.exec_main_pid = pid as u32;
                        self.exec_main_start_usec = crate::now_usec();
                        self.enter_start_post(ctx);
                    }
                    None => {
                        ctx.log("New main PID could not be determined.".to_string());
                        self.fail(ServiceResult::Protocol);
                        self.enter_signal(ctx, ServiceState::StopSigterm);
                    }
                }
            }
            ExecKind::Reload => {
                if self.main_pid.is_none() && self.cfg.service_type != ServiceType::Oneshot {
                    self.enter_stop(ctx);
                } else {
                    self.run_list_or(ctx, ExecKind::Reload, control.index + 1);
                }
            }
            kind => {
                if matches!(
                    self.state,
                    ServiceState::StopSigterm | ServiceState::StopSigkill
                ) {
                    // Killed while stopping during start: keep stopping.
                    return self.check_stopped(ctx);
                }
                self.run_list_or(ctx, kind, control.index + 1)
            }
        }
    }

    fn on_control_failed(&mut self, ctx: &mut Ctx, kind: ExecKind, result: ServiceResult) {
        match kind {
            ExecKind::StartPre | ExecKind::Start | ExecKind::StartPost => {
                self.fail(result);
                self.enter_signal(ctx, ServiceState::StopSigterm);
            }
            ExecKind::Reload => {
                // A failed reload leaves the service running, as in systemd.
                ctx.log("Reload failed.".to_string());
                self.enter_running(ctx);
            }
            ExecKind::Stop => {
                self.fail(result);
                self.enter_signal(ctx, ServiceState::StopSigterm);
            }
            ExecKind::StopPost => {
                self.fail(result);
                self.enter_signal(ctx, ServiceState::FinalSigterm);
            }
        }
    }

    /// A timer armed by this service fired.
    pub fn on_timer(&mut self, ctx: &mut Ctx, generation: u64, kind: TimerKind) {
        match kind {
            TimerKind::Watchdog => {
                if generation == self.watchdog_generation && self.main_pid.is_some() {
                    ctx.log("Watchdog timeout (limit reached)!".to_string());
                    self.fail(ServiceResult::Watchdog);
                    if let Some(pid) = self.main_pid {
                        ctx.signal_pid(pid, libc::SIGABRT);
                    }
                    self.enter_signal(ctx, ServiceState::StopSigterm);
                }
            }
            _ if generation != self.generation => {}
            TimerKind::Poll => {
                self.check_stopped(ctx);
                if self.generation == generation {
                    ctx.arm_timer(generation, EMPTY_POLL, TimerKind::Poll);
                }
            }
            TimerKind::Timeout => self.on_timeout(ctx),
        }
    }

    fn on_timeout(&mut self, ctx: &mut Ctx) {
        match self.state {
            ServiceState::StartPre | ServiceState::Start | ServiceState::StartPost => {
                ctx.log(format!(
                    "{} operation timed out. Terminating.",
                    state_verb(self.state)
                ));
                self.fail(ServiceResult::Timeout);
                self.enter_signal(ctx, ServiceState::StopSigterm);
            }
            ServiceState::Reload => {
                ctx.log("Reload operation timed out. Killing reload process.".to_string());
                if let Some(c) = self.control {
                    ctx.signal_pid(c.pid, libc::SIGKILL);
                }
            }
            ServiceState::Stop => {
                ctx.log("Stopping timed out. Terminating.".to_string());
                self.fail(ServiceResult::Timeout);
                self.enter_signal(ctx, ServiceState::StopSigterm);
            }
            ServiceState::StopSigterm => {
                self.fail(ServiceResult::Timeout);
                if self.cfg.kill.send_sigkill {
                    ctx.log("State 'stop-sigterm' timed out. Killing.".to_string());
                    self.enter_signal(ctx, ServiceState::StopSigkill);
                } else {
                    ctx.log("State 'stop-sigterm' timed out. Skipping SIGKILL.".to_string());
                    self.enter_stop_post(ctx);
                }
            }
            ServiceState::StopSigkill => {
                ctx.log("Processes still around after SIGKILL. Ignoring.".to_string());
                self.main_pid = None;
                self.control = None;
                self.enter_stop_post(ctx);
            }
            ServiceState::StopPost => {
                self.fail(ServiceResult::Timeout);
                self.enter_signal(ctx, ServiceState::FinalSigterm);
            }
            ServiceState::FinalSigterm => {
                if self.cfg.kill.send_sigkill {
                    self.enter_signal(ctx, ServiceState::FinalSigkill);
                } else {
                    self.main_pid = None;
                    self.control = None;
                    self.enter_dead(ctx);
                }
            }
            ServiceState::FinalSigkill => {
                self.main_pid = None;
                self.control = None;
                self.enter_dead(ctx);
            }
            ServiceState::AutoRestart => {
                ctx.log(format!(
                    "Scheduled restart job, restart counter is at {}.",
                    self.n_restarts + 1
                ));
                self.start(ctx, true);
            }
            _ => {}
        }
    }

    /// An sd_notify message from a process allowed to send it (NotifyAccess=). MAINPID=/STATUS=/WATCHDOG= are
    /// taken first, so that a READY=1 in the same message sees the new main pid.
    pub fn on_notify(&mut self, ctx: &mut Ctx, fields: &[(String, String)]) {
        for (key, value) in fields {
            match key.as_str() {
                "STATUS" => self.status_text = value.clone(),
                "MAINPID" => {
                    if let Ok(new) = value.parse::<i32>() {
                        if new > 0 && ctx.pid_in_cgroup(new) {
                            self.main_pid = Some(new);
                            self.exec_main_pid = new as u32;
                        }
                    }
                }
                "WATCHDOG" if value == "1" => self.arm_watchdog(ctx),
                "WATCHDOG" if value == "trigger" => {
                    self.watchdog_generation += 1;
                    ctx.arm_timer(
                        self.watchdog_generation,
                        Duration::ZERO,
                        TimerKind::Watchdog,
                    );
                }
                _ => {}
            }
        }
        for (key, value) in fields {
            match (key.as_str(), value.as_str()) {
                ("READY", "1") => match self.state {
                    ServiceState::Start if self.cfg.service_type == ServiceType::Notify => {
                        self.notify_ready = true;
                        self.enter_start_post(ctx);
                    }
                    ServiceState::Reload if self.control.is_none() => self.enter_running(ctx),
                    _ => self.notify_ready = true,
                },
                ("RELOADING", "1") if self.state == ServiceState::Running => {
                    self.set_state(ctx, ServiceState::Reload);
                }
                ("STOPPING", "1") if self.state == ServiceState::Running => {
                    self.stop_requested = true;
                    self.set_state(ctx, ServiceState::Stop);
                }
                _ => {}
            }
        }
    }

    fn arm_watchdog(&mut self, ctx: &mut Ctx) {
        if let Some(after) = self.cfg.watchdog_sec {
            self.watchdog_generation += 1;
            ctx.arm_timer(self.watchdog_generation, after, TimerKind::Watchdog);
        }
    }

    /// Re-attaches to a main process found alive after a unitd restart.
    pub fn reattach(&mut self, ctx: &mut Ctx, main_pid: Option<i32>, state: ServiceState) {
        self.main_pid = main_pid;
        self.main_reattached = main_pid.is_some();
        if let Some(pid) = main_pid {
            self.exec_main_pid = pid as u32;
        }
        self.set_state(ctx, state);
        if self.cfg.watchdog_sec.is_some() {
            self.arm_watchdog(ctx);
        }
    }
}

fn kind_name(kind: ExecKind) -> &'static str {
    match kind {
        ExecKind::StartPre => "start-pre",
        ExecKind::Start => "start",
        ExecKind::StartPost => "start-post",
        ExecKind::Reload => "reload",
        ExecKind::Stop => "stop",
        ExecKind::StopPost => "stop-post",
    }
}

fn state_verb(state: ServiceState) -> &'static str {
    match state {
        ServiceState::StartPre => "start-pre",
        ServiceState::StartPost => "start-post",
        _ => "start",
    }
}
