//! `fleetctl destroy UNIT...`: remove units from the registry and, unless `--no-block`, wait until they are
//! gone — from the registry and from every machine (no state published for them any more), so that a
//! destroyed unit is known to be stopped when destroy returns. (fleet v1.0 waited only with `--no-block`, a
//! bug; v0.11 waited for the registry only.) As in fleet, a wait that runs out of attempts gives up silently.

use fleet_model::schema::ApiUnit;

use crate::block::{block_attempts, poll, Check, GaveUp};
use crate::cli::BlockArgs;
use crate::cmd::{or_exit, registered_units};
use crate::ctx::Ctx;
use crate::driver::Driver;

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &BlockArgs) -> i32 {
    let units = or_exit!(registered_units(ctx, &args.units).await);
    let attempts = block_attempts(args.block_attempts, args.no_block);
    let mut exit = 0;
    for u in &units {
        if let Err(e) = ctx.driver.destroy_unit(&u.name).await {
            if e.is_not_found() {
                continue;
            }
            ctx.io.stderr(format!("Error destroying units: {e}"));
            exit = 1;
            continue;
        }
        if attempts >= 0 {
            if let Err(GaveUp::Failed(e)) = wait_gone(ctx, u, attempts).await {
                ctx.io.stderr(format!("Error destroying units: {e}"));
                exit = 1;
            }
        }
        ctx.io.stdout(format!("Destroyed {}", u.name));
    }
    exit
}

/// Polls until the unit is neither in the registry nor reported by any machine.
async fn wait_gone<D: Driver>(ctx: &Ctx<D>, u: &ApiUnit, attempts: i64) -> Result<(), GaveUp> {
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    let name = u.name.as_str();
    poll(ctx, attempts, || async move {
        match ctx.driver.unit(name).await {
            Err(e) => return Check::Fail(e.to_string()),
            Ok(Some(_)) => return Check::NotYet,
            Ok(None) => {}
        }
        match ctx.driver.unit_states(Some(name)).await {
            Err(e) => Check::Fail(e.to_string()),
            Ok(states) if states.is_empty() => Check::Done,
            Ok(_) => Check::NotYet,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use fleet_model::TargetState;

    use super::*;
    use crate::driver::fake::{self, FakeDriver};
    use crate::testutil::{cluster, ctx, M1, UNIT};

    fn args(units: &[&str], no_block: bool) -> BlockArgs {
        BlockArgs {
            block_attempts: 0,
            no_block,
            units: units.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn destroy_waits_until_no_machine_reports_the_unit() {
        let d = FakeDriver::new(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        d.with(|c| {
            c.states
                .push(fake::published("a.service", "h", M1, TargetState::Launched))
        });
        // The agent unloads the unit a few polls after it left the registry.
        let polls = Arc::new(AtomicUsize::new(0));
        let p = polls.clone();
        d.set_tick(Box::new(move |c| {
            if !c.units.contains_key("a.service") && p.fetch_add(1, Ordering::SeqCst) > 5 {
                c.states.clear();
            }
        }));
        let (ctx, cap) = ctx(d);
        assert_eq!(run(&ctx, &args(&["a", "missing"], false)).await, 0);
        assert!(polls.load(Ordering::SeqCst) > 5);
        assert_eq!(ctx.driver.log(), ["destroy a.service"]);
        assert_eq!(cap.out(), "Destroyed a.service\n");
        assert_eq!(cap.err(), "");
    }

    #[tokio::test]
    async fn no_block_does_not_wait_and_nothing_found_is_fine() {
        let d = FakeDriver::new(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        d.with(|c| {
            c.states
                .push(fake::published("a.service", "h", M1, TargetState::Launched))
        });
        let (ctx, cap) = ctx(d);
        assert_eq!(run(&ctx, &args(&["a.service"], true)).await, 0);
        assert_eq!(cap.out(), "Destroyed a.service\n");
        assert_eq!(run(&ctx, &args(&["a.service"], true)).await, 0);
        assert_eq!(cap.err(), "Units not found in registry\n");
    }
}
