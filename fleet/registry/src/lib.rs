//! # fleet-registry — fleet's state in the KV store
//!
//! fleet reaches the KV store only through the etcd v3 API, with the `etcd-client` crate (the maintained Rust
//! client of that API; the same one kvstore's tests use), so it runs unchanged against Flotilla's kvstore or a
//! real etcd 3.4. This crate is the only place that knows how fleet's model ([`fleet_model::Keys`]) is laid out
//! in keys, and the only one that writes them.
//!
//! ## Layout
//! - `registry` — [`Registry`]: connect, and the user-facing operations (create, replace, set target state,
//!   destroy, machine metadata) — each a single transaction guarded by a compare, so racing clients never
//!   overwrite each other's units.
//! - `cluster` — [`Cluster`]: every fleet key read at one revision (paged, so 10,000 units never exceed a gRPC
//!   message), decoded into units, machines (dynamic metadata applied), unit states and the engine leader;
//!   [`Cluster::snapshot`] turns it into the scheduler's input.
//! - `schedule` — [`ScheduleChange`] and [`Registry::apply_schedule`]: the engine's decisions written in
//!   transactions of up to [`MAX_UNITS_PER_TXN`] units, fenced by the engine's leader key and each unit's target
//!   mod revision, several in flight at once.
//! - `presence` — leases, machine presence, unit states, engine leadership and watches: what fleetd's agent and
//!   engine keep alive.
//! - `api_view` — records as fleet's HTTP API shows them (shared by fleetd's API and fleetctl's etcd driver).
//! - `endpoints` — one client per KV endpoint, one in use, failing over to the next that answers.
//! - `tls` — [`KvTls`]: fleet's `etcd_cafile`/`etcd_certfile`/`etcd_keyfile` for https endpoints (the
//!   `etcd-client` crate's `tls` feature: tonic over rustls with the ring provider, as kvstore's own TLS;
//!   `tls-roots` adds the system CAs for when no CA file is given).
//! - `kv` — the registry's KV requests, riding over a KV election as etcd's clientv3 does: one that cannot
//!   reach the store has the endpoint re-checked at once, reads are tried again within the request timeout,
//!   changes only when they were never sent.
//! - `error` — [`RegistryError`].

mod api_reads;
pub mod api_view;
mod cluster;
mod endpoints;
mod error;
mod kv;
mod presence;
mod registry;
mod schedule;
mod tls;

pub use cluster::{Cluster, Unit};
pub use error::RegistryError;
pub use presence::{ChangeStream, Lease};
pub use registry::Registry;
pub use schedule::{ScheduleChange, ScheduleStats, MAX_UNITS_PER_TXN};
pub use tls::KvTls;

/// Re-exported so users of the registry can name the client type it wraps.
pub use etcd_client;
