//! `fleetctl stop UNIT...`: bring launched units down to `loaded` and wait. A unit that was never loaded is an
//! error; an already stopped one is skipped; global units are only triggered.

use fleet_model::schema::ApiUnit;
use fleet_model::TargetState;

use crate::cli::BlockArgs;
use crate::cmd::{bring_down, BringDown};
use crate::ctx::Ctx;
use crate::driver::Driver;

const STOP: BringDown = BringDown {
    goal: TargetState::Loaded,
    word: "stop",
    done: "stopped",
    source: "stop.rs",
    needed,
};

/// An inactive unit cannot be stopped; a loaded one already is.
fn needed(u: &ApiUnit) -> Result<bool, String> {
    match u.current_state.as_str() {
        "inactive" => Err(format!("Unable to stop unit {} in state inactive", u.name)),
        "loaded" => Ok(false),
        _ => Ok(true),
    }
}

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &BlockArgs) -> i32 {
    bring_down(ctx, args, &STOP).await
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
