//! `fleetctl journal [--lines N] [-f] [--output MODE] UNIT`: the unit's journal, read from the machine it runs
//! on through that machine's fleet API (fleet used ssh), streamed to stdout unchanged.

use crate::cli::JournalArgs;
use crate::ctx::Ctx;
use crate::driver::{is_global, Driver};
use crate::journal::{stream, JournalQuery};
use crate::names::{expand_all, mangle};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &JournalArgs) -> i32 {
    let units = expand_all(&args.units);
    if units.len() != 1 {
        ctx.io.stderr("One unit file must be provided.");
        return 1;
    }
    let name = mangle(&units[0]);
    let unit = match ctx.driver.unit(&name).await {
        Err(e) => {
            ctx.io.stderr(format!("Error retrieving unit {name}: {e}"));
            return 1;
        }
        Ok(None) => {
            ctx.io.stderr(format!("Unit {name} does not exist."));
            return 1;
        }
        Ok(Some(u)) => u,
    };
    if is_global(&unit) {
        ctx.io
            .stderr(format!("Unable to retrieve journal of global unit {name}."));
        return 1;
    }
    if unit.current_state == "inactive" || unit.machine_id.is_empty() {
        ctx.io
            .stderr(format!("Unit {name} does not appear to be running."));
        return 1;
    }
    let Some(machine) = ctx.machine(&unit.machine_id).await else {
        ctx.io.stderr(format!(
            "Error getting machine IP: machine {} of unit {name} is not in the cluster",
            unit.machine_id
        ));
        return 1;
    };
    let query = JournalQuery {
        unit: &name,
        lines: args.lines,
        follow: args.follow,
        output: &args.output,
    };
    match stream(
        |chunk| ctx.io.write_out(chunk),
        &machine.id,
        &machine.api,
        &query,
        ctx.request_timeout,
    )
    .await
    {
        Ok(()) => 0,
        Err(e) if e.is_closed_output() => 0,
        Err(e) => {
            ctx.io
                .stderr(format!("Error retrieving journal of unit {name}: {e}"));
            1
        }
    }
}
