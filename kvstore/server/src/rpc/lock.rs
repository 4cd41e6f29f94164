//! `v3lockpb.Lock`: etcd's lock service, on the algorithm of etcd's `concurrency.Mutex`. A caller's place in
//! the queue for lock `name` is a key `name/<lease id in hex>` on its lease; it holds the lock once every key
//! under `name/` created before its own is gone. Fair (first come, first served), and a holder that dies lets go
//! when its lease expires.

use kvstore_proto::etcdserverpb::{
    request_op::Request as Op, response_op::Response as OpResponse, PutRequest, RangeRequest,
    RequestOp, ResponseHeader, TxnRequest,
};
use kvstore_proto::mvccpb::KeyValue;
use kvstore_proto::v3lockpb::{
    lock_server::Lock, LockRequest, LockResponse, UnlockRequest, UnlockResponse,
};
use tonic::{Request, Response, Status};

use super::local::{created_at, oldest_under, DeleteOnDrop, Local};

pub struct LockService(pub Local);

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let req = req.into_inner();
        let local = &self.0;
        let lease = local.session_lease(req.lease).await?;
        let prefix = queue_prefix(&req.name);
        let key = queue_key(&prefix, lease);
        let q = enqueue(local, &prefix, &key, lease, &[]).await?;
        let guard = DeleteOnDrop::new(local, key.clone());
        if q.holder_rev != Some(q.rev) {
            local.wait_deletes(&prefix, q.rev - 1).await?;
            still_queued(local, &key, "mutex: session is expired").await?;
        }
        guard.disarm();
        Ok(Response::new(LockResponse {
            header: q.header,
            key,
        }))
    }

    async fn unlock(
        &self,
        req: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        let header = self.0.delete(req.into_inner().key).await?;
        Ok(Response::new(UnlockResponse { header }))
    }
}

/// The prefix under which the waiters for lock or election `name` queue.
pub fn queue_prefix(name: &[u8]) -> Vec<u8> {
    [name, b"/"].concat()
}

/// A caller's key in the queue under `prefix`: the prefix and its lease id in hex, as etcd's.
pub fn queue_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    [prefix, format!("{lease:x}").as_bytes()].concat()
}

/// Where [`enqueue`] left a caller.
pub struct Queued {
    /// The header of the enqueuing txn.
    pub header: Option<ResponseHeader>,
    /// The create revision of the caller's key: its place in the queue.
    pub rev: i64,
    /// The caller's key as it was, if it existed already (the same lease asked before).
    pub existing: Option<KeyValue>,
    /// The create revision of the oldest key under the prefix: the holder's.
    pub holder_rev: Option<i64>,
}

/// Puts `key` (with `value`, on `lease`) unless it exists, and reads the oldest key under `prefix`, in one txn.
pub async fn enqueue(
    local: &Local,
    prefix: &[u8],
    key: &[u8],
    lease: i64,
    value: &[u8],
) -> Result<Queued, Status> {
    let oldest = RequestOp {
        request: Some(Op::RequestRange(oldest_under(prefix))),
    };
    let t = TxnRequest {
        compare: vec![created_at(key, 0)],
        success: vec![
            RequestOp {
                request: Some(Op::RequestPut(PutRequest {
                    key: key.to_vec(),
                    value: value.to_vec(),
                    lease,
                    ..Default::default()
                })),
            },
            oldest.clone(),
        ],
        failure: vec![
            RequestOp {
                request: Some(Op::RequestRange(RangeRequest {
                    key: key.to_vec(),
                    ..Default::default()
                })),
            },
            oldest,
        ],
    };
    let resp = local.txn(t).await?;
    let first_kv = |i: usize| match resp.responses.get(i).and_then(|r| r.response.as_ref()) {
        Some(OpResponse::ResponseRange(r)) => r.kvs.first().cloned(),
        _ => None,
    };
    let existing = if resp.succeeded { None } else { first_kv(0) };
    let rev = match &existing {
        Some(kv) => kv.create_revision,
        None if resp.succeeded => resp.header.as_ref().map(|h| h.revision).unwrap_or_default(),
        None => {
            return Err(Status::internal(
                "queue key vanished between compare and read",
            ))
        }
    };
    let holder_rev = first_kv(1).map(|kv| kv.create_revision);
    Ok(Queued {
        header: resp.header,
        rev,
        existing,
        holder_rev,
    })
}

/// After a wait: the caller's key must still exist, or its lease expired meanwhile and it holds nothing.
pub async fn still_queued(local: &Local, key: &[u8], expired: &str) -> Result<(), Status> {
    let r = local
        .range(RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        })
        .await?;
    if r.kvs.is_empty() {
        return Err(Status::unknown(expired));
    }
    Ok(())
}
