//! # unitfile — systemd unit files for Flotilla
//!
//! This crate owns everything between a unit file on disk and a validated, typed unit configuration: the
//! grammar of systemd unit files, unit names (templates, instances, escaping), `%` specifiers, the search path
//! with templates, aliases, masking and drop-ins, the typed `[Unit]`/`[Service]`/`[Install]` settings, and
//! `verify`. It does no process management: `unitd` consumes [`UnitConfig`]/[`ServiceConfig`] and runs the
//! commands (expanding environment variables with [`ExecCommand::expand`]); `unitctl verify` calls [`verify`];
//! the fleet scheduler reads `[X-Fleet]` from [`UnitConfig::raw`].
//!
//! ## Layout
//! - `diag` — [`Diagnostic`] (`FILE:LINE: message`) and [`Severity`].
//! - `lexer` — one file's bytes → [`ParsedFile`] (sections, entries, syntax diagnostics).
//! - `raw` — [`RawUnit`]/[`RawSection`]/[`RawEntry`]: the parse as written, every entry with file and line.
//! - `words` — systemd's word splitting (quotes, C escapes).
//! - `value` — booleans, time spans, sizes, percentages, modes, numbers, CPU lists.
//! - `signal` — signal and exit-status names.
//! - `name` — [`UnitName`], [`UnitType`], `systemd-escape` rules ([`escape`], [`escape_path`], [`unescape`]).
//! - `specifier` — [`Specifiers`] (host and unit values) and `%` expansion.
//! - `exec` — [`ExecCommand`]: command-line prefixes, splitting, run-time `$VAR` expansion, path lookup.
//! - `keys`/`keys_table` — the sections of each unit type and the keys systemd 252 knows.
//! - `config` — the typed configuration ([`UnitConfig`], [`ServiceConfig`], [`Resources`], …) built from the
//!   raw parse, with systemd's per-setting errors and warnings and its unit-level checks.
//! - `loader` — [`Loader`]: search path, fragment, template fallback, aliases, masking, drop-ins,
//!   `list_unit_files`, `.wants/`/`.requires/` directories.
//! - `verify` — [`verify`], like `systemd-analyze verify`, including ordering cycles among the files given.
//! - `cycle` — [`find_cycle`], used by `verify` and by unitd's job ordering.
//! - `tests/host_corpus.rs` — every unit file under /lib/systemd/system and /usr/lib/systemd/system must verify
//!   without errors; `examples/verify.rs` — `verify` as a command, for comparing with `systemd-analyze verify`
//!   (the messages and error/warning split were checked that way against systemd 252 on randomly generated
//!   units).
//!
//! ## Rules followed (systemd 252 as the reference; its messages are reused where it has one)
//! - **Syntax** (`conf-parser.c`): `[Section]` headers (name verbatim); `Key=Value` split at the first `=`,
//!   both sides trimmed; `#`/`;` comment lines, skipped even inside a continued line; a trailing unescaped `\`
//!   joins the next line with a space; a UTF-8 BOM is skipped; a bad section header refuses the unit, a line
//!   without `=` is ignored with a warning.
//! - **Accumulation**: single-valued settings take the last assignment; list settings accumulate across the
//!   fragment and drop-ins and an empty assignment resets them (so a drop-in can replace `ExecStart=`).
//! - **Unknown things are never fatal**: an unknown section ("Unknown section 'Foo'. Ignoring.") or key
//!   ("Unknown key 'Foo' in section \[Service\], ignoring.") is a warning with file and line, and stays in the
//!   raw parse; `X-` sections and keys are silent.
//! - **Errors vs warnings** follow systemd: an error is what makes systemd refuse the unit (bad command lines,
//!   unbalanced quotes, unknown specifiers in commands, `User=` names, relative `WorkingDirectory=`, a service
//!   without `ExecStart=`, several `ExecStart=` outside oneshot, …); a value systemd logs and ignores (an unknown
//!   `Restart=`, a bad time span, size or number) is a warning and the setting keeps its previous value. The one
//!   exception is `Type=` (see the deviations below).
//! - **Quoting** (`extract-word.c`): single and double quotes, C escapes, unknown escapes kept with a warning.
//! - **Specifiers** (`specifier.c`, `unit-printf.c`): the full table in commands, paths, `Environment=`,
//!   `Description=`…; the unit-name table in dependencies and `[Install]`; unknown specifiers are errors where
//!   systemd refuses (commands, `User=`, `WorkingDirectory=`), warnings elsewhere.
//! - **Unit-type checks**: `service_verify()` (missing or repeated `ExecStart=`, oneshot restrictions, D-Bus
//!   without `BusName=`, PAM kill mode), and the refusals of sockets without `Listen*=`, timers without a
//!   trigger, path units without a path, mounts/automounts/swaps whose name does not match `Where=`/`What=`.
//! - **Commands** (`config_parse_exec()`): prefixes `-`, `@`, `:`, `+`, `!`, `!!`, absolute paths or bare names looked up in a fixed
//!   `PATH` (systemd ≥ 239), `;` separating several commands; environment variables expanded at run time
//!   (`$VAR` as a whole word is split, `${VAR}` is inline), not with `:`.
//!
//! ## Why a hand-written lexer
//! Unit files look like INI but are not: line continuation replaces `\`+newline with a space and skips comment
//! lines in the middle, keys repeat and accumulate instead of overriding, an empty value resets a list (across
//! files), quoting is per setting and follows shell-like rules with C escapes, and every entry must keep its
//! file and line for diagnostics and dependency-loop reports. An INI crate (`serde_ini`, …) gets several of
//! these wrong and loses the positions, so the lexer (`lexer.rs`) is a
//! small state machine written by hand, following `config_parse()` line by line.
//!
//! ## Deviations from systemd
//! - An assignment before the first section header is an **error** (systemd warns and ignores it).
//! - An unknown `Type=` is an **error** (systemd warns and runs the unit as `simple`): guessing how a service
//!   wants to be run turns a typo in `Type=forking` into a start that hangs until its timeout.
//! - An unbalanced quote in the first word of a command line is an error (systemd 252 only warns there, by
//!   accident of its code; later words are errors in systemd too).
//! - An empty dependency assignment (`After=`) resets the list; systemd ignores it.
//! - Only the settings Flotilla acts on are typed; the other systemd 252 keys are accepted and left in the raw
//!   parse without value checks (timer calendar specs and socket addresses are not parsed).
//! - Words are `String`s: bytes from `\x`/octal escapes that are not UTF-8 become U+FFFD.
//! - `Type=idle` is `simple`; `kmsg`/`journal+console`/`syslog` outputs are `journal`.
//! - `verify`: masked units and missing executables are warnings, not failures.
//! - Values are those of the system manager (`%t` = `/run`, …); there is no user-manager mode.

mod config;
mod cycle;
mod diag;
mod exec;
mod keys;
mod keys_table;
mod lexer;
mod loader;
mod name;
mod raw;
mod signal;
mod specifier;
mod value;
mod verify;
mod words;

pub use config::{
    env_name_is_valid, Dep, ExecContext, ExitStatusSet, InstallConfig, KillMode, KillSettings,
    NotifyAccess, Resources, RestartPolicy, ServiceConfig, ServiceType, StandardOutput, UnitConfig,
    WorkingDirectory,
};
pub use cycle::find_cycle;
pub use diag::{Diagnostic, Severity};
pub use exec::{parse_exec, ExecCommand, ExecError, ExecFlags, ExecParse, DEFAULT_EXEC_PATH};
pub use keys::{is_known_key, sections_for};
pub use lexer::{parse_bytes, parse_file, ParsedFile, SyntaxError};
pub use loader::{LoadError, LoadedUnit, Loader, WantedUnit, WantsKind, SYSTEM_UNIT_PATH};
pub use name::{
    escape, escape_path, unescape, unescape_path, NameError, UnitName, UnitType, UNIT_NAME_MAX,
};
pub use raw::{RawEntry, RawSection, RawUnit};
pub use signal::{
    exit_status_from_string, signal_from_string, signal_to_string, SIGABRT, SIGHUP, SIGKILL,
    SIGTERM,
};
pub use specifier::{SpecifierError, SpecifierSet, Specifiers, UserInfo};
pub use value::{
    parse_bool, parse_permyriad, parse_permyriad_unbounded, parse_size, parse_timespan,
    parse_timespan_default_unit, TimeSpan, ValueError,
};
pub use verify::{verify, VerifyOptions, TEST_INSTANCE};
pub use words::{extract_first_word, split as split_words, Flags as WordFlags, Word, WordError};
