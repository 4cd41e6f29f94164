//! fleetd's configuration: fleet's keys and defaults, from a config file and `FLEET_*` environment variables.
//!
//! Sources, strongest first (fleet's order): the environment (`FLEET_` + the key upper-cased, e.g.
//! `FLEET_ETCD_SERVERS`, `FLEET_PUBLIC_IP`, `FLEET_METADATA`), the file given with `--config` (else
//! `/etc/fleet/fleet.conf` if it exists), then the defaults. The file is fleet's: `key = value` lines, `#`/`;`
//! comments, values optionally quoted, keys before any `[section]`. Unlike fleet, a value that does not parse is
//! an error naming the file and line (or the variable) instead of being silently ignored, and an unknown key is
//! reported as a warning.
//!
//! Flotilla's additions, in the same style: `machine_id_file` (fleet always read `/etc/machine-id`; tests run
//! several fleetd on one host), `unitd_address` (where unitd's D-Bus API is; default: unitd-client's discovery),
//! `api_listen` (fleet took its sockets from systemd socket activation; here fleetd binds them itself) and
//! `api_advertise` (how other hosts reach this fleetd's API, for `fleetctl journal`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_model::{parse_metadata, Keys};
use fleet_registry::KvTls;

/// Where fleetd looks for its file when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/fleet/fleet.conf";

/// fleetd's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `verbosity`: above 0 logs at debug level.
    pub verbosity: u32,
    /// `etcd_servers`: the KV store's client URLs.
    pub etcd_servers: Vec<String>,
    /// `etcd_key_prefix`.
    pub etcd_key_prefix: String,
    /// `etcd_request_timeout` (seconds in the file).
    pub etcd_request_timeout: Duration,
    /// `etcd_cafile`, `etcd_certfile`, `etcd_keyfile`: TLS for https `etcd_servers`.
    pub etcd_tls: KvTls,
    /// `engine_reconcile_interval` (seconds in the file).
    pub engine_reconcile_interval: Duration,
    /// `public_ip`: how other machines reach this one; empty: the first global IPv4 address found.
    pub public_ip: String,
    /// `metadata`: `k=v,k2=v2`.
    pub metadata: BTreeMap<String, String>,
    /// `agent_ttl` (a Go duration in the file: `30s`, `1m`, `500ms`).
    pub agent_ttl: Duration,
    /// `token_limit`: the API's page size.
    pub token_limit: u16,
    /// `disable_engine`: never run the engine here.
    pub disable_engine: bool,
    /// `disable_watches`: reconcile on timers only.
    pub disable_watches: bool,
    /// `machine_id_file` (Flotilla).
    pub machine_id_file: PathBuf,
    /// `unitd_address` (Flotilla): a path to unitd's private socket or a D-Bus address; empty: discover.
    pub unitd_address: String,
    /// `api_listen` (Flotilla): `unix:///path` and `tcp://host:port` URLs, comma-separated.
    pub api_listen: Vec<String>,
    /// `api_advertise` (Flotilla): the URL other hosts reach this API at; empty: derived from a TCP listener.
    pub api_advertise: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            verbosity: 0,
            etcd_servers: vec![
                "http://127.0.0.1:2379".into(),
                "http://127.0.0.1:4001".into(),
            ],
            etcd_key_prefix: Keys::DEFAULT_PREFIX.to_string(),
            etcd_request_timeout: Duration::from_secs(1),
            etcd_tls: KvTls::default(),
            engine_reconcile_interval: Duration::from_secs(2),
            public_ip: String::new(),
            metadata: BTreeMap::new(),
            agent_ttl: Duration::from_secs(30),
            token_limit: 100,
            disable_engine: false,
            disable_watches: false,
            machine_id_file: PathBuf::from("/etc/machine-id"),
            unitd_address: String::new(),
            api_listen: vec!["unix:///var/run/fleet.sock".into()],
            api_advertise: String::new(),
        }
    }
}

/// A path setting; empty means unset.
fn non_empty_path(value: &str) -> Option<PathBuf> {
    let v = value.trim();
    (!v.is_empty()).then(|| PathBuf::from(v))
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{place}: {key}: {reason}")]
    BadValue {
        place: String,
        key: String,
        reason: String,
    },
    #[error("{file}:{line}: syntax error: {text:?}")]
    Syntax {
        file: String,
        line: usize,
        text: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("unable to determine local machine ID from {path}: {reason}")]
    MachineId { path: String, reason: String },
}

/// Every key fleet (and Flotilla) knows; fleet's deprecated keys are accepted and ignored.
const KEYS: &[&str] = &[
    "verbosity",
    "etcd_servers",
    "etcd_key_prefix",
    "etcd_request_timeout",
    "etcd_cafile",
    "etcd_certfile",
    "etcd_keyfile",
    "engine_reconcile_interval",
    "public_ip",
    "metadata",
    "agent_ttl",
    "token_limit",
    "disable_engine",
    "disable_watches",
    "machine_id_file",
    "unitd_address",
    "api_listen",
    "api_advertise",
];
const IGNORED_KEYS: &[&str] = &[
    "etcd_username",
    "etcd_password",
    "units_directory",
    "systemd_user",
    "enable_grpc",
    "verify_units",
    "authorized_keys_file",
];

impl Config {
    /// Loads the configuration: `file` (or the default file if it exists), then `env` on top. Returns the
    /// config and warnings (unknown keys).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let mut config = Config::default();
        let mut warnings = Vec::new();
        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            for (line, key, value) in parse_file(&path.display().to_string(), &text)? {
                let place = format!("{}:{line}", path.display());
                if IGNORED_KEYS.contains(&key.as_str()) {
                    warnings.push(format!(
                        "{place}: config option {key} is not supported - ignoring"
                    ));
                } else if KEYS.contains(&key.as_str()) {
                    config.set(&place, &key, &value)?;
                } else {
                    warnings.push(format!("{place}: unknown config option {key:?} - ignoring"));
                }
            }
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for key in KEYS {
            let var = format!("FLEET_{}", key.to_ascii_uppercase());
            if let Some(value) = env.get(&var) {
                config.set(&var, key, value)?;
            }
        }
        Ok((config, warnings))
    }

    /// Applies one setting.
    fn set(&mut self, place: &str, key: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::BadValue {
            place: place.to_string(),
            key: key.to_string(),
            reason,
        };
        match key {
            "verbosity" => {
                self.verbosity = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("not a number: {value:?}")))?
            }
            "etcd_servers" => {
                self.etcd_servers = value
                    .split(',')
                    .map(|s| s.trim_matches(|c: char| c == ' ' || c == '[' || c == ']' || c == '"'))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if self.etcd_servers.is_empty() {
                    return Err(bad("no servers given".into()));
                }
            }
            "etcd_key_prefix" => self.etcd_key_prefix = value.to_string(),
            "etcd_request_timeout" => self.etcd_request_timeout = seconds(value).map_err(bad)?,
            "engine_reconcile_interval" => {
                self.engine_reconcile_interval = seconds(value).map_err(bad)?
            }
            "public_ip" => self.public_ip = value.trim().to_string(),
            "metadata" => self.metadata = parse_metadata(value).map_err(|e| bad(e.to_string()))?,
            "agent_ttl" => {
                let ttl = go_duration(value).map_err(bad)?;
                if ttl < Duration::from_secs(1) {
                    return Err(bad(format!("{value:?} is shorter than one second")));
                }
                self.agent_ttl = ttl;
            }
            "token_limit" => {
                let n: u16 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("not a number 1..65535: {value:?}")))?;
                if n == 0 {
                    return Err(bad("must be at least 1".into()));
                }
                self.token_limit = n;
            }
            "disable_engine" => self.disable_engine = go_bool(value).map_err(bad)?,
            "disable_watches" => self.disable_watches = go_bool(value).map_err(bad)?,
            "machine_id_file" => self.machine_id_file = PathBuf::from(value),
            "etcd_cafile" => self.etcd_tls.ca_file = non_empty_path(value),
            "etcd_certfile" => self.etcd_tls.cert_file = non_empty_path(value),
            "etcd_keyfile" => self.etcd_tls.key_file = non_empty_path(value),
            "unitd_address" => self.unitd_address = value.to_string(),
            "api_listen" => {
                self.api_listen = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "api_advertise" => self.api_advertise = value.trim().to_string(),
            _ => {}
        }
        Ok(())
    }

    /// This machine's ID, from `machine_id_file` (fleet: `/etc/machine-id`, whitespace trimmed).
    pub fn machine_id(&self) -> Result<String, ConfigError> {
        let path = self.machine_id_file.display().to_string();
        let text =
            std::fs::read_to_string(&self.machine_id_file).map_err(|e| ConfigError::MachineId {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let id = text.trim();
        if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(ConfigError::MachineId {
                path,
                reason: "not a machine ID".into(),
            });
        }
        Ok(id.to_string())
    }
}

/// fleet's file format: `(line, key, value)` of every setting before the first section.
fn parse_file(file: &str, text: &str) -> Result<Vec<(usize, String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_empty() {
            start = i + 1;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(line);
        let line = std::mem::take(&mut pending);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ConfigError::Syntax {
                file: file.to_string(),
                line: start,
                text: line,
            });
        };
        let key = key.trim();
        if key.is_empty() || key.contains([' ', '\t']) {
            return Err(ConfigError::Syntax {
                file: file.to_string(),
                line: start,
                text: line.clone(),
            });
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => {
                value[1..value.len() - 1].to_string()
            }
            _ => value
                .split(['#', ';'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        out.push((start, key.to_ascii_lowercase(), value));
    }
    Ok(out)
}

fn seconds(value: &str) -> Result<Duration, String> {
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {value:?}"))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("must be a positive number of seconds: {value:?}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Result<bool, String> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!("not a boolean: {other:?}")),
    }
}

/// Go's `time.ParseDuration` for the units fleet users write: `ns us ms s m h`, combined (`1m30s`), decimals.
fn go_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {value:?}");
    let s = value.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<(Config, Vec<String>), ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fleet.conf");
        std::fs::write(&path, text).expect("write");
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_are_fleets() {
        let (c, w) = load("", &[]).expect("empty file");
        assert!(w.is_empty());
        assert_eq!(
            c.etcd_servers,
            ["http://127.0.0.1:2379", "http://127.0.0.1:4001"]
        );
        assert_eq!(c.etcd_key_prefix, "/_coreos.com/fleet/");
        assert_eq!(c.agent_ttl, Duration::from_secs(30));
        assert_eq!(c.engine_reconcile_interval, Duration::from_secs(2));
        assert_eq!(c.etcd_request_timeout, Duration::from_secs(1));
        assert_eq!(c.token_limit, 100);
        assert_eq!(c.api_listen, ["unix:///var/run/fleet.sock"]);
    }

    #[test]
    fn file_then_environment() {
        let text = "# fleet\nmetadata = \"region=us-west,az=1\"\nagent_ttl = 1m30s ; inline comment\npublic_ip=10.0.0.1\n\
                    etcd_servers = [\"http://a:2379\", \"http://b:2379\"]\ndisable_engine = true\n[section]\nverbosity = x\n";
        let (c, _) = load(
            text,
            &[
                ("FLEET_PUBLIC_IP", "10.0.0.9"),
                ("FLEET_ENGINE_RECONCILE_INTERVAL", "0.5"),
            ],
        )
        .expect("valid");
        assert_eq!(
            c.metadata.get("region").map(String::as_str),
            Some("us-west")
        );
        assert_eq!(c.agent_ttl, Duration::from_secs(90));
        assert_eq!(c.public_ip, "10.0.0.9", "the environment wins");
        assert_eq!(c.etcd_servers, ["http://a:2379", "http://b:2379"]);
        assert!(c.disable_engine);
        assert_eq!(c.engine_reconcile_interval, Duration::from_millis(500));
        assert_eq!(c.verbosity, 0, "keys after a section are not fleet's");
    }

    #[test]
    fn bad_values_name_the_place() {
        let err = load("public_ip = 1.2.3.4\nagent_ttl = soon\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("fleet.conf:2: agent_ttl: invalid duration \"soon\""),
            "{err}"
        );
        let err = load("", &[("FLEET_DISABLE_ENGINE", "maybe")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "FLEET_DISABLE_ENGINE: disable_engine: not a boolean: \"maybe\""
        );
        let err = load("metadata = a=1,b\n", &[]).unwrap_err().to_string();
        assert!(
            err.ends_with("metadata: metadata \"b\" is not key=value"),
            "{err}"
        );
        let err = load("what is this\n", &[]).unwrap_err().to_string();
        assert!(
            err.ends_with("fleet.conf:1: syntax error: \"what is this\""),
            "{err}"
        );
    }

    #[test]
    fn etcd_tls_files_are_read_from_the_file_and_the_environment() {
        let (c, w) = load(
            "etcd_cafile = /etc/ssl/kv-ca.pem\netcd_certfile = /etc/ssl/fleet.pem\n",
            &[("FLEET_ETCD_KEYFILE", "/etc/ssl/fleet-key.pem")],
        )
        .expect("valid");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            c.etcd_tls,
            KvTls {
                ca_file: Some("/etc/ssl/kv-ca.pem".into()),
                cert_file: Some("/etc/ssl/fleet.pem".into()),
                key_file: Some("/etc/ssl/fleet-key.pem".into()),
            }
        );
    }

    #[test]
    fn unknown_and_deprecated_keys_warn() {
        let (_, w) = load("verify_units = true\nbogus = 1\n", &[]).expect("valid");
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("verify_units is not supported"));
        assert!(w[1].contains("unknown config option \"bogus\""));
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(go_duration("2m3s"), Ok(Duration::from_secs(123)));
        assert_eq!(go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(go_duration("30").is_err());
        assert!(go_duration("s").is_err());
    }

    #[test]
    fn machine_id_is_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("machine-id");
        let c = Config {
            machine_id_file: path.clone(),
            ..Config::default()
        };
        assert!(c
            .machine_id()
            .unwrap_err()
            .to_string()
            .starts_with("unable to determine local machine ID"));
        std::fs::write(&path, "3d1219c7c4c5404aaa1f6d2a48adfda4\n").expect("write");
        assert_eq!(
            c.machine_id().expect("valid"),
            "3d1219c7c4c5404aaa1f6d2a48adfda4"
        );
    }
}
