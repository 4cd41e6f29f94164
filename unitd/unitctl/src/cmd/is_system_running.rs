//! `unitctl is-system-running [--wait]`: prints unitd's state (the manager's `SystemState`: `starting` while
//! jobs are queued, `degraded` once a unit has failed, else `running`) and exits 0 only for `running`, as
//! systemctl does — the check health probes and boot scripts use. `--wait` first waits for startup to end
//! (the state leaving `initializing` and `starting`); `-q` prints nothing.

use std::time::Duration;

use unitd_client::proxies::ManagerProxy;

use crate::context::{bus_failure, emit, Context};
use crate::error::{code, Failure};

/// How often `--wait` asks again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Whether the system is still starting up.
fn starting(state: &str) -> bool {
    matches!(state, "initializing" | "starting")
}

async fn system_state(manager: &ManagerProxy<'_>) -> Result<String, Failure> {
    manager
        .system_state()
        .await
        .map_err(|e| bus_failure("Failed to query system state", &e.into()))
}

/// Runs the verb.
pub async fn run(ctx: &Context, wait: bool) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    let mut state = system_state(&manager).await?;
    while wait && starting(&state) {
        tokio::time::sleep(WAIT_POLL).await;
        state = system_state(&manager).await?;
    }
    if !ctx.opts.quiet {
        emit(&format!("{state}\n"))?;
    }
    if state == "running" {
        Ok(())
    } else {
        Err(Failure::silent(code::FAILURE).into())
    }
}
