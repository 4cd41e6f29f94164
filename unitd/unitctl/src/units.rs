//! Looking units up on unitd, the I/O the verbs share: turning arguments into unit names (globs expanded
//! against loaded units), finding a unit's object (loading it if needed), reading all properties of an
//! interface, and where the journal is.

use std::path::PathBuf;

use unitd_client::error::names;
use unitd_client::path::MANAGER_PATH;
use unitd_client::{proxies, OwnedObjectPath};
use zbus::names::InterfaceName;
use zbus::ObjectPath;

use crate::context::{bus_failure, Context};
use crate::error::Failure;
use crate::props::{PropValue, Props};
use crate::unit_name::{glob_match, is_glob, mangle};

/// The journal directory when neither `-D` nor unitd says otherwise.
pub const DEFAULT_JOURNAL_DIR: &str = "/var/lib/unitd/journal";

/// The `Unit` interface name.
pub const UNIT_IFACE: &str = "org.freedesktop.systemd1.Unit";
/// The `Service` interface name.
pub const SERVICE_IFACE: &str = "org.freedesktop.systemd1.Service";
/// The `Manager` interface name.
pub const MANAGER_IFACE: &str = "org.freedesktop.systemd1.Manager";
/// unitd's own manager interface name.
pub const FLOTILLA_IFACE: &str = "io.flotilla.unitd1.Manager";

/// Unit names for the arguments: each mangled (`hello` → `hello.service`); globs replaced by the loaded units
/// they match, in name order (a glob that matches nothing adds nothing, as in systemctl).
pub async fn expand_names(ctx: &Context, args: &[String]) -> Result<Vec<String>, Failure> {
    let mangled: Vec<String> = args.iter().map(|a| mangle(a)).collect();
    if !mangled.iter().any(|n| is_glob(n)) {
        return Ok(mangled);
    }
    let manager = ctx.manager().await?;
    let loaded = manager
        .list_units()
        .await
        .map_err(|e| bus_failure("Failed to list units", &e.into()))?;
    let mut ids: Vec<String> = loaded.into_iter().map(|u| u.id).collect();
    ids.sort();
    let mut out = Vec::new();
    for name in mangled {
        if is_glob(&name) {
            out.extend(ids.iter().filter(|id| glob_match(&name, id)).cloned());
        } else {
            out.push(name);
        }
    }
    Ok(out)
}

/// The object of `unit`: `GetUnit`, else `LoadUnit`; `None` if unitd has no such unit.
pub async fn find_unit(ctx: &Context, unit: &str) -> Result<Option<OwnedObjectPath>, Failure> {
    let manager = ctx.manager().await?;
    match manager.get_unit(unit).await {
        Ok(path) => return Ok(Some(path)),
        Err(e) => {
            let e = unitd_client::ClientError::from(e);
            if !e.is_remote(names::NO_SUCH_UNIT) {
                return Err(bus_failure(&format!("Failed to get unit {unit}"), &e));
            }
        }
    }
    match manager.load_unit(unit).await {
        Ok(path) => Ok(Some(path)),
        Err(e) => {
            let e = unitd_client::ClientError::from(e);
            if e.is_remote(names::NO_SUCH_UNIT) {
                Ok(None)
            } else {
                Err(bus_failure(&format!("Failed to load unit {unit}"), &e))
            }
        }
    }
}

/// The active state of `unit`; `inactive` if unitd has it not loaded (as systemd reports for unknown units).
pub async fn active_state(ctx: &Context, unit: &str) -> Result<String, Failure> {
    let manager = ctx.manager().await?;
    let path = match manager.get_unit(unit).await {
        Ok(path) => path,
        Err(e) => {
            let e = unitd_client::ClientError::from(e);
            if e.is_remote(names::NO_SUCH_UNIT) {
                return Ok("inactive".to_string());
            }
            return Err(bus_failure(&format!("Failed to get unit {unit}"), &e));
        }
    };
    let conn = ctx.conn().await?;
    let proxy = proxies::unit_at(conn, path)
        .await
        .map_err(|e| bus_failure("Failed to create the unit proxy", &e.into()))?;
    proxy.active_state().await.map_err(|e| {
        bus_failure(
            &format!("Failed to retrieve unit state of {unit}"),
            &e.into(),
        )
    })
}

/// All properties of `interface` on the object at `path`.
pub async fn get_all(
    ctx: &Context,
    path: &OwnedObjectPath,
    interface: &str,
) -> Result<Props, Failure> {
    let conn = ctx.conn().await?;
    let properties = proxies::properties_at(conn, path.clone())
        .await
        .map_err(|e| bus_failure("Failed to get properties", &e.into()))?;
    let iface = InterfaceName::try_from(interface)
        .map_err(|e| Failure::error(format!("Invalid interface {interface}: {e}")))?;
    let all = properties
        .get_all(iface)
        .await
        .map_err(|e| bus_failure("Failed to get properties", &e.into()))?;
    Ok(all
        .iter()
        .map(|(name, value)| (name.clone(), PropValue::from_variant(value)))
        .collect())
}

/// The properties of a unit: `Unit`, plus `Service` for services (a missing `Service` interface is not an
/// error).
pub async fn unit_props(
    ctx: &Context,
    unit: &str,
    path: &OwnedObjectPath,
) -> Result<(Props, Props), Failure> {
    let unit_props = get_all(ctx, path, UNIT_IFACE).await?;
    let id = unit_props
        .get("Id")
        .and_then(PropValue::as_str)
        .unwrap_or(unit);
    let service_props = if id.ends_with(".service") {
        get_all(ctx, path, SERVICE_IFACE).await.unwrap_or_default()
    } else {
        Props::new()
    };
    Ok((unit_props, service_props))
}

/// The journal directory: `-D`, else `StateDirectory/journal` from unitd, else [`DEFAULT_JOURNAL_DIR`].
pub async fn journal_dir(ctx: &Context, explicit: Option<&str>) -> PathBuf {
    if let Some(dir) = explicit {
        return PathBuf::from(dir);
    }
    if let Ok(conn) = ctx.conn().await {
        if let Ok(flotilla) = proxies::flotilla_manager(conn).await {
            if let Ok(state) = flotilla.state_directory().await {
                if !state.is_empty() {
                    return PathBuf::from(state).join("journal");
                }
            }
        }
    }
    PathBuf::from(DEFAULT_JOURNAL_DIR)
}

/// The manager's object path.
pub fn manager_path() -> OwnedObjectPath {
    OwnedObjectPath::from(ObjectPath::from_static_str_unchecked(MANAGER_PATH))
}

/// This host's name, as journal lines show it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
