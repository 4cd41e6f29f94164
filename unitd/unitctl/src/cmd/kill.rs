//! `unitctl kill [-s SIGNAL] [--kill-whom=main|control|all] UNIT...`: `KillUnit` for each unit.

use crate::context::{bus_failure, emit_err, Context};
use crate::error::{code, Failure};
use crate::render::process::parse_signal;
use crate::units::expand_names;

/// The signal and target from the flags: `SIGTERM` and `all` by default, as systemctl.
pub fn parse_kill_options(
    signal: Option<&str>,
    whom: Option<&str>,
) -> Result<(i32, String), Failure> {
    let signal_text = signal.unwrap_or("SIGTERM");
    let signal = parse_signal(signal_text).ok_or_else(|| {
        Failure::new(
            code::INVALID_ARGUMENT,
            format!("Failed to parse signal string {signal_text}."),
        )
    })?;
    let whom = whom.unwrap_or("all");
    if !matches!(whom, "main" | "control" | "all") {
        return Err(Failure::new(
            code::INVALID_ARGUMENT,
            format!("Unknown kill whom: {whom}"),
        ));
    }
    Ok((signal, whom.to_string()))
}

/// Runs the verb.
pub async fn run(ctx: &Context, units: &[String]) -> anyhow::Result<()> {
    let (signal, whom) =
        parse_kill_options(ctx.opts.signal.as_deref(), ctx.opts.kill_whom.as_deref())?;
    let units = expand_names(ctx, units).await?;
    let manager = ctx.manager().await?;
    let mut ret = code::SUCCESS;
    for unit in &units {
        if let Err(e) = manager.kill_unit(unit, &whom, signal).await {
            let failure = bus_failure(&format!("Failed to kill unit {unit}"), &e.into());
            emit_err(&format!("{failure}\n"));
            if ret == code::SUCCESS {
                ret = failure.code;
            }
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
    fn defaults_and_errors() {
        assert_eq!(
            parse_kill_options(None, None).unwrap(),
            (15, "all".to_string())
        );
        assert_eq!(
            parse_kill_options(Some("KILL"), Some("main")).unwrap(),
            (9, "main".to_string())
        );
        assert_eq!(
            parse_kill_options(Some("NOPE"), None)
                .unwrap_err()
                .to_string(),
            "Failed to parse signal string NOPE."
        );
        assert!(parse_kill_options(None, Some("everyone")).is_err());
    }
}
