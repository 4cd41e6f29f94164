//! The job verbs' shared core (`start`, `stop`, `restart`, `try-restart`, `reload`, `reload-or-restart`,
//! and `enable --now`): enqueue one job per unit, wait for all of them unless `--no-block`, and report
//! failures in systemctl's words and with its exit codes.
//!
//! [`enqueue_failure_lines`] and [`job_failure_message`] are the pure parts: what systemctl prints when a
//! method call fails and when a job ends badly (chosen by the job result and, for services, the unit's
//! `Result`).

use unitd_client::error::names;
use unitd_client::{proxies, JobResult, JobWaiter, OwnedObjectPath, UnitAction};

use crate::context::{emit_err, Context};
use crate::error::{code, exit_code_for_remote, Failure};
use crate::units::expand_names;

/// What systemd explains for each service `Result` when a job failed.
const EXPLANATIONS: [(&str, &str); 10] = [
    (
        "resources",
        "of unavailable resources or another system error",
    ),
    (
        "protocol",
        "the service did not take the steps required by its unit configuration",
    ),
    ("timeout", "a timeout was exceeded"),
    ("exit-code", "the control process exited with error code"),
    (
        "signal",
        "a fatal signal was delivered to the control process",
    ),
    (
        "core-dump",
        "a fatal signal was delivered causing the control process to dump core",
    ),
    ("watchdog", "the service failed to send watchdog ping"),
    (
        "start-limit-hit",
        "start of the service was attempted too often",
    ),
    (
        "start-limit",
        "start of the service was attempted too often",
    ),
    ("oom-kill", "of an out-of-memory (OOM) situation"),
];

/// `name`, double-quoted if a shell would need it (systemd's `shell_maybe_quote`).
pub fn shell_quote(name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !name.is_empty() && name.chars().all(plain) {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What systemctl prints when job `result` ends a job for `unit`; `None` for `done` and `skipped`.
/// `service_result` is the unit's `Result` property, asked for only for services and only on failure.
pub fn job_failure_message(
    unit: &str,
    result: &JobResult,
    service_result: Option<&str>,
) -> Option<String> {
    Some(match result {
        JobResult::Done | JobResult::Skipped => return None,
        JobResult::Canceled => format!("Job for {unit} canceled."),
        JobResult::Timeout => format!("Job for {unit} timed out."),
        JobResult::Dependency => {
            format!("A dependency job for {unit} failed. See 'unitctl journal -xe' for details.")
        }
        JobResult::Other(r) if r == "invalid" => format!("{unit} is not active, cannot reload."),
        JobResult::Other(r) if r == "assert" => format!("Assertion failed on job for {unit}."),
        JobResult::Other(r) if r == "unsupported" => {
            format!("Operation on or unit type of {unit} not supported on this system.")
        }
        JobResult::Other(r) if r == "collected" => {
            format!("Queued job for {unit} was garbage collected.")
        }
        JobResult::Other(r) if r == "once" => {
            format!("Unit {unit} was started already once and can't be started again.")
        }
        JobResult::Failed | JobResult::Other(_) if unit.ends_with(".service") => {
            let quoted = shell_quote(unit);
            let see = format!(
                "See \"unitctl status {quoted}\" and \"unitctl journal -xeu {quoted}\" for details."
            );
            let service_result = service_result.unwrap_or("");
            let mut text = match EXPLANATIONS.iter().find(|(r, _)| *r == service_result) {
                Some((_, why)) => format!("Job for {unit} failed because {why}.\n{see}"),
                None => format!("Job for {unit} failed.\n{see}"),
            };
            if service_result.starts_with("start-limit") {
                text.push_str(&format!(
                    "\nTo force a start use \"unitctl reset-failed {quoted}\"\n\
                     followed by \"unitctl start {quoted}\" again."
                ));
            }
            text
        }
        JobResult::Failed | JobResult::Other(_) => {
            "Job failed. See \"unitctl journal -xe\" for details.".to_string()
        }
    })
}

/// The exit code of a finished job: 0 for `done`/`skipped`, 1 otherwise (systemctl returns an errno, which
/// its main turns into 1).
pub fn job_exit_code(result: &JobResult) -> i32 {
    if result.is_success() {
        code::SUCCESS
    } else {
        code::FAILURE
    }
}

/// What systemctl prints when enqueueing fails: `Failed to start foo.service: <message>`, plus a pointer to
/// the logs unless the error says all there is to say. `None` when the error is ignored (a masked unit for
/// try-restart).
pub fn enqueue_failure_lines(
    action: UnitAction,
    unit: &str,
    error_name: Option<&str>,
    message: &str,
) -> Option<String> {
    if error_name == Some(names::UNIT_MASKED) && action == UnitAction::TryRestart {
        return None;
    }
    let mut text = format!("Failed to {} {unit}: {message}", action.job_type());
    let self_explaining = [
        names::NO_SUCH_UNIT,
        names::UNIT_MASKED,
        names::JOB_TYPE_NOT_APPLICABLE,
    ];
    if !error_name.is_some_and(|n| self_explaining.contains(&n)) {
        let dashdash = if unit.starts_with('-') { " --" } else { "" };
        text.push_str(&format!(
            "\nSee system logs and 'unitctl status{dashdash} {unit}' for details."
        ));
    }
    Some(text)
}

/// Runs `action` on the units named by `args` (mangled, globs expanded) and waits unless `--no-block`.
pub async fn run(ctx: &Context, action: UnitAction, args: &[String]) -> anyhow::Result<()> {
    let units = expand_names(ctx, args).await?;
    let conn = ctx.conn().await?;
    let mut waiter = if ctx.opts.no_block {
        None
    } else {
        Some(
            JobWaiter::new(conn)
                .await
                .map_err(|e| Failure::error(format!("Could not watch jobs: {e}")))?,
        )
    };
    let manager = ctx.manager().await?;
    let mut ret = code::SUCCESS;
    let mut jobs: Vec<(String, OwnedObjectPath)> = Vec::new();
    for unit in &units {
        match action.enqueue(&manager, unit, ctx.opts.job_mode).await {
            Ok(job) => jobs.push((unit.clone(), job)),
            Err(e) => {
                let remote = e.remote();
                let text = enqueue_failure_lines(
                    action,
                    unit,
                    remote.as_ref().map(|r| r.name.as_str()),
                    &e.to_string(),
                );
                if let Some(text) = text {
                    emit_err(&format!("{text}\n"));
                    if ret == code::SUCCESS {
                        ret = remote
                            .as_ref()
                            .map(exit_code_for_remote)
                            .unwrap_or(code::FAILURE);
                    }
                }
            }
        }
    }
    if let Some(waiter) = waiter.as_mut() {
        let mut wait_ret = code::SUCCESS;
        for (unit, job) in &jobs {
            let outcome = waiter
                .wait(job)
                .await
                .map_err(|e| Failure::error(format!("Failed to wait for response: {e}")))?;
            if outcome.result.is_success() {
                continue;
            }
            let service_result = if unit.ends_with(".service") {
                match proxies::service(conn, unit).await {
                    Ok(service) => service.result().await.ok(),
                    Err(_) => None,
                }
            } else {
                None
            };
            if !ctx.opts.quiet {
                if let Some(text) =
                    job_failure_message(unit, &outcome.result, service_result.as_deref())
                {
                    emit_err(&format!("{text}\n"));
                }
            }
            if wait_ret == code::SUCCESS {
                wait_ret = job_exit_code(&outcome.result);
            }
        }
        // As in systemctl, a failed job decides the exit code over a failed enqueue.
        if wait_ret != code::SUCCESS {
            ret = wait_ret;
        }
    }
    if ret != code::SUCCESS {
        return Err(Failure::silent(ret).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_wording_follows_the_service_result() {
        let failed = JobResult::Failed;
        assert_eq!(
            job_failure_message("hello.service", &failed, Some("exit-code")).unwrap(),
            "Job for hello.service failed because the control process exited with error code.\n\
             See \"unitctl status hello.service\" and \"unitctl journal -xeu hello.service\" for details."
        );
        assert_eq!(
            job_failure_message("hello.service", &failed, Some("signal")).unwrap(),
            "Job for hello.service failed because a fatal signal was delivered to the control process.\n\
             See \"unitctl status hello.service\" and \"unitctl journal -xeu hello.service\" for details."
        );
        assert!(
            job_failure_message("hello.service", &failed, Some("timeout"))
                .unwrap()
                .starts_with("Job for hello.service failed because a timeout was exceeded.\n")
        );
        assert!(
            job_failure_message("hello.service", &failed, Some("oom-kill"))
                .unwrap()
                .starts_with(
                    "Job for hello.service failed because of an out-of-memory (OOM) situation.\n"
                )
        );
        assert_eq!(
            job_failure_message("hello.service", &failed, Some("start-limit-hit")).unwrap(),
            "Job for hello.service failed because start of the service was attempted too often.\n\
             See \"unitctl status hello.service\" and \"unitctl journal -xeu hello.service\" for details.\n\
             To force a start use \"unitctl reset-failed hello.service\"\n\
             followed by \"unitctl start hello.service\" again."
        );
        assert_eq!(
            job_failure_message("hello.service", &failed, Some("success")).unwrap(),
            "Job for hello.service failed.\n\
             See \"unitctl status hello.service\" and \"unitctl journal -xeu hello.service\" for details."
        );
        assert_eq!(
            job_failure_message("x.target", &failed, None).unwrap(),
            "Job failed. See \"unitctl journal -xe\" for details."
        );
    }

    #[test]
    fn other_results() {
        assert_eq!(
            job_failure_message("a.service", &JobResult::Done, None),
            None
        );
        assert_eq!(
            job_failure_message("a.service", &JobResult::Skipped, None),
            None
        );
        assert_eq!(
            job_failure_message("a.service", &JobResult::Canceled, None).unwrap(),
            "Job for a.service canceled."
        );
        assert_eq!(
            job_failure_message("a.service", &JobResult::Timeout, None).unwrap(),
            "Job for a.service timed out."
        );
        assert_eq!(
            job_failure_message("a.service", &JobResult::Dependency, None).unwrap(),
            "A dependency job for a.service failed. See 'unitctl journal -xe' for details."
        );
        assert_eq!(job_exit_code(&JobResult::Done), 0);
        assert_eq!(job_exit_code(&JobResult::Dependency), 1);
    }

    #[test]
    fn quoting_for_the_hint() {
        assert_eq!(shell_quote("web@1.service"), "web@1.service");
        assert_eq!(shell_quote("a\\x2db.service"), "\"a\\\\x2db.service\"");
        assert_eq!(shell_quote("a b.service"), "\"a b.service\"");
    }

    #[test]
    fn enqueue_failures() {
        assert_eq!(
            enqueue_failure_lines(
                UnitAction::Start,
                "foo.service",
                Some(names::NO_SUCH_UNIT),
                "Unit foo.service not found."
            )
            .unwrap(),
            "Failed to start foo.service: Unit foo.service not found."
        );
        assert_eq!(
            enqueue_failure_lines(UnitAction::Stop, "foo.service", Some(names::INVALID_ARGS), "bad")
                .unwrap(),
            "Failed to stop foo.service: bad\nSee system logs and 'unitctl status foo.service' for details."
        );
        assert_eq!(
            enqueue_failure_lines(
                UnitAction::TryRestart,
                "foo.service",
                Some(names::UNIT_MASKED),
                "masked"
            ),
            None
        );
    }
}
