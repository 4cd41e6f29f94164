//! In-process calls to this member's own KV, Lease and Watch services, for the services built on top of them
//! (Lock, Election) — what etcd's `v3client` adapter is to its v3lock and v3election servers. The calls go
//! through the same handlers as a client's, so raft, linearizable reads and metrics apply alike.
//!
//! Also the two waits etcd's `concurrency` package builds locks and elections from: [`Local::wait_deletes`]
//! (until every older key under a prefix is gone) and [`Local::first_created`] (who holds the prefix now).

use std::sync::Arc;

use futures::StreamExt;
use kvstore_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    kv_server::Kv,
    lease_server::Lease,
    range_request::{SortOrder, SortTarget},
    watch_request::RequestUnion,
    Compare, DeleteRangeRequest, LeaseGrantRequest, RangeRequest, RangeResponse, ResponseHeader,
    TxnRequest, TxnResponse, WatchCreateRequest, WatchRequest, WatchResponse,
};
use kvstore_proto::mvccpb::{event::EventType, KeyValue};
use kvstore_proto::prefix_range_end;
use tonic::{Request, Status};

use super::kv::KvService;
use super::lease::LeaseService;
use super::Ctx;

/// The TTL of the lease a lock or campaign gets when its caller names none (etcd's session default).
pub const SESSION_TTL: i64 = 60;

/// This member's services, called in-process.
#[derive(Clone)]
pub struct Local {
    ctx: Arc<Ctx>,
    lease: Arc<LeaseService>,
}

impl Local {
    pub fn new(ctx: Arc<Ctx>, lease: Arc<LeaseService>) -> Self {
        Local { ctx, lease }
    }

    pub async fn txn(&self, t: TxnRequest) -> Result<TxnResponse, Status> {
        Ok(KvService(self.ctx.clone())
            .txn(Request::new(t))
            .await?
            .into_inner())
    }

    pub async fn range(&self, r: RangeRequest) -> Result<RangeResponse, Status> {
        Ok(KvService(self.ctx.clone())
            .range(Request::new(r))
            .await?
            .into_inner())
    }

    /// Deletes `key`; the header of the delete.
    pub async fn delete(&self, key: Vec<u8>) -> Result<Option<ResponseHeader>, Status> {
        let d = DeleteRangeRequest {
            key,
            ..Default::default()
        };
        Ok(KvService(self.ctx.clone())
            .delete_range(Request::new(d))
            .await?
            .into_inner()
            .header)
    }

    /// `lease`, or a new lease of [`SESSION_TTL`] seconds when it is 0 (etcd's lock and election servers open a
    /// session on such a lease and leave it to expire).
    pub async fn session_lease(&self, lease: i64) -> Result<i64, Status> {
        if lease != 0 {
            return Ok(lease);
        }
        let grant = LeaseGrantRequest {
            ttl: SESSION_TTL,
            id: 0,
        };
        Ok(self
            .lease
            .lease_grant(Request::new(grant))
            .await?
            .into_inner()
            .id)
    }

    /// The key under `prefix` created first (etcd's `WithFirstCreate`), with the read's header.
    pub async fn first_created(
        &self,
        prefix: &[u8],
    ) -> Result<(Option<ResponseHeader>, Option<KeyValue>), Status> {
        let r = self.range(oldest_under(prefix)).await?;
        Ok((r.header, r.kvs.into_iter().next()))
    }

    /// Returns once no key under `prefix` has a create revision at or below `max_create_rev` (etcd's
    /// `waitDeletes`): each round waits for the newest such key to be deleted.
    pub async fn wait_deletes(&self, prefix: &[u8], max_create_rev: i64) -> Result<(), Status> {
        loop {
            let r = self
                .range(RangeRequest {
                    key: prefix.to_vec(),
                    range_end: prefix_range_end(prefix),
                    sort_order: SortOrder::Descend as i32,
                    sort_target: SortTarget::Create as i32,
                    limit: 1,
                    max_create_revision: max_create_rev,
                    ..Default::default()
                })
                .await?;
            let Some(last) = r.kvs.into_iter().next() else {
                return Ok(());
            };
            let rev = r.header.map(|h| h.revision).unwrap_or_default();
            self.wait_delete(last.key, rev).await?;
        }
    }

    /// Waits for `key` to be deleted at or after revision `rev`.
    async fn wait_delete(&self, key: Vec<u8>, rev: i64) -> Result<(), Status> {
        let mut events = self.watch(key, Vec::new(), rev);
        while let Some(resp) = events.next().await {
            if resp?
                .events
                .iter()
                .any(|e| e.r#type == EventType::Delete as i32)
            {
                return Ok(());
            }
        }
        Err(Status::unavailable("watch ended"))
    }

    /// A watch on `key` (to `range_end`, if given) from `start_revision`; it ends when the returned stream is
    /// dropped. A watch the server cancels (its start revision was compacted) comes out as an error, so that
    /// no waiter built on it waits forever.
    pub fn watch(
        &self,
        key: Vec<u8>,
        range_end: Vec<u8>,
        start_revision: i64,
    ) -> impl futures::Stream<Item = Result<WatchResponse, Status>> + Send + Unpin + 'static {
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key,
                range_end,
                start_revision,
                ..Default::default()
            })),
        };
        // The request side stays open (pending) for as long as the watch runs.
        let inbound = futures::stream::once(async { Ok(create) })
            .chain(futures::stream::pending())
            .boxed();
        super::watch::serve(&self.ctx, inbound).map(|resp| match resp {
            Ok(r) if r.canceled => Err(Status::unavailable(format!(
                "watch canceled: {}",
                r.cancel_reason
            ))),
            other => other,
        })
    }
}

/// The oldest key under `prefix` (etcd's `WithFirstCreate`).
pub fn oldest_under(prefix: &[u8]) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_range_end(prefix),
        sort_order: SortOrder::Ascend as i32,
        sort_target: SortTarget::Create as i32,
        limit: 1,
        ..Default::default()
    }
}

/// `create_revision(key) == rev`: the compare that says a key is still the one a caller created.
pub fn created_at(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(TargetUnion::CreateRevision(rev)),
        ..Default::default()
    }
}

/// Deletes a key in the background when dropped while armed: a lock or campaign whose caller went away (its
/// RPC cancelled mid-wait) gives up its place in the queue, as etcd's does when its context ends.
pub struct DeleteOnDrop {
    local: Local,
    key: Option<Vec<u8>>,
}

impl DeleteOnDrop {
    pub fn new(local: &Local, key: Vec<u8>) -> Self {
        DeleteOnDrop {
            local: local.clone(),
            key: Some(key),
        }
    }

    /// Keeps the key: the wait succeeded.
    pub fn disarm(mut self) {
        self.key = None;
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        // Outside a runtime (the server is shutting down) the key is left to its lease.
        if let (Some(key), Ok(runtime)) = (self.key.take(), tokio::runtime::Handle::try_current()) {
            let local = self.local.clone();
            runtime.spawn(async move {
                if let Err(e) = local.delete(key).await {
                    tracing::debug!(error = %e, "could not delete an abandoned lock or campaign key");
                }
            });
        }
    }
}
