//! fleet's HTTP API v1, served by every fleetd: what `fleetctl` and fleet's own Go clients talk to.
//!
//! Owns the routes under `/fleet/v1` (and the legacy `/v1-alpha`, which behaves the same), their JSON shapes,
//! status codes and error messages (fleet's, from `api/*.go`; see `notes/fleet-internals.md` §1), plus
//! `/metrics` and `/health` at the root and Flotilla's journal extension. It reads and writes the cluster only
//! through [`fleet_registry::Registry`]; it holds no state of its own.
//!
//! warp serves the connections; the routing itself is one table ([`router`]) rather than a tree of warp
//! filters, because fleet's mux rules are per path, not per method: each resource answers a wrong method with
//! its own 405 message (and discovery with a 400), `/` and `/fleet/v1` are 405, every other unknown path is
//! 404, and non-clean paths redirect. A table states that directly and gives every response one place where
//! the `Server:` header and the metrics are added.
//!
//! ## Layout
//! - `listen` — [`parse_listen`], [`ListenAddr`], [`bind`] → [`ApiListener`]: the `unix://` and `tcp://`
//!   listeners.
//! - `router` — the mux: path cleaning, the route table, the answers for unmatched paths, headers, metrics.
//! - `request` — [`request::Request`]: the decoded path, query and body a handler sees.
//! - `error` — `HttpError`: an error status and message, rendered as fleet's `{"error":{…}}` body.
//! - `reply` — JSON and empty replies.
//! - `paging` — fleet's page tokens and page windows.
//! - `units`, `state`, `machines`, `discovery`, `journal`, `ops` — one resource each (`ops`: `/metrics` and
//!   `/health`).

mod discovery;
mod error;
mod journal;
mod listen;
mod machines;
mod ops;
mod paging;
mod reply;
mod request;
mod router;
mod state;
mod units;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use fleet_registry::Registry;
use tokio::sync::watch;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::metrics::Metrics;

pub use listen::{bind, parse_listen, ApiListener, ListenAddr, ListenError};

/// What every request handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The cluster: every read and write of the API goes through it.
    pub registry: Registry,
    /// fleet's `token_limit`: the page size of the list routes (fleet's default 100; 0 is taken as 1).
    pub token_limit: u16,
    /// This machine's ID (answers about "this machine", e.g. the journal's, are about it).
    pub machine_id: String,
    /// unitd's journal directory on this host (its `StateDirectory/journal`), once the agent has learned it
    /// from unitd; `None` until then, and on hosts without unitd.
    pub journal_dir: Arc<RwLock<Option<PathBuf>>>,
    /// Where requests are counted.
    pub metrics: Arc<Metrics>,
    /// fleetd's version, sent as `Server: fleetd/<version>`.
    pub version: String,
}

/// Tells long-lived responses (journal follows) that the server is stopping, so a graceful shutdown does not
/// wait for clients that never hang up.
#[derive(Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Resolves once the server is stopping (or the filter that could signal it is gone).
    pub(crate) async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// The whole API as one warp filter (every request is answered; none is rejected). Journal follows served
/// through it end only when their client hangs up; [`serve`] also ends them on shutdown.
pub fn routes(state: ApiState) -> BoxedFilter<(Response,)> {
    let (tx, rx) = watch::channel(false);
    // Nobody signals shutdown here; the sender lives as long as the filter so followers are not ended early.
    build(state, Shutdown(rx), Some(Arc::new(tx)))
}

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting, ends journal follows and
/// waits for the requests in flight.
pub async fn serve(
    listener: ApiListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = watch::channel(false);
    let filter = build(state, Shutdown(rx), None);
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    match listener {
        ApiListener::Unix(l) => warp::serve(filter).incoming(l).graceful(signal).run().await,
        ApiListener::Tcp(l) => warp::serve(filter).incoming(l).graceful(signal).run().await,
    }
    Ok(())
}

fn build(
    state: ApiState,
    shutdown: Shutdown,
    keep_open: Option<Arc<watch::Sender<bool>>>,
) -> BoxedFilter<(Response,)> {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query: String, headers, body| {
                let state = state.clone();
                let shutdown = shutdown.clone();
                let _ = &keep_open;
                async move {
                    router::handle(
                        &state,
                        shutdown,
                        method,
                        path.as_str(),
                        &query,
                        headers,
                        body,
                    )
                    .await
                }
            },
        )
        .boxed()
}

/// The whole cluster at one revision, for the list routes; a KV failure becomes fleet's error reply.
async fn read_cluster(state: &ApiState) -> Result<fleet_registry::Cluster, error::HttpError> {
    state
        .registry
        .cluster()
        .await
        .map_err(|e| error::HttpError::registry(state, "cluster", e))
}
