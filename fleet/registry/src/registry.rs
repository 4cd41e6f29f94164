//! The registry handle and the user-facing operations on units and machines.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, DeleteOptions, Txn, TxnOp};
use fleet_model::{Keys, TargetState, UnitFile};

use crate::cluster::JobObject;
use crate::endpoints::Endpoints;
use crate::error::RegistryError;
use crate::kv::Kv;
use crate::tls::KvTls;

/// fleet's state in a KV store reached through the etcd v3 API.
#[derive(Clone)]
pub struct Registry {
    endpoints: Arc<Endpoints>,
    keys: Keys,
}

impl Registry {
    /// Connects to `endpoints` (`http://host:port`; one is used at a time, the next that answers when it stops
    /// answering), fleet's keys under `prefix`. Each request gives up after `request_timeout`. Connecting does
    /// not wait for the KV store to be up.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        request_timeout: Duration,
    ) -> Result<Registry, RegistryError> {
        Registry::connect_tls(endpoints, prefix, request_timeout, &KvTls::default()).await
    }

    /// [`Registry::connect`], with TLS for `https://` endpoints as `tls` sets it up.
    pub async fn connect_tls(
        endpoints: &[String],
        prefix: &str,
        request_timeout: Duration,
        tls: &KvTls,
    ) -> Result<Registry, RegistryError> {
        Ok(Registry {
            endpoints: Endpoints::connect(endpoints, request_timeout, &tls.options()?).await?,
            keys: Keys::new(prefix),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The client of the endpoint in use (leases and watches are cheap clones of its channel).
    pub fn client(&self) -> Client {
        self.endpoints.client()
    }

    /// KV requests on the endpoint in use; a failure to reach the store has the endpoint checked at once (and
    /// left for one that answers), whichever operation made the request.
    pub(crate) fn kv(&self) -> Kv {
        Kv::new(self.endpoints.clone())
    }

    /// `r`, from a lease or watch request, as a registry result, reported like [`Registry::kv`]'s.
    pub(crate) fn reported<T>(&self, r: Result<T, etcd_client::Error>) -> Result<T, RegistryError> {
        crate::kv::reported(&self.endpoints, r)
    }

    pub(crate) fn endpoints(&self) -> Arc<Endpoints> {
        self.endpoints.clone()
    }

    /// Adds `unit` as `name` with `target_state`. Refused with [`RegistryError::UnitExists`] when a unit of that
    /// name is already there (whatever its contents): the check and the writes are one transaction.
    pub async fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        target_state: TargetState,
    ) -> Result<(), RegistryError> {
        let k = &self.keys;
        let object = self.object_json(name, unit)?;
        let txn = Txn::new()
            .when([Compare::create_revision(
                k.job_object(name),
                CompareOp::Equal,
                0,
            )])
            .and_then([
                TxnOp::put(k.unit(&unit.hash().to_string()), unit.to_text(), None),
                TxnOp::put(k.job_object(name), object, None),
                TxnOp::put(k.job_target_state(name), target_state.as_str(), None),
            ]);
        if self.kv().txn(txn).await?.succeeded() {
            Ok(())
        } else {
            Err(RegistryError::UnitExists(name.to_string()))
        }
    }

    /// Replaces the contents of an existing unit, keeping its target state and schedule; agents notice the new
    /// hash and reload (and restart) it.
    pub async fn replace_unit(&self, name: &str, unit: &UnitFile) -> Result<(), RegistryError> {
        let k = &self.keys;
        let object = self.object_json(name, unit)?;
        let txn = Txn::new()
            .when([Compare::create_revision(
                k.job_object(name),
                CompareOp::Greater,
                0,
            )])
            .and_then([
                TxnOp::put(k.unit(&unit.hash().to_string()), unit.to_text(), None),
                TxnOp::put(k.job_object(name), object, None),
            ]);
        self.expect_unit(name, txn).await
    }

    /// Sets what the user wants of a unit.
    pub async fn set_target_state(
        &self,
        name: &str,
        state: TargetState,
    ) -> Result<(), RegistryError> {
        let k = &self.keys;
        let txn = Txn::new()
            .when([Compare::create_revision(
                k.job_object(name),
                CompareOp::Greater,
                0,
            )])
            .and_then([TxnOp::put(k.job_target_state(name), state.as_str(), None)]);
        self.expect_unit(name, txn).await
    }

    /// Removes a unit (its object, target state and schedule); agents unload it. Its content-addressed text
    /// stays, as in fleet.
    pub async fn destroy_unit(&self, name: &str) -> Result<(), RegistryError> {
        let k = &self.keys;
        let txn = Txn::new()
            .when([Compare::create_revision(
                k.job_object(name),
                CompareOp::Greater,
                0,
            )])
            .and_then([TxnOp::delete(
                k.job_dir(name),
                Some(DeleteOptions::new().with_prefix()),
            )]);
        self.expect_unit(name, txn).await
    }

    /// Changes a machine's dynamic metadata, applied on top of its configured metadata (`Some` sets a key, `None`
    /// removes it from what the machine shows). Refused for a machine that is not registered; retried when
    /// another writer races it.
    pub async fn set_machine_metadata(
        &self,
        machine: &str,
        changes: &BTreeMap<String, Option<String>>,
    ) -> Result<(), RegistryError> {
        let k = &self.keys;
        let kv = self.kv();
        for _ in 0..10 {
            let present = kv.get(k.machine_object(machine), None).await?;
            if present.kvs().is_empty() {
                return Err(RegistryError::NoSuchMachine(machine.to_string()));
            }
            let current = kv.get(k.machine_metadata(machine), None).await?;
            let (mut merged, rev): (BTreeMap<String, Option<String>>, i64) = match current
                .kvs()
                .first()
            {
                Some(kv) => (
                    serde_json::from_slice(kv.value()).map_err(|e| RegistryError::BadValue {
                        key: k.machine_metadata(machine),
                        reason: e.to_string(),
                    })?,
                    kv.mod_revision(),
                ),
                None => (BTreeMap::new(), 0),
            };
            merged.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
            let value = serde_json::to_string(&merged).map_err(|e| RegistryError::BadValue {
                key: k.machine_metadata(machine),
                reason: e.to_string(),
            })?;
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    k.machine_metadata(machine),
                    CompareOp::Equal,
                    rev,
                )])
                .and_then([TxnOp::put(k.machine_metadata(machine), value, None)]);
            if kv.txn(txn).await?.succeeded() {
                return Ok(());
            }
        }
        Err(RegistryError::Conflict(k.machine_metadata(machine)))
    }

    async fn expect_unit(&self, name: &str, txn: Txn) -> Result<(), RegistryError> {
        if self.kv().txn(txn).await?.succeeded() {
            Ok(())
        } else {
            Err(RegistryError::NoSuchUnit(name.to_string()))
        }
    }

    fn object_json(&self, name: &str, unit: &UnitFile) -> Result<String, RegistryError> {
        serde_json::to_string(&JobObject {
            name: name.to_string(),
            hash: unit.hash().to_string(),
        })
        .map_err(|e| RegistryError::BadValue {
            key: self.keys.job_object(name),
            reason: e.to_string(),
        })
    }
}
