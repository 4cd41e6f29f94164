//! `unitctl is-enabled UNIT...`: prints each unit file's state (`GetUnitFileState`) and exits 0 if one of them
//! is enabled (or static, an alias, indirect, generated), 1 otherwise.

use crate::context::{emit, Context};
use crate::error::{code, Failure};

use super::enable::unit_file_args;

/// The states systemctl counts as enabled.
pub fn counts_as_enabled(state: &str) -> bool {
    matches!(
        state,
        "enabled" | "enabled-runtime" | "static" | "alias" | "indirect" | "generated"
    )
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    let mut enabled = false;
    for unit in unit_file_args(args) {
        let state = manager.get_unit_file_state(&unit).await.map_err(|e| {
            Failure::error(format!(
                "Failed to get unit file state for {unit}: {}",
                unitd_client::ClientError::from(e)
            ))
        })?;
        if !ctx.opts.quiet {
            emit(&format!("{state}\n"))?;
        }
        enabled |= counts_as_enabled(&state);
    }
    if enabled {
        Ok(())
    } else {
        Err(Failure::silent(code::FAILURE).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_states() {
        for s in [
            "enabled",
            "static",
            "alias",
            "indirect",
            "generated",
            "enabled-runtime",
        ] {
            assert!(counts_as_enabled(s), "{s}");
        }
        for s in ["disabled", "masked", "linked", "bad"] {
            assert!(!counts_as_enabled(s), "{s}");
        }
    }
}
