//! [`ApiDriver`]: fleet's HTTP API v1 (`/fleet/v1/…`), as fleet's generated Go client used it — `?alt=json` on
//! every request, `nextPageToken` paging, 404 on a single unit meaning "no such unit", JSON error bodies turned
//! into `googleapi: …` messages.

use hyper::Method;
use serde::de::DeserializeOwned;

use fleet_model::schema::{
    ApiErrorBody, ApiMachine, ApiUnit, ApiUnitState, MachinePage, UnitPage, UnitStatePage,
};
use fleet_model::{TargetState, UnitFile};

use super::{Driver, DriverError};
use crate::http::{path_escape, query_escape, HttpClient, Response};

/// Where the API is mounted.
const BASE: &str = "/fleet/v1";

/// fleet's API over HTTP.
pub struct ApiDriver {
    http: HttpClient,
}

/// A paged list response.
trait Page: DeserializeOwned {
    type Item;
    fn split(self) -> (Vec<Self::Item>, String);
}

impl Page for UnitPage {
    type Item = ApiUnit;
    fn split(self) -> (Vec<ApiUnit>, String) {
        (self.units, self.next_page_token)
    }
}

impl Page for UnitStatePage {
    type Item = ApiUnitState;
    fn split(self) -> (Vec<ApiUnitState>, String) {
        (self.states, self.next_page_token)
    }
}

impl Page for MachinePage {
    type Item = ApiMachine;
    fn split(self) -> (Vec<ApiMachine>, String) {
        (self.machines, self.next_page_token)
    }
}

impl ApiDriver {
    pub fn new(http: HttpClient) -> ApiDriver {
        ApiDriver { http }
    }

    /// Sends a request and turns an error status into [`DriverError::Api`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, DriverError> {
        let resp = self.http.request(method, path, body).await?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(api_error(&resp))
        }
    }

    /// `GET` of a JSON entity; `None` on 404.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, DriverError> {
        match self.call(Method::GET, path, None).await {
            Ok(resp) => decode(path, &resp.body).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every page of a list.
    async fn list<P: Page>(
        &self,
        resource: &str,
        query: &str,
    ) -> Result<Vec<P::Item>, DriverError> {
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let mut path = format!("{BASE}/{resource}?alt=json{query}");
            if !token.is_empty() {
                path.push_str("&nextPageToken=");
                path.push_str(&query_escape(&token));
            }
            let resp = self.call(Method::GET, &path, None).await?;
            let (page, next) = decode::<P>(&path, &resp.body)?.split();
            items.extend(page);
            if next.is_empty() {
                return Ok(items);
            }
            token = next;
        }
    }

    async fn put_unit(&self, unit: &ApiUnit) -> Result<(), DriverError> {
        let path = unit_path(&unit.name);
        let body = serde_json::to_vec(unit).map_err(|e| DriverError::Decode {
            what: path.clone(),
            reason: e.to_string(),
        })?;
        self.call(Method::PUT, &path, Some(body)).await.map(drop)
    }
}

fn unit_path(name: &str) -> String {
    format!("{BASE}/units/{}?alt=json", path_escape(name))
}

fn decode<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, DriverError> {
    serde_json::from_slice(body).map_err(|e| DriverError::Decode {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn api_error(resp: &Response) -> DriverError {
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    let message = serde_json::from_slice::<ApiErrorBody>(&resp.body)
        .map(|b| b.error.message)
        .unwrap_or_default();
    DriverError::Api {
        code: resp.status,
        message,
        body,
    }
}

impl Driver for ApiDriver {
    async fn units(&self) -> Result<Vec<ApiUnit>, DriverError> {
        self.list::<UnitPage>("units", "").await
    }

    async fn unit(&self, name: &str) -> Result<Option<ApiUnit>, DriverError> {
        self.get(&unit_path(name)).await
    }

    async fn unit_states(&self, unit: Option<&str>) -> Result<Vec<ApiUnitState>, DriverError> {
        let query = unit
            .map(|u| format!("&unitName={}", query_escape(u)))
            .unwrap_or_default();
        self.list::<UnitStatePage>("state", &query).await
    }

    async fn machines(&self) -> Result<Vec<ApiMachine>, DriverError> {
        self.list::<MachinePage>("machines", "").await
    }

    async fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        self.put_unit(&ApiUnit {
            name: name.to_string(),
            options: unit.options().to_vec(),
            desired_state: desired.to_string(),
            ..ApiUnit::default()
        })
        .await
    }

    async fn replace_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        // The server replaces a unit whose options hash differently and sets the given desired state.
        self.create_unit(name, unit, desired).await
    }

    async fn set_desired_state(&self, name: &str, desired: TargetState) -> Result<(), DriverError> {
        self.put_unit(&ApiUnit {
            name: name.to_string(),
            desired_state: desired.to_string(),
            ..ApiUnit::default()
        })
        .await
    }

    async fn destroy_unit(&self, name: &str) -> Result<(), DriverError> {
        self.call(Method::DELETE, &unit_path(name), None)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    //! The driver against a scripted HTTP server on a real unix socket and a real TCP port.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, UnixListener};

    use super::*;
    use crate::http::Endpoint;

    /// What the server saw: method, target, content type, body.
    type Seen = Arc<Mutex<Vec<(String, String, String, String)>>>;

    /// Serves `replies` (status, body) in order, one per connection, recording each request.
    async fn serve<S>(mut stream: S, seen: Seen, reply: (u16, String))
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut reader = BufReader::new(&mut stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line).await;
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let (mut length, mut ctype) = (0usize, String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await.unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "content-type" => ctype = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body).await;
        seen.lock().expect("lock").push((
            method,
            target,
            ctype,
            String::from_utf8_lossy(&body).into_owned(),
        ));
        let (status, text) = reply;
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn script(replies: &[(u16, &str)]) -> Arc<Mutex<VecDeque<(u16, String)>>> {
        Arc::new(Mutex::new(
            replies.iter().map(|(s, b)| (*s, b.to_string())).collect(),
        ))
    }

    fn next(replies: &Arc<Mutex<VecDeque<(u16, String)>>>) -> (u16, String) {
        replies
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or((500, String::new()))
    }

    async fn unix_server(replies: &[(u16, &str)]) -> (ApiDriver, Seen, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let seen: Seen = Arc::default();
        let (replies, seen2) = (script(replies), seen.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                serve(s, seen2.clone(), next(&replies)).await;
            }
        });
        let endpoint = Endpoint::parse(&format!("unix://{}", path.display())).expect("endpoint");
        let driver = ApiDriver::new(HttpClient::new(endpoint, Duration::from_secs(3)));
        (driver, seen, dir)
    }

    async fn tcp_server(replies: &[(u16, &str)]) -> (ApiDriver, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Seen = Arc::default();
        let (replies, seen2) = (script(replies), seen.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                serve(s, seen2.clone(), next(&replies)).await;
            }
        });
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).expect("endpoint");
        (
            ApiDriver::new(HttpClient::new(endpoint, Duration::from_secs(3))),
            seen,
        )
    }

    #[tokio::test]
    async fn lists_follow_page_tokens_over_a_unix_socket() {
        let (d, seen, _dir) = unix_server(&[
            (200, r#"{"units":[{"name":"a.service","desiredState":"launched","currentState":"launched","machineID":"m1"}],"nextPageToken":"ZAACAA=="}"#),
            (200, r#"{"units":[{"name":"b.service","desiredState":"inactive"}]}"#),
        ])
        .await;
        let units = d.units().await.expect("units");
        assert_eq!(
            units.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["a.service", "b.service"]
        );
        assert_eq!(units[0].machine_id, "m1");
        let seen = seen.lock().expect("lock");
        assert_eq!(seen[0].0, "GET");
        assert_eq!(seen[0].1, "/fleet/v1/units?alt=json");
        assert_eq!(
            seen[1].1,
            "/fleet/v1/units?alt=json&nextPageToken=ZAACAA%3D%3D"
        );
    }

    #[tokio::test]
    async fn single_units_404_is_none_and_errors_carry_the_message() {
        let (d, seen) = tcp_server(&[
            (404, r#"{"error":{"code":404,"message":"unit does not exist"}}"#),
            (200, r#"{"name":"web@1.service","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}],"desiredState":"inactive","unschedulableReason":"no machines"}"#),
            (400, r#"{"error":{"code":400,"message":"cannot activate template \"web@.service\""}}"#),
            (500, r#"{"error":{"code":500,"message":""}}"#),
        ])
        .await;
        assert_eq!(d.unit("nope.service").await.expect("ok"), None);
        let u = d.unit("web@1.service").await.expect("ok").expect("present");
        assert_eq!(u.unschedulable_reason, "no machines");
        assert_eq!(u.options.len(), 1);
        let err = d
            .set_desired_state("web@.service", TargetState::Launched)
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "googleapi: Error 400: cannot activate template \"web@.service\""
        );
        let err = d.destroy_unit("x.service").await.expect_err("500");
        assert_eq!(
            err.to_string(),
            "googleapi: got HTTP response code 500 with body: {\"error\":{\"code\":500,\"message\":\"\"}}"
        );
        let seen = seen.lock().expect("lock");
        assert_eq!(seen[1].1, "/fleet/v1/units/web@1.service?alt=json");
        assert_eq!(seen[2].0, "PUT");
        assert_eq!(seen[2].2, "application/json");
        assert_eq!(
            seen[2].3,
            r#"{"name":"web@.service","desiredState":"launched"}"#
        );
        assert_eq!(seen[3].0, "DELETE");
    }

    #[tokio::test]
    async fn creates_put_options_and_states_are_filtered_by_unit() {
        let (d, seen, _dir) = unix_server(&[
            (201, ""),
            (200, r#"{"states":[{"name":"a.service","hash":"abc","machineID":"m1","systemdLoadState":"loaded","systemdActiveState":"active","systemdSubState":"running"}]}"#),
            (200, r#"{"machines":[{"id":"m1","primaryIP":"10.0.0.1","metadata":{"a":"b"},"api":"http://10.0.0.1:49153"}]}"#),
        ])
        .await;
        let file = UnitFile::parse("[Service]\nExecStart=/bin/true\n").expect("valid");
        d.create_unit("a.service", &file, TargetState::Inactive)
            .await
            .expect("created");
        let states = d.unit_states(Some("a.service")).await.expect("states");
        assert_eq!(states[0].active_state, "active");
        let machines = d.machines().await.expect("machines");
        assert_eq!(machines[0].api, "http://10.0.0.1:49153");
        let seen = seen.lock().expect("lock");
        assert_eq!(
            seen[0].3,
            r#"{"name":"a.service","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}],"desiredState":"inactive"}"#
        );
        assert_eq!(seen[1].1, "/fleet/v1/state?alt=json&unitName=a.service");
        assert_eq!(seen[2].1, "/fleet/v1/machines?alt=json");
    }

    #[tokio::test]
    async fn an_absent_socket_is_a_dial_error() {
        let endpoint = Endpoint::Unix("/nonexistent/fleet.sock".into());
        let d = ApiDriver::new(HttpClient::new(endpoint, Duration::from_secs(1)));
        let err = d.units().await.expect_err("no server").to_string();
        assert!(
            err == (
                "Get http://domain-sock/fleet/v1/units?alt=json: dial unix /nonexistent/fleet.sock: connect: no such file or directory"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).expect("endpoint");
        let d = ApiDriver::new(HttpClient::new(endpoint, Duration::from_millis(100)));
        let err = d.machines().await.expect_err("times out").to_string();
        assert!(err.contains("request timed out after 100ms"), "{err}");
    }
}
