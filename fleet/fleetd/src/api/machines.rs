//! `/machines` (fleet's `api/machines.go`): the machines with a live presence key, ordered by ID, their
//! metadata with dynamic metadata applied; and dynamic metadata itself.
//!
//! - `PATCH /machines` takes fleet's JSON-patch-like list
//!   `[{"op":"add|replace|remove","path":"/<id>/metadata/<key>","value":{"value":"<v>"}}]`. Every operation is
//!   checked before any is applied (fleet's messages); then each machine's operations are written as one
//!   change, later operations on a key winning, as if applied in order.
//! - Flotilla's conveniences: `PUT /machines/{id}/metadata/{key}` with `{"value":"<v>"}` sets one key,
//!   `DELETE` removes it. Both 204.
//!
//! Unlike fleet, metadata can only be set for a machine that is registered (404 `machine does not exist`):
//! the registry keeps dynamic metadata with the machine, not as free-floating keys.

use std::collections::BTreeMap;

use fleet_model::schema::{MachinePage, MachinePatchOp, MachinePatchValue};
use fleet_registry::api_view::api_machine;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::read_cluster;
use super::request::Request;
use super::{paging, reply, ApiState};

/// A machine's dynamic metadata changes: `Some` sets a key, `None` removes it.
type Changes = BTreeMap<String, Option<String>>;

/// `/machines`: GET lists, PATCH changes metadata.
pub(crate) async fn collection(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    match req.method {
        Method::GET => list(state, req).await,
        Method::PATCH => patch(state, req).await,
        _ => Err(HttpError::method_not_allowed(
            "only GET and PATCH supported against this resource",
        )),
    }
}

/// `/machines/{id}/metadata/{key}`: PUT sets the key, DELETE removes it.
pub(crate) async fn metadata(
    state: &ApiState,
    req: &Request,
    machine: &str,
    key: &str,
) -> Result<Response, HttpError> {
    let set = match req.method {
        Method::PUT => true,
        Method::DELETE => false,
        _ => {
            return Err(HttpError::method_not_allowed(
                "only PUT and DELETE supported against this resource",
            ))
        }
    };
    if !valid_key(key) {
        return Err(HttpError::bad_request(PATH_INVALID));
    }
    let value = if set {
        let body: MachinePatchValue = serde_json::from_slice(&req.body)
            .map_err(|e| HttpError::bad_request(format!("unable to decode body: {e}")))?;
        if body.value.is_empty() {
            return Err(HttpError::bad_request(VALUE_REQUIRED));
        }
        Some(body.value)
    } else {
        None
    };
    apply(state, machine, &Changes::from([(key.to_string(), value)])).await?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

async fn list(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    let token = paging::token(&req.query, state.token_limit)?;
    let cluster = read_cluster(state).await?;
    let (range, next_page_token) = paging::window(cluster.machines.len(), token);
    let machines = cluster
        .machines
        .iter()
        .skip(range.start)
        .take(range.len())
        .map(|(_, m)| api_machine(m))
        .collect();
    reply::json(
        StatusCode::OK,
        &MachinePage {
            machines,
            next_page_token,
        },
    )
}

const PATH_INVALID: &str = "machine metadata path invalid";
const VALUE_REQUIRED: &str = "invalid value: add and replace require a value";

async fn patch(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(HttpError::bad_request("EOF"));
    }
    let ops: Vec<MachinePatchOp> =
        serde_json::from_slice(&req.body).map_err(|e| HttpError::bad_request(e.to_string()))?;
    let mut per_machine: BTreeMap<String, Changes> = BTreeMap::new();
    for op in &ops {
        let set = match op.op.as_str() {
            "add" | "replace" => true,
            "remove" => false,
            _ => {
                return Err(HttpError::bad_request(
                    "invalid op: expect add, remove, or replace",
                ))
            }
        };
        let (machine, key) =
            parse_path(&op.path).ok_or_else(|| HttpError::bad_request(PATH_INVALID))?;
        if set && op.value.value.is_empty() {
            return Err(HttpError::bad_request(VALUE_REQUIRED));
        }
        per_machine
            .entry(machine.to_string())
            .or_default()
            .insert(key.to_string(), set.then(|| op.value.value.clone()));
    }
    for (machine, changes) in &per_machine {
        apply(state, machine, changes).await?;
    }
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

async fn apply(state: &ApiState, machine: &str, changes: &Changes) -> Result<(), HttpError> {
    state
        .registry
        .set_machine_metadata(machine, changes)
        .await
        .map_err(|e| HttpError::registry(state, "set_machine_metadata", e))
}

/// fleet's `^/([^/]+)/metadata/([A-Za-z0-9_.-]+$)`: (machine ID, key).
fn parse_path(path: &str) -> Option<(&str, &str)> {
    let (machine, key) = path.strip_prefix('/')?.split_once('/')?;
    let key = key.strip_prefix("metadata/")?;
    (!machine.is_empty() && valid_key(key)).then_some((machine, key))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_paths_are_fleets() {
        assert_eq!(parse_path("/m1/metadata/region"), Some(("m1", "region")));
        assert_eq!(parse_path("/m1/metadata/a.b-c_9"), Some(("m1", "a.b-c_9")));
        for bad in [
            "m1/metadata/k",
            "//metadata/k",
            "/m1/metadata/",
            "/m1/metadata/k/x",
            "/m1/metadata/k!",
            "/m1/meta/k",
            "/m1/x/metadata/k",
        ] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
    }
}
