//! `fleetd [--config FILE]`: fleet's daemon (engine, agent and HTTP API) for this machine. See the library docs.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use fleetd::config::Config;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "fleetd",
    version,
    about = "fleet's daemon: engine, agent and HTTP API for this machine"
)]
struct Args {
    /// The configuration file (fleet's `key = value` format); default /etc/fleet/fleet.conf if it exists.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (config, warnings) =
        Config::load(args.config.as_deref(), std::env::vars()).context("fleetd configuration")?;
    let default_level = if config.verbosity > 0 {
        "debug"
    } else {
        "info"
    };
    let filter =
        EnvFilter::try_from_env("FLEET_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let under_manager = std::env::var_os("INVOCATION_ID").is_some();
    // Logs go to stderr (the journal under unitd), with colours only on a terminal.
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if under_manager {
        fmt.without_time().init();
    } else {
        fmt.init();
    }
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        fleetd::server::run(config, stop).await
    })
}
