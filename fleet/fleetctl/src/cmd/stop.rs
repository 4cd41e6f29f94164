//! `fleetctl stop UNIT...`: bring launched units down to `loaded` and wait. A unit that was never loaded is an
//! error; an already stopped one is skipped; global units are only triggered.

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
    let mut stopping = Vec::new();
    for u in units {
        let global = is_global(&u);
        if !global {
            match u.current_state.as_str() {
                "inactive" => {
                    ctx.io
                        .stderr(format!("Unable to stop unit {} in state inactive", u.name));
                    return 1;
                }
                "loaded" => continue,
                _ => {}
            }
        }
        // fleet ignores this error; the wait below then reports the unit that did not stop.
        if let Err(e) = ctx
            .driver
            .set_desired_state(&u.name, TargetState::Loaded)
            .await
        {
            ctx.io.debug(
                "stop.rs",
                format!("Setting target state of Unit({}) failed: {e}", u.name),
            );
        }
        if global {
            ctx.io
                .stdout(format!("Triggered global unit {} stop", u.name));
        } else {
            stopping.push(u.name);
        }
    }
    let attempts = block_attempts(args.block_attempts, args.no_block);
    if let Err(e) =
        try_wait_for_unit_states(ctx, &stopping, "stop", TargetState::Loaded, attempts).await
    {
        ctx.io.stderr(format!(
            "Failed to stop units {}. err: {e}",
            go_list(&stopping)
        ));
        return 1;
    }
    ctx.io.stderr(format!(
        "Successfully stopped units {}.",
        go_list(&stopping)
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    fn args(units: &[&str]) -> BlockArgs {
        BlockArgs {
            block_attempts: 0,
            no_block: false,
            units: units.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn stop_waits_for_loaded_and_reports_on_stderr() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[
            ("a.service", UNIT, TargetState::Launched),
            ("b.service", UNIT, TargetState::Loaded),
        ])));
        assert_eq!(run(&ctx, &args(&["a", "b", "nope"])).await, 0);
        assert_eq!(ctx.driver.log(), ["set a.service loaded"]);
        assert_eq!(
            cap.out(),
            "Unit a.service loaded on 113f16a7.../172.17.8.103\n"
        );
        assert_eq!(cap.err(), "Successfully stopped units [a.service].\n");
    }

    #[tokio::test]
    async fn stopping_an_inactive_unit_fails_and_missing_units_are_fine() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[(
            "a.service",
            UNIT,
            TargetState::Inactive,
        )])));
        assert_eq!(run(&ctx, &args(&["a.service"])).await, 1);
        assert_eq!(
            cap.err(),
            "Unable to stop unit a.service in state inactive\n"
        );
        assert_eq!(run(&ctx, &args(&["nope"])).await, 0);
        assert!(cap.err().ends_with("Units not found in registry\n"));
    }

    #[tokio::test]
    async fn a_stop_that_never_lands_times_out() {
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, cap) = ctx(d);
        // Read once so the unit is running, then freeze the cluster.
        ctx.driver.with(crate::driver::fake::converge);
        ctx.driver.set_tick(Box::new(|_| {}));
        let mut a = args(&["a"]);
        a.block_attempts = 1;
        assert_eq!(run(&ctx, &a).await, 1);
        assert_eq!(
            cap.err(),
            "Error waiting for units: timed out waiting for unit a.service to report state loaded\n\
             Failed to stop units [a.service]. err: timed out waiting for unit a.service to report state loaded\n"
        );
    }
}
