//! The `[X-Fleet]` section: where a unit may run (fleet's `job.Job` requirement accessors) and which
//! combinations fleet refuses at submit (`api.ValidateOptions`, `job.ValidateRequirements`).

use std::collections::{BTreeMap, BTreeSet};

use crate::glob::glob_match;
use crate::name::NameInfo;
use crate::unit::UnitFile;

const SECTION: &str = "X-Fleet";

/// Keys fleet knows in `[X-Fleet]`, the legacy `X-Condition…`/`X-` spellings included.
const KNOWN_KEYS: &[&str] = &[
    "MachineID",
    "X-ConditionMachineID",
    "X-ConditionMachineBootID",
    "X-ConditionMachineOf",
    "MachineOf",
    "X-Conflicts",
    "Conflicts",
    "X-ConditionMachineMetadata",
    "MachineMetadata",
    "Global",
    "Replaces",
];

/// A unit's placement constraints, specifiers expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// `MachineID=` (or the legacy `X-ConditionMachineID=`/`X-ConditionMachineBootID=`): the first value.
    pub machine_id: Option<String>,
    /// `MachineOf=`: every peer must be scheduled on the same machine.
    pub peers: Vec<String>,
    /// `MachineMetadata=k=v`: AND across keys, OR across the values of one key.
    pub metadata: BTreeMap<String, BTreeSet<String>>,
    /// `Conflicts=` globs (whitespace-separated lists allowed), checked in both directions.
    pub conflicts: Vec<String>,
    /// `Replaces=` globs.
    pub replaces: Vec<String>,
    /// `Global=` (its last value) is truthy: every matching machine runs the unit.
    pub global: bool,
    /// `[X-Fleet]` keys fleet does not know, refused by [`validate_unit`].
    pub unknown: Vec<String>,
}

impl Requirements {
    /// Reads `[X-Fleet]` of `unit`, named `name` (for the specifiers).
    pub fn from_unit(name: &str, unit: &UnitFile) -> Requirements {
        let info = NameInfo::parse(name);
        let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for o in unit.options().iter().filter(|o| o.section == SECTION) {
            let list = values.entry(o.name.as_str()).or_default();
            for v in split_multivalue(&o.value) {
                list.push(match &info {
                    Some(info) => info.expand(&v),
                    None => v,
                });
            }
        }
        let get = |key: &str| values.get(key).map(Vec::as_slice).unwrap_or_default();

        let machine_id = [
            "MachineID",
            "X-ConditionMachineID",
            "X-ConditionMachineBootID",
        ]
        .iter()
        .find_map(|k| get(k).first().cloned());
        let peers = [get("X-ConditionMachineOf"), get("MachineOf")].concat();
        let mut metadata: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for pair in [get("X-ConditionMachineMetadata"), get("MachineMetadata")].concat() {
            let parts: Vec<&str> = pair.split('=').collect();
            if let [k, v] = parts[..] {
                if !k.is_empty() && !v.is_empty() {
                    metadata
                        .entry(k.to_string())
                        .or_default()
                        .insert(v.to_string());
                }
            }
        }
        let conflicts = [get("X-Conflicts"), get("Conflicts")]
            .concat()
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        Requirements {
            machine_id,
            peers,
            metadata,
            conflicts,
            replaces: get("Replaces").to_vec(),
            global: get("Global").last().is_some_and(|v| is_truthy(v)),
            unknown: values
                .keys()
                .filter(|k| !KNOWN_KEYS.contains(k))
                .map(|k| k.to_string())
                .collect(),
        }
    }

    /// Whether any `Conflicts=` glob of this unit matches `name`.
    pub fn conflicts_with(&self, name: &str) -> bool {
        self.conflicts.iter().any(|c| glob_match(c, name))
    }

    /// Whether any `Replaces=` glob of this unit matches `name`.
    pub fn replaces_unit(&self, name: &str) -> bool {
        self.replaces.iter().any(|c| glob_match(c, name))
    }
}

/// fleet's truthy values for `Global=`.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on" | "t"
    )
}

/// fleet's `parseMultivalueLine`: `"a=b" "c=d"` is two values; anything not both starting and ending with a
/// quote is one value, as written.
fn split_multivalue(line: &str) -> Vec<String> {
    if !(line.len() >= 2 && line.starts_with('"') && line.ends_with('"')) {
        return vec![line.to_string()];
    }
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => values.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    values.push(current);
    values
}

/// A combination of `[X-Fleet]` options fleet refuses; the messages are fleet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementsError {
    #[error("unrecognized requirement in [X-Fleet] section: {0:?}")]
    Unrecognized(String),
    #[error("unresolvable requirements: peer {peer:?} matches conflict {conflict:?}")]
    PeerMatchesConflict { peer: String, conflict: String },
    #[error("unresolvable requirements: peer {peer:?} matches replace {replace:?}")]
    PeerMatchesReplace { peer: String, replace: String },
    #[error("MachineID cannot be used with Peers")]
    MachineIdWithPeers,
    #[error("MachineID cannot be used with Conflicts")]
    MachineIdWithConflicts,
    #[error("MachineID cannot be used with Global")]
    MachineIdWithGlobal,
    #[error("MachineID cannot be used with Replaces")]
    MachineIdWithReplaces,
    #[error("Global cannot be used with Peers")]
    GlobalWithPeers,
    #[error("Global cannot be used with Replaces")]
    GlobalWithReplaces,
    #[error("Conflicts cannot be used with Replaces")]
    ConflictsWithReplaces,
}

/// fleet's submit-time checks of a unit's `[X-Fleet]` section, in fleet's order.
pub fn validate_unit(name: &str, unit: &UnitFile) -> Result<Requirements, RequirementsError> {
    use RequirementsError as E;
    let r = Requirements::from_unit(name, unit);
    if let Some(key) = r.unknown.first() {
        return Err(E::Unrecognized(key.clone()));
    }
    for peer in &r.peers {
        if let Some(c) = r.conflicts.iter().find(|c| glob_match(c, peer)) {
            return Err(E::PeerMatchesConflict {
                peer: peer.clone(),
                conflict: c.clone(),
            });
        }
        if let Some(rep) = r.replaces.iter().find(|rep| glob_match(rep, peer)) {
            return Err(E::PeerMatchesReplace {
                peer: peer.clone(),
                replace: rep.clone(),
            });
        }
    }
    let (target, peers, conflicts, replaces) = (
        r.machine_id.is_some(),
        !r.peers.is_empty(),
        !r.conflicts.is_empty(),
        !r.replaces.is_empty(),
    );
    let refused = match () {
        _ if target && peers => Some(E::MachineIdWithPeers),
        _ if target && conflicts => Some(E::MachineIdWithConflicts),
        _ if target && r.global => Some(E::MachineIdWithGlobal),
        _ if target && replaces => Some(E::MachineIdWithReplaces),
        _ if r.global && peers => Some(E::GlobalWithPeers),
        _ if r.global && replaces => Some(E::GlobalWithReplaces),
        _ if conflicts && replaces => Some(E::ConflictsWithReplaces),
        _ => None,
    };
    match refused {
        Some(e) => Err(e),
        None => Ok(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(xfleet: &str) -> UnitFile {
        UnitFile::parse(&format!("[Unit]\nDescription=t\n[X-Fleet]\n{xfleet}\n"))
            .expect("valid unit")
    }

    fn reqs(name: &str, xfleet: &str) -> Requirements {
        Requirements::from_unit(name, &unit(xfleet))
    }

    #[test]
    fn legacy_spellings_merge_and_specifiers_expand() {
        let r = reqs(
            "web-discovery@3.service",
            "X-ConditionMachineOf=web@%i.service\nMachineOf=cache.service\nX-Conflicts=a.service b.service\nConflicts=%p@*.service\nX-ConditionMachineMetadata=region=us\nMachineMetadata=\"disk=ssd\" \"disk=nvme\" \"bad\"",
        );
        assert_eq!(r.peers, ["web@3.service", "cache.service"]);
        assert_eq!(
            r.conflicts,
            ["a.service", "b.service", "web-discovery@*.service"]
        );
        assert_eq!(r.metadata.len(), 2);
        assert_eq!(
            r.metadata["disk"]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["nvme", "ssd"]
        );
        assert!(r.metadata["region"].contains("us"));
        assert!(r.unknown.is_empty());
    }

    #[test]
    fn machine_id_takes_the_first_spelling_present() {
        assert_eq!(
            reqs("a.service", "MachineID=abc\nX-ConditionMachineID=def")
                .machine_id
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            reqs("a.service", "X-ConditionMachineBootID=boot")
                .machine_id
                .as_deref(),
            Some("boot")
        );
        assert_eq!(reqs("a.service", "Conflicts=x").machine_id, None);
    }

    #[test]
    fn global_truthiness_uses_the_last_value() {
        for v in ["true", "yes", "1", "on", "t", "TRUE", "Yes", "T"] {
            assert!(reqs("g.service", &format!("Global={v}")).global, "{v}");
        }
        for v in ["false", "no", "0", "off", "y", "2", "truthy", ""] {
            assert!(!reqs("g.service", &format!("Global={v}")).global, "{v}");
        }
        assert!(!reqs("g.service", "Global=true\nGlobal=false").global);
        assert!(reqs("g.service", "Global=false\nGlobal=on").global);
    }

    #[test]
    fn metadata_pairs_need_exactly_one_equals_and_both_sides() {
        let r = reqs(
            "a.service",
            "MachineMetadata=a=b=c\nMachineMetadata==x\nMachineMetadata=y=\nMachineMetadata=ok=1",
        );
        assert_eq!(r.metadata.keys().collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn refused_combinations_carry_fleets_messages() {
        let table = [
            ("MachineID=abc\nMachineOf=x.service", "MachineID cannot be used with Peers"),
            ("MachineID=abc\nConflicts=x.service", "MachineID cannot be used with Conflicts"),
            ("MachineID=abc\nGlobal=true", "MachineID cannot be used with Global"),
            ("MachineID=abc\nReplaces=x.service", "MachineID cannot be used with Replaces"),
            ("Global=true\nMachineOf=x.service", "Global cannot be used with Peers"),
            ("Global=yes\nReplaces=x.service", "Global cannot be used with Replaces"),
            ("Conflicts=x.service\nReplaces=y.service", "Conflicts cannot be used with Replaces"),
            (
                "MachineOf=web@1.service\nConflicts=web@*.service",
                "unresolvable requirements: peer \"web@1.service\" matches conflict \"web@*.service\"",
            ),
            (
                "MachineOf=db.service\nReplaces=d*.service",
                "unresolvable requirements: peer \"db.service\" matches replace \"d*.service\"",
            ),
            ("Bogus=1", "unrecognized requirement in [X-Fleet] section: \"Bogus\""),
        ];
        for (xfleet, want) in table {
            let err = validate_unit("u.service", &unit(xfleet)).expect_err(xfleet);
            assert_eq!(err.to_string(), want, "{xfleet}");
        }
        // Allowed: these are fine together.
        for ok in [
            "MachineID=abc\nMachineMetadata=a=b",
            "Global=true\nMachineMetadata=a=b\nConflicts=x.service",
            "MachineOf=db.service\nConflicts=web@*.service",
            "Global=false\nMachineOf=db.service",
        ] {
            assert!(validate_unit("u.service", &unit(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_peer_named_with_a_specifier_is_checked_after_expansion() {
        let err = validate_unit(
            "side@2.service",
            &unit("MachineOf=web@%i.service\nConflicts=web@2.service"),
        );
        assert!(matches!(
            err,
            Err(RequirementsError::PeerMatchesConflict { .. })
        ));
    }
}
