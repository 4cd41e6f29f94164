//! The mux (fleet's `api/mux.go` on Go's `ServeMux`): which handler answers a path, what unmatched paths get,
//! and what every answer carries.
//!
//! - A path that is not clean (`//`, `/./`, `/../`) is redirected (301) to its clean form, as `ServeMux` does.
//! - `/` and the bare prefix (`/fleet/v1`) answer 405 with an empty message; any other unknown path 404 with an
//!   empty message. Item routes take exactly one non-empty segment, so `/units/` and `/units/a/b` are 404.
//! - Each resource checks the method itself and answers a wrong one with its own message.
//! - Every answer gets `Server: fleetd/<version>` and is counted under its route *pattern*.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use warp::http::header::{LOCATION, SERVER};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::request::{percent_decode, Query, Request};
use super::{discovery, journal, machines, ops, reply, state, units, ApiState, Shutdown};

/// The largest request body read (a unit of 1 MiB is far beyond any real one).
const MAX_BODY: usize = 1 << 20;

/// The API prefixes: fleet's and the legacy one, which behaves the same.
const PREFIXES: [&str; 2] = ["/fleet/v1", "/v1-alpha"];

/// Where a path goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `/` and a bare prefix: 405 with an empty message.
    Reserved,
    NotFound,
    Metrics,
    Health,
    Discovery,
    Units,
    Unit(String),
    States,
    State(String),
    Machines,
    MachineMetadata {
        machine: String,
        key: String,
    },
    Journal(String),
}

impl Route {
    /// The label the request is counted under: the pattern, never the path.
    fn label(&self) -> &'static str {
        match self {
            Route::Reserved => "/",
            Route::NotFound => "unmatched",
            Route::Metrics => "/metrics",
            Route::Health => "/health",
            Route::Discovery => "/fleet/v1/discovery",
            Route::Units => "/fleet/v1/units",
            Route::Unit(_) => "/fleet/v1/units/{name}",
            Route::States => "/fleet/v1/state",
            Route::State(_) => "/fleet/v1/state/{name}",
            Route::Machines => "/fleet/v1/machines",
            Route::MachineMetadata { .. } => "/fleet/v1/machines/{id}/metadata/{key}",
            Route::Journal(_) => "/fleet/v1/journal/{unit}",
        }
    }
}

/// Which route `path` (clean, percent-decoded) takes.
fn route(path: &str) -> Route {
    match path {
        "/" => return Route::Reserved,
        "/metrics" => return Route::Metrics,
        "/health" => return Route::Health,
        _ => {}
    }
    let Some(rest) = PREFIXES.iter().find_map(|p| path.strip_prefix(p)) else {
        return Route::NotFound;
    };
    if rest.is_empty() {
        return Route::Reserved;
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Route::NotFound;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let item = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match segments[..] {
        ["discovery"] => Route::Discovery,
        ["units"] => Route::Units,
        ["units", name] => item(name).map_or(Route::NotFound, Route::Unit),
        ["state"] => Route::States,
        ["state", name] => item(name).map_or(Route::NotFound, Route::State),
        ["machines"] => Route::Machines,
        ["machines", machine, "metadata", key] if !machine.is_empty() && !key.is_empty() => {
            Route::MachineMetadata {
                machine: machine.to_string(),
                key: key.to_string(),
            }
        }
        ["journal", unit] => item(unit).map_or(Route::NotFound, Route::Journal),
        _ => Route::NotFound,
    }
}

/// Answers one request: route it, add `Server:`, count it.
pub(crate) async fn handle<S, B>(
    state: &ApiState,
    shutdown: Shutdown,
    method: Method,
    raw_path: &str,
    raw_query: &str,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let started = Instant::now();
    let (label, mut response) = answer(
        state,
        shutdown,
        method.clone(),
        raw_path,
        raw_query,
        headers,
        body,
    )
    .await;
    let server = HeaderValue::from_str(&format!("fleetd/{}", state.version))
        .unwrap_or_else(|_| HeaderValue::from_static("fleetd"));
    response.headers_mut().insert(SERVER, server);
    state.metrics.api_request(
        method_label(&method),
        label,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn answer<S, B>(
    state: &ApiState,
    shutdown: Shutdown,
    method: Method,
    raw_path: &str,
    raw_query: &str,
    headers: HeaderMap,
    body: S,
) -> (&'static str, Response)
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let clean = clean_path(raw_path);
    if clean != raw_path {
        let mut location = clean;
        if !raw_query.is_empty() {
            location.push('?');
            location.push_str(raw_query);
        }
        let mut r = reply::empty(StatusCode::MOVED_PERMANENTLY);
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(LOCATION, v);
        }
        return ("redirect", r);
    }
    let path = percent_decode(raw_path, false);
    let route = route(&path);
    let label = route.label();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return (label, e.into_response()),
    };
    let req = Request {
        method,
        query: Query::parse(raw_query),
        headers,
        body,
    };
    let result = match route {
        Route::Reserved => Err(HttpError::method_not_allowed("")),
        Route::NotFound => Err(HttpError::not_found("")),
        Route::Metrics => ops::metrics(state, &req),
        Route::Health => ops::health(state, &req).await,
        Route::Discovery => discovery::get(&req),
        Route::Units => units::collection(state, &req).await,
        Route::Unit(name) => units::item(state, &req, &name).await,
        Route::States => state::collection(state, &req).await,
        Route::State(name) => state::item(state, &req, &name).await,
        Route::Machines => machines::collection(state, &req).await,
        Route::MachineMetadata { machine, key } => {
            machines::metadata(state, &req, &machine, &key).await
        }
        Route::Journal(unit) => journal::get(state, shutdown, &req, &unit).await,
    };
    (label, result.unwrap_or_else(HttpError::into_response))
}

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes with 413.
async fn read_body<S, B>(body: S) -> Result<Bytes, HttpError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk =
            chunk.map_err(|e| HttpError::bad_request(format!("reading the body: {e}")))?;
        if out.len() + chunk.remaining() > MAX_BODY {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {MAX_BODY} bytes"),
            ));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

/// Go's `ServeMux` `cleanPath`: `path.Clean`, keeping a trailing slash.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut clean = format!("/{}", parts.join("/"));
    if p.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// The method as a metric label: the standard ones by name, anything else as `OTHER` (methods are
/// client-chosen strings).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_fleets_mux() {
        let unit = |n: &str| Route::Unit(n.to_string());
        let table: &[(&str, Route)] = &[
            ("/", Route::Reserved),
            ("/fleet/v1", Route::Reserved),
            ("/v1-alpha", Route::Reserved),
            ("/fleet/v1/", Route::NotFound),
            ("/fleet/v1x", Route::NotFound),
            ("/fleet/v1/units", Route::Units),
            ("/v1-alpha/units", Route::Units),
            ("/fleet/v1/units/", Route::NotFound),
            ("/fleet/v1/units/a.service", unit("a.service")),
            ("/fleet/v1/units/a/b", Route::NotFound),
            ("/fleet/v1/state", Route::States),
            (
                "/fleet/v1/state/a.service",
                Route::State("a.service".into()),
            ),
            ("/fleet/v1/machines", Route::Machines),
            ("/fleet/v1/machines/m1", Route::NotFound),
            (
                "/fleet/v1/machines/m1/metadata/k",
                Route::MachineMetadata {
                    machine: "m1".into(),
                    key: "k".into(),
                },
            ),
            ("/fleet/v1/machines/m1/metadata/", Route::NotFound),
            ("/fleet/v1/discovery", Route::Discovery),
            ("/fleet/v1/discovery/x", Route::NotFound),
            (
                "/fleet/v1/journal/a.service",
                Route::Journal("a.service".into()),
            ),
            ("/metrics", Route::Metrics),
            ("/health", Route::Health),
            ("/units", Route::NotFound),
        ];
        for (path, want) in table {
            assert_eq!(&route(path), want, "{path}");
        }
    }

    #[test]
    fn paths_clean_like_go() {
        for (raw, clean) in [
            ("/fleet/v1/units", "/fleet/v1/units"),
            ("/fleet/v1/units/", "/fleet/v1/units/"),
            ("//fleet/v1//units", "/fleet/v1/units"),
            (
                "/fleet/v1/./units/../units/a.service",
                "/fleet/v1/units/a.service",
            ),
            ("/..", "/"),
            ("", "/"),
        ] {
            assert_eq!(clean_path(raw), clean, "{raw}");
        }
    }
}
