//! The sections of the unit types Flotilla does not run itself (socket, mount, swap, timer, path, slice, scope,
//! automount): their settings stay in the raw parse, but the ones that can make systemd refuse a unit are checked
//! here — command lines and exec-context settings of sockets, mounts and swaps, and the "nothing to do" checks of
//! `socket_verify()`, `timer_verify()` and `path_verify()`. Timer calendar specifications and socket addresses
//! are not parsed (a bad one is counted as present, where systemd would warn and drop it).

use std::path::Path;

use super::ctx::{section_loc, Ctx};
use super::exec_context::ExecContext;
use super::kill::KillSettings;
use super::resources::ResourcesBuilder;
use crate::diag::Diagnostic;
use crate::exec::ExecCommand;
use crate::name::{escape_path, UnitType};
use crate::raw::{RawEntry, RawUnit};
use crate::specifier::SpecifierSet;
use crate::value::parse_timespan;

/// Whether the unit's name is `path` escaped (`/dev/sda1` → `dev-sda1.swap`), as mounts, automounts and swaps
/// must be named.
fn names_path(ctx: &Ctx, path: &str) -> bool {
    escape_path(path)
        .is_ok_and(|e| format!("{e}.{}", ctx.name.unit_type().suffix()) == ctx.name.as_str())
}

#[derive(Default)]
pub(crate) struct OtherBuilder {
    exec_ctx: ExecContext,
    kill: KillSettings,
    res: ResourcesBuilder,
    socket_exec: [Vec<ExecCommand>; 4],
    /// Listen settings in effect, and how many of them cannot accept connections (`Accept=yes` refuses those).
    listen: usize,
    non_accepting: usize,
    accept: bool,
    timer_values: usize,
    timer_clock: bool,
    path_specs: usize,
    /// `Where=` of mounts and automounts (simplified absolute path).
    where_: Option<String>,
    /// `What=` of mounts and swaps.
    what: Option<String>,
}

const SOCKET_EXEC: [&str; 4] = [
    "ExecStartPre",
    "ExecStartPost",
    "ExecStopPre",
    "ExecStopPost",
];

impl OtherBuilder {
    fn context(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        self.exec_ctx.apply(e, ctx) || self.kill.apply(e, ctx) || self.res.apply(e, ctx)
    }

    pub fn apply(&mut self, _ty: UnitType, section: &str, e: &RawEntry, ctx: &mut Ctx) -> bool {
        match section {
            "Socket" => {
                if let Some(i) = SOCKET_EXEC.iter().position(|k| *k == e.key) {
                    ctx.exec(e, &mut self.socket_exec[i]);
                    return true;
                }
                if e.key.starts_with("Listen") {
                    self.listen(e, ctx);
                    return true;
                }
                if e.key == "Accept" {
                    self.accept = ctx.bool(e).unwrap_or(self.accept);
                    return true;
                }
                self.context(e, ctx)
            }
            "Mount" | "Swap" | "Automount" if matches!(e.key.as_str(), "Where" | "What") => {
                let slot = if e.key == "Where" {
                    &mut self.where_
                } else {
                    &mut self.what
                };
                *slot = if e.value.is_empty() {
                    None
                } else {
                    ctx.printf_or_warn(e, &e.value, SpecifierSet::Full)
                };
                if e.key == "Where" {
                    if let Some(w) = self.where_.take() {
                        self.where_ = ctx.check_abs_path(e, &w, false);
                    }
                }
                section != "Automount" || e.key == "Where"
            }
            "Mount" | "Swap" => self.context(e, ctx),
            "Slice" | "Scope" => self.res.apply(e, ctx) || self.kill.apply(e, ctx),
            "Timer" => self.timer(e, ctx),
            "Path" => self.path(e, ctx),
            _ => false,
        }
    }

    /// `config_parse_socket_listen()`: file-system kinds need an absolute path; addresses are not parsed.
    fn listen(&mut self, e: &RawEntry, ctx: &mut Ctx) {
        if e.value.is_empty() {
            self.listen = 0;
            self.non_accepting = 0;
            return;
        }
        let path_kind = matches!(
            e.key.as_str(),
            "ListenFIFO" | "ListenSpecial" | "ListenMessageQueue" | "ListenUSBFunction"
        );
        let Some(k) = ctx.printf_or_warn(e, &e.value, SpecifierSet::Full) else {
            return;
        };
        if path_kind && ctx.check_abs_path(e, &k, false).is_none() {
            return;
        }
        self.listen += 1;
        if !matches!(e.key.as_str(), "ListenStream" | "ListenSequentialPacket") {
            self.non_accepting += 1;
        }
    }

    fn timer(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        match e.key.as_str() {
            "OnActiveSec" | "OnBootSec" | "OnStartupSec" | "OnUnitActiveSec"
            | "OnUnitInactiveSec" | "OnCalendar" => {
                if e.value.is_empty() {
                    self.timer_values = 0;
                    return true;
                }
                let Ok(k) = ctx.printf(e, &e.value, SpecifierSet::Full) else {
                    ctx.warn(
                        e,
                        format!("Failed to resolve unit specifiers in {}, ignoring", e.value),
                    );
                    return true;
                };
                if e.key != "OnCalendar" && parse_timespan(&k).is_err() {
                    ctx.warn(e, format!("Failed to parse timer value, ignoring: {k}"));
                    return true;
                }
                self.timer_values += 1;
            }
            "OnClockChange" | "OnTimezoneChange" => {
                if ctx.bool(e) == Some(true) {
                    self.timer_clock = true;
                }
            }
            _ => return false,
        }
        true
    }

    fn path(&mut self, e: &RawEntry, ctx: &mut Ctx) -> bool {
        match e.key.as_str() {
            "PathExists" | "PathExistsGlob" | "PathChanged" | "PathModified"
            | "DirectoryNotEmpty" => {
                if e.value.is_empty() {
                    self.path_specs = 0;
                    return true;
                }
                let Ok(k) = ctx.printf(e, &e.value, SpecifierSet::Full) else {
                    ctx.warn(
                        e,
                        format!("Failed to resolve unit specifiers in {}, ignoring", e.value),
                    );
                    return true;
                };
                if ctx.check_abs_path(e, &k, false).is_some() {
                    self.path_specs += 1;
                }
                true
            }
            _ => false,
        }
    }

    /// The type checks; like `service_verify()` they only run when the settings had no error.
    pub fn verify(&self, ty: UnitType, fragment: &Path, raw: &RawUnit, ctx: &mut Ctx) {
        if ctx.diags.iter().any(Diagnostic::is_error) {
            return;
        }
        let msg = match ty {
            UnitType::Socket if self.listen == 0 => {
                "Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing."
            }
            UnitType::Socket if self.accept && self.non_accepting > 0 => {
                "Unit configured for accepting sockets, but sockets are non-accepting. Refusing."
            }
            UnitType::Timer if self.timer_values == 0 && !self.timer_clock => "Timer unit lacks value setting. Refusing.",
            UnitType::Path if self.path_specs == 0 => "Path unit lacks path setting. Refusing.",
            UnitType::Mount | UnitType::Automount if self.where_.as_deref().is_some_and(|w| !names_path(ctx, w)) => {
                "Where= setting doesn't match unit name. Refusing."
            }
            UnitType::Mount if self.what.is_none() && ctx.name.as_str() != "-.mount" => {
                "What= setting is missing. Refusing."
            }
            UnitType::Swap if self.what.as_deref().is_some_and(|w| !names_path(ctx, w)) => {
                "Value of What= and unit name do not match, not loading."
            }
            _ => return,
        };
        let section = ty.section().unwrap_or("Unit");
        let (file, line) = section_loc(raw, section, Some(fragment));
        ctx.diags.push(Diagnostic::error(&file, line, msg));
    }
}
