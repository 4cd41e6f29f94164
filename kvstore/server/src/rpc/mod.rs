//! The etcd v3 gRPC services, one file per service. Each handler is thin, as in etcd's `v3rpc`: check the
//! request, read from a snapshot or propose through raft, map the error, fill the header.

pub mod auth;
pub mod cluster;
pub mod kv;
pub mod lease;
pub mod maintenance;
pub mod watch;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

impl Ctx {
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
        let res = f
            .instrument(tracing::debug_span!("rpc", service, method))
            .await;
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
