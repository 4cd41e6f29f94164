//! Prometheus metrics, named as etcd names them (so existing etcd dashboards and alerts work): gRPC requests
//! and latencies per method, raft term/index/leader changes, proposals, fsync durations, db size, watchers.
//!
//! Why the `prometheus` crate: it is the maintained client (TiKV's), with a text encoder that emits the exposition
//! format Prometheus scrapes, and (feature `process`) the standard `process_*` metrics read from /proc.

use std::sync::Arc;

use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub grpc_handled: IntCounterVec,
    pub grpc_seconds: HistogramVec,
    pub has_leader: IntGauge,
    pub is_leader: IntGauge,
    pub leader_changes: IntCounter,
    pub snapshot_sent: IntCounter,
    pub snapshot_received: IntCounter,
    pub peer_sent_failures: IntCounter,
    pub term: IntGauge,
    pub committed_index: IntGauge,
    pub applied_index: IntGauge,
    pub proposals_committed: IntCounter,
    pub proposals_applied: IntCounter,
    pub proposals_pending: IntGauge,
    pub proposals_failed: IntCounter,
    pub wal_fsync_seconds: Histogram,
    pub apply_seconds: Histogram,
    pub db_size: IntGauge,
    pub db_size_in_use: IntGauge,
    pub watchers: IntGauge,
    pub current_revision: Gauge,
    pub rocksdb_memory: prometheus::IntGaugeVec,
}

fn buckets() -> Vec<f64> {
    // 0.1 ms .. ~6.5 s, doubling, like etcd's disk histograms (which start at 1 ms).
    prometheus::exponential_buckets(0.0001, 2.0, 17).unwrap_or_default()
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let grpc_handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "RPCs completed on the server, by method and code.",
            ),
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        )
        .expect("static metric");
        let grpc_seconds = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Latency of RPCs handled by the server.",
            )
            .buckets(buckets()),
            &["grpc_type", "grpc_service", "grpc_method"],
        )
        .expect("static metric");
        let g = |n: &str, h: &str| IntGauge::new(n, h).expect("static metric");
        let c = |n: &str, h: &str| IntCounter::new(n, h).expect("static metric");
        let m = Metrics {
            grpc_handled,
            grpc_seconds,
            has_leader: g(
                "etcd_server_has_leader",
                "Whether a leader exists. 1 is existence, 0 is not.",
            ),
            is_leader: g(
                "etcd_server_is_leader",
                "Whether this member is the leader.",
            ),
            leader_changes: c(
                "etcd_server_leader_changes_seen_total",
                "Number of leader changes seen.",
            ),
            snapshot_sent: c(
                "etcd_network_snapshot_send_success",
                "Snapshots streamed to followers.",
            ),
            snapshot_received: c(
                "etcd_network_snapshot_receive_success",
                "Snapshots received from the leader.",
            ),
            peer_sent_failures: c(
                "etcd_network_peer_sent_failures_total",
                "Raft messages that could not be sent to a peer (connection failed or queue full).",
            ),
            term: g("etcd_server_term", "The current raft term."),
            committed_index: g(
                "etcd_server_proposals_committed_index",
                "The index of the last committed entry.",
            ),
            applied_index: g(
                "etcd_server_proposals_applied_index",
                "The index of the last applied entry.",
            ),
            proposals_committed: c(
                "etcd_server_proposals_committed_total",
                "Consensus proposals committed.",
            ),
            proposals_applied: c(
                "etcd_server_proposals_applied_total",
                "Consensus proposals applied.",
            ),
            proposals_pending: g(
                "etcd_server_proposals_pending",
                "Pending proposals to commit.",
            ),
            proposals_failed: c(
                "etcd_server_proposals_failed_total",
                "Failed proposals seen.",
            ),
            wal_fsync_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "etcd_disk_wal_fsync_duration_seconds",
                    "Latency of synced raft log writes.",
                )
                .buckets(buckets()),
            )
            .expect("static metric"),
            apply_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "etcd_disk_backend_commit_duration_seconds",
                    "Latency of state machine apply batches.",
                )
                .buckets(buckets()),
            )
            .expect("static metric"),
            db_size: g(
                "etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database in bytes.",
            ),
            db_size_in_use: g(
                "etcd_mvcc_db_total_size_in_use_in_bytes",
                "Logically used size of the database.",
            ),
            watchers: g(
                "etcd_debugging_mvcc_watcher_total",
                "Total number of watchers.",
            ),
            current_revision: Gauge::new(
                "etcd_debugging_mvcc_current_revision",
                "The current revision of the store.",
            )
            .expect("static metric"),
            rocksdb_memory: prometheus::IntGaugeVec::new(
                Opts::new(
                    "kvstore_rocksdb_memory_bytes",
                    "Memory RocksDB holds, by kind.",
                ),
                &["kind"],
            )
            .expect("static metric"),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.grpc_handled.clone()),
            Box::new(m.grpc_seconds.clone()),
            Box::new(m.has_leader.clone()),
            Box::new(m.is_leader.clone()),
            Box::new(m.leader_changes.clone()),
            Box::new(m.snapshot_sent.clone()),
            Box::new(m.snapshot_received.clone()),
            Box::new(m.peer_sent_failures.clone()),
            Box::new(m.term.clone()),
            Box::new(m.committed_index.clone()),
            Box::new(m.applied_index.clone()),
            Box::new(m.proposals_committed.clone()),
            Box::new(m.proposals_applied.clone()),
            Box::new(m.proposals_pending.clone()),
            Box::new(m.proposals_failed.clone()),
            Box::new(m.wal_fsync_seconds.clone()),
            Box::new(m.apply_seconds.clone()),
            Box::new(m.db_size.clone()),
            Box::new(m.db_size_in_use.clone()),
            Box::new(m.watchers.clone()),
            Box::new(m.current_revision.clone()),
            Box::new(m.rocksdb_memory.clone()),
        ];
        for col in collectors {
            if let Err(e) = m.registry.register(col) {
                tracing::error!(error = %e, "metric registration failed");
            }
        }
        // process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds, ... as Go's client (etcd)
        // exports them; `etcdctl check datascale` reads the first.
        if let Err(e) = m.registry.register(Box::new(ProcessCollector::for_self())) {
            tracing::error!(error = %e, "process metrics registration failed");
        }
        Arc::new(m)
    }

    /// Records one finished unary RPC.
    pub fn observe(&self, service: &str, method: &str, code: tonic::Code, seconds: f64) {
        self.grpc_handled
            .with_label_values(&["unary", service, method, code_name(code)])
            .inc();
        self.grpc_seconds
            .with_label_values(&["unary", service, method])
            .observe(seconds);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        if let Err(e) = enc.encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// A status code as grpc-go spells it (`OK`, `Canceled`, ...), which is what etcd's `grpc_code` label carries
/// and what etcd dashboards and alerts match on; tonic's `Debug` says `Ok` and `Cancelled`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}
