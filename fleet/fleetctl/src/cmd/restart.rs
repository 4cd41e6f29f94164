//! `fleetctl restart UNIT...`: stop then start each unit in turn, waiting for `loaded` and then `launched`
//! (fleet v1.0 waited for `launched` after the stop, a bug). A loaded unit is just started; an inactive one
//! is reported and skipped. Global units are stopped everywhere (until no machine reports them running) and
//! started again.

use fleet_model::schema::ApiUnit;
use fleet_model::{is_running_state, TargetState};

use crate::block::{block_attempts, poll, try_wait_for_unit_states, Check, GaveUp};
use crate::cli::RestartArgs;
use crate::cmd::{create_units, find_units, given_units, or_exit};
use crate::create::{CreateOptions, Verb};
use crate::ctx::Ctx;
use crate::driver::{is_global, Driver};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &RestartArgs) -> i32 {
    let names = or_exit!(given_units(ctx, &args.units));
    let units = or_exit!(find_units(ctx, &names).await);
    let opts = CreateOptions {
        verb: Verb::Restart,
        replace: false,
        block_attempts: args.block_attempts,
    };
    or_exit!(create_units(ctx, &names, opts).await);
    let attempts = block_attempts(args.block_attempts, false);
    let mut globals = Vec::new();
    for unit in units {
        if is_global(&unit) {
            globals.push(unit);
            continue;
        }
        match unit.current_state.as_str() {
            "inactive" => {
                ctx.io.stderr(format!(
                    "Unable to restart unit {} in state inactive",
                    unit.name
                ));
                continue;
            }
            "loaded" => {
                ctx.io.log(
                    "INFO",
                    "restart.rs",
                    format!("Unit({}) already loaded, starting.", unit.name),
                );
                if set_and_wait(ctx, &unit.name, TargetState::Launched, attempts).await != 0 {
                    return 1;
                }
                continue;
            }
            _ => {
                if set_and_wait(ctx, &unit.name, TargetState::Loaded, attempts).await != 0
                    || set_and_wait(ctx, &unit.name, TargetState::Launched, attempts).await != 0
                {
                    return 1;
                }
            }
        }
        ctx.io.log(
            "INFO",
            "restart.rs",
            format!("Unit({}) was restarted.", unit.name),
        );
    }
    for unit in &globals {
        if let Err(e) = restart_global(ctx, unit, attempts).await {
            ctx.io.stderr(format!(
                "Error restarting global units [{}] err:{e}",
                unit.name
            ));
            return 1;
        }
    }
    0
}

/// fleet's `setUnitStateAndWait`.
async fn set_and_wait<D: Driver>(
    ctx: &Ctx<D>,
    name: &str,
    state: TargetState,
    attempts: i64,
) -> i32 {
    if let Err(e) = ctx.driver.set_desired_state(name, state).await {
        ctx.io
            .stderr(format!("Error setting target state for unit {name}: {e}"));
        return 1;
    }
    if let Err(e) =
        try_wait_for_unit_states(ctx, &[name.to_string()], "restart", state, attempts).await
    {
        ctx.io
            .stderr(format!("Error waiting for unit states, exit status: {e}"));
        return 1;
    }
    0
}

/// Stops a global unit on every machine, waits until none reports it running, and starts it again.
async fn restart_global<D: Driver>(
    ctx: &Ctx<D>,
    unit: &ApiUnit,
    attempts: i64,
) -> Result<(), String> {
    let name = unit.name.as_str();
    ctx.driver
        .set_desired_state(name, TargetState::Loaded)
        .await
        .map_err(|e| e.to_string())?;
    let attempts = u32::try_from(attempts.max(0)).unwrap_or(u32::MAX);
    let stopped = poll(ctx, attempts, || async move {
        match ctx.driver.unit_states(Some(name)).await {
            Ok(states) if states.iter().all(|s| !is_running_state(&s.active_state)) => Check::Done,
            _ => Check::NotYet,
        }
    })
    .await;
    if let Err(GaveUp::Attempts { .. } | GaveUp::Stuck { .. } | GaveUp::Failed(_)) = stopped {
        return Err(format!("timed out waiting for unit {name} to stop"));
    }
    ctx.driver
        .set_desired_state(name, TargetState::Launched)
        .await
        .map_err(|e| e.to_string())?;
    ctx.io
        .stdout(format!("Triggered global unit {name} restart"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    fn args(units: &[&str]) -> RestartArgs {
        RestartArgs {
            block_attempts: 0,
            units: units.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn restart_stops_then_starts_and_skips_inactive_units() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[
            ("a.service", UNIT, TargetState::Launched),
            ("b.service", UNIT, TargetState::Loaded),
            ("c.service", UNIT, TargetState::Inactive),
            (
                "g.service",
                "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
                TargetState::Launched,
            ),
        ])));
        assert_eq!(run(&ctx, &args(&["a", "b", "c", "g"])).await, 0);
        assert_eq!(
            ctx.driver.log(),
            [
                "set a.service loaded",
                "set a.service launched",
                "set b.service launched",
                "set g.service loaded",
                "set g.service launched",
            ]
        );
        assert_eq!(
            cap.out(),
            "Unit a.service loaded on 113f16a7.../172.17.8.103\n\
             Unit a.service launched on 113f16a7.../172.17.8.103\n\
             Unit b.service launched on 113f16a7.../172.17.8.103\n\
             Triggered global unit g.service restart\n"
        );
        let err = cap.err();
        assert!(err.contains("Unable to restart unit c.service in state inactive\n"));
        assert!(err.contains(" INFO restart.rs: Unit(a.service) was restarted.\n"));
        assert!(err.contains(" INFO restart.rs: Unit(b.service) already loaded, starting.\n"));
    }
}
