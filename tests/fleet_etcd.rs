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

/// fleet over TLS to the KV store, as fleet's `etcd_cafile`/`etcd_certfile`/`etcd_keyfile` (fleetctl's
/// `--ca-file`/`--cert-file`/`--key-file`) set it up, against a kvstore that demands client certificates.
#[test]
fn fleet_reaches_a_tls_kv_store_with_its_client_certificate() {
    let pki_dir = tempfile::tempdir().expect("tempdir");
    let pki = flotilla_tests::pki::Pki::new(pki_dir.path(), "cluster");
    let kv = Kv::start_tls(1, &pki);
    let client = pki.issue("fleet", &["127.0.0.1"]);
    let settings = FleetSettings {
        etcd: kv.url(),
        agent_ttl: "5s".into(),
        reconcile_interval: "1".into(),
    };
    assert!(settings.etcd.starts_with("https://"), "{}", settings.etcd);
    let mut host = Host::new(&settings, "role=tls");
    host.start_fleetd_with(&format!(
        "etcd_cafile = {}\netcd_certfile = {}\netcd_keyfile = {}\n",
        pki.ca().display(),
        client.cert.display(),
        client.key.display()
    ));
    let short_id = host.machine_id[..8].to_string();
    // fleetd registered itself in the KV store: its API lists it.
    assert!(
        wait_for(Duration::from_secs(20), || stdout(
            &host.fleetctl(&["list-machines", "--no-legend"])
        )
        .contains(&short_id)),
        "{}",
        host.fleetd_log()
    );
    // fleetctl's etcd driver reads the same over TLS with the same files, and without a certificate gets nothing.
    let etcd_driver = |tls: &[String]| {
        let mut args = vec![
            "--driver=etcd".to_string(),
            format!("--endpoint={}", kv.url()),
            "--request-timeout=2".to_string(),
        ];
        args.extend_from_slice(tls);
        args.extend(["list-machines".to_string(), "--no-legend".to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        flotilla_tests::cluster::fleetctl_raw(&args, &[])
    };
    let with_cert = etcd_driver(&[
        format!("--ca-file={}", pki.ca().display()),
        format!("--cert-file={}", client.cert.display()),
        format!("--key-file={}", client.key.display()),
    ]);
    assert!(
        stdout(&with_cert).contains(&short_id),
        "{}{}",
        stdout(&with_cert),
        stderr(&with_cert)
    );
    let without = etcd_driver(&[format!("--ca-file={}", pki.ca().display())]);
    assert!(!without.status.success(), "{}", stdout(&without));
    assert!(!stdout(&without).contains(&short_id));
}
