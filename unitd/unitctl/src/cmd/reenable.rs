//! `unitctl reenable [--now] [--runtime] [--force] [--no-reload] UNIT...`: `ReenableUnitFiles` — disable then
//! enable, so the links follow a changed `[Install]` section — then prints the links removed and made,
//! daemon-reloads, and with `--now` restarts the units (as systemd 256's `reenable --now`).

use unitd_client::UnitAction;

use super::enable::{after_change, failed, unit_file_args, NO_INSTALL_INFO};
use crate::context::Context;

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let (carries_install_info, changes) = manager
        .reenable_unit_files(&refs, ctx.opts.runtime, ctx.opts.force)
        .await
        .map_err(|e| failed(e, "reenable"))?;
    let note = (!carries_install_info).then_some(NO_INSTALL_INFO);
    after_change(ctx, &changes, note, Some(UnitAction::Restart), &files).await
}
