//! `fleetctl load UNIT...`: create what is missing, set every unit's desired state to `loaded` (which stops a
//! launched unit, as in fleet), then wait for each to be loaded.

use fleet_model::TargetState;

use crate::cli::StartArgs;
use crate::cmd::{or_exit, schedule, Schedule};
use crate::create::Verb;
use crate::ctx::Ctx;
use crate::driver::Driver;

const LOAD: Schedule = Schedule {
    verb: Verb::Load,
    goal: TargetState::Loaded,
    word: "load",
    failure: "Error loading units",
};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &StartArgs) -> i32 {
    or_exit!(schedule(ctx, args, &LOAD).await);
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    #[tokio::test]
    async fn load_of_a_launched_unit_brings_it_down_to_loaded() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[(
            "a.service",
            UNIT,
            TargetState::Launched,
        )])));
        let args = StartArgs {
            sign: false,
            block_attempts: 0,
            no_block: false,
            replace: false,
            units: vec!["a".into()],
        };
        assert_eq!(run(&ctx, &args).await, 0);
        assert_eq!(ctx.driver.log(), ["set a.service loaded"]);
        assert_eq!(
            cap.out(),
            "Unit a.service loaded on 113f16a7.../172.17.8.103\n"
        );
        let missing = StartArgs {
            units: vec!["nope".into()],
            ..args
        };
        assert_eq!(run(&ctx, &missing).await, 1);
        assert_eq!(
            cap.err(),
            "Error creating units: unable to find Unit(nope.service) in Registry or on filesystem\n"
        );
    }
}
