//! What every verb runs with: the driver, the output streams, the wait timings, and fleet's per-process cache
//! of the machine list (`cachedMachineState`), which the `… on abcd1234.../10.0.0.1` legends read.

use std::time::Duration;

use fleet_model::schema::ApiMachine;
use fleet_model::short_id;
use tokio::sync::{OnceCell, Semaphore};

use crate::driver::Driver;
use crate::io::Io;

/// How waits poll (fleet's `waitForState`): one *attempt* polls every `poll` for `attempt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two polls (fleet: 250 ms; the first poll is one interval after the start).
    pub poll: Duration,
    /// One attempt (fleet's `defaultSleepTime`, 2 s); `--block-attempts N` allows N of them.
    pub attempt: Duration,
    /// With no attempt limit, how long a unit may stay unschedulable (same reason) or failed before the wait
    /// gives up on it, so that `start` never hangs silently.
    pub give_up: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(250),
            attempt: Duration::from_secs(2),
            give_up: Duration::from_secs(10),
        }
    }
}

/// A verb's environment.
pub struct Ctx<D> {
    pub driver: D,
    pub io: Io,
    pub timing: Timing,
    /// `--request-timeout`, for requests that go straight to one machine's API (the journal).
    pub request_timeout: Duration,
    /// The machine list, fetched once (fleet ignores errors and shows bare IDs then).
    machines: OnceCell<Vec<ApiMachine>>,
    /// Polls in flight at once, across every waiter (see [`crate::block::poll`]).
    pub poll_slots: Semaphore,
}

/// How many waiters may poll at the same moment: enough to keep a few hundred units moving every 250 ms,
/// few enough that `start` of thousands of units neither runs out of file descriptors nor floods fleetd.
pub const POLL_SLOTS: usize = 16;

impl<D: Driver> Ctx<D> {
    pub fn new(driver: D, io: Io, request_timeout: Duration) -> Ctx<D> {
        Ctx {
            driver,
            io,
            timing: Timing::default(),
            request_timeout,
            machines: OnceCell::new(),
            poll_slots: Semaphore::new(POLL_SLOTS),
        }
    }

    /// The cached machine `id`, if it is in the cluster.
    pub async fn machine(&self, id: &str) -> Option<ApiMachine> {
        let machines = self
            .machines
            .get_or_init(|| async { self.driver.machines().await.unwrap_or_default() })
            .await;
        machines.iter().find(|m| m.id == id).cloned()
    }

    /// fleet's `machineFullLegend`: `abcd1234.../10.0.0.1` (the whole ID with `full`), the bare legend when
    /// the machine is not in the list.
    pub async fn legend(&self, id: &str, full: bool) -> String {
        match self.machine(id).await {
            Some(m) => full_legend(&m.id, &m.primary_ip, full),
            None => full_legend(id, "", full),
        }
    }
}

/// fleet's `machineIDLegend`: `ID[:8]...`, or the whole ID with `full`.
pub fn id_legend(id: &str, full: bool) -> String {
    if full {
        id.to_string()
    } else {
        format!("{}...", short_id(id))
    }
}

/// [`id_legend`] then `/IP` when the IP is known.
pub fn full_legend(id: &str, ip: &str, full: bool) -> String {
    let legend = id_legend(id, full);
    if ip.is_empty() {
        legend
    } else {
        format!("{legend}/{ip}")
    }
}

/// Go's `time.Duration.String()` for whole and fractional seconds (`2s`, `1m30s`, `1.5s`).
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let (h, m) = (ms / 3_600_000, (ms / 60_000) % 60);
    let s = (ms % 60_000) as f64 / 1000.0;
    let secs = format!("{s}s");
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_are_fleets() {
        let id = "113f16a7e28a4c2a9ba2a3d4f3e5b6c7";
        assert_eq!(
            full_legend(id, "172.17.8.103", false),
            "113f16a7.../172.17.8.103"
        );
        assert_eq!(
            full_legend(id, "172.17.8.103", true),
            format!("{id}/172.17.8.103")
        );
        assert_eq!(full_legend("abc", "", false), "abc...");
        assert_eq!(id_legend(id, false), "113f16a7...");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
