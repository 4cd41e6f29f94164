//! # kvctl
//!
//! The command-line client for Flotilla's key-value store, and for any etcd v3 server: the verbs, flags,
//! output and exit codes of etcdctl 3.4, so scripts and unit files written for etcdctl work unchanged. It also
//! carries the etcdctl v2 verbs those unit files use (`set`, `mk`, `rm`, `ls`, and `get`/`watch` when
//! `ETCDCTL_API=2` or `KVCTL_API=2`), done with the v3 API. It talks to the server only through the gRPC types of
//! `kvstore-proto`, never through the server crate.
//!
//! Layout:
//! - `main.rs`: the flags (clap) and the dispatch; nothing else.
//! - `client.rs`: endpoints, connecting with fallback, dial and command timeouts, Go duration text.
//! - `printer.rs`: simple / json / fields / table output, byte-exact with etcdctl where etcdctl has the format.
//! - `error.rs`: etcdctl's exit codes and the `Failure` that carries one.
//! - `etcdctl_env.rs`: etcdctl's rules for `ETCDCTL_*` variables (shadowed by a flag: refused; unknown: warned).
//! - `command/`: one file per verb family (`put`, `get`, `del`, `watch`, `txn`, `lease`, `member`, `endpoint`,
//!   `move-leader`, `snapshot`, `compaction`, `alarm` (with `defrag`), `concurrency` (`lock`, `elect`),
//!   `mirror` (`make-mirror`), `v2`).
//!
//! Why clap: its derive gives typed flags per verb, which `txn` reuses to parse its `put`/`get`/`del` lines and
//! `watch -i` its `watch` lines; global flags may come before or after the verb, as with etcdctl's cobra. Why
//! comfy-table: it draws the `+----+` tables of etcdctl's tablewriter (borders, centred upper-case headers,
//! right-aligned cells) without our own width arithmetic.

mod client;
mod command;
mod error;
mod etcdctl_env;
mod printer;

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use client::{parse_go_duration, ClientConfig, TlsFlags};
use command::alarm::AlarmCommand;
use command::compaction::CompactionArgs;
use command::concurrency::{ElectArgs, LockArgs};
use command::del::DelArgs;
use command::endpoint::EndpointArgs;
use command::get::GetArgs;
use command::lease::LeaseCommand;
use command::member::MemberCommand;
use command::mirror::MirrorArgs;
use command::move_leader::MoveLeaderArgs;
use command::put::PutArgs;
use command::snapshot::SnapshotCommand;
use command::txn::TxnArgs;
use command::v2::{Condition, LsArgs, RmArgs, SetArgs};
use command::watch::WatchArgs;
use command::Context;
use error::{ExitCode, Failure};
use printer::{Format, Printer};

/// A simple command line client for etcd3 and Flotilla's kvstore.
#[derive(Parser, Debug)]
#[command(name = "kvctl", version, about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every verb takes.
#[derive(Args, Debug)]
struct GlobalArgs {
    /// gRPC endpoints, comma-separated (env KVCTL_ENDPOINTS or ETCDCTL_ENDPOINTS) [default: 127.0.0.1:2379].
    #[arg(long, global = true)]
    endpoints: Option<String>,
    /// Dial timeout for client connections.
    #[arg(long, global = true, default_value = "2s", env = "ETCDCTL_DIAL_TIMEOUT", value_parser = parse_go_duration)]
    dial_timeout: Duration,
    /// Timeout for short running command (excluding dial timeout).
    #[arg(long, global = true, default_value = "5s", env = "ETCDCTL_COMMAND_TIMEOUT", value_parser = parse_go_duration)]
    command_timeout: Duration,
    /// Set the output format (fields, json, simple, table).
    #[arg(
        short = 'w',
        long,
        global = true,
        default_value = "simple",
        env = "ETCDCTL_WRITE_OUT"
    )]
    write_out: String,
    /// Print byte strings as hex encoded strings.
    #[arg(long, global = true, env = "ETCDCTL_HEX")]
    hex: bool,
    /// Verify certificates of TLS-enabled secure servers using this CA bundle.
    #[arg(
        long = "cacert",
        id = "tls-cacert",
        global = true,
        env = "ETCDCTL_CACERT"
    )]
    tls_cacert: Option<PathBuf>,
    /// Identify secure client using this TLS certificate file.
    #[arg(long = "cert", id = "tls-cert", global = true, env = "ETCDCTL_CERT")]
    tls_cert: Option<PathBuf>,
    /// Identify secure client using this TLS key file.
    #[arg(long = "key", id = "tls-key", global = true, env = "ETCDCTL_KEY")]
    tls_key: Option<PathBuf>,
    /// Skip server certificate verification (CAUTION: this option should be enabled only for testing purposes).
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")]
    insecure_skip_tls_verify: bool,
    /// Disable transport security for client connections (false: endpoints without a scheme use TLS).
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_TRANSPORT", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    insecure_transport: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Puts the given key into the store.
    Put(PutArgs),
    /// Gets the key or a range of keys (v2: the value of a key, with ETCDCTL_API=2).
    Get(GetArgs),
    /// Removes the specified key or range of keys [key, range_end).
    Del(DelArgs),
    /// Watches events stream on keys or prefixes (v2: waits for one change, with ETCDCTL_API=2).
    Watch(WatchArgs),
    /// Txn processes all the requests in one transaction.
    Txn(TxnArgs),
    /// Lease related commands.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Membership related commands.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Endpoint related commands.
    Endpoint(EndpointArgs),
    /// Transfers leadership to another etcd cluster member.
    MoveLeader(MoveLeaderArgs),
    /// Manages etcd node snapshots.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Compacts the event history in etcd.
    Compaction(CompactionArgs),
    /// Alarm related commands.
    #[command(subcommand)]
    Alarm(AlarmCommand),
    /// Defragments the storage of the etcd members with given endpoints.
    Defrag,
    /// Acquires a named lock.
    Lock(LockArgs),
    /// Makes a mirror at the destination etcd cluster.
    MakeMirror(MirrorArgs),
    /// Observes and participates in leader election.
    Elect(ElectArgs),
    /// v2: set the value of a key.
    Set(SetArgs),
    /// v2: make a new key with a given value (fails if it exists).
    Mk(SetArgs),
    /// v2: update an existing key with a given value (fails if it does not exist).
    Update(SetArgs),
    /// v2: remove a key or a directory.
    Rm(RmArgs),
    /// v2: retrieve a directory.
    Ls(LsArgs),
    /// Prints the version of kvctl.
    Version,
}

/// Whether `ETCDCTL_API=2` (or `KVCTL_API=2`) selects the v2 `get` and `watch`.
fn api_v2() -> bool {
    ["KVCTL_API", "ETCDCTL_API"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .is_some_and(|v| v == "2")
}

async fn dispatch(ctx: &Context, command: &Command) -> anyhow::Result<()> {
    let v2 = api_v2();
    match command {
        Command::Put(a) => command::put::run(ctx, a).await,
        Command::Lock(a) => command::concurrency::lock(ctx, a).await,
        Command::MakeMirror(a) => command::mirror::run(ctx, a).await,
        Command::Elect(a) => command::concurrency::elect(ctx, a).await,
        Command::Get(a) if v2 => command::v2::get(ctx, a.key.as_deref()).await,
        Command::Get(a) => command::get::run(ctx, a).await,
        Command::Del(a) => command::del::run(ctx, a).await,
        Command::Watch(a) if v2 => command::v2::watch(ctx, a).await,
        Command::Watch(a) => command::watch::run(ctx, a).await,
        Command::Txn(a) => command::txn::run(ctx, a).await,
        Command::Lease(c) => command::lease::run(ctx, c).await,
        Command::Member(c) => command::member::run(ctx, c).await,
        Command::Endpoint(a) => command::endpoint::run(ctx, a).await,
        Command::Snapshot(c) => command::snapshot::run(ctx, c).await,
        Command::MoveLeader(a) => command::move_leader::run(ctx, a).await,
        Command::Compaction(a) => command::compaction::run(ctx, a).await,
        Command::Alarm(c) => command::alarm::run(ctx, c).await,
        Command::Defrag => command::alarm::defrag(ctx).await,
        Command::Set(a) => command::v2::set(ctx, a).await,
        Command::Mk(a) => command::v2::conditional_set(ctx, a, Condition::Absent).await,
        Command::Update(a) => command::v2::conditional_set(ctx, a, Condition::Present).await,
        Command::Rm(a) => command::v2::rm(ctx, a).await,
        Command::Ls(a) => command::v2::ls(ctx, a).await,
        Command::Version => {
            command::emit(
                format!(
                    "kvctl version: {}\nAPI version: 3.4\n",
                    env!("CARGO_PKG_VERSION")
                )
                .as_bytes(),
            )?;
            Ok(())
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let format = Format::parse(&cli.global.write_out)?;
    let ctx = Context {
        client: ClientConfig::new(
            cli.global.endpoints.as_deref(),
            cli.global.dial_timeout,
            cli.global.command_timeout,
            TlsFlags {
                cacert: cli.global.tls_cacert.clone(),
                cert: cli.global.tls_cert.clone(),
                key: cli.global.tls_key.clone(),
                insecure_skip_verify: cli.global.insecure_skip_tls_verify,
                insecure_transport: cli.global.insecure_transport,
            },
        )?,
        printer: Printer::new(format, cli.global.hex),
    };
    dispatch(&ctx, &cli.command).await
}

/// Prints an error as etcdctl would and returns the exit status.
fn report(err: &anyhow::Error) -> i32 {
    if let Some(f) = err.downcast_ref::<Failure>() {
        if let Some(text) = f.stderr_text() {
            command::emit_err(format!("{text}\n").as_bytes());
        }
        f.code.code()
    } else {
        command::emit_err(format!("Error: {err:#}\n").as_bytes());
        ExitCode::Error.code()
    }
}

/// Applies etcdctl's `ETCDCTL_*` rules: prints the warnings, or ends the process when a variable is shadowed by
/// its flag.
fn check_etcdctl_env(matches: &clap::ArgMatches) {
    let vars = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    match etcdctl_env::check(vars, given) {
        Ok(warnings) => {
            for w in warnings {
                command::emit_err(format!("kvctl: warning: {w}\n").as_bytes());
            }
        }
        Err(refusal) => std::process::exit(report(&anyhow::anyhow!(refusal))),
    }
}

fn main() {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let cli = match parsed {
        Ok((cli, matches)) => {
            check_etcdctl_env(&matches);
            cli
        }
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::BadArgs.code()
            } else {
                0
            };
            // Help and version go to stdout, errors to stderr, as clap would print them.
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => std::process::exit(report(
            &anyhow::Error::new(e).context("starting the async runtime"),
        )),
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => report(&e),
    };
    // Do not wait for a blocked stdin reader (watch -i) or open streams.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}
