//! The validated, typed unit configuration — the "what was validated" half of the two kinds of config type.
//!
//! [`UnitConfig::from_files`] walks the raw sections of the fragment and its drop-ins in order and applies each
//! setting the way systemd's `config_parse_*` callback for it would: single-valued settings take the last
//! value, list settings accumulate and an empty assignment resets them (drop-ins can reset the fragment), and
//! each invalid value is reported with the file and line it is on — as an error only when systemd refuses the
//! unit over it, otherwise as a warning and ignored. After all settings, the unit-type checks run
//! (`service_verify()` and friends).
//!
//! Layout: `ctx` (diagnostic sink, shared helpers) · `unit` ([Unit] and [Install]) · `service` ([Service] and
//! its checks) · `exec_context` (environment, user, directories, output — shared with sockets, mounts, swaps)
//! · `kill` (kill mode and signals) · `resources` (cgroup limits) · `other` (socket, timer and path checks).

mod ctx;
mod exec_context;
mod kill;
mod other;
mod resources;
mod service;
mod unit;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use exec_context::{env_name_is_valid, ExecContext, StandardOutput, WorkingDirectory};
pub use kill::{KillMode, KillSettings};
pub use resources::Resources;
pub use service::{ExitStatusSet, NotifyAccess, RestartPolicy, ServiceConfig, ServiceType};

use crate::diag::Diagnostic;
use crate::keys::{self, ValueKind};
use crate::lexer::{parse_bytes, ParsedFile};
use crate::name::{UnitName, UnitType};
use crate::raw::RawUnit;
use crate::specifier::Specifiers;
use ctx::Ctx;

/// A dependency on another unit, with the place it was declared (for dependency-loop reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    /// The unit depended on (specifiers expanded; a template resolved to this unit's instance).
    pub unit: UnitName,
    /// The file of the setting.
    pub file: PathBuf,
    /// The line of the setting.
    pub line: u32,
}

/// The `[Install]` section: what `enable` does with the unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallConfig {
    /// `WantedBy=`: enabling links this unit into `TARGET.wants/`.
    pub wanted_by: Vec<UnitName>,
    /// `RequiredBy=`: enabling links this unit into `TARGET.requires/`.
    pub required_by: Vec<UnitName>,
    /// `Also=`: units enabled and disabled together with this one.
    pub also: Vec<UnitName>,
    /// `Alias=`: extra names, created as symlinks on enable.
    pub alias: Vec<UnitName>,
    /// `DefaultInstance=`: the instance used when a template is enabled without one.
    pub default_instance: Option<String>,
}

/// A loaded and validated unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitConfig {
    /// The unit's name (for an alias, the name of the unit it points to).
    pub name: UnitName,
    /// `Description=` (specifiers expanded).
    pub description: Option<String>,
    /// `Documentation=` URLs (`http(s)://`, `file:`, `man:`, `info:`).
    pub documentation: Vec<String>,
    /// `Requires=`.
    pub requires: Vec<Dep>,
    /// `Requisite=`.
    pub requisite: Vec<Dep>,
    /// `Wants=`.
    pub wants: Vec<Dep>,
    /// `BindsTo=` (and the old spelling `BindTo=`).
    pub binds_to: Vec<Dep>,
    /// `PartOf=`.
    pub part_of: Vec<Dep>,
    /// `Upholds=`.
    pub upholds: Vec<Dep>,
    /// `Conflicts=`.
    pub conflicts: Vec<Dep>,
    /// `After=`.
    pub after: Vec<Dep>,
    /// `Before=`.
    pub before: Vec<Dep>,
    /// `OnFailure=`.
    pub on_failure: Vec<Dep>,
    /// `OnSuccess=`.
    pub on_success: Vec<Dep>,
    /// `PropagatesReloadTo=`.
    pub propagates_reload_to: Vec<Dep>,
    /// `ReloadPropagatedFrom=`.
    pub reload_propagated_from: Vec<Dep>,
    /// `StartLimitIntervalSec=` (default 10s; 0 disables rate limiting; `infinity` is `Duration::MAX`).
    pub start_limit_interval: Duration,
    /// `StartLimitBurst=` (default 5).
    pub start_limit_burst: u32,
    /// `DefaultDependencies=` (default yes).
    pub default_dependencies: bool,
    /// `SuccessAction=` unless `none`: a service may then go without `ExecStart=`.
    pub success_action: Option<String>,
    /// `OnFailureJobMode=`: how the `OnFailure=` start jobs are queued (default `replace`).
    pub on_failure_job_mode: String,
    /// `OnSuccessJobMode=` (default `replace`).
    pub on_success_job_mode: String,
    /// `[Install]`.
    pub install: InstallConfig,
    /// `[Service]`, for service units.
    pub service: Option<ServiceConfig>,
    /// Every section of every file as written, including unknown and `X-` ones.
    pub raw: RawUnit,
    /// The unit file, `None` when only drop-ins were read.
    pub fragment_path: Option<PathBuf>,
    /// The drop-ins, in the order they were applied.
    pub dropin_paths: Vec<PathBuf>,
    /// All diagnostics, errors included (a unit with errors is refused by the loader:
    /// [`crate::LoadError::BadSetting`]).
    pub warnings: Vec<Diagnostic>,
}

impl UnitConfig {
    /// Builds the configuration of `name` from parsed files. With `has_fragment`, `files[0]` is the unit file
    /// and the unit-type checks run; without, all files are drop-ins and only the settings are checked.
    /// `specs` should already carry the unit name (the unit's own name is set here if it does not).
    pub fn from_files(
        name: &UnitName,
        files: &[ParsedFile],
        has_fragment: bool,
        specs: &Specifiers,
    ) -> UnitConfig {
        let specs = if specs.unit.as_ref() == Some(name) {
            specs.clone()
        } else {
            specs.with_unit(name)
        };
        let fragment_path = if has_fragment {
            files.first().map(|f| f.path.clone())
        } else {
            None
        };
        let specs = if specs.fragment_path.is_none() {
            specs.with_fragment(fragment_path.as_deref())
        } else {
            specs
        };
        let dropin_paths: Vec<PathBuf> = files
            .iter()
            .skip(usize::from(has_fragment))
            .map(|f| f.path.clone())
            .collect();
        let mut ctx = Ctx::new(&specs, name);
        let mut raw = RawUnit::default();
        for f in files {
            ctx.diags.extend(f.diagnostics.iter().cloned());
            raw.sections.extend(f.sections.iter().cloned());
        }

        let ty = name.unit_type();
        let allowed = keys::sections_for(ty);
        let mut unit = unit::UnitBuilder::new();
        let mut svc = service::ServiceBuilder::new();
        let mut other = other::OtherBuilder::default();
        for section in &raw.sections {
            if !allowed.contains(&section.name.as_str()) {
                if !keys::is_extension(&section.name) {
                    ctx.diags.push(Diagnostic::warning(
                        &section.file,
                        section.line,
                        format!("Unknown section '{}'. Ignoring.", section.name),
                    ));
                }
                continue;
            }
            ctx.diags.extend(section.invalid.iter().cloned());
            for e in &section.entries {
                let handled = match section.name.as_str() {
                    "Unit" => unit.apply_unit(e, &mut ctx),
                    "Install" => unit.apply_install(e, &mut ctx),
                    "Service" => svc.apply(e, &mut ctx, &mut unit),
                    s => other.apply(ty, s, e, &mut ctx),
                };
                if handled || keys::is_extension(&e.key) {
                    continue;
                }
                match keys::value_kind(&section.name, &e.key) {
                    // Checked for the warning only: the value is not modelled.
                    Some(ValueKind::Bool) => {
                        let _ = ctx.bool(e);
                    }
                    Some(ValueKind::Sec) => {
                        let _ = ctx.sec(e);
                    }
                    Some(ValueKind::Unsigned) => {
                        let _ = ctx.unsigned(e);
                    }
                    None if keys::is_known_key(&section.name, &e.key) => {}
                    None => ctx.warn(
                        e,
                        format!(
                            "Unknown key '{}' in section [{}], ignoring.",
                            e.key, section.name
                        ),
                    ),
                }
            }
        }

        // Report in reading order (syntax and setting diagnostics were collected in two passes).
        let order = |d: &Diagnostic| {
            files
                .iter()
                .position(|f| f.path == d.file)
                .unwrap_or(usize::MAX)
        };
        ctx.diags.sort_by_key(|d| (order(d), d.line));

        let fragment = fragment_path
            .clone()
            .or_else(|| files.first().map(|f| f.path.clone()));
        let service = if ty == UnitType::Service {
            let (cfg, unit_line) = svc.finish(&raw, fragment.as_deref());
            if has_fragment {
                service::verify(&cfg, &unit, unit_line, &mut ctx);
            }
            Some(cfg)
        } else {
            None
        };
        if has_fragment {
            if let Some(file) = fragment.as_deref() {
                other.verify(ty, file, &raw, &mut ctx);
            }
        }
        let warnings = ctx.diags;
        unit.finish(
            name.clone(),
            service,
            raw,
            fragment_path,
            dropin_paths,
            warnings,
        )
    }

    /// Builds a unit from the text of a single unit file (no drop-ins): for tests, transient units and `cat`.
    /// `path` labels the diagnostics.
    pub fn from_text(name: &UnitName, path: &Path, text: &str, specs: &Specifiers) -> UnitConfig {
        let f = parse_bytes(path, text.as_bytes());
        UnitConfig::from_files(name, &[f], true, specs)
    }

    /// The diagnostics that make the unit unloadable.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.warnings.iter().filter(|d| d.is_error())
    }

    /// Whether systemd would refuse this unit (load state `bad-setting`).
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

#[cfg(test)]
mod tests;
