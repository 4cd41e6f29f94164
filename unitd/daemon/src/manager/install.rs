//! `[Install]` handling, as systemctl enable/disable: links in `TARGET.wants/` and `TARGET.requires/` directories
//! of the configuration directory (or of the runtime unit directory for `--runtime`), `Alias=` links, `Also=`,
//! and the unit-file states listed by ListUnitFiles (enabled, enabled-runtime, disabled, static, masked); and
//! masking, as systemctl mask/unmask: a link from the unit's name to `/dev/null` in the configuration directory
//! (the runtime one for `--runtime`), which the loader then reports as masked.

use std::path::{Path, PathBuf};

use super::{load, InstallChange, ManagerConfig, ManagerError, UnitFileRow};

/// Every unit file on the search path with its state.
pub fn list_unit_files(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    cfg: &ManagerConfig,
) -> Vec<UnitFileRow> {
    loader
        .list_unit_files()
        .into_iter()
        .map(|(name, path)| {
            let state = file_state(specs, cfg, name.as_str(), &path);
            (path.display().to_string(), state)
        })
        .collect()
}

/// GetUnitFileState.
pub fn unit_file_state(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    cfg: &ManagerConfig,
    name: &str,
) -> Result<String, ManagerError> {
    let path = fragment(loader, name).ok_or_else(|| ManagerError::NoSuchUnit(name.to_string()))?;
    Ok(file_state(specs, cfg, name, &path))
}

fn fragment(loader: &unitfile::Loader, name: &str) -> Option<PathBuf> {
    let files = loader.list_unit_files();
    let template = unitfile::UnitName::parse(name)
        .ok()
        .and_then(|n| n.template_name())
        .map(|t| t.to_string());
    files
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .or_else(|| template.and_then(|t| files.iter().find(|(n, _)| n.as_str() == t)))
        .map(|(_, p)| p.clone())
}

fn file_state(
    specs: &unitfile::Specifiers,
    cfg: &ManagerConfig,
    name: &str,
    path: &Path,
) -> String {
    if std::fs::read_link(path).is_ok_and(|t| t == Path::new(DEV_NULL)) {
        return "masked".into();
    }
    let links = install_links(cfg, name);
    if links.iter().any(|l| !l.starts_with(&cfg.runtime_unit_dir)) {
        return "enabled".into();
    }
    if !links.is_empty() {
        return "enabled-runtime".into();
    }
    match load::install_of(path, specs) {
        Some(install)
            if install.wanted_by.is_empty()
                && install.required_by.is_empty()
                && install.alias.is_empty() =>
        {
            if install.also.is_empty() {
                "static".into()
            } else {
                "indirect".into()
            }
        }
        Some(_) => "disabled".into(),
        None => "static".into(),
    }
}

/// Links named `name` in any `*.wants/` or `*.requires/` directory of the search path.
fn install_links(cfg: &ManagerConfig, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in &cfg.unit_path {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let sub = entry.file_name();
            let sub = sub.to_string_lossy();
            if sub.ends_with(".wants") || sub.ends_with(".requires") {
                let link = entry.path().join(name);
                if link.symlink_metadata().is_ok() {
                    found.push(link);
                }
            }
        }
    }
    found
}

/// EnableUnitFiles: returns (carries install info, changes).
pub fn enable(
    loader: &unitfile::Loader,
    specifiers: &unitfile::Specifiers,
    cfg: &ManagerConfig,
    files: &[String],
    runtime: bool,
    force: bool,
) -> Result<(bool, Vec<InstallChange>), ManagerError> {
    let base = links_dir(cfg, runtime);
    let mut changes = Vec::new();
    let mut carries = false;
    let mut queue: Vec<String> = files
        .iter()
        .map(|f| load::normalize(file_name(f)))
        .collect();
    let mut seen = Vec::new();
    while let Some(name) = queue.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let target_path =
            fragment(loader, &name).ok_or_else(|| ManagerError::NoSuchUnit(name.clone()))?;
        if file_state(specifiers, cfg, &name, &target_path) == "masked" {
            return Err(ManagerError::Masked(name));
        }
        let config = load::load_config(loader, specifiers, &name)
            .map_err(|(_, _, msg)| ManagerError::LoadFailed(name.clone(), msg))?;
        let install = &config.install;
        carries |= !(install.wanted_by.is_empty()
            && install.required_by.is_empty()
            && install.alias.is_empty());
        let mut links: Vec<PathBuf> = Vec::new();
        for target in &install.wanted_by {
            links.push(base.join(format!("{target}.wants")).join(&name));
        }
        for target in &install.required_by {
            links.push(base.join(format!("{target}.requires")).join(&name));
        }
        for alias in &install.alias {
            links.push(base.join(alias.as_str()));
        }
        for link in links {
            if let Ok(existing) = std::fs::read_link(&link) {
                if existing == target_path {
                    continue;
                }
                if !force {
                    return Err(ManagerError::Failed(format!(
                        "Failed to enable unit: File {} already exists and is a symlink to {}.",
                        link.display(),
                        existing.display()
                    )));
                }
                let _ = std::fs::remove_file(&link);
            }
            changes.push(linked(&target_path, &link)?);
        }
        queue.extend(install.also.iter().map(|n| n.to_string()));
    }
    Ok((carries, changes))
}

/// DisableUnitFiles: removes every install link of the units (and their Also= units).
pub fn disable(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    cfg: &ManagerConfig,
    files: &[String],
    runtime: bool,
) -> Result<Vec<InstallChange>, ManagerError> {
    let base = links_dir(cfg, runtime);
    let mut changes = Vec::new();
    for file in files {
        let name = load::normalize(file_name(file));
        if fragment(loader, &name).is_none() && install_links(cfg, &name).is_empty() {
            return Err(ManagerError::NoSuchUnit(name));
        }
        let mut names = vec![name.clone()];
        if let Some(path) = fragment(loader, &name) {
            if let Some(install) = load::install_of(&path, specs) {
                names.extend(install.also.iter().map(|n| n.to_string()));
                for alias in &install.alias {
                    let link = base.join(alias.as_str());
                    if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink())
                        && std::fs::remove_file(&link).is_ok()
                    {
                        changes.push(unlinked(&link));
                    }
                }
            }
        }
        for n in names {
            for link in install_links(cfg, &n) {
                if link.starts_with(base) && std::fs::remove_file(&link).is_ok() {
                    changes.push(unlinked(&link));
                }
            }
        }
    }
    Ok(changes)
}

/// ReenableUnitFiles: [`disable`] then [`enable`], as systemd's `unit_file_reenable` — the links now follow the
/// unit's current `[Install]` section. The changes are disable's removals, then enable's links.
pub fn reenable(
    loader: &unitfile::Loader,
    specs: &unitfile::Specifiers,
    cfg: &ManagerConfig,
    files: &[String],
    runtime: bool,
    force: bool,
) -> Result<(bool, Vec<InstallChange>), ManagerError> {
    let mut changes = disable(loader, specs, cfg, files, runtime)?;
    let (carries, made) = enable(loader, specs, cfg, files, runtime, force)?;
    changes.extend(made);
    Ok((carries, changes))
}

/// What a masking link points at (the loader and `file_state` read it as masked).
const DEV_NULL: &str = "/dev/null";

/// MaskUnitFiles: links each unit's name to `/dev/null` in the configuration directory (the runtime unit
/// directory with `runtime`). As systemd: a unit already masked there is no change; a file there that is not a
/// link (the unit's own file) is refused, and so is a link elsewhere unless `force`.
pub fn mask(
    cfg: &ManagerConfig,
    files: &[String],
    runtime: bool,
    force: bool,
) -> Result<Vec<InstallChange>, ManagerError> {
    let base = links_dir(cfg, runtime);
    let mut changes = Vec::new();
    for file in files {
        let name = load::normalize(file_name(file));
        if unitfile::UnitName::parse(&name).is_err() {
            return Err(ManagerError::Failed(format!(
                "Failed to mask unit: Unit name {name} is not valid."
            )));
        }
        let link = base.join(&name);
        match std::fs::read_link(&link) {
            Ok(target) if target == Path::new(DEV_NULL) => continue,
            Ok(target) if !force => {
                return Err(ManagerError::Failed(format!(
                    "Failed to mask unit: File {} already exists and is a symlink to {}.",
                    link.display(),
                    target.display()
                )))
            }
            Ok(_) => changes.push(removed(&link)?),
            Err(_) if link.symlink_metadata().is_ok() => {
                return Err(ManagerError::Failed(format!(
                    "Failed to mask unit: File {} already exists.",
                    link.display()
                )))
            }
            Err(_) => {}
        }
        changes.push(linked(Path::new(DEV_NULL), &link)?);
    }
    Ok(changes)
}

/// UnmaskUnitFiles: removes the units' `/dev/null` links from the configuration directory (the runtime unit
/// directory with `runtime`); a unit not masked there is no change.
pub fn unmask(
    cfg: &ManagerConfig,
    files: &[String],
    runtime: bool,
) -> Result<Vec<InstallChange>, ManagerError> {
    let base = links_dir(cfg, runtime);
    let mut changes = Vec::new();
    for file in files {
        let link = base.join(load::normalize(file_name(file)));
        if std::fs::read_link(&link).is_ok_and(|t| t == Path::new(DEV_NULL)) {
            changes.push(removed(&link)?);
        }
    }
    Ok(changes)
}

/// Where links go: the configuration directory, or the runtime unit directory for `--runtime`.
fn links_dir(cfg: &ManagerConfig, runtime: bool) -> &Path {
    if runtime {
        &cfg.runtime_unit_dir
    } else {
        &cfg.config_dir
    }
}

/// Makes `link` point at `target` (creating its directory): the change to report.
fn linked(target: &Path, link: &Path) -> Result<InstallChange, ManagerError> {
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            ManagerError::Failed(format!("Failed to create {}: {e}", parent.display()))
        })?;
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| {
        ManagerError::Failed(format!("Failed to create symlink {}: {e}", link.display()))
    })?;
    Ok((
        "symlink".to_string(),
        link.display().to_string(),
        target.display().to_string(),
    ))
}

/// Removes `link`: the change to report.
fn removed(link: &Path) -> Result<InstallChange, ManagerError> {
    std::fs::remove_file(link)
        .map_err(|e| ManagerError::Failed(format!("Failed to remove {}: {e}", link.display())))?;
    Ok(unlinked(link))
}

/// The change reported for a removed link.
fn unlinked(link: &Path) -> InstallChange {
    (
        "unlink".to_string(),
        link.display().to_string(),
        String::new(),
    )
}

fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}
