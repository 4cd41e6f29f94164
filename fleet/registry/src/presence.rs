//! What fleetd keeps alive in the KV store: leases, machine presence, published unit states, the engine
//! leader key — and the watch that tells the engine and the agent something changed.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, WatchOptions, WatchStream,
};
use fleet_model::{MachineState, UnitState};

use crate::endpoints::Endpoints;
use crate::error::RegistryError;
use crate::kv::reported;
use crate::registry::Registry;

/// A granted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    /// Its TTL in seconds, as granted.
    pub ttl: i64,
}

/// Changes under fleet's prefix, as they are committed.
pub struct ChangeStream {
    /// Dropping it cancels the watch.
    stream: WatchStream,
    /// Told when the stream fails because the KV store went away.
    endpoints: Arc<Endpoints>,
}

impl ChangeStream {
    /// The keys changed by the next batch of events, and the revision of the last one; `Ok(None)` when the
    /// watch ended (the KV store went away or compacted past it: read the cluster again and re-watch).
    pub async fn next(&mut self) -> Result<Option<(i64, Vec<(String, bool)>)>, RegistryError> {
        loop {
            let message = self.stream.message().await;
            let Some(resp) = reported(&self.endpoints, message)? else {
                return Ok(None);
            };
            if resp.canceled() || resp.compact_revision() > 0 {
                return Ok(None);
            }
            if resp.events().is_empty() {
                continue;
            }
            let mut revision = 0;
            let keys = resp
                .events()
                .iter()
                .filter_map(|e| {
                    let kv = e.kv()?;
                    revision = revision.max(kv.mod_revision());
                    Some((
                        String::from_utf8_lossy(kv.key()).into_owned(),
                        e.event_type() == EventType::Delete,
                    ))
                })
                .collect();
            return Ok(Some((revision, keys)));
        }
    }
}

impl Registry {
    /// Grants a lease of `ttl` (at least one second).
    pub async fn grant_lease(&self, ttl: Duration) -> Result<Lease, RegistryError> {
        let ttl = ttl.as_secs().max(1) as i64;
        let resp = self.reported(self.client().lease_grant(ttl, None).await)?;
        Ok(Lease {
            id: resp.id(),
            ttl: resp.ttl(),
        })
    }

    /// Renews `lease` once; `Ok(false)` when it has already expired (its keys are gone: grant a new one and
    /// write them again).
    pub async fn keep_alive(&self, lease: i64) -> Result<bool, RegistryError> {
        let (mut keeper, mut stream) =
            self.reported(self.client().lease_keep_alive(lease).await)?;
        self.reported(keeper.keep_alive().await)?;
        match self.reported(stream.message().await)? {
            Some(resp) => Ok(resp.ttl() > 0),
            None => Ok(false),
        }
    }

    /// Revokes `lease`, deleting every key bound to it.
    pub async fn revoke_lease(&self, lease: i64) -> Result<(), RegistryError> {
        match self.client().lease_revoke(lease).await {
            Ok(_) => Ok(()),
            // Already expired or revoked: the keys are gone either way.
            Err(etcd_client::Error::GRpcStatus(s)) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(e) => self.reported(Err(e)),
        }
    }

    /// Publishes `machine`'s presence, bound to `lease`.
    pub async fn register_machine(
        &self,
        machine: &MachineState,
        lease: i64,
    ) -> Result<(), RegistryError> {
        let value = serde_json::to_string(machine).map_err(|e| RegistryError::BadValue {
            key: self.keys().machine_object(&machine.id),
            reason: e.to_string(),
        })?;
        self.kv()
            .put(
                self.keys().machine_object(&machine.id),
                value,
                Some(PutOptions::new().with_lease(lease)),
            )
            .await?;
        Ok(())
    }

    /// Publishes what this machine's agent sees of a unit, bound to `lease`.
    pub async fn put_unit_state(&self, state: &UnitState, lease: i64) -> Result<(), RegistryError> {
        let key = self.keys().unit_state(&state.name, &state.machine_id);
        let value = serde_json::to_string(state).map_err(|e| RegistryError::BadValue {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        self.kv()
            .put(key, value, Some(PutOptions::new().with_lease(lease)))
            .await?;
        Ok(())
    }

    /// Withdraws this machine's state of a unit (it is no longer loaded here).
    pub async fn delete_unit_state(&self, name: &str, machine: &str) -> Result<(), RegistryError> {
        self.kv()
            .delete(self.keys().unit_state(name, machine), None)
            .await?;
        Ok(())
    }

    /// Becomes the engine leader if nobody is (the leader key is bound to `lease`, so it goes when this
    /// machine stops renewing it). `Ok(true)` also when this machine already holds it under `lease`.
    pub async fn campaign(&self, machine: &str, lease: i64) -> Result<bool, RegistryError> {
        let key = self.keys().engine_leader();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                machine,
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::txn(
                Txn::new()
                    .when([
                        Compare::value(key.clone(), CompareOp::Equal, machine),
                        Compare::lease(key.clone(), CompareOp::Equal, lease),
                    ])
                    .and_then([TxnOp::get(key, None)]),
            )]);
        let resp = self.kv().txn(txn).await?;
        if resp.succeeded() {
            return Ok(true);
        }
        Ok(resp.op_responses().into_iter().any(|op| match op {
            etcd_client::TxnOpResponse::Txn(t) => t.succeeded(),
            _ => false,
        }))
    }

    /// Gives up the engine leadership, if this machine holds it under `lease`.
    pub async fn resign(&self, machine: &str, lease: i64) -> Result<(), RegistryError> {
        let key = self.keys().engine_leader();
        let txn = Txn::new()
            .when([
                Compare::value(key.clone(), CompareOp::Equal, machine),
                Compare::lease(key.clone(), CompareOp::Equal, lease),
            ])
            .and_then([TxnOp::delete(key, None)]);
        self.kv().txn(txn).await?;
        Ok(())
    }

    /// Watches everything under fleet's prefix from `revision` on.
    pub async fn watch_changes(&self, revision: i64) -> Result<ChangeStream, RegistryError> {
        let mut client = self.client();
        let watch = client
            .watch(
                self.keys().prefix(),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(revision),
                ),
            )
            .await;
        let stream = self.reported(watch)?;
        Ok(ChangeStream {
            stream,
            endpoints: self.endpoints(),
        })
    }

    /// The machine holding the engine leader key, if any.
    pub async fn engine_leader(&self) -> Result<Option<String>, RegistryError> {
        let resp = self.kv().get(self.keys().engine_leader(), None).await?;
        Ok(resp
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }
}
