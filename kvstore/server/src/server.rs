//! Wiring: opens the member's storage, bootstraps or restores membership, starts the raft thread, the
//! background compactor, the lease expiry loop, and serves gRPC and HTTP until shutdown.
//! [`Server::start`] takes already-bound listeners, so tests bind port 0 and drive a real server.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvstore_proto::etcdserverpb::{
    auth_server::AuthServer, cluster_server::ClusterServer, kv_server::KvServer,
    lease_server::LeaseServer, maintenance_server::MaintenanceServer, watch_server::WatchServer,
    LeaseRevokeRequest,
};
use kvstore_proto::internal::raft_request::Request as Raft;
use raft::prelude::ConfState;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apply::{Applier, CompactJob};
use crate::config::{ClusterState, ServerConfig};
use crate::kv_ops::MAX_REQUEST_BYTES;
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::node::{Node, NodeConfig, NodeHandle};
use crate::rpc::{self, Ctx};
use crate::state::{Membership, ServerState};
use crate::storage::{meta, raft_log::RaftLog, Db, StorageError, CF_META};
use crate::transport::NoPeers;
use crate::watch::WatchHub;

/// Why the server could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("{0}")]
    Cluster(String),
    #[error("gRPC server: {0}")]
    Grpc(#[from] tonic::transport::Error),
}

/// A running member.
pub struct Server {
    pub state: Arc<ServerState>,
    pub node: NodeHandle,
    /// Resolves with the raft thread's outcome: `Err` means a storage failure stopped the member.
    raft_done: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long a single-member server waits to become leader before serving anyway.
const LEADER_WAIT: Duration = Duration::from_secs(5);

impl Server {
    /// Starts the member on already-bound listeners.
    pub async fn start(
        cfg: ServerConfig,
        client: Vec<TcpListener>,
        metrics_listeners: Vec<TcpListener>,
    ) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| ServerError::DataDir {
            path: cfg.data_dir.display().to_string(),
            source,
        })?;
        let db = Db::open(&cfg.data_dir)?;
        let membership = load_or_bootstrap_membership(&db, &cfg)?;
        if membership.members.len() > 1 {
            return Err(ServerError::Cluster(format!(
                "--initial-cluster lists {} members; this kvstore runs single-member clusters only (peer transport not built yet)",
                membership.members.len()
            )));
        }
        let mut log = RaftLog::open(db.clone())?;
        if !log.is_bootstrapped() {
            let ids = |learner: bool| -> Vec<u64> {
                membership
                    .members
                    .iter()
                    .filter(|m| m.is_learner == learner)
                    .map(|m| m.id)
                    .collect()
            };
            let cs = ConfState {
                voters: ids(false),
                learners: ids(true),
                ..Default::default()
            };
            log.bootstrap(cs)?;
        }
        let state = Arc::new(ServerState::default());
        state.cluster_id.store(membership.cluster_id, Relaxed);
        state.member_id.store(cfg.member_id, Relaxed);
        if let Ok(mut m) = state.members.write() {
            *m = membership.members.clone();
        }
        let metrics = Metrics::new();
        let hub = WatchHub::default();
        // etcd: minimum lease TTL = 1.5 × election timeout, rounded up to seconds.
        let election = cfg.tick * cfg.election_ticks as u32;
        let min_ttl = (election.as_secs_f64() * 1.5).ceil() as i64;
        let lessor = Arc::new(Mutex::new(Lessor::new(min_ttl.max(1))));
        let compactor = spawn_compactor(db.clone());
        let applier = Applier::open(
            db.clone(),
            lessor.clone(),
            state.clone(),
            hub.clone(),
            compactor,
        )?;
        let node_cfg = NodeConfig {
            id: cfg.member_id,
            tick: cfg.tick,
            election_ticks: cfg.election_ticks,
        };
        let (node, handle) = Node::new(
            &node_cfg,
            log,
            db.clone(),
            applier,
            Box::new(NoPeers),
            state.clone(),
            lessor.clone(),
            metrics.clone(),
        )?;
        let (raft_tx, raft_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("raft".into())
            .spawn(move || {
                let res = node.run().map_err(|e| e.to_string());
                if let Err(e) = &res {
                    tracing::error!(error = %e, "raft loop stopped on a storage failure");
                }
                let _ = raft_tx.send(res);
            })
            .map_err(|source| ServerError::DataDir {
                path: "raft thread".into(),
                source,
            })?;

        let deadline = Instant::now() + LEADER_WAIT;
        while state.leader.load(Relaxed) == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            node: handle.clone(),
            db: db.clone(),
            state: state.clone(),
            lessor: lessor.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            progress_interval: Duration::from_secs(600),
        });
        let mut tasks = Vec::new();
        for listener in client {
            let addr = listener.local_addr().ok();
            let router = tonic::transport::Server::builder()
                .add_service(
                    KvServer::new(rpc::kv::KvService(ctx.clone()))
                        .max_decoding_message_size(MAX_REQUEST_BYTES + (512 << 10)),
                )
                .add_service(WatchServer::new(rpc::watch::WatchService(ctx.clone())))
                .add_service(LeaseServer::new(rpc::lease::LeaseService::new(ctx.clone())))
                .add_service(ClusterServer::new(rpc::cluster::ClusterService(
                    ctx.clone(),
                )))
                .add_service(MaintenanceServer::new(
                    rpc::maintenance::MaintenanceService(ctx.clone()),
                ))
                .add_service(AuthServer::new(rpc::auth::AuthService));
            let shutdown = wait_stop(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                // Small gRPC replies must not wait for Nagle's algorithm (40 ms with delayed ACKs).
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                if let Err(e) = router
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await
                {
                    tracing::error!(?addr, error = %e, "gRPC server failed");
                }
            }));
        }
        for listener in metrics_listeners {
            tasks.push(tokio::spawn(crate::http::serve(
                listener,
                handle.clone(),
                metrics.clone(),
                wait_stop(stop_rx.clone()),
            )));
        }
        tasks.push(tokio::spawn(expire_leases(
            handle.clone(),
            lessor,
            wait_stop(stop_rx.clone()),
        )));
        tasks.push(tokio::spawn(refresh_gauges(
            db,
            state.clone(),
            hub,
            metrics,
            wait_stop(stop_rx),
        )));
        tracing::info!(
            name = %cfg.name,
            member = format!("{:x}", cfg.member_id),
            cluster = format!("{:x}", membership.cluster_id),
            data_dir = %cfg.data_dir.display(),
            "kvstore member started"
        );
        Ok(Server {
            state,
            node: handle,
            raft_done: Some(raft_rx),
            stop,
            tasks,
        })
    }

    /// Serves until `shutdown` resolves (Ok) or the raft thread stops on a storage failure (Err).
    pub async fn serve_until(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let raft_done = self.raft_done.take();
        let outcome = tokio::select! {
            _ = shutdown => Ok(()),
            res = async { match raft_done { Some(rx) => rx.await, None => std::future::pending().await } } => match res {
                Ok(Err(e)) => Err(ServerError::Cluster(format!("member stopped: {e}"))),
                _ => Err(ServerError::Cluster("raft loop ended".into())),
            },
        };
        self.stop().await;
        outcome
    }

    /// Stops serving.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Membership persisted at bootstrap wins over flags on restart, as in etcd.
fn load_or_bootstrap_membership(db: &Db, cfg: &ServerConfig) -> Result<Membership, ServerError> {
    if let Some(raw) = db.get_cf(CF_META, meta::MEMBERSHIP)? {
        let m: Membership = serde_json::from_slice(&raw).map_err(|e| {
            ServerError::Storage(StorageError::Corrupt {
                path: db.path.clone(),
                what: format!("membership: {e}"),
            })
        })?;
        if !m.members.iter().any(|x| x.id == cfg.member_id) {
            return Err(ServerError::Cluster(format!(
                "data dir {} belongs to another member (this member's id {:x} is not among {:?})",
                cfg.data_dir.display(),
                cfg.member_id,
                m.members
                    .iter()
                    .map(|x| format!("{:x}", x.id))
                    .collect::<Vec<_>>()
            )));
        }
        return Ok(m);
    }
    if cfg.cluster_state == ClusterState::Existing {
        return Err(ServerError::Cluster(
            "--initial-cluster-state=existing needs a member that was added to a running cluster; none is known here".into(),
        ));
    }
    let m = cfg.initial.clone();
    let raw = serde_json::to_vec(&m).map_err(|e| ServerError::Cluster(e.to_string()))?;
    let mut wb = rocksdb::WriteBatch::default();
    wb.put_cf(db.cf(CF_META)?, meta::MEMBERSHIP, raw);
    db.write(wb, true)?;
    Ok(m)
}

fn spawn_compactor(db: Arc<Db>) -> std::sync::mpsc::Sender<CompactJob> {
    let (tx, rx) = std::sync::mpsc::channel::<CompactJob>();
    let spawned = std::thread::Builder::new().name("compactor".into()).spawn(move || {
        while let Ok((rev, done)) = rx.recv() {
            let t = Instant::now();
            match crate::mvcc::compact::compact(&db, rev) {
                Ok(removed) => tracing::info!(revision = rev, removed, took = ?t.elapsed(), "compaction finished"),
                Err(e) => tracing::error!(revision = rev, error = %e, "compaction failed"),
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the compactor thread; compactions stay logical only");
    }
    tx
}

/// The leader proposes a revoke for every lease whose time ran out.
async fn expire_leases(
    node: NodeHandle,
    lessor: Arc<Mutex<Lessor>>,
    stop: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let expired = match lessor.lock() {
            Ok(mut l) => l.take_expired(Instant::now(), Duration::from_secs(3)),
            Err(_) => return,
        };
        for id in expired {
            let node = node.clone();
            tokio::spawn(async move {
                match node
                    .propose(Raft::LeaseRevoke(LeaseRevokeRequest { id }))
                    .await
                {
                    Ok(_) => tracing::debug!(lease = format!("{id:x}"), "expired lease revoked"),
                    Err(e) => {
                        tracing::debug!(lease = format!("{id:x}"), error = %e, "revoking expired lease failed")
                    }
                }
            });
        }
    }
}

async fn refresh_gauges(
    db: Arc<Db>,
    state: Arc<ServerState>,
    hub: WatchHub,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        metrics.db_size.set(db.size_bytes() as i64);
        let (memtables, cache, readers) = db.memory_bytes();
        metrics
            .rocksdb_memory
            .with_label_values(&["memtables"])
            .set(memtables as i64);
        metrics
            .rocksdb_memory
            .with_label_values(&["block_cache"])
            .set(cache as i64);
        metrics
            .rocksdb_memory
            .with_label_values(&["table_readers"])
            .set(readers as i64);
        metrics.db_size_in_use.set(db.size_in_use_bytes() as i64);
        metrics.watchers.set(hub.watchers.load(Relaxed));
        metrics
            .current_revision
            .set(state.revision.load(Relaxed) as f64);
    }
}
