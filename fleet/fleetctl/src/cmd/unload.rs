//! `fleetctl unload UNIT...`: set units' desired state to `inactive` (unscheduling them) and wait.

use fleet_model::TargetState;

use crate::block::{block_attempts, try_wait_for_unit_states};
use crate::cli::BlockArgs;
use crate::cmd::{find_units, go_list};
use crate::ctx::Ctx;
use crate::driver::{is_global, Driver};
use crate::names::expand_all;

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &BlockArgs) -> i32 {
    let names = expand_all(&args.units);
    if names.is_empty() {
        ctx.io.stderr("No units given");
        return 0;
    }
    let units = match find_units(ctx, &names).await {
        Ok(u) => u,
        Err(e) => {
            ctx.io.stderr(e.to_string());
            return 1;
        }
    };
    if units.is_empty() {
        ctx.io.stderr("Units not found in registry");
        return 0;
    }
    let mut wait = Vec::new();
    for u in units {
        let global = is_global(&u);
        if !global && u.current_state == "inactive" {
            continue;
        }
        if let Err(e) = ctx
            .driver
            .set_desired_state(&u.name, TargetState::Inactive)
            .await
        {
            ctx.io.debug(
                "unload.rs",
                format!("Setting target state of Unit({}) failed: {e}", u.name),
            );
        }
        if global {
            ctx.io
                .stdout(format!("Triggered global unit {} unload", u.name));
        } else {
            wait.push(u.name);
        }
    }
    let attempts = block_attempts(args.block_attempts, args.no_block);
    if let Err(e) =
        try_wait_for_unit_states(ctx, &wait, "unload", TargetState::Inactive, attempts).await
    {
        ctx.io.stderr(format!(
            "Failed to unload units {}. err: {e}",
            go_list(&wait)
        ));
        return 1;
    }
    ctx.io
        .stderr(format!("Successfully unloaded units {}.", go_list(&wait)));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    #[tokio::test]
    async fn unload_waits_for_inactive_and_skips_inactive_units() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[
            ("a.service", UNIT, TargetState::Launched),
            ("b.service", UNIT, TargetState::Inactive),
        ])));
        let args = BlockArgs {
            block_attempts: 0,
            no_block: false,
            units: vec!["a".into(), "b".into()],
        };
        assert_eq!(run(&ctx, &args).await, 0);
        assert_eq!(ctx.driver.log(), ["set a.service inactive"]);
        assert_eq!(cap.out(), "Unit a.service inactive\n");
        assert_eq!(cap.err(), "Successfully unloaded units [a.service].\n");
    }
}
