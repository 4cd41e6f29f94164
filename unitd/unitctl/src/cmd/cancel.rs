//! `unitctl cancel [JOB...]`: cancels the jobs with these ids (`CancelJob`, as `list-jobs` numbers them), or
//! every job when none is named (`ClearJobs`), as systemctl does. A job id that is not a number or names no job
//! is reported (`Failed to cancel job 42: Job 42 does not exist.`) and the others are still cancelled; the exit
//! status is then 1.

use crate::context::{bus_failure, emit_err, Context};
use crate::error::{code, Failure};

/// Runs the verb.
pub async fn run(ctx: &Context, jobs: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    if jobs.is_empty() {
        return manager
            .clear_jobs()
            .await
            .map_err(|e| bus_failure("Failed to call ClearJobs", &e.into()).into());
    }
    let mut failed = false;
    for job in jobs {
        let Ok(id) = job.parse::<u32>() else {
            // systemctl stops at an id it cannot parse.
            return Err(Failure::error(format!(
                "Failed to parse job id \"{job}\": Invalid argument"
            ))
            .into());
        };
        if let Err(e) = manager.cancel_job(id).await {
            emit_err(&format!(
                "Failed to cancel job {id}: {}\n",
                unitd_client::ClientError::from(e)
            ));
            failed = true;
        }
    }
    if failed {
        Err(Failure::silent(code::FAILURE).into())
    } else {
        Ok(())
    }
}
