//! `etcdserverpb.Maintenance`: Status, Alarm (list, raise, disarm: see [`crate::quota`]), Defragment (a RocksDB
//! manual compaction), Hash/HashKV, MoveLeader, and Snapshot (a backup stream).

use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use futures::Stream;
use kvstore_proto::etcdserverpb::{
    alarm_request::AlarmAction, maintenance_server::Maintenance, AlarmRequest, AlarmResponse,
    AlarmType, DefragmentRequest, DefragmentResponse, HashKvRequest, HashKvResponse, HashRequest,
    HashResponse, MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse,
    StatusRequest, StatusResponse,
};
use sha2::Digest;
use tonic::{Request, Response, Status};

use kvstore_proto::internal::raft_request::Request as Raft;

use super::{unexpected, Ctx};
use crate::apply::Response as Applied;
use crate::error::EtcdError;
use crate::mvcc::read::Reader;
use crate::storage::Db;

/// The etcd API level kvstore speaks; clients use it to pick features.
pub const API_VERSION: &str = "3.4.0";

pub struct MaintenanceService(pub Arc<Ctx>);

const CHUNK: usize = 1 << 20;

/// Turns the snapshot writer's bytes into `SnapshotResponse` chunks, hashing them on the way.
struct ChunkSender {
    tx: tokio::sync::mpsc::Sender<Result<SnapshotResponse, Status>>,
    buf: Vec<u8>,
    hasher: sha2::Sha256,
    header: Option<kvstore_proto::etcdserverpb::ResponseHeader>,
}

impl ChunkSender {
    fn send_buf(&mut self) -> std::io::Result<()> {
        let blob = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let resp = SnapshotResponse {
            header: self.header.take(),
            remaining_bytes: 0,
            blob,
            version: API_VERSION.into(),
        };
        self.tx
            .blocking_send(Ok(resp))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl std::io::Write for ChunkSender {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(b);
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SERVICE: &str = "etcdserverpb.Maintenance";

/// How long MoveLeader waits for the target to lead.
const LEADER_TRANSFER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// HashKV's answer for `rev` (0: the current revision): the hash of the history up to it, the compacted
/// revision as etcd reports it (-1 for a store never compacted), and the revision hashed. Also what the
/// corruption checks compare (see [`crate::corrupt_check`]).
pub fn hash_at(db: &Arc<Db>, rev: i64) -> Result<(u32, i64, i64), EtcdError> {
    let snap = db.db.snapshot();
    let reader = Reader::at_snapshot(db, &snap);
    let current = reader.current_revision()?;
    let compacted = reader.compact_revision()?;
    let rev = crate::kv_ops::read_revision(rev, current, compacted)?;
    let reported = if compacted == 0 { -1 } else { compacted };
    Ok((reader.hash_kv(rev)?, reported, rev))
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, r: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let a = r.into_inner();
        self.0
            .unary(SERVICE, "Alarm", async {
                if a.action == AlarmAction::Get as i32 {
                    let kind = AlarmType::try_from(a.alarm).unwrap_or(AlarmType::None);
                    return Ok(AlarmResponse {
                        header: Some(self.0.state.header()),
                        alarms: self.0.state.alarms().get(kind),
                    });
                }
                match self.0.node.propose(Raft::Alarm(a)).await? {
                    Applied::Alarm(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
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
                    errors: s.alarms().describe(),
                    db_size_in_use: (self.0.db.size_in_use_bytes() as i64).min(db_size),
                    is_learner: s
                        .membership()
                        .get(s.member_id.load(Relaxed))
                        .is_some_and(|m| m.is_learner),
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
                let (hash, _, _) = hash_at(&self.0.db, 0)?;
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
                let (hash, compact_revision, hash_revision) = hash_at(&self.0.db, rev)?;
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

    /// A backup of the whole store at one point in time, streamed in 1 MiB chunks from a RocksDB snapshot, with
    /// the trailer `etcdctl snapshot save` checks (see [`crate::snapshot::backup_trailer`]).
    async fn snapshot(
        &self,
        _r: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let db = self.0.db.clone();
        let state = self.0.state.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = ChunkSender {
                tx: tx.clone(),
                buf: Vec::with_capacity(CHUNK),
                hasher: sha2::Sha256::new(),
                header: Some(state.header()),
            };
            let snap = db.db.snapshot();
            let res = crate::snapshot::write_state(&db, &snap, &mut out);
            match res {
                Ok(len) => {
                    let trailer = crate::snapshot::backup_trailer(out.hasher.clone(), len);
                    out.buf.extend_from_slice(&trailer);
                    let _ = out.send_buf();
                }
                Err(e) => {
                    let _ = tx
                        .blocking_send(Err(Status::internal(format!("etcdserver: snapshot: {e}"))));
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn move_leader(
        &self,
        r: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = r.into_inner().target_id;
        self.0
            .unary(SERVICE, "MoveLeader", async {
                let state = &self.0.state;
                if state.leader.load(Relaxed) != state.member_id.load(Relaxed) {
                    return Err(EtcdError::NotLeader);
                }
                if state.membership().get(target).is_none_or(|m| m.is_learner) {
                    return Err(EtcdError::BadLeaderTransferee);
                }
                self.0.node.transfer_leader(target)?;
                // raft abandons a transfer after an election timeout; give it a few before saying so.
                let deadline = std::time::Instant::now() + LEADER_TRANSFER_WAIT;
                while state.leader.load(Relaxed) != target {
                    if std::time::Instant::now() >= deadline {
                        return Err(EtcdError::LeaderTransferTimeout);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Ok(MoveLeaderResponse {
                    header: Some(state.header()),
                })
            })
            .await
    }
}
