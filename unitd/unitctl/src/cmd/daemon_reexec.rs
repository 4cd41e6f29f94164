//! `unitctl daemon-reexec`: `Reexecute()` — unitd serializes its state and executes itself again. The
//! connection may drop before the reply arrives; like systemctl, that counts as success.

use unitd_client::ClientError;

use crate::context::{bus_failure, Context};

/// Runs the verb.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    match manager.reexecute().await {
        Ok(()) => Ok(()),
        Err(e) => {
            let e = ClientError::from(e);
            if e.is_disconnect() {
                Ok(())
            } else {
                Err(bus_failure("Failed to reexecute daemon", &e).into())
            }
        }
    }
}
