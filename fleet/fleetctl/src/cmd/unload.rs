//! `fleetctl unload UNIT...`: set units' desired state to `inactive` (unscheduling them) and wait.

use fleet_model::schema::ApiUnit;
use fleet_model::TargetState;

use crate::cli::BlockArgs;
use crate::cmd::{bring_down, BringDown};
use crate::ctx::Ctx;
use crate::driver::Driver;

const UNLOAD: BringDown = BringDown {
    goal: TargetState::Inactive,
    word: "unload",
    done: "unloaded",
    source: "unload.rs",
    needed,
};

/// An inactive unit is already unloaded.
fn needed(u: &ApiUnit) -> Result<bool, String> {
    Ok(u.current_state != "inactive")
}

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &BlockArgs) -> i32 {
    bring_down(ctx, args, &UNLOAD).await
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
