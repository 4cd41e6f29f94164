//! The cluster both placement benchmarks schedule (in-process here, end-to-end in `fleetd`'s `schedule` bench):
//! machines spread over three regions, and units of which, per 10: 4 plain, 2 `Conflicts=` instances of a
//! template group (groups of 20), 2 `MachineOf=` followers of plain units, 2 `MachineMetadata=region=…`.
#![allow(dead_code)]

use fleet_model::{Job, MachineState, Requirements, TargetState, UnitFile};

pub fn machines(n: usize) -> Vec<MachineState> {
    (0..n)
        .map(|i| MachineState {
            id: format!("{:08x}{:024x}", (i as u32).wrapping_mul(2654435761), i),
            public_ip: format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
            metadata: [(
                "region".to_string(),
                ["east", "west", "north"][i % 3].to_string(),
            )]
            .into(),
            ..MachineState::default()
        })
        .collect()
}

pub fn job(name: String, xfleet: &str) -> Job {
    let text = format!("[Service]\nExecStart=/bin/true\n[X-Fleet]\n{xfleet}\n");
    let unit = UnitFile::parse(&text).expect("valid unit");
    Job {
        requirements: Requirements::from_unit(&name, &unit),
        name,
        target_state: TargetState::Launched,
        target: None,
    }
}

pub fn units(n: usize) -> Vec<Job> {
    (0..n)
        .map(|i| match i % 10 {
            0..=3 => job(format!("plain-{i}.service"), ""),
            4 | 5 => {
                let group = i / 200;
                job(
                    format!("web-{group}@{i}.service"),
                    &format!("Conflicts=web-{group}@*.service"),
                )
            }
            6 | 7 => job(
                format!("side-{i}.service"),
                &format!("MachineOf=plain-{}.service", i - 6),
            ),
            _ => job(
                format!("regional-{i}.service"),
                &format!(
                    "MachineMetadata=region={}",
                    ["east", "west", "north"][i % 3]
                ),
            ),
        })
        .collect()
}

/// The unit text of each unit of the mix, for writing them into a registry.
pub fn unit_texts(n: usize) -> Vec<(String, String)> {
    units(n)
        .into_iter()
        .map(|j| {
            let mut x = String::new();
            for c in &j.requirements.conflicts {
                x.push_str(&format!("Conflicts={c}\n"));
            }
            for p in &j.requirements.peers {
                x.push_str(&format!("MachineOf={p}\n"));
            }
            for (k, vs) in &j.requirements.metadata {
                for v in vs {
                    x.push_str(&format!("MachineMetadata={k}={v}\n"));
                }
            }
            (
                j.name,
                format!("[Service]\nExecStart=/bin/true\n[X-Fleet]\n{x}"),
            )
        })
        .collect()
}
