//! `kvstore`: runs one member. Flags follow etcd's names and defaults; each can also come from a `KVSTORE_*`
//! environment variable (`--data-dir` ↔ `KVSTORE_DATA_DIR`) or etcd's `ETCD_*` one (`ETCD_DATA_DIR`, read when
//! the `KVSTORE_*` one is unset; see `kvstore::etcd_env`), or all of them from etcd's YAML file
//! (`--config-file`). With no flags it runs a single member on 127.0.0.1:2379 with its data in
//! `./default.kvstore`. Boolean flags take etcd's (Go's) forms: `--client-cert-auth`, `--client-cert-auth=true`,
//! `--pre-vote=false`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};
use kvstore::auto_compact::parse_go_duration;
use kvstore::config::{ConfigError, TlsFlags};
use kvstore::config_file::{FileConfig, Source};
use kvstore::etcd_env::{self, EtcdEnv};
use kvstore::logging::LogSettings;
use kvstore::{RawConfig, Server, ServerConfig};

#[derive(Parser, Debug)]
#[command(
    name = "kvstore",
    version,
    about = "Flotilla's etcd v3-compatible key-value store"
)]
struct Flags {
    /// Human-readable name for this member.
    #[arg(long, env = "KVSTORE_NAME", default_value = "default")]
    name: String,
    /// Path to the data directory (default: ./<name>.kvstore).
    #[arg(long, env = "KVSTORE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic.
    #[arg(
        long,
        env = "KVSTORE_LISTEN_CLIENT_URLS",
        default_value = "http://127.0.0.1:2379"
    )]
    listen_client_urls: String,
    /// Client URLs advertised to the cluster and clients.
    #[arg(
        long,
        env = "KVSTORE_ADVERTISE_CLIENT_URLS",
        default_value = "http://127.0.0.1:2379"
    )]
    advertise_client_urls: String,
    /// URLs to listen on for peer traffic.
    #[arg(
        long,
        env = "KVSTORE_LISTEN_PEER_URLS",
        default_value = "http://127.0.0.1:2380"
    )]
    listen_peer_urls: String,
    /// This member's peer URLs, advertised to the rest of the cluster.
    #[arg(
        long,
        env = "KVSTORE_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://127.0.0.1:2380"
    )]
    initial_advertise_peer_urls: String,
    /// Initial cluster configuration for bootstrapping: name=peerURL,...
    #[arg(long, env = "KVSTORE_INITIAL_CLUSTER")]
    initial_cluster: Option<String>,
    /// Initial cluster state: new or existing.
    #[arg(long, env = "KVSTORE_INITIAL_CLUSTER_STATE", default_value = "new")]
    initial_cluster_state: String,
    /// Initial cluster token, mixed into member and cluster ids.
    #[arg(
        long,
        env = "KVSTORE_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    initial_cluster_token: String,
    /// URLs for /health and /metrics (empty to disable).
    #[arg(
        long,
        env = "KVSTORE_LISTEN_METRICS_URLS",
        default_value = "http://127.0.0.1:2381"
    )]
    listen_metrics_urls: String,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long, env = "KVSTORE_HEARTBEAT_INTERVAL", default_value_t = 100)]
    heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(long, env = "KVSTORE_ELECTION_TIMEOUT", default_value_t = 1000)]
    election_timeout: u64,
    /// Number of applied entries between raft log truncations (a follower further behind gets a snapshot).
    #[arg(long, env = "KVSTORE_SNAPSHOT_COUNT", default_value_t = kvstore::config::DEFAULT_SNAPSHOT_COUNT)]
    snapshot_count: u64,
    /// Discovery URL used to bootstrap the cluster: http[s]://HOST:PORT/PREFIX in a running kvstore or etcd, where
    /// PREFIX/_config/size holds the cluster size (replaces --initial-cluster).
    #[arg(long, env = "KVSTORE_DISCOVERY")]
    discovery: Option<String>,
    /// Restore a backup (from `kvctl snapshot save`) into the (empty) --data-dir before starting, as a new
    /// cluster with the membership from --initial-cluster.
    #[arg(long, env = "KVSTORE_RESTORE")]
    restore: Option<PathBuf>,
    /// Auto compaction mode: periodic (keep --auto-compaction-retention of time) or revision (keep that many
    /// revisions).
    #[arg(long, env = "KVSTORE_AUTO_COMPACTION_MODE", default_value = "periodic")]
    auto_compaction_mode: String,
    /// History to keep: a duration for periodic mode (a bare number is hours: 1, 30m, 72h), a revision count
    /// for revision mode; 0 turns auto compaction off.
    #[arg(long, env = "KVSTORE_AUTO_COMPACTION_RETENTION", default_value = "0")]
    auto_compaction_retention: String,
    /// Raise the NOSPACE alarm and refuse writes that add data once the database would grow past this many
    /// bytes (0: etcd's default, 2 GiB; negative: no quota).
    #[arg(
        long,
        env = "KVSTORE_QUOTA_BACKEND_BYTES",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    quota_backend_bytes: i64,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long, env = "KVSTORE_MAX_TXN_OPS", default_value_t = kvstore::kv_ops::MAX_TXN_OPS)]
    max_txn_ops: usize,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long, env = "KVSTORE_MAX_REQUEST_BYTES", default_value_t = kvstore::kv_ops::MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// Path to the client server TLS cert file (used on https client URLs).
    #[arg(long, env = "KVSTORE_CERT_FILE")]
    cert_file: Option<PathBuf>,
    /// Path to the client server TLS key file.
    #[arg(long, env = "KVSTORE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Enable client cert authentication: clients must present a certificate signed by --trusted-ca-file.
    #[arg(long, env = "KVSTORE_CLIENT_CERT_AUTH", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    client_cert_auth: bool,
    /// Path to the client server TLS trusted CA cert file.
    #[arg(long, env = "KVSTORE_TRUSTED_CA_FILE")]
    trusted_ca_file: Option<PathBuf>,
    /// Client TLS using generated certificates: without --cert-file/--key-file, https client URLs serve a
    /// self-signed certificate made in <data-dir>/fixtures/client (etcdctl needs
    /// --insecure-transport=false --insecure-skip-tls-verify).
    #[arg(long, env = "KVSTORE_AUTO_TLS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    auto_tls: bool,
    /// Path to the client certificate revocation list file: client certificates it lists are refused (read
    /// again when it changes; needs --client-cert-auth).
    #[arg(long, env = "KVSTORE_CLIENT_CRL_FILE")]
    client_crl_file: Option<PathBuf>,
    /// Path to the peer certificate revocation list file: members whose certificates it lists are refused.
    #[arg(long, env = "KVSTORE_PEER_CRL_FILE")]
    peer_crl_file: Option<PathBuf>,
    /// Path to the peer server TLS cert file (used on https peer URLs, and presented when dialing peers).
    #[arg(long, env = "KVSTORE_PEER_CERT_FILE")]
    peer_cert_file: Option<PathBuf>,
    /// Path to the peer server TLS key file.
    #[arg(long, env = "KVSTORE_PEER_KEY_FILE")]
    peer_key_file: Option<PathBuf>,
    /// Enable peer client cert authentication: members must present a certificate signed by
    /// --peer-trusted-ca-file.
    #[arg(long, env = "KVSTORE_PEER_CLIENT_CERT_AUTH", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    peer_client_cert_auth: bool,
    /// Path to the peer server TLS trusted CA file (also what peers' certificates are checked against).
    #[arg(long, env = "KVSTORE_PEER_TRUSTED_CA_FILE")]
    peer_trusted_ca_file: Option<PathBuf>,
    /// Peer TLS using generated certificates: without --peer-cert-file/--peer-key-file, members use a
    /// self-signed certificate made in <data-dir>/fixtures/peer and do not verify each other's.
    #[arg(long, env = "KVSTORE_PEER_AUTO_TLS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    peer_auto_tls: bool,
    /// Restart as the only member of the cluster, keeping this member's data: the way back after the other
    /// members are lost for good (etcd's flag). Remove it once the member is up.
    #[arg(long, env = "KVSTORE_FORCE_NEW_CLUSTER", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    force_new_cluster: bool,
    /// Reject membership changes that would leave the cluster without a quorum of working members (etcd's
    /// flag; --strict-reconfig-check=false turns it off).
    #[arg(long, env = "KVSTORE_STRICT_RECONFIG_CHECK", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    strict_reconfig_check: bool,
    /// Path to a dedicated write-ahead log directory (the synced log on a disk of its own), as etcd's.
    #[arg(long, env = "KVSTORE_WAL_DIR")]
    wal_dir: Option<PathBuf>,
    /// Raft pre-vote: a member that lost its leader asks whether it could win before raising the term, so one
    /// coming back from a partition does not depose a healthy leader (on by default, as in etcd 3.5).
    #[arg(long, env = "KVSTORE_PRE_VOTE", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pre_vote: bool,
    /// Accept etcd v2 API requests. The v2 API is not served, so only false is accepted.
    #[arg(long, env = "KVSTORE_ENABLE_V2", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_v2: bool,
    /// Maximum concurrent streams each client connection may have open.
    #[arg(long, env = "KVSTORE_MAX_CONCURRENT_STREAMS", default_value_t = u32::MAX)]
    max_concurrent_streams: u32,
    /// Minimum interval a client should wait between pings (accepted for etcd compatibility; not enforced).
    #[arg(long, env = "KVSTORE_GRPC_KEEPALIVE_MIN_TIME", default_value = "5s", value_parser = parse_go_duration)]
    grpc_keepalive_min_time: Duration,
    /// How often the server pings an idle client connection to see that it is alive (0 to disable).
    #[arg(long, env = "KVSTORE_GRPC_KEEPALIVE_INTERVAL", default_value = "2h", value_parser = parse_go_duration)]
    grpc_keepalive_interval: Duration,
    /// How long an unanswered ping waits before the connection is closed.
    #[arg(long, env = "KVSTORE_GRPC_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = parse_go_duration)]
    grpc_keepalive_timeout: Duration,
    /// Interval of the progress notifications sent to watchers that asked for them.
    #[arg(long, env = "KVSTORE_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL", default_value = "10m", value_parser = parse_go_duration)]
    experimental_watch_progress_notify_interval: Duration,
    /// Snapshot files to retain (accepted for etcd compatibility: kvstore keeps no snapshot files; RocksDB
    /// deletes its obsolete log files itself).
    #[arg(long, env = "KVSTORE_MAX_SNAPSHOTS", default_value_t = 5)]
    max_snapshots: u32,
    /// WAL files to retain (accepted for etcd compatibility; see --max-snapshots).
    #[arg(long, env = "KVSTORE_MAX_WALS", default_value_t = 5)]
    max_wals: u32,
    /// TLS cipher suites to offer, comma-separated Go names (accepted for etcd compatibility: kvstore's TLS offers
    /// only AEAD suites with forward secrecy; a warning names what is ignored).
    #[arg(long, env = "KVSTORE_CIPHER_SUITES", default_value = "")]
    cipher_suites: String,
    /// Before starting, compare this member's data with its peers' (a hash of the history up to its revision)
    /// and refuse to start if they differ.
    #[arg(long, env = "KVSTORE_EXPERIMENTAL_INITIAL_CORRUPT_CHECK", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    experimental_initial_corrupt_check: bool,
    /// Interval of the leader's corruption check among running members (0: off); a member whose history differs
    /// raises the CORRUPT alarm, which stops all writes until it is disarmed.
    #[arg(long, env = "KVSTORE_EXPERIMENTAL_CORRUPT_CHECK_TIME", default_value = "0s", value_parser = parse_go_duration)]
    experimental_corrupt_check_time: Duration,
    /// Detail of the exported metrics: basic or extensive (kvstore always exports its latency histograms).
    #[arg(long, env = "KVSTORE_METRICS", default_value = "basic", value_parser = ["basic", "extensive"])]
    metrics: String,
    /// Log format: capnslog (human-readable lines, etcd 3.4's default) or zap (JSON lines with zap's keys).
    #[arg(long, env = "KVSTORE_LOGGER", default_value = "capnslog")]
    logger: String,
    /// Where the log goes, comma-separated: default (stderr), stderr, stdout, or file paths (zap only).
    #[arg(long, env = "KVSTORE_LOG_OUTPUTS", default_value = "default")]
    log_outputs: String,
    /// Log level: debug, info, warn, error, panic or fatal; or a tracing filter, e.g. kvstore::node=debug.
    #[arg(long, env = "KVSTORE_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Debug-level logging (etcd's older spelling of --log-level=debug).
    #[arg(long, env = "KVSTORE_DEBUG", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    debug: bool,
    /// etcd's YAML configuration file (etcd.conf.yml keys). When given, the other flags and KVSTORE_* variables
    /// are ignored, as etcd ignores them (--restore still applies).
    #[arg(long, env = "KVSTORE_CONFIG_FILE")]
    config_file: Option<PathBuf>,
}

impl Flags {
    /// The configuration the flags describe, the discovery URL, and notices about flags accepted without effect.
    /// The configuration the flags give; `variables` are the (flag, variable) pairs whose value came from the
    /// environment, for errors to name.
    fn into_config(self, variables: Vec<(String, String)>) -> anyhow::Result<Loaded> {
        let mut notices = Vec::new();
        if self.grpc_keepalive_min_time != kvstore::config::DEFAULT_GRPC_KEEPALIVE_MIN_TIME {
            notices.push(kvstore::config_file::GRPC_KEEPALIVE_MIN_TIME_IGNORED.to_string());
        }
        if !self.cipher_suites.trim().is_empty() {
            notices.push(kvstore::config_file::CIPHER_SUITES_IGNORED.to_string());
        }
        let outputs: Vec<String> = self.log_outputs.split(',').map(str::to_string).collect();
        let log = LogSettings::parse(&self.logger, &outputs, &self.log_level, self.debug)
            .map_err(|e| from_variable(e, &variables))?;
        let raw = RawConfig {
            name: self.name,
            data_dir: self.data_dir,
            listen_client_urls: self.listen_client_urls,
            advertise_client_urls: self.advertise_client_urls,
            listen_peer_urls: self.listen_peer_urls,
            initial_advertise_peer_urls: self.initial_advertise_peer_urls,
            initial_cluster: self.initial_cluster,
            initial_cluster_state: self.initial_cluster_state,
            initial_cluster_token: self.initial_cluster_token,
            listen_metrics_urls: self.listen_metrics_urls,
            heartbeat_interval_ms: self.heartbeat_interval,
            election_timeout_ms: self.election_timeout,
            snapshot_count: self.snapshot_count,
            auto_compaction_mode: self.auto_compaction_mode,
            auto_compaction_retention: self.auto_compaction_retention,
            quota_backend_bytes: self.quota_backend_bytes,
            max_txn_ops: self.max_txn_ops,
            max_request_bytes: self.max_request_bytes,
            client_tls: TlsFlags {
                cert_file: self.cert_file,
                key_file: self.key_file,
                client_cert_auth: self.client_cert_auth,
                trusted_ca_file: self.trusted_ca_file,
                auto_tls: self.auto_tls,
                crl_file: self.client_crl_file,
            },
            peer_tls: TlsFlags {
                cert_file: self.peer_cert_file,
                key_file: self.peer_key_file,
                client_cert_auth: self.peer_client_cert_auth,
                trusted_ca_file: self.peer_trusted_ca_file,
                auto_tls: self.peer_auto_tls,
                crl_file: self.peer_crl_file,
            },
            force_new_cluster: self.force_new_cluster,
            strict_reconfig_check: self.strict_reconfig_check,
            wal_dir: self.wal_dir,
            pre_vote: self.pre_vote,
            enable_v2: self.enable_v2,
            max_concurrent_streams: self.max_concurrent_streams,
            grpc_keepalive_interval: self.grpc_keepalive_interval,
            grpc_keepalive_timeout: self.grpc_keepalive_timeout,
            watch_progress_notify_interval: self.experimental_watch_progress_notify_interval,
            initial_corrupt_check: self.experimental_initial_corrupt_check,
            corrupt_check_time: self.experimental_corrupt_check_time,
        };
        Ok(Loaded {
            raw,
            discovery: self.discovery,
            log,
            notices,
            file: None,
            variables,
        })
    }
}

/// The configuration from the flags or from `--config-file`.
struct Loaded {
    raw: RawConfig,
    discovery: Option<String>,
    log: LogSettings,
    notices: Vec<String>,
    /// The file it came from, to say where a bad setting is.
    file: Option<Source>,
    /// (flag, variable) for the settings that came from the environment, likewise.
    variables: Vec<(String, String)>,
}

impl Loaded {
    fn from_file(file: FileConfig) -> Loaded {
        Loaded {
            raw: file.raw,
            discovery: file.discovery,
            log: file.log,
            notices: file.notices,
            file: Some(file.source),
            variables: Vec::new(),
        }
    }

    /// A configuration error, naming the flag, the variable or the file's line.
    fn explain(&self, e: ConfigError) -> anyhow::Error {
        match (&self.file, e) {
            (Some(file), ConfigError::Invalid { flag, reason }) => {
                anyhow::anyhow!("--config-file {}: {reason}", file.locate(flag))
            }
            (None, e) => from_variable(e, &self.variables),
        }
    }
}

/// A configuration error naming the environment variable the value came from, when it did:
/// `ETCD_ELECTION_TIMEOUT (--election-timeout): …`.
fn from_variable(e: ConfigError, variables: &[(String, String)]) -> anyhow::Error {
    let ConfigError::Invalid { flag, reason } = e;
    match variables.iter().find(|(f, _)| f == flag) {
        Some((_, variable)) => anyhow::anyhow!("{variable} (--{flag}): {reason}"),
        None => ConfigError::Invalid { flag, reason }.into(),
    }
}

/// (flag, variable) for each setting whose value came from the environment.
fn from_environment(cmd: &clap::Command, matches: &clap::ArgMatches) -> Vec<(String, String)> {
    cmd.get_arguments()
        .filter(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::EnvVariable))
        .filter_map(|arg| {
            Some((
                arg.get_long()?.to_string(),
                arg.get_env()?.to_string_lossy().into_owned(),
            ))
        })
        .collect()
}

/// The flags and variables given besides `--config-file` (which the file replaces): `--name`, `KVSTORE_DATA_DIR`,
/// `ETCD_NAME`.
fn overridden_by_file(cmd: &clap::Command, matches: &clap::ArgMatches) -> Vec<String> {
    cmd.get_arguments()
        .filter(|arg| !matches!(arg.get_id().as_str(), "config_file" | "restore"))
        .filter_map(|arg| match matches.value_source(arg.get_id().as_str()) {
            Some(ValueSource::CommandLine) => {
                Some(format!("--{}", arg.get_id().as_str().replace('_', "-")))
            }
            Some(ValueSource::EnvVariable) => Some(arg.get_env()?.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// kvstore's flags, each whose `KVSTORE_*` variable is unset reading its `ETCD_*` one when that is set; and
/// how the environment's `ETCD_*` variables were sorted.
fn command() -> (clap::Command, EtcdEnv) {
    let cmd = Flags::command();
    let variables: Vec<(String, String)> = cmd
        .get_arguments()
        .filter_map(|arg| {
            let suffix = arg
                .get_env()?
                .to_str()?
                .strip_prefix(etcd_env::OWN_PREFIX)?;
            Some((arg.get_id().to_string(), suffix.to_string()))
        })
        .collect();
    let known: Vec<&str> = variables
        .iter()
        .map(|(_, suffix)| suffix.as_str())
        .collect();
    let env = etcd_env::sort(&known, std::env::vars_os());
    let cmd = variables
        .iter()
        .filter(|(_, suffix)| env.used.contains(suffix))
        .fold(cmd, |cmd, (id, suffix)| {
            let name = format!("{}{suffix}", etcd_env::PREFIX);
            cmd.mut_arg(id, move |arg| arg.env(name))
        });
    (cmd, env)
}

/// Parses the command line; a bad value that came from a variable is reported naming the variable too.
fn parse(cmd: &clap::Command) -> clap::ArgMatches {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let e = match cmd.clone().try_get_matches() {
        Ok(matches) => return matches,
        Err(e) => e,
    };
    let bad_value = matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    );
    let variable = match (bad_value, e.get(ContextKind::InvalidArg)) {
        (true, Some(ContextValue::String(arg))) => variable_behind(cmd, arg),
        _ => None,
    };
    let Some(variable) = variable else { e.exit() };
    // clap's message, its first line followed by where the value came from.
    let text = e.render().to_string();
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    eprintln!("{first}\n  (the value is the environment variable {variable})\n{rest}");
    std::process::exit(e.exit_code())
}

/// The variable that gave `arg` (clap's `--snapshot-count <SNAPSHOT_COUNT>`) its value: the flag's own, when the
/// flag is not on the command line.
fn variable_behind(cmd: &clap::Command, arg: &str) -> Option<String> {
    let given: Vec<String> = std::env::args().skip(1).collect();
    let flag = cmd.get_arguments().find(|a| {
        a.get_long().is_some_and(|long| {
            let long = format!("--{long}");
            arg.split_whitespace().next() == Some(long.as_str())
                && !given
                    .iter()
                    .any(|g| *g == long || g.starts_with(&format!("{long}=")))
        })
    })?;
    Some(flag.get_env()?.to_string_lossy().into_owned())
}

/// Logs what became of the `ETCD_*` variables (after the logger is up), as etcd does.
fn report_etcd_env(env: &EtcdEnv, cmd: &clap::Command, matches: &clap::ArgMatches) {
    for arg in cmd.get_arguments() {
        let Some(name) = arg.get_env().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with(etcd_env::PREFIX) {
            continue;
        }
        match matches.value_source(arg.get_id().as_str()) {
            Some(ValueSource::CommandLine) => tracing::warn!(
                variable = name,
                "environment variable unused: shadowed by --{}",
                arg.get_id().as_str().replace('_', "-")
            ),
            _ => tracing::info!(variable = name, "recognized and used environment variable"),
        }
    }
    for (etcd, own) in &env.shadowed {
        tracing::warn!(variable = %etcd, "environment variable unused: shadowed by {own}");
    }
    for name in &env.unrecognized {
        tracing::warn!(variable = %name, "unrecognized environment variable; ignored");
    }
}

/// jemalloc (TiKV's build of it, the allocator TiKV runs RocksDB with) instead of glibc malloc, for Rust and —
/// unprefixed — for RocksDB's C++ too: less CPU on the per-request allocations (glibc's malloc/free were ~12% of
/// the write path under perf), and freed memory goes back to the kernel after a second instead of staying
/// resident as a 64 MiB glibc arena after a mass delete (measured after `etcdctl check perf --load=m`).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: a background thread returns dirty pages after ~0.5 s.
#[allow(non_upper_case_globals)]
#[export_name = "malloc_conf"]
pub static malloc_conf: &[u8] =
    b"background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0,narenas:2\0";

fn main() -> anyhow::Result<()> {
    let (cmd, etcd_env) = command();
    let matches = parse(&cmd);
    let flags = Flags::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let restore = flags.restore.clone();
    let config_file = flags.config_file.clone();
    let (loaded, overridden) = match &config_file {
        Some(path) => (
            Loaded::from_file(kvstore::config_file::load(path)?),
            overridden_by_file(&cmd, &matches),
        ),
        None => (
            flags.into_config(from_environment(&cmd, &matches))?,
            Vec::new(),
        ),
    };
    loaded.log.init()?;
    if config_file.is_none() {
        report_etcd_env(&etcd_env, &cmd, &matches);
    }
    if let Some(file) = &config_file {
        tracing::info!(path = %file.display(), "loaded the configuration file");
        if !overridden.is_empty() {
            tracing::warn!(
                ignored = overridden.join(" "),
                "--config-file replaces the other flags and the KVSTORE_* and ETCD_* variables, as in etcd: these are ignored"
            );
        }
    }
    for notice in &loaded.notices {
        tracing::warn!("{notice}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(run(loaded, restore))
}

async fn run(mut loaded: Loaded, restore: Option<PathBuf>) -> anyhow::Result<()> {
    let raw = &mut loaded.raw;
    if let Some(url) = loaded.discovery.clone() {
        if raw.initial_cluster.is_some() {
            anyhow::bail!("--discovery and --initial-cluster are mutually exclusive");
        }
        let own = kvstore::config::split_urls(&raw.initial_advertise_peer_urls);
        let cluster =
            kvstore::discovery::discover(&url, &raw.name, &own, &raw.initial_cluster_token)
                .await
                .context("--discovery")?;
        tracing::info!(initial_cluster = %cluster, "discovery found the cluster");
        raw.initial_cluster = Some(cluster);
    }
    let cfg = ServerConfig::from_raw(raw).map_err(|e| loaded.explain(e))?;
    if let Some(file) = restore {
        kvstore::restore::restore(&file, &cfg).context("--restore")?;
    }
    let mut clients = Vec::new();
    for l in &cfg.client_addrs {
        let addr = l.addr;
        clients.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen on client URL {addr}"))?,
        );
    }
    let mut peers = Vec::new();
    for l in &cfg.peer_addrs {
        let addr = l.addr;
        peers.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen on peer URL {addr}"))?,
        );
    }
    let mut metrics = Vec::new();
    for addr in &cfg.metrics_addrs {
        metrics.push(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen on metrics URL {addr}"))?,
        );
    }
    let (client_addrs, peer_addrs, metrics_addrs) = (
        cfg.client_addrs.clone(),
        cfg.peer_addrs.clone(),
        cfg.metrics_addrs.clone(),
    );
    let server = Server::start(cfg, clients, peers, metrics).await?;
    tracing::info!(clients = ?client_addrs, peers = ?peer_addrs, metrics = ?metrics_addrs, "serving");
    notify_ready();
    server.serve_until(shutdown_signal()).await?;
    tracing::info!("kvstore stopped");
    Ok(())
}

/// Tells the service manager (unitd or systemd, `Type=notify`) that kvstore is serving, as etcd does.
fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let send = || -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        let bytes = path.as_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name)?,
            None => std::os::unix::net::SocketAddr::from_pathname(std::path::Path::new(&path))?,
        };
        socket.send_to_addr(b"READY=1\nSTATUS=serving", &addr)?;
        Ok(())
    };
    if let Err(e) = send() {
        tracing::warn!(error = %e, "could not notify the service manager");
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
