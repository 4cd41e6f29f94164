//! In-process placement: how long one engine pass takes to place N units on M machines, with a mix of
//! constraints (`cargo bench -p fleet-model --bench placement`).
//!
//! The mix, per 10 units: 4 plain, 2 `Conflicts=` instances of a template group (`web-G@I` with
//! `Conflicts=web-G@*`, groups of 20), 2 `MachineOf=` followers of plain units, 2 `MachineMetadata=` (one of
//! three regions; machines are spread over the three). Prints one line per size and the growth ratio.

use std::collections::HashMap;
use std::time::Instant;

use fleet_model::{reconcile, ClusterSnapshot};

#[path = "common/mix.rs"]
mod mix;
use mix::{machines, units};

fn main() {
    let mut previous: Option<(usize, f64)> = None;
    for (n_units, n_machines) in [(1_000, 100), (10_000, 1_000), (100_000, 10_000)] {
        let snapshot = ClusterSnapshot {
            jobs: units(n_units),
            machines: machines(n_machines),
            running: HashMap::new(),
        };
        let start = Instant::now();
        let plan = reconcile(&snapshot);
        let secs = start.elapsed().as_secs_f64();
        let placed = plan.targets.values().filter(|t| t.is_some()).count();
        let growth = previous.map_or(String::new(), |(pn, ps)| {
            format!(
                "  ({}× the units: {:.1}× the time)",
                n_units / pn,
                secs / ps
            )
        });
        println!(
            "placement in-process: {n_units:>7} units on {n_machines:>6} machines: {:>8.1} ms, {placed} placed, {} unschedulable, {:.0} placements/s{growth}",
            secs * 1e3,
            plan.unschedulable.len(),
            placed as f64 / secs,
        );
        previous = Some((n_units, secs));
    }
}
