//! The process-environment settings of systemd.exec(5) that Flotilla models: `Environment=`,
//! `EnvironmentFile=`, `WorkingDirectory=`, `User=`, `Group=`, `UMask=`, `StandardOutput=`, `StandardError=`
//! (plus `PAMName=`, needed by a service check). Shared by services, sockets, mounts and swaps.
//!
//! Errors vs warnings as in systemd 252: a bad `User=`/`Group=` or a relative `WorkingDirectory=` (without `-`)
//! refuses the unit; everything else is ignored with a warning.

use std::path::PathBuf;

use super::ctx::Ctx;
use crate::raw::RawEntry;
use crate::specifier::SpecifierSet;
use crate::value::parse_mode;
use crate::words::{extract_first_word, Flags};

/// Where the service's stdout or stderr goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandardOutput {
    /// `inherit`: for stdout, stdin's target; for stderr, the same as stdout (the default for stderr).
    Inherit,
    /// `null`.
    Null,
    /// `tty`.
    Tty,
    /// `journal` (the default for stdout); also `kmsg`, `journal+console`, `kmsg+console` and the obsolete
    /// `syslog`/`syslog+console` — Flotilla has one log sink.
    Journal,
    /// `socket`: the socket of a socket-activated service.
    Socket,
    /// `fd` / `fd:NAME`: a named file descriptor passed in (name defaults to "stdout"/"stderr").
    Fd(String),
    /// `file:PATH`: opened for writing at the start, not truncated.
    File(PathBuf),
    /// `append:PATH`.
    Append(PathBuf),
    /// `truncate:PATH`.
    Truncate(PathBuf),
}

/// `WorkingDirectory=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkingDirectory {
    /// `~`: the home directory of `User=`.
    Home {
        /// Leading `-`: a missing directory is not an error.
        missing_ok: bool,
    },
    /// An absolute path.
    Path {
        /// The directory.
        path: PathBuf,
        /// Leading `-`: a missing directory is not an error.
        missing_ok: bool,
    },
}

impl WorkingDirectory {
    /// Whether a missing directory is tolerated.
    pub fn missing_ok(&self) -> bool {
        match self {
            WorkingDirectory::Home { missing_ok } | WorkingDirectory::Path { missing_ok, .. } => {
                *missing_ok
            }
        }
    }
}

/// How a service's processes are set up (systemd.exec(5)): environment, user, directory, umask, output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecContext {
    /// `Environment=` in order, later assignments of a name replacing earlier ones.
    pub environment: Vec<(String, String)>,
    /// `EnvironmentFile=`: (path, optional); optional (`-` prefix) files may be missing.
    pub environment_files: Vec<(PathBuf, bool)>,
    /// `WorkingDirectory=`.
    pub working_directory: Option<WorkingDirectory>,
    /// `User=`.
    pub user: Option<String>,
    /// `Group=`.
    pub group: Option<String>,
    /// `UMask=` (default 0022).
    pub umask: u32,
    /// `StandardOutput=` (default journal).
    pub standard_output: StandardOutput,
    /// `StandardError=` (default inherit = same as stdout).
    pub standard_error: StandardOutput,
    /// `PAMName=`.
    pub pam_name: Option<String>,
}

impl Default for ExecContext {
    fn default() -> Self {
        ExecContext {
            environment: Vec::new(),
            environment_files: Vec::new(),
            working_directory: None,
            user: None,
            group: None,
            umask: 0o022,
            standard_output: StandardOutput::Journal,
            standard_error: StandardOutput::Inherit,
            pam_name: None,
        }
    }
}

/// `env_name_is_valid()`: `[A-Za-z_][A-Za-z0-9_]*` — for `Environment=`, and for the manager environment
/// (unitd's `SetEnvironment`, unitctl's `import-environment`).
pub fn env_name_is_valid(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `env_value_is_valid()`: no control characters other than tab and newline.
fn env_value_is_valid(v: &str) -> bool {
    !v.chars()
        .any(|c| (c.is_control() && c != '\t' && c != '\n') || c == '\x7f')
}

/// `parse_uid()`: a decimal 32-bit ID other than the reserved -1 and 65535.
fn parse_uid(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (v != u32::MAX && v != 65535).then_some(v)
}

/// `valid_user_group_name(…, VALID_USER_ALLOW_NUMERIC|VALID_USER_RELAX)`: a numeric ID, or a name without
/// control characters, `:` or `/`, without blanks at either end, not all digits, not `.` or `..`.
pub(crate) fn valid_user_group_name(u: &str) -> bool {
    if u.is_empty() {
        return false;
    }
    if parse_uid(u).is_some() {
        return true;
    }
    !(u.chars().any(|c| c.is_control())
        || u.contains(':')
        || u.contains('/')
        || u.starts_with(' ')
        || u.ends_with(' ')
        || u.bytes().all(|c| c.is_ascii_digit())
        || u == "."
        || u == ".."
        || u.len() > 255)
}

/// Sets or replaces a variable, keeping the position of the first assignment (`strv_env_replace`).
pub(crate) fn env_replace(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    match env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((name.to_string(), value.to_string())),
    }
}

impl ExecContext {
    pub(crate) fn apply(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        match e.key.as_str() {
            "Environment" => self.environment(e, ctx),
            "EnvironmentFile" => self.environment_file(e, ctx),
            "WorkingDirectory" => self.working_directory(e, ctx),
            "User" => {
                if let Some(v) = user_group(e, ctx) {
                    self.user = v;
                }
            }
            "Group" => {
                if let Some(v) = user_group(e, ctx) {
                    self.group = v;
                }
            }
            "UMask" => match parse_mode(&e.value) {
                Ok(m) => self.umask = m,
                Err(_) => ctx.warn(
                    e,
                    format!("Failed to parse mode value, ignoring: {}", e.value),
                ),
            },
            "StandardOutput" => {
                if let Some(o) = output(e, ctx) {
                    self.standard_output = o;
                }
            }
            "StandardError" => {
                if let Some(o) = output(e, ctx) {
                    self.standard_error = o;
                }
            }
            "PAMName" => {
                self.pam_name = if e.value.is_empty() {
                    None
                } else {
                    ctx.printf_or_warn(e, &e.value, SpecifierSet::Full)
                };
            }
            _ => return false,
        }
        true
    }

    /// `config_parse_environ()`: words with quotes and C escapes; each `NAME=VALUE` replaces an earlier
    /// assignment of NAME; bad words are skipped with a warning; bad quoting stops the line with a warning.
    fn environment(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.environment.clear();
            return;
        }
        let mut p = e.value.as_str();
        loop {
            let word = match extract_first_word(&mut p, Flags::UNQUOTE_CUNESCAPE) {
                Ok(Some(w)) => w.value,
                Ok(None) => return,
                Err(_) => {
                    ctx.warn(e, format!("Invalid syntax, ignoring: {}", e.value));
                    return;
                }
            };
            let resolved = match ctx.printf(e, &word, SpecifierSet::Full) {
                Ok(r) => r,
                Err(err) => {
                    ctx.warn(
                        e,
                        format!("Failed to resolve specifiers in {word}, ignoring: {err}"),
                    );
                    continue;
                }
            };
            match resolved.split_once('=') {
                Some((n, v)) if env_name_is_valid(n) && env_value_is_valid(v) => {
                    env_replace(&mut self.environment, n, v);
                }
                _ => ctx.warn(
                    e,
                    format!("Invalid environment assignment, ignoring: {resolved}"),
                ),
            }
        }
    }

    /// `config_parse_unit_env_file()`: an absolute path, optional with a leading `-`.
    fn environment_file(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.environment_files.clear();
            return;
        }
        let Some(n) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Full) else {
            return;
        };
        let (optional, path) = match n.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, n.as_str()),
        };
        if let Some(p) = ctx.check_abs_path(e, path, false) {
            self.environment_files.push((PathBuf::from(p), optional));
        }
    }

    /// `config_parse_working_directory()`.
    fn working_directory(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.working_directory = None;
            return;
        }
        let (missing_ok, v) = match e.value.strip_prefix('-') {
            Some(v) => (true, v),
            None => (false, e.value.as_str()),
        };
        if v == "~" {
            self.working_directory = Some(WorkingDirectory::Home { missing_ok });
            return;
        }
        let sfx = if missing_ok { ", ignoring" } else { "" };
        let k = match ctx.printf(e, v, SpecifierSet::Full) {
            Ok(k) => k,
            Err(err) => {
                let msg = format!(
                    "Failed to resolve unit specifiers in working directory path '{v}'{sfx}: {err}"
                );
                if missing_ok {
                    ctx.warn(e, msg);
                } else {
                    ctx.error(e, msg);
                }
                return;
            }
        };
        if let Some(p) = ctx.check_abs_path(e, &k, !missing_ok) {
            self.working_directory = Some(WorkingDirectory::Path {
                path: PathBuf::from(p),
                missing_ok,
            });
        }
    }
}

/// `config_parse_user_group_compat()`: `Some(None)` resets, `Some(Some(name))` sets, `None` keeps the old value
/// (after an error, which refuses the unit).
fn user_group(e: &RawEntry, ctx: &mut Ctx) -> Option<Option<String>> {
    if e.value.is_empty() {
        return Some(None);
    }
    let k = match ctx.printf(e, &e.value, SpecifierSet::Full) {
        Ok(k) => k,
        Err(err) => {
            ctx.error(
                e,
                format!("Failed to resolve unit specifiers in {}: {err}", e.value),
            );
            return None;
        }
    };
    if !valid_user_group_name(&k) {
        ctx.error(e, format!("Invalid user/group name or numeric ID: {k}"));
        return None;
    }
    if e.key == "User" && k == "nobody" {
        ctx.warn(e, "Special user nobody configured, this is not safe!");
    }
    Some(Some(k))
}

/// `config_parse_exec_output()` (systemd 252 only warns about every problem here).
fn output(e: &RawEntry, ctx: &mut Ctx) -> Option<StandardOutput> {
    let v = e.value.as_str();
    let path_kind = [("file:", 0u8), ("append:", 1), ("truncate:", 2)]
        .into_iter()
        .find_map(|(p, k)| v.strip_prefix(p).map(|rest| (rest, k)));
    if let Some((rest, kind)) = path_kind {
        let resolved = match ctx.printf(e, rest, SpecifierSet::Full) {
            Ok(r) => r,
            Err(err) => {
                ctx.warn(
                    e,
                    format!("Failed to resolve unit specifiers in {rest}, ignoring: {err}"),
                );
                return None;
            }
        };
        let p = PathBuf::from(ctx.check_abs_path(e, &resolved, false)?);
        return Some(match kind {
            0 => StandardOutput::File(p),
            1 => StandardOutput::Append(p),
            _ => StandardOutput::Truncate(p),
        });
    }
    if let Some(name) = v.strip_prefix("fd:") {
        let resolved = ctx.printf_or_warn(e, name, SpecifierSet::Full)?;
        let default = if e.key == "StandardError" {
            "stderr"
        } else {
            "stdout"
        };
        return Some(StandardOutput::Fd(if resolved.is_empty() {
            default.to_string()
        } else {
            resolved
        }));
    }
    Some(match v {
        "inherit" => StandardOutput::Inherit,
        "null" => StandardOutput::Null,
        "tty" => StandardOutput::Tty,
        "journal" | "kmsg" | "journal+console" | "kmsg+console" => StandardOutput::Journal,
        "syslog" | "syslog+console" => {
            let (what, to) = if v == "syslog" {
                ("syslog", "journal")
            } else {
                ("syslog+console", "journal+console")
            };
            ctx.warn(
                e,
                format!(
                    "Standard output type {what} is obsolete, automatically updating to {to}. Please update your \
                     unit file, and consider removing the setting altogether."
                ),
            );
            StandardOutput::Journal
        }
        "socket" => StandardOutput::Socket,
        "fd" => StandardOutput::Fd(
            if e.key == "StandardError" {
                "stderr"
            } else {
                "stdout"
            }
            .to_string(),
        ),
        _ => {
            ctx.warn(
                e,
                format!("Failed to parse output specifier, ignoring: {v}"),
            );
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "root", "0", "1000", "www-data", "a.b", "Ümlaut", "a b", "-x", "a%b",
        ] {
            assert!(valid_user_group_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a:b",
            "a/b",
            " a",
            "a ",
            "a\tb",
            ".",
            "..",
            "65535",
            "4294967295",
            "99999999999",
        ] {
            assert!(!valid_user_group_name(bad), "{bad}");
        }
        assert!(env_name_is_valid("A_1"));
        assert!(env_name_is_valid("_x"));
        assert!(!env_name_is_valid("1x"));
        assert!(!env_name_is_valid(""));
        assert!(!env_name_is_valid("A-B"));
        let mut env = vec![("A".to_string(), "1".to_string())];
        env_replace(&mut env, "B", "2");
        env_replace(&mut env, "A", "3");
        assert_eq!(
            env,
            vec![("A".into(), "3".into()), ("B".into(), "2".into())]
        );
    }
}
