//! The context the setting parsers share: the specifier values, the unit's name, and the diagnostics sink,
//! plus the small parsers many settings use with systemd's exact messages.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::exec::{deprecated_specifier_message, parse_exec, path_simplify, ExecCommand};
use crate::name::UnitName;
use crate::raw::{RawEntry, RawUnit};
use crate::specifier::{SpecifierError, SpecifierSet, Specifiers};
use crate::value::{parse_bool, parse_c_unsigned32, parse_timespan, TimeSpan};

pub(crate) struct Ctx<'a> {
    pub specs: &'a Specifiers,
    pub name: &'a UnitName,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub fn new(specs: &'a Specifiers, name: &'a UnitName) -> Self {
        Ctx {
            specs,
            name,
            diags: Vec::new(),
        }
    }

    pub fn warn(&mut self, e: &RawEntry, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(&e.file, e.line, msg));
    }

    pub fn error(&mut self, e: &RawEntry, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(&e.file, e.line, msg));
    }

    /// Expands specifiers, warning about deprecated ones.
    pub fn printf(
        &mut self,
        e: &RawEntry,
        text: &str,
        set: SpecifierSet,
    ) -> Result<String, SpecifierError> {
        let mut dep = Vec::new();
        let r = self.specs.expand_noting(text, set, &mut dep);
        for c in dep {
            self.warn(e, deprecated_specifier_message(c));
        }
        r
    }

    /// Expands specifiers; on failure warns like `config_parse_unit_string_printf()` and returns `None`.
    pub fn printf_or_warn(
        &mut self,
        e: &RawEntry,
        text: &str,
        set: SpecifierSet,
    ) -> Option<String> {
        match self.printf(e, text, set) {
            Ok(s) => Some(s),
            Err(err) => {
                self.warn(
                    e,
                    format!("Failed to resolve unit specifiers in '{text}', ignoring: {err}"),
                );
                None
            }
        }
    }

    /// systemd's `path_simplify_and_warn(…, PATH_CHECK_ABSOLUTE [| PATH_CHECK_FATAL])`: the simplified path, or
    /// `None` after an error (fatal) or a warning.
    pub fn check_abs_path(&mut self, e: &RawEntry, path: &str, fatal: bool) -> Option<String> {
        let sfx = if fatal { "" } else { ", ignoring" };
        let report = |ctx: &mut Self, msg: String| {
            if fatal {
                ctx.error(e, msg);
            } else {
                ctx.warn(e, msg);
            }
        };
        if !path.starts_with('/') {
            report(
                self,
                format!("{}= path is not absolute{sfx}: {path}", e.key),
            );
            return None;
        }
        let simple = path_simplify(path);
        if simple.split('/').any(|c| c == "..") {
            report(
                self,
                format!("{}= path is not normalized{sfx}: {simple}", e.key),
            );
            return None;
        }
        if simple.len() >= 4096 {
            report(
                self,
                format!(
                    "{}= path has invalid length ({} bytes){sfx}.",
                    e.key,
                    simple.len()
                ),
            );
            return None;
        }
        Some(simple)
    }

    /// `config_parse_bool()`.
    pub fn bool(&mut self, e: &RawEntry) -> Option<bool> {
        match parse_bool(&e.value) {
            Ok(b) => Some(b),
            Err(_) => {
                self.warn(
                    e,
                    format!("Failed to parse boolean value, ignoring: {}", e.value),
                );
                None
            }
        }
    }

    /// `config_parse_sec()`.
    pub fn sec(&mut self, e: &RawEntry) -> Option<TimeSpan> {
        match parse_timespan(&e.value) {
            Ok(t) => Some(t),
            Err(_) => {
                self.warn(
                    e,
                    format!("Failed to parse sec value, ignoring: {}", e.value),
                );
                None
            }
        }
    }

    /// `config_parse_unsigned()`.
    pub fn unsigned(&mut self, e: &RawEntry) -> Option<u32> {
        match parse_c_unsigned32(&e.value) {
            Ok(v) => Some(v),
            Err(_) => {
                self.warn(
                    e,
                    format!("Failed to parse unsigned value, ignoring: {}", e.value),
                );
                None
            }
        }
    }

    /// An `Exec*=` setting: an empty value resets `list`, otherwise the commands are appended; warnings and
    /// the refusing error (if any) are reported at the entry.
    pub fn exec(&mut self, e: &RawEntry, list: &mut Vec<ExecCommand>) {
        if e.value.is_empty() {
            list.clear();
            return;
        }
        let r = parse_exec(&e.value, self.specs, &e.file, e.line);
        for w in r.warnings {
            self.warn(e, w);
        }
        if let Some(err) = r.error {
            self.error(e, err.to_string());
        }
        list.extend(r.commands);
    }

    /// An enum setting parsed by `from`: warns "`what`, ignoring: VALUE" like `DEFINE_CONFIG_PARSE_ENUM`.
    pub fn enumeration<T>(
        &mut self,
        e: &RawEntry,
        what: &str,
        from: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let r = from(&e.value);
        if r.is_none() {
            self.warn(e, format!("{what}, ignoring: {}", e.value));
        }
        r
    }
}

/// Where a unit-level message about `section` points: the first header of that section, preferably in the
/// fragment; else the fragment as a whole (line 0).
pub(crate) fn section_loc(raw: &RawUnit, section: &str, fragment: Option<&Path>) -> (PathBuf, u32) {
    let sections: Vec<_> = raw.sections.iter().filter(|s| s.name == section).collect();
    sections
        .iter()
        .find(|s| Some(s.file.as_path()) == fragment)
        .or(sections.first())
        .map(|s| (s.file.clone(), s.line))
        .or_else(|| fragment.map(|f| (f.to_path_buf(), 0)))
        .unwrap_or_default()
}
