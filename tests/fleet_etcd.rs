//! fleet talks to the KV store only through the etcd v3 API: the same cluster works on the reference etcd 3.4.

use std::time::Duration;

use flotilla_tests::{stderr, stdout, wait_for, FleetSettings, Host, Kv};

#[test]
fn fleet_schedules_and_runs_units_on_a_real_etcd() {
    let kv = Kv::start_etcd();
    // Like fleet's default (`:2379,:4001`), the first endpoint listed is dead: fleetd must move to the live one.
    let dead = flotilla_tests::free_port("127.0.0.1");
    let settings = FleetSettings {
        etcd: format!("http://127.0.0.1:{dead},{}", kv.url()),
        agent_ttl: "5s".into(),
        reconcile_interval: "1".into(),
    };
    let mut hosts = vec![
        Host::new(&settings, "role=a"),
        Host::new(&settings, "role=b"),
    ];
    for h in &mut hosts {
        h.start_fleetd();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join("on-b.service");
    std::fs::write(&unit, "[Service]\nExecStart=/bin/sh -c 'while true; do sleep 1; done'\n[X-Fleet]\nMachineMetadata=role=b\n")
        .expect("write");
    let out = hosts[0].fleetctl(&[
        "start",
        "--block-attempts=40",
        unit.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        wait_for(Duration::from_secs(15), || !hosts[1]
            .unit_pids("on-b.service")
            .is_empty()),
        "running on the role=b host"
    );
    assert!(hosts[0].unit_pids("on-b.service").is_empty());
    let listed = stdout(&hosts[0].fleetctl(&["list-units", "--no-legend"]));
    assert!(
        listed.contains("on-b.service") && listed.contains("running"),
        "{listed}"
    );
    let out = hosts[0].fleetctl(&["destroy", "on-b.service"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        wait_for(Duration::from_secs(15), || hosts[1]
            .unit_pids("on-b.service")
            .is_empty()),
        "destroy stops it"
    );
}
