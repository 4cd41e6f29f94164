//! fleetctl's command line (clap): the global flags — each also read from `FLEETCTL_<NAME>` — and one argument
//! struct per verb, with fleet's names, defaults and help texts.
//!
//! Bool flags take an optional `=value` as pflag's do (`--no-block`, `--no-block=false`). Typed global flags
//! are parsed after clap so that, as in fleet, an environment value that does not parse is ignored (a bad value
//! on the command line is still an error). [`GlobalArgs::resolve`] turns the raw flags into [`Globals`].

use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, ColorChoice, Parser, Subcommand};

use fleet_model::Keys;

/// fleet's default API endpoint.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/fleet.sock";
/// The KV store's endpoints with `--driver etcd` when no endpoint is given.
pub const DEFAULT_ETCD_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";
/// fleet's one-line description.
pub const DESCRIPTION: &str =
    "fleetctl is a command-line interface to fleet, the cluster-wide CoreOS init system.";

#[derive(Debug, Parser)]
#[command(
    name = "fleetctl",
    about = DESCRIPTION,
    disable_help_flag = true,
    disable_help_subcommand = true,
    disable_version_flag = true,
    infer_subcommands = true,
    color = ColorChoice::Never
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Print the version and exit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// pflag's bool flags on a [`clap::Arg`]: `--flag` is true, `--flag=VALUE` takes any of Go's spellings
/// ([`parse_go_bool`]), and the default is false. On a `bool` field: `#[arg(long, go_bool())]`.
pub trait GoBool {
    fn go_bool(self) -> Self;
}

impl GoBool for Arg {
    fn go_bool(self) -> Self {
        self.num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_parser(parse_go_bool)
            .value_name("BOOL")
    }
}

/// Parses Go's `strconv.ParseBool` spellings.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// The global flags as given (typed ones as text: see the module docs).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Print usage information and exit
    #[arg(short = 'h', long = "help", global = true)]
    pub help: bool,
    /// Print out more debug information to stderr
    #[arg(long, global = true, env = "FLEETCTL_DEBUG", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub debug: String,
    /// Adapter used to execute fleetctl commands. Options include "API" and "etcd".
    #[arg(long, global = true, env = "FLEETCTL_DRIVER", default_value = "API")]
    pub driver: String,
    /// Location of the fleet API if --driver=API. Alternatively, if --driver=etcd, location of the etcd API.
    #[arg(long, global = true, env = "FLEETCTL_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Keyspace for fleet data in etcd (development use only!)
    #[arg(long, global = true, env = "FLEETCTL_ETCD_KEY_PREFIX", default_value = Keys::DEFAULT_PREFIX)]
    pub etcd_key_prefix: String,
    /// Location of TLS key file used to secure communication with the fleet API or etcd
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_KEY_FILE",
        default_value = "",
        alias = "etcd-keyfile"
    )]
    pub key_file: String,
    /// Location of TLS cert file used to secure communication with the fleet API or etcd
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_CERT_FILE",
        default_value = "",
        alias = "etcd-certfile"
    )]
    pub cert_file: String,
    /// Location of TLS CA file used to secure communication with the fleet API or etcd
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_CA_FILE",
        default_value = "",
        alias = "etcd-cafile"
    )]
    pub ca_file: String,
    /// File used to store remote machine fingerprints. Ignored if strict host key checking is disabled.
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_KNOWN_HOSTS_FILE",
        default_value = "~/.fleetctl/known_hosts"
    )]
    pub known_hosts_file: String,
    /// Verify host keys presented by remote machines before initiating SSH connections.
    #[arg(long, global = true, env = "FLEETCTL_STRICT_HOST_KEY_CHECKING", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub strict_host_key_checking: String,
    /// Amount of time in seconds to allow for SSH connection initialization before failing.
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_SSH_TIMEOUT",
        default_value = "10.0"
    )]
    pub ssh_timeout: String,
    /// Establish an SSH tunnel through the provided address for communication with fleet and etcd.
    #[arg(long, global = true, env = "FLEETCTL_TUNNEL", default_value = "")]
    pub tunnel: String,
    /// Amount of time in seconds to allow a single request before considering it failed.
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_REQUEST_TIMEOUT",
        default_value = "3.0"
    )]
    pub request_timeout: String,
    /// Username to use when connecting to CoreOS instance.
    #[arg(
        long,
        global = true,
        env = "FLEETCTL_SSH_USERNAME",
        default_value = "core"
    )]
    pub ssh_username: String,
    /// DEPRECATED: do not use this flag.
    #[arg(long, global = true, env = "FLEETCTL_EXPERIMENTAL_API", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub experimental_api: String,
}

/// Which backend `--driver` picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    Api,
    Etcd,
}

/// The global flags, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Globals {
    pub driver: DriverKind,
    /// The endpoints (comma-separated on the command line).
    pub endpoints: Vec<String>,
    pub etcd_key_prefix: String,
    pub request_timeout: Duration,
    pub debug: bool,
    pub tunnel: String,
    /// `--ca-file`, `--cert-file`, `--key-file`: TLS to https etcd endpoints (the etcd driver).
    pub etcd_tls: fleet_registry::KvTls,
}

/// A path flag; empty means unset.
fn non_empty_path(value: &str) -> Option<std::path::PathBuf> {
    (!value.is_empty()).then(|| std::path::PathBuf::from(value))
}

/// A global flag that does not parse, or a driver fleetctl does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalsError {
    /// Printed as `Unable to initialize client: …`.
    #[error("unrecognized driver {0:?}")]
    Driver(String),
    /// A usage error (exit 2).
    #[error("invalid argument {value:?} for \"--{flag}\" flag: {reason}")]
    Value {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

impl GlobalArgs {
    /// Validates the flags; `matches` tells where each value came from (the environment may be ignored,
    /// the command line may not).
    pub fn resolve(&self, matches: &ArgMatches) -> Result<Globals, GlobalsError> {
        let source = |id: &str| matches.value_source(id);
        let from_env = |id: &str| source(id) == Some(ValueSource::EnvVariable);
        // An empty environment variable is ignored, as in fleet.
        let typed = |id: &str, raw: &str, default: &str| {
            if from_env(id) && raw.is_empty() {
                default.to_string()
            } else {
                raw.to_string()
            }
        };
        let request_timeout = {
            let raw = typed("request_timeout", &self.request_timeout, "3.0");
            match raw.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Duration::from_secs_f64(v),
                _ if from_env("request_timeout") => Duration::from_secs(3),
                _ => {
                    return Err(GlobalsError::Value {
                        flag: "request-timeout",
                        value: raw,
                        reason: "not a number of seconds".into(),
                    })
                }
            }
        };
        let debug = match parse_go_bool(&typed("debug", &self.debug, "false")) {
            Ok(v) => v,
            Err(_) if from_env("debug") => false,
            Err(reason) => {
                return Err(GlobalsError::Value {
                    flag: "debug",
                    value: self.debug.clone(),
                    reason,
                })
            }
        };
        for (id, flag, raw) in [
            (
                "strict_host_key_checking",
                "strict-host-key-checking",
                &self.strict_host_key_checking,
            ),
            (
                "experimental_api",
                "experimental-api",
                &self.experimental_api,
            ),
        ] {
            if let Err(reason) = parse_go_bool(raw) {
                if !from_env(id) {
                    return Err(GlobalsError::Value {
                        flag,
                        value: raw.clone(),
                        reason,
                    });
                }
            }
        }
        let explicit = |id: &str| {
            matches!(
                source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) && !(from_env(id) && matches.get_one::<String>(id).is_some_and(String::is_empty))
        };
        let endpoint_given = explicit("endpoint");
        let mut endpoints: Vec<String> = self
            .endpoint
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect();
        if endpoints.is_empty() {
            endpoints.push(DEFAULT_ENDPOINT.to_string());
        }
        let driver_name = typed("driver", &self.driver, "API");
        let driver = match driver_name.as_str() {
            _ if !explicit("driver") && endpoint_given && is_etcd_port(&endpoints[0]) => {
                DriverKind::Etcd
            }
            "API" | "api" => DriverKind::Api,
            "etcd" => DriverKind::Etcd,
            other => return Err(GlobalsError::Driver(other.to_string())),
        };
        if driver == DriverKind::Etcd && !endpoint_given {
            endpoints = DEFAULT_ETCD_ENDPOINTS
                .split(',')
                .map(str::to_string)
                .collect();
        }
        Ok(Globals {
            driver,
            endpoints,
            etcd_key_prefix: typed(
                "etcd_key_prefix",
                &self.etcd_key_prefix,
                Keys::DEFAULT_PREFIX,
            ),
            request_timeout,
            debug,
            tunnel: self.tunnel.clone(),
            etcd_tls: fleet_registry::KvTls {
                ca_file: non_empty_path(&self.ca_file),
                cert_file: non_empty_path(&self.cert_file),
                key_file: non_empty_path(&self.key_file),
            },
        })
    }
}

/// fleet v0.11's driver autodetection: an explicit endpoint on etcd's ports means the etcd driver.
fn is_etcd_port(endpoint: &str) -> bool {
    let authority = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    matches!(authority.rsplit_once(':'), Some((_, "2379" | "4001")))
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Output the contents of a submitted unit
    #[command(
        override_usage = "fleetctl cat UNIT",
        long_about = "Outputs the unit file that is currently loaded in the cluster. Useful to verify\nthe correct version of a unit is running."
    )]
    Cat(UnitsArgs),
    /// Destroy one or more units in the cluster
    #[command(
        override_usage = "fleetctl destroy UNIT...",
        long_about = "Completely remove one or more running or submitted units from the cluster.\n\nInstructs systemd on the host machine to destroy the unit, deferring to systemd\ncompletely for any custom stop directives (i.e. ExecStop option in the unit\nfile).\n\nBy default destroy waits until the units are gone from the registry and from\nevery machine; --no-block returns at once.\n\nDestroyed units are impossible to start unless re-submitted."
    )]
    Destroy(BlockArgs),
    /// Show help for a command
    #[command(override_usage = "fleetctl help [COMMAND]")]
    Help(HelpArgs),
    /// Print the journal of a unit in the cluster to stdout
    #[command(
        override_usage = "fleetctl journal [--lines=N] [--ssh-port=N] [-f|--follow] [--output=STRING] <unit>",
        long_about = "Outputs the journal of a unit, read from the machine that the unit occupies\nthrough that machine's fleet API.\n\nRead the last 10 lines:\nfleetctl journal foo.service\n\nRead the last 100 lines:\nfleetctl journal --lines 100 foo.service\n\nThis command does not work with global units."
    )]
    Journal(JournalArgs),
    /// Enumerate the current hosts in the cluster
    #[command(
        override_usage = "fleetctl list-machines [-l|--full] [--no-legend]",
        long_about = "Lists all active machines within the cluster. Previously active machines will not appear in this list.\n\nFor easily parsable output, you can remove the column headers:\nfleetctl list-machines --no-legend\n\nOutput the list without truncation:\nfleetctl list-machines --full"
    )]
    ListMachines(ListMachinesArgs),
    /// List the units that exist in the cluster.
    #[command(
        override_usage = "fleetctl list-unit-files [--fields]",
        long_about = "Lists all unit files that exist in the cluster (whether or not they are loaded onto a machine)."
    )]
    ListUnitFiles(ListUnitFilesArgs),
    /// List the current state of units in the cluster
    #[command(
        override_usage = "fleetctl list-units [--no-legend] [-l|--full] [--fields]",
        long_about = "Lists the state of all units in the cluster loaded onto a machine.\n\nFor easily parsable output, you can remove the column headers:\nfleetctl list-units --no-legend\n\nOutput the list without ellipses:\nfleetctl list-units --full\n\nOr, choose the columns to display:\nfleetctl list-units --fields=unit,machine"
    )]
    ListUnits(ListUnitsArgs),
    /// Schedule one or more units in the cluster, first submitting them if necessary.
    #[command(
        override_usage = "fleetctl load [--no-block|--block-attempts=N] UNIT...",
        long_about = "Load one or many units in the cluster into systemd, but do not start.\n\nSelect units to load by glob matching for units in the current working directory\nor matching the names of previously submitted units.\n\nFor units which are not global, load operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a loaded state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Load operations on global\nunits are always non-blocking."
    )]
    Load(StartArgs),
    /// Instruct systemd to rolling restart one or more units in the cluster.
    #[command(
        override_usage = "fleetctl restart [--block-attempts=N] UNIT...",
        long_about = "Restarts one or more units in the cluster. If they are stopped it starts them.\n\nFor units which are not global, restart operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a stopped state and then back to a started state. This behaviour can be configured with the\nrespective --block-attempts options.\n\nRestart a single unit:\n\tfleetctl restart foo.service"
    )]
    Restart(RestartArgs),
    /// Replace the contents of a group of units one at a time, waiting for each to run the new contents.
    #[command(
        override_usage = "fleetctl rolling-replace [--block-attempts=N] UNIT...",
        long_about = "Replaces the contents of units one at a time: each unit gets the new contents\nand fleetctl waits until its machine runs them (state published with the new\nhash, active) before going on to the next. The first failure stops the roll;\nthe units not yet replaced are listed.\n\nThe new contents come from local files, found as start finds them. A template\nnames every instance of it in the registry (and the template itself):\nfleetctl rolling-replace web@.service\n\nOr name the units:\nfleetctl rolling-replace web@{1..3}.service"
    )]
    RollingReplace(RestartArgs),
    /// Instruct systemd to start one or more units in the cluster, first submitting and loading if necessary.
    #[command(
        override_usage = "fleetctl start [--no-block|--block-attempts=N] UNIT...",
        long_about = "Start one or many units on the cluster. Select units to start by glob matching\nfor units in the current working directory or matching names of previously\nsubmitted units.\n\nFor units which are not global, start operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a started state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Start operations on global\nunits are always non-blocking.\n\nStart a single unit:\nfleetctl start foo.service\n\nStart instances of a template:\nfleetctl start web@{1..3}.service\n\nYou may filter suitable hosts based on metadata provided by the machine.\nMachine metadata is located in the fleet configuration file."
    )]
    Start(StartArgs),
    /// Output the status of one or more units in the cluster
    #[command(
        override_usage = "fleetctl status [--ssh-port=N] UNIT...",
        long_about = "Output the status of one or more units currently running in the cluster:\nthe state its machine published, followed by the last lines of its journal.\n\nShow status of a single unit:\n\tfleetctl status foo.service"
    )]
    Status(StatusArgs),
    /// Instruct systemd to stop one or more units in the cluster.
    #[command(
        override_usage = "fleetctl stop [--no-block|--block-attempts=N] UNIT...",
        long_about = "Stop one or more units from running in the cluster, but allow them to be\nstarted again in the future.\n\nFor units which are not global, stop operations are performed synchronously,\nwhich means fleetctl will block until it detects that the unit(s) have\ntransitioned to a stopped state. This behaviour can be configured with the\nrespective --block-attempts and --no-block options. Stop operations on global\nunits are always non-blocking.\n\nStop a single unit:\nfleetctl stop foo.service"
    )]
    Stop(BlockArgs),
    /// Upload one or more units to the cluster without starting them
    #[command(
        override_usage = "fleetctl submit UNIT...",
        long_about = "Upload one or more units to the cluster without starting them. Useful\nfor validating units before they are started.\n\nThis operation is idempotent; if a named unit already exists in the cluster, it will not be resubmitted.\n\nSubmit a single unit:\nfleetctl submit foo.service"
    )]
    Submit(SubmitArgs),
    /// Unschedule one or more units in the cluster.
    #[command(override_usage = "fleetctl unload UNIT...")]
    Unload(BlockArgs),
    /// DEPRECATED - No longer works
    #[command(override_usage = "fleetctl verify UNIT")]
    Verify(UnitsArgs),
    /// Print the version and exit
    #[command(
        override_usage = "fleetctl version",
        long_about = "Print the version and exit"
    )]
    Version,
}

/// Verbs that only take units.
#[derive(Debug, Clone, Args)]
pub struct UnitsArgs {
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct HelpArgs {
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// stop, unload, destroy.
#[derive(Debug, Clone, Args)]
pub struct BlockArgs {
    /// Wait until the units have reached the state, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub block_attempts: i64,
    /// Do not wait until the units have reached the state before exiting. Always the case for global units.
    #[arg(long, go_bool())]
    pub no_block: bool,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// start and load.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// DEPRECATED - this option cannot be used
    #[arg(long, go_bool())]
    pub sign: bool,
    /// Wait until the units are launched, performing up to N attempts before giving up. A value of 0 indicates no limit. Does not apply to global units.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub block_attempts: i64,
    /// Do not wait until the units have launched before exiting. Always the case for global units.
    #[arg(long, go_bool())]
    pub no_block: bool,
    /// Replace the already started units in the cluster with new versions.
    #[arg(long, go_bool())]
    pub replace: bool,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// DEPRECATED - this option cannot be used
    #[arg(long, go_bool())]
    pub sign: bool,
    /// Replace the old submitted units in the cluster with new versions.
    #[arg(long, go_bool())]
    pub replace: bool,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// restart and rolling-replace.
#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// Wait until the units are launched, performing up to N attempts before giving up. A value of 0 indicates no limit.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub block_attempts: i64,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Connect to remote hosts over SSH using this TCP port. (Ignored: status reads the cluster.)
    #[arg(long, default_value_t = 22, value_name = "N")]
    pub ssh_port: i64,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// Number of recent log lines to return
    #[arg(
        long,
        short = 'n',
        default_value_t = 10,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub lines: i64,
    /// Continuously print new entries as they are appended to the journal.
    #[arg(long, short = 'f', alias = "f", go_bool())]
    pub follow: bool,
    /// Output mode. This will be passed unaltered to the host's journal, and hence supports the same modes as journalctl.
    #[arg(long, default_value = "short", value_name = "STRING")]
    pub output: String,
    /// Connect to remote hosts over SSH using this TCP port. (Ignored: the journal is read through the cluster.)
    #[arg(long, default_value_t = 22, value_name = "N")]
    pub ssh_port: i64,
    /// Execute journal command with sudo (Ignored.)
    #[arg(long, go_bool())]
    pub sudo: bool,
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ListUnitsArgs {
    /// Do not ellipsize fields on output
    #[arg(long, short = 'l', alias = "l", go_bool())]
    pub full: bool,
    /// Do not print a legend (column headers)
    #[arg(long, go_bool())]
    pub no_legend: bool,
    /// Columns to print for each Unit. Valid fields are "active,hash,load,machine,sub,unit"
    #[arg(long, default_value = "unit,machine,active,sub")]
    pub fields: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListUnitFilesArgs {
    /// Do not ellipsize fields on output
    #[arg(long, go_bool())]
    pub full: bool,
    /// Do not print a legend (column headers)
    #[arg(long, go_bool())]
    pub no_legend: bool,
    /// Columns to print for each Unit file. Valid fields are "desc,dstate,global,hash,state,target,tmachine,unit"
    #[arg(long, default_value = "unit,hash,dstate,state,target")]
    pub fields: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListMachinesArgs {
    /// Do not ellipsize fields on output
    #[arg(long, short = 'l', alias = "l", go_bool())]
    pub full: bool,
    /// Do not print a legend (column headers)
    #[arg(long, go_bool())]
    pub no_legend: bool,
    /// Columns to print for each Machine. Valid fields are "ip,machine,metadata"
    #[arg(long, default_value = "machine,ip,metadata")]
    pub fields: String,
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, PoisonError};

    use clap::error::ErrorKind;
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    /// Tests that read or set `FLEETCTL_*` take this, so they never see each other's variables.
    static ENV: Mutex<()> = Mutex::new(());

    const VARS: &[&str] = &[
        "FLEETCTL_ENDPOINT",
        "FLEETCTL_DRIVER",
        "FLEETCTL_REQUEST_TIMEOUT",
        "FLEETCTL_DEBUG",
        "FLEETCTL_ETCD_KEY_PREFIX",
        "FLEETCTL_TUNNEL",
    ];

    fn parse(args: &[&str]) -> Result<(Cli, Result<Globals, GlobalsError>), clap::Error> {
        let argv: Vec<&str> = std::iter::once("fleetctl")
            .chain(args.iter().copied())
            .collect();
        let m = Cli::command().try_get_matches_from(argv)?;
        let cli = Cli::from_arg_matches(&m)?;
        let g = cli.global.resolve(&m);
        Ok((cli, g))
    }

    /// Runs `f` with exactly `vars` set among fleetctl's variables.
    fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
        let _guard = ENV.lock().unwrap_or_else(PoisonError::into_inner);
        for v in VARS {
            std::env::remove_var(v);
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        let out = f();
        for (k, _) in vars {
            std::env::remove_var(k);
        }
        out
    }

    fn globals(args: &[&str]) -> Globals {
        parse(args).expect("parses").1.expect("valid globals")
    }

    #[test]
    fn defaults_are_fleets() {
        let g = with_env(&[], || globals(&["list-units"]));
        assert_eq!(
            g,
            Globals {
                driver: DriverKind::Api,
                endpoints: vec![DEFAULT_ENDPOINT.into()],
                etcd_key_prefix: "/_coreos.com/fleet/".into(),
                request_timeout: Duration::from_secs(3),
                debug: false,
                tunnel: String::new(),
                etcd_tls: fleet_registry::KvTls::default(),
            }
        );
        let (cli, _) = with_env(&[], || parse(&["list-units"]).expect("parses"));
        match cli.command {
            Some(Command::ListUnits(a)) => {
                assert_eq!(a.fields, "unit,machine,active,sub");
                assert!(!a.full && !a.no_legend);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_environment_fills_in_and_the_command_line_wins() {
        let env = [
            ("FLEETCTL_ENDPOINT", "http://10.0.0.1:49153"),
            ("FLEETCTL_REQUEST_TIMEOUT", "0.5"),
            ("FLEETCTL_DEBUG", "1"),
        ];
        let g = with_env(&env, || globals(&["list-units"]));
        assert_eq!(g.endpoints, ["http://10.0.0.1:49153"]);
        assert_eq!(g.request_timeout, Duration::from_millis(500));
        assert!(g.debug);
        let g = with_env(&env, || {
            globals(&[
                "--endpoint=unix:///tmp/f.sock",
                "list-units",
                "--request-timeout",
                "7",
                "--debug=false",
            ])
        });
        assert_eq!(g.endpoints, ["unix:///tmp/f.sock"]);
        assert_eq!(g.request_timeout, Duration::from_secs(7));
        assert!(!g.debug);
    }

    #[test]
    fn empty_and_unparsable_environment_values_are_ignored() {
        let env = [
            ("FLEETCTL_ENDPOINT", ""),
            ("FLEETCTL_DRIVER", ""),
            ("FLEETCTL_REQUEST_TIMEOUT", "soon"),
            ("FLEETCTL_DEBUG", "maybe"),
        ];
        let g = with_env(&env, || globals(&["list-units"]));
        assert_eq!(g.endpoints, [DEFAULT_ENDPOINT]);
        assert_eq!(g.driver, DriverKind::Api);
        assert_eq!(g.request_timeout, Duration::from_secs(3));
        assert!(!g.debug);
        // On the command line the same values are errors.
        let err = with_env(&[], || parse(&["--request-timeout=soon", "list-units"]))
            .expect("clap accepts text")
            .1
            .expect_err("refused");
        assert!(matches!(
            err,
            GlobalsError::Value {
                flag: "request-timeout",
                ..
            }
        ));
    }

    #[test]
    fn drivers_and_their_endpoints() {
        let g = with_env(&[], || globals(&["--driver", "etcd", "list-units"]));
        assert_eq!(g.driver, DriverKind::Etcd);
        assert_eq!(
            g.endpoints,
            ["http://127.0.0.1:2379", "http://127.0.0.1:4001"]
        );
        // v0.11's autodetection: an explicit endpoint on an etcd port.
        let g = with_env(&[], || {
            globals(&["--endpoint=http://10.0.0.1:2379", "list-units"])
        });
        assert_eq!(g.driver, DriverKind::Etcd);
        assert_eq!(g.endpoints, ["http://10.0.0.1:2379"]);
        let g = with_env(&[], || {
            globals(&[
                "--driver=API",
                "--endpoint=http://10.0.0.1:2379",
                "list-units",
            ])
        });
        assert_eq!(g.driver, DriverKind::Api);
        let g = with_env(&[], || {
            globals(&["--endpoint", "http://a:1, http://b:2", "list-units"])
        });
        assert_eq!(g.endpoints, ["http://a:1", "http://b:2"]);
        let err = with_env(&[], || parse(&["--driver=ETCD", "list-units"]))
            .expect("parses")
            .1
            .expect_err("unknown driver");
        assert_eq!(err.to_string(), "unrecognized driver \"ETCD\"");
        let g = with_env(&[("FLEETCTL_ETCD_KEY_PREFIX", "/x/")], || {
            globals(&["--driver=etcd", "list-units"])
        });
        assert_eq!(g.etcd_key_prefix, "/x/");
    }

    #[test]
    fn verb_flags_short_forms_and_pflag_bools() {
        let (cli, _) = with_env(&[], || {
            parse(&[
                "start",
                "--block-attempts=3",
                "--no-block",
                "--replace=false",
                "a",
                "b",
            ])
            .expect("parses")
        });
        match cli.command {
            Some(Command::Start(a)) => {
                assert_eq!(a.block_attempts, 3);
                assert!(a.no_block && !a.replace && !a.sign);
                assert_eq!(a.units, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        for full in [
            &["list-units", "-l"][..],
            &["list-units", "--l"],
            &["list-units", "--full"],
        ] {
            let (cli, _) = with_env(&[], || parse(full).expect("parses"));
            assert!(
                matches!(cli.command, Some(Command::ListUnits(a)) if a.full),
                "{full:?}"
            );
        }
        let (cli, _) = with_env(&[], || {
            parse(&["journal", "-f", "-n", "50", "--output=cat", "a"]).expect("parses")
        });
        match cli.command {
            Some(Command::Journal(a)) => {
                assert!(a.follow);
                assert_eq!((a.lines, a.output.as_str()), (50, "cat"));
            }
            other => panic!("{other:?}"),
        }
        let (cli, _) = with_env(&[], || {
            parse(&["journal", "--f", "--lines=5", "a"]).expect("parses")
        });
        assert!(matches!(cli.command, Some(Command::Journal(a)) if a.follow && a.lines == 5));
        // Global flags may come after the verb, as cobra's persistent flags.
        let g = with_env(&[], || globals(&["list-units", "--endpoint=http://h:1"]));
        assert_eq!(g.endpoints, ["http://h:1"]);
    }

    #[test]
    fn prefixes_unknown_commands_and_unknown_flags() {
        let (cli, _) = with_env(&[], || parse(&["list-m"]).expect("prefix"));
        assert!(matches!(cli.command, Some(Command::ListMachines(_))));
        let kind =
            |args: &[&str]| with_env(&[], || parse(args).map(|_| ()).expect_err("refused").kind());
        assert_eq!(kind(&["bogus"]), ErrorKind::InvalidSubcommand);
        assert_eq!(kind(&["list"]), ErrorKind::InvalidSubcommand);
        assert_eq!(kind(&["list-units", "--bogus"]), ErrorKind::UnknownArgument);
        assert_eq!(
            kind(&["start", "--block-attempts=x", "a"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["stop", "--no-block=maybe", "a"]),
            ErrorKind::ValueValidation
        );
        let (cli, _) = with_env(&[], || parse(&[]).expect("no args"));
        assert!(cli.command.is_none());
        let (cli, _) = with_env(&[], || parse(&["-v"]).expect("version"));
        assert!(cli.version);
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
    }
}
