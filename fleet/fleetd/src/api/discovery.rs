//! `GET /discovery`: a Google-discovery-style description of the API (fleet's `schema/v1.json`, with what
//! fleet left out — the machines PATCH — and Flotilla's additions: metadata PUT/DELETE, the journal, and the
//! `unschedulableReason` and `api` fields). The document is `discovery.json` beside this file.

use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::error::HttpError;
use super::reply;
use super::request::Request;

const DOCUMENT: &str = include_str!("discovery.json");

/// `/discovery`: GET only, and fleet answers other methods with 400, not 405.
pub(crate) fn get(req: &Request) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::bad_request(
            "only HTTP GET supported against this resource",
        ));
    }
    Ok(reply::with_type(
        StatusCode::OK,
        "application/json",
        DOCUMENT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves under the prefix is described, with its method.
    #[test]
    fn document_is_json_and_describes_every_route() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        let mut described = Vec::new();
        for (_, resource) in doc["resources"].as_object().expect("resources") {
            for (_, method) in resource["methods"].as_object().expect("methods") {
                described.push(format!(
                    "{} {}",
                    method["httpMethod"].as_str().expect("httpMethod"),
                    method["path"].as_str().expect("path")
                ));
            }
        }
        described.sort();
        let mut want = vec![
            "GET machines",
            "PATCH machines",
            "PUT machines/{machineID}/metadata/{key}",
            "DELETE machines/{machineID}/metadata/{key}",
            "GET units",
            "GET units/{unitName}",
            "PUT units/{unitName}",
            "DELETE units/{unitName}",
            "GET state",
            "GET state/{unitName}",
            "GET journal/{unitName}",
        ];
        want.sort();
        assert_eq!(described, want);
        for (name, schema) in doc["schemas"].as_object().expect("schemas") {
            assert_eq!(schema["id"], name.as_str());
        }
    }
}
