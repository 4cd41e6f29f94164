//! Operator endpoints at the root: `GET /metrics` (Prometheus text) and `GET /health` (`{"health":"true"}`
//! while the KV store answers, else 503 `{"health":"false"}`: what a load balancer or a systemd watchdog
//! script checks).

use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::request::Request;
use super::{reply, ApiState};

const ONLY_GET: &str = "only GET supported against this resource";

/// `GET /metrics`.
pub(crate) fn metrics(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(ONLY_GET));
    }
    Ok(reply::with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(),
    ))
}

/// `GET /health`: one cheap round trip to the KV store.
pub(crate) async fn health(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(ONLY_GET));
    }
    let (status, healthy) = match state.registry.probe().await {
        Ok(_) => (StatusCode::OK, "true"),
        Err(e) => {
            state.metrics.registry_error("probe");
            tracing::warn!(error = %e, "health check: KV store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "false")
        }
    };
    reply::json(status, &serde_json::json!({ "health": healthy }))
}
