//! The metrics listener (`--listen-metrics-urls`, default http://127.0.0.1:2381), as etcd serves it:
//! `GET /health` → `{"health":"true"}` (503 and `"false"` when there is no leader or a linearizable read
//! barrier does not complete in a second), `GET /metrics` → Prometheus text.
//!
//! Why warp: a small, tokio-native HTTP server with composable routes, on the design card.

use std::sync::Arc;
use std::time::Duration;

use warp::http::StatusCode;
use warp::Filter;

use crate::metrics::Metrics;
use crate::node::NodeHandle;

/// Serves `/health` and `/metrics` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: NodeHandle,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let health = warp::path!("health").and(warp::get()).then(move || {
        let node = node.clone();
        async move {
            let ok = matches!(
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
            warp::reply::with_status(
                warp::reply::with_header(body, "content-type", "application/json"),
                status,
            )
        }
    });
    let metrics = warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
    });
    warp::serve(health.or(metrics))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
