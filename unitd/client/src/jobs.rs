//! Enqueueing jobs and waiting for them, the way systemctl does without `--no-block`.
//!
//! The race to avoid: a job can finish before `StartUnit` even returns its path, so [`JobWaiter::new`] adds the
//! `JobRemoved` match rule and calls `Subscribe` *before* anything is enqueued, and keeps every `JobRemoved` it
//! sees; waiting for a job then looks in what was kept before reading more signals. The match is on path,
//! interface and member, plus the sender `org.freedesktop.systemd1` on a bus (on unitd's private socket
//! signals carry no sender), as systemctl's `bus_wait_for_jobs_new` does.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use futures::StreamExt;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath};

use crate::error::{ClientError, Result};
use crate::path::MANAGER_PATH;
use crate::proxies::{self, ManagerProxy};

/// How many signals may wait in the queue before zbus stops reading the socket: enough for a burst of
/// `JobRemoved` from a large transaction.
const SIGNAL_QUEUE: usize = 4096;

/// The `mode` argument of `StartUnit` and friends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobMode {
    /// Replace conflicting queued jobs (systemctl's default).
    #[default]
    Replace,
    /// Fail if the transaction conflicts with queued jobs.
    Fail,
    /// Stop everything not pulled in by this unit (unitd rejects it).
    Isolate,
    /// Ignore all dependencies.
    IgnoreDependencies,
    /// Ignore requirement dependencies, keep ordering.
    IgnoreRequirements,
}

impl JobMode {
    /// The mode as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            JobMode::Replace => "replace",
            JobMode::Fail => "fail",
            JobMode::Isolate => "isolate",
            JobMode::IgnoreDependencies => "ignore-dependencies",
            JobMode::IgnoreRequirements => "ignore-requirements",
        }
    }
}

impl FromStr for JobMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "replace" => JobMode::Replace,
            "fail" => JobMode::Fail,
            "isolate" => JobMode::Isolate,
            "ignore-dependencies" => JobMode::IgnoreDependencies,
            "ignore-requirements" => JobMode::IgnoreRequirements,
            other => return Err(format!("unknown job mode: {other}")),
        })
    }
}

impl fmt::Display for JobMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `result` of `JobRemoved`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobResult {
    /// The job did what it was asked.
    Done,
    /// Cancelled, or replaced by another job.
    Canceled,
    /// A job timeout was reached.
    Timeout,
    /// The unit failed (the unit's `Result` says how).
    Failed,
    /// A job this one depended on failed.
    Dependency,
    /// Nothing to do (a reload of an inactive unit, …).
    Skipped,
    /// A result this client does not know.
    Other(String),
}

impl JobResult {
    /// Parses the wire form; unknown values are kept in [`JobResult::Other`].
    pub fn parse(s: &str) -> JobResult {
        match s {
            "done" => JobResult::Done,
            "canceled" => JobResult::Canceled,
            "timeout" => JobResult::Timeout,
            "failed" => JobResult::Failed,
            "dependency" => JobResult::Dependency,
            "skipped" => JobResult::Skipped,
            other => JobResult::Other(other.to_string()),
        }
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            JobResult::Done => "done",
            JobResult::Canceled => "canceled",
            JobResult::Timeout => "timeout",
            JobResult::Failed => "failed",
            JobResult::Dependency => "dependency",
            JobResult::Skipped => "skipped",
            JobResult::Other(s) => s,
        }
    }

    /// `done` and `skipped` are successes, as for systemctl.
    pub fn is_success(&self) -> bool {
        matches!(self, JobResult::Done | JobResult::Skipped)
    }
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The job-enqueueing manager methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitAction {
    /// `StartUnit`.
    Start,
    /// `StopUnit`.
    Stop,
    /// `RestartUnit`.
    Restart,
    /// `TryRestartUnit`.
    TryRestart,
    /// `ReloadUnit`.
    Reload,
    /// `ReloadOrRestartUnit`.
    ReloadOrRestart,
}

impl UnitAction {
    /// The job type as systemctl names it in messages (`Failed to start …`).
    pub fn job_type(self) -> &'static str {
        match self {
            UnitAction::Start => "start",
            UnitAction::Stop => "stop",
            UnitAction::Restart => "restart",
            UnitAction::TryRestart => "try-restart",
            UnitAction::Reload => "reload",
            UnitAction::ReloadOrRestart => "reload-or-restart",
        }
    }

    /// The D-Bus method.
    pub fn method(self) -> &'static str {
        match self {
            UnitAction::Start => "StartUnit",
            UnitAction::Stop => "StopUnit",
            UnitAction::Restart => "RestartUnit",
            UnitAction::TryRestart => "TryRestartUnit",
            UnitAction::Reload => "ReloadUnit",
            UnitAction::ReloadOrRestart => "ReloadOrRestartUnit",
        }
    }

    /// Calls the method and returns the job's object path.
    pub async fn enqueue(
        self,
        manager: &ManagerProxy<'_>,
        unit: &str,
        mode: JobMode,
    ) -> Result<OwnedObjectPath> {
        let mode = mode.as_str();
        let job = match self {
            UnitAction::Start => manager.start_unit(unit, mode).await,
            UnitAction::Stop => manager.stop_unit(unit, mode).await,
            UnitAction::Restart => manager.restart_unit(unit, mode).await,
            UnitAction::TryRestart => manager.try_restart_unit(unit, mode).await,
            UnitAction::Reload => manager.reload_unit(unit, mode).await,
            UnitAction::ReloadOrRestart => manager.reload_or_restart_unit(unit, mode).await,
        }?;
        Ok(job)
    }
}

/// A finished job, from its `JobRemoved` signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    /// The job id (0 when no job was needed).
    pub id: u32,
    /// The job's object path.
    pub job: OwnedObjectPath,
    /// The unit it was for (empty when no job was needed).
    pub unit: String,
    /// How it ended.
    pub result: JobResult,
}

/// Waits for `JobRemoved` signals; create it before enqueueing the jobs to wait for.
pub struct JobWaiter {
    /// `JobRemoved` signals from the manager, queued from before the first job was enqueued.
    stream: MessageStream,
    /// Jobs that finished but were not asked for yet (another job of the same batch, or an unrelated one).
    finished: HashMap<OwnedObjectPath, JobOutcome>,
    /// The manager, for enqueueing through the same connection.
    manager: ManagerProxy<'static>,
}

impl JobWaiter {
    /// Starts listening for `JobRemoved` and subscribes to the manager's signals.
    pub async fn new(conn: &Connection) -> Result<JobWaiter> {
        let mut rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .path(MANAGER_PATH)
            .interface("org.freedesktop.systemd1.Manager")
            .member("JobRemoved");
        if conn.is_bus() {
            // The bus daemon resolves the well-known name; on a p2p connection signals carry no sender.
            rule = rule.sender(proxies::SERVICE_NAME);
        }
        let rule = rule.build()?;
        let stream =
            MessageStream::for_match_rule(rule, conn, NonZeroUsize::new(SIGNAL_QUEUE)).await?;
        let manager = proxies::manager(conn).await?;
        manager.subscribe().await?;
        Ok(JobWaiter {
            stream,
            finished: HashMap::new(),
            manager,
        })
    }

    /// The manager proxy this waiter subscribed with.
    pub fn manager(&self) -> &ManagerProxy<'static> {
        &self.manager
    }

    /// Enqueues a job; wait for it with [`JobWaiter::wait`].
    pub async fn enqueue(
        &self,
        action: UnitAction,
        unit: &str,
        mode: JobMode,
    ) -> Result<OwnedObjectPath> {
        action.enqueue(&self.manager, unit, mode).await
    }

    /// Waits until `job` is removed. A path of `/` (no job was needed) is done at once.
    pub async fn wait(&mut self, job: &OwnedObjectPath) -> Result<JobOutcome> {
        if job.as_str() == "/" {
            return Ok(JobOutcome {
                id: 0,
                job: job.clone(),
                unit: String::new(),
                result: JobResult::Done,
            });
        }
        loop {
            if let Some(outcome) = self.finished.remove(job) {
                return Ok(outcome);
            }
            let Some(msg) = self.stream.next().await else {
                return Err(ClientError::Disconnected {
                    job: job.to_string(),
                });
            };
            let msg = msg?;
            // A JobRemoved with another signature is not one of ours to understand; skip it.
            if let Ok((id, path, unit, result)) = msg
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            {
                let outcome = JobOutcome {
                    id,
                    job: path.clone(),
                    unit,
                    result: JobResult::parse(&result),
                };
                self.finished.insert(path, outcome);
            }
        }
    }

    /// Waits for every job in `jobs`; the outcomes come back in the same order.
    pub async fn wait_all(&mut self, jobs: &[OwnedObjectPath]) -> Result<Vec<JobOutcome>> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(self.wait(job).await?);
        }
        Ok(outcomes)
    }
}

/// Enqueues `action` on `unit` and waits for the job to finish.
pub async fn run_and_wait(
    conn: &Connection,
    action: UnitAction,
    unit: &str,
    mode: JobMode,
) -> Result<JobOutcome> {
    let mut waiter = JobWaiter::new(conn).await?;
    let job = waiter.enqueue(action, unit, mode).await?;
    waiter.wait(&job).await
}

/// `StartUnit` and wait for the job's result.
pub async fn start_and_wait(conn: &Connection, unit: &str, mode: JobMode) -> Result<JobResult> {
    Ok(run_and_wait(conn, UnitAction::Start, unit, mode)
        .await?
        .result)
}

/// `StopUnit` and wait for the job's result.
pub async fn stop_and_wait(conn: &Connection, unit: &str, mode: JobMode) -> Result<JobResult> {
    Ok(run_and_wait(conn, UnitAction::Stop, unit, mode)
        .await?
        .result)
}

/// `RestartUnit` and wait for the job's result.
pub async fn restart_and_wait(conn: &Connection, unit: &str, mode: JobMode) -> Result<JobResult> {
    Ok(run_and_wait(conn, UnitAction::Restart, unit, mode)
        .await?
        .result)
}

/// `ReloadUnit` and wait for the job's result.
pub async fn reload_and_wait(conn: &Connection, unit: &str, mode: JobMode) -> Result<JobResult> {
    Ok(run_and_wait(conn, UnitAction::Reload, unit, mode)
        .await?
        .result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for mode in [
            JobMode::Replace,
            JobMode::Fail,
            JobMode::Isolate,
            JobMode::IgnoreDependencies,
            JobMode::IgnoreRequirements,
        ] {
            assert_eq!(mode.as_str().parse::<JobMode>(), Ok(mode));
        }
        assert!("bogus".parse::<JobMode>().is_err());
        assert_eq!(JobMode::default(), JobMode::Replace);
    }

    #[test]
    fn results_parse() {
        for s in [
            "done",
            "canceled",
            "timeout",
            "failed",
            "dependency",
            "skipped",
            "weird",
        ] {
            assert_eq!(JobResult::parse(s).as_str(), s);
        }
        assert!(JobResult::Done.is_success());
        assert!(JobResult::Skipped.is_success());
        assert!(!JobResult::Failed.is_success());
        assert_eq!(JobResult::parse("weird"), JobResult::Other("weird".into()));
    }

    #[test]
    fn actions_name_methods() {
        assert_eq!(UnitAction::ReloadOrRestart.method(), "ReloadOrRestartUnit");
        assert_eq!(UnitAction::TryRestart.job_type(), "try-restart");
    }
}
