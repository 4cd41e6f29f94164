//! # kvstore — Flotilla's etcd v3-compatible replicated key-value store
//!
//! Owns: the cluster's source of truth. Stock etcd clients (etcdctl 3.4, python-etcd3, the `etcd-client` crate)
//! talk to it unchanged over etcd's gRPC API; fleet keeps units and machine presence here, services register and
//! discover each other through watches, and reboot locks live here.
//!
//! ## How a write travels
//! gRPC handler ([`rpc`]) → [`node::NodeHandle::propose`] → the raft thread ([`node`]) batches every queued
//! proposal into one Ready, persists the entries with one synced RocksDB write ([`storage::raft_log`]), then
//! [`apply`] runs them against the MVCC store ([`mvcc`]) and the [`lease`] table in one unsynced batch that
//! carries the applied index, publishes the events to [`watch`]ers and answers each proposer.
//! Reads wait for a ReadIndex round (linearizable) or not (serializable) and read a RocksDB snapshot.
//!
//! ## Layout
//! | module | owns |
//! |---|---|
//! | [`config`] | flags → validated config; etcd-compatible member and cluster ids |
//! | [`config_file`] | `--config-file`: etcd's YAML configuration file in place of the flags |
//! | [`etcd_env`] | `ETCD_*` environment variables (`ETCD_DATA_DIR`…) as etcd reads them, behind `KVSTORE_*` |
//! | [`logging`] | `--logger`, `--log-outputs`, `--log-level`: etcd's log formats and destinations |
//! | [`storage`] | the RocksDB database, column families, the raft log behind `raft::Storage` |
//! | [`mvcc`] | revisions, key index layout, reads at a revision, writes, compaction |
//! | [`kv_ops`] | etcd's request checks, range shaping, txn compares |
//! | [`apply`] | the state machine over committed entries |
//! | [`lease`] | the lessor: leases, attached keys, expiry on the leader |
//! | [`watch`] | event fan-out and per-stream watchers with history catch-up |
//! | [`node`] | the raft-rs `RawNode` Ready loop and its handle |
//! | [`reply_wait`] | how a request (or a peer's answer) waits for the raft thread: spin when alone, not park |
//! | [`transport`] | where outgoing raft messages go (a trait: the peer transport or none) |
//! | [`peer`] | the peer transport: raft messages and snapshot streams between members over TCP or TLS |
//! | [`accept`] | accepting client and peer connections, with the TLS handshake off the accept loop |
//! | [`discovery`] | `--discovery`: members of a new cluster meet under a prefix in a running store |
//! | [`restore`] | `--restore`: a backup becomes a new cluster's data dir |
//! | [`corrupt_check`] | `--experimental-initial-corrupt-check`: a member whose history differs from its peers' does not start |
//! | [`force_new_cluster`] | `--force-new-cluster`: a member that lost its quorum for good restarts alone |
//! | [`snapshot`] | state-machine snapshots: for lagging followers, backups and restores |
//! | [`rpc`] | the gRPC services, one file each |
//! | [`http`] | `/health`, `/metrics`, `/version` |
//! | [`gateway`] | etcd's JSON gateway: `POST /v3/...` with protobuf JSON, calling the same services |
//! | [`reconfig`] | `--strict-reconfig-check`: membership changes that would cost the quorum are refused |
//! | [`quota`] | `--quota-backend-bytes`: request costs, the replicated alarms, what NOSPACE refuses |
//! | [`auto_compact`] | `--auto-compaction-*`: the leader compacts history on a schedule |
//! | [`metrics`] | Prometheus metrics with etcd's names |
//! | [`server`] | wiring and lifecycle |
//!
//! ## Crates and why
//! `raft` (TiKV's raft-rs, a faithful port of etcd's raft), `rocksdb` (atomic multi-family batches, snapshots,
//! bounded memory), `tonic`/`prost` (the tokio gRPC stack, shared with the clients through `kvstore-proto`),
//! `warp` (the small HTTP endpoints), `pbjson` (protobuf JSON for the gateway, generated from the same
//! `.proto` files), `prometheus` (metrics text), `sha1` (etcd's member-id derivation), `serde_yaml_ng` (etcd's YAML config file: the maintained fork of
//! `serde_yaml`, whose errors carry line and column), `chrono` (the zap log's timestamps), `kvstore-tls` (rustls
//! for https client and peer URLs; see its docs), `clap`, `tracing`, `thiserror`.

pub mod accept;
pub mod apply;
pub mod auto_compact;
pub mod config;
pub mod config_file;
pub mod corrupt_check;
pub mod discovery;
pub mod error;
pub mod etcd_env;
pub mod force_new_cluster;
pub mod gateway;
pub mod http;
pub mod kv_ops;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod mvcc;
pub mod node;
pub mod peer;
pub mod quota;
mod raft_log_bridge;
pub mod reconfig;
pub mod reply_wait;
pub mod restore;
pub mod rpc;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod storage;
pub mod transport;
pub mod watch;

pub use config::{RawConfig, ServerConfig};
pub use error::EtcdError;
pub use server::{Server, ServerError};
