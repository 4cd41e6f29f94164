//! Wiring: opens the member's storage, bootstraps or restores membership (or asks the cluster it joins), starts
//! the raft thread with the peer transport, the background compactor, the lease expiry loop, publishes this
//! member's attributes, and serves peers, gRPC and HTTP until shutdown.
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
use kvstore_proto::v3electionpb::election_server::ElectionServer;
use kvstore_proto::v3lockpb::lock_server::LockServer;
use raft::prelude::ConfState;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apply::{Applier, CompactJob};
use crate::config::{ClusterState, ServerConfig};
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::node::{Exit, Node, NodeConfig, NodeHandle};
use crate::peer::receiver::ReceiverCtx;
use crate::peer::sender::PeerTransport;
use crate::rpc::{self, Ctx};
use crate::snapshot::SnapshotFiles;
use crate::state::{Membership, ServerState};
use crate::storage::{raft_log::RaftLog, Db, StorageError, CF_RAFT};
use crate::transport::{NoPeers, Transport};
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
    #[error("this member was removed from the cluster and stopped; to rejoin, remove its data dir and add it again with `kvctl member add`")]
    Removed,
}

/// A running member.
pub struct Server {
    pub state: Arc<ServerState>,
    pub node: NodeHandle,
    /// Resolves with the raft thread's outcome: `Err` means a storage failure stopped the member.
    raft_done: Option<tokio::sync::oneshot::Receiver<Result<Exit, String>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long a single-member server waits to become leader before serving anyway.
const LEADER_WAIT: Duration = Duration::from_secs(5);

impl Server {
    /// Starts the member on already-bound listeners: `client[i]` bound for `cfg.client_addrs[i]` (which says
    /// whether it speaks TLS), `peer[i]` for `cfg.peer_addrs[i]`.
    pub async fn start(
        cfg: ServerConfig,
        client: Vec<TcpListener>,
        peer: Vec<TcpListener>,
        metrics_listeners: Vec<TcpListener>,
    ) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| ServerError::DataDir {
            path: cfg.data_dir.display().to_string(),
            source,
        })?;
        let db = Db::open_with_wal(&cfg.data_dir, cfg.wal_dir.as_deref())?;
        db.presize_wal()?;
        let (membership, me) = load_or_bootstrap_membership(&db, &cfg).await?;
        // A member added at runtime has the id the cluster gave it, not the one its flags hash to.
        let mut cfg = cfg;
        cfg.member_id = me;
        let snap_dir = cfg.data_dir.join("snap");
        let mut log = RaftLog::open(db.clone(), SnapshotFiles::new(snap_dir.clone()))?;
        let joining = cfg.cluster_state == ClusterState::Existing;
        if !log.is_bootstrapped() && !joining {
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
        state.set_membership(membership.clone());
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
        // Requests to other members over the peer URL: the initial corruption check's, then clients' that
        // belong to the leader.
        let forwarder = crate::peer::forward::Forwarder::new(
            cfg.member_id,
            state.clone(),
            cfg.peer_tls.client.clone(),
        );
        let peers = membership.others(cfg.member_id);
        if cfg.initial_corrupt_check && !peers.is_empty() {
            crate::corrupt_check::check(&db, &forwarder, &peers)
                .await
                .map_err(ServerError::Cluster)?;
        }
        if cfg.force_new_cluster {
            if !log.conf_state().voters.contains(&cfg.member_id) {
                // Removing every voter would leave a cluster nobody can lead.
                return Err(ServerError::Cluster(format!(
                    "--force-new-cluster: member {:x} is not a voting member (a learner, or not in the cluster); run it on a voting member",
                    cfg.member_id
                )));
            }
            let removed = crate::force_new_cluster::force(
                &mut log,
                &db,
                cfg.member_id,
                &membership,
                applier.applied_index(),
            )?;
            let removed: Vec<String> = removed.iter().map(|id| format!("{id:x}")).collect();
            tracing::warn!(
                member = format!("{:x}", cfg.member_id),
                cluster = format!("{:x}", membership.cluster_id),
                ?removed,
                "--force-new-cluster: restarting as the cluster's only member"
            );
        }
        let node_cfg = NodeConfig {
            id: cfg.member_id,
            tick: cfg.tick,
            election_ticks: cfg.election_ticks,
            snapshot_count: cfg.snapshot_count,
            max_request_bytes: cfg.max_request_bytes,
            strict_reconfig_check: cfg.strict_reconfig_check,
            pre_vote: cfg.pre_vote,
        };
        let single = membership.members.len() == 1 && !joining;
        let (node, handle) = Node::new(
            &node_cfg,
            log,
            db.clone(),
            applier,
            state.clone(),
            lessor.clone(),
            metrics.clone(),
        )?;
        let transport: Box<dyn Transport> = if single && peer.is_empty() {
            Box::new(NoPeers)
        } else {
            Box::new(PeerTransport::new(
                cfg.member_id,
                state.clone(),
                handle.clone(),
                metrics.clone(),
                cfg.peer_tls.client.clone(),
                tokio::runtime::Handle::current(),
            ))
        };
        let (raft_tx, raft_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("raft".into())
            .spawn(move || {
                let res = node.run(transport).map_err(|e| e.to_string());
                if let Err(e) = &res {
                    tracing::error!(error = %e, "raft loop stopped on a storage failure");
                }
                let _ = raft_tx.send(res);
            })
            .map_err(|source| ServerError::DataDir {
                path: "raft thread".into(),
                source,
            })?;

        if single {
            // A lone member leads at once; serve when it does. A member of a larger cluster serves right away
            // and answers "no leader" until one is elected.
            let deadline = Instant::now() + LEADER_WAIT;
            while state.leader.load(Relaxed) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            node: handle.clone(),
            db: db.clone(),
            state: state.clone(),
            lessor: lessor.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            progress_interval: cfg.watch_progress_notify_interval,
            leader: forwarder,
            in_flight: Arc::default(),
            quota: cfg.quota_bytes,
            max_txn_ops: cfg.max_txn_ops,
        });
        match cfg.quota_bytes {
            None => tracing::info!("no space quota (--quota-backend-bytes is negative)"),
            Some(q) if q > crate::quota::MAX_QUOTA_BYTES => tracing::warn!(
                quota = q,
                max = crate::quota::MAX_QUOTA_BYTES,
                "--quota-backend-bytes exceeds the maximum etcd recommends"
            ),
            Some(_) => {}
        }
        let mut tasks = Vec::new();
        for (listener, listen) in peer.into_iter().zip(&cfg.peer_addrs) {
            let tls = if listen.tls {
                cfg.peer_tls.server.clone()
            } else {
                None
            };
            let rctx = ReceiverCtx {
                node: handle.clone(),
                state: state.clone(),
                snap_dir: snap_dir.clone(),
                metrics: metrics.clone(),
                forward: rpc::forwarded::handler(ctx.clone()),
            };
            tasks.push(tokio::spawn(crate::peer::receiver::serve(
                crate::accept::connections(listener, tls),
                rctx,
                wait_stop(stop_rx.clone()),
            )));
        }
        tasks.push(tokio::spawn(publish_attributes(
            handle.clone(),
            state.clone(),
            cfg.name.clone(),
            cfg.advertise_client_urls.clone(),
            wait_stop(stop_rx.clone()),
        )));
        // gRPC's standard health service, registered as etcd registers it: the server as a whole ("") SERVING.
        // gRPC health probes (grpc_health_probe, Kubernetes' grpc probes) check etcd with it.
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        // One lease service for every listener and the JSON gateway: it hands out lease ids.
        let lease_service = Arc::new(rpc::lease::LeaseService::new(ctx.clone()));
        // Lock and Election call this member's own services in-process, as etcd's do through its v3client.
        let local = rpc::local::Local::new(ctx.clone(), lease_service.clone());
        // A JSON body carries values and keys in base64 (4/3 of their size, plus field names): twice the gRPC
        // message limit lets every request gRPC would take reach the handler, which refuses what is too large.
        let gateway = crate::gateway::Gateway::new(
            ctx.clone(),
            lease_service.clone(),
            2 * (cfg.max_request_bytes + (512 << 10)),
        );
        for (listener, listen) in client.into_iter().zip(&cfg.client_addrs) {
            let addr = listener.local_addr().ok();
            let tls = if listen.tls {
                cfg.client_tls.clone()
            } else {
                None
            };
            let grpc = tonic::service::Routes::new(
                KvServer::new(rpc::kv::KvService(ctx.clone()))
                    .max_decoding_message_size(cfg.max_request_bytes + (512 << 10)),
            )
            .add_service(WatchServer::new(rpc::watch::WatchService(ctx.clone())))
            .add_service(LeaseServer::from_arc(lease_service.clone()))
            .add_service(ClusterServer::new(rpc::cluster::ClusterService(
                ctx.clone(),
            )))
            .add_service(MaintenanceServer::new(
                rpc::maintenance::MaintenanceService(ctx.clone()),
            ))
            .add_service(AuthServer::new(rpc::auth::AuthService))
            .add_service(health_service.clone())
            .add_service(LockServer::new(rpc::lock::LockService(local.clone())))
            .add_service(ElectionServer::new(rpc::election::ElectionService(
                local.clone(),
            )));
            // etcd's plain-HTTP endpoints and its JSON gateway on the same port: HTTP/1 requests reach them,
            // gRPC clients (HTTP/2 with prior knowledge) the services above.
            let web = crate::http::client_service(handle.clone(), state.clone(), metrics.clone());
            let routes = crate::http::CLIENT_PATHS
                .iter()
                .fold(grpc.into_axum_router(), |r, path| {
                    r.route_service(path, web.clone())
                });
            let routes = crate::gateway::ROUTES
                .iter()
                .fold(routes, |r, path| {
                    r.route_service(path, gateway.clone().service())
                })
                .fallback_service(crate::http::client_fallback());
            let router = tonic::transport::Server::builder()
                .accept_http1(true)
                .max_concurrent_streams(cfg.max_concurrent_streams)
                .http2_keepalive_interval(cfg.grpc_keepalive.map(|k| k.interval))
                .http2_keepalive_timeout(cfg.grpc_keepalive.map(|k| k.timeout))
                .layer(tonic::service::InterceptorLayer::new(rpc::RequireLeader(
                    state.clone(),
                )))
                .add_routes(tonic::service::Routes::from(routes));
            let shutdown = wait_stop(stop_rx.clone());
            let in_flight = ctx.in_flight.clone();
            tasks.push(tokio::spawn(async move {
                // Small gRPC replies must not wait for Nagle's algorithm (40 ms with delayed ACKs).
                // Replies of one raft batch leave in one write (see rpc::batched_io).
                let incoming = tokio_stream::StreamExt::map(
                    crate::accept::connections(listener, tls),
                    move |conn| {
                        Ok::<_, std::io::Error>(rpc::batched_io::BatchedWrites::new(
                            conn,
                            in_flight.clone(),
                        ))
                    },
                );
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
                state.clone(),
                metrics.clone(),
                wait_stop(stop_rx.clone()),
            )));
        }
        if let Some(interval) = cfg.corrupt_check_time {
            tasks.push(tokio::spawn(crate::corrupt_check::run_periodic(
                interval,
                db.clone(),
                ctx.leader.clone(),
                handle.clone(),
                state.clone(),
                wait_stop(stop_rx.clone()),
            )));
        }
        if let Some(policy) = cfg.auto_compaction {
            tasks.push(tokio::spawn(crate::auto_compact::run(
                policy,
                handle.clone(),
                state.clone(),
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
            members = membership.members.len(),
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
                Ok(Ok(Exit::Removed)) => Err(ServerError::Removed),
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

/// Membership persisted at bootstrap wins over flags on restart, as in etcd. A new member of a new cluster takes
/// it from the flags; a member joining a running cluster (`--initial-cluster-state existing`) asks the other
/// members listed in `--initial-cluster` and finds itself by its peer URLs.
async fn load_or_bootstrap_membership(
    db: &Db,
    cfg: &ServerConfig,
) -> Result<(Membership, u64), ServerError> {
    let stored_id = db.get_cf(CF_RAFT, MEMBER_ID)?.map(|b| storage_u64(&b));
    if let Some(m) = Membership::load(db)? {
        let me = stored_id.unwrap_or(cfg.member_id);
        if m.removed.contains(&me) {
            return Err(ServerError::Removed);
        }
        if !m.members.iter().any(|x| x.id == me) {
            return Err(ServerError::Cluster(format!(
                "data dir {} belongs to another member (this member's id {:x} is not among {:?})",
                cfg.data_dir.display(),
                me,
                m.members
                    .iter()
                    .map(|x| format!("{:x}", x.id))
                    .collect::<Vec<_>>()
            )));
        }
        return Ok((m, me));
    }
    let (m, me) = if cfg.cluster_state == ClusterState::Existing {
        let others: Vec<String> = cfg
            .initial
            .members
            .iter()
            .filter(|m| m.id != cfg.member_id)
            .flat_map(|m| m.peer_urls.clone())
            .collect();
        let m = crate::peer::receiver::fetch_membership(&others, &cfg.peer_tls.client)
            .await
            .map_err(|e| ServerError::Cluster(format!("--initial-cluster-state=existing: {e}")))?;
        let Some(me) = m
            .members
            .iter()
            .find(|x| x.peer_urls.iter().any(|u| cfg.peer_urls.contains(u)))
        else {
            return Err(ServerError::Cluster(format!(
                "--initial-cluster-state=existing: no member of cluster {:x} has peer URLs {:?}; add this member first (kvctl member add {} --peer-urls={})",
                m.cluster_id,
                cfg.peer_urls,
                cfg.name,
                cfg.peer_urls.join(",")
            )));
        };
        let id = me.id;
        (m, id)
    } else {
        (cfg.initial.clone(), cfg.member_id)
    };
    let mut wb = rocksdb::WriteBatch::default();
    m.put(db, &mut wb)?;
    wb.put_cf(db.cf(CF_RAFT)?, MEMBER_ID, me.to_be_bytes());
    db.write(wb, true)?;
    Ok((m, me))
}

/// This member's id, in the member's own (not replicated) raft family.
const MEMBER_ID: &[u8] = b"member_id";

fn storage_u64(b: &[u8]) -> u64 {
    crate::storage::u64_be(Some(b.to_vec()))
}

/// Publishes this member's name and client URLs to the cluster once it runs (etcd's `publish`), so that
/// `member list` and `endpoint status --cluster` show them on every member. Retries until it is applied.
async fn publish_attributes(
    node: NodeHandle,
    state: Arc<ServerState>,
    name: String,
    client_urls: Vec<String>,
    stop: impl Future<Output = ()>,
) {
    use kvstore_proto::internal::MemberAttributes;
    let me = node.member_id();
    tokio::pin!(stop);
    loop {
        let current = state.membership();
        let Some(m) = current.get(me) else {
            // Not (yet) a member as far as this store knows: a joining member waits for its snapshot.
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
            }
        };
        if m.name == name && m.client_urls == client_urls {
            return;
        }
        if state.leader.load(Relaxed) != 0 {
            let req = Raft::MemberAttributes(MemberAttributes {
                id: me,
                name: name.clone(),
                client_urls: client_urls.clone(),
            });
            match node.propose(req).await {
                Ok(_) => {
                    tracing::info!(%name, ?client_urls, "published this member's attributes");
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "publishing member attributes failed; retrying")
                }
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
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
        let size = db.size_bytes();
        state.db_size.store(size, Relaxed);
        metrics.db_size.set(size as i64);
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
