//! # fleetd — fleet's daemon
//!
//! One fleetd runs on every host. It is three parts over one registry connection:
//! - `engine` — the scheduler. One fleetd in the cluster holds the engine leader key (bound to a lease); it
//!   reads the cluster at one revision, calls the pure [`fleet_model::reconcile`], and writes the decisions in
//!   batched, fenced transactions. The others stand by, watching the key.
//! - `agent` — this host. It keeps the machine's presence key alive, computes what should run here
//!   ([`fleet_model::agent_units`]), writes unit files into unitd's runtime unit directory (learned over D-Bus),
//!   starts and stops them through unitd's D-Bus API, and publishes their states.
//! - `api` — fleet's HTTP API (`/fleet/v1/units`, `/state`, `/machines`, `/discovery`) and `/metrics`, on a unix
//!   socket and optionally TCP, served with warp.
//!
//! ## Layout
//! - `config` — [`config::Config`]: fleet's keys from `--config` and `FLEET_*`, with fleet's defaults.
//! - `engine` — leadership and the reconcile loop.
//! - `agent/` — `mod.rs` the loop; `tasks.rs` the pure desired-vs-actual task list; `unitd.rs` the D-Bus side.
//! - `api/` — one file per resource.
//! - `metrics` — the Prometheus registry every part reports to.
//! - `server` — [`server::run`]: starts the parts and stops them in order.

pub mod agent;
pub mod api;
pub mod config;
pub mod engine;
pub mod metrics;
pub mod server;
