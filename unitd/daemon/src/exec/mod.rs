//! Turning a unit's settings and one Exec line into a [`spawn::SpawnPlan`]: the environment (Environment=,
//! EnvironmentFile=, NOTIFY_SOCKET, MAINPID, WATCHDOG_USEC, USER/HOME), `$VAR` expansion of the command line,
//! User=/Group= lookup, WorkingDirectory=, UMask=, and StandardOutput=/StandardError=.

pub mod spawn;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use unitfile::{
    ExecCommand, Resources, ServiceConfig, ServiceType, StandardOutput, UnitConfig,
    WorkingDirectory,
};

use crate::logs::LogPipes;
use spawn::SpawnPlan;

/// systemd's default PATH for services.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("executable {0} not found")]
    NotFound(String),
    #[error("{0} contains a NUL byte")]
    Nul(String),
    #[error("user {0} does not exist")]
    NoUser(String),
    #[error("group {0} does not exist")]
    NoGroup(String),
    #[error("failed to read environment file {path}: {source}")]
    EnvFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open {path} for output: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error("log capture unavailable: {0}")]
    Logs(std::io::Error),
}

pub struct PlanInput<'a> {
    pub unit: &'a str,
    pub unit_cfg: &'a UnitConfig,
    pub service: &'a ServiceConfig,
    pub cmd: &'a ExecCommand,
    pub main_pid: Option<i32>,
    pub notify_socket: &'a Path,
    pub cgroup_procs: Vec<CString>,
    pub logs: &'a mut LogPipes,
    /// The manager environment (`set-environment`), `NAME=value` each.
    pub manager_env: &'a [String],
    /// What the service sets for this command: `INVOCATION_ID`, and `SERVICE_RESULT`… for ExecStop=, or
    /// `MONITOR_*` for the ExecStart= of an OnFailure=/OnSuccess= unit (see `Service::exec_env`).
    pub unit_env: &'a [(String, String)],
}

/// What every spawned process starts from before the manager environment and the unit's own: `PATH`, and
/// unitd's `LANG` if it has one (systemd's system manager takes LANG from the locale configuration).
pub fn base_environment() -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), DEFAULT_PATH.to_string())];
    if let Ok(lang) = std::env::var("LANG") {
        env.push(("LANG".into(), lang));
    }
    env
}

/// The journal identifier of a command: its argv[0]'s file name, as journald records SYSLOG_IDENTIFIER.
pub fn identifier(cmd: &ExecCommand) -> String {
    let first = cmd
        .argv
        .first()
        .map(String::as_str)
        .unwrap_or(cmd.path.as_str());
    first.rsplit('/').next().unwrap_or(first).to_string()
}

/// Resource settings of a unit as cgroup limits.
pub fn limits(r: &Resources) -> unitd_cgroup::Limits {
    unitd_cgroup::Limits {
        memory_max: r.memory_max,
        cpu_quota_percent: r.cpu_quota_percent,
        cpu_weight: r.cpu_weight,
        cpu_shares: r.cpu_shares,
        tasks_max: r.tasks_max,
        io_weight: r.io_weight,
        allowed_cpus: r.allowed_cpus.clone(),
    }
}

fn cstring(s: impl AsRef<[u8]>, what: &str) -> Result<CString, PlanError> {
    CString::new(s.as_ref()).map_err(|_| PlanError::Nul(what.to_string()))
}

/// Parses an EnvironmentFile= body: `KEY=VALUE` lines, `#`/`;` comments, optional quotes, `export ` prefixes.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        if let Some(stripped) = raw.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')))
        {
            value[1..value.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            value.to_string()
        };
        out.push((key.trim().to_string(), value));
    }
    out
}

fn set_env(env: &mut Vec<(String, String)>, key: &str, value: String) {
    if let Some(slot) = env.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value;
    } else {
        env.push((key.to_string(), value));
    }
}

/// Builds the plan for one command.
pub fn plan(input: PlanInput<'_>) -> Result<SpawnPlan, PlanError> {
    let PlanInput {
        unit,
        unit_cfg: _,
        service,
        cmd,
        main_pid,
        notify_socket,
        cgroup_procs,
        logs,
        manager_env,
        unit_env,
    } = input;
    let privileged = cmd.flags.full_privileges;

    // Environment, in systemd's order of precedence (later wins).
    let mut env = base_environment();
    for (k, v) in manager_env.iter().filter_map(|a| a.split_once('=')) {
        set_env(&mut env, k, v.to_string());
    }
    let user = match (&service.exec_context.user, privileged) {
        (Some(name), false) => Some(lookup_user(name)?),
        _ => None,
    };
    if let Some(u) = &user {
        set_env(&mut env, "USER", u.name.clone());
        set_env(&mut env, "LOGNAME", u.name.clone());
        set_env(&mut env, "HOME", u.dir.display().to_string());
        set_env(&mut env, "SHELL", u.shell.display().to_string());
    }
    for (k, v) in unit_env {
        set_env(&mut env, k, v.clone());
    }
    for (k, v) in &service.exec_context.environment {
        set_env(&mut env, k, v.clone());
    }
    for (path, optional) in &service.exec_context.environment_files {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for (k, v) in parse_env_file(&text) {
                    set_env(&mut env, &k, v);
                }
            }
            Err(_) if *optional => {}
            Err(e) => {
                return Err(PlanError::EnvFile {
                    path: path.display().to_string(),
                    source: e,
                })
            }
        }
    }
    if service.service_type == ServiceType::Notify
        || service.notify_access != unitfile::NotifyAccess::None
    {
        set_env(
            &mut env,
            "NOTIFY_SOCKET",
            notify_socket.display().to_string(),
        );
    }
    if let Some(pid) = main_pid {
        set_env(&mut env, "MAINPID", pid.to_string());
    }
    if let Some(wd) = service.watchdog_sec {
        set_env(&mut env, "WATCHDOG_USEC", wd.as_micros().to_string());
    }

    // The command line, with $VAR and ${VAR} expanded from that environment.
    let lookup = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let argv = cmd.expand(&lookup);
    let path = cmd
        .resolve_path()
        .ok_or_else(|| PlanError::NotFound(cmd.path.clone()))?;

    let (uid, gid, groups) = match (&user, &service.exec_context.group, privileged) {
        (_, _, true) => (None, None, Vec::new()),
        (user, group, false) => {
            let gid = match group {
                Some(g) => Some(lookup_group(g)?),
                None => user.as_ref().map(|u| u.gid.as_raw()),
            };
            let groups = match user {
                Some(u) => supplementary_groups(&u.name, u.gid.as_raw()),
                None => Vec::new(),
            };
            (user.as_ref().map(|u| u.uid.as_raw()), gid, groups)
        }
    };

    let cwd = match &service.exec_context.working_directory {
        Some(WorkingDirectory::Home { .. }) => user
            .as_ref()
            .map(|u| u.dir.clone())
            .or_else(|| Some("/root".into())),
        Some(WorkingDirectory::Path { path, missing_ok }) => {
            if *missing_ok && !path.is_dir() {
                None
            } else {
                Some(path.clone())
            }
        }
        None => None,
    }
    .unwrap_or_else(|| "/".into());

    let identifier = identifier(cmd);
    let stdout = output_fd(
        &service.exec_context.standard_output,
        unit,
        &identifier,
        logs,
    )?;
    let stderr = match &service.exec_context.standard_error {
        // StandardError=inherit: the same place as standard output.
        StandardOutput::Inherit => stdout
            .as_ref()
            .map(|f| f.try_clone())
            .transpose()
            .map_err(PlanError::Logs)?,
        other => output_fd(other, unit, &identifier, logs)?,
    };

    Ok(SpawnPlan {
        path: cstring(path.as_os_str().as_bytes(), "executable path")?,
        argv: argv
            .iter()
            .map(|a| cstring(a, "argument"))
            .collect::<Result<_, _>>()?,
        env: env
            .iter()
            .map(|(k, v)| cstring(format!("{k}={v}"), "environment"))
            .collect::<Result<_, _>>()?,
        cwd: Some(cstring(cwd.as_os_str().as_bytes(), "working directory")?),
        uid,
        gid,
        groups,
        umask: service.exec_context.umask,
        cgroup_procs,
        stdout,
        stderr,
    })
}

/// The descriptor for one StandardOutput=/StandardError= setting (None: /dev/null).
fn output_fd(
    setting: &StandardOutput,
    unit: &str,
    identifier: &str,
    logs: &mut LogPipes,
) -> Result<Option<OwnedFd>, PlanError> {
    let open = |path: &Path, append: bool, truncate: bool| -> Result<Option<OwnedFd>, PlanError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(truncate)
            .open(path)
            .map_err(|e| PlanError::Output {
                path: path.display().to_string(),
                source: e,
            })?;
        Ok(Some(OwnedFd::from(file)))
    };
    match setting {
        StandardOutput::Null => Ok(None),
        StandardOutput::File(path) => open(path, false, false),
        StandardOutput::Append(path) => open(path, true, false),
        StandardOutput::Truncate(path) => open(path, false, true),
        // journal, kmsg, syslog, inherit (for stdout: the journal)
        _ => logs
            .writer_for(unit, identifier, None)
            .map(Some)
            .map_err(PlanError::Logs),
    }
}

fn lookup_user(name: &str) -> Result<nix::unistd::User, PlanError> {
    let found = match name.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(name),
    };
    found
        .ok()
        .flatten()
        .ok_or_else(|| PlanError::NoUser(name.to_string()))
}

fn lookup_group(name: &str) -> Result<u32, PlanError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
        .ok_or_else(|| PlanError::NoGroup(name.to_string()))
}

fn supplementary_groups(user: &str, gid: u32) -> Vec<u32> {
    let Ok(name) = CString::new(user) else {
        return vec![gid];
    };
    nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
        .map(|gs| gs.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![gid])
}

/// A random 128-bit id, as systemd's invocation ID: a new one for each start of a unit.
pub fn new_invocation_id() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom into a local buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        let t = crate::now_usec().to_le_bytes();
        bytes[..8].copy_from_slice(&t);
    }
    bytes
}

/// An invocation ID as `$INVOCATION_ID` and `systemctl show` write it: 32 lowercase hex digits.
pub fn invocation_id_hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_files_parse_like_systemd() {
        let env = parse_env_file(
            "# comment\nA=1\nexport B=\"two words\"\n; other\nC='x'\nD=con\\\ntinued\n\nnoequals\n",
        );
        assert_eq!(
            env,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x".into()),
                ("D".into(), "continued".into())
            ]
        );
    }
}
