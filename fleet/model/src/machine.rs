//! A machine as the cluster sees it: the presence record its agent keeps alive under a lease, and fleet's
//! metadata rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What an agent publishes about its machine (the value of `machines/<id>/object`, bound to its lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MachineState {
    /// The machine ID (`/etc/machine-id`: 32 hex digits).
    pub id: String,
    /// The address other machines and `fleetctl` reach it at.
    #[serde(default)]
    pub public_ip: String,
    /// `key=value` labels from the agent's configuration, with any dynamic metadata applied on top.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The fleetd version.
    #[serde(default)]
    pub version: String,
    /// Flotilla: the fleet HTTP API of this machine's fleetd, for requests that must reach this host
    /// (`fleetctl journal`). Empty when it serves none over TCP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api: String,
}

impl MachineState {
    /// fleet's short ID: the first 8 characters.
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }

    /// Whether `id` names this machine, in full or by its short ID (fleet's `MatchID`).
    pub fn match_id(&self, id: &str) -> bool {
        self.id == id || self.short_id() == id
    }
}

/// The first 8 characters of a machine ID.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Whether `machine`'s metadata satisfies `required`: every key present, with one of its allowed values
/// (fleet's `machine.HasMetadata`).
pub fn has_metadata(machine: &MachineState, required: &BTreeMap<String, BTreeSet<String>>) -> bool {
    required
        .iter()
        .all(|(k, allowed)| machine.metadata.get(k).is_some_and(|v| allowed.contains(v)))
}

/// A metadata string that is not `key=value[,key=value…]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata {0:?} is not key=value")]
    NotAPair(String),
}

/// Parses fleet's `metadata` setting: `region=us-east,disk=ssd` (blanks around items ignored; empty input is no
/// metadata).
pub fn parse_metadata(s: &str) -> Result<BTreeMap<String, String>, MetadataError> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => return Err(MetadataError::NotAPair(item.to_string())),
        }
    }
    Ok(out)
}

/// `k=v,k2=v2`, keys sorted, as `fleetctl list-machines` shows metadata; `-` when there is none.
pub fn format_metadata(metadata: &BTreeMap<String, String>) -> String {
    if metadata.is_empty() {
        return "-".to_string();
    }
    metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(meta: &str) -> MachineState {
        MachineState {
            id: "0123456789abcdef0123456789abcdef".into(),
            metadata: parse_metadata(meta).expect("valid metadata"),
            ..MachineState::default()
        }
    }

    fn required(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn metadata_is_and_across_keys_or_within_a_key() {
        let m = machine("region=us-east, disk=ssd");
        assert!(has_metadata(&m, &required(&[])));
        assert!(has_metadata(&m, &required(&[("region", &["us-east"])])));
        assert!(has_metadata(
            &m,
            &required(&[("region", &["us-west", "us-east"])])
        ));
        assert!(has_metadata(
            &m,
            &required(&[("region", &["us-east"]), ("disk", &["hdd", "ssd"])])
        ));
        assert!(!has_metadata(
            &m,
            &required(&[("region", &["us-east"]), ("disk", &["hdd"])])
        ));
        assert!(!has_metadata(&m, &required(&[("rack", &["1"])])));
    }

    #[test]
    fn ids_match_in_full_or_short() {
        let m = machine("");
        assert!(m.match_id("0123456789abcdef0123456789abcdef"));
        assert!(m.match_id("01234567"));
        assert!(!m.match_id("0123456"));
        assert!(!m.match_id("012345678"));
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn metadata_strings_parse_and_format() {
        assert_eq!(
            format_metadata(&parse_metadata("b=2,a=1").expect("ok")),
            "a=1,b=2"
        );
        assert_eq!(format_metadata(&parse_metadata("").expect("ok")), "-");
        assert_eq!(
            parse_metadata("a=1,oops").unwrap_err().to_string(),
            "metadata \"oops\" is not key=value"
        );
        assert!(parse_metadata("=x").is_err());
    }

    #[test]
    fn presence_json_uses_the_documented_field_names() {
        let m = MachineState {
            id: "m1".into(),
            public_ip: "10.0.0.1".into(),
            metadata: parse_metadata("a=1").expect("ok"),
            version: "0.1.0".into(),
            api: String::new(),
        };
        let json = serde_json::to_string(&m).expect("serialises");
        assert_eq!(
            json,
            r#"{"id":"m1","public_ip":"10.0.0.1","metadata":{"a":"1"},"version":"0.1.0"}"#
        );
        assert_eq!(
            serde_json::from_str::<MachineState>(&json).expect("parses"),
            m
        );
    }
}
