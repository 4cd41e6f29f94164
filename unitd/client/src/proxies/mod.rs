//! zbus proxies for unitd's interfaces, one file per interface, with the wire structs of their array results.
//!
//! Every constructor here turns property caching off: a client reads a property when it needs it, and a caching
//! proxy would first subscribe to `PropertiesChanged` (resolving the owner of `org.freedesktop.systemd1` through
//! a bus daemon that a peer-to-peer connection does not have). Build a proxy yourself with
//! `XProxy::builder(conn)` if you want cached properties and change streams on a bus connection.

mod flotilla;
mod job;
mod manager;
mod service;
mod unit;

pub use flotilla::FlotillaManagerProxy;
pub use job::JobProxy;
pub use manager::{JobRemovedArgs, ManagerProxy};
pub use service::ServiceProxy;
pub use unit::UnitProxy;

use serde::{Deserialize, Serialize};
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedObjectPath, Type};

use crate::path::unit_object_path;

/// The well-known name unitd has on a bus (and that proxies name as destination on the private socket too).
pub const SERVICE_NAME: &str = "org.freedesktop.systemd1";

/// One entry of `ListUnits`/`ListUnitsFiltered`/`ListUnitsByPatterns`: `(ssssssouso)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct UnitListEntry {
    /// The unit's name, e.g. `hello.service`.
    pub id: String,
    /// Its `Description=`.
    pub description: String,
    /// `loaded`, `not-found`, `bad-setting`, `error` or `masked`.
    pub load_state: String,
    /// `active`, `reloading`, `inactive`, `failed`, `activating` or `deactivating`.
    pub active_state: String,
    /// The type-specific state, e.g. `running`, `exited`, `dead`.
    pub sub_state: String,
    /// The unit this one follows, or empty.
    pub following: String,
    /// The unit's object path.
    pub unit_path: OwnedObjectPath,
    /// The id of its queued job, 0 if none.
    pub job_id: u32,
    /// The type of its queued job (`start`, `stop`, …), empty if none.
    pub job_type: String,
    /// The object path of its queued job, `/` if none.
    pub job_path: OwnedObjectPath,
}

/// One entry of `ListUnitFiles`: `(ss)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct UnitFileEntry {
    /// The unit file's path.
    pub path: String,
    /// `enabled`, `disabled`, `static`, `masked`, `linked`, `generated`, `indirect` or `alias`.
    pub state: String,
}

/// One change made by `EnableUnitFiles`/`DisableUnitFiles`: `(sss)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct UnitFileChange {
    /// `symlink` or `unlink`.
    pub change_type: String,
    /// The symlink created or removed.
    pub file: String,
    /// What a created symlink points to; empty for `unlink`.
    pub destination: String,
}

/// One entry of `ListJobs`: `(usssoo)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct JobListEntry {
    /// The job id.
    pub id: u32,
    /// The unit the job is for.
    pub unit: String,
    /// `start`, `stop`, `restart`, `reload`, …
    pub job_type: String,
    /// `waiting` or `running`.
    pub state: String,
    /// The job's object path.
    pub job_path: OwnedObjectPath,
    /// The unit's object path.
    pub unit_path: OwnedObjectPath,
}

/// One command of an `Exec*` property: `(sasbttttuii)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ExecCommand {
    /// The binary.
    pub path: String,
    /// The full argv, argv\[0\] included.
    pub argv: Vec<String>,
    /// Whether a failure is ignored (`-` prefix).
    pub ignore_failure: bool,
    /// When it last started (µs since the epoch, 0 = never).
    pub start_timestamp: u64,
    /// The same on the monotonic clock.
    pub start_monotonic: u64,
    /// When it last exited (µs since the epoch, 0 = not yet).
    pub exit_timestamp: u64,
    /// The same on the monotonic clock.
    pub exit_monotonic: u64,
    /// Its pid, 0 if it never ran.
    pub pid: u32,
    /// `si_code` of its exit: 1 exited, 2 killed, 3 dumped; 0 while running or never run.
    pub code: i32,
    /// Exit status, or the signal number for `killed`/`dumped`.
    pub status: i32,
}

/// The manager at `/org/freedesktop/systemd1`, without property caching.
pub async fn manager(conn: &Connection) -> zbus::Result<ManagerProxy<'static>> {
    ManagerProxy::builder(conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// unitd's own manager interface at `/org/freedesktop/systemd1`, without property caching.
pub async fn flotilla_manager(conn: &Connection) -> zbus::Result<FlotillaManagerProxy<'static>> {
    FlotillaManagerProxy::builder(conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// The `Unit` interface of the unit object at `path` (as `GetUnit`/`LoadUnit`/`ListUnits` return it).
pub async fn unit_at(conn: &Connection, path: OwnedObjectPath) -> zbus::Result<UnitProxy<'static>> {
    UnitProxy::builder(conn)
        .path(path.into_inner())
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// The `Unit` interface of the unit called `name`, at its escaped path (the unit must be loaded).
pub async fn unit(conn: &Connection, name: &str) -> zbus::Result<UnitProxy<'static>> {
    unit_at(conn, unit_object_path(name)).await
}

/// The `Service` interface of the unit object at `path`.
pub async fn service_at(
    conn: &Connection,
    path: OwnedObjectPath,
) -> zbus::Result<ServiceProxy<'static>> {
    ServiceProxy::builder(conn)
        .path(path.into_inner())
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// The `Service` interface of the service called `name`.
pub async fn service(conn: &Connection, name: &str) -> zbus::Result<ServiceProxy<'static>> {
    service_at(conn, unit_object_path(name)).await
}

/// The job object at `path`.
pub async fn job_at(conn: &Connection, path: OwnedObjectPath) -> zbus::Result<JobProxy<'static>> {
    JobProxy::builder(conn)
        .path(path.into_inner())
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// `org.freedesktop.DBus.Properties` of the object at `path` (for `GetAll`, as `unitctl show` uses).
pub async fn properties_at(
    conn: &Connection,
    path: OwnedObjectPath,
) -> zbus::Result<zbus::fdo::PropertiesProxy<'static>> {
    zbus::fdo::PropertiesProxy::builder(conn)
        .destination(SERVICE_NAME)
        .path(path.into_inner())
        .cache_properties(CacheProperties::No)
        .build()
        .await
}
