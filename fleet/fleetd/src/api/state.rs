//! `/state` and `/state/{name}` (fleet's `api/state.go`): the unit states agents publish, one per unit and
//! machine, ordered by (unit name, machine ID).
//!
//! The list takes optional exact-match filters `machineID=` and `unitName=` (the first value of each),
//! applied before paging. The item answers the first state of the unit (by machine ID), or fleet's intended
//! 404 `unit state does not exist` (fleet itself dereferenced nil there and dropped the connection).

use fleet_model::schema::UnitStatePage;
use fleet_model::UnitState;
use fleet_registry::api_view::api_unit_state;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::read_cluster;
use super::request::Request;
use super::{paging, reply, ApiState};

const ONLY_GET: &str = "only GET supported against this resource";

/// `GET /state`.
pub(crate) async fn collection(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(ONLY_GET));
    }
    let token = paging::token(&req.query, state.token_limit)?;
    let machine = req.query.first("machineID");
    let unit = req.query.first("unitName");
    let cluster = read_cluster(state).await?;
    let matching: Vec<(&str, &str, &UnitState)> = cluster
        .states
        .iter()
        .filter(|(name, _)| unit.is_none_or(|u| u == name.as_str()))
        .flat_map(|(name, per_machine)| {
            per_machine
                .iter()
                .map(move |(id, s)| (name.as_str(), id.as_str(), s))
        })
        .filter(|(_, id, _)| machine.is_none_or(|m| m == *id))
        .collect();
    let (range, next_page_token) = paging::window(matching.len(), token);
    reply::json(
        StatusCode::OK,
        &UnitStatePage {
            states: matching[range]
                .iter()
                .map(|(name, id, s)| api_unit_state(name, id, s))
                .collect(),
            next_page_token,
        },
    )
}

/// `GET /state/{name}`.
pub(crate) async fn item(
    state: &ApiState,
    req: &Request,
    name: &str,
) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(ONLY_GET));
    }
    let states = state
        .registry
        .unit_states(name)
        .await
        .map_err(|e| HttpError::registry(state, "unit_states", e))?;
    match states.iter().next() {
        Some((id, s)) => reply::json(StatusCode::OK, &api_unit_state(name, id, s)),
        None => Err(HttpError::not_found("unit state does not exist")),
    }
}
