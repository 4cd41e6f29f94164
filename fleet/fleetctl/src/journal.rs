//! Reading a unit's journal through the cluster: fleet ran `journalctl` over ssh on the unit's machine;
//! Flotilla asks that machine's fleetd (`ApiMachine.api`, `http://IP:PORT`) for
//! `GET /fleet/v1/journal/{unit}?lines=N&follow=BOOL&output=MODE` and streams the text body through unchanged.

use std::time::Duration;

use fleet_model::schema::ApiErrorBody;

use crate::driver::DriverError;
use crate::http::{path_escape, query_escape, Endpoint, HttpClient, HttpError};

/// Why the journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("machine {0} does not publish a fleet API address to read journals from")]
    NoApi(String),
    #[error("machine {machine} publishes an unusable API address {api:?}: {reason}")]
    BadApi {
        machine: String,
        api: String,
        reason: String,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The host answered with an error status.
    #[error(transparent)]
    Api(DriverError),
}

impl JournalError {
    /// Whether stdout was closed under us (`fleetctl journal -f x | head`): not worth an error.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, JournalError::Http(HttpError::Sink(e)) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct JournalQuery<'a> {
    pub unit: &'a str,
    pub lines: i64,
    pub follow: bool,
    pub output: &'a str,
}

/// Streams the journal of `query.unit` from the machine `machine` whose API is `api` into `sink`.
pub async fn stream(
    sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    machine: &str,
    api: &str,
    query: &JournalQuery<'_>,
    timeout: Duration,
) -> Result<(), JournalError> {
    if api.is_empty() {
        return Err(JournalError::NoApi(machine.to_string()));
    }
    let endpoint = Endpoint::parse(api).map_err(|e| JournalError::BadApi {
        machine: machine.to_string(),
        api: api.to_string(),
        reason: e.to_string(),
    })?;
    let client = HttpClient::new(endpoint, timeout);
    let path = format!(
        "/fleet/v1/journal/{}?lines={}&follow={}&output={}",
        path_escape(query.unit),
        query.lines,
        query.follow,
        query_escape(query.output)
    );
    match client.stream(&path, sink).await? {
        None => Ok(()),
        Some(resp) => {
            let body = String::from_utf8_lossy(&resp.body).into_owned();
            let message = serde_json::from_slice::<ApiErrorBody>(&resp.body)
                .map(|b| b.error.message)
                .unwrap_or_default();
            Err(JournalError::Api(DriverError::Api {
                code: resp.status,
                message,
                body,
            }))
        }
    }
}
