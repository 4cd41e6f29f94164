//! `unitctl mask [--now] [--runtime] [--force] [--no-reload] UNIT...` and `unitctl unmask [--runtime]
//! [--no-reload] UNIT...`: `MaskUnitFiles`/`UnmaskUnitFiles`, print the links made or removed (`Created symlink
//! A → /dev/null.`, `Removed "A".`, on stderr as systemctl's log), daemon-reload so the units show as masked (or
//! load again), and `mask --now` stops the units too.

use unitd_client::UnitAction;

use super::enable::{after_change, failed, unit_file_args};
use crate::context::Context;

/// `mask`.
pub async fn mask(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let changes = manager
        .mask_unit_files(&refs, ctx.opts.runtime, ctx.opts.force)
        .await
        .map_err(|e| failed(e, "mask"))?;
    after_change(ctx, &changes, None, Some(UnitAction::Stop), &files).await
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
    // Unmasking starts nothing, --now or not.
    after_change(ctx, &changes, None, None, &files).await
}
