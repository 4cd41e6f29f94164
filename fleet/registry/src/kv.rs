//! The registry's KV requests: each one that cannot reach the KV store has the endpoint in use checked at once
//! (see [`Endpoints::suspect`]), so the next request — whoever makes it — already goes to one that answers.

use std::sync::Arc;

use etcd_client::{
    DeleteOptions, DeleteResponse, GetOptions, GetResponse, KvClient, PutOptions, PutResponse, Txn,
    TxnResponse,
};

use crate::endpoints::Endpoints;
use crate::error::RegistryError;

/// A KV client of the endpoint in use that reports unreachable-store failures.
pub(crate) struct Kv {
    inner: KvClient,
    endpoints: Arc<Endpoints>,
}

impl Kv {
    pub(crate) fn new(inner: KvClient, endpoints: Arc<Endpoints>) -> Kv {
        Kv { inner, endpoints }
    }

    pub(crate) async fn get(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse, RegistryError> {
        let r = self.inner.get(key, options).await;
        reported(&self.endpoints, r)
    }

    pub(crate) async fn put(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse, RegistryError> {
        let r = self.inner.put(key, value, options).await;
        reported(&self.endpoints, r)
    }

    pub(crate) async fn delete(
        &mut self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse, RegistryError> {
        let r = self.inner.delete(key, options).await;
        reported(&self.endpoints, r)
    }

    pub(crate) async fn txn(&mut self, txn: Txn) -> Result<TxnResponse, RegistryError> {
        let r = self.inner.txn(txn).await;
        reported(&self.endpoints, r)
    }
}

/// `r` as a registry result; a failure to reach the KV store has the endpoint in use checked at once.
pub(crate) fn reported<T>(
    endpoints: &Endpoints,
    r: Result<T, etcd_client::Error>,
) -> Result<T, RegistryError> {
    r.map_err(|e| {
        let e = RegistryError::from(e);
        if e.is_unavailable() {
            endpoints.suspect();
        }
        e
    })
}
