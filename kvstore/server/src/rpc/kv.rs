//! `etcdserverpb.KV`: Range, Put, DeleteRange, Txn, Compact.
//!
//! Reads (Range, read-only Txn) never go through the raft log: a linearizable read waits for a ReadIndex round
//! and then reads a RocksDB snapshot; a serializable one reads the snapshot at once. Writes are proposed.

use std::sync::Arc;

use kvstore_proto::etcdserverpb::{
    kv_server::Kv, request_op::Request, response_op::Response as OpResponse, CompactionRequest,
    CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, ResponseOp, TxnRequest, TxnResponse,
};
use kvstore_proto::internal::raft_request::Request as Raft;
use tonic::{Request as GrpcRequest, Response, Status};

use super::{unexpected, Ctx};
use crate::apply::Response as Applied;
use crate::error::EtcdError;
use crate::kv_ops;
use crate::mvcc::read::Reader;

pub struct KvService(pub Arc<Ctx>);

const SERVICE: &str = "etcdserverpb.KV";

fn range_at(
    reader: &Reader<'_>,
    r: &RangeRequest,
    current: i64,
    compacted: i64,
) -> Result<RangeResponse, EtcdError> {
    let rev = kv_ops::read_revision(r.revision, current, compacted)?;
    let keys_only = r.keys_only
        && r.sort_target != kvstore_proto::etcdserverpb::range_request::SortTarget::Value as i32;
    let res = reader.range(
        &r.key,
        &r.range_end,
        rev,
        kv_ops::fetch_limit(r),
        keys_only || r.count_only,
    )?;
    Ok(kv_ops::finish_range(r, res.kvs, res.count))
}

/// Evaluates a txn that writes nothing against a snapshot.
fn txn_at(
    reader: &Reader<'_>,
    t: &TxnRequest,
    current: i64,
    compacted: i64,
) -> Result<TxnResponse, EtcdError> {
    let mut succeeded = true;
    for c in &t.compare {
        let kvs = if c.range_end.is_empty() {
            reader.get_at(&c.key, current)?.into_iter().collect()
        } else {
            reader.range(&c.key, &c.range_end, current, 0, false)?.kvs
        };
        if !kv_ops::compare_holds(c, &kvs) {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded { &t.success } else { &t.failure };
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let mut response = match &op.request {
            Some(Request::RequestRange(r)) => {
                OpResponse::ResponseRange(range_at(reader, r, current, compacted)?)
            }
            Some(Request::RequestTxn(inner)) => {
                OpResponse::ResponseTxn(txn_at(reader, inner, current, compacted)?)
            }
            _ => {
                return Err(EtcdError::InvalidArgument(
                    "write in a read-only txn".into(),
                ))
            }
        };
        kv_ops::txn_op_header(&mut response, current);
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: None,
        succeeded,
        responses,
    })
}

impl KvService {
    /// Runs `f` over a snapshot taken after the read barrier (linearizable unless `serializable`).
    async fn read<T>(
        &self,
        serializable: bool,
        f: impl FnOnce(&Reader<'_>, i64, i64) -> Result<T, EtcdError>,
    ) -> Result<(T, i64), EtcdError> {
        if !serializable {
            self.0.node.read_index().await?;
        }
        let db = &self.0.db;
        let snap = db.db.snapshot();
        let reader = Reader::at_snapshot(db, &snap);
        let current = reader.current_revision()?;
        let compacted = reader.compact_revision()?;
        Ok((f(&reader, current, compacted)?, current))
    }
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        req: GrpcRequest<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let r = req.into_inner();
        self.0
            .unary(SERVICE, "Range", async {
                if !r.serializable && self.0.state.is_learner() {
                    return Err(EtcdError::NotSupportedForLearner);
                }
                kv_ops::check_range(&r)?;
                let (mut resp, current) = self
                    .read(r.serializable, |rd, cur, comp| range_at(rd, &r, cur, comp))
                    .await?;
                resp.header = Some(self.0.state.header_at(current));
                Ok(resp)
            })
            .await
    }

    async fn put(&self, req: GrpcRequest<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let p = req.into_inner();
        self.0
            .unary(SERVICE, "Put", async {
                kv_ops::check_put(&p)?;
                self.0.check_quota(crate::quota::put_cost(&p)).await?;
                match self.0.node.propose(Raft::Put(p)).await? {
                    Applied::Put(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
            })
            .await
    }

    async fn delete_range(
        &self,
        req: GrpcRequest<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let d = req.into_inner();
        self.0
            .unary(SERVICE, "DeleteRange", async {
                kv_ops::check_delete(&d)?;
                match self.0.node.propose(Raft::DeleteRange(d)).await? {
                    Applied::DeleteRange(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
            })
            .await
    }

    async fn txn(&self, req: GrpcRequest<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let t = req.into_inner();
        self.0
            .unary(SERVICE, "Txn", async {
                kv_ops::check_txn(&t, self.0.max_txn_ops)?;
                if kv_ops::txn_is_read_only(&t) {
                    let serializable = t.success.iter().chain(&t.failure).all(|op| {
                        matches!(&op.request, Some(Request::RequestRange(r)) if r.serializable)
                    }) && !(t.success.is_empty() && t.failure.is_empty());
                    let (mut resp, current) = self
                        .read(serializable, |rd, cur, comp| txn_at(rd, &t, cur, comp))
                        .await?;
                    resp.header = Some(self.0.state.header_at(current));
                    return Ok(resp);
                }
                self.0.check_quota(crate::quota::txn_cost(&t)).await?;
                match self.0.node.propose(Raft::Txn(t)).await? {
                    Applied::Txn(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
            })
            .await
    }

    async fn compact(
        &self,
        req: GrpcRequest<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let c = req.into_inner();
        self.0
            .unary(SERVICE, "Compact", async {
                match self.0.node.propose(Raft::Compaction(c)).await? {
                    Applied::Compaction(resp, done) => {
                        if let Some(done) = done {
                            let _ = done.await;
                        }
                        Ok(resp)
                    }
                    _ => Err(unexpected()),
                }
            })
            .await
    }
}
