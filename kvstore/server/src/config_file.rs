//! `--config-file`: etcd's YAML configuration file (`etcd.conf.yml`), read as etcd 3.4 reads it — its keys are
//! the flag names, TLS settings sit under `client-transport-security` and `peer-transport-security`, durations
//! are nanoseconds (Go's `time.Duration`; a Go duration string such as `5s` is accepted too), and when a file is
//! given it replaces the command line and environment entirely (the caller warns about what it ignores).
//!
//! Where etcd is silent this is stricter: a key etcd does not know (a typo) is an error naming its line instead
//! of being dropped, and the keys of etcd features kvstore has no counterpart for are accepted — a file copied
//! from `etcd.conf.yml.sample` loads — but when set to something that matters they are either refused (the v2
//! API, proxy mode, DNS SRV discovery: the member would not do what the file asks) or reported as notices for the
//! log (pprof, CORS, auth settings: the member works, without that part).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::config::{ConfigError, RawConfig, TlsFlags};
use crate::logging::LogSettings;

/// What was wrong with the file; every variant names the file, and the line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("--config-file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The YAML did not parse, a key is unknown, or a value has the wrong type (the message carries the line
    /// and column).
    #[error("--config-file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A key parsed but its value cannot be honoured.
    #[error("--config-file {}: {place}{key}: {reason}", path.display())]
    Refused {
        path: PathBuf,
        place: String,
        key: String,
        reason: String,
    },
}

/// A loaded file: what the flags would have said, plus notices about accepted keys that have no effect here.
#[derive(Debug)]
pub struct FileConfig {
    pub raw: RawConfig,
    /// `discovery`: a discovery URL (see [`crate::discovery`]).
    pub discovery: Option<String>,
    pub log: LogSettings,
    /// One line per key that was accepted but changes nothing here, for the log once it is set up.
    pub notices: Vec<String>,
    /// The file itself, to point at a setting found wrong later.
    pub source: Source,
}

/// The file's name and text.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// Where a setting came from, for an error about it found later (the flag name is the key, with the TLS
    /// flags' `peer-` prefix mapped to their section): `etcd.yml line 4 (listen-client-urls)`.
    pub fn locate(&self, flag: &str) -> String {
        let key = tls_key(flag).unwrap_or_else(|| flag.to_string());
        match line_of(&self.text, &key) {
            Some(n) => format!("{} line {n} ({key})", self.path.display()),
            None => format!("{} ({key}, its default)", self.path.display()),
        }
    }
}

/// The file name of a TLS flag's key: `peer-cert-file` → `peer-transport-security.cert-file`.
fn tls_key(flag: &str) -> Option<String> {
    const TLS: [&str; 5] = [
        "cert-file",
        "key-file",
        "client-cert-auth",
        "trusted-ca-file",
        "auto-tls",
    ];
    if let Some(rest) = flag.strip_prefix("peer-") {
        if TLS.contains(&rest) {
            return Some(format!("peer-transport-security.{rest}"));
        }
    }
    TLS.contains(&flag)
        .then(|| format!("client-transport-security.{flag}"))
}

/// The line (1-based) where `key` is set, `section.key` for a nested one: the first line that starts with it
/// (after indentation) followed by a colon, searched after its section's line.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let (start, key) = match key.split_once('.') {
        Some((section, key)) => (line_of(text, section)?, key),
        None => (0, key),
    };
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|(i, _)| i + 1)
}

/// Why a non-default `grpc-keepalive-min-time` changes nothing (shared with the flag).
pub const GRPC_KEEPALIVE_MIN_TIME_IGNORED: &str =
    "grpc-keepalive-min-time: the server does not police how often clients ping (hyper has no such limit); ignored";

/// Why `cipher-suites` changes nothing (shared with the flag).
pub const CIPHER_SUITES_IGNORED: &str =
    "cipher-suites: kvstore's TLS (rustls) offers only AEAD suites with forward \
     secrecy (TLS 1.3's, and ECDHE with AES-GCM or ChaCha20-Poly1305 on TLS 1.2); ignored";

/// Reads and checks the file.
pub fn load(path: &Path) -> Result<FileConfig, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, text)
}

/// Checks a file's text (`path` only names it in errors).
pub fn parse(path: &Path, text: String) -> Result<FileConfig, ConfigFileError> {
    let parse_error = |message: String| ConfigFileError::Parse {
        path: path.to_path_buf(),
        message,
    };
    // An empty file (or one of comments) is every default, as in etcd.
    let file: EtcdYaml = if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    }) {
        EtcdYaml::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| parse_error(e.to_string()))?
    };
    let refuse = |key: &str, reason: String| ConfigFileError::Refused {
        path: path.to_path_buf(),
        place: line_of(&text, key)
            .map(|n| format!("line {n}: "))
            .unwrap_or_default(),
        key: key.to_string(),
        reason,
    };
    let notices = file.check_unsupported(&refuse)?;
    let outputs = string_list(&file.log_outputs).map_err(|why| refuse("log-outputs", why))?;
    let log = LogSettings::parse(
        file.logger.as_deref().unwrap_or("capnslog"),
        &outputs
            .or_else(|| file.log_output.clone().map(|o| vec![o]))
            .unwrap_or_default(),
        file.log_level.as_deref().unwrap_or("info"),
        file.debug.unwrap_or(false),
    )
    .map_err(|ConfigError::Invalid { flag, reason }| refuse(flag, reason))?;
    if let Some(m) = file.metrics.as_deref() {
        if m != "basic" && m != "extensive" {
            return Err(refuse(
                "metrics",
                format!("{m:?}: expected basic or extensive"),
            ));
        }
    }
    let discovery = non_empty(file.discovery.clone());
    let raw = file.into_raw(&refuse)?;
    Ok(FileConfig {
        raw,
        discovery,
        log,
        notices,
        source: Source {
            path: path.to_path_buf(),
            text,
        },
    })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// etcd 3.4's configuration keys. The ones kvstore acts on are typed; the rest are accepted as any value and
/// checked by [`EtcdYaml::check_unsupported`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EtcdYaml {
    name: Option<String>,
    data_dir: Option<String>,
    wal_dir: Option<String>,
    snapshot_count: Option<u64>,
    heartbeat_interval: Option<u64>,
    election_timeout: Option<u64>,
    quota_backend_bytes: Option<i64>,
    max_txn_ops: Option<usize>,
    max_request_bytes: Option<usize>,
    listen_peer_urls: Option<String>,
    listen_client_urls: Option<String>,
    initial_advertise_peer_urls: Option<String>,
    advertise_client_urls: Option<String>,
    listen_metrics_urls: Option<String>,
    client_transport_security: Option<Security>,
    peer_transport_security: Option<Security>,
    initial_cluster: Option<String>,
    initial_cluster_state: Option<String>,
    initial_cluster_token: Option<String>,
    discovery: Option<String>,
    strict_reconfig_check: Option<bool>,
    enable_v2: Option<bool>,
    force_new_cluster: Option<bool>,
    auto_compaction_mode: Option<String>,
    auto_compaction_retention: Option<Value>,
    pre_vote: Option<bool>,
    experimental_initial_corrupt_check: Option<bool>,
    max_concurrent_streams: Option<u32>,
    grpc_keepalive_min_time: Option<Value>,
    grpc_keepalive_interval: Option<Value>,
    grpc_keepalive_timeout: Option<Value>,
    experimental_watch_progress_notify_interval: Option<Value>,
    logger: Option<String>,
    log_level: Option<String>,
    log_outputs: Option<Value>,
    /// etcd 3.3's single-output spelling.
    log_output: Option<String>,
    debug: Option<bool>,
    metrics: Option<String>,

    // Accepted; see check_unsupported.
    max_snapshots: Option<Value>,
    max_wals: Option<Value>,
    initial_election_tick_advance: Option<Value>,
    backend_batch_interval: Option<Value>,
    backend_batch_limit: Option<Value>,
    experimental_backend_bbolt_freelist_type: Option<Value>,
    cors: Option<Value>,
    host_whitelist: Option<Value>,
    cipher_suites: Option<Value>,
    discovery_srv: Option<Value>,
    discovery_srv_name: Option<Value>,
    discovery_proxy: Option<Value>,
    discovery_fallback: Option<Value>,
    proxy: Option<Value>,
    proxy_failure_wait: Option<Value>,
    proxy_refresh_interval: Option<Value>,
    proxy_dial_timeout: Option<Value>,
    proxy_write_timeout: Option<Value>,
    proxy_read_timeout: Option<Value>,
    auth_token: Option<Value>,
    auth_token_ttl: Option<Value>,
    bcrypt_cost: Option<Value>,
    enable_pprof: Option<Value>,
    log_package_levels: Option<Value>,
    experimental_corrupt_check_time: Option<Value>,
    experimental_enable_v2v3: Option<Value>,
    experimental_enable_lease_checkpoint: Option<Value>,
    experimental_compaction_batch_limit: Option<Value>,
    experimental_warning_apply_duration: Option<Value>,
    experimental_peer_skip_client_san_verification: Option<Value>,
    self_signed_cert_validity: Option<Value>,
    tls_min_version: Option<Value>,
    tls_max_version: Option<Value>,
}

/// `client-transport-security` / `peer-transport-security`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Security {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_cert_auth: Option<bool>,
    trusted_ca_file: Option<String>,
    auto_tls: Option<bool>,
    /// etcd 3.3's deprecated spelling of `trusted-ca-file` together with `client-cert-auth: true`.
    ca_file: Option<String>,
}

impl Security {
    fn flags(self) -> TlsFlags {
        let ca_file = non_empty(self.ca_file);
        TlsFlags {
            cert_file: non_empty(self.cert_file).map(PathBuf::from),
            key_file: non_empty(self.key_file).map(PathBuf::from),
            client_cert_auth: self.client_cert_auth.unwrap_or(false) || ca_file.is_some(),
            trusted_ca_file: non_empty(self.trusted_ca_file)
                .or(ca_file)
                .map(PathBuf::from),
            auto_tls: self.auto_tls.unwrap_or(false),
            // etcd 3.4's file has no CRL key (only the flags set one).
            crl_file: None,
        }
    }
}

/// Whether an accepted-but-unsupported key holds something other than its "off" value.
fn is_set(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Sequence(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => serde_yaml_ng::to_string(v)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        None => String::new(),
    }
}

impl EtcdYaml {
    /// Refuses the settings kvstore cannot honour and lists the ones it ignores.
    fn check_unsupported(
        &self,
        refuse: &dyn Fn(&str, String) -> ConfigFileError,
    ) -> Result<Vec<String>, ConfigFileError> {
        let proxy = text_of(self.proxy.as_ref());
        if !proxy.is_empty() && proxy != "off" {
            return Err(refuse(
                "proxy",
                format!("{proxy:?}: kvstore does not run as a v2 proxy; expected off"),
            ));
        }
        if is_set(&self.discovery_srv) {
            return Err(refuse(
                "discovery-srv",
                "DNS SRV discovery is not supported; bootstrap with initial-cluster or discovery"
                    .into(),
            ));
        }
        if is_set(&self.experimental_enable_v2v3) {
            return Err(refuse(
                "experimental-enable-v2v3",
                "the v2 API is not served".into(),
            ));
        }
        let mut notices = Vec::new();
        let mut notice = |key: &str, v: &Option<Value>, why: &str| {
            if is_set(v) {
                notices.push(format!("{key}: {why}; ignored"));
            }
        };
        notice(
            "discovery-proxy",
            &self.discovery_proxy,
            "discovery connects to the discovery URL directly",
        );
        notice(
            "cors",
            &self.cors.clone().filter(|v| text_of(Some(v)) != "*"),
            "the JSON gateway sends no CORS headers",
        );
        notice(
            "host-whitelist",
            &self
                .host_whitelist
                .clone()
                .filter(|v| text_of(Some(v)) != "*"),
            "requests are not filtered by Host header",
        );
        notice(
            "tls-min-version",
            &self.tls_min_version,
            "TLS 1.2 and 1.3 are offered",
        );
        notice(
            "tls-max-version",
            &self.tls_max_version,
            "TLS 1.2 and 1.3 are offered",
        );
        for (key, v) in [
            ("auth-token", &self.auth_token),
            ("auth-token-ttl", &self.auth_token_ttl),
            ("bcrypt-cost", &self.bcrypt_cost),
        ] {
            notice(key, v, "the auth API is not served");
        }
        notice("enable-pprof", &self.enable_pprof, "pprof is Go's profiler");
        notice(
            "log-package-levels",
            &self.log_package_levels,
            "use log-level with a tracing filter such as kvstore::node=debug",
        );
        for (key, v) in [
            ("backend-batch-interval", &self.backend_batch_interval),
            ("backend-batch-limit", &self.backend_batch_limit),
            (
                "experimental-backend-bbolt-freelist-type",
                &self.experimental_backend_bbolt_freelist_type,
            ),
        ] {
            notice(
                key,
                v,
                "a bbolt setting; kvstore stores its data in RocksDB",
            );
        }
        notice(
            "experimental-enable-lease-checkpoint",
            &self.experimental_enable_lease_checkpoint,
            "a new leader renews every lease's full TTL, as without checkpoints",
        );
        notice(
            "experimental-peer-skip-client-san-verification",
            &self.experimental_peer_skip_client_san_verification,
            "peer certificates are checked against the CA only",
        );
        if is_set(&self.cipher_suites) {
            notices.push(CIPHER_SUITES_IGNORED.into());
        }
        if text_of(self.initial_election_tick_advance.as_ref()) == "false" {
            notices.push(
                "initial-election-tick-advance: false is ignored; a member without a leader elects at a fast \
                 pace for three election timeouts"
                    .into(),
            );
        }
        if let Some(Value::Number(n)) = &self.self_signed_cert_validity {
            if n.as_u64() != Some(1) {
                notices.push(
                    "self-signed-cert-validity: auto-TLS certificates last one year; ignored"
                        .into(),
                );
            }
        }
        let min_time = go_duration(&self.grpc_keepalive_min_time)
            .map_err(|why| refuse("grpc-keepalive-min-time", why))?;
        if min_time.is_some_and(|d| d != crate::config::DEFAULT_GRPC_KEEPALIVE_MIN_TIME) {
            notices.push(GRPC_KEEPALIVE_MIN_TIME_IGNORED.into());
        }
        // max-snapshots, max-wals: RocksDB deletes its own obsolete log files; discovery-fallback: a failed
        // discovery always exits; discovery-srv-name only qualifies discovery-srv; proxy-*: only for proxy mode;
        // experimental-compaction-batch-limit, experimental-warning-apply-duration: tuning of etcd internals.
        let _ = (
            &self.max_snapshots,
            &self.max_wals,
            &self.discovery_fallback,
            &self.discovery_srv_name,
            &self.proxy_failure_wait,
            &self.proxy_refresh_interval,
            &self.proxy_dial_timeout,
            &self.proxy_write_timeout,
            &self.proxy_read_timeout,
            &self.experimental_compaction_batch_limit,
            &self.experimental_warning_apply_duration,
        );
        Ok(notices)
    }

    /// The settings as flags; what the file leaves out (or leaves empty, as etcd's sample does) keeps its
    /// default.
    fn into_raw(
        self,
        refuse: &dyn Fn(&str, String) -> ConfigFileError,
    ) -> Result<RawConfig, ConfigFileError> {
        let d = RawConfig::default();
        let duration = |key: &str, v: &Option<Value>, default: Duration| {
            go_duration(v)
                .map(|d| d.unwrap_or(default))
                .map_err(|why| refuse(key, why))
        };
        let grpc_keepalive_interval = duration(
            "grpc-keepalive-interval",
            &self.grpc_keepalive_interval,
            d.grpc_keepalive_interval,
        )?;
        let grpc_keepalive_timeout = duration(
            "grpc-keepalive-timeout",
            &self.grpc_keepalive_timeout,
            d.grpc_keepalive_timeout,
        )?;
        let corrupt_check_time = duration(
            "experimental-corrupt-check-time",
            &self.experimental_corrupt_check_time,
            d.corrupt_check_time,
        )?;
        let watch_progress_notify_interval = duration(
            "experimental-watch-progress-notify-interval",
            &self.experimental_watch_progress_notify_interval,
            d.watch_progress_notify_interval,
        )?;
        let auto_compaction_retention = scalar_text(&self.auto_compaction_retention)
            .map_err(|why| refuse("auto-compaction-retention", why))?;
        let name = non_empty(self.name).unwrap_or(d.name);
        Ok(RawConfig {
            data_dir: non_empty(self.data_dir).map(PathBuf::from),
            listen_client_urls: non_empty(self.listen_client_urls).unwrap_or(d.listen_client_urls),
            advertise_client_urls: non_empty(self.advertise_client_urls)
                .unwrap_or(d.advertise_client_urls),
            listen_peer_urls: non_empty(self.listen_peer_urls).unwrap_or(d.listen_peer_urls),
            initial_advertise_peer_urls: non_empty(self.initial_advertise_peer_urls)
                .unwrap_or(d.initial_advertise_peer_urls),
            initial_cluster: non_empty(self.initial_cluster),
            initial_cluster_state: non_empty(self.initial_cluster_state)
                .unwrap_or(d.initial_cluster_state),
            initial_cluster_token: non_empty(self.initial_cluster_token)
                .unwrap_or(d.initial_cluster_token),
            // An empty value turns the metrics listener off, as on the command line.
            listen_metrics_urls: self.listen_metrics_urls.unwrap_or(d.listen_metrics_urls),
            heartbeat_interval_ms: self.heartbeat_interval.unwrap_or(d.heartbeat_interval_ms),
            election_timeout_ms: self.election_timeout.unwrap_or(d.election_timeout_ms),
            snapshot_count: self
                .snapshot_count
                .filter(|n| *n > 0)
                .unwrap_or(d.snapshot_count),
            auto_compaction_mode: non_empty(self.auto_compaction_mode)
                .unwrap_or(d.auto_compaction_mode),
            auto_compaction_retention: non_empty(auto_compaction_retention)
                .unwrap_or(d.auto_compaction_retention),
            quota_backend_bytes: self.quota_backend_bytes.unwrap_or(d.quota_backend_bytes),
            max_txn_ops: self.max_txn_ops.unwrap_or(d.max_txn_ops),
            max_request_bytes: self.max_request_bytes.unwrap_or(d.max_request_bytes),
            client_tls: self
                .client_transport_security
                .map(Security::flags)
                .unwrap_or_default(),
            peer_tls: self
                .peer_transport_security
                .map(Security::flags)
                .unwrap_or_default(),
            force_new_cluster: self.force_new_cluster.unwrap_or(d.force_new_cluster),
            strict_reconfig_check: self
                .strict_reconfig_check
                .unwrap_or(d.strict_reconfig_check),
            wal_dir: non_empty(self.wal_dir).map(PathBuf::from),
            pre_vote: self.pre_vote.unwrap_or(d.pre_vote),
            enable_v2: self.enable_v2.unwrap_or(d.enable_v2),
            max_concurrent_streams: self
                .max_concurrent_streams
                .unwrap_or(d.max_concurrent_streams),
            grpc_keepalive_interval,
            grpc_keepalive_timeout,
            watch_progress_notify_interval,
            initial_corrupt_check: self
                .experimental_initial_corrupt_check
                .unwrap_or(d.initial_corrupt_check),
            corrupt_check_time,
            name,
        })
    }
}

/// A Go `time.Duration` as etcd's file holds it: an integer of nanoseconds, or (more readable, accepted here) a
/// Go duration string.
fn go_duration(v: &Option<Value>) -> Result<Option<Duration>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|ns| Some(Duration::from_nanos(ns)))
            .ok_or_else(|| {
                format!("{n}: expected nanoseconds (a whole number) or a duration such as \"5s\"")
            }),
        Some(Value::String(s)) => crate::auto_compact::parse_go_duration(s.trim())
            .map(Some)
            .map_err(|why| format!("{s:?}: {why}")),
        Some(other) => Err(format!(
            "{}: expected nanoseconds or a duration such as \"5s\"",
            text_of(Some(other))
        )),
    }
}

/// A value that etcd reads as a string, written bare (`auto-compaction-retention: 1`) or quoted.
fn scalar_text(v: &Option<Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "{}: expected a number or a string",
            text_of(Some(other))
        )),
    }
}

/// A list of strings, or one comma-separated string (the command line's form).
fn string_list(v: &Option<Value>) -> Result<Option<Vec<String>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.split(',').map(|p| p.trim().to_string()).collect())),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("{}: expected a string", text_of(Some(other)))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!(
            "{}: expected a list of strings",
            text_of(Some(other))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<FileConfig, ConfigFileError> {
        parse(Path::new("etcd.yml"), text.to_string())
    }

    /// etcd 3.4's sample file, as shipped (empty values, comments, every section).
    const SAMPLE: &str = "\
# This is the configuration file for the etcd server.
name: 'infra0'
data-dir:
wal-dir:
snapshot-count: 10000
heartbeat-interval: 100
election-timeout: 1000
quota-backend-bytes: 0
listen-peer-urls: http://127.0.0.1:12380
listen-client-urls: http://127.0.0.1:12379
max-snapshots: 5
max-wals: 5
cors:
initial-advertise-peer-urls: http://127.0.0.1:12380
advertise-client-urls: http://127.0.0.1:12379
discovery:
discovery-fallback: 'proxy'
discovery-proxy:
discovery-srv:
initial-cluster:
initial-cluster-token: 'etcd-cluster'
initial-cluster-state: 'new'
strict-reconfig-check: false
enable-v2: false
enable-pprof: true
proxy: 'off'
proxy-failure-wait: 5000
proxy-refresh-interval: 30000
proxy-dial-timeout: 1000
proxy-write-timeout: 5000
proxy-read-timeout: 0
client-transport-security:
  cert-file:
  key-file:
  client-cert-auth: false
  trusted-ca-file:
  auto-tls: false
peer-transport-security:
  cert-file:
  key-file:
  client-cert-auth: false
  trusted-ca-file:
  auto-tls: false
debug: false
log-package-levels:
log-outputs: [default]
force-new-cluster: false
";

    #[test]
    fn etcds_sample_file_loads_with_its_values() {
        let c = parse_text(SAMPLE).unwrap();
        assert_eq!(c.raw.name, "infra0");
        assert_eq!(c.raw.data_dir, None);
        assert_eq!(c.raw.listen_client_urls, "http://127.0.0.1:12379");
        assert_eq!(c.raw.initial_cluster, None);
        assert!(!c.raw.strict_reconfig_check);
        assert!(!c.raw.client_tls.client_cert_auth);
        assert_eq!(c.discovery, None);
        assert_eq!(
            c.log,
            LogSettings::parse("capnslog", &[], "info", false).unwrap()
        );
        assert_eq!(
            c.notices,
            vec!["enable-pprof: pprof is Go's profiler; ignored"]
        );
        crate::ServerConfig::from_raw(&c.raw).unwrap();
    }

    #[test]
    fn settings_map_onto_the_flags_they_name() {
        let c = parse_text(
            "name: m1
data-dir: /var/lib/kv
listen-client-urls: https://127.0.0.1:2379
auto-compaction-retention: 1
grpc-keepalive-interval: 30000000000
grpc-keepalive-timeout: 5s
experimental-watch-progress-notify-interval: 5s
max-concurrent-streams: 100
pre-vote: false
logger: zap
log-level: warn
log-outputs: stdout,/tmp/kv.log
client-transport-security:
  cert-file: /etc/kv/server.crt
  key-file: /etc/kv/server.key
  client-cert-auth: true
  trusted-ca-file: /etc/kv/ca.crt
peer-transport-security:
  ca-file: /etc/kv/peer-ca.crt
experimental-initial-corrupt-check: true
",
        )
        .unwrap();
        let r = &c.raw;
        assert_eq!(r.name, "m1");
        assert_eq!(r.data_dir.as_deref(), Some(Path::new("/var/lib/kv")));
        assert_eq!(r.auto_compaction_retention, "1");
        assert_eq!(r.grpc_keepalive_interval, Duration::from_secs(30));
        assert_eq!(r.grpc_keepalive_timeout, Duration::from_secs(5));
        assert_eq!(r.watch_progress_notify_interval, Duration::from_secs(5));
        assert_eq!(r.max_concurrent_streams, 100);
        assert!(!r.pre_vote);
        assert!(r.initial_corrupt_check);
        assert_eq!(
            r.client_tls.cert_file.as_deref(),
            Some(Path::new("/etc/kv/server.crt"))
        );
        assert!(r.client_tls.client_cert_auth);
        assert!(
            r.peer_tls.client_cert_auth,
            "3.3's ca-file implies client-cert-auth"
        );
        assert_eq!(
            r.peer_tls.trusted_ca_file.as_deref(),
            Some(Path::new("/etc/kv/peer-ca.crt"))
        );
        assert_eq!(
            c.log,
            LogSettings::parse(
                "zap",
                &["stdout".into(), "/tmp/kv.log".into()],
                "warn",
                false
            )
            .unwrap()
        );
        assert!(c
            .source
            .locate("cert-file")
            .starts_with("etcd.yml line 14 (client-transport-security.cert-file)"));
        assert_eq!(
            c.source.locate("peer-trusted-ca-file"),
            "etcd.yml (peer-transport-security.trusted-ca-file, its default)"
        );
        assert_eq!(
            c.source.locate("listen-client-urls"),
            "etcd.yml line 3 (listen-client-urls)"
        );
    }

    #[test]
    fn typos_and_wrong_types_name_the_line() {
        let e = parse_text("name: a\nlisten-client-url: http://127.0.0.1:2379\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--config-file etcd.yml: unknown field `listen-client-url`")
                && e.contains("line 2"),
            "{e}"
        );
        let e = parse_text("client-transport-security:\n  cert-fil: /x\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `cert-fil`") && e.contains("line 2"),
            "{e}"
        );
        let e = parse_text("snapshot-count: many\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("snapshot-count") && e.contains("line 1"), "{e}");
        let e = parse_text("name: a\ngrpc-keepalive-timeout: 5 parsecs\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("grpc-keepalive-timeout") && e.contains("line 2"),
            "{e}"
        );
        let e = parse_text("name: [a\n").unwrap_err().to_string();
        assert!(e.starts_with("--config-file etcd.yml: "), "{e}");
    }

    #[test]
    fn settings_that_cannot_be_honoured_are_refused_with_their_line() {
        for (text, expect) in [
            (
                "name: a\nproxy: on\n",
                "line 2: proxy: \"on\": kvstore does not run as a v2 proxy",
            ),
            (
                "discovery-srv: example.com\n",
                "line 1: discovery-srv: DNS SRV discovery is not supported",
            ),
            (
                "name: a\n\nlogger: logrus\n",
                "line 3: logger: \"logrus\": expected zap or capnslog",
            ),
            ("log-outputs: [/var/log/kv.log]\n", "line 1: log-outputs: "),
            (
                "metrics: all\n",
                "line 1: metrics: \"all\": expected basic or extensive",
            ),
        ] {
            let e = parse_text(text).unwrap_err().to_string();
            assert!(
                e.starts_with("--config-file etcd.yml: ") && e.contains(expect),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn empty_file_is_every_default() {
        let c = parse_text("# nothing set\n").unwrap();
        let d = RawConfig::default();
        assert_eq!(c.raw.name, d.name);
        assert_eq!(c.raw.listen_client_urls, d.listen_client_urls);
        assert!(c.notices.is_empty());
    }
}
