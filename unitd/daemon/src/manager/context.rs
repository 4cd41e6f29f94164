//! [`Runtime`]: the effects a unit's state machine may cause (spawning, signalling, timers, cgroups, logging),
//! and [`Ctx`], the view of it one unit gets while handling one event.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use unitd_cgroup::{CgroupManager, Cgroups};
use unitfile::{ExecCommand, UnitConfig};

use super::Event;
use crate::exec;
use crate::logs::LogPipes;

/// Why a timer was armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// The current state's timeout (TimeoutStartSec=, TimeoutStopSec=, RestartSec=).
    Timeout,
    /// Time to look again whether the cgroup has emptied.
    Poll,
    /// WatchdogSec= passed without a WATCHDOG=1.
    Watchdog,
}

/// The main process or a control process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecRole {
    Main,
    Control,
}

/// What the manager owns besides its units: everything that talks to the OS.
pub struct Runtime {
    /// None when cgroups can't be used (not root): units then run without isolation or limits.
    pub cgroups: Option<Arc<Cgroups>>,
    pub events: UnboundedSender<Event>,
    pub logs: LogPipes,
    pub notify_socket: PathBuf,
    pub hostname: String,
    /// The manager environment set through `set-environment` ([`super::environment`]), sorted `NAME=value`.
    pub environment: Vec<String>,
}

impl Runtime {
    /// A line about `unit` in its journal from unitd itself, prefixed with the unit's name as systemd does
    /// (`hello.service: Main process exited, …`), at syslog `priority`; also logged through tracing.
    pub fn log_unit(&self, unit: &str, priority: u8, message: &str) {
        if priority <= 4 {
            tracing::warn!(unit = %unit, "{message}");
        } else {
            tracing::info!(unit = %unit, "{message}");
        }
        self.logs
            .journal()
            .manager(unit, priority, &format!("{unit}: {message}"));
    }
}

/// One unit's view of the runtime while it handles an event.
pub struct Ctx<'a> {
    pub unit: &'a str,
    pub unit_cfg: &'a UnitConfig,
    pub rt: &'a mut Runtime,
}

impl Ctx<'_> {
    pub fn arm_timer(&self, generation: u64, after: Duration, kind: TimerKind) {
        let events = self.rt.events.clone();
        let unit = self.unit.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = events.send(Event::Timer {
                unit,
                generation,
                kind,
            });
        });
    }

    /// A line about the unit in its journal from unitd itself (see [`Runtime::log_unit`]), at info.
    pub fn log(&self, message: String) {
        self.rt.log_unit(self.unit, 6, &message);
    }

    /// A job status line ("Starting Hello...", "Started Hello."), which systemd words with the description and
    /// writes without the unit prefix.
    pub fn log_status(&self, message: String) {
        tracing::info!(unit = %self.unit, "{message}");
        self.rt.logs.journal().manager(self.unit, 6, &message);
    }

    pub fn description(&self) -> String {
        match &self.unit_cfg.description {
            Some(d) if !d.is_empty() => d.clone(),
            _ => self.unit.to_string(),
        }
    }

    /// Spawns one command of this unit into its cgroup with its output going where StandardOutput= says.
    pub fn spawn(
        &mut self,
        cmd: &ExecCommand,
        role: ExecRole,
        main_pid: Option<i32>,
        unit_env: &[(String, String)],
    ) -> Result<i32, String> {
        let Some(service) = self.unit_cfg.service.as_ref() else {
            return Err("not a service".into());
        };
        let cgroup_procs = match &self.rt.cgroups {
            Some(cg) => cg.join_paths(self.unit).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let identifier = exec::identifier(cmd);
        let plan = exec::plan(exec::PlanInput {
            unit: self.unit,
            unit_cfg: self.unit_cfg,
            service,
            cmd,
            main_pid,
            notify_socket: &self.rt.notify_socket,
            cgroup_procs,
            logs: &mut self.rt.logs,
            manager_env: &self.rt.environment,
            unit_env,
        })
        .map_err(|e| e.to_string())?;
        let forked = std::time::Instant::now();
        let logs = &mut self.rt.logs;
        let unit = self.unit;
        let spawned = exec::spawn::spawn(&plan, |pid| {
            if role == ExecRole::Main {
                logs.set_identity(unit, &identifier, Some(pid as u32));
            }
        })
        .map_err(|e| e.to_string())?;
        let exec_us = forked.elapsed().as_micros() as u64;
        if let Some((step, errno)) = spawned.failure {
            self.log(format!(
                "Failed at step {} spawning {}: {}",
                step.name(),
                cmd.path,
                std::io::Error::from_raw_os_error(errno)
            ));
        }
        tracing::debug!(unit = %self.unit, pid = spawned.pid, ?role, path = %cmd.path, exec_us, "spawned");
        Ok(spawned.pid)
    }

    pub fn signal_pid(&self, pid: i32, signal: i32) {
        // SAFETY: kill(2) with a pid we started.
        unsafe { libc::kill(pid, signal) };
    }

    /// Signals every process in the unit's cgroup.
    pub fn signal_cgroup(&self, signal: i32) {
        if let Some(cg) = &self.rt.cgroups {
            if let Err(e) = cg.kill_all(self.unit, signal) {
                tracing::warn!(unit = %self.unit, error = %e, "signalling the cgroup failed");
            }
        }
    }

    /// Sends `signal` to the processes in the unit's cgroup without freezing it: for SIGCONT after a stop
    /// signal, where a process forked meanwhile doesn't matter.
    pub fn signal_cgroup_unfrozen(&self, signal: i32) {
        if let Some(cg) = &self.rt.cgroups {
            for pid in cg.pids(self.unit).unwrap_or_default() {
                // SAFETY: kill(2) of a process in this unit's cgroup.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }

    pub fn cgroup_empty(&self) -> bool {
        match &self.rt.cgroups {
            Some(cg) => cg.is_empty(self.unit).unwrap_or(true),
            None => true,
        }
    }

    pub fn pid_in_cgroup(&self, pid: i32) -> bool {
        match &self.rt.cgroups {
            Some(cg) => cg
                .pids(self.unit)
                .map(|p| p.contains(&pid))
                .unwrap_or(false),
            None => true,
        }
    }

    /// Creates the unit's cgroup and applies its resource limits.
    pub fn prepare_cgroup(&mut self) -> Result<(), String> {
        let Some(cg) = &self.rt.cgroups else {
            return Ok(());
        };
        let limits = self
            .unit_cfg
            .service
            .as_ref()
            .map(|s| exec::limits(&s.resources))
            .unwrap_or_default();
        cg.create(self.unit, &limits).map_err(|e| e.to_string())
    }

    /// The unit is dead: close its log FIFO. The (empty) cgroup stays for the next start — creating one costs a
    /// mkdir per v1 hierarchy — and is removed when unitd shuts down.
    pub fn release_cgroup(&mut self) {
        self.rt.logs.close(self.unit);
    }

    pub fn oom_kills(&self) -> u64 {
        match &self.rt.cgroups {
            Some(cg) => cg.oom_kills(self.unit).unwrap_or(0),
            None => 0,
        }
    }

    /// A forking service's daemon: the PIDFile= contents (if the pid is in our cgroup), else the only process
    /// left in the cgroup (systemd's GuessMainPID=).
    pub fn find_forked_main_pid(&self, pid_file: Option<&Path>) -> Option<i32> {
        if let Some(path) = pid_file {
            let pid = std::fs::read_to_string(path)
                .ok()?
                .trim()
                .parse::<i32>()
                .ok()?;
            return (pid > 0 && self.pid_in_cgroup(pid)).then_some(pid);
        }
        let pids = self.rt.cgroups.as_ref()?.pids(self.unit).ok()?;
        match pids.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }
}
