//! `unitctl daemon-reload`: `Reload()` — unitd re-reads unit files and keeps running units.

use crate::context::{bus_failure, Context};

/// Runs the verb.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    manager
        .reload()
        .await
        .map_err(|e| bus_failure("Failed to reload daemon", &e.into()))?;
    Ok(())
}
