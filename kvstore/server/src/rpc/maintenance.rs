//! `etcdserverpb.Maintenance`: Status, Alarm (no alarms are raised), Defragment (a RocksDB manual compaction),
//! Hash/HashKV, MoveLeader. Snapshot streaming comes with the cluster issue's backup work.

use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use futures::Stream;
use kvstore_proto::etcdserverpb::{
    maintenance_server::Maintenance, AlarmRequest, AlarmResponse, DefragmentRequest,
    DefragmentResponse, HashKvRequest, HashKvResponse, HashRequest, HashResponse,
    MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse, StatusRequest,
    StatusResponse,
};
use tonic::{Request, Response, Status};

use super::Ctx;
use crate::error::EtcdError;
use crate::mvcc::read::Reader;

/// The etcd API level kvstore speaks; clients use it to pick features.
pub const API_VERSION: &str = "3.4.0";

pub struct MaintenanceService(pub Arc<Ctx>);

const SERVICE: &str = "etcdserverpb.Maintenance";

impl MaintenanceService {
    fn hash_at(&self, rev: i64) -> Result<(u32, i64, i64), EtcdError> {
        let db = self.0.db.clone();
        let snap = db.db.snapshot();
        let reader = Reader::at_snapshot(&db, &snap);
        let current = reader.current_revision()?;
        let compacted = reader.compact_revision()?;
        let rev = crate::kv_ops::read_revision(rev, current, compacted)?;
        Ok((reader.hash_kv(rev)?, compacted, rev))
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, _r: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        self.0
            .unary(SERVICE, "Alarm", async {
                Ok(AlarmResponse {
                    header: Some(self.0.state.header()),
                    alarms: Vec::new(),
                })
            })
            .await
    }

    async fn status(&self, _r: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        self.0
            .unary(SERVICE, "Status", async {
                let s = &self.0.state;
                let db_size = self.0.db.size_bytes() as i64;
                Ok(StatusResponse {
                    header: Some(s.header()),
                    version: API_VERSION.into(),
                    db_size,
                    leader: s.leader.load(Relaxed),
                    raft_index: s.commit_index.load(Relaxed),
                    raft_term: s.term.load(Relaxed),
                    raft_applied_index: s.applied_index.load(Relaxed),
                    errors: Vec::new(),
                    db_size_in_use: (self.0.db.size_in_use_bytes() as i64).min(db_size),
                    is_learner: false,
                })
            })
            .await
    }

    async fn defragment(
        &self,
        _r: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        self.0
            .unary(SERVICE, "Defragment", async {
                let db = self.0.db.clone();
                tokio::task::spawn_blocking(move || {
                    for cf in [
                        crate::storage::CF_KV,
                        crate::storage::CF_REV,
                        crate::storage::CF_RAFT,
                        crate::storage::CF_LEASE,
                    ] {
                        if let Ok(h) = db.cf(cf) {
                            db.db.compact_range_cf(h, None::<&[u8]>, None::<&[u8]>);
                        }
                    }
                })
                .await
                .map_err(|_| EtcdError::Stopped)?;
                Ok(DefragmentResponse {
                    header: Some(self.0.state.header()),
                })
            })
            .await
    }

    async fn hash(&self, _r: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.0
            .unary(SERVICE, "Hash", async {
                let (hash, _, _) = self.hash_at(0)?;
                Ok(HashResponse {
                    header: Some(self.0.state.header()),
                    hash,
                })
            })
            .await
    }

    async fn hash_kv(&self, r: Request<HashKvRequest>) -> Result<Response<HashKvResponse>, Status> {
        let rev = r.into_inner().revision;
        self.0
            .unary(SERVICE, "HashKV", async {
                let (hash, compact_revision, hash_revision) = self.hash_at(rev)?;
                Ok(HashKvResponse {
                    header: Some(self.0.state.header()),
                    hash,
                    compact_revision,
                    hash_revision,
                })
            })
            .await
    }

    type SnapshotStream =
        Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send + 'static>>;

    async fn snapshot(
        &self,
        _r: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        Err(Status::unimplemented(
            "etcdserver: snapshot streaming is not supported by kvstore yet",
        ))
    }

    async fn move_leader(
        &self,
        r: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = r.into_inner().target_id;
        self.0
            .unary(SERVICE, "MoveLeader", async {
                if target != self.0.state.member_id.load(Relaxed) {
                    return Err(EtcdError::MemberNotFound);
                }
                Ok(MoveLeaderResponse {
                    header: Some(self.0.state.header()),
                })
            })
            .await
    }
}
