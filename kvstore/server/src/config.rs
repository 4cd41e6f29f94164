//! Server configuration: what the flags said ([`RawConfig`], etcd's flag names) turned into what the server
//! runs with ([`ServerConfig`], addresses resolved, cluster parsed, ids computed), with errors that name the flag.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::state::{MemberInfo, Membership};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag}: {reason}")]
    Invalid { flag: &'static str, reason: String },
}

pub(crate) fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        reason: reason.into(),
    }
}

/// Whether the member starts a new cluster or joins an existing one (etcd's `--initial-cluster-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

/// The flags, as given (etcd's names and defaults).
#[derive(Debug, Clone)]
pub struct RawConfig {
    pub name: String,
    pub data_dir: Option<PathBuf>,
    pub listen_client_urls: String,
    pub advertise_client_urls: String,
    pub listen_peer_urls: String,
    pub initial_advertise_peer_urls: String,
    pub initial_cluster: Option<String>,
    pub initial_cluster_state: String,
    pub initial_cluster_token: String,
    pub listen_metrics_urls: String,
    pub heartbeat_interval_ms: u64,
    pub election_timeout_ms: u64,
    pub snapshot_count: u64,
    pub auto_compaction_mode: String,
    pub auto_compaction_retention: String,
    pub quota_backend_bytes: i64,
    pub max_txn_ops: usize,
    pub max_request_bytes: usize,
    /// `--cert-file`, `--key-file`, `--client-cert-auth`, `--trusted-ca-file`: TLS on https client URLs.
    pub client_tls: TlsFlags,
    /// `--peer-cert-file`, `--peer-key-file`, `--peer-client-cert-auth`, `--peer-trusted-ca-file`: TLS between
    /// members on https peer URLs.
    pub peer_tls: TlsFlags,
    /// `--force-new-cluster`: restart as the only member of the cluster (see [`crate::force_new_cluster`]).
    pub force_new_cluster: bool,
    /// `--strict-reconfig-check` (default true): see [`crate::reconfig`].
    pub strict_reconfig_check: bool,
    /// `--wal-dir`: the write-ahead log's directory, if not beside the tables (see [`crate::storage::Db`]).
    pub wal_dir: Option<PathBuf>,
    /// `--pre-vote` (default true, as etcd 3.5's; 3.4's was false): a member that lost its leader first asks
    /// whether it could win before it raises the term, so a member coming back from a partition does not depose
    /// a healthy leader.
    pub pre_vote: bool,
    /// `--enable-v2`: etcd's v2 API. Not served; `true` is refused rather than silently ignored.
    pub enable_v2: bool,
    /// `--max-concurrent-streams`: HTTP/2 streams one client connection may have open at once.
    pub max_concurrent_streams: u32,
    /// `--grpc-keepalive-interval` (0 disables) and `--grpc-keepalive-timeout`: the server pings an idle client
    /// connection this often and closes it when a ping goes unanswered this long.
    pub grpc_keepalive_interval: Duration,
    pub grpc_keepalive_timeout: Duration,
    /// `--experimental-watch-progress-notify-interval`: how often a watcher that asked for progress
    /// notifications gets one.
    pub watch_progress_notify_interval: Duration,
    /// `--experimental-initial-corrupt-check`: compare the store's hash with the peers' before starting (see
    /// [`crate::corrupt_check`]).
    pub initial_corrupt_check: bool,
    /// `--experimental-corrupt-check-time`: how often the leader compares the members' hashes (0: never).
    pub corrupt_check_time: Duration,
}

/// One listener kind's TLS flags, as etcd names them (client or `--peer-` prefixed).
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Clients must present a certificate signed by `trusted_ca_file`.
    pub client_cert_auth: bool,
    pub trusted_ca_file: Option<PathBuf>,
    /// `--auto-tls` / `--peer-auto-tls`: without certificate files, use a self-signed certificate made in the data
    /// directory (see [`with_auto_tls`]).
    pub auto_tls: bool,
    /// `--client-crl-file` / `--peer-crl-file`: certificates the lists in this file revoke are refused (read
    /// again when it changes; see [`kvstore_tls::crl`]).
    pub crl_file: Option<PathBuf>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            name: "default".into(),
            data_dir: None,
            listen_client_urls: "http://127.0.0.1:2379".into(),
            advertise_client_urls: "http://127.0.0.1:2379".into(),
            listen_peer_urls: "http://127.0.0.1:2380".into(),
            initial_advertise_peer_urls: "http://127.0.0.1:2380".into(),
            initial_cluster: None,
            initial_cluster_state: "new".into(),
            initial_cluster_token: "etcd-cluster".into(),
            listen_metrics_urls: "http://127.0.0.1:2381".into(),
            heartbeat_interval_ms: 100,
            election_timeout_ms: 1000,
            auto_compaction_mode: "periodic".into(),
            auto_compaction_retention: "0".into(),
            quota_backend_bytes: 0,
            max_txn_ops: crate::kv_ops::MAX_TXN_OPS,
            max_request_bytes: crate::kv_ops::MAX_REQUEST_BYTES,
            snapshot_count: DEFAULT_SNAPSHOT_COUNT,
            client_tls: TlsFlags::default(),
            peer_tls: TlsFlags::default(),
            force_new_cluster: false,
            strict_reconfig_check: true,
            wal_dir: None,
            pre_vote: true,
            enable_v2: false,
            max_concurrent_streams: u32::MAX,
            grpc_keepalive_interval: DEFAULT_GRPC_KEEPALIVE_INTERVAL,
            grpc_keepalive_timeout: DEFAULT_GRPC_KEEPALIVE_TIMEOUT,
            watch_progress_notify_interval: DEFAULT_WATCH_PROGRESS_NOTIFY_INTERVAL,
            initial_corrupt_check: false,
            corrupt_check_time: Duration::ZERO,
        }
    }
}

/// etcd's defaults for the server's keep-alive pings: every 2 hours, answered within 20 seconds.
pub const DEFAULT_GRPC_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2 * 3600);
pub const DEFAULT_GRPC_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// etcd's `--grpc-keepalive-min-time` default (accepted, not enforced: see [`crate::config_file`]).
pub const DEFAULT_GRPC_KEEPALIVE_MIN_TIME: Duration = Duration::from_secs(5);
/// etcd's default interval between progress notifications to watchers that asked for them: 10 minutes.
pub const DEFAULT_WATCH_PROGRESS_NOTIFY_INTERVAL: Duration = Duration::from_secs(600);

/// Applied entries between raft log truncations. etcd's default is 100,000, which etcd keeps in memory; our log
/// lives in RocksDB, but a shorter log still means less to replay and less disk.
pub const DEFAULT_SNAPSHOT_COUNT: u64 = 10_000;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub client_addrs: Vec<Listen>,
    pub advertise_client_urls: Vec<String>,
    pub peer_addrs: Vec<Listen>,
    pub metrics_addrs: Vec<SocketAddr>,
    pub cluster_state: ClusterState,
    /// The membership a new cluster starts with (ids computed as etcd computes them).
    pub initial: Membership,
    /// This member's advertised peer URLs.
    pub peer_urls: Vec<String>,
    /// `--initial-cluster-token`, mixed into the ids of members added at runtime.
    pub token: String,
    /// Applied entries between raft log truncations.
    pub snapshot_count: u64,
    /// This member's id.
    pub member_id: u64,
    pub tick: Duration,
    pub election_ticks: usize,
    /// `--auto-compaction-*`; `None` when off.
    pub auto_compaction: Option<crate::auto_compact::Policy>,
    /// `--quota-backend-bytes`; `None` when off.
    pub quota_bytes: Option<u64>,
    /// `--max-txn-ops`: operations one txn may hold.
    pub max_txn_ops: usize,
    /// `--max-request-bytes`: the largest request a client may send.
    pub max_request_bytes: usize,
    /// The handshake of https client URLs (`None` when every client URL is http).
    pub client_tls: Option<Arc<kvstore_tls::ServerConfig>>,
    pub peer_tls: PeerTls,
    pub force_new_cluster: bool,
    pub strict_reconfig_check: bool,
    /// Absolute, so that a member started from another directory finds the same log.
    pub wal_dir: Option<PathBuf>,
    pub pre_vote: bool,
    pub max_concurrent_streams: u32,
    /// The client listeners' HTTP/2 keep-alive pings: `None` when `--grpc-keepalive-interval` is 0.
    pub grpc_keepalive: Option<Keepalive>,
    pub watch_progress_notify_interval: Duration,
    pub initial_corrupt_check: bool,
    /// `None` when off.
    pub corrupt_check_time: Option<Duration>,
}

/// How often the server pings a client connection, and how long it waits for the answer before closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Where a listener binds, and whether its URL was `https://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    pub tls: bool,
}

/// TLS between members: how this member answers on https peer URLs, and how it dials members whose peer URLs
/// are https (trusting `--peer-trusted-ca-file`, else the system's CAs, and presenting `--peer-cert-file`, as
/// etcd presents its peer certificate both ways).
#[derive(Debug, Clone)]
pub struct PeerTls {
    pub server: Option<Arc<kvstore_tls::ServerConfig>>,
    pub client: Arc<kvstore_tls::ClientConfig>,
}

/// Whether a URL asks for TLS.
pub fn is_https(url: &str) -> bool {
    url.starts_with("https://")
}

/// The two TLS flags a certificate needs, both or neither; `names` are theirs, for the error.
fn cert_and_key<'a>(
    flags: &'a TlsFlags,
    names: [&'static str; 2],
) -> Result<Option<(&'a Path, &'a Path)>, ConfigError> {
    match (&flags.cert_file, &flags.key_file) {
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(
            names[1],
            format!("is required with --{}", names[0]),
        )),
        (None, Some(_)) => Err(invalid(
            names[0],
            format!("is required with --{}", names[1]),
        )),
    }
}

/// etcd's auto TLS for one listener kind: with `--auto-tls` (`flag`) and no certificate files of the operator's,
/// the flags to use name a self-signed certificate for the hosts of `urls`, made in `dir` on the first start and
/// reused after; the `bool` says so (members dialing each other with one skip verifying the other's). Certificate
/// files win over the flag, as in etcd ("ignoring client auto TLS since certs given").
fn with_auto_tls(
    flags: &TlsFlags,
    urls: &[String],
    dir: &Path,
    flag: &'static str,
) -> Result<(TlsFlags, bool), ConfigError> {
    if !flags.auto_tls {
        return Ok((flags.clone(), false));
    }
    if flags.cert_file.is_some() || flags.key_file.is_some() {
        tracing::warn!("--{flag} is ignored: certificate files are given");
        return Ok((flags.clone(), false));
    }
    let mut hosts: Vec<String> = Vec::new();
    for url in urls {
        let host = host_port(url)
            .ok()
            .map(|hp| host_of(hp).trim_start_matches('[').trim_end_matches(']'));
        if let Some(host) = host.filter(|h| !hosts.iter().any(|known| known == h)) {
            hosts.push(host.to_string());
        }
    }
    let pair =
        kvstore_tls::self_signed::ensure(dir, &hosts).map_err(|e| invalid(flag, e.to_string()))?;
    let generated = TlsFlags {
        cert_file: Some(pair.cert),
        key_file: Some(pair.key),
        ..flags.clone()
    };
    Ok((generated, true))
}

/// The server side of one listener kind's TLS (offering `alpn`), when any of its URLs is https; `flag` names
/// the URL flag and `names` the cert, key, client-cert-auth, trusted-ca and crl flags, for the errors.
fn server_tls(
    flags: &TlsFlags,
    urls: &[String],
    flag: &'static str,
    names: [&'static str; 5],
    alpn: &[&[u8]],
) -> Result<Option<Arc<kvstore_tls::ServerConfig>>, ConfigError> {
    let files = cert_and_key(flags, [names[0], names[1]])?;
    if flags.client_cert_auth && flags.trusted_ca_file.is_none() {
        return Err(invalid(names[2], format!("needs --{}", names[3])));
    }
    if flags.crl_file.is_some() && !flags.client_cert_auth {
        // etcd would check a certificate a client happened to send; without --client-cert-auth none is asked
        // for, so the list would never be consulted.
        return Err(invalid(
            names[4],
            format!(
                "needs --{} (revocation is checked on the client certificates it asks for)",
                names[2]
            ),
        ));
    }
    let Some(https) = urls.iter().find(|u| is_https(u)) else {
        return Ok(None);
    };
    let Some((cert, key)) = files else {
        // etcd: "TLS key/cert (--cert-file, --key-file) must be provided for client url ... with HTTPS scheme"
        return Err(invalid(
            flag,
            format!(
                "{https}: TLS key/cert (--{}, --{}) must be provided for an https URL",
                names[0], names[1]
            ),
        ));
    };
    let client_ca = if flags.client_cert_auth {
        flags.trusted_ca_file.as_deref()
    } else {
        None
    };
    let crl = client_ca.and(flags.crl_file.as_deref());
    kvstore_tls::server_config(cert, key, client_ca, crl, alpn)
        .map(Some)
        .map_err(|e| tls_flag_error(flags, names, e))
}

/// A TLS error under the flag that named the file at fault (the certificate's flag when no one file is).
fn tls_flag_error(
    flags: &TlsFlags,
    names: [&'static str; 5],
    e: kvstore_tls::TlsError,
) -> ConfigError {
    let flag = match &e {
        kvstore_tls::TlsError::File { path, .. } if flags.key_file.as_ref() == Some(path) => {
            names[1]
        }
        kvstore_tls::TlsError::File { path, .. }
            if flags.trusted_ca_file.as_ref() == Some(path) =>
        {
            names[3]
        }
        kvstore_tls::TlsError::File { path, .. } if flags.crl_file.as_ref() == Some(path) => {
            names[4]
        }
        _ => names[0],
    };
    invalid(flag, e.to_string())
}

pub fn split_urls(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect()
}

/// Resolves `http://host:port` to socket addresses.
pub fn parse_url(flag: &'static str, url: &str) -> Result<SocketAddr, ConfigError> {
    host_port(url)
        .map_err(|e| invalid(flag, e))?
        .to_socket_addrs()
        .map_err(|e| invalid(flag, format!("{url}: {e}")))?
        .next()
        .ok_or_else(|| invalid(flag, format!("{url}: resolves to no address")))
}

/// The `HOST:PORT` of an `http://HOST:PORT[/]` or `https://HOST:PORT[/]` URL, the forms kvstore listens on
/// and dials; the error names the URL and says what was expected.
pub fn host_port(url: &str) -> Result<&str, String> {
    let rest = match url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    {
        Some(r) => r,
        None if url.starts_with("unix://") => {
            return Err(format!(
                "{url}: unix sockets are not supported; use http:// or https://"
            ))
        }
        None => return Err(format!("{url}: expected http://HOST:PORT")),
    };
    let hostport = rest.trim_end_matches('/');
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(hostport),
        _ => Err(format!("{url}: expected http://HOST:PORT")),
    }
}

/// The host of a `HOST:PORT` that [`host_port`] returned (an IPv6 address keeps its brackets).
pub fn host_of(hostport: &str) -> &str {
    hostport.rsplit_once(':').map_or(hostport, |(host, _)| host)
}

/// etcd's member id: SHA-1 of the sorted peer URLs and the cluster token, first 8 bytes big-endian.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha1::new();
    h.update(urls.concat().as_bytes());
    h.update(token.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// etcd's cluster id: SHA-1 of the sorted member ids, first 8 bytes big-endian.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut h = Sha1::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

impl ServerConfig {
    pub fn from_raw(raw: &RawConfig) -> Result<ServerConfig, ConfigError> {
        if raw.name.is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        let data_dir = raw
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.kvstore", raw.name)));
        let addrs = |flag: &'static str, s: &str| -> Result<Vec<SocketAddr>, ConfigError> {
            let urls = split_urls(s);
            if urls.is_empty() {
                return Err(invalid(flag, "at least one URL is required"));
            }
            urls.iter().map(|u| parse_url(flag, u)).collect()
        };
        let listen = |flag: &'static str, s: &str| -> Result<Vec<Listen>, ConfigError> {
            let urls = split_urls(s);
            Ok(addrs(flag, s)?
                .into_iter()
                .zip(&urls)
                .map(|(addr, url)| Listen {
                    addr,
                    tls: is_https(url),
                })
                .collect())
        };
        let client_addrs = listen("listen-client-urls", &raw.listen_client_urls)?;
        let peer_addrs = listen("listen-peer-urls", &raw.listen_peer_urls)?;
        let metrics_addrs = if raw.listen_metrics_urls.trim().is_empty() {
            Vec::new()
        } else {
            if let Some(u) = split_urls(&raw.listen_metrics_urls)
                .iter()
                .find(|u| is_https(u))
            {
                return Err(invalid(
                    "listen-metrics-urls",
                    format!("{u}: TLS is not served on the metrics listener; use http:// here (an https client URL serves /metrics and /health over TLS)"),
                ));
            }
            addrs("listen-metrics-urls", &raw.listen_metrics_urls)?
        };
        let wal_dir = match &raw.wal_dir {
            Some(dir) if dir.as_os_str().is_empty() => None,
            Some(dir) => Some(
                std::path::absolute(dir)
                    .map_err(|e| invalid("wal-dir", format!("{}: {e}", dir.display())))?,
            ),
            None => None,
        };
        let client_urls = split_urls(&raw.listen_client_urls);
        let (client_flags, _) = with_auto_tls(
            &raw.client_tls,
            &client_urls,
            &data_dir.join("fixtures").join("client"),
            "auto-tls",
        )?;
        let client_tls = server_tls(
            &client_flags,
            &client_urls,
            "listen-client-urls",
            [
                "cert-file",
                "key-file",
                "client-cert-auth",
                "trusted-ca-file",
                "client-crl-file",
            ],
            kvstore_tls::ALPN_CLIENT_PORT,
        )?;
        if client_tls.is_none() && raw.client_tls.cert_file.is_some() {
            // etcd: "scheme is HTTP while key and cert files are present; ignoring key and cert files"
            tracing::warn!("--cert-file is set but no --listen-client-urls URL is https: not used");
        }
        let peer_names = [
            "peer-cert-file",
            "peer-key-file",
            "peer-client-cert-auth",
            "peer-trusted-ca-file",
            "peer-crl-file",
        ];
        let peer_urls = split_urls(&raw.listen_peer_urls);
        let (peer_flags, peer_self_signed) = with_auto_tls(
            &raw.peer_tls,
            &peer_urls,
            &data_dir.join("fixtures").join("peer"),
            "peer-auto-tls",
        )?;
        let peer_server = server_tls(&peer_flags, &peer_urls, "listen-peer-urls", peer_names, &[])?;
        // Members with self-signed certificates cannot verify each other (etcd: InsecureSkipVerify); they still
        // present theirs, which a member with --peer-client-cert-auth checks against its CA.
        let peer_client = kvstore_tls::client_config(
            peer_flags.trusted_ca_file.as_deref(),
            cert_and_key(&peer_flags, [peer_names[0], peer_names[1]])?,
            peer_self_signed,
            &[],
        )
        .map_err(|e| tls_flag_error(&peer_flags, peer_names, e))?;
        let advertise_client_urls = split_urls(&raw.advertise_client_urls);
        let own_peer_urls = split_urls(&raw.initial_advertise_peer_urls);
        for u in &own_peer_urls {
            parse_url("initial-advertise-peer-urls", u)?;
        }
        let cluster_state = match raw.initial_cluster_state.as_str() {
            "new" => ClusterState::New,
            "existing" => ClusterState::Existing,
            other => {
                return Err(invalid(
                    "initial-cluster-state",
                    format!("{other:?}: expected new or existing"),
                ))
            }
        };
        let cluster_spec = raw.initial_cluster.clone().unwrap_or_else(|| {
            format!(
                "{}={}",
                raw.name,
                own_peer_urls.join(&format!(",{}=", raw.name))
            )
        });
        let mut by_name: Vec<(String, Vec<String>)> = Vec::new();
        for part in split_urls(&cluster_spec) {
            let (name, url) = part.split_once('=').ok_or_else(|| {
                invalid("initial-cluster", format!("{part:?}: expected NAME=URL"))
            })?;
            parse_url("initial-cluster", url)?;
            match by_name.iter_mut().find(|(n, _)| n == name) {
                Some((_, urls)) => urls.push(url.to_string()),
                None => by_name.push((name.to_string(), vec![url.to_string()])),
            }
        }
        let Some((_, own_urls)) = by_name.iter().find(|(n, _)| *n == raw.name) else {
            return Err(invalid(
                "initial-cluster",
                format!("has no entry for this member's --name {:?}", raw.name),
            ));
        };
        let mut own_sorted = own_urls.clone();
        own_sorted.sort();
        let mut adv_sorted = own_peer_urls.clone();
        adv_sorted.sort();
        if own_sorted != adv_sorted {
            return Err(invalid(
                "initial-cluster",
                format!("{:?} lists {own_urls:?} for {:?}, but --initial-advertise-peer-urls is {own_peer_urls:?}", cluster_spec, raw.name),
            ));
        }
        let members: Vec<MemberInfo> = by_name
            .iter()
            .map(|(name, urls)| MemberInfo {
                id: member_id(urls, &raw.initial_cluster_token),
                name: name.clone(),
                peer_urls: urls.clone(),
                // Each member publishes its client URLs once it runs (etcd's publish); a lone member's are known.
                client_urls: if *name == raw.name && by_name.len() == 1 {
                    advertise_client_urls.clone()
                } else {
                    Vec::new()
                },
                is_learner: false,
            })
            .collect();
        let me = member_id(&own_peer_urls, &raw.initial_cluster_token);
        let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
        if raw.heartbeat_interval_ms == 0 {
            return Err(invalid("heartbeat-interval", "must be positive"));
        }
        if raw.election_timeout_ms < 5 * raw.heartbeat_interval_ms {
            return Err(invalid(
                "election-timeout",
                "must be at least 5 times --heartbeat-interval",
            ));
        }
        if raw.max_txn_ops == 0 {
            return Err(invalid("max-txn-ops", "must be positive"));
        }
        if raw.max_request_bytes == 0 {
            return Err(invalid("max-request-bytes", "must be positive"));
        }
        if raw.enable_v2 {
            return Err(invalid(
                "enable-v2",
                "the v2 API is not served: kvstore speaks etcd's v3 API only (kvctl's v2-style verbs set, ls, mk \
                 and rm work over it)",
            ));
        }
        if raw.max_concurrent_streams == 0 {
            return Err(invalid("max-concurrent-streams", "must be positive"));
        }
        if raw.watch_progress_notify_interval.is_zero() {
            return Err(invalid(
                "experimental-watch-progress-notify-interval",
                "must be positive",
            ));
        }
        let grpc_keepalive = (!raw.grpc_keepalive_interval.is_zero()).then_some(Keepalive {
            interval: raw.grpc_keepalive_interval,
            timeout: raw.grpc_keepalive_timeout,
        });
        let auto_compaction = crate::auto_compact::Policy::parse(
            &raw.auto_compaction_mode,
            &raw.auto_compaction_retention,
        )
        .map_err(|(flag, reason)| invalid(flag, reason))?;
        Ok(ServerConfig {
            name: raw.name.clone(),
            data_dir,
            client_addrs,
            advertise_client_urls,
            peer_addrs,
            metrics_addrs,
            cluster_state,
            initial: Membership {
                cluster_id: cluster_id(&ids),
                members,
                removed: Vec::new(),
            },
            peer_urls: own_peer_urls.clone(),
            token: raw.initial_cluster_token.clone(),
            snapshot_count: raw.snapshot_count,
            member_id: me,
            tick: Duration::from_millis(raw.heartbeat_interval_ms),
            election_ticks: (raw.election_timeout_ms / raw.heartbeat_interval_ms) as usize,
            auto_compaction,
            quota_bytes: crate::quota::quota_from_flag(raw.quota_backend_bytes),
            max_txn_ops: raw.max_txn_ops,
            max_request_bytes: raw.max_request_bytes,
            client_tls,
            peer_tls: PeerTls {
                server: peer_server,
                client: peer_client,
            },
            force_new_cluster: raw.force_new_cluster,
            strict_reconfig_check: raw.strict_reconfig_check,
            wal_dir,
            pre_vote: raw.pre_vote,
            max_concurrent_streams: raw.max_concurrent_streams,
            grpc_keepalive,
            watch_progress_notify_interval: raw.watch_progress_notify_interval,
            initial_corrupt_check: raw.initial_corrupt_check,
            corrupt_check_time: (!raw.corrupt_check_time.is_zero())
                .then_some(raw.corrupt_check_time),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_host_port_with_a_reason_otherwise() {
        assert_eq!(host_port("http://127.0.0.1:2380/"), Ok("127.0.0.1:2380"));
        assert_eq!(host_port("http://node-1:2380"), Ok("node-1:2380"));
        assert_eq!(host_port("https://10.0.0.1:2380"), Ok("10.0.0.1:2380"));
        assert!(host_port("unix://x:1")
            .unwrap_err()
            .contains("unix sockets"));
        for bad in [
            "10.0.0.1:2380",
            "http://10.0.0.1",
            "http://:2380",
            "http://h:99999",
        ] {
            let e = host_port(bad).unwrap_err();
            assert!(
                e.starts_with(bad) && e.ends_with("expected http://HOST:PORT"),
                "{e}"
            );
        }
    }

    #[test]
    fn defaults_make_a_single_member_in_default_kvstore() {
        let cfg = ServerConfig::from_raw(&RawConfig::default()).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("default.kvstore"));
        assert_eq!(cfg.initial.members.len(), 1);
        assert_eq!(cfg.initial.members[0].id, cfg.member_id);
        assert_eq!(
            cfg.client_addrs,
            vec![Listen {
                addr: "127.0.0.1:2379".parse().unwrap(),
                tls: false
            }]
        );
        assert!(cfg.client_tls.is_none() && cfg.peer_tls.server.is_none());
        assert_eq!(cfg.election_ticks, 10);
    }

    #[test]
    fn member_ids_match_etcd() {
        // etcd 3.4 with default flags reports member id 8e9e05c52164694d.
        assert_eq!(
            member_id(&["http://localhost:2380".into()], "etcd-cluster"),
            0x8e9e05c52164694d
        );
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let raw = RawConfig {
            listen_client_urls: "https://127.0.0.1:1".into(),
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "--listen-client-urls: https://127.0.0.1:1: TLS key/cert (--cert-file, --key-file)"
            ),
            "{err}"
        );
        let raw = RawConfig {
            client_tls: TlsFlags {
                cert_file: Some("c.pem".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert_eq!(err, "--key-file: is required with --cert-file");
        let raw = RawConfig {
            peer_tls: TlsFlags {
                client_cert_auth: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert_eq!(err, "--peer-client-cert-auth: needs --peer-trusted-ca-file");
        let raw = RawConfig {
            client_tls: TlsFlags {
                crl_file: Some("crl.pem".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            err.starts_with("--client-crl-file: needs --client-cert-auth"),
            "{err}"
        );
        let raw = RawConfig {
            listen_metrics_urls: "https://127.0.0.1:2381".into(),
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            err.starts_with("--listen-metrics-urls: https://127.0.0.1:2381: TLS is not served"),
            "{err}"
        );
        let raw = RawConfig {
            initial_cluster: Some("other=http://127.0.0.1:2380".into()),
            ..Default::default()
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            err.contains("--initial-cluster") && err.contains("default"),
            "{err}"
        );
        let raw = RawConfig {
            initial_cluster_state: "old".into(),
            ..Default::default()
        };
        assert!(ServerConfig::from_raw(&raw).is_err());
    }

    #[test]
    fn auto_tls_serves_https_urls_with_certificates_made_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("m1");
        let raw = RawConfig {
            data_dir: Some(data_dir.clone()),
            listen_client_urls: "https://127.0.0.1:2379,http://localhost:2379".into(),
            listen_peer_urls: "https://127.0.0.1:2380".into(),
            initial_advertise_peer_urls: "https://127.0.0.1:2380".into(),
            client_tls: TlsFlags {
                auto_tls: true,
                ..Default::default()
            },
            peer_tls: TlsFlags {
                auto_tls: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let cfg = ServerConfig::from_raw(&raw).unwrap();
        assert!(cfg.client_tls.is_some() && cfg.peer_tls.server.is_some());
        for kind in ["client", "peer"] {
            for file in ["cert.pem", "key.pem"] {
                assert!(data_dir.join("fixtures").join(kind).join(file).is_file());
            }
        }
        // Without the flag the same URLs still need certificate files.
        let raw = RawConfig {
            peer_tls: TlsFlags::default(),
            ..raw
        };
        let err = ServerConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            err.starts_with("--listen-peer-urls: https://127.0.0.1:2380: TLS key/cert"),
            "{err}"
        );
    }
}
