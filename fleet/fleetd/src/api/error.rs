//! Error answers: an HTTP status and a message, sent as fleet's body
//! `{"error":{"code":<status>,"message":"<message>"}}` with `Content-Type: application/json`. The message is
//! `""` where fleet sends none (unmatched paths), and fleet's exact text wherever fleet has one, since clients
//! show it to users.
//!
//! Registry failures map to what a user can act on: a missing unit or machine is a 404, a KV store that
//! cannot be reached is fleet's `503 fleet server unable to communicate with etcd`, anything else a 500 that
//! carries the error's text (fleet sends 500 with an empty message, which tells nobody anything).

use fleet_model::schema::{ApiError, ApiErrorBody};
use fleet_registry::RegistryError;
use warp::http::StatusCode;
use warp::reply::Response;

use super::reply;
use super::ApiState;

/// fleet's message while the KV store cannot be reached.
const UNAVAILABLE: &str = "fleet server unable to communicate with etcd";

/// A failed request: what status to answer and with which message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A registry failure during `op` (counted in `fleet_registry_errors_total{op}` unless it is a plain
    /// "no such unit/machine" answer).
    pub(crate) fn registry(state: &ApiState, op: &str, err: RegistryError) -> HttpError {
        match err {
            RegistryError::NoSuchUnit(_) => HttpError::not_found("unit does not exist"),
            RegistryError::NoSuchMachine(_) => HttpError::not_found("machine does not exist"),
            err => {
                state.metrics.registry_error(op);
                if err.is_unavailable() {
                    tracing::warn!(op, error = %err, "KV store unavailable");
                    HttpError::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
                } else {
                    tracing::error!(op, error = %err, "registry error");
                    HttpError::internal(err.to_string())
                }
            }
        }
    }

    /// The JSON error body with this status.
    pub(crate) fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: ApiError {
                code: self.status.as_u16(),
                message: self.message,
            },
        };
        let status = self.status;
        match serde_json::to_vec(&body) {
            Ok(bytes) => reply::with_type(status, "application/json", bytes),
            Err(_) => reply::empty(status),
        }
    }
}
