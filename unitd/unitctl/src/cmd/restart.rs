//! `unitctl restart UNIT...`: `RestartUnit` for each unit (names mangled, globs expanded), then waits for the
//! jobs unless `--no-block`; failures are reported and mapped to exit codes in [`crate::jobs`].

use unitd_client::UnitAction;

use crate::context::Context;

/// Runs the verb.
pub async fn run(ctx: &Context, units: &[String]) -> anyhow::Result<()> {
    crate::jobs::run(ctx, UnitAction::Restart, units).await
}
