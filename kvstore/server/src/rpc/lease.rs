//! `etcdserverpb.Lease`: Grant and Revoke go through raft; KeepAlive, TimeToLive and Leases are answered by
//! the lessor (only the leader keeps deadlines).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use kvstore_proto::etcdserverpb::{
    lease_server::Lease, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, LeaseStatus, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use kvstore_proto::internal::raft_request::Request as Raft;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{unexpected, Ctx};
use crate::apply::Response as Applied;
use crate::error::EtcdError;
use crate::lease::MAX_LEASE_TTL;
use crate::peer::forward::Kind;

pub struct LeaseService {
    pub ctx: Arc<Ctx>,
    /// Lease ids this member hands out: member-id bits, time bits, then a counter (etcd's `idutil` scheme),
    /// so members and restarts do not collide.
    next_id: AtomicU64,
}

impl LeaseService {
    pub fn new(ctx: Arc<Ctx>) -> Self {
        let member = ctx.state.member_id.load(Relaxed);
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let start = ((member & 0xffff) << 48) | ((ms & 0xff_ffff_ffff) << 8);
        LeaseService {
            ctx,
            next_id: AtomicU64::new(start),
        }
    }

    fn new_id(&self) -> i64 {
        loop {
            // Positive, non-zero i64.
            let id = (self.next_id.fetch_add(1, Relaxed) & (i64::MAX as u64)) as i64;
            let taken = self
                .ctx
                .lessor
                .lock()
                .map(|l| l.exists(id))
                .unwrap_or(false);
            if id != 0 && !taken {
                return id;
            }
        }
    }
}

/// Renews lease `id` on this member: its TTL, or `NotLeader` on a follower (lease deadlines live on the leader).
pub(super) fn renew_here(ctx: &Ctx, id: i64) -> Result<i64, EtcdError> {
    ctx.lessor
        .lock()
        .map_err(|_| EtcdError::Stopped)
        .and_then(|mut l| l.renew(id, Instant::now()))
}

/// The answer to a keep-alive of lease `id` that `renewed` says how went. etcd answers one for an unknown lease
/// with TTL 0 rather than an error.
pub(super) fn keep_alive_reply(
    ctx: &Ctx,
    id: i64,
    renewed: Result<i64, EtcdError>,
) -> Result<LeaseKeepAliveResponse, Status> {
    let ttl = match renewed {
        Ok(ttl) => ttl,
        Err(EtcdError::LeaseNotFound) => 0,
        Err(e) => return Err(e.into()),
    };
    Ok(LeaseKeepAliveResponse {
        header: Some(ctx.state.header()),
        id,
        ttl,
    })
}

/// Serves one keep-alive stream (gRPC's, or the JSON gateway's): each request renews its lease, forwarded to the
/// leader when this member is not it, and is answered in order. Ends when the client's side does, as etcd's does.
pub fn keep_alive<S>(
    ctx: Arc<Ctx>,
    mut inbound: S,
) -> ReceiverStream<Result<LeaseKeepAliveResponse, Status>>
where
    S: Stream<Item = Result<LeaseKeepAliveRequest, Status>> + Send + Unpin + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(Ok(ka)) = inbound.next().await {
            let renewed = match renew_here(&ctx, ka.id) {
                Err(EtcdError::NotLeader) => forward_keep_alive(&ctx, ka.id).await,
                other => other,
            };
            if tx
                .send(keep_alive_reply(&ctx, ka.id, renewed))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    ReceiverStream::new(rx)
}

const SERVICE: &str = "etcdserverpb.Lease";

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let mut g = req.into_inner();
        self.ctx
            .unary(SERVICE, "LeaseGrant", async {
                if g.ttl > MAX_LEASE_TTL {
                    return Err(EtcdError::LeaseTtlTooLarge);
                }
                if g.id == 0 {
                    g.id = self.new_id();
                }
                self.ctx.check_quota(crate::quota::lease_cost()).await?;
                match self.ctx.node.propose(Raft::LeaseGrant(g)).await? {
                    Applied::LeaseGrant(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
            })
            .await
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let r = req.into_inner();
        self.ctx
            .unary(SERVICE, "LeaseRevoke", async {
                match self.ctx.node.propose(Raft::LeaseRevoke(r)).await? {
                    Applied::LeaseRevoke(resp) => Ok(resp),
                    _ => Err(unexpected()),
                }
            })
            .await
    }

    type LeaseKeepAliveStream =
        Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send + 'static>>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        self.ctx.refuse_learner()?;
        Ok(Response::new(Box::pin(keep_alive(
            self.ctx.clone(),
            req.into_inner(),
        ))))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        // Only the leader knows how long a lease has left.
        if let Some(answer) = self.ctx.relay(Kind::LeaseTimeToLive, &req).await {
            return answer;
        }
        let r = req.into_inner();
        self.ctx
            .unary(SERVICE, "LeaseTimeToLive", async {
                self.ctx.node.read_index().await?;
                let info = self
                    .ctx
                    .lessor
                    .lock()
                    .map_err(|_| EtcdError::Stopped)?
                    .time_to_live(r.id, Instant::now());
                let header = Some(self.ctx.state.header());
                Ok(match info {
                    Some(i) => LeaseTimeToLiveResponse {
                        header,
                        id: r.id,
                        ttl: i.remaining,
                        granted_ttl: i.granted,
                        keys: if r.keys { i.keys } else { Vec::new() },
                    },
                    None => LeaseTimeToLiveResponse {
                        header,
                        id: r.id,
                        ttl: -1,
                        granted_ttl: 0,
                        keys: Vec::new(),
                    },
                })
            })
            .await
    }

    async fn lease_leases(
        &self,
        _req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.ctx
            .unary(SERVICE, "LeaseLeases", async {
                self.ctx.node.read_index().await?;
                let ids = self
                    .ctx
                    .lessor
                    .lock()
                    .map_err(|_| EtcdError::Stopped)?
                    .ids();
                Ok(LeaseLeasesResponse {
                    header: Some(self.ctx.state.header()),
                    leases: ids.into_iter().map(|id| LeaseStatus { id }).collect(),
                })
            })
            .await
    }
}

/// Renews a lease through the leader (this member is a follower). Returns the TTL, 0 for an unknown lease.
async fn forward_keep_alive(ctx: &Ctx, id: i64) -> Result<i64, EtcdError> {
    let req = LeaseKeepAliveRequest { id };
    ctx.leader
        .to_leader::<_, LeaseKeepAliveResponse>(Kind::LeaseKeepAlive, &req)
        .await
        .map(|resp| resp.ttl)
        .map_err(|s| forward_error(&s))
}

/// A forwarded request's failure, as this member reports it.
fn forward_error(s: &Status) -> EtcdError {
    match s.code() {
        tonic::Code::NotFound => EtcdError::LeaseNotFound,
        tonic::Code::Unavailable => EtcdError::NoLeader,
        _ => EtcdError::InvalidArgument(s.message().to_string()),
    }
}
