//! `[Unit]` and `[Install]`: description, documentation, dependencies, start rate limit, install targets.
//!
//! Dependencies follow `config_parse_unit_deps()`: blank-separated unit names, no unquoting, backslashes kept,
//! specifiers from the name table; a template name is instantiated with this unit's instance (or, for a plain
//! unit, its prefix), like systemd's `resolve_template()`; an invalid name is ignored with a warning.
//! Deviation: an empty assignment (`After=`) resets the list accumulated so far, like every other list setting
//! here; systemd ignores it for dependencies (its docs: "dependencies cannot be reset").

use std::path::PathBuf;
use std::time::Duration;

use super::ctx::Ctx;
use super::service::ServiceConfig;
use super::{Dep, InstallConfig, UnitConfig};
use crate::diag::Diagnostic;
use crate::name::UnitName;
use crate::raw::{RawEntry, RawUnit};
use crate::specifier::SpecifierSet;
use crate::value::TimeSpan;
use crate::words::{extract_first_word, Flags};

/// The dependency settings and which list each fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Requires,
    Requisite,
    Wants,
    BindsTo,
    PartOf,
    Upholds,
    Conflicts,
    Before,
    After,
    OnFailure,
    OnSuccess,
    PropagatesReloadTo,
    ReloadPropagatedFrom,
    /// Checked but not modelled (`PropagatesStopTo=`, `StopPropagatedFrom=`, `JoinsNamespaceOf=`).
    Other,
}

fn dep_kind(key: &str) -> Option<DepKind> {
    Some(match key {
        "Requires" => DepKind::Requires,
        "Requisite" => DepKind::Requisite,
        "Wants" => DepKind::Wants,
        "BindsTo" | "BindTo" => DepKind::BindsTo,
        "PartOf" => DepKind::PartOf,
        "Upholds" => DepKind::Upholds,
        "Conflicts" => DepKind::Conflicts,
        "Before" => DepKind::Before,
        "After" => DepKind::After,
        "OnFailure" => DepKind::OnFailure,
        "OnSuccess" => DepKind::OnSuccess,
        "PropagatesReloadTo" | "PropagateReloadTo" => DepKind::PropagatesReloadTo,
        "ReloadPropagatedFrom" | "PropagateReloadFrom" => DepKind::ReloadPropagatedFrom,
        "PropagatesStopTo" | "StopPropagatedFrom" | "JoinsNamespaceOf" => DepKind::Other,
        _ => return None,
    })
}

const EMERGENCY_ACTIONS: &[&str] = &[
    "none",
    "reboot",
    "reboot-force",
    "reboot-immediate",
    "poweroff",
    "poweroff-force",
    "poweroff-immediate",
    "exit",
    "exit-force",
    "soft-reboot",
    "soft-reboot-force",
    "kexec",
    "kexec-force",
    "halt",
    "halt-force",
    "halt-immediate",
];

/// The job modes `OnFailureJobMode=`/`OnSuccessJobMode=` take (systemd's `job_mode_table`).
const JOB_MODES: &[&str] = &[
    "fail",
    "replace",
    "replace-irreversibly",
    "isolate",
    "flush",
    "ignore-dependencies",
    "ignore-requirements",
];

pub(crate) struct UnitBuilder {
    description: Option<String>,
    documentation: Vec<String>,
    deps: Vec<(DepKind, Dep)>,
    pub start_limit_interval: Duration,
    pub start_limit_burst: u32,
    default_dependencies: bool,
    pub success_action: Option<String>,
    on_failure_job_mode: String,
    on_success_job_mode: String,
    install: InstallConfig,
}

/// `documentation_url_is_valid()`.
fn documentation_url_is_valid(u: &str) -> bool {
    let rest = ["http://", "https://", "file:/", "info:", "man:"]
        .iter()
        .find_map(|p| u.strip_prefix(p));
    rest.is_some_and(|r| !r.is_empty() && r.is_ascii())
}

impl UnitBuilder {
    pub fn new() -> Self {
        UnitBuilder {
            description: None,
            documentation: Vec::new(),
            deps: Vec::new(),
            start_limit_interval: Duration::from_secs(10),
            start_limit_burst: 5,
            default_dependencies: true,
            success_action: None,
            on_failure_job_mode: "replace".to_string(),
            on_success_job_mode: "replace".to_string(),
            install: InstallConfig::default(),
        }
    }

    /// `StartLimitIntervalSec=` (also `StartLimitInterval=` in [Unit] or, historically, [Service]).
    pub fn apply_start_limit_interval(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if let Some(t) = ctx.sec(e) {
            self.start_limit_interval = match t {
                TimeSpan::Finite(d) => d,
                TimeSpan::Infinity => Duration::MAX,
            };
        }
    }

    /// `StartLimitBurst=`.
    pub fn apply_start_limit_burst(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if let Some(v) = ctx.unsigned(e) {
            self.start_limit_burst = v;
        }
    }

    /// Resolves a dependency name like systemd's `resolve_template()` and validates it.
    fn dep_target(name: &str, ctx: &Ctx) -> Option<UnitName> {
        let n = UnitName::parse(name).ok()?;
        if !n.is_template() {
            return Some(n);
        }
        let inst = ctx.name.instance().unwrap_or(ctx.name.prefix());
        n.with_instance(inst).ok()
    }

    fn parse_deps(&mut self, kind: DepKind, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.deps.retain(|(k, _)| *k != kind);
            return;
        }
        let mut p = e.value.as_str();
        let flags = Flags {
            retain_escape: true,
            ..Flags::default()
        };
        while let Ok(Some(w)) = extract_first_word(&mut p, flags) {
            let name = match ctx.printf(e, &w.value, SpecifierSet::Name) {
                Ok(n) => n,
                Err(err) => {
                    ctx.warn(
                        e,
                        format!(
                            "Failed to resolve unit specifiers in '{}', ignoring: {err}",
                            w.value
                        ),
                    );
                    continue;
                }
            };
            match Self::dep_target(&name, ctx) {
                Some(unit) => self.deps.push((
                    kind,
                    Dep {
                        unit,
                        file: e.file.clone(),
                        line: e.line,
                    },
                )),
                None => ctx.warn(
                    e,
                    format!("Failed to add dependency on {name}, ignoring: Invalid argument"),
                ),
            }
        }
    }

    /// Applies one `[Unit]` entry; false when the key is not one this builder handles.
    pub fn apply_unit(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        if let Some(kind) = dep_kind(&e.key) {
            self.parse_deps(kind, e, ctx);
            return true;
        }
        match e.key.as_str() {
            "Description" => {
                if e.value.is_empty() {
                    self.description = None;
                } else if let Some(d) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Full) {
                    self.description = Some(d);
                }
            }
            "Documentation" => self.apply_documentation(e, ctx),
            "StartLimitIntervalSec" | "StartLimitInterval" => {
                self.apply_start_limit_interval(e, ctx)
            }
            "StartLimitBurst" => self.apply_start_limit_burst(e, ctx),
            "DefaultDependencies" => {
                if let Some(b) = ctx.bool(e) {
                    self.default_dependencies = b;
                }
            }
            "SuccessAction" => {
                if e.value.is_empty() || e.value == "none" {
                    self.success_action = None;
                } else if EMERGENCY_ACTIONS.contains(&e.value.as_str()) {
                    self.success_action = Some(e.value.clone());
                } else {
                    ctx.warn(
                        e,
                        format!("Failed to parse {}=, ignoring: {}", e.key, e.value),
                    );
                }
            }
            "OnFailureJobMode" | "OnSuccessJobMode" => {
                if !JOB_MODES.contains(&e.value.as_str()) {
                    ctx.warn(e, format!("Job mode {} invalid, ignoring.", e.value));
                } else if e.key == "OnFailureJobMode" {
                    self.on_failure_job_mode = e.value.clone();
                } else {
                    self.on_success_job_mode = e.value.clone();
                }
            }
            "FailureAction" => {
                if !e.value.is_empty() && !EMERGENCY_ACTIONS.contains(&e.value.as_str()) {
                    ctx.warn(
                        e,
                        format!("Failed to parse {}=, ignoring: {}", e.key, e.value),
                    );
                }
            }
            _ => return false,
        }
        true
    }

    fn apply_documentation(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.documentation.clear();
            return;
        }
        let mut p = e.value.as_str();
        let flags = Flags {
            unquote: true,
            ..Flags::default()
        };
        let mut words = Vec::new();
        loop {
            match extract_first_word(&mut p, flags) {
                Ok(Some(w)) => words.push(w.value),
                Ok(None) => break,
                Err(_) => {
                    ctx.warn(e, format!("Invalid syntax, ignoring: {}", e.value));
                    return;
                }
            }
        }
        for w in words {
            let Some(url) = ctx.printf_or_warn(e, &w, SpecifierSet::Full) else {
                return;
            };
            if documentation_url_is_valid(&url) {
                self.documentation.push(url);
            } else {
                ctx.warn(e, format!("Invalid URL, ignoring: {url}"));
            }
        }
    }

    /// Applies one `[Install]` entry.
    pub fn apply_install(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        let list = match e.key.as_str() {
            "WantedBy" => &mut self.install.wanted_by,
            "RequiredBy" => &mut self.install.required_by,
            "Also" => &mut self.install.also,
            "Alias" => &mut self.install.alias,
            "DefaultInstance" => {
                if e.value.is_empty() {
                    self.install.default_instance = None;
                } else if let Some(v) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Name) {
                    if UnitName::parse(&format!("x@{v}.service")).is_ok_and(|n| n.is_instance()) {
                        self.install.default_instance = Some(v);
                    } else {
                        ctx.warn(e, format!("Invalid DefaultInstance= value, ignoring: {v}"));
                    }
                }
                return true;
            }
            _ => return false,
        };
        if e.value.is_empty() {
            list.clear();
            return true;
        }
        let mut p = e.value.as_str();
        let flags = Flags {
            unquote: true,
            retain_escape: true,
            ..Flags::default()
        };
        let mut names = Vec::new();
        loop {
            match extract_first_word(&mut p, flags) {
                Ok(Some(w)) => names.push(w.value),
                Ok(None) => break,
                Err(_) => {
                    ctx.warn(e, format!("Invalid syntax, ignoring: {}", e.value));
                    break;
                }
            }
        }
        for n in names {
            let Some(expanded) = ctx.printf_or_warn(e, &n, SpecifierSet::Name) else {
                continue;
            };
            match UnitName::parse(&expanded) {
                Ok(u) => list.push(u),
                Err(_) => ctx.warn(
                    e,
                    format!("Invalid unit name in {}=, ignoring: {expanded}", e.key),
                ),
            }
        }
        true
    }

    pub fn finish(
        self,
        name: UnitName,
        service: Option<ServiceConfig>,
        raw: RawUnit,
        fragment_path: Option<PathBuf>,
        dropin_paths: Vec<PathBuf>,
        warnings: Vec<Diagnostic>,
    ) -> UnitConfig {
        let pick = |kind: DepKind| -> Vec<Dep> {
            self.deps
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| d.clone())
                .collect()
        };
        UnitConfig {
            name,
            description: self.description.clone(),
            documentation: self.documentation.clone(),
            requires: pick(DepKind::Requires),
            requisite: pick(DepKind::Requisite),
            wants: pick(DepKind::Wants),
            binds_to: pick(DepKind::BindsTo),
            part_of: pick(DepKind::PartOf),
            upholds: pick(DepKind::Upholds),
            conflicts: pick(DepKind::Conflicts),
            after: pick(DepKind::After),
            before: pick(DepKind::Before),
            on_failure: pick(DepKind::OnFailure),
            on_success: pick(DepKind::OnSuccess),
            propagates_reload_to: pick(DepKind::PropagatesReloadTo),
            reload_propagated_from: pick(DepKind::ReloadPropagatedFrom),
            start_limit_interval: self.start_limit_interval,
            start_limit_burst: self.start_limit_burst,
            default_dependencies: self.default_dependencies,
            success_action: self.success_action.clone(),
            on_failure_job_mode: self.on_failure_job_mode.clone(),
            on_success_job_mode: self.on_success_job_mode.clone(),
            install: self.install.clone(),
            service,
            raw,
            fragment_path,
            dropin_paths,
            warnings,
        }
    }
}
