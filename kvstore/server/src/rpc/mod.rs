//! The etcd v3 gRPC services, one file per service. Each handler is thin, as in etcd's `v3rpc`: check the
//! request, read from a snapshot or propose through raft, map the error, fill the header.

pub mod auth;
pub mod batched_io;
pub mod cluster;
pub mod election;
pub mod forwarded;
pub mod kv;
pub mod lease;
pub mod local;
pub mod lock;
pub mod maintenance;
pub mod watch;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvstore_proto::etcdserverpb::{alarm_request::AlarmAction, AlarmRequest, AlarmType};
use kvstore_proto::internal::raft_request::Request as Raft;
use tonic::{Response, Status};
use tracing::Instrument;

use crate::error::EtcdError;
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::node::NodeHandle;
use crate::state::ServerState;
use crate::storage::Db;
use crate::watch::WatchHub;

/// What every service needs.
pub struct Ctx {
    pub node: NodeHandle,
    pub db: Arc<Db>,
    pub state: Arc<ServerState>,
    pub lessor: Arc<Mutex<Lessor>>,
    pub hub: WatchHub,
    pub metrics: Arc<Metrics>,
    /// How often watchers that asked for progress notifications get one.
    pub progress_interval: Duration,
    /// The way to the leader's peer URL, for the few requests only the leader can answer (lease keep-alive and
    /// time-to-live: lease deadlines live on the leader; membership changes), as etcd forwards lease renewals.
    pub leader: crate::peer::forward::Forwarder,
    /// Unary requests being handled, so that client connections know when replies are about to pile up.
    pub in_flight: Arc<batched_io::InFlight>,
    /// `--quota-backend-bytes`; `None` when off.
    pub quota: Option<u64>,
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
}

/// Marks a request one member handed to another ([`forwarded`]), so that it is not handed on again (leaders
/// change).
const HANDED_OVER: &str = "x-kvstore-handed-over";

/// `msg` as a request marked as handed over by another member.
pub fn handed_over<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        HANDED_OVER,
        tonic::metadata::MetadataValue::from_static("1"),
    );
    r
}

/// A proposal answered with another request's kind of result: a bug, reported as a storage failure.
fn unexpected() -> EtcdError {
    EtcdError::Storage("unexpected apply result".into())
}

/// What a learner answers (etcd 3.4's `isRPCSupportedForLearner`): Status, and Range — serializable only, which
/// the Range handler checks. Everything else, streams included, is refused so that clients move to a voter.
fn learner_may(service: &str, method: &str) -> bool {
    matches!(
        (service, method),
        ("etcdserverpb.Maintenance", "Status") | ("etcdserverpb.KV", "Range")
    )
}

/// etcd's `hasleader` interceptor: a request carrying the metadata `hasleader: true` (etcd clients add it with
/// `WithRequireLeader`; etcdctl's watch does) is refused with "etcdserver: no leader" while this member knows no
/// leader, instead of waiting for an election to end as other requests do.
#[derive(Clone)]
pub struct RequireLeader(pub Arc<ServerState>);

/// The metadata key and value of [`RequireLeader`] (etcd's `rpctypes.MetadataRequireLeaderKey`).
const REQUIRE_LEADER: (&str, &str) = ("hasleader", "true");

impl tonic::service::Interceptor for RequireLeader {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let wants_leader = req
            .metadata()
            .get(REQUIRE_LEADER.0)
            .is_some_and(|v| v == REQUIRE_LEADER.1);
        if wants_leader && self.0.leader.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return Err(EtcdError::NoLeader.into());
        }
        Ok(req)
    }
}

impl Ctx {
    /// etcd's quota check before a write that adds `cost` bytes: if the database would outgrow the quota, this
    /// member's NOSPACE alarm is raised (once) and the write refused.
    pub async fn check_quota(&self, cost: u64) -> Result<(), EtcdError> {
        if crate::quota::fits(self.quota, self.state.db_size.load(Ordering::Relaxed), cost) {
            return Ok(());
        }
        let me = self.state.member_id.load(Ordering::Relaxed);
        if !self.state.alarms().is_raised(me, AlarmType::Nospace) {
            let raise = AlarmRequest {
                action: AlarmAction::Activate as i32,
                member_id: me,
                alarm: AlarmType::Nospace as i32,
            };
            if let Err(e) = self.node.propose(Raft::Alarm(raise)).await {
                tracing::warn!(error = %e, "raising the NOSPACE alarm failed");
            }
        }
        Err(EtcdError::NoSpace)
    }

    /// Refuses a stream (Watch, LeaseKeepAlive) on a learner.
    pub fn refuse_learner(&self) -> Result<(), Status> {
        if self.state.is_learner() {
            return Err(EtcdError::NotSupportedForLearner.into());
        }
        Ok(())
    }

    /// The leader's answer to `r` when this member should hand it over (it does not lead, and `r` was not
    /// handed over already), sent as `kind` over the peer URL; `None` when this member answers `r` itself.
    pub async fn relay<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        kind: crate::peer::forward::Kind,
        r: &tonic::Request<Req>,
    ) -> Option<Result<Response<Resp>, Status>> {
        if self.state.is_leader.load(Ordering::Relaxed) || r.metadata().get(HANDED_OVER).is_some() {
            return None;
        }
        Some(
            self.leader
                .to_leader(kind, r.get_ref())
                .await
                .map(Response::new),
        )
    }

    /// Runs one unary handler inside a tracing span, records its latency and status code.
    pub async fn unary<T, F>(
        &self,
        service: &'static str,
        method: &'static str,
        f: F,
    ) -> Result<Response<T>, Status>
    where
        F: Future<Output = Result<T, EtcdError>>,
    {
        let start = Instant::now();
        let in_flight = self.in_flight.enter();
        let res = if !learner_may(service, method) && self.state.is_learner() {
            Err(EtcdError::NotSupportedForLearner)
        } else {
            f.instrument(tracing::debug_span!("rpc", service, method))
                .await
        };
        drop(in_flight);
        let code = match &res {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        };
        self.metrics
            .observe(service, method, code, start.elapsed().as_secs_f64());
        if let Err(e) = &res {
            tracing::debug!(service, method, error = %e, "request failed");
        }
        res.map(Response::new).map_err(Status::from)
    }
}
