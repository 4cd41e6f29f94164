//! Wiring: directories, cgroups, journal, notify socket, reaper, manager, D-Bus server; then wait for a shutdown
//! request and stop every unit in reverse dependency order.

use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use unitd_cgroup::{CgroupManager, Cgroups};

use crate::dbus::{BusCtx, Server};
use crate::logs::{Journal, LogPipes};
use crate::manager::context::Runtime;
use crate::manager::{Event, Manager, ManagerConfig};

/// unitd's settings (from flags).
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Extra unit directories (`--unit-path`), searched first.
    pub unit_paths: Vec<PathBuf>,
    /// State: the journal and the state file for re-attaching.
    pub state_dir: PathBuf,
    /// Sockets (private, notify), log FIFOs and the runtime unit directory (`RUNTIME_DIR/system`).
    pub runtime_dir: PathBuf,
    /// The cgroup slice all units live under.
    pub slice: String,
    pub default_target: String,
    /// The system bus address; None: DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket if present.
    pub bus_address: Option<String>,
    /// Don't try the system bus at all.
    pub no_bus: bool,
    /// How long a clean shutdown waits for units to stop.
    pub stop_timeout: Duration,
}

impl DaemonConfig {
    pub const SYSTEM_CONFIG_DIR: &'static str = "/etc/flotilla/system";
    pub const SYSTEM_VENDOR_DIR: &'static str = "/usr/lib/flotilla/system";

    /// The unit search path, like systemd's /etc → /run → /usr/lib: /etc/flotilla/system, RUNTIME_DIR/system,
    /// /usr/lib/flotilla/system. `--unit-path` directories take the place of the two system directories (so a
    /// test or a rootless setup sees only its own units); the runtime directory, where generated and
    /// fleet-loaded units go, is always searched. Ahead of all, as systemd's `system.control` directories, the
    /// drop-ins `set-property` writes: CONFIG_DIR.control (`/etc/flotilla/system.control`) and
    /// RUNTIME_DIR/system.control.
    pub fn manager_config(&self) -> ManagerConfig {
        let runtime_unit_dir = self.runtime_dir.join("system");
        let config_dir = self
            .unit_paths
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from(Self::SYSTEM_CONFIG_DIR));
        let mut control_dir = config_dir.clone().into_os_string();
        control_dir.push(".control");
        let control_dir = PathBuf::from(control_dir);
        let runtime_control_dir = self.runtime_dir.join("system.control");
        let mut unit_path = vec![control_dir.clone(), runtime_control_dir.clone()];
        if self.unit_paths.is_empty() {
            unit_path.extend([
                PathBuf::from(Self::SYSTEM_CONFIG_DIR),
                runtime_unit_dir.clone(),
                PathBuf::from(Self::SYSTEM_VENDOR_DIR),
            ]);
        } else {
            unit_path.extend(self.unit_paths.iter().cloned());
            unit_path.push(runtime_unit_dir.clone());
        }
        ManagerConfig {
            config_dir,
            unit_path,
            runtime_unit_dir,
            state_dir: self.state_dir.clone(),
            runtime_dir: self.runtime_dir.clone(),
            control_dir,
            runtime_control_dir,
            default_target: self.default_target.clone(),
        }
    }

    fn bus_address(&self) -> Option<String> {
        if self.no_bus {
            return None;
        }
        if let Some(a) = &self.bus_address {
            return Some(a.clone());
        }
        if let Ok(a) = std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            return Some(a);
        }
        let default = "/run/dbus/system_bus_socket";
        std::path::Path::new(default)
            .exists()
            .then(|| format!("unix:path={default}"))
    }
}

/// The private socket: inherited from the unitd that re-exec'd into this one, else bound afresh.
fn private_listener(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    let inherited = std::env::var(crate::PRIVATE_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    if let Some(fd) = inherited {
        // SAFETY: the previous unitd left this listening socket open for us and nothing else owns it; it is
        // marked close-on-exec again right away.
        let std_listener = unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            std::os::unix::net::UnixListener::from_raw_fd(fd)
        };
        std_listener.set_nonblocking(true)?;
        return Ok(tokio::net::UnixListener::from_std(std_listener)?);
    }
    let _ = std::fs::remove_file(path);
    tokio::net::UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))
}

/// Runs unitd until `shutdown` resolves, then stops every unit and returns.
pub async fn run(
    cfg: DaemonConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    for dir in [
        &cfg.state_dir,
        &cfg.runtime_dir,
        &cfg.runtime_dir.join("system"),
    ] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::reaper::become_subreaper().context("becoming a child subreaper")?;
    let cgroups = match Cgroups::detect(&cfg.slice) {
        Ok(cg) => {
            tracing::info!(version = cg.version(), slice = %cfg.slice, "cgroups ready");
            Some(Arc::new(cg))
        }
        Err(e) => {
            tracing::warn!(error = %e, "cgroups unavailable: units run without isolation or limits");
            None
        }
    };
    let journal = Journal::start(
        &cfg.state_dir.join("journal"),
        unitd_journal::Limits::default(),
    )
    .context("opening the journal")?;
    let logs = LogPipes::new(cfg.runtime_dir.join("fifo"), journal)
        .context("creating the log FIFO directory")?;
    let notify_path = cfg.runtime_dir.join("notify");
    let notify_socket = crate::notify::bind(&notify_path)
        .with_context(|| format!("binding {}", notify_path.display()))?;

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (signals_tx, signals_rx) = mpsc::unbounded_channel();
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rt = Runtime {
        cgroups: cgroups.clone(),
        events: events_tx.clone(),
        logs,
        notify_socket: notify_path,
        hostname,
        environment: crate::manager::environment::load(&cfg.runtime_dir),
    };
    let mut manager = Manager::new(cfg.manager_config(), rt, events_rx, signals_tx);
    let shared = manager.shared();

    tokio::spawn(crate::reaper::run(events_tx.clone()));
    tokio::spawn(crate::notify::run(notify_socket, events_tx.clone()));

    // Load units and re-attach before any client can connect, so the first answers are complete.
    manager.boot();

    let server = Server::new(BusCtx {
        events: events_tx.clone(),
        shared,
        cgroups,
    });
    let private = cfg.runtime_dir.join("private");
    let listener = private_listener(&private)?;
    crate::PRIVATE_LISTENER_FD.store(listener.as_raw_fd(), std::sync::atomic::Ordering::SeqCst);
    tokio::spawn(server.clone().serve_private(listener));
    tokio::spawn(server.clone().pump(signals_rx));
    let _bus = match cfg.bus_address() {
        Some(address) => match server.serve_bus(&address).await {
            Ok(conn) => {
                tracing::info!(%address, "owning org.freedesktop.systemd1 on the system bus");
                Some(conn)
            }
            Err(e) => {
                tracing::warn!(%address, error = %e, "system bus unavailable; serving the private socket only");
                None
            }
        },
        None => None,
    };

    let manager_task = tokio::spawn(manager.run());
    tracing::info!(private = %private.display(), "unitd ready");

    shutdown.await;
    let (tx, rx) = oneshot::channel();
    if events_tx.send(Event::Shutdown { reply: tx }).is_ok()
        && tokio::time::timeout(cfg.stop_timeout, rx).await.is_err()
    {
        tracing::warn!("units did not stop in time; exiting anyway");
    }
    manager_task.abort();
    let _ = std::fs::remove_file(&private);
    Ok(())
}
