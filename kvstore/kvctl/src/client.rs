//! Connecting to the cluster: which endpoints, in which order, and how long to wait.
//!
//! etcdctl's rules, kept: `--endpoints` is a comma list that may or may not carry `http://`; the dial timeout
//! bounds the connection, the command timeout bounds each short request. Endpoints are tried in order and the
//! first that accepts a connection is used (each gets the full dial timeout).
//!
//! Transport security as etcdctl 3.4 decides it: an `https://` endpoint speaks TLS, an `http://` one does not,
//! and one without a scheme does when any of `--cacert`/`--cert`/`--key` is given (or `--insecure-transport=false`).
//! The server is checked against `--cacert`, else the system's CAs; `--insecure-skip-tls-verify` checks nothing.
//! (etcdctl 3.4 ignores that last flag unless another TLS flag is set; kvctl honours it on its own.)

use kvstore_proto::v3electionpb::election_client::ElectionClient;
use kvstore_proto::v3lockpb::lock_client::LockClient;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kvstore_proto::etcdserverpb::cluster_client::ClusterClient;
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::lease_client::LeaseClient;
use kvstore_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use kvstore_proto::etcdserverpb::watch_client::WatchClient;
use kvstore_proto::etcdserverpb::RangeRequest;
use tonic::transport::{Channel, Endpoint};

use crate::error::{ExitCode, Failure};

/// The default endpoint, as etcdctl's.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";

/// Where and how to connect, resolved from flags and environment.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Endpoints as the user wrote them (printed that way by `endpoint status`/`health`).
    pub endpoints: Vec<String>,
    /// Bound on establishing one connection.
    pub dial_timeout: Duration,
    /// Bound on each short request (not on `watch` or `lease keep-alive`).
    pub command_timeout: Duration,
    pub tls: TlsFlags,
    /// The TLS client configuration, built on first use (or at once when TLS files were named, to report a bad
    /// file before anything else).
    tls_config: Arc<OnceLock<Arc<kvstore_tls::ClientConfig>>>,
}

/// etcdctl's transport-security flags.
#[derive(Clone, Debug, Default)]
pub struct TlsFlags {
    /// `--cacert`: verify servers with this CA bundle.
    pub cacert: Option<PathBuf>,
    /// `--cert` and `--key`: present this client certificate.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_verify: bool,
    /// `--insecure-transport` (default true): false makes scheme-less endpoints use TLS.
    pub insecure_transport: bool,
}

impl TlsFlags {
    /// Whether an endpoint written without a scheme uses TLS.
    fn by_default(&self) -> bool {
        self.cacert.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || !self.insecure_transport
    }
}

/// Why a single endpoint could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The endpoint is not a URL tonic can dial.
    #[error("bad endpoint {endpoint:?}: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    /// The connection was refused or failed.
    #[error("{endpoint}: {reason}")]
    Transport { endpoint: String, reason: String },
    /// Nothing answered within the dial timeout.
    #[error("{endpoint}: context deadline exceeded")]
    Timeout { endpoint: String },
}

/// A request that did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server (or the transport) answered with a gRPC status.
    #[error("{}", status_text(.0))]
    Status(tonic::Status),
    /// The command timeout passed; Go's context error text.
    #[error("context deadline exceeded")]
    Timeout,
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Failure {
        Failure::error(e)
    }
}

/// Whether a status came from the transport rather than from a server.
fn is_transport_failure(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    ) && !s.message().starts_with("etcdserver:")
}

/// How etcdctl shows a gRPC error: etcd's own message (`etcdserver: ...`) when the server gave one, else Go
/// gRPC's `rpc error: code = ... desc = ...`.
pub fn status_text(s: &tonic::Status) -> String {
    let mut msg = s.message().to_string();
    if let Some(source) = std::error::Error::source(s) {
        let chain = error_chain(source);
        msg = if chain.starts_with(&msg) {
            chain
        } else {
            format!("{msg}: {chain}")
        };
    }
    if msg.starts_with("etcdserver:") {
        msg.to_string()
    } else if msg.is_empty() {
        format!("rpc error: code = {:?}", s.code())
    } else {
        format!("rpc error: code = {:?} desc = {msg}", s.code())
    }
}

/// One live connection to the endpoint that answered.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    command_timeout: Duration,
}

impl ClientConfig {
    /// Builds the config from the global flags and the environment: `--endpoints`, else `KVCTL_ENDPOINTS`, else
    /// `ETCDCTL_ENDPOINTS`, else the default.
    ///
    /// TLS files named by the flags are read here: a missing or bad one fails with exit code 128, as etcdctl's.
    pub fn new(
        flag: Option<&str>,
        dial_timeout: Duration,
        command_timeout: Duration,
        tls: TlsFlags,
    ) -> Result<ClientConfig, Failure> {
        let kvctl_env = std::env::var("KVCTL_ENDPOINTS").ok();
        let etcdctl_env = std::env::var("ETCDCTL_ENDPOINTS").ok();
        let cfg = ClientConfig {
            endpoints: resolve_endpoints(flag, kvctl_env.as_deref(), etcdctl_env.as_deref()),
            dial_timeout,
            command_timeout,
            tls,
            tls_config: Arc::default(),
        };
        if cfg.tls.cert.is_some() != cfg.tls.key.is_some() {
            return Err(Failure::bad_args(if cfg.tls.cert.is_some() {
                "--key is required with --cert"
            } else {
                "--cert is required with --key"
            }));
        }
        if cfg.tls.by_default() {
            cfg.tls_config().map_err(Failure::bad_args)?;
        }
        Ok(cfg)
    }

    /// The TLS client configuration, from the flags (built once).
    fn tls_config(&self) -> Result<Arc<kvstore_tls::ClientConfig>, String> {
        if let Some(c) = self.tls_config.get() {
            return Ok(c.clone());
        }
        let identity = match (&self.tls.cert, &self.tls.key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        };
        let built = kvstore_tls::client_config(
            self.tls.cacert.as_deref(),
            identity,
            self.tls.insecure_skip_verify,
            &[b"h2"],
        )
        .map_err(|e| e.to_string())?;
        Ok(self.tls_config.get_or_init(|| built).clone())
    }

    /// Connects to the first endpoint that answers; fails with exit code 2 if none does.
    ///
    /// A TCP connection alone does not prove a server is there (a stopped process still accepts), so when there
    /// are endpoints to fall back to, each is first asked a serializable count of the key `health` within the
    /// dial timeout; any answer from a server, even an error status, counts as alive.
    pub async fn connect(&self) -> Result<Client, Failure> {
        let mut errors = Vec::new();
        let probe = self.endpoints.len() > 1;
        for endpoint in &self.endpoints {
            let client = match self.connect_to(endpoint).await {
                Ok(client) => client,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            if !probe {
                return Ok(client);
            }
            match client.probe(self.dial_timeout).await {
                Ok(()) => return Ok(client),
                Err(e) => errors.push(format!("{endpoint}: {e}")),
            }
        }
        Err(Failure::new(
            ExitCode::BadConnection,
            format!("failed to connect to any endpoint ({})", errors.join("; ")),
        ))
    }

    /// Connects to this one endpoint.
    pub async fn connect_to(&self, endpoint: &str) -> Result<Client, ConnectError> {
        let bad = |reason: String| ConnectError::BadEndpoint {
            endpoint: endpoint.to_string(),
            reason,
        };
        let (url, tls) = endpoint_url(endpoint, self.tls.by_default()).map_err(bad)?;
        let ep = Endpoint::from_shared(url)
            .map_err(|e| ConnectError::BadEndpoint {
                endpoint: endpoint.to_string(),
                reason: error_chain(&e),
            })?
            .connect_timeout(self.dial_timeout)
            .tcp_nodelay(true);
        let transport = |e: tonic::transport::Error| ConnectError::Transport {
            endpoint: endpoint.to_string(),
            reason: error_chain(&e),
        };
        let connecting = async {
            if !tls {
                return ep.connect().await.map_err(transport);
            }
            let config = self.tls_config().map_err(bad)?;
            let host = ep.uri().host().unwrap_or_default().to_string();
            let name = kvstore_tls::server_name(&host).map_err(|e| bad(e.to_string()))?;
            // tonic dials http:// here; the connector puts TLS (ALPN h2) under it.
            let connector = tower::service_fn(move |uri: tonic::transport::Uri| {
                let (config, name) = (config.clone(), name.clone());
                async move {
                    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
                    let port = uri.port_u16().unwrap_or(2379);
                    let mut last = std::io::Error::other(format!("{host}: no address"));
                    for addr in tokio::net::lookup_host((host, port)).await? {
                        match kvstore_tls::Stream::connect(addr, Some((&config, name.clone())))
                            .await
                        {
                            Ok(s) => return Ok(hyper_util::rt::TokioIo::new(s)),
                            Err(e) => last = e,
                        }
                    }
                    Err(last)
                }
            });
            ep.connect_with_connector(connector)
                .await
                .map_err(transport)
        };
        let channel = match tokio::time::timeout(self.dial_timeout, connecting).await {
            Err(_) => {
                return Err(ConnectError::Timeout {
                    endpoint: endpoint.to_string(),
                })
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(c)) => c,
        };
        Ok(Client {
            channel,
            command_timeout: self.command_timeout,
        })
    }
}

impl Client {
    /// The KV service.
    pub fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone())
    }

    /// The Watch service.
    pub fn watch(&self) -> WatchClient<Channel> {
        WatchClient::new(self.channel.clone())
    }

    /// The Lease service.
    pub fn lease(&self) -> LeaseClient<Channel> {
        LeaseClient::new(self.channel.clone())
    }

    /// The Cluster service.
    pub fn cluster(&self) -> ClusterClient<Channel> {
        ClusterClient::new(self.channel.clone())
    }

    /// The Maintenance service.
    pub fn maintenance(&self) -> MaintenanceClient<Channel> {
        MaintenanceClient::new(self.channel.clone())
    }

    /// etcd's Lock service.
    pub fn lock(&self) -> LockClient<Channel> {
        LockClient::new(self.channel.clone())
    }

    /// etcd's Election service.
    pub fn election(&self) -> ElectionClient<Channel> {
        ElectionClient::new(self.channel.clone())
    }

    /// Whether a server answers at all on this connection.
    async fn probe(&self, timeout: Duration) -> Result<(), RpcError> {
        let req = RangeRequest {
            key: b"health".to_vec(),
            serializable: true,
            count_only: true,
            ..Default::default()
        };
        match tokio::time::timeout(timeout, self.kv().range(req)).await {
            Err(_) => Err(RpcError::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(s)) if is_transport_failure(&s) => Err(RpcError::Status(s)),
            Ok(Err(_)) => Ok(()),
        }
    }

    /// Awaits a unary call within the command timeout.
    pub async fn call<T>(
        &self,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, RpcError> {
        match tokio::time::timeout(self.command_timeout, fut).await {
            Err(_) => Err(RpcError::Timeout),
            Ok(Err(status)) => Err(RpcError::Status(status)),
            Ok(Ok(resp)) => Ok(resp.into_inner()),
        }
    }
}

/// Picks the endpoint list: the flag, then `KVCTL_ENDPOINTS`, then `ETCDCTL_ENDPOINTS`, then the default. Empty
/// entries are dropped and whitespace trimmed.
pub fn resolve_endpoints(
    flag: Option<&str>,
    kvctl_env: Option<&str>,
    etcdctl_env: Option<&str>,
) -> Vec<String> {
    let raw = [flag, kvctl_env, etcdctl_env]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .unwrap_or(DEFAULT_ENDPOINT);
    let list: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        vec![DEFAULT_ENDPOINT.to_string()]
    } else {
        list
    }
}

/// The `http://` URL tonic dials for an endpoint, and whether TLS goes under it: `https://` endpoints do,
/// `http://` ones do not, scheme-less ones do when `tls_by_default`.
pub fn endpoint_url(endpoint: &str, tls_by_default: bool) -> Result<(String, bool), String> {
    if endpoint.starts_with("unix://") || endpoint.starts_with("unixs://") {
        return Err("unix socket endpoints are not supported by kvctl".to_string());
    }
    if let Some(rest) = endpoint.strip_prefix("https://") {
        Ok((format!("http://{rest}"), true))
    } else if endpoint.starts_with("http://") {
        Ok((endpoint.to_string(), false))
    } else if endpoint.contains("://") {
        Err("unknown URL scheme".to_string())
    } else {
        Ok((format!("http://{endpoint}"), tls_by_default))
    }
}

/// An error with its sources, `a: b: c`, because tonic's top-level transport error just says "transport error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Parses a Go duration (`2s`, `500ms`, `1m30s`, `1.5h`); a bare `0` is zero.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "time: invalid duration {}",
            crate::error::go_quote(s.as_bytes())
        )
    };
    let mut rest = s.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!(
                    "time: missing unit in duration {}",
                    crate::error::go_quote(s.as_bytes())
                )
            })?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += value * nanos_per_unit;
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Go's `time.Duration.String()`: `850ns`, `1.234567ms`, `2.5s`, `1m30s`.
pub fn go_duration_string(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", fraction(ns, 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", fraction(ns, 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let hours = secs / 3600;
    let minutes = (secs / 60) % 60;
    let sec_ns = ns % 60_000_000_000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}s", fraction(sec_ns, 1_000_000_000, 9)));
    out
}

/// `value / unit` with the remainder as decimals, trailing zeros dropped.
fn fraction(value: u128, unit: u128, digits: usize) -> String {
    let int = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return int.to_string();
    }
    let decimals = format!("{frac:0digits$}");
    format!("{int}.{}", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_flag_then_envs_then_default() {
        assert_eq!(
            resolve_endpoints(Some("a:1, b:2"), Some("c:3"), None),
            vec!["a:1", "b:2"]
        );
        assert_eq!(
            resolve_endpoints(None, Some("c:3"), Some("d:4")),
            vec!["c:3"]
        );
        assert_eq!(resolve_endpoints(None, None, Some("d:4")), vec!["d:4"]);
        assert_eq!(
            resolve_endpoints(None, Some(""), None),
            vec![DEFAULT_ENDPOINT]
        );
    }

    #[test]
    fn endpoint_urls() {
        let url = endpoint_url;
        assert_eq!(
            url("127.0.0.1:2379", false),
            Ok(("http://127.0.0.1:2379".into(), false))
        );
        assert_eq!(
            url("127.0.0.1:2379", true),
            Ok(("http://127.0.0.1:2379".into(), true))
        );
        assert_eq!(url("http://h:1", true), Ok(("http://h:1".into(), false)));
        assert_eq!(url("https://h:1", false), Ok(("http://h:1".into(), true)));
        assert!(url("unix://h:1", false).is_err());
        assert!(url("ftp://h:1", false).is_err());
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("abc").is_err());
    }

    #[test]
    fn go_durations_print() {
        assert_eq!(go_duration_string(Duration::from_nanos(850)), "850ns");
        assert_eq!(
            go_duration_string(Duration::from_nanos(1_234_567)),
            "1.234567ms"
        );
        assert_eq!(go_duration_string(Duration::from_micros(12)), "12µs");
        assert_eq!(go_duration_string(Duration::from_millis(2500)), "2.5s");
        assert_eq!(go_duration_string(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration_string(Duration::from_secs(3600)), "1h0m0s");
    }
}
