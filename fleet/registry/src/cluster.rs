//! Every fleet key, read at one revision and decoded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use etcd_client::{GetOptions, KeyValue};
use fleet_model::{
    ClusterSnapshot, Job, Keys, MachineState, Requirements, TargetState, UnitFile, UnitHash,
    UnitState,
};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::registry::Registry;

/// Keys per range request while paging through the prefix.
const PAGE: i64 = 2000;

/// The value of `job/<name>/object`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JobObject {
    pub name: String,
    pub hash: String,
}

/// A unit in the registry, with where it is scheduled.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub name: String,
    pub hash: UnitHash,
    /// Its contents (shared: template instances often have the same text).
    pub file: Arc<UnitFile>,
    pub target_state: TargetState,
    /// The machine the engine placed it on.
    pub target: Option<String>,
    /// The mod revision of `job/<name>/target` (0: absent), which the engine's writes compare against.
    pub target_revision: i64,
    /// Why the engine could not place it, while it cannot.
    pub unschedulable: Option<String>,
}

impl Unit {
    /// Its `[X-Fleet]` requirements.
    pub fn requirements(&self) -> Requirements {
        Requirements::from_unit(&self.name, &self.file)
    }
}

/// The whole fleet state at one revision.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// The KV revision this was read at (watch from `revision + 1` to see every later change).
    pub revision: i64,
    pub units: BTreeMap<String, Unit>,
    /// Machines with a live presence key, dynamic metadata applied.
    pub machines: BTreeMap<String, MachineState>,
    /// Unit name → machine ID → the state that machine's agent published.
    pub states: BTreeMap<String, BTreeMap<String, UnitState>>,
    /// The machine whose engine holds the leader key.
    pub leader: Option<String>,
    /// Keys that did not decode, with why (reported, never fatal: one bad key must not stop the cluster).
    pub bad_keys: Vec<(String, String)>,
}

impl Cluster {
    /// The scheduler's view: units with requirements and targets, machines, and where units report running.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let mut running: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (name, per_machine) in &self.states {
            for (machine, state) in per_machine {
                if state.is_running() {
                    running
                        .entry(name.clone())
                        .or_default()
                        .insert(machine.clone());
                }
            }
        }
        ClusterSnapshot {
            jobs: self
                .units
                .values()
                .map(|u| Job {
                    name: u.name.clone(),
                    target_state: u.target_state,
                    target: u.target.clone(),
                    requirements: u.requirements(),
                })
                .collect(),
            machines: self.machines.values().cloned().collect(),
            running,
        }
    }

    /// Decodes the key-values of a range over the whole prefix.
    pub(crate) fn decode(keys: &Keys, revision: i64, kvs: &[KeyValue]) -> Cluster {
        let mut cluster = Cluster {
            revision,
            ..Cluster::default()
        };
        let mut texts: HashMap<&str, &str> = HashMap::new();
        let mut objects: BTreeMap<&str, (&str, &KeyValue)> = BTreeMap::new();
        let mut fields: HashMap<(&str, &str), &KeyValue> = HashMap::new();
        let mut dynamic_metadata: HashMap<&str, &KeyValue> = HashMap::new();
        for kv in kvs {
            let Ok(key) = kv.key_str() else {
                continue;
            };
            if let Some(hash) = keys.parse_unit_key(key) {
                match kv.value_str() {
                    Ok(text) => {
                        texts.insert(hash, text);
                    }
                    Err(e) => cluster.bad_keys.push((key.to_string(), e.to_string())),
                }
            } else if let Some((name, field)) = keys.parse_job_key(key) {
                if field == "object" {
                    objects.insert(name, (key, kv));
                } else {
                    fields.insert((name, field), kv);
                }
            } else if let Some((id, field)) = keys.parse_machine_key(key) {
                match field {
                    "object" => match serde_json::from_slice::<MachineState>(kv.value()) {
                        Ok(m) => {
                            cluster.machines.insert(id.to_string(), m);
                        }
                        Err(e) => cluster.bad_keys.push((key.to_string(), e.to_string())),
                    },
                    "metadata" => {
                        dynamic_metadata.insert(id, kv);
                    }
                    _ => {}
                }
            } else if let Some((name, machine)) = keys.parse_state_key(key) {
                match serde_json::from_slice::<UnitState>(kv.value()) {
                    Ok(s) => {
                        cluster
                            .states
                            .entry(name.to_string())
                            .or_default()
                            .insert(machine.to_string(), s);
                    }
                    Err(e) => cluster.bad_keys.push((key.to_string(), e.to_string())),
                }
            } else if key == keys.engine_leader() {
                cluster.leader = kv.value_str().ok().map(str::to_string);
            }
        }
        for (id, kv) in dynamic_metadata {
            let Some(m) = cluster.machines.get_mut(id) else {
                continue;
            };
            match serde_json::from_slice::<BTreeMap<String, Option<String>>>(kv.value()) {
                Ok(changes) => apply_metadata(&mut m.metadata, &changes),
                Err(e) => cluster
                    .bad_keys
                    .push((kv.key_str().unwrap_or_default().to_string(), e.to_string())),
            }
        }
        let mut files: HashMap<String, Arc<UnitFile>> = HashMap::new();
        for (name, (key, kv)) in objects {
            let decoded = serde_json::from_slice::<JobObject>(kv.value())
                .map_err(|e| e.to_string())
                .and_then(|o| {
                    UnitHash::parse(&o.hash).ok_or_else(|| format!("bad hash {:?}", o.hash))
                })
                .and_then(|hash| {
                    let hex = hash.to_string();
                    let file = match files.get(hex.as_str()) {
                        Some(f) => f.clone(),
                        None => {
                            let text = texts
                                .get(hex.as_str())
                                .ok_or_else(|| format!("unit contents {hex} missing"))?;
                            let f = Arc::new(UnitFile::parse(text).map_err(|e| e.to_string())?);
                            files.insert(hex.clone(), f.clone());
                            f
                        }
                    };
                    Ok((hash, file))
                });
            let (hash, file) = match decoded {
                Ok(v) => v,
                Err(reason) => {
                    cluster.bad_keys.push((key.to_string(), reason));
                    continue;
                }
            };
            let field = |f: &str| fields.get(&(name, f)).copied();
            let target_state = field("target-state")
                .and_then(|kv| kv.value_str().ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(TargetState::Inactive);
            let target_kv = field("target");
            cluster.units.insert(
                name.to_string(),
                Unit {
                    name: name.to_string(),
                    hash,
                    file,
                    target_state,
                    target: target_kv
                        .and_then(|kv| kv.value_str().ok())
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    target_revision: target_kv.map_or(0, KeyValue::mod_revision),
                    unschedulable: field("unschedulable")
                        .and_then(|kv| kv.value_str().ok())
                        .map(str::to_string),
                },
            );
        }
        cluster
    }
}

/// Applies dynamic metadata (`None` deletes a key) on top of a machine's configured metadata.
pub(crate) fn apply_metadata(
    metadata: &mut BTreeMap<String, String>,
    changes: &BTreeMap<String, Option<String>>,
) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                metadata.insert(k.clone(), v.clone());
            }
            None => {
                metadata.remove(k);
            }
        }
    }
}

impl Registry {
    /// Reads every fleet key at one revision (paging through the prefix) and decodes it.
    pub async fn cluster(&self) -> Result<Cluster, RegistryError> {
        let (revision, kvs) = self.range_all(self.keys().prefix()).await?;
        let cluster = Cluster::decode(self.keys(), revision, &kvs);
        for (key, reason) in &cluster.bad_keys {
            tracing::warn!(key, reason, "ignoring a fleet key that does not decode");
        }
        Ok(cluster)
    }

    /// Every key-value under `prefix` at one revision, paged.
    pub(crate) async fn range_all(
        &self,
        prefix: &str,
    ) -> Result<(i64, Vec<KeyValue>), RegistryError> {
        let end = prefix_end(prefix.as_bytes());
        let kv = self.kv();
        let mut from = prefix.as_bytes().to_vec();
        let mut revision = 0;
        let mut out = Vec::new();
        loop {
            let mut resp = kv
                .get(
                    from.clone(),
                    Some(
                        GetOptions::new()
                            .with_range(end.clone())
                            .with_limit(PAGE)
                            .with_revision(revision),
                    ),
                )
                .await?;
            if revision == 0 {
                revision = resp.header().map_or(0, |h| h.revision());
            }
            let more = resp.more();
            let kvs = resp.take_kvs();
            if let Some(last) = kvs.last() {
                from = last.key().to_vec();
                from.push(0);
            }
            out.extend(kvs);
            if !more {
                break;
            }
        }
        Ok((revision, out))
    }
}

/// The end of the range of keys starting with `prefix` (etcd's `--prefix`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/fleet/"), b"/fleet0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn dynamic_metadata_overrides_and_deletes() {
        let mut m = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let changes = BTreeMap::from([
            ("a".to_string(), Some("9".to_string())),
            ("b".to_string(), None),
        ]);
        apply_metadata(&mut m, &changes);
        assert_eq!(m, BTreeMap::from([("a".to_string(), "9".to_string())]));
    }
}
