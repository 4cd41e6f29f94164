//! `unitd`: flags and signals; everything else is in the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

/// The per-host unit daemon: systemd unit files, cgroup-isolated services, journal, D-Bus API.
#[derive(Debug, Parser)]
#[command(name = "unitd", version)]
struct Args {
    /// Unit directory (repeatable), searched in order instead of /etc/flotilla/system and
    /// /usr/lib/flotilla/system; RUNTIME_DIR/system is always searched too.
    #[arg(
        long = "unit-path",
        value_name = "DIR",
        env = "UNITD_UNIT_PATH",
        value_delimiter = ':'
    )]
    unit_path: Vec<PathBuf>,
    /// State directory: the journal and the state file for re-attaching after a restart.
    #[arg(
        long,
        value_name = "DIR",
        env = "UNITD_STATE_DIR",
        default_value = "/var/lib/unitd"
    )]
    state_dir: PathBuf,
    /// Runtime directory: private and notify sockets, log FIFOs, runtime units (RUNTIME_DIR/system).
    #[arg(
        long,
        value_name = "DIR",
        env = "UNITD_RUNTIME_DIR",
        default_value = "/run/unitd"
    )]
    runtime_dir: PathBuf,
    /// The cgroup slice units run under.
    #[arg(long, env = "UNITD_SLICE", default_value = "flotilla.slice")]
    slice: String,
    /// The target started at boot.
    #[arg(long, env = "UNITD_DEFAULT_TARGET", default_value = "default.target")]
    default_target: String,
    /// System bus address (default: $DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket if present).
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,
    /// Serve only the private socket, never the system bus.
    #[arg(long)]
    no_bus: bool,
    /// Seconds a clean shutdown waits for units to stop.
    #[arg(long, default_value_t = 90)]
    stop_timeout: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNITD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = unitd::daemon::DaemonConfig {
        unit_paths: args.unit_path,
        state_dir: args.state_dir,
        runtime_dir: args.runtime_dir,
        slice: args.slice,
        default_target: args.default_target,
        bus_address: args.bus_address,
        no_bus: args.no_bus,
        stop_timeout: Duration::from_secs(args.stop_timeout),
    };
    // Two worker threads: the manager, the D-Bus connections and log capture are all light.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping units"),
                _ = int.recv() => tracing::info!("SIGINT: stopping units"),
            }
        };
        unitd::daemon::run(cfg, shutdown).await
    })
}
