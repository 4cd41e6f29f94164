//! The shapes of successful answers: fleet's JSON (`Content-Type: application/json`, `omitempty` fields already
//! left out by the schema types), empty answers with no body and no `Content-Type` (fleet's 201 and 204), and
//! plain text.

use serde::Serialize;
use warp::http::header::CONTENT_TYPE;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use super::error::HttpError;

/// `value` as JSON with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, HttpError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| HttpError::internal(format!("encoding the response: {e}")))?;
    Ok(with_type(status, "application/json", body))
}

/// `status` with no body and no `Content-Type`.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::default();
    *r.status_mut() = status;
    r
}

/// `body` with `status` and `Content-Type: content_type`.
pub(crate) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
) -> Response {
    let mut r = warp::http::Response::new(body.into()).into_response();
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        warp::http::HeaderValue::from_static(content_type),
    );
    r
}
