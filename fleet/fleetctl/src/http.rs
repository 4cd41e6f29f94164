//! A small HTTP/1.1 client for fleet's API: one connection per request, over a unix socket
//! (`unix:///var/run/fleet.sock`, as fleet's default endpoint) or TCP (`http://host:port`), with hyper's
//! connection-level client.
//!
//! One connection per request keeps it simple and robust (fleetd restarting between two polls costs nothing),
//! and fleetctl makes few requests: a list, or one poll per unit every 250 ms. Every request is bounded by
//! `--request-timeout` (fleet applied it to its etcd driver only; here it covers the API too), except the
//! body of a streamed response (`journal -f` runs until interrupted).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// Where a fleet API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket; requests go to `http://domain-sock/…` as fleet's client sends them.
    Unix(PathBuf),
    /// `http://host:port/base`.
    Tcp {
        host: String,
        port: u16,
        /// A path the API is mounted under (usually empty), without a trailing `/`.
        base: String,
    },
}

/// An endpoint fleetctl cannot use; the first messages are fleet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("URL scheme undefined")]
    NoScheme,
    #[error("unable to connect to host {host:?} with scheme {scheme:?}")]
    SocketWithHost { host: String, scheme: String },
    #[error("unsupported protocol scheme {0:?}")]
    Scheme(String),
    #[error("https is not supported by this fleetctl: use an http:// or unix:// endpoint")]
    Tls,
    #[error("invalid port in {0:?}")]
    Port(String),
    #[error("missing host in {0:?}")]
    NoHost(String),
}

impl Endpoint {
    /// Parses a URL as fleet's `getHTTPClient` does: `unix:///path` or `file:///path` (no host allowed),
    /// `http://host[:port][/base]`.
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let (scheme, rest) = url.split_once(':').ok_or(EndpointError::NoScheme)?;
        let valid_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(EndpointError::NoScheme);
        }
        let scheme = scheme.to_ascii_lowercase();
        // `scheme://authority/path` or `scheme:/path`.
        let (authority, path) = match rest.strip_prefix("//") {
            Some(r) => match r.find('/') {
                Some(i) => (&r[..i], &r[i..]),
                None => (r, ""),
            },
            None => ("", rest),
        };
        match scheme.as_str() {
            "unix" | "file" => {
                if !authority.is_empty() {
                    return Err(EndpointError::SocketWithHost {
                        host: authority.to_string(),
                        scheme,
                    });
                }
                Ok(Endpoint::Unix(PathBuf::from(path)))
            }
            "http" => {
                let (host, port) = split_host_port(authority, url)?;
                Ok(Endpoint::Tcp {
                    host,
                    port,
                    base: path.trim_end_matches('/').to_string(),
                })
            }
            "https" => Err(EndpointError::Tls),
            other => Err(EndpointError::Scheme(other.to_string())),
        }
    }

    /// The URL of `path` as error messages show it.
    pub fn url(&self, path: &str) -> String {
        match self {
            Endpoint::Unix(_) => format!("http://domain-sock{path}"),
            Endpoint::Tcp { base, .. } => format!("http://{}{base}{path}", self.host_header()),
        }
    }

    fn host_header(&self) -> String {
        match self {
            Endpoint::Unix(_) => "domain-sock".to_string(),
            Endpoint::Tcp { host, port, .. } if host.contains(':') => format!("[{host}]:{port}"),
            Endpoint::Tcp { host, port, .. } => format!("{host}:{port}"),
        }
    }
}

fn split_host_port(authority: &str, url: &str) -> Result<(String, u16), EndpointError> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| EndpointError::NoHost(url.to_string()))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(EndpointError::NoHost(url.to_string()));
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse()
            .map_err(|_| EndpointError::Port(url.to_string()))?,
    };
    Ok((host.to_string(), port))
}

/// A request that failed before an HTTP status came back (Go's `url.Error` shape: `Get URL: reason`).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{op} {url}: dial {net} {addr}: connect: {}", crate::io::go_reason(.source))]
    Dial {
        op: &'static str,
        url: String,
        net: &'static str,
        addr: String,
        source: io::Error,
    },
    #[error("{op} {url}: {message}")]
    Transport {
        op: &'static str,
        url: String,
        message: String,
    },
    #[error("{op} {url}: request timed out after {timeout:?}")]
    Timeout {
        op: &'static str,
        url: String,
        timeout: Duration,
    },
    /// Writing a streamed body out failed (a closed stdout, say).
    #[error("{0}")]
    Sink(io::Error),
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The client for one endpoint.
#[derive(Debug, Clone)]
pub struct HttpClient {
    endpoint: Endpoint,
    /// Bound on each request (connect, send, response headers and, except for streams, the body).
    timeout: Duration,
}

fn op_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::POST => "Post",
        Method::DELETE => "Delete",
        Method::PATCH => "Patch",
        _ => "Request",
    }
}

impl HttpClient {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> HttpClient {
        HttpClient { endpoint, timeout }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `method path` (path and query, starting with `/`), with a JSON body if given, and reads the whole
    /// response.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<Response, HttpError> {
        let op = op_name(&method);
        let url = self.endpoint.url(path);
        let work = async {
            let resp = self.send(method, path, json).await?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| HttpError::Transport {
                    op,
                    url: url.clone(),
                    message: e.to_string(),
                })?
                .to_bytes();
            Ok(Response { status, body })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| HttpError::Timeout {
                op,
                url: url.clone(),
                timeout: self.timeout,
            })?
    }

    /// Sends `GET path` and hands each chunk of a successful body to `sink` as it arrives, with no time limit
    /// on the body. A non-2xx response is returned whole instead.
    pub async fn stream(
        &self,
        path: &str,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<Option<Response>, HttpError> {
        let url = self.endpoint.url(path);
        let resp = tokio::time::timeout(self.timeout, self.send(Method::GET, path, None))
            .await
            .map_err(|_| HttpError::Timeout {
                op: "Get",
                url: url.clone(),
                timeout: self.timeout,
            })??;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            let body = tokio::time::timeout(self.timeout, body.collect())
                .await
                .map_err(|_| HttpError::Timeout {
                    op: "Get",
                    url: url.clone(),
                    timeout: self.timeout,
                })?
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return Ok(Some(Response { status, body }));
        }
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| HttpError::Transport {
                op: "Get",
                url: url.clone(),
                message: e.to_string(),
            })?;
            if let Ok(data) = frame.into_data() {
                sink(&data).map_err(HttpError::Sink)?;
            }
        }
        Ok(None)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<hyper::Response<Incoming>, HttpError> {
        let op = op_name(&method);
        let url = self.endpoint.url(path);
        let full_path = match &self.endpoint {
            Endpoint::Tcp { base, .. } => format!("{base}{path}"),
            Endpoint::Unix(_) => path.to_string(),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(full_path)
            .header(HOST, self.endpoint.host_header())
            .header(USER_AGENT, concat!("fleetctl/", env!("CARGO_PKG_VERSION")));
        if json.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| HttpError::Transport {
                op,
                url: url.clone(),
                message: e.to_string(),
            })?;
        let dial = |net: &'static str, addr: String| {
            let url = url.clone();
            move |source| HttpError::Dial {
                op,
                url,
                net,
                addr,
                source,
            }
        };
        match &self.endpoint {
            Endpoint::Unix(p) => {
                let stream = UnixStream::connect(p)
                    .await
                    .map_err(dial("unix", p.display().to_string()))?;
                exchange(stream, request, op, &url).await
            }
            Endpoint::Tcp { host, port, .. } => {
                let addr = self.endpoint.host_header();
                let stream = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(dial("tcp", addr))?;
                exchange(stream, request, op, &url).await
            }
        }
    }
}

/// One request on a fresh connection, whose driver task lives as long as the response body is read.
async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    op: &'static str,
    url: &str,
) -> Result<hyper::Response<Incoming>, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let transport = |e: hyper::Error| HttpError::Transport {
        op,
        url: url.to_string(),
        message: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(transport)?;
    tokio::spawn(async move {
        // The connection ends with the response (or the server closing it); its error, if any, reaches the
        // request side as well.
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(transport)
}

/// Go's `url.PathEscape`: what may stay unescaped in one path segment (`web@1.service` keeps its `@`).
pub fn path_escape(s: &str) -> String {
    escape(
        s,
        |c| c.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&c),
        false,
    )
}

/// Go's `url.QueryEscape`: a query value (spaces become `+`).
pub fn query_escape(s: &str) -> String {
    escape(
        s,
        |c| c.is_ascii_alphanumeric() || b"-_.~".contains(&c),
        true,
    )
}

fn escape(s: &str, keep: impl Fn(u8) -> bool, space_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else if b == b' ' && space_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_fleets_client() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/fleet.sock"),
            Ok(Endpoint::Unix("/var/run/fleet.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("file:///tmp/f.sock"),
            Ok(Endpoint::Unix("/tmp/f.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:49153"),
            Ok(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 49153,
                base: String::new()
            })
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:80/api/"),
            Ok(Endpoint::Tcp {
                host: "::1".into(),
                port: 80,
                base: "/api".into()
            })
        );
        assert_eq!(
            Endpoint::parse("http://fleet"),
            Ok(Endpoint::Tcp {
                host: "fleet".into(),
                port: 80,
                base: String::new()
            })
        );
        let err = |u: &str| Endpoint::parse(u).unwrap_err().to_string();
        assert_eq!(err("/var/run/fleet.sock"), "URL scheme undefined");
        assert_eq!(err("127.0.0.1:4001"), "URL scheme undefined");
        assert_eq!(
            err("unix://host/var/run/fleet.sock"),
            "unable to connect to host \"host\" with scheme \"unix\""
        );
        assert_eq!(err("ftp://x"), "unsupported protocol scheme \"ftp\"");
        assert!(err("https://x").contains("https is not supported"));
        assert!(err("http://x:notaport").contains("invalid port"));
    }

    #[test]
    fn urls_for_messages_and_host_headers() {
        let unix = Endpoint::Unix("/s".into());
        assert_eq!(
            unix.url("/fleet/v1/units"),
            "http://domain-sock/fleet/v1/units"
        );
        let tcp = Endpoint::parse("http://[::1]:4002/base").expect("valid");
        assert_eq!(tcp.url("/x"), "http://[::1]:4002/base/x");
        assert_eq!(tcp.host_header(), "[::1]:4002");
    }

    #[test]
    fn escaping_matches_go() {
        assert_eq!(path_escape("web@1.service"), "web@1.service");
        assert_eq!(
            path_escape("a\\x2d b/c?.service"),
            "a%5Cx2d%20b%2Fc%3F.service"
        );
        assert_eq!(query_escape("web@1.service"), "web%401.service");
        assert_eq!(query_escape("a b"), "a+b");
    }
}
