//! `/units` and `/units/{name}` (fleet's `api/units.go`): list, get, create/replace/update, destroy.
//!
//! `PUT` runs fleet's checks in fleet's order — Content-Type (415), body (400), name in URL vs body (400),
//! name (400), then, depending on what the registry holds: create (options required, 409; options validated,
//! 400) → 201; different options → replace → 201; otherwise update the desired state (required, 409; no
//! template activation, 400) → 204. Two of fleet's accidents are fixed on purpose: the desired state is
//! validated on every path (400 `invalid value "<s>" for JobState`, where fleet answered a create with a 500
//! and wrote an update that then made the unit unreadable), and a replacement's options are validated like a
//! new unit's. Like fleet, a template may be *created* with any desired state; only updates are refused.
//!
//! Unit → API mapping: `desiredState` is the target state; `machineID` is where the engine placed it;
//! `currentState` is `inactive` unless the target machine published a state for the unit, `loaded` if it did,
//! `launched` if that state is active, activating or reloading. Global units run wherever they match, so they
//! have neither `machineID` nor `currentState`.

use fleet_model::schema::{ApiUnit, UnitPage};
use fleet_model::{validate_name, validate_unit, NameInfo, TargetState, UnitFile};
use fleet_registry::api_view::api_unit;
use fleet_registry::RegistryError;
use warp::http::header::CONTENT_TYPE;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::read_cluster;
use super::request::Request;
use super::{paging, reply, ApiState};

/// How often a `PUT` re-reads the unit when another client changed it between the read and the write.
const RACE_RETRIES: usize = 3;

/// `GET /units`.
pub(crate) async fn collection(state: &ApiState, req: &Request) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(
            "only GET supported against this resource",
        ));
    }
    let token = paging::token(&req.query, state.token_limit)?;
    let cluster = read_cluster(state).await?;
    let (range, next_page_token) = paging::window(cluster.units.len(), token);
    let units = cluster
        .units
        .values()
        .skip(range.start)
        .take(range.len())
        .map(|u| api_unit(u, cluster.states.get(&u.name)))
        .collect();
    reply::json(
        StatusCode::OK,
        &UnitPage {
            units,
            next_page_token,
        },
    )
}

/// `/units/{name}`.
pub(crate) async fn item(
    state: &ApiState,
    req: &Request,
    name: &str,
) -> Result<Response, HttpError> {
    match req.method {
        Method::GET => get(state, name).await,
        Method::PUT => put(state, req, name).await,
        Method::DELETE => destroy(state, name).await,
        _ => Err(HttpError::method_not_allowed(
            "only GET, PUT and DELETE supported against this resource",
        )),
    }
}

async fn get(state: &ApiState, name: &str) -> Result<Response, HttpError> {
    match state.registry.unit(name).await {
        Ok(Some((unit, states))) => reply::json(StatusCode::OK, &api_unit(&unit, Some(&states))),
        Ok(None) => Err(HttpError::not_found("unit does not exist")),
        Err(e) => Err(HttpError::registry(state, "unit", e)),
    }
}

async fn destroy(state: &ApiState, name: &str) -> Result<Response, HttpError> {
    state
        .registry
        .destroy_unit(name)
        .await
        .map_err(|e| HttpError::registry(state, "destroy_unit", e))?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

/// Why a write step did not answer: a real error, or another client changed the unit first.
enum PutError {
    Http(HttpError),
    Raced,
}

impl From<HttpError> for PutError {
    fn from(e: HttpError) -> Self {
        PutError::Http(e)
    }
}

async fn put(state: &ApiState, req: &Request, name: &str) -> Result<Response, HttpError> {
    check_content_type(&req.headers)?;
    let body: ApiUnit = decode(&req.body)?;
    // An empty body name means the URL's.
    if !body.name.is_empty() && body.name != name {
        return Err(HttpError::bad_request(format!(
            "name in URL {name:?} differs from unit name in request body {:?}",
            body.name
        )));
    }
    validate_name(name).map_err(|e| HttpError::bad_request(e.to_string()))?;
    for _ in 0..RACE_RETRIES {
        let existing = state
            .registry
            .unit(name)
            .await
            .map_err(|e| HttpError::registry(state, "unit", e))?;
        let outcome = match existing {
            None => create(state, name, &body).await,
            Some((unit, _))
                if !body.options.is_empty()
                    && UnitFile::from_options(body.options.clone()).hash() != unit.hash =>
            {
                replace(state, name, &body).await
            }
            Some(_) => update(state, name, &body).await,
        };
        match outcome {
            Ok(response) => return Ok(response),
            Err(PutError::Http(e)) => return Err(e),
            Err(PutError::Raced) => continue,
        }
    }
    Err(HttpError::conflict(
        "unit changed concurrently; retry the request",
    ))
}

/// A new unit: options required and valid; desired state defaults to `inactive`.
async fn create(state: &ApiState, name: &str, body: &ApiUnit) -> Result<Response, PutError> {
    if body.options.is_empty() {
        return Err(HttpError::conflict("unit does not exist and options field empty").into());
    }
    let file = validated_file(name, &body.options)?;
    let target = desired_state(&body.desired_state)?.unwrap_or(TargetState::Inactive);
    match state.registry.create_unit(name, &file, target).await {
        Ok(()) => Ok(reply::empty(StatusCode::CREATED)),
        Err(RegistryError::UnitExists(_)) => Err(PutError::Raced),
        Err(e) => Err(HttpError::registry(state, "create_unit", e).into()),
    }
}

/// An existing unit with different options: a new unit under the same name (fleet's `CreateUnit` overwrite).
/// The schedule is kept, so its machine reloads and restarts it; the desired state is the body's, or
/// `inactive`.
async fn replace(state: &ApiState, name: &str, body: &ApiUnit) -> Result<Response, PutError> {
    let file = validated_file(name, &body.options)?;
    let target = desired_state(&body.desired_state)?.unwrap_or(TargetState::Inactive);
    let written = match state.registry.replace_unit(name, &file).await {
        Ok(()) => state.registry.set_target_state(name, target).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => Ok(reply::empty(StatusCode::CREATED)),
        Err(RegistryError::NoSuchUnit(_)) => Err(PutError::Raced),
        Err(e) => Err(HttpError::registry(state, "replace_unit", e).into()),
    }
}

/// An existing unit, same (or no) options: change its desired state.
async fn update(state: &ApiState, name: &str, body: &ApiUnit) -> Result<Response, PutError> {
    if body.desired_state.is_empty() {
        return Err(
            HttpError::conflict("must provide DesiredState to update existing unit").into(),
        );
    }
    let is_template = NameInfo::parse(name)
        .is_some_and(|info| info.template.is_some() && info.instance.is_empty());
    if is_template && body.desired_state != TargetState::Inactive.as_str() {
        return Err(HttpError::bad_request(format!("cannot activate template {name:?}")).into());
    }
    let target = desired_state(&body.desired_state)?.unwrap_or(TargetState::Inactive);
    match state.registry.set_target_state(name, target).await {
        Ok(()) => Ok(reply::empty(StatusCode::NO_CONTENT)),
        Err(RegistryError::NoSuchUnit(_)) => Err(PutError::Raced),
        Err(e) => Err(HttpError::registry(state, "set_target_state", e).into()),
    }
}

/// fleet's `validateContentType`: exactly one `Content-Type`, and it is JSON.
fn check_content_type(headers: &HeaderMap) -> Result<(), HttpError> {
    let values: Vec<_> = headers.get_all(CONTENT_TYPE).iter().collect();
    let [value] = values[..] else {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected 1 Content-Type, got {}", values.len()),
        ));
    };
    let media_type = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "only acceptable Content-Type is application/json",
        ));
    }
    Ok(())
}

/// The body as a unit (unknown fields ignored, as in fleet); an empty body is Go's `EOF`.
fn decode(body: &[u8]) -> Result<ApiUnit, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HttpError::bad_request("unable to decode body: EOF"));
    }
    serde_json::from_slice(body)
        .map_err(|e| HttpError::bad_request(format!("unable to decode body: {e}")))
}

/// fleet's `ValidateOptions`: the options must survive being written out and read back as a unit file, and
/// their `[X-Fleet]` combination must be one fleet accepts.
fn validated_file(name: &str, options: &[fleet_model::UnitOption]) -> Result<UnitFile, HttpError> {
    let file = UnitFile::from_options(options.to_vec());
    UnitFile::parse(&file.to_text()).map_err(|e| HttpError::bad_request(e.to_string()))?;
    validate_unit(name, &file).map_err(|e| HttpError::bad_request(e.to_string()))?;
    Ok(file)
}

/// The body's desired state: `None` when empty, 400 with fleet's message when it is not a state.
fn desired_state(s: &str) -> Result<Option<TargetState>, HttpError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e: fleet_model::TargetStateError| HttpError::bad_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_model::UnitState;
    use fleet_registry::Unit;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use warp::http::HeaderValue;

    fn unit(xfleet: &str, target: Option<&str>) -> Unit {
        let file = UnitFile::parse(&format!(
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\n{xfleet}\n"
        ))
        .expect("valid unit");
        Unit {
            name: "a.service".into(),
            hash: file.hash(),
            file: Arc::new(file),
            target_state: TargetState::Launched,
            target: target.map(str::to_string),
            target_revision: 0,
            unschedulable: None,
        }
    }

    fn states(machine: &str, active: &str) -> BTreeMap<String, UnitState> {
        BTreeMap::from([(
            machine.to_string(),
            UnitState {
                name: "a.service".into(),
                active_state: active.into(),
                machine_id: machine.into(),
                ..UnitState::default()
            },
        )])
    }

    #[test]
    fn current_state_comes_from_the_target_machines_report() {
        let current = |u: &Unit, s: Option<&BTreeMap<String, UnitState>>| {
            let a = api_unit(u, s);
            (a.machine_id, a.current_state)
        };
        let placed = unit("", Some("m1"));
        let s = |m: &str, st: &str| states(m, st);
        assert_eq!(
            current(&unit("", None), None),
            ("".into(), "inactive".into())
        );
        assert_eq!(current(&placed, None), ("m1".into(), "inactive".into()));
        // A report from another machine does not count.
        assert_eq!(current(&placed, Some(&s("m2", "active"))).1, "inactive");
        assert_eq!(current(&placed, Some(&s("m1", "inactive"))).1, "loaded");
        assert_eq!(current(&placed, Some(&s("m1", "failed"))).1, "loaded");
        for running in ["active", "activating", "reloading"] {
            assert_eq!(current(&placed, Some(&s("m1", running))).1, "launched");
        }
        let global = unit("Global=true", None);
        assert_eq!(
            current(&global, Some(&s("m1", "active"))),
            ("".into(), "".into())
        );
        assert_eq!(api_unit(&global, None).desired_state, "launched");
    }

    #[test]
    fn content_type_must_be_one_json_header() {
        let headers = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(CONTENT_TYPE, HeaderValue::from_static(v));
            }
            h
        };
        let msg = |values: &[&'static str]| {
            check_content_type(&headers(values)).map_err(|e| (e.status.as_u16(), e.message))
        };
        assert_eq!(msg(&["application/json"]), Ok(()));
        assert_eq!(msg(&["Application/JSON; charset=utf-8"]), Ok(()));
        assert_eq!(
            msg(&[]),
            Err((415, "expected 1 Content-Type, got 0".into()))
        );
        assert_eq!(
            msg(&["application/json", "application/json"]),
            Err((415, "expected 1 Content-Type, got 2".into()))
        );
        assert_eq!(
            msg(&["text/plain"]),
            Err((
                415,
                "only acceptable Content-Type is application/json".into()
            ))
        );
    }
}
