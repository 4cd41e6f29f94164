//! `fleetctl submit UNIT...`: the create phase only.

use crate::cli::SubmitArgs;
use crate::cmd::SIGN_WARNING;
use crate::create::{lazy_create_units, CreateOptions, Verb};
use crate::ctx::Ctx;
use crate::driver::Driver;
use crate::names::expand_all;

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &SubmitArgs) -> i32 {
    if args.sign {
        ctx.io.stderr(SIGN_WARNING);
        return 2;
    }
    let units = expand_all(&args.units);
    if units.is_empty() {
        ctx.io.stderr("No units given");
        return 0;
    }
    let opts = CreateOptions {
        verb: Verb::Submit,
        replace: args.replace,
        // submit has no --block-attempts: the creation wait has no limit.
        block_attempts: 0,
    };
    if let Err(e) = lazy_create_units(ctx, &units, opts).await {
        ctx.io.stderr(format!("Error creating units: {e}"));
        return 1;
    }
    0
}
