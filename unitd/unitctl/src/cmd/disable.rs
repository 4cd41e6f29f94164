//! `unitctl disable [--now] [--runtime] [--no-reload] UNIT...`: `DisableUnitFiles`, prints the symlinks removed
//! (`Removed "A".`), daemon-reloads, and with `--now` stops the units.

use unitd_client::UnitAction;

use super::enable::{reload_after_change, render_changes, unit_file_args};
use crate::context::{emit_err, Context};
use crate::error::{code, Failure};

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let changes = manager
        .disable_unit_files(&refs, ctx.opts.runtime)
        .await
        .map_err(|e| {
            Failure::new(
                code::FAILURE,
                format!(
                    "Failed to disable unit: {}",
                    unitd_client::ClientError::from(e)
                ),
            )
        })?;
    if !ctx.opts.quiet {
        emit_err(&render_changes(&changes));
    }
    reload_after_change(ctx).await?;
    if ctx.opts.now {
        let names: Vec<String> = files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
            .collect();
        crate::jobs::run(ctx, UnitAction::Stop, &names).await?;
    }
    Ok(())
}
