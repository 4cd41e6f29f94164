//! Jobs: what a start/stop/restart/reload request turns into, and when a job is finished.
//!
//! A request becomes a *transaction*: the anchor job plus jobs pulled in by Requires=/Wants=/BindsTo= (starts),
//! Conflicts= (stops), and reverse Requires=/BindsTo=/PartOf= (stops and restarts). Jobs wait for each other as
//! [`super::order`] decides. The outcome of a running job is read off its unit's state ([`outcome`]).

use super::state::ActiveState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Start,
    Stop,
    Restart,
    Reload,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Start => "start",
            JobKind::Stop => "stop",
            JobKind::Restart => "restart",
            JobKind::Reload => "reload",
        }
    }
}

/// How a new transaction treats jobs already queued (systemd's job modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMode {
    Replace,
    Fail,
    IgnoreDependencies,
    IgnoreRequirements,
}

impl JobMode {
    pub fn parse(mode: &str) -> Option<JobMode> {
        Some(match mode {
            "replace" | "replace-irreversibly" | "" => JobMode::Replace,
            "fail" => JobMode::Fail,
            "ignore-dependencies" => JobMode::IgnoreDependencies,
            "ignore-requirements" => JobMode::IgnoreRequirements,
            _ => return None,
        })
    }
}

/// systemd's job results (the `result` of JobRemoved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    Done,
    Canceled,
    Timeout,
    Failed,
    Dependency,
    Skipped,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Done => "done",
            JobResult::Canceled => "canceled",
            JobResult::Timeout => "timeout",
            JobResult::Failed => "failed",
            JobResult::Dependency => "dependency",
            JobResult::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Waiting,
    Running,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Running => "running",
        }
    }
}

#[derive(Debug)]
pub struct Job {
    pub id: u32,
    pub unit: String,
    pub kind: JobKind,
    pub state: JobState,
    /// Jobs that must finish before this one runs (ordering).
    pub waits_for: Vec<u32>,
    /// Jobs whose failure fails this one with `dependency` (Requires=/BindsTo= of this job's unit).
    pub requires: Vec<u32>,
    /// A restart job has done its stop half.
    pub restart_stopped: bool,
    /// The unit's action was taken; from now on its state decides the outcome.
    pub acted: bool,
}

/// The outcome of a running job given its unit's state, or None while it is still in progress.
/// `service_result_ok` is whether the service's last result was success (a oneshot that finished cleanly).
pub fn outcome(
    kind: JobKind,
    active: ActiveState,
    sub: &str,
    service_result_ok: bool,
) -> Option<JobResult> {
    match kind {
        JobKind::Start | JobKind::Restart => match active {
            ActiveState::Active | ActiveState::Reloading => Some(JobResult::Done),
            ActiveState::Failed => Some(JobResult::Failed),
            ActiveState::Inactive if service_result_ok => Some(JobResult::Done),
            ActiveState::Inactive => Some(JobResult::Failed),
            ActiveState::Activating if sub == "auto-restart" => Some(JobResult::Failed),
            _ => None,
        },
        JobKind::Stop => active.is_inactive_or_failed().then_some(JobResult::Done),
        JobKind::Reload => match active {
            ActiveState::Active => Some(JobResult::Done),
            ActiveState::Reloading => None,
            _ => Some(JobResult::Failed),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_job_outcomes_follow_the_unit_state() {
        assert_eq!(
            outcome(JobKind::Start, ActiveState::Active, "running", true),
            Some(JobResult::Done)
        );
        assert_eq!(
            outcome(JobKind::Start, ActiveState::Activating, "start", true),
            None
        );
        assert_eq!(
            outcome(JobKind::Start, ActiveState::Failed, "failed", false),
            Some(JobResult::Failed)
        );
        // A oneshot without RemainAfterExit= that ran cleanly ends inactive: done.
        assert_eq!(
            outcome(JobKind::Start, ActiveState::Inactive, "dead", true),
            Some(JobResult::Done)
        );
        assert_eq!(
            outcome(
                JobKind::Start,
                ActiveState::Activating,
                "auto-restart",
                false
            ),
            Some(JobResult::Failed)
        );
        assert_eq!(
            outcome(
                JobKind::Stop,
                ActiveState::Deactivating,
                "stop-sigterm",
                true
            ),
            None
        );
        assert_eq!(
            outcome(JobKind::Stop, ActiveState::Failed, "failed", false),
            Some(JobResult::Done)
        );
    }

    #[test]
    fn job_modes_parse_like_systemctl() {
        assert_eq!(JobMode::parse("replace"), Some(JobMode::Replace));
        assert_eq!(
            JobMode::parse("ignore-dependencies"),
            Some(JobMode::IgnoreDependencies)
        );
        assert_eq!(JobMode::parse("isolate"), None);
    }
}
