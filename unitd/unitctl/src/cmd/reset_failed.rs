//! `unitctl reset-failed [UNIT...]`: `ResetFailedUnit` for each unit, or `ResetFailed()` for all.

use crate::context::{bus_failure, emit_err, Context};
use crate::error::{code, Failure};
use crate::units::expand_names;

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    if args.is_empty() {
        manager
            .reset_failed()
            .await
            .map_err(|e| bus_failure("Failed to reset failed state", &e.into()))?;
        return Ok(());
    }
    let mut ret = code::SUCCESS;
    for unit in expand_names(ctx, args).await? {
        if let Err(e) = manager.reset_failed_unit(&unit).await {
            let failure = bus_failure(
                &format!("Failed to reset failed state of unit {unit}"),
                &e.into(),
            );
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
