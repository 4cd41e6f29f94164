//! `unitctl disable [--now] [--runtime] [--no-reload] UNIT...`: `DisableUnitFiles`, prints the symlinks removed
//! (`Removed "A".`), daemon-reloads, and with `--now` stops the units.

use unitd_client::UnitAction;

use super::enable::{after_change, failed, unit_file_args};
use crate::context::Context;

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let changes = manager
        .disable_unit_files(&refs, ctx.opts.runtime)
        .await
        .map_err(|e| failed(e, "disable"))?;
    after_change(ctx, &changes, None, Some(UnitAction::Stop), &files).await
}
