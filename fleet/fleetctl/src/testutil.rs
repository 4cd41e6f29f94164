//! Shared test helpers: a [`Ctx`] over the fake driver with fast waits and captured output.

use std::time::Duration;

use fleet_model::TargetState;

use crate::ctx::{Ctx, Timing};
use crate::driver::fake::{self, Cluster, FakeDriver};
use crate::io::capture::Captured;

/// A unit that would run forever.
pub const UNIT: &str = "[Service]\nExecStart=/bin/sleep 1d\n";

/// The machine the fake schedules on.
pub const M1: &str = "113f16a7e28a4c2a9ba2a3d4f3e5b6c7";

/// Waits in milliseconds instead of seconds.
pub fn fast() -> Timing {
    Timing {
        poll: Duration::from_millis(1),
        attempt: Duration::from_millis(10),
        give_up: Duration::from_millis(40),
    }
}

/// A context over `d`, with fast waits and captured output.
pub fn ctx(d: FakeDriver) -> (Ctx<FakeDriver>, Captured) {
    let (io, cap) = Captured::new();
    let mut ctx = Ctx::new(d, io, Duration::from_secs(1));
    ctx.timing = fast();
    (ctx, cap)
}

/// A cluster of one machine (`M1`, 172.17.8.103) and `units`.
pub fn cluster(units: &[(&str, &str, TargetState)]) -> Cluster {
    Cluster {
        units: units
            .iter()
            .map(|(n, t, s)| (n.to_string(), fake::unit(n, t, *s)))
            .collect(),
        machines: vec![fake::machine(M1, "172.17.8.103")],
        ..Cluster::default()
    }
}
