//! The scheduler as tables: eligibility in fleet's order, least-loaded spread, the engine's passes.

use super::*;
use crate::machine::parse_metadata;
use crate::unit::UnitFile;

fn machine(id: &str, meta: &str) -> MachineState {
    MachineState {
        id: id.to_string(),
        public_ip: format!("10.0.0.{}", id.len()),
        metadata: parse_metadata(meta).expect("metadata"),
        ..MachineState::default()
    }
}

fn job(name: &str, xfleet: &str, target: Option<&str>) -> Job {
    let unit = UnitFile::parse(&format!(
        "[Service]\nExecStart=/bin/true\n[X-Fleet]\n{xfleet}\n"
    ))
    .expect("unit");
    Job {
        name: name.to_string(),
        target_state: TargetState::Launched,
        target: target.map(str::to_string),
        requirements: Requirements::from_unit(name, &unit),
    }
}

fn snapshot(machines: &[(&str, &str)], jobs: Vec<Job>) -> ClusterSnapshot {
    ClusterSnapshot {
        jobs,
        machines: machines
            .iter()
            .map(|(id, meta)| machine(id, meta))
            .collect(),
        running: HashMap::new(),
    }
}

/// Every unit's target after applying the plan.
fn placement(s: &ClusterSnapshot, plan: &Plan) -> BTreeMap<String, Option<String>> {
    s.jobs
        .iter()
        .filter(|j| !j.requirements.global)
        .map(|j| {
            let t = match plan.targets.get(&j.name) {
                Some(t) => t.clone(),
                None => j.target.clone(),
            };
            (j.name.clone(), t)
        })
        .collect()
}

fn apply(s: &mut ClusterSnapshot, plan: &Plan) {
    for j in &mut s.jobs {
        if let Some(t) = plan.targets.get(&j.name) {
            j.target = t.clone();
        }
    }
}

#[test]
fn eligibility_checks_run_in_fleets_order_with_its_messages() {
    // Each row: the machine's metadata and units, the candidate's [X-Fleet], the expected verdict.
    let m = machine("aaaaaaaa1111", "region=us");
    let here = job(
        "here.service",
        "Conflicts=c*.service\nReplaces=old.service",
        None,
    );
    let replacer = job("new.service", "Replaces=victim.service", None);
    let table: &[(&str, &str, Result<(), &str>)] = &[
        ("a.service", "", Ok(())),
        ("a.service", "MachineID=aaaaaaaa1111", Ok(())),
        ("a.service", "MachineID=aaaaaaaa", Ok(())),
        (
            "a.service",
            "MachineID=bbbbbbbb\nMachineMetadata=region=eu",
            Err("agent ID \"aaaaaaaa1111\" does not match required \"bbbbbbbb\""),
        ),
        ("a.service", "MachineMetadata=region=us", Ok(())),
        (
            "a.service",
            "MachineMetadata=region=eu\nMachineOf=nope.service",
            Err("local Machine metadata insufficient"),
        ),
        ("a.service", "MachineOf=here.service", Ok(())),
        (
            "a.service",
            "MachineOf=here.service\nMachineOf=gone.service\nConflicts=here.service",
            Err("required peer Unit(gone.service) is not scheduled locally"),
        ),
        (
            "a.service",
            "Conflicts=h*.service",
            Err("found conflict with locally-scheduled Unit(here.service)"),
        ),
        // Symmetric: `here` conflicts with c*.
        (
            "cache.service",
            "",
            Err("found conflict with locally-scheduled Unit(here.service)"),
        ),
        (
            "victim.service",
            "",
            Err("replaced by locally-scheduled Unit(new.service)"),
        ),
        // Circular replaces are ignored.
        ("victim.service", "Replaces=new.service", Ok(())),
        // The replacer itself may go where what it replaces is.
        ("old2.service", "Replaces=here.service", Ok(())),
    ];
    for (name, xfleet, want) in table {
        let mut agent = Agent {
            state: &m,
            units: BTreeMap::new(),
        };
        agent.units.insert("here.service", &here.requirements);
        agent.units.insert("new.service", &replacer.requirements);
        let candidate = job(name, xfleet, None);
        let got = agent.able_to_run(name, &candidate.requirements);
        assert_eq!(got, want.map_err(str::to_string), "{name} with {xfleet:?}");
    }
}

#[test]
fn least_loaded_spread_with_ties_broken_by_machine_id() {
    let jobs = (1..=7)
        .map(|i| job(&format!("u{i}.service"), "", None))
        .collect();
    let s = snapshot(&[("m3", ""), ("m1", ""), ("m2", "")], jobs);
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    let on = |m: &str| placed.values().filter(|t| t.as_deref() == Some(m)).count();
    assert_eq!((on("m1"), on("m2"), on("m3")), (3, 2, 2));
    // Ties by ID: the first unit (by name) goes to m1, the second to m2.
    assert_eq!(placed["u1.service"].as_deref(), Some("m1"));
    assert_eq!(placed["u2.service"].as_deref(), Some("m2"));
    assert_eq!(placed["u3.service"].as_deref(), Some("m3"));
    assert!(plan.unschedulable.is_empty());
    // A second pass over the result changes nothing.
    let mut s = s;
    apply(&mut s, &plan);
    assert_eq!(reconcile(&s).targets, BTreeMap::new());
}

#[test]
fn five_mutually_conflicting_units_on_three_machines() {
    let jobs = (1..=5)
        .map(|i| job(&format!("web@{i}.service"), "Conflicts=web@*.service", None))
        .collect();
    let s = snapshot(&[("m1", ""), ("m2", ""), ("m3", "")], jobs);
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    let machines: BTreeSet<_> = placed.values().flatten().cloned().collect();
    assert_eq!(machines.len(), 3, "three distinct machines: {placed:?}");
    assert_eq!(placed.values().filter(|t| t.is_some()).count(), 3);
    assert_eq!(plan.unschedulable.len(), 2);
    for reason in plan.unschedulable.values() {
        assert!(
            reason.starts_with("no machine can run it (3 machines): "),
            "{reason}"
        );
        assert!(
            reason.contains("found conflict with locally-scheduled Unit(web@"),
            "{reason}"
        );
    }
}

#[test]
fn machine_of_followers_are_placed_with_their_peer_and_move_with_it() {
    // The follower's name sorts before its peer's: still placed in the same pass.
    let jobs = vec![
        job("a-side.service", "MachineOf=z-main.service", None),
        job("z-main.service", "", None),
        job("filler.service", "", None),
    ];
    let mut s = snapshot(&[("m1", ""), ("m2", "")], jobs);
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    assert_eq!(placed["a-side.service"], placed["z-main.service"]);
    apply(&mut s, &plan);

    // The peer's machine goes away: both move, together, in one pass.
    let gone = placed["z-main.service"].clone().expect("placed");
    s.machines.retain(|m| m.id != gone);
    s.machines.push(machine("m9", ""));
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_ne!(placed["z-main.service"].as_deref(), Some(gone.as_str()));
    assert!(placed["z-main.service"].is_some());
    assert_eq!(placed["a-side.service"], placed["z-main.service"]);
    assert!(plan
        .decisions
        .iter()
        .any(|d| matches!(d, Decision::Unschedule { unit, reason, .. }
        if unit == "z-main.service" && reason == &format!("target Machine({gone}) went away"))));

    // The peer is stopped for good (inactive): the follower is unscheduled too, as it cannot run without it.
    apply(&mut s, &plan);
    for j in &mut s.jobs {
        if j.name == "z-main.service" {
            j.target_state = TargetState::Inactive;
        }
    }
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_eq!(placed["z-main.service"], None);
    assert_eq!(placed["a-side.service"], None);
    assert!(plan.unschedulable["a-side.service"]
        .contains("required peer Unit(z-main.service) is not scheduled"));
}

#[test]
fn metadata_constraints_pick_matching_machines_only() {
    let jobs = vec![
        job("east.service", "MachineMetadata=region=east", None),
        job(
            "either.service",
            "MachineMetadata=\"disk=ssd\" \"disk=nvme\"\nMachineMetadata=region=west",
            None,
        ),
        job("nowhere.service", "MachineMetadata=region=mars", None),
    ];
    let s = snapshot(
        &[
            ("m1", "region=east,disk=hdd"),
            ("m2", "region=west,disk=nvme"),
            ("m3", "region=west"),
        ],
        jobs,
    );
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_eq!(placed["east.service"].as_deref(), Some("m1"));
    assert_eq!(placed["either.service"].as_deref(), Some("m2"));
    assert_eq!(placed["nowhere.service"], None);
    assert!(plan.unschedulable["nowhere.service"].contains("local Machine metadata insufficient"));
}

#[test]
fn machine_id_pins_a_unit_and_an_absent_machine_is_reported() {
    let jobs = vec![
        job("pinned.service", "MachineID=m2xxxxxx-long-id", None),
        job("short.service", "MachineID=m3xxxxxx", None),
        job("lost.service", "MachineID=m9", None),
    ];
    let s = snapshot(
        &[
            ("m1", ""),
            ("m2xxxxxx-long-id", ""),
            ("m3xxxxxx-long-id", ""),
        ],
        jobs,
    );
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_eq!(
        placed["pinned.service"].as_deref(),
        Some("m2xxxxxx-long-id")
    );
    assert_eq!(placed["short.service"].as_deref(), Some("m3xxxxxx-long-id"));
    assert_eq!(
        plan.unschedulable["lost.service"],
        "required machine \"m9\" is not in the cluster"
    );
}

#[test]
fn replaces_moves_the_replaced_unit_to_another_machine() {
    let mut s = snapshot(
        &[("m1", ""), ("m2", "")],
        vec![
            job("old.service", "", Some("m1")),
            job("new.service", "Replaces=old.service\nMachineID=m1", None),
        ],
    );
    // MachineID with Replaces is refused at submit, but the scheduler must still behave: pin via metadata.
    s.jobs[1] = job(
        "new.service",
        "Replaces=old.service\nMachineMetadata=role=front",
        None,
    );
    s.machines[0].metadata = parse_metadata("role=front").expect("meta");
    let plan = reconcile(&s);
    apply(&mut s, &plan);
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_eq!(s.jobs[1].target.as_deref(), Some("m1"));
    assert_eq!(placed["old.service"].as_deref(), Some("m2"));
    assert!(plan.decisions.iter().any(|d| matches!(d, Decision::Unschedule { unit, reason, .. }
        if unit == "old.service" && reason.contains("replaced by locally-scheduled Unit(new.service)"))));
}

#[test]
fn inactive_units_are_unscheduled_and_not_placed() {
    let mut j = job("a.service", "", Some("m1"));
    j.target_state = TargetState::Inactive;
    let mut k = job("b.service", "", None);
    k.target_state = TargetState::Inactive;
    let s = snapshot(&[("m1", "")], vec![j, k]);
    let plan = reconcile(&s);
    assert_eq!(plan.targets.get("a.service"), Some(&None));
    assert!(!plan.targets.contains_key("b.service"));
    assert!(plan.unschedulable.is_empty());
    assert!(
        matches!(&plan.decisions[0], Decision::Unschedule { reason, .. } if reason == "target state inactive")
    );
}

#[test]
fn loaded_units_are_scheduled_like_launched_ones() {
    let mut j = job("a.service", "", None);
    j.target_state = TargetState::Loaded;
    let s = snapshot(&[("m1", "")], vec![j]);
    assert_eq!(reconcile(&s).targets["a.service"].as_deref(), Some("m1"));
}

#[test]
fn an_unscheduled_unit_goes_back_where_it_still_runs() {
    // m1 lost its presence for a while (units unscheduled) and is back: its unit returns to it even though
    // m0 is less loaded and sorts first.
    let mut s = snapshot(
        &[("m0", ""), ("m1", "")],
        vec![
            job("svc.service", "", None),
            job("other.service", "", Some("m1")),
        ],
    );
    s.running
        .insert("svc.service".into(), BTreeSet::from(["m1".to_string()]));
    let plan = reconcile(&s);
    assert_eq!(plan.targets["svc.service"].as_deref(), Some("m1"));
    // …unless m1 can no longer run it.
    s.jobs[0] = job("svc.service", "Conflicts=other.service", None);
    let plan = reconcile(&s);
    assert_eq!(plan.targets["svc.service"].as_deref(), Some("m0"));
}

#[test]
fn global_units_count_as_load_and_their_conflicts_hold() {
    let mut s = snapshot(
        &[("m1", "role=edge"), ("m2", "")],
        vec![
            job(
                "global.service",
                "Global=true\nMachineMetadata=role=edge\nConflicts=x*.service",
                None,
            ),
            job("x1.service", "", None),
            job("y1.service", "", None),
        ],
    );
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    // x1 cannot go to m1 (the global unit there conflicts with it); y1 then goes to the less-loaded m1?
    // m1 has load 1 (the global unit), m2 load 1 (x1): tie by ID → m1.
    assert_eq!(placed["x1.service"].as_deref(), Some("m2"));
    assert_eq!(placed["y1.service"].as_deref(), Some("m1"));
    assert!(!placed.contains_key("global.service"));
    apply(&mut s, &plan);
    let on_m1: Vec<_> = agent_units("m1", &s).keys().copied().collect();
    let on_m2: Vec<_> = agent_units("m2", &s).keys().copied().collect();
    assert_eq!(on_m1, ["global.service", "y1.service"]);
    assert_eq!(on_m2, ["x1.service"]);
    assert!(agent_units("m404", &s).is_empty());
}

#[test]
fn no_machines_at_all() {
    let s = snapshot(&[], vec![job("a.service", "", None)]);
    assert_eq!(
        reconcile(&s).unschedulable["a.service"],
        "no machines in the cluster"
    );
}

#[test]
fn conflicting_units_already_together_are_split() {
    let s = snapshot(
        &[("m1", ""), ("m2", "")],
        vec![
            job("a.service", "Conflicts=b.service", Some("m1")),
            job("b.service", "", Some("m1")),
        ],
    );
    let plan = reconcile(&s);
    let placed = placement(&s, &plan);
    assert_ne!(placed["a.service"], placed["b.service"]);
    assert!(placed.values().all(Option::is_some));
}

#[test]
fn a_refusal_names_the_same_unit_on_every_pass() {
    // Reasons are stored and shown, so they must not change from pass to pass: with several units on the one
    // machine that conflict with the candidate, the first by name is the one named.
    let jobs = vec![
        job("b.service", "", Some("m1")),
        job("a.service", "", Some("m1")),
        job("c.service", "", Some("m1")),
        job("x.service", "Conflicts=*.service", None),
    ];
    let s = snapshot(&[("m1", "")], jobs);
    for _ in 0..20 {
        let plan = reconcile(&s);
        assert!(
            plan.unschedulable["x.service"]
                .contains("found conflict with locally-scheduled Unit(a.service)"),
            "{:?}",
            plan.unschedulable
        );
    }
}

#[test]
fn an_orphan_unit_may_stay_only_where_it_can_still_run() {
    let mut s = snapshot(
        &[("m1", "role=db"), ("m2", "")],
        vec![
            job("db.service", "MachineMetadata=role=db", None),
            job("other.service", "", Some("m1")),
            job("x.service", "Conflicts=other.service", None),
        ],
    );
    let check = |s: &ClusterSnapshot, machine: &str, unit: &str| {
        let m = s
            .machines
            .iter()
            .find(|m| m.id == machine)
            .expect("machine");
        let j = s.jobs.iter().find(|j| j.name == unit).expect("job");
        can_run_on(m, &agent_units(machine, s), j)
    };
    assert_eq!(check(&s, "m1", "db.service"), Ok(()));
    assert_eq!(
        check(&s, "m2", "db.service"),
        Err("local Machine metadata insufficient".to_string())
    );
    assert_eq!(
        check(&s, "m1", "x.service"),
        Err("found conflict with locally-scheduled Unit(other.service)".to_string())
    );
    // A unit already here does not conflict with itself.
    assert_eq!(check(&s, "m1", "other.service"), Ok(()));
    // The machine's metadata changed: it can no longer run it.
    s.machines[0].metadata.clear();
    assert!(check(&s, "m1", "db.service").is_err());
}
