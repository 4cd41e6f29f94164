//! unitd's D-Bus API (see `unitd/DBUS.md`): systemd's `org.freedesktop.systemd1` objects, served on the private
//! peer-to-peer socket `RUNTIME_DIR/private` and, when one is reachable, on the system bus as
//! `org.freedesktop.systemd1`.
//!
//! The interfaces are thin: methods turn into [`Request`]s for the manager task and wait for its reply; properties
//! are read from the manager's snapshots ([`SharedState`]). The [`Server`] keeps every live connection, registers
//! unit and job objects on each as the manager announces them, and emits the manager's signals (UnitNew,
//! JobNew, JobRemoved, PropertiesChanged) on all of them.
//!
//! Layout: [`manager_iface`] (Manager + io.flotilla.unitd1.Manager), [`unit_iface`] (Unit + Service),
//! [`job_iface`] (Job, and Hello for sd-bus clients on the private socket), [`error`] (systemd's error names).

pub mod error;
pub mod job_iface;
pub mod manager_iface;
pub mod unit_iface;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot, Mutex};
use unitd_cgroup::{CgroupManager, Cgroups, Stats};
use zbus::names::InterfaceName;
use zbus::object_server::SignalEmitter;
use zbus::{connection, Connection, ObjectPath, OwnedObjectPath, Variant};

use crate::manager::{Event, Reply, Request, SharedState, Signal};
use error::BusError;
use job_iface::{HelloIface, JobIface};
use manager_iface::{FlotillaIface, ManagerIface};
use unit_iface::{ServiceIface, UnitIface};

pub const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
pub const BUS_NAME: &str = "org.freedesktop.systemd1";

pub fn job_path(id: u32) -> OwnedObjectPath {
    let path = format!("/org/freedesktop/systemd1/job/{id}");
    OwnedObjectPath::try_from(path).unwrap_or_else(|_| root_path())
}

pub fn root_path() -> OwnedObjectPath {
    OwnedObjectPath::from(ObjectPath::from_static_str_unchecked("/"))
}

/// What every interface object needs: the way to the manager and its snapshots.
#[derive(Clone)]
pub struct BusCtx {
    pub events: mpsc::UnboundedSender<Event>,
    pub shared: SharedState,
    pub cgroups: Option<Arc<Cgroups>>,
}

impl BusCtx {
    /// Sends a request to the manager and waits for its answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, BusError> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Request(make(tx)))
            .map_err(|_| BusError::gone())?;
        rx.await
            .map_err(|_| BusError::gone())?
            .map_err(BusError::from)
    }

    /// Reads one manager-wide value from the snapshot.
    pub fn manager<T: Default>(&self, f: impl FnOnce(&crate::manager::ManagerSnapshot) -> T) -> T {
        self.shared
            .read()
            .map(|s| f(&s.manager))
            .unwrap_or_default()
    }

    pub fn stats(&self, unit: &str) -> Option<Stats> {
        self.cgroups.as_ref()?.stats(unit).ok()
    }

    /// Manager.Reexecute: persist state, answer, then replace this process with a fresh unitd.
    pub async fn reexecute(&self) -> Result<(), BusError> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Serialize { reply: tx })
            .map_err(|_| BusError::gone())?;
        rx.await.map_err(|_| BusError::gone())?;
        tokio::spawn(async {
            // Let the reply leave first.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let err = crate::reexec_self();
            tracing::error!(error = %err, "re-exec failed");
        });
        Ok(())
    }
}

/// Puts the objects of `unit` (Unit, and Service for services) on one connection's object server; a no-op for
/// those already there.
pub(crate) async fn serve_unit(
    server: &zbus::ObjectServer,
    ctx: &BusCtx,
    unit: &str,
    service: bool,
) {
    let path = unitd_client::unit_object_path(unit);
    let _ = server
        .at(
            &path,
            UnitIface {
                ctx: ctx.clone(),
                name: unit.to_string(),
            },
        )
        .await;
    if service {
        let _ = server
            .at(
                &path,
                ServiceIface {
                    ctx: ctx.clone(),
                    name: unit.to_string(),
                },
            )
            .await;
    }
}

/// All live connections, and the objects on them.
pub struct Server {
    ctx: BusCtx,
    connections: Mutex<Vec<Connection>>,
}

impl Server {
    pub fn new(ctx: BusCtx) -> Arc<Server> {
        Arc::new(Server {
            ctx,
            connections: Mutex::new(Vec::new()),
        })
    }

    /// Serves the manager objects and every known unit on `builder`'s connection, and keeps it. The units are
    /// part of the connection from its start: registered after the handshake, a client's first calls could
    /// find a unit GetUnit had just returned missing (`UnknownObject`).
    async fn add(&self, builder: connection::Builder<'_>, p2p: bool) -> zbus::Result<Connection> {
        let mut builder = builder
            .serve_at(
                MANAGER_PATH,
                ManagerIface {
                    ctx: self.ctx.clone(),
                },
            )
            .serve_at(
                MANAGER_PATH,
                FlotillaIface {
                    ctx: self.ctx.clone(),
                },
            );
        if p2p {
            builder = builder.serve_at("/org/freedesktop/DBus", HelloIface);
        }
        let served = self.known_units();
        for (unit, service) in &served {
            let path = unitd_client::unit_object_path(unit);
            builder = builder.serve_at(
                path.clone(),
                UnitIface {
                    ctx: self.ctx.clone(),
                    name: unit.clone(),
                },
            );
            if *service {
                builder = builder.serve_at(
                    path,
                    ServiceIface {
                        ctx: self.ctx.clone(),
                        name: unit.clone(),
                    },
                );
            }
        }
        let conn = builder.build().await?;
        // Catch up with units loaded or removed during the handshake (the signal pump did not know this
        // connection yet). Holding the list while doing so orders this against the pump.
        let mut connections = self.connections.lock().await;
        let now = self.known_units();
        for (unit, service) in &now {
            if !served.iter().any(|(u, _)| u == unit) {
                self.register_unit(&conn, unit, *service).await;
            }
        }
        for (unit, _) in &served {
            if !now.iter().any(|(u, _)| u == unit) {
                let path = unitd_client::unit_object_path(unit);
                let _ = conn.object_server().remove::<ServiceIface, _>(&path).await;
                let _ = conn.object_server().remove::<UnitIface, _>(&path).await;
            }
        }
        connections.push(conn.clone());
        Ok(conn)
    }

    /// The loaded units, and whether each is a service.
    fn known_units(&self) -> Vec<(String, bool)> {
        self.ctx
            .shared
            .read()
            .map(|s| {
                s.units
                    .values()
                    .map(|u| (u.id.clone(), u.service.is_some()))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn register_unit(&self, conn: &Connection, unit: &str, service: bool) {
        serve_unit(conn.object_server(), &self.ctx, unit, service).await;
    }

    /// Accepts peer-to-peer clients on the private socket.
    pub async fn serve_private(self: Arc<Self>, listener: UnixListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "private socket accept failed");
                    continue;
                }
            };
            let server = self.clone();
            tokio::spawn(async move {
                let std_stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => return tracing::warn!(error = %e, "private connection unusable"),
                };
                let guid = zbus::Guid::generate();
                let builder = connection::Builder::unix_stream(std_stream)
                    .server(guid)
                    .p2p();
                if let Err(e) = server.add(builder, true).await {
                    tracing::debug!(error = %e, "private connection failed");
                }
            });
        }
    }

    /// Connects to the system bus at `address` and owns `org.freedesktop.systemd1` there.
    pub async fn serve_bus(self: &Arc<Self>, address: &str) -> zbus::Result<Connection> {
        let builder = connection::Builder::address(address).name(BUS_NAME);
        self.add(builder, false).await
    }

    /// Delivers the manager's signals to every connection until the manager goes away.
    pub async fn pump(self: Arc<Self>, mut signals: mpsc::UnboundedReceiver<Signal>) {
        while let Some(signal) = signals.recv().await {
            let mut connections = self.connections.lock().await;
            let mut alive = Vec::with_capacity(connections.len());
            for conn in connections.drain(..) {
                match self.deliver(&conn, &signal).await {
                    Ok(()) => alive.push(conn),
                    Err(e) => tracing::debug!(error = %e, "dropping a closed D-Bus connection"),
                }
            }
            *connections = alive;
        }
    }

    async fn deliver(&self, conn: &Connection, signal: &Signal) -> zbus::Result<()> {
        let manager = SignalEmitter::new(conn, MANAGER_PATH)?;
        match signal {
            Signal::UnitNew { unit, service } => {
                self.register_unit(conn, unit, *service).await;
                let path = unitd_client::unit_object_path(unit);
                ManagerIface::unit_new(&manager, unit, path.as_ref()).await?;
            }
            Signal::UnitRemoved { unit } => {
                let path = unitd_client::unit_object_path(unit);
                ManagerIface::unit_removed(&manager, unit, path.as_ref()).await?;
                let _ = conn.object_server().remove::<ServiceIface, _>(&path).await;
                let _ = conn.object_server().remove::<UnitIface, _>(&path).await;
            }
            Signal::JobNew { id, unit } => {
                let path = job_path(*id);
                let _ = conn
                    .object_server()
                    .at(
                        &path,
                        JobIface {
                            ctx: self.ctx.clone(),
                            id: *id,
                            unit: unit.clone(),
                        },
                    )
                    .await;
                ManagerIface::job_new(&manager, *id, path.as_ref(), unit).await?;
            }
            Signal::JobRemoved { id, unit, result } => {
                let path = job_path(*id);
                ManagerIface::job_removed(&manager, *id, path.as_ref(), unit, result.as_str())
                    .await?;
                let _ = conn.object_server().remove::<JobIface, _>(&path).await;
            }
            Signal::Changed { unit, service } => {
                let Some(snap) = self
                    .ctx
                    .shared
                    .read()
                    .ok()
                    .and_then(|s| s.units.get(unit).cloned())
                else {
                    return Ok(());
                };
                let path = unitd_client::unit_object_path(unit);
                let emitter = SignalEmitter::new(conn, path)?;
                let mut changed: HashMap<&str, Variant<'_>> = HashMap::new();
                changed.insert("ActiveState", Variant::from(snap.active_state.clone()));
                changed.insert("SubState", Variant::from(snap.sub_state.clone()));
                changed.insert(
                    "ActiveEnterTimestamp",
                    Variant::from(snap.timestamps.active_enter),
                );
                changed.insert(
                    "ActiveExitTimestamp",
                    Variant::from(snap.timestamps.active_exit),
                );
                changed.insert(
                    "InactiveEnterTimestamp",
                    Variant::from(snap.timestamps.inactive_enter),
                );
                changed.insert(
                    "InactiveExitTimestamp",
                    Variant::from(snap.timestamps.inactive_exit),
                );
                changed.insert(
                    "StateChangeTimestamp",
                    Variant::from(snap.timestamps.state_change),
                );
                zbus::fdo::Properties::properties_changed(
                    &emitter,
                    InterfaceName::from_static_str_unchecked("org.freedesktop.systemd1.Unit"),
                    changed,
                    Cow::Borrowed(&["Job"]),
                )
                .await?;
                if let (true, Some(s)) = (*service, snap.service.as_ref()) {
                    let mut changed: HashMap<&str, Variant<'_>> = HashMap::new();
                    changed.insert("MainPID", Variant::from(s.main_pid));
                    changed.insert("ControlPID", Variant::from(s.control_pid));
                    changed.insert("ExecMainPID", Variant::from(s.exec_main_pid));
                    changed.insert("ExecMainCode", Variant::from(s.exec_main_code));
                    changed.insert("ExecMainStatus", Variant::from(s.exec_main_status));
                    changed.insert("Result", Variant::from(s.result.clone()));
                    changed.insert("StatusText", Variant::from(s.status_text.clone()));
                    changed.insert("NRestarts", Variant::from(s.n_restarts));
                    zbus::fdo::Properties::properties_changed(
                        &emitter,
                        InterfaceName::from_static_str_unchecked(
                            "org.freedesktop.systemd1.Service",
                        ),
                        changed,
                        Cow::Borrowed(&[]),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}
