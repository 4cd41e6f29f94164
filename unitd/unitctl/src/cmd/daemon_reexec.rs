//! `unitctl daemon-reexec`: `Reexecute()` — unitd serializes its state and executes itself again. Returns once
//! the new unitd answers (see `unitd_client::reexec`), so the next command finds it; the connection dropping
//! before the reply counts as success, as in systemctl.

use std::time::Duration;

use unitd_client::Target;

use crate::context::{bus_failure, Context};

/// How long to wait for unitd to come back (it re-attaches to every running unit first).
pub const REEXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the verb.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let conn = ctx.conn().await?;
    let target = Target::discover(ctx.opts.address.as_deref());
    // The connection to the new unitd is not needed: this was the last call.
    unitd_client::reexecute(conn, &target, REEXEC_TIMEOUT)
        .await
        .map(drop)
        .map_err(|e| bus_failure("Failed to reexecute daemon", &e).into())
}
