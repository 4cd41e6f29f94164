//! fleetd's Prometheus metrics: one [`Metrics`] per process, shared (in an `Arc`) by the API, the engine and
//! the agent, rendered by `GET /metrics`.
//!
//! Owns the metric names and labels and nothing else; the callers decide when something happened. Every
//! name starts with `fleet_`. Label values are bounded sets (route *patterns*, task kinds, operation names),
//! never raw paths or unit names, so the number of series stays small whatever the cluster does.
//!
//! | metric                                    | type      | labels                 |
//! |-------------------------------------------|-----------|------------------------|
//! | `fleet_api_requests_total`                | counter   | `method, route, code`  |
//! | `fleet_api_request_duration_seconds`      | histogram | `method, route`        |
//! | `fleet_engine_reconcile_duration_seconds` | histogram | —                      |
//! | `fleet_engine_reconciles_total`           | counter   | —                      |
//! | `fleet_engine_tasks_total`                | counter   | `type` (`schedule`, `unschedule`) |
//! | `fleet_engine_unschedulable_units`        | gauge     | —                      |
//! | `fleet_engine_is_leader`                  | gauge     | —                      |
//! | `fleet_agent_tasks_total`                 | counter   | `task, result` (`ok`, `error`) |
//! | `fleet_agent_units`                       | gauge     | —                      |
//! | `fleet_registry_errors_total`             | counter   | `op`                   |

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Latency buckets for API requests and engine passes: 1 ms to ~16 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 16.0,
];

/// The process's metrics.
pub struct Metrics {
    /// What [`Metrics::render`] encodes; owns every collector below.
    registry: Registry,
    api_requests: IntCounterVec,
    api_duration: HistogramVec,
    engine_duration: Histogram,
    engine_reconciles: IntCounter,
    engine_tasks: IntCounterVec,
    engine_unschedulable: IntGauge,
    engine_leader: IntGauge,
    agent_tasks: IntCounterVec,
    agent_units: IntGauge,
    registry_errors: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels)
                    .expect("static metric definition"),
            )
        };
        let gauge = |name: &str, help: &str| {
            register(
                &registry,
                IntGauge::new(name, help).expect("static metric definition"),
            )
        };
        let histogram_opts =
            |name: &str, help: &str| HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
        Metrics {
            api_requests: counter_vec(
                "fleet_api_requests_total",
                "HTTP API requests answered, by method, route pattern and status code.",
                &["method", "route", "code"],
            ),
            api_duration: register(
                &registry,
                HistogramVec::new(
                    histogram_opts(
                        "fleet_api_request_duration_seconds",
                        "Time to answer an HTTP API request (to the response head for streams).",
                    ),
                    &["method", "route"],
                )
                .expect("static metric definition"),
            ),
            engine_duration: register(
                &registry,
                Histogram::with_opts(histogram_opts(
                    "fleet_engine_reconcile_duration_seconds",
                    "Time of one engine pass: read the cluster, decide, write the decisions.",
                ))
                .expect("static metric definition"),
            ),
            engine_reconciles: register(
                &registry,
                IntCounter::new(
                    "fleet_engine_reconciles_total",
                    "Engine passes run by this machine while it was the leader.",
                )
                .expect("static metric definition"),
            ),
            engine_tasks: counter_vec(
                "fleet_engine_tasks_total",
                "Scheduling decisions written by the engine, by type.",
                &["type"],
            ),
            engine_unschedulable: gauge(
                "fleet_engine_unschedulable_units",
                "Units the engine could not place on any machine in its last pass.",
            ),
            engine_leader: gauge(
                "fleet_engine_is_leader",
                "1 while this machine's engine holds the leader key, else 0.",
            ),
            agent_tasks: counter_vec(
                "fleet_agent_tasks_total",
                "Tasks the agent ran against unitd, by task and result.",
                &["task", "result"],
            ),
            agent_units: gauge(
                "fleet_agent_units",
                "Units the agent should run on this machine.",
            ),
            registry_errors: counter_vec(
                "fleet_registry_errors_total",
                "Failed KV store operations, by operation.",
                &["op"],
            ),
            registry,
        }
    }

    /// One answered API request; `route` is the route pattern (`/fleet/v1/units/{name}`), never the path.
    pub fn api_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.api_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.api_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// One engine pass: how long it took, the decisions it wrote, and how many units it could not place.
    pub fn engine_pass(
        &self,
        seconds: f64,
        scheduled: usize,
        unscheduled: usize,
        unschedulable: usize,
    ) {
        self.engine_duration.observe(seconds);
        self.engine_reconciles.inc();
        self.engine_tasks
            .with_label_values(&["schedule"])
            .inc_by(scheduled as u64);
        self.engine_tasks
            .with_label_values(&["unschedule"])
            .inc_by(unscheduled as u64);
        self.engine_unschedulable.set(gauge_value(unschedulable));
    }

    /// Whether this machine's engine leads now.
    pub fn engine_leader(&self, is_leader: bool) {
        self.engine_leader.set(i64::from(is_leader));
    }

    /// One agent task (`load`, `start`, …) and whether it succeeded.
    pub fn agent_task(&self, task: &str, ok: bool) {
        self.agent_tasks
            .with_label_values(&[task, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// How many units the agent should run here.
    pub fn agent_units(&self, count: usize) {
        self.agent_units.set(gauge_value(count));
    }

    /// A failed KV store operation (`op` names the operation, e.g. `cluster`, `create_unit`).
    pub fn registry_error(&self, op: &str) {
        self.registry_errors.with_label_values(&[op]).inc();
    }

    /// Every metric in Prometheus' text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers `collector` and hands it back. The names above are distinct constants, so registration cannot
/// fail; if it ever did, the metric would still count, just not be rendered.
fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> C {
    if let Err(e) = registry.register(Box::new(collector.clone())) {
        tracing::error!(error = %e, "registering a metric");
    }
    collector
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_metric_is_rendered_with_its_labels() {
        let m = Metrics::new();
        m.api_request("GET", "/fleet/v1/units/{name}", 404, 0.002);
        m.api_request("GET", "/fleet/v1/units/{name}", 404, 0.003);
        m.engine_pass(0.5, 3, 1, 2);
        m.engine_leader(true);
        m.agent_task("start", false);
        m.agent_units(7);
        m.registry_error("cluster");
        let text = m.render();
        let want = [
            (
                r#"fleet_api_requests_total{code="404",method="GET",route="/fleet/v1/units/{name}"}"#,
                2.0,
            ),
            (
                r#"fleet_api_request_duration_seconds_count{method="GET",route="/fleet/v1/units/{name}"}"#,
                2.0,
            ),
            ("fleet_engine_reconcile_duration_seconds_count", 1.0),
            ("fleet_engine_reconciles_total", 1.0),
            (r#"fleet_engine_tasks_total{type="schedule"}"#, 3.0),
            (r#"fleet_engine_tasks_total{type="unschedule"}"#, 1.0),
            ("fleet_engine_unschedulable_units", 2.0),
            ("fleet_engine_is_leader", 1.0),
            (
                r#"fleet_agent_tasks_total{result="error",task="start"}"#,
                1.0,
            ),
            ("fleet_agent_units", 7.0),
            (r#"fleet_registry_errors_total{op="cluster"}"#, 1.0),
        ];
        for (series, value) in want {
            assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
        }
        m.engine_leader(false);
        m.engine_pass(0.1, 0, 0, 0);
        let text = m.render();
        assert_eq!(sample(&text, "fleet_engine_is_leader"), Some(0.0));
        assert_eq!(sample(&text, "fleet_engine_unschedulable_units"), Some(0.0));
        assert_eq!(
            sample(&text, r#"fleet_engine_tasks_total{type="schedule"}"#),
            Some(3.0)
        );
    }
}
