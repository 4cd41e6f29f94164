//! Narrow reads for fleetd's HTTP API: one unit with its published states, one unit's states, and a cheap
//! liveness probe.
//!
//! [`Registry::cluster`] reads every key under the prefix, which is right for lists and for the engine but
//! would make each single-unit request (`GET /units/x`, every `PUT` of `fleetctl start`) cost as much as a
//! list — quadratic over a `fleetctl start` of thousands of units. These read only the keys of one unit, at one
//! revision, and decode them with the same code as [`Registry::cluster`].

use std::collections::BTreeMap;

use etcd_client::GetOptions;
use fleet_model::UnitState;

use crate::cluster::{Cluster, JobObject, Unit};
use crate::error::RegistryError;
use crate::registry::Registry;

impl Registry {
    /// The unit `name` (its object, target state, schedule, text) and the states machines published for it
    /// (by machine ID), all read at one revision; `Ok(None)` when there is no such unit.
    pub async fn unit(
        &self,
        name: &str,
    ) -> Result<Option<(Unit, BTreeMap<String, UnitState>)>, RegistryError> {
        let keys = self.keys();
        let kv = self.kv();
        let mut job = kv
            .get(keys.job_dir(name), Some(GetOptions::new().with_prefix()))
            .await?;
        let revision = job.header().map_or(0, |h| h.revision());
        let mut kvs = job.take_kvs();
        let object = kvs
            .iter()
            .find(|kv| kv.key() == keys.job_object(name).as_bytes());
        let Some(object) = object else {
            return Ok(None);
        };
        let hash = serde_json::from_slice::<JobObject>(object.value())
            .map_err(|e| RegistryError::BadValue {
                key: keys.job_object(name),
                reason: e.to_string(),
            })?
            .hash;
        let at = GetOptions::new().with_revision(revision);
        kvs.extend(kv.get(keys.unit(&hash), Some(at.clone())).await?.take_kvs());
        kvs.extend(
            kv.get(keys.unit_states_dir(name), Some(at.with_prefix()))
                .await?
                .take_kvs(),
        );
        let mut cluster = Cluster::decode(keys, revision, &kvs);
        for (key, reason) in &cluster.bad_keys {
            tracing::warn!(key, reason, "ignoring a fleet key that does not decode");
        }
        match cluster.units.remove(name) {
            Some(unit) => Ok(Some((
                unit,
                cluster.states.remove(name).unwrap_or_default(),
            ))),
            // The object is there but the unit does not decode (its text is missing, say): an error, not
            // "no such unit", or a client would try to create it again.
            None => Err(match cluster.bad_keys.into_iter().next() {
                Some((key, reason)) => RegistryError::BadValue { key, reason },
                None => RegistryError::BadValue {
                    key: keys.job_object(name),
                    reason: "the unit does not decode".to_string(),
                },
            }),
        }
    }

    /// The states machines published for unit `name` (by machine ID), whether or not the unit is still in the
    /// registry (agents withdraw a destroyed unit's state only once they have unloaded it). States that do
    /// not decode are skipped.
    pub async fn unit_states(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, UnitState>, RegistryError> {
        let resp = self
            .kv()
            .get(
                self.keys().unit_states_dir(name),
                Some(GetOptions::new().with_prefix()),
            )
            .await?;
        let revision = resp.header().map_or(0, |h| h.revision());
        let mut cluster = Cluster::decode(self.keys(), revision, resp.kvs());
        for (key, reason) in &cluster.bad_keys {
            tracing::warn!(key, reason, "ignoring a fleet key that does not decode");
        }
        Ok(cluster.states.remove(name).unwrap_or_default())
    }

    /// One cheap round trip to the KV store (a count-only read of one key): whether it answers at all.
    /// Returns the store's current revision (where the engine and the agent start their watches).
    pub async fn probe(&self) -> Result<i64, RegistryError> {
        let resp = self
            .kv()
            .get(
                self.keys().engine_leader(),
                Some(GetOptions::new().with_count_only()),
            )
            .await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }
}
