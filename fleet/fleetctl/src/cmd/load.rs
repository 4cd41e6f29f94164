//! `fleetctl load UNIT...`: create what is missing, set every unit's desired state to `loaded` (which stops a
//! launched unit, as in fleet), then wait for each to be loaded.

use fleet_model::TargetState;

use crate::block::{block_attempts, try_wait_for_unit_states};
use crate::cli::StartArgs;
use crate::cmd::{set_target_state_of_units, SIGN_WARNING};
use crate::create::{lazy_create_units, CreateOptions, Verb};
use crate::ctx::Ctx;
use crate::driver::{is_global, Driver};
use crate::names::{expand_all, mangle};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &StartArgs) -> i32 {
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
        verb: Verb::Load,
        replace: args.replace,
        block_attempts: args.block_attempts,
    };
    let replaced = match lazy_create_units(ctx, &units, opts).await {
        Ok(r) => r,
        Err(e) => {
            ctx.io.stderr(format!("Error creating units: {e}"));
            return 1;
        }
    };
    let names: Vec<String> = units.iter().map(|a| mangle(a)).collect();
    let triggered = match set_target_state_of_units(ctx, &names, TargetState::Loaded).await {
        Ok(t) => t,
        Err(e) => {
            ctx.io.stderr(format!("Error loading units: {e}"));
            return 1;
        }
    };
    let mut loading = Vec::new();
    for u in triggered {
        if is_global(&u) {
            ctx.io
                .stdout(format!("Triggered global unit {} load", u.name));
        } else {
            loading.push(u.name);
        }
    }
    // Units replaced in place keep their desired state: wait for them to run the new contents too.
    for u in replaced {
        if !is_global(&u) && u.desired_state == "loaded" && !loading.contains(&u.name) {
            loading.push(u.name);
        }
    }
    let attempts = block_attempts(args.block_attempts, args.no_block);
    if let Err(e) =
        try_wait_for_unit_states(ctx, &loading, "load", TargetState::Loaded, attempts).await
    {
        ctx.io
            .stderr(format!("Error waiting for unit states, exit status: {e}"));
        return 1;
    }
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
