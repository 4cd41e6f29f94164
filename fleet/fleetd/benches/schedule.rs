//! End-to-end placement through the KV store (`cargo bench -p fleetd --bench schedule`): a real `kvstore` on
//! loopback, N machines registered with a lease, N×10 units created (the mix of
//! `fleet/model/benches/common/mix.rs`), then one engine pass timed from its first read to the last schedule
//! write acknowledged — the schedule is then read back to check every unit got a target. Sizes: 1,000 and
//! 10,000 units (`FLEET_BENCH_MAX=100000` adds 100,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_model::{MachineState, TargetState, UnitFile};
use fleet_registry::Registry;
use fleetd::engine::Engine;
use fleetd::metrics::Metrics;
use flotilla_tests::Kv;
use futures::stream::{self, StreamExt};

#[path = "../../model/benches/common/mix.rs"]
mod mix;

async fn run(n_units: usize) {
    let n_machines = n_units / 10;
    let kv = Kv::start_members(1);
    let registry = Registry::connect(&kv.urls(), "/_coreos.com/fleet/", Duration::from_secs(30))
        .await
        .expect("connect");
    let lease = registry
        .grant_lease(Duration::from_secs(600))
        .await
        .expect("lease");
    stream::iter(mix::machines(n_machines))
        .for_each_concurrent(64, |m: MachineState| {
            let r = registry.clone();
            async move { r.register_machine(&m, lease.id).await.expect("register") }
        })
        .await;
    let texts = mix::unit_texts(n_units);
    let setup = Instant::now();
    stream::iter(texts)
        .for_each_concurrent(64, |(name, text)| {
            let r = registry.clone();
            async move {
                let unit = UnitFile::parse(&text).expect("valid unit");
                r.create_unit(&name, &unit, TargetState::Launched)
                    .await
                    .expect("create");
            }
        })
        .await;
    let setup = setup.elapsed();

    let engine = Engine {
        registry: registry.clone(),
        machine_id: "bench-engine".into(),
        reconcile_interval: Duration::from_secs(2),
        lease_ttl: Duration::from_secs(60),
        watches: false,
        metrics: Arc::new(Metrics::new()),
    };
    let engine_lease = registry
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("lease");
    assert!(registry
        .campaign("bench-engine", engine_lease.id)
        .await
        .expect("campaign"));
    let start = Instant::now();
    let (stats, _) = engine.pass(engine_lease.id).await.expect("pass");
    let secs = start.elapsed().as_secs_f64();
    let cluster = registry.cluster().await.expect("read back");
    let scheduled = cluster
        .units
        .values()
        .filter(|u| u.target.is_some())
        .count();
    assert_eq!(stats.refused, 0);
    println!(
        "placement end-to-end: {n_units:>7} units on {n_machines:>6} machines: {:>8.1} ms for the pass \
         ({scheduled} targets recorded, {} unschedulable), {:.0} placements/s  [setup: {} units created in {:.1} s]",
        secs * 1e3,
        stats.unschedulable,
        scheduled as f64 / secs,
        n_units,
        setup.as_secs_f64()
    );
}

fn main() {
    let max: usize = std::env::var("FLEET_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for n in [1_000, 10_000, 100_000].into_iter().filter(|n| *n <= max) {
        rt.block_on(run(n));
    }
}
