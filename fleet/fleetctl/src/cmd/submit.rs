//! `fleetctl submit UNIT...`: the create phase only.

use crate::cli::SubmitArgs;
use crate::cmd::{or_exit, submit_units};
use crate::create::{CreateOptions, Verb};
use crate::ctx::Ctx;
use crate::driver::Driver;

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &SubmitArgs) -> i32 {
    let opts = CreateOptions {
        verb: Verb::Submit,
        replace: args.replace,
        // submit has no --block-attempts: the creation wait has no limit.
        block_attempts: 0,
    };
    or_exit!(submit_units(ctx, args.sign, &args.units, opts).await);
    0
}
