//! `fleetctl status UNIT...`: for each unit, the state its machine published, in the shape of `systemctl
//! status`'s header, followed by the last 10 lines of its journal (read through the cluster, where fleet ran
//! `systemctl status` over ssh). A global unit shows one block per machine.
//!
//! Exit codes follow `systemctl status`, which fleet passed through: 0 when active, 3 otherwise; the first
//! unit that is not active ends the command.

use fleet_model::schema::{ApiUnit, ApiUnitState};

use crate::cli::StatusArgs;
use crate::ctx::Ctx;
use crate::driver::{is_global, unit_file, Driver};
use crate::journal::{stream, JournalQuery};
use crate::names::{expand_all, mangle};

/// Journal lines shown under the state, as `systemctl status` shows.
const JOURNAL_LINES: i64 = 10;

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &StatusArgs) -> i32 {
    for (i, arg) in expand_all(&args.units).iter().enumerate() {
        let name = mangle(arg);
        let unit = match ctx.driver.unit(&name).await {
            Err(e) => {
                ctx.io.stderr(format!("Error retrieving unit: {e}"));
                return 1;
            }
            Ok(None) => {
                ctx.io.stderr(format!("Unit {name} does not exist."));
                return 1;
            }
            Ok(Some(u)) => u,
        };
        let global = is_global(&unit);
        if !global && unit.current_state == "inactive" {
            ctx.io
                .stderr(format!("Unit {name} does not appear to be loaded."));
            return 1;
        }
        let states: Vec<ApiUnitState> = match ctx.driver.unit_states(Some(&name)).await {
            Ok(s) => s
                .into_iter()
                .filter(|s| global || s.machine_id == unit.machine_id)
                .collect(),
            Err(e) => {
                ctx.io.stderr(format!("Error retrieving unit: {e}"));
                return 1;
            }
        };
        if states.is_empty() {
            ctx.io
                .stderr(format!("Unit {name} does not appear to be loaded."));
            return 1;
        }
        let mut code = 0;
        for (j, state) in states.iter().enumerate() {
            if i > 0 || j > 0 {
                ctx.io.stdout("");
            }
            show(ctx, &unit, state).await;
            if state.active_state != "active" {
                code = 3;
            }
        }
        if code != 0 {
            return code;
        }
    }
    0
}

/// One machine's view of the unit, then its journal.
async fn show<D: Driver>(ctx: &Ctx<D>, unit: &ApiUnit, s: &ApiUnitState) {
    let file = unit_file(unit);
    let mut text = match file.description() {
        Some(d) => format!("● {} - {d}\n", unit.name),
        None => format!("● {}\n", unit.name),
    };
    text.push_str(&format!("   Loaded: {}\n", s.load_state));
    text.push_str(&format!(
        "   Active: {} ({})\n",
        s.active_state, s.sub_state
    ));
    text.push_str(&format!(
        "  Machine: {}\n",
        ctx.legend(&s.machine_id, false).await
    ));
    let hash = if s.hash.is_empty() {
        "-".to_string()
    } else {
        s.hash.chars().take(7).collect()
    };
    text.push_str(&format!("     Hash: {hash}\n"));
    let _ = ctx.io.write_out(text.as_bytes());

    let Some(machine) = ctx.machine(&s.machine_id).await else {
        return;
    };
    let mut journal = Vec::new();
    let query = JournalQuery {
        unit: &unit.name,
        lines: JOURNAL_LINES,
        follow: false,
        output: "short",
    };
    let sink = |chunk: &[u8]| {
        journal.extend_from_slice(chunk);
        Ok(())
    };
    match stream(sink, &machine.id, &machine.api, &query, ctx.request_timeout).await {
        Ok(()) if journal.is_empty() => {}
        Ok(()) => {
            journal.insert(0, b'\n');
            let _ = ctx.io.write_out(&journal);
        }
        Err(e) => ctx.io.stderr(format!(
            "Unable to read the journal of {} on {}: {e}",
            unit.name,
            ctx.legend(&s.machine_id, false).await
        )),
    }
}
