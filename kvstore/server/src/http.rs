//! The plain-HTTP endpoints etcd serves, in the two places etcd serves them:
//!
//! - the metrics listener (`--listen-metrics-urls`, default http://127.0.0.1:2381): `GET /health` and
//!   `GET /metrics`;
//! - every client listener, beside gRPC on the same port (etcd tells the two apart by the HTTP/2 preface; here
//!   tonic's server does, with HTTP/1 accepted): `/health`, `/metrics` and `GET /version` →
//!   `{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}`. Health checks written for etcd (`curl
//!   http://127.0.0.1:2379/health`) and `etcdctl check datascale`, which reads `/metrics` from the client URL,
//!   rely on this.
//!
//! `/health` answers `{"health":"true"}`, or 503 and `"false"` when an alarm is raised (NOSPACE), there is no
//! leader, or a linearizable read barrier does not complete in a second; `/metrics` is Prometheus text.
//!
//! Why warp: a small, tokio-native HTTP server with composable routes, on the design card. The client port
//! mounts the same filters as a tower service in tonic's router, so each endpoint is written once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::metrics::Metrics;
use crate::node::NodeHandle;
use crate::rpc::maintenance::API_VERSION;
use crate::state::ServerState;

/// Which endpoints a listener serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// `/health` and `/metrics`.
    Metrics,
    /// Those and `/version`.
    Client,
}

/// The paths [`Endpoints::Client`] answers, for mounting beside gRPC.
pub const CLIENT_PATHS: [&str; 3] = ["/health", "/metrics", "/version"];

/// The endpoints as one warp filter.
pub fn endpoints(
    node: NodeHandle,
    state: Arc<ServerState>,
    metrics: Arc<Metrics>,
    which: Endpoints,
) -> BoxedFilter<(Response,)> {
    let health = warp::path!("health").and(warp::get()).then(move || {
        let node = node.clone();
        let alarms = state.clone();
        async move {
            let ok = alarms.alarms().is_empty()
                && matches!(
                    tokio::time::timeout(Duration::from_secs(1), node.read_index()).await,
                    Ok(Ok(()))
                );
            let body = String::from(if ok {
                r#"{"health":"true"}"#
            } else {
                r#"{"health":"false"}"#
            });
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            warp::reply::with_status(json(body), status).into_response()
        }
    });
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
        .into_response()
    });
    let both = health.or(metrics).unify();
    match which {
        Endpoints::Metrics => both.boxed(),
        Endpoints::Client => {
            let version = warp::path!("version").and(warp::get()).map(|| {
                json(format!(
                    r#"{{"etcdserver":"{API_VERSION}","etcdcluster":"{API_VERSION}"}}"#
                ))
                .into_response()
            });
            both.or(version).unify().boxed()
        }
    }
}

fn json(body: String) -> impl Reply {
    warp::reply::with_header(body, "content-type", "application/json")
}

/// The client-port endpoints as a tower service for tonic's router (whose request body type is `B`). The
/// requests are GETs: their bodies are dropped (warp wants a `Sync` body, which the router's is not).
pub fn client_service<B: Send + 'static>(
    node: NodeHandle,
    state: Arc<ServerState>,
    metrics: Arc<Metrics>,
) -> impl tower::Service<
    http::Request<B>,
    Response = Response,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::ServiceExt::map_request(
        warp::service(endpoints(node, state, metrics, Endpoints::Client)),
        |req: http::Request<B>| req.map(|_| String::new()),
    )
}

/// Everything else on the client port: a gRPC client gets `Unimplemented`, as from any gRPC server; any other
/// HTTP client a 404, as from etcd.
pub fn client_fallback<B: Send + 'static>() -> impl tower::Service<
    http::Request<B>,
    Response = http::Response<tonic::body::Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(|req: http::Request<B>| {
        let grpc = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let reply = if grpc {
            tonic::Status::unimplemented("").into_http()
        } else {
            let mut r =
                http::Response::new(tonic::body::Body::new(String::from("404 page not found\n")));
            *r.status_mut() = http::StatusCode::NOT_FOUND;
            r
        };
        std::future::ready(Ok::<_, Infallible>(reply))
    })
}

/// Serves the metrics listener's endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: NodeHandle,
    state: Arc<ServerState>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(endpoints(node, state, metrics, Endpoints::Metrics))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
