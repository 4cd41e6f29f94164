//! `unitctl mask [--now] [--runtime] [--force] [--no-reload] UNIT...` and `unitctl unmask [--runtime]
//! [--no-reload] UNIT...`: `MaskUnitFiles`/`UnmaskUnitFiles`, print the links made or removed (`Created symlink
//! A → /dev/null.`, `Removed "A".`, on stderr as systemctl's log), daemon-reload so the units show as masked (or
//! load again), and `mask --now` stops the units too.

use unitd_client::UnitAction;

use super::enable::{reload_after_change, render_changes, unit_file_args};
use crate::context::{emit_err, Context};
use crate::error::{code, Failure};

/// `mask`.
pub async fn mask(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let changes = manager
        .mask_unit_files(&refs, ctx.opts.runtime, ctx.opts.force)
        .await
        .map_err(|e| failed(e, "mask"))?;
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

/// `unmask`.
pub async fn unmask(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let changes = manager
        .unmask_unit_files(&refs, ctx.opts.runtime)
        .await
        .map_err(|e| failed(e, "unmask"))?;
    if !ctx.opts.quiet {
        emit_err(&render_changes(&changes));
    }
    reload_after_change(ctx).await?;
    Ok(())
}

/// systemctl's "Failed to mask unit: ..." (the daemon's own messages already start that way).
fn failed(e: zbus::Error, verb: &str) -> Failure {
    let text = unitd_client::ClientError::from(e).to_string();
    let prefix = format!("Failed to {verb} unit: ");
    let message = if text.starts_with(&prefix) {
        text
    } else {
        format!("{prefix}{text}")
    };
    Failure::new(code::FAILURE, message)
}
