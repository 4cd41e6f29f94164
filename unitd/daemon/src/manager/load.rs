//! Loading a unit by name through the `unitfile` loader: its configuration, or the load state and error systemd
//! would report (not-found, bad-setting, masked), plus the `.wants/`/`.requires/` links that add dependencies.

use std::path::Path;
use std::sync::Arc;

use unitfile::{Diagnostic, LoadError, UnitName, UnitType, WantsKind};

use super::service::Service;
use super::state::LoadState;
use super::unit::{Runtime, Timestamps, Unit};
use super::ManagerError;

/// `foo` → `foo.service`, as systemctl completes names without a type suffix.
pub fn normalize(name: &str) -> String {
    let has_suffix = name
        .rsplit_once('.')
        .is_some_and(|(_, suffix)| UnitType::from_suffix(suffix).is_some());
    if has_suffix {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// A load failure: the state, the D-Bus error name and the message.
pub type Failure = (LoadState, String, String);

/// Loads and validates `name`'s configuration.
pub fn load_config(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    name: &str,
) -> Result<unitfile::UnitConfig, Failure> {
    let unit_name = UnitName::parse(name).map_err(|e| {
        (
            LoadState::Error,
            "org.freedesktop.DBus.Error.InvalidArgs".to_string(),
            format!("Unit name {name} is not valid: {e}"),
        )
    })?;
    match loader.load(&unit_name, specs) {
        Ok(loaded) => Ok(loaded.config),
        Err(LoadError::NotFound { .. }) => Err((
            LoadState::NotFound,
            "org.freedesktop.systemd1.NoSuchUnit".to_string(),
            format!("Unit {name} not found."),
        )),
        Err(LoadError::Masked { .. }) => Err((
            LoadState::Masked,
            "org.freedesktop.systemd1.UnitMasked".to_string(),
            format!("Unit {name} is masked."),
        )),
        Err(LoadError::BadSetting(loaded)) => {
            let message = loaded
                .config
                .errors()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            Err((
                LoadState::BadSetting,
                "org.freedesktop.systemd1.BadUnitSetting".to_string(),
                message,
            ))
        }
        Err(e) => Err((
            LoadState::Error,
            "org.freedesktop.systemd1.LoadFailed".to_string(),
            e.to_string(),
        )),
    }
}

/// Builds the unit object for `name`, loaded or not, with the diagnostics worth logging.
pub fn load_unit(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    name: &str,
) -> (Unit, Vec<Diagnostic>) {
    let (wants, requires) = link_deps(loader, name);
    let mut unit = Unit {
        name: name.to_string(),
        load_state: LoadState::Loaded,
        load_error: None,
        config: None,
        runtime: Runtime::None,
        job: None,
        timestamps: Timestamps::default(),
        extra_wants: wants,
        extra_requires: requires,
        unit_file_state: String::new(),
        transitions: Vec::new(),
        published: None,
    };
    let mut diagnostics = Vec::new();
    match load_config(loader, specs, name) {
        Ok(config) => {
            diagnostics.extend(config.warnings.iter().cloned());
            let unit_type = UnitName::parse(name).map(|n| n.unit_type()).ok();
            unit.runtime = match (unit_type, &config.service) {
                (Some(UnitType::Service), Some(service)) => {
                    Runtime::Service(Box::new(Service::new(Arc::new(service.clone()))))
                }
                (Some(UnitType::Target), _) => Runtime::Target { active: false },
                _ => Runtime::Unsupported,
            };
            unit.config = Some(Arc::new(config));
        }
        Err((state, error_name, message)) => {
            if state == LoadState::BadSetting {
                // Keep the configuration (FragmentPath, dependencies) and the full list of problems.
                if let Ok(n) = UnitName::parse(name) {
                    if let Err(LoadError::BadSetting(loaded)) = loader.load(&n, specs) {
                        diagnostics.extend(loaded.config.warnings.iter().cloned());
                        unit.config = Some(Arc::new(loaded.config));
                    }
                }
            }
            unit.load_state = state;
            unit.load_error = Some((error_name, message));
        }
    }
    (unit, diagnostics)
}

/// Err with the unit's load error unless it is loaded.
pub fn load_result(u: &Unit) -> Result<(), ManagerError> {
    match (u.load_state, &u.load_error) {
        (LoadState::Loaded, _) => Ok(()),
        (LoadState::NotFound, _) => Err(ManagerError::NoSuchUnit(u.name.clone())),
        (LoadState::Masked, _) => Err(ManagerError::Masked(u.name.clone())),
        (_, Some((_, message))) => Err(ManagerError::LoadFailed(
            u.name.clone(),
            format!("Unit {} has a bad unit file setting: {message}", u.name),
        )),
        (_, None) => Err(ManagerError::LoadFailed(
            u.name.clone(),
            format!("Unit {} failed to load.", u.name),
        )),
    }
}

/// Units linked into `NAME.wants/` and `NAME.requires/` on the search path.
pub fn link_deps(loader: &unitfile::Loader, name: &str) -> (Vec<String>, Vec<String>) {
    let Ok(unit_name) = UnitName::parse(name) else {
        return (Vec::new(), Vec::new());
    };
    let links = loader.wants_dirs(&unit_name);
    let of = |kind: WantsKind| {
        links
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| w.unit.to_string())
            .collect()
    };
    (of(WantsKind::Wants), of(WantsKind::Requires))
}

/// The `[Install]` section of the unit file at `path`.
pub fn install_of(path: &Path, specs: &unitfile::Specifiers) -> Option<unitfile::InstallConfig> {
    let text = std::fs::read_to_string(path).ok()?;
    let file_name = path.file_name()?.to_str()?;
    let name = UnitName::parse(file_name).ok()?;
    let config = unitfile::UnitConfig::from_text(&name, path, &text, specs);
    Some(config.install)
}
