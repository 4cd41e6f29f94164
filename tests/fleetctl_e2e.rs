//! fleetctl end to end: the real binary against a real 3-host fleet cluster (kvstore, three unitd and three
//! fleetd processes), checking what a user sees — exit codes, messages, tables — and what the cluster did
//! (fleet's API, the hosts' cgroups and `/proc/PID/cmdline`). Complements `fleet_cluster.rs`, which covers the
//! scheduling; here: `rolling-replace`, the output formats, the drivers and endpoints, refused commands, and
//! the journal read through the unit's host.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

use flotilla_tests::cluster::{api_get, cmdlines, fleetctl_raw, sha1_hex, Cluster};
use flotilla_tests::{binary, stderr, stdout, wait_for};

const TTL: u64 = 5;

/// A template whose instances conflict with each other and whose `sh` carries `roll-<V>` in its command line.
fn roll_template(v: &str, script: &str) -> String {
    // Canonical form (sections separated by one blank line): its sha1sum is fleet's unit hash.
    format!(
        "[Service]\nEnvironment=V={v}\nExecStart=/bin/sh -c '{script}' roll-${{V}}\n\n[X-Fleet]\nConflicts=roll@*.service\n"
    )
}

const LOOP: &str = "while true; do sleep 1000; done";

/// Which version of a `roll@N` instance runs, by the `roll-<V>` word in its processes' command lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ver {
    Old,
    New,
    Down,
}

fn version_on(c: &Cluster, unit: &str, old: &str, new: &str) -> Ver {
    let lines: Vec<String> = c.hosts.iter().flat_map(|h| cmdlines(h, unit)).collect();
    if lines.iter().any(|l| l.contains(new)) {
        Ver::New
    } else if lines.iter().any(|l| l.contains(old)) {
        Ver::Old
    } else {
        Ver::Down
    }
}

/// `ID[:8].../IP` of the machine `id`.
fn legend(c: &Cluster, id: &str) -> String {
    format!("{}.../{}", &id[..8], c.host(id).ip)
}

/// The table's rows (header included unless `--no-legend`), each as its cells; asserts that every cell of a
/// column starts at the same display column (tabs expanded every 8), as a user sees an aligned table.
fn table(text: &str) -> Vec<Vec<String>> {
    let mut starts: Option<Vec<usize>> = None;
    let mut rows = Vec::new();
    for line in text.lines() {
        let (mut col, mut cells, mut at) = (0usize, Vec::<(usize, String)>::new(), None);
        for ch in line.chars() {
            if ch == '\t' {
                col = (col / 8 + 1) * 8;
                at = None;
            } else {
                match at {
                    Some(i) => {
                        let cell: &mut (usize, String) = &mut cells[i];
                        cell.1.push(ch);
                    }
                    None => {
                        cells.push((col, ch.to_string()));
                        at = Some(cells.len() - 1);
                    }
                }
                col += 1;
            }
        }
        let these: Vec<usize> = cells.iter().map(|(s, _)| *s).collect();
        match &starts {
            None => starts = Some(these),
            Some(s) => assert_eq!(s, &these, "columns aligned:\n{text}"),
        }
        rows.push(cells.into_iter().map(|(_, c)| c).collect());
    }
    rows
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

#[test]
fn rolling_replace_rolls_a_template_group_one_instance_at_a_time_and_stops_at_a_failing_version() {
    let c = Cluster::start(&["", "", ""], TTL);
    let dir = c.units_dir.path().to_path_buf();
    let template = dir.join("roll@.service");
    std::fs::write(&template, roll_template("one", LOOP)).expect("write");
    let instances: Vec<String> = (1..=3).map(|i| format!("roll@{i}.service")).collect();
    c.fleetctl_ok(&[
        "start",
        "--block-attempts=10",
        &format!("{}/roll@{{1..3}}.service", dir.display()),
    ]);
    let mut placed = BTreeSet::new();
    for u in &instances {
        placed.insert(c.wait_running(u, Duration::from_secs(10)));
        assert_eq!(version_on(&c, u, "roll-one", "roll-two"), Ver::Old, "{u}");
    }
    assert_eq!(placed.len(), 3, "Conflicts= spread the instances");

    // Version two; a monitor samples which version each instance runs while the roll goes on.
    let v2 = roll_template("two", LOOP);
    std::fs::write(&template, &v2).expect("write");
    let h2 = sha1_hex(&v2);
    let stop = AtomicBool::new(false);
    let ready = Barrier::new(2);
    let (out, samples) = std::thread::scope(|s| {
        let monitor = s.spawn(|| {
            let mut samples: Vec<[Ver; 3]> = Vec::new();
            let sample = || {
                let mut v = [Ver::Down; 3];
                for (i, u) in instances.iter().enumerate() {
                    v[i] = version_on(&c, u, "roll-one", "roll-two");
                }
                v
            };
            samples.push(sample());
            ready.wait();
            while !stop.load(Ordering::SeqCst) {
                samples.push(sample());
                std::thread::sleep(Duration::from_millis(5));
            }
            samples.push(sample());
            samples
        });
        ready.wait();
        let out = c.fleetctl(&[
            "rolling-replace",
            "--block-attempts=10",
            template.to_str().expect("utf-8"),
        ]);
        stop.store(true, Ordering::SeqCst);
        (out, monitor.join().expect("monitor"))
    });
    assert!(
        out.status.success(),
        "rolling-replace failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let mut timeline: Vec<([Ver; 3], usize)> = Vec::new();
    for s in &samples {
        match timeline.last_mut() {
            Some((last, n)) if last == s => *n += 1,
            _ => timeline.push((*s, 1)),
        }
    }
    println!(
        "{} samples during the roll; (versions, samples): {timeline:?}",
        samples.len()
    );
    assert!(samples.len() >= 3, "{samples:?}");
    assert_eq!(samples[0], [Ver::Old; 3], "before the roll");
    assert_eq!(
        samples[samples.len() - 1],
        [Ver::New; 3],
        "every instance runs the new contents"
    );
    for (k, s) in samples.iter().enumerate() {
        let down = s.iter().filter(|v| **v == Ver::Down).count();
        assert!(down <= 1, "sample {k}: two instances down at once: {s:?}");
    }
    // Instance i leaves the old version only once instance i-1 runs the new one.
    let first = |i: usize, pred: &dyn Fn(Ver) -> bool| {
        samples
            .iter()
            .position(|s| pred(s[i]))
            .expect("reached in the samples")
    };
    for i in 1..3 {
        let prev_new = first(i - 1, &|v| v == Ver::New);
        let left_old = first(i, &|v| v != Ver::Old);
        assert!(
            prev_new < left_old,
            "{} left the old version (sample {left_old}) before {} ran the new one (sample {prev_new})",
            instances[i],
            instances[i - 1]
        );
    }
    let mut expected = String::new();
    let mut machines = Vec::new();
    for u in &instances {
        let m = c.wait_running(u, Duration::from_secs(5));
        expected.push_str(&format!(
            "Unit {u} replaced (hash {}), active on {}\n",
            &h2[..7],
            legend(&c, &m)
        ));
        machines.push(m);
    }
    assert_eq!(stdout(&out), expected, "one line per instance, in order");
    let listed = c.fleetctl_ok(&["list-unit-files", "--no-legend", "--fields=unit,hash"]);
    for u in &instances {
        assert!(listed.contains(&format!("{u}\t{}", &h2[..7])), "{listed}");
    }
    let v2_pids: BTreeMap<&String, Vec<i32>> = instances
        .iter()
        .zip(&machines)
        .map(|(u, m)| (u, c.host(m).unit_pids(u)))
        .collect();

    // Version three fails at start: the roll stops after the first instance, the others keep version two.
    let v3 = roll_template("three", "exit 3");
    std::fs::write(&template, &v3).expect("write");
    let h3 = sha1_hex(&v3);
    let started = Instant::now();
    let out = c.fleetctl(&[
        "rolling-replace",
        "--block-attempts=2",
        template.to_str().expect("utf-8"),
    ]);
    println!("failing roll took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing replaced successfully");
    assert_eq!(
        stderr(&out),
        format!(
            "Error replacing units: unit roll@1.service fails with hash {}\n\
             Units not replaced: [roll@2.service roll@3.service]\n",
            &h3[..7]
        )
    );
    assert_eq!(
        version_on(&c, "roll@1.service", "roll-two", "roll-three"),
        Ver::Down
    );
    assert!(
        c.states("roll@1.service")
            .iter()
            .any(|(m, a)| m == &machines[0] && a == "failed"),
        "{:?}",
        c.states("roll@1.service")
    );
    assert!(c
        .fleetctl_ok(&["cat", "roll@1.service"])
        .contains("V=three"));
    for (u, m) in instances.iter().zip(&machines).skip(1) {
        assert_eq!(
            c.host(m).unit_pids(u),
            v2_pids[u],
            "{u} untouched, still on version two"
        );
        assert_eq!(version_on(&c, u, "roll-two", "roll-three"), Ver::Old);
        assert_eq!(c.fleetctl_ok(&["cat", u]), v2, "{u} keeps version two");
    }

    // Fixed (back to version two) and rolled again: the failed instance runs again; the others already have
    // these contents, so they are only checked, not restarted.
    std::fs::write(&template, &v2).expect("write");
    let out = c.fleetctl(&[
        "rolling-replace",
        "--block-attempts=10",
        template.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), expected, "{}", stderr(&out));
    assert_eq!(
        c.wait_running("roll@1.service", Duration::from_secs(5)),
        machines[0]
    );
    assert_eq!(
        version_on(&c, "roll@1.service", "roll-one", "roll-two"),
        Ver::New
    );
    for (u, m) in instances.iter().zip(&machines).skip(1) {
        assert_eq!(c.host(m).unit_pids(u), v2_pids[u], "{u} not restarted");
    }
}

#[test]
fn output_of_list_machines_list_units_list_unit_files_cat_and_status() {
    let c = Cluster::start(&["region=east,disk=ssd", "region=west", ""], TTL);
    let ids: Vec<String> = c.hosts.iter().map(|h| h.machine_id.clone()).collect();

    // list-machines
    let out = c.fleetctl_ok(&["list-machines"]);
    let rows = table(&out);
    assert_eq!(rows[0], ["MACHINE", "IP", "METADATA"], "{out}");
    let want: Vec<Vec<String>> = c
        .hosts
        .iter()
        .zip(["disk=ssd,region=east", "region=west", "-"])
        .map(|(h, meta)| {
            vec![
                format!("{}...", &h.machine_id[..8]),
                h.ip.clone(),
                meta.to_string(),
            ]
        })
        .collect();
    assert_eq!(sorted(rows[1..].to_vec()), sorted(want.clone()), "{out}");
    let full = c.fleetctl_ok(&["list-machines", "--full", "--no-legend"]);
    let rows = table(&full);
    assert_eq!(rows.len(), 3, "no legend: {full}");
    let full_ids: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        full_ids,
        ids.iter().map(String::as_str).collect(),
        "--full shows whole IDs"
    );

    // Units: one running on the west host, one loaded on the east host, one only submitted.
    let run_text = "[Unit]\nDescription=Format test\n\n[Service]\nExecStart=/bin/sh -c 'echo fmt-line-1; echo fmt-line-2; while true; do sleep 1000; done'\n\n[X-Fleet]\nMachineMetadata=region=west\n";
    let loaded_text =
        "[Service]\nExecStart=/bin/sleep 1000000\n\n[X-Fleet]\nMachineMetadata=region=east\n";
    let sub_text = "[Service]\nExecStart=/bin/sleep 1000000\n";
    let run = c.unit_file("fmt-run.service", run_text);
    let loaded = c.unit_file("fmt-loaded.service", loaded_text);
    let sub = c.unit_file("fmt-sub.service", sub_text);
    let p = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    c.fleetctl_ok(&["start", "--block-attempts=10", &p(&run)]);
    c.fleetctl_ok(&["load", "--block-attempts=10", &p(&loaded)]);
    c.fleetctl_ok(&["submit", &p(&sub)]);
    assert_eq!(
        c.wait_running("fmt-run.service", Duration::from_secs(10)),
        ids[1]
    );
    assert!(wait_for(Duration::from_secs(10), || c
        .states("fmt-loaded.service")
        .iter()
        .any(|(m, a)| m == &ids[0] && a == "inactive")));
    let (h_run, h_loaded, h_sub) = (
        sha1_hex(run_text),
        sha1_hex(loaded_text),
        sha1_hex(sub_text),
    );

    // list-units: the default columns, then --full and --fields.
    let out = c.fleetctl_ok(&["list-units"]);
    let rows = table(&out);
    assert_eq!(rows[0], ["UNIT", "MACHINE", "ACTIVE", "SUB"], "{out}");
    assert_eq!(
        sorted(rows[1..].to_vec()),
        vec![
            vec![
                "fmt-loaded.service".to_string(),
                legend(&c, &ids[0]),
                "inactive".into(),
                "dead".into()
            ],
            vec![
                "fmt-run.service".to_string(),
                legend(&c, &ids[1]),
                "active".into(),
                "running".into()
            ],
        ],
        "{out}"
    );
    let out = c.fleetctl_ok(&[
        "list-units",
        "--full",
        "--no-legend",
        "--fields=unit,hash,load,machine",
    ]);
    assert_eq!(
        sorted(table(&out)),
        vec![
            vec![
                "fmt-loaded.service".to_string(),
                h_loaded.clone(),
                "loaded".into(),
                format!("{}/{}", ids[0], c.hosts[0].ip)
            ],
            vec![
                "fmt-run.service".to_string(),
                h_run.clone(),
                "loaded".into(),
                format!("{}/{}", ids[1], c.hosts[1].ip)
            ],
        ],
        "{out}"
    );
    let out = c.fleetctl_ok(&["list-units", "--fields=hash,unit"]);
    let rows = table(&out);
    assert_eq!(rows[0], ["HASH", "UNIT"]);
    assert!(
        rows.contains(&vec![h_run[..7].to_string(), "fmt-run.service".into()]),
        "{out}"
    );
    let bad = c.fleetctl(&["list-units", "--fields=unit,bogus"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr(&bad), "Invalid key in output format: \"bogus\"\n");
    assert_eq!(stdout(&bad), "");

    // list-unit-files: HASH is the first 7 hex digits of the unit's sha1.
    let out = c.fleetctl_ok(&["list-unit-files"]);
    let rows = table(&out);
    assert_eq!(
        rows[0],
        ["UNIT", "HASH", "DSTATE", "STATE", "TARGET"],
        "{out}"
    );
    let row = |u: &str, h: &str, d: &str, s: &str, t: String| {
        vec![u.to_string(), h[..7].to_string(), d.into(), s.into(), t]
    };
    assert_eq!(
        sorted(rows[1..].to_vec()),
        vec![
            row(
                "fmt-loaded.service",
                &h_loaded,
                "loaded",
                "loaded",
                legend(&c, &ids[0])
            ),
            row(
                "fmt-run.service",
                &h_run,
                "launched",
                "launched",
                legend(&c, &ids[1])
            ),
            row(
                "fmt-sub.service",
                &h_sub,
                "inactive",
                "inactive",
                "-".into()
            ),
        ],
        "{out}"
    );
    let out = c.fleetctl_ok(&[
        "list-unit-files",
        "--full",
        "--no-legend",
        "--fields=unit,hash,desc",
    ]);
    assert!(
        table(&out).contains(&vec![
            "fmt-run.service".to_string(),
            h_run.clone(),
            "Format test".into()
        ]),
        "{out}"
    );

    // cat: the unit's contents as submitted.
    assert_eq!(c.fleetctl_ok(&["cat", "fmt-run.service"]), run_text);
    assert_eq!(c.fleetctl_ok(&["cat", "fmt-sub"]), sub_text);
    let missing = c.fleetctl(&["cat", "nosuch.service"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing), "Unit nosuch.service not found\n");

    // status: the state lines, then the journal read from the unit's host (not hosts[0], the endpoint).
    let mut status = String::new();
    assert!(
        wait_for(Duration::from_secs(10), || {
            status = c.fleetctl_ok(&["status", "fmt-run.service"]);
            status.contains("fmt-line-2")
        }),
        "{status}"
    );
    let head = format!(
        "● fmt-run.service - Format test\n   Loaded: loaded\n   Active: active (running)\n  Machine: {}\n     Hash: {}\n\n",
        legend(&c, &ids[1]),
        &h_run[..7]
    );
    assert!(status.starts_with(&head), "{status}");
    let journal: Vec<&str> = status[head.len()..].lines().collect();
    assert!(
        journal.iter().any(|l| l.ends_with("fmt-line-1"))
            && journal.iter().any(|l| l.ends_with("fmt-line-2")),
        "{status}"
    );
    let inactive = c.fleetctl(&["status", "fmt-loaded.service"]);
    assert_eq!(
        inactive.status.code(),
        Some(3),
        "{}{}",
        stdout(&inactive),
        stderr(&inactive)
    );
    assert!(
        stdout(&inactive).contains("   Active: inactive (dead)\n"),
        "{}",
        stdout(&inactive)
    );
    let unloaded = c.fleetctl(&["status", "fmt-sub.service"]);
    assert_eq!(unloaded.status.code(), Some(1));
    assert_eq!(
        stderr(&unloaded),
        "Unit fmt-sub.service does not appear to be loaded.\n"
    );
}

#[test]
fn every_driver_and_endpoint_sees_the_same_cluster() {
    let c = Cluster::start(&["", "", ""], TTL);
    let a = c.unit_file("drv-a.service", flotilla_tests::cluster::SLEEPER);
    let b = c.unit_file("drv-b.service", flotilla_tests::cluster::SLEEPER);
    c.fleetctl_ok(&[
        "start",
        "--block-attempts=10",
        a.to_str().expect("utf-8"),
        b.to_str().expect("utf-8"),
    ]);
    c.wait_running("drv-a.service", Duration::from_secs(10));
    c.wait_running("drv-b.service", Duration::from_secs(10));

    let unix = format!("--endpoint=unix://{}", c.hosts[2].api_socket().display());
    let etcd = format!("--endpoint={}", c.kv.url());
    let listings = [
        &[
            "list-units",
            "--full",
            "--fields=unit,machine,active,sub,hash",
        ][..],
        &["list-unit-files", "--full"],
        &["list-machines", "--full"],
    ];
    for listing in listings {
        let tcp = c.fleetctl_ok(listing);
        assert!(tcp.lines().count() > 2, "{tcp}");
        let run = |args: Vec<&str>, env: &[(&str, &str)]| {
            let out = fleetctl_raw(&args, env);
            assert!(out.status.success(), "{args:?} {env:?}: {}", stderr(&out));
            stdout(&out)
        };
        assert_eq!(
            run([&[unix.as_str()][..], listing].concat(), &[]),
            tcp,
            "unix socket, {listing:?}"
        );
        assert_eq!(
            run(
                [&["--driver=etcd", etcd.as_str()][..], listing].concat(),
                &[]
            ),
            tcp,
            "etcd driver, {listing:?}"
        );
        let api1 = c.hosts[1].api_url();
        assert_eq!(
            run(listing.to_vec(), &[("FLEETCTL_ENDPOINT", &api1)]),
            tcp,
            "FLEETCTL_ENDPOINT, {listing:?}"
        );
        assert_eq!(
            run(
                listing.to_vec(),
                &[
                    ("FLEETCTL_DRIVER", "etcd"),
                    ("FLEETCTL_ENDPOINT", &c.kv.url())
                ]
            ),
            tcp,
            "FLEETCTL_DRIVER=etcd, {listing:?}"
        );
    }

    // The environment is read (a dead endpoint there fails), and the flag wins over it.
    let dead = format!(
        "http://127.0.0.1:{}",
        flotilla_tests::free_port("127.0.0.1")
    );
    let out = fleetctl_raw(&["list-machines"], &[("FLEETCTL_ENDPOINT", &dead)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with("Error retrieving list of active machines from fleet API ("),
        "{}",
        stderr(&out)
    );
    let out = fleetctl_raw(
        &[
            "list-machines",
            &format!("--endpoint={}", c.hosts[2].api_url()),
        ],
        &[("FLEETCTL_ENDPOINT", &dead)],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Writes through the etcd driver and through the unix socket reach the cluster.
    let e = c.unit_file("drv-etcd.service", flotilla_tests::cluster::SLEEPER);
    let out = fleetctl_raw(
        &[
            "--driver=etcd",
            &etcd,
            "start",
            "--block-attempts=10",
            e.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let m = c.wait_running("drv-etcd.service", Duration::from_secs(10));
    assert_eq!(
        stdout(&out),
        format!(
            "Unit drv-etcd.service inactive\nUnit drv-etcd.service launched on {}\n",
            legend(&c, &m)
        )
    );
    let out = fleetctl_raw(
        &[&unix, "stop", "--block-attempts=10", "drv-a.service"],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(c.units()["drv-a.service"].0, "loaded");
    assert!(wait_for(Duration::from_secs(10), || c
        .running_on("drv-a.service")
        .is_empty()));
}

#[test]
fn refused_commands_exit_non_zero_with_fleets_message_and_write_nothing() {
    let c = Cluster::start(&["", "", ""], TTL);
    let ok = c.unit_file("ok.service", flotilla_tests::cluster::SLEEPER);
    c.fleetctl_ok(&["submit", ok.to_str().expect("utf-8")]);
    let before = c.units();
    assert_eq!(before.len(), 1);

    let refused = |args: &[&str], code: i32, message: &str| {
        let out = c.fleetctl(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(message),
            "{args:?}: expected {message:?} in:\n{}",
            stderr(&out)
        );
        assert_eq!(c.units(), before, "{args:?} wrote to the registry");
        stderr(&out)
    };

    // A bad name: the file exists, the name is refused before anything is written.
    let bad = c.unit_file("bad!name.service", flotilla_tests::cluster::SLEEPER);
    let err = refused(
        &["start", "--block-attempts=2", bad.to_str().expect("utf-8")],
        1,
        "Error creating units: invalid character '!' in unit name",
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let at = c.unit_file("@at.service", flotilla_tests::cluster::SLEEPER);
    refused(
        &["submit", at.to_str().expect("utf-8")],
        1,
        "unit name cannot start in \"@\"",
    );

    // A syntax error: fleet's message with its line.
    let syntax = c.unit_file(
        "syntax.service",
        "[Unit]\nDescription=broken\n\n[Service\nExecStart=/bin/true\n",
    );
    let path = syntax.to_str().expect("utf-8");
    let err = refused(
        &["start", "--block-attempts=2", path],
        1,
        &format!(
            "Error creating units: failed getting Unit({path}) from file: line 4: Invalid section header '[Service'"
        ),
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // [X-Fleet] options that cannot go together.
    let xfleet = c.unit_file(
        "xfleet.service",
        &flotilla_tests::cluster::with_xfleet(&format!(
            "MachineID={}\nGlobal=true",
            c.hosts[1].machine_id
        )),
    );
    refused(
        &[
            "start",
            "--block-attempts=2",
            xfleet.to_str().expect("utf-8"),
        ],
        1,
        "Error creating units: MachineID cannot be used with Global",
    );
    let conflicts = c.unit_file(
        "conflicts.service",
        &flotilla_tests::cluster::with_xfleet("Conflicts=a.service\nReplaces=b.service"),
    );
    refused(
        &["load", conflicts.to_str().expect("utf-8")],
        1,
        "Error creating units: Conflicts cannot be used with Replaces",
    );
    let unknown = c.unit_file(
        "unknown.service",
        &flotilla_tests::cluster::with_xfleet("MachineMetaData=region=west"),
    );
    refused(
        &["submit", unknown.to_str().expect("utf-8")],
        1,
        "unrecognized requirement in [X-Fleet] section: \"MachineMetaData\"",
    );

    // An unknown flag: a usage error (exit 2) naming the flag; the valid unit after it is not submitted.
    let fine = c.unit_file("fine.service", flotilla_tests::cluster::SLEEPER);
    let err = refused(
        &["start", "--bogus", fine.to_str().expect("utf-8")],
        2,
        "--bogus",
    );
    assert!(err.contains("unexpected argument"), "{err}");
    refused(
        &[
            "start",
            "--block-attempts=many",
            fine.to_str().expect("utf-8"),
        ],
        2,
        "--block-attempts",
    );
    // An unknown verb.
    refused(
        &["launch", fine.to_str().expect("utf-8")],
        2,
        "fleetctl: unknown subcommand: \"launch\"",
    );
    // A unit that is neither in the registry nor on disk.
    refused(
        &["start", "--block-attempts=2", "/nonexistent/ghost.service"],
        1,
        "Error creating units: unable to find Unit(ghost.service) in Registry or on filesystem",
    );
    assert!(c.hosts.iter().all(
        |h| h.unit_pids("fine.service").is_empty() && h.unit_pids("xfleet.service").is_empty()
    ));
}

#[test]
fn journal_reads_from_the_units_host_and_follows_new_lines() {
    let c = Cluster::start(&["", "", "role=logs"], TTL);
    let trigger_dir = tempfile::tempdir().expect("tempdir");
    let trigger = trigger_dir.path().join("say");
    let text = format!(
        "[Service]\nExecStart=/bin/sh -c 'echo chat-1; echo chat-2; echo chat-3; while true; do if [ -e {t} ]; then cat {t}; rm -f {t}; fi; sleep 0.1; done'\n\n[X-Fleet]\nMachineMetadata=role=logs\n",
        t = trigger.display()
    );
    let unit = c.unit_file("chatty.service", &text);
    c.fleetctl_ok(&[
        "start",
        "--block-attempts=10",
        unit.to_str().expect("utf-8"),
    ]);
    let logs = &c.hosts[2];
    assert_eq!(
        c.wait_running("chatty.service", Duration::from_secs(10)),
        logs.machine_id
    );
    assert_ne!(c.hosts[0].machine_id, logs.machine_id);

    // Only the unit's host has its journal: hosts[0], fleetctl's endpoint, says so.
    let here = api_get(&c.hosts[0], "/fleet/v1/journal/chatty.service").expect("answers");
    assert!(
        here.to_string()
            .contains("no journal for unit chatty.service on this machine"),
        "{here}"
    );

    // unitd's own "Started" line may come before or after the unit's first lines: wait for both.
    let mut full = String::new();
    assert!(
        wait_for(Duration::from_secs(10), || {
            full = c.fleetctl_ok(&["journal", "chatty.service"]);
            full.contains("chat-3") && full.contains("Started chatty.service.")
        }),
        "{full}"
    );
    let all: Vec<&str> = full.lines().collect();
    let said: Vec<&str> = all
        .iter()
        .filter_map(|l| l.rsplit_once(": ").map(|(_, m)| m))
        .filter(|m| m.starts_with("chat-"))
        .collect();
    assert_eq!(said, ["chat-1", "chat-2", "chat-3"], "{full}");
    let two = c.fleetctl_ok(&["journal", "-n", "2", "chatty.service"]);
    assert_eq!(
        two.lines().collect::<Vec<_>>(),
        all[all.len() - 2..],
        "-n 2: the last two lines"
    );
    let cat = c.fleetctl_ok(&["journal", "--lines=10", "--output=cat", "chatty.service"]);
    let cat: Vec<&str> = cat.lines().collect();
    assert_eq!(cat.len(), all.len(), "{cat:?}");
    for (short, bare) in all.iter().zip(&cat) {
        assert!(short.ends_with(&format!(": {bare}")), "{short} / {bare}");
    }
    let last = cat[cat.len() - 1].to_string();

    // --follow: the last line, then a new one as the unit writes it.
    let mut child = Command::new(binary("fleetctl"))
        .arg(format!("--endpoint={}", c.hosts[0].api_url()))
        .args([
            "journal",
            "--follow",
            "-n",
            "1",
            "--output=cat",
            "chatty.service",
        ])
        .env_remove("FLEETCTL_ENDPOINT")
        .env_remove("FLEETCTL_DRIVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fleetctl journal --follow");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let pump = std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |timeout: Duration| rx.recv_timeout(timeout).ok();
    assert_eq!(
        next(Duration::from_secs(10)).as_deref(),
        Some(last.as_str()),
        "the last line first"
    );
    assert_eq!(next(Duration::from_millis(1500)), None, "nothing new yet");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "--follow keeps running"
    );
    let token = format!("followed-{}", std::process::id());
    let tmp = trigger_dir.path().join("say.tmp");
    std::fs::write(&tmp, format!("{token}\n")).expect("write");
    std::fs::rename(&tmp, &trigger).expect("rename");
    let said = Instant::now();
    assert_eq!(
        next(Duration::from_secs(10)).as_deref(),
        Some(token.as_str()),
        "the new line streams"
    );
    println!(
        "followed line arrived {:?} after it was written",
        said.elapsed()
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still following"
    );
    child.kill().expect("kill fleetctl");
    child.wait().expect("wait");
    pump.join().expect("pump");
    // The new line is in the journal for later readers too.
    let last = c.fleetctl_ok(&["journal", "-n", "1", "--output=cat", "chatty.service"]);
    assert_eq!(last, format!("{token}\n"));
}
