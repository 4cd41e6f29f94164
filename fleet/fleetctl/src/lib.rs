//! # fleetctl — fleet's command-line client
//!
//! A clone of CoreOS fleet's `fleetctl`: the same verbs, flags, defaults, messages, exit codes, blocking
//! behaviour and (byte for byte) tables, talking to fleetd's HTTP API over its unix socket or TCP, or straight
//! to the registry in the KV store with `--driver etcd`. Where fleet had a bug, the intended behaviour is
//! implemented and the module that does so says so. Flotilla additions: `rolling-replace`, brace expansion of
//! unit arguments (`web@{1..3}.service`), a journal read through the cluster instead of ssh, and waits that
//! report (and, with no attempt limit, stop on) a unit the engine says it cannot schedule.
//!
//! ## Layout
//! - `cli` — the command line (clap): global flags (also from `FLEETCTL_*`), one argument struct per verb.
//! - `cmd/<verb>.rs` — one verb per file, each `run(ctx, args) -> exit code`; `cmd` holds the shared
//!   `findUnits`/`setTargetStateOfUnits`.
//! - `create` — the create phase shared by submit/load/start (registry vs local file, templates, `--replace`,
//!   validation).
//! - `block` — fleet's waits: attempts, polls, the systemd-active check, unschedulable reasons.
//! - `driver` — the [`driver::Driver`] seam and its implementations: `ApiDriver` (HTTP), `EtcdDriver`
//!   (fleet-registry), and an in-memory fake for tests.
//! - `http` — a small HTTP/1.1 client over unix sockets and TCP (hyper).
//! - `journal` — reading a unit's journal from its machine's fleet API.
//! - `ctx` — what a verb runs with: driver, output, timings, the machine cache and legends.
//! - `names` — name mangling, brace expansion, instance order.
//! - `table` — Go's tabwriter, as fleet configured it.
//! - `io` — stdout/stderr behind one handle (capturable in tests).

pub mod block;
pub mod cli;
pub mod cmd;
pub mod create;
pub mod ctx;
pub mod driver;
pub mod http;
pub mod io;
pub mod journal;
pub mod names;
pub mod table;
#[cfg(test)]
mod testutil;

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, DriverKind, Globals, GlobalsError};
use crate::ctx::Ctx;
use crate::driver::{AnyDriver, ApiDriver, EtcdDriver};
use crate::http::{Endpoint, HttpClient};
use crate::io::Io;

/// Runs fleetctl on `args` (including the program name) and returns the exit code.
pub async fn run(args: Vec<OsString>) -> i32 {
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return usage_error(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let globals = cli.global.resolve(&matches);
    let io = Io::stdio(globals.as_ref().is_ok_and(|g| g.debug));
    if cli.version {
        return cmd::version::run(&io);
    }
    if cli.global.help {
        let text = match matches.subcommand_name() {
            Some(name) => cmd::help::command(name),
            None => cmd::help::top(),
        };
        let _ = io.write_out(text.as_bytes());
        return 0;
    }
    let command = match cli.command {
        None => return cmd::help::run(&io, &[]),
        Some(Command::Help(a)) => return cmd::help::run(&io, &a.command),
        Some(Command::Version) => return cmd::version::run(&io),
        Some(Command::Verify(_)) => return cmd::verify::run(&io),
        Some(c) => c,
    };
    let globals = match globals {
        Ok(g) => g,
        Err(GlobalsError::Driver(d)) => {
            io.stderr(format!(
                "Unable to initialize client: {}",
                GlobalsError::Driver(d)
            ));
            return 1;
        }
        Err(e) => {
            io.stderr(format!("Error: {e}"));
            io.stderr("Run 'fleetctl help' for usage.");
            return 2;
        }
    };
    let driver = match connect(&globals, &io).await {
        Ok(d) => d,
        Err(e) => {
            io.stderr(format!("Unable to initialize client: {e}"));
            return 1;
        }
    };
    let ctx = Ctx::new(driver, io, globals.request_timeout);
    cmd::run(&ctx, &command).await
}

/// The driver `--driver` and `--endpoint` ask for.
async fn connect(g: &Globals, io: &Io) -> Result<AnyDriver, String> {
    if !g.tunnel.is_empty() {
        return Err("SSH tunnels (--tunnel) are not supported by this fleetctl".to_string());
    }
    match g.driver {
        DriverKind::Api => {
            if g.endpoints.len() > 1 {
                io.log(
                    "WARN",
                    "fleetctl.rs",
                    format!(
                        "multiple endpoints provided but only the first ({}) is used",
                        g.endpoints[0]
                    ),
                );
            }
            let endpoint = Endpoint::parse(&g.endpoints[0]).map_err(|e| e.to_string())?;
            Ok(AnyDriver::Api(ApiDriver::new(HttpClient::new(
                endpoint,
                g.request_timeout,
            ))))
        }
        DriverKind::Etcd => EtcdDriver::connect(
            &g.endpoints,
            &g.etcd_key_prefix,
            g.request_timeout,
            &g.etcd_tls,
        )
        .await
        .map(|d| AnyDriver::Etcd(Box::new(d)))
        .map_err(|e| e.to_string()),
    }
}

/// A command line clap refused: fleet v0.11's words for an unknown command, clap's otherwise; exit 2.
fn usage_error(e: &clap::Error) -> i32 {
    let io = Io::stdio(false);
    if e.kind() == ErrorKind::InvalidSubcommand {
        if let Some(ContextValue::String(name)) = e.get(ContextKind::InvalidSubcommand) {
            io.stderr(format!("fleetctl: unknown subcommand: {name:?}"));
            io.stderr("Run 'fleetctl help' for usage.");
            return 2;
        }
    }
    io.stderr(e.render().to_string());
    2
}
