//! Command lines (`ExecStart=` and friends): prefixes, word splitting, specifiers at load time, and environment
//! variable expansion at run time. Follows `config_parse_exec()` in systemd's `src/core/load-fragment.c` and
//! `replace_env_argv()` in `src/basic/env-util.c`.
//!
//! - Prefixes before the path, combinable in any order: `-` (a failure exit status is ignored), `@` (the second
//!   word is `argv[0]`), `:` (no environment variable expansion), `+` (full privileges), `!` (no
//!   user/group switching by the manager), `!!` (like `!`, but only on systems without ambient capabilities).
//!   `+` excludes `!`/`!!`, as in systemd.
//! - Words are split with [`crate::words`] (`EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE`); unknown escapes are kept
//!   verbatim with a warning; unbalanced quoting refuses the unit (or, with `-`, drops the line with a warning).
//! - Specifiers are expanded in every word at load time; `$VAR`/`${VAR}` are left for [`ExecCommand::expand`].
//! - A lone `;` word separates several commands on one line, as systemd still accepts; `\;` is a literal `;`
//!   argument.
//! - The executable must be an absolute path or, since systemd 239, a bare file name that is looked up at run
//!   time in [`DEFAULT_EXEC_PATH`] ([`ExecCommand::resolve_path`]). Names with a `/` that are not absolute,
//!   special characters or a trailing `/` refuse the unit.

use std::path::{Path, PathBuf};

use crate::lexer::string_is_safe;
use crate::specifier::{SpecifierError, SpecifierSet, Specifiers};
use crate::words::{extract_first_word_and_warn, split, Extracted, Flags, Word};

/// The fixed search path for bare executable names (systemd's `DEFAULT_PATH`).
pub const DEFAULT_EXEC_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The prefixes of a command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecFlags {
    /// `-`: a failing exit status (or a missing executable) is not a failure of the unit.
    pub ignore_failure: bool,
    /// `@`: the first word after the path is `argv[0]`.
    pub separate_argv0: bool,
    /// `:`: `$VAR`/`${VAR}` are passed on literally.
    pub no_env_expand: bool,
    /// `+`: runs with full privileges, outside the sandboxing and user/group settings.
    pub full_privileges: bool,
    /// `!`: the manager does not switch user/group for this command (the process does it itself).
    pub no_setuid: bool,
    /// `!!`: like `!` but only where ambient capabilities are unavailable; elsewhere the command runs normally.
    pub ambient_magic: bool,
}

/// One command of an `Exec*=` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    /// The executable after specifier expansion and path simplification: absolute, or a bare file name to be
    /// looked up with [`ExecCommand::resolve_path`].
    pub path: String,
    /// The arguments including `argv[0]`, unquoted, unescaped and specifier-expanded; `$VAR` and `${VAR}` are
    /// still in them (see [`ExecCommand::expand`]).
    pub argv: Vec<String>,
    /// The source text of each `argv` word (quotes, escapes and prefixes included), for messages and `cat`.
    pub raw: Vec<String>,
    /// The prefixes.
    pub flags: ExecFlags,
    /// The file of the setting.
    pub file: PathBuf,
    /// The line of the setting.
    pub line: u32,
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// An opening quote without a closing one.
    #[error("Unbalanced quoting, ignoring: \"{0}\"")]
    UnbalancedQuote(String),
    /// A specifier in the executable path that does not expand.
    #[error("Failed to resolve unit specifiers in '{word}': {source}")]
    PathSpecifier {
        /// The word as written.
        word: String,
        /// Why.
        source: SpecifierError,
    },
    /// A specifier in an argument that does not expand.
    #[error("Failed to resolve unit specifiers in {word}: {source}")]
    Specifier {
        /// The word as written.
        word: String,
        /// Why.
        source: SpecifierError,
    },
    /// Only prefixes, no path.
    #[error("Empty path in command line: '{0}'")]
    EmptyPath(String),
    /// Control characters, quotes or backslashes in the executable name.
    #[error("Executable name contains special characters: {0}")]
    SpecialChars(String),
    /// The executable ends in `/`.
    #[error("Executable path specifies a directory: {0}")]
    Directory(String),
    /// `bin/foo`: neither absolute nor a bare name.
    #[error("Neither a valid executable name nor an absolute path: {0}")]
    NotAbsolute(String),
    /// `@` without the `argv[0]` word.
    #[error("Empty executable name or zeroeth argument: {0}")]
    NoArgv0(String),
}

impl ExecError {
    /// The message systemd logs when the `-` prefix turns the error into a warning: ", ignoring" goes before
    /// the first ": " (the quoting message has it already).
    pub fn ignoring_message(&self) -> String {
        let m = self.to_string();
        if matches!(self, ExecError::UnbalancedQuote(_)) {
            return m;
        }
        match m.split_once(": ") {
            Some((head, tail)) => format!("{head}, ignoring: {tail}"),
            None => format!("{m}, ignoring"),
        }
    }
}

/// What parsing one `Exec*=` value produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecParse {
    /// The commands (several when `;` separates them).
    pub commands: Vec<ExecCommand>,
    /// Problems that systemd only warns about ("Ignoring unknown escape sequences", and, for `-` commands,
    /// what would otherwise be an error).
    pub warnings: Vec<String>,
    /// The error that refuses the unit, if any (never set for `-` commands: those become warnings).
    pub error: Option<ExecError>,
}

/// systemd's `filename_is_valid()`.
fn filename_is_valid(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/') && s.len() <= 255
}

/// systemd's `path_simplify()`: drops duplicate slashes, `.` components and a trailing slash.
pub(crate) fn path_simplify(p: &str) -> String {
    let absolute = p.starts_with('/');
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Parses the prefix characters at the start of the first word (systemd's loop, including its exclusions).
fn parse_prefixes(word: &str) -> (ExecFlags, &str) {
    let mut f = ExecFlags::default();
    let mut rest = word;
    loop {
        let c = rest.chars().next();
        match c {
            Some('-') if !f.ignore_failure => f.ignore_failure = true,
            Some('@') if !f.separate_argv0 => f.separate_argv0 = true,
            Some(':') if !f.no_env_expand => f.no_env_expand = true,
            Some('+') if !(f.full_privileges || f.no_setuid || f.ambient_magic) => {
                f.full_privileges = true
            }
            Some('!') if !(f.full_privileges || f.no_setuid || f.ambient_magic) => {
                f.no_setuid = true
            }
            Some('!') if !(f.full_privileges || f.ambient_magic) => {
                f.no_setuid = false;
                f.ambient_magic = true;
            }
            _ => break,
        }
        rest = &rest[1..];
    }
    (f, rest)
}

/// Parses the value of one `Exec*=` setting (non-empty; the empty value resets the list and is handled by the
/// caller). `file`/`line` are recorded in the commands.
pub fn parse_exec(value: &str, specs: &Specifiers, file: &Path, line: u32) -> ExecParse {
    let mut out = ExecParse::default();
    let mut p = value;
    let mut deprecated = Vec::new();
    'commands: loop {
        // The first word: prefixes and path. Lone ";" words before it are skipped.
        let first = loop {
            match extract_first_word_and_warn(&mut p, Flags::UNQUOTE_CUNESCAPE) {
                Extracted::End => break 'commands,
                Extracted::Unbalanced => {
                    out.error = Some(ExecError::UnbalancedQuote(value.to_string()));
                    break 'commands;
                }
                Extracted::Word { word, relaxed } => {
                    if relaxed {
                        out.warnings.push(format!(
                            "Ignoring unknown escape sequences: \"{}\"",
                            word.value
                        ));
                    }
                    if word.value != ";" {
                        break word;
                    }
                }
            }
        };
        let (flags, path_word) = parse_prefixes(&first.value);
        let ignore = flags.ignore_failure;
        // A failure: an error, or with "-" a warning; either way the rest of the line is dropped.
        let fail = |out: &mut ExecParse, e: ExecError| {
            if ignore {
                out.warnings.push(e.ignoring_message());
            } else {
                out.error = Some(e);
            }
        };
        let path = match specs.expand_noting(path_word, SpecifierSet::Full, &mut deprecated) {
            Ok(p) => p,
            Err(source) => {
                fail(
                    &mut out,
                    ExecError::PathSpecifier {
                        word: path_word.to_string(),
                        source,
                    },
                );
                break;
            }
        };
        let check = if path.is_empty() {
            Some(ExecError::EmptyPath(value.to_string()))
        } else if !string_is_safe(&path) {
            Some(ExecError::SpecialChars(path.clone()))
        } else if path.ends_with('/') {
            Some(ExecError::Directory(path.clone()))
        } else if !path.starts_with('/') && !filename_is_valid(&path) {
            Some(ExecError::NotAbsolute(path.clone()))
        } else {
            None
        };
        if let Some(e) = check {
            fail(&mut out, e);
            break;
        }
        let mut argv = Vec::new();
        let mut raw = Vec::new();
        if !flags.separate_argv0 {
            argv.push(path.clone());
            raw.push(first.raw.clone());
        }
        let mut semicolon = false;
        loop {
            let rest = p.as_bytes();
            if rest.is_empty() {
                break;
            }
            let sep_after = |k: usize| {
                rest.get(k)
                    .is_none_or(|c| crate::lexer::WHITESPACE.contains(c))
            };
            if rest[0] == b';' && sep_after(1) {
                p = p[1..].trim_start_matches([' ', '\t', '\n', '\r']);
                semicolon = true;
                break;
            }
            if rest[0] == b'\\' && rest.get(1) == Some(&b';') && sep_after(2) {
                p = p[2..].trim_start_matches([' ', '\t', '\n', '\r']);
                argv.push(";".to_string());
                raw.push("\\;".to_string());
                continue;
            }
            let word = match extract_first_word_and_warn(&mut p, Flags::UNQUOTE_CUNESCAPE) {
                Extracted::End => break,
                Extracted::Unbalanced => {
                    fail(&mut out, ExecError::UnbalancedQuote(value.to_string()));
                    break 'commands;
                }
                Extracted::Word { word, relaxed } => {
                    if relaxed {
                        out.warnings.push(format!(
                            "Ignoring unknown escape sequences: \"{}\"",
                            word.value
                        ));
                    }
                    word
                }
            };
            match specs.expand_noting(&word.value, SpecifierSet::Full, &mut deprecated) {
                Ok(v) => {
                    argv.push(v);
                    raw.push(word.raw);
                }
                Err(source) => {
                    fail(
                        &mut out,
                        ExecError::Specifier {
                            word: word.value,
                            source,
                        },
                    );
                    break 'commands;
                }
            }
        }
        if argv.is_empty() {
            fail(&mut out, ExecError::NoArgv0(value.to_string()));
            break;
        }
        out.commands.push(ExecCommand {
            path: path_simplify(&path),
            argv,
            raw,
            flags,
            file: file.to_path_buf(),
            line,
        });
        if !semicolon {
            break;
        }
    }
    for c in deprecated {
        out.warnings.push(deprecated_specifier_message(c));
    }
    out
}

/// systemd's warning for `%c`, `%r`, `%R`.
pub(crate) fn deprecated_specifier_message(c: char) -> String {
    format!(
        "Specifier '%{c}' used in unit configuration, which is deprecated. Please update your unit file, as it \
         does not work as intended."
    )
}

impl ExecCommand {
    /// Parses one command-line value outside a unit file (for transient units and tests): the first command,
    /// or the error that systemd would refuse it for.
    pub fn parse_line(value: &str, specs: &Specifiers) -> Result<Vec<ExecCommand>, ExecError> {
        let r = parse_exec(value, specs, Path::new("-"), 0);
        match r.error {
            Some(e) => Err(e),
            None => Ok(r.commands),
        }
    }

    /// The arguments with environment variables expanded, as the service manager does right before `exec`:
    /// a word that is exactly `$NAME` is replaced by the variable's value split at blanks (with quotes in the
    /// value honoured), or dropped when unset; `${NAME}` anywhere in a word is replaced by the value as is (""
    /// when unset); `$$` is a literal `$`. With the `:` prefix nothing is expanded.
    pub fn expand(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        if self.flags.no_env_expand {
            return self.argv.clone();
        }
        let mut out = Vec::with_capacity(self.argv.len());
        for w in &self.argv {
            let b = w.as_bytes();
            if b.first() == Some(&b'$') && !matches!(b.get(1), Some(b'{') | Some(b'$')) {
                if let Some(v) = env(&w[1..]) {
                    let relax = Flags {
                        unquote: true,
                        relax: true,
                        ..Flags::default()
                    };
                    if let Ok(words) = split(&v, relax) {
                        out.extend(words.into_iter().map(|Word { value, .. }| value));
                    }
                }
                continue;
            }
            out.push(replace_env(w, env));
        }
        out
    }

    /// The executable to run: the path itself when absolute, else the first executable regular file of that
    /// name in [`DEFAULT_EXEC_PATH`].
    pub fn resolve_path(&self) -> Option<PathBuf> {
        if self.path.starts_with('/') {
            return Some(PathBuf::from(&self.path));
        }
        DEFAULT_EXEC_PATH
            .iter()
            .map(|d| Path::new(d).join(&self.path))
            .find(|p| is_executable(p))
    }

    /// The command line as written, for display (`ExecStart=` value without the setting name).
    pub fn display(&self) -> String {
        self.raw.join(" ")
    }
}

/// A regular file with an execute bit.
pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// systemd's `replace_env()` without the extended syntax: `${NAME}` → value, `$$` → `$`, anything else verbatim.
fn replace_env(w: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(w.len());
    let mut rest = w;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => {
                    let name = &inner[..end];
                    if name.contains(':') {
                        // Extended syntax (${A:-b}) is not supported here: systemd leaves it verbatim.
                        out.push_str(&rest[pos..pos + 2 + end + 1]);
                    } else if let Some(v) = env(name) {
                        out.push_str(&v);
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str(&rest[pos..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::UnitName;

    fn specs() -> Specifiers {
        Specifiers::for_tests().with_unit(&UnitName::parse("web@8080.service").unwrap())
    }

    fn parse(v: &str) -> ExecParse {
        parse_exec(v, &specs(), Path::new("/u/web@.service"), 3)
    }

    fn one(v: &str) -> ExecCommand {
        let r = parse(v);
        assert!(r.error.is_none(), "{v}: {:?}", r.error);
        assert_eq!(r.commands.len(), 1, "{v}");
        r.commands.into_iter().next().unwrap()
    }

    #[test]
    fn prefixes_table() {
        // (value, path, argv, ignore, argv0, noenv, plus, no_setuid, ambient)
        type Case<'a> = (&'a str, &'a str, &'a [&'a str], [bool; 6]);
        let cases: &[Case] = &[
            ("/bin/true", "/bin/true", &["/bin/true"], [false; 6]),
            (
                "-/bin/false",
                "/bin/false",
                &["/bin/false"],
                [true, false, false, false, false, false],
            ),
            (
                "@/bin/sh mysh -c x",
                "/bin/sh",
                &["mysh", "-c", "x"],
                [false, true, false, false, false, false],
            ),
            (
                ":/bin/echo $X",
                "/bin/echo",
                &["/bin/echo", "$X"],
                [false, false, true, false, false, false],
            ),
            (
                "+/bin/id",
                "/bin/id",
                &["/bin/id"],
                [false, false, false, true, false, false],
            ),
            (
                "!/bin/id",
                "/bin/id",
                &["/bin/id"],
                [false, false, false, false, true, false],
            ),
            (
                "!!/bin/id",
                "/bin/id",
                &["/bin/id"],
                [false, false, false, false, false, true],
            ),
            (
                "-@:/bin/sh sh",
                "/bin/sh",
                &["sh"],
                [true, true, true, false, false, false],
            ),
            (
                "@-+/bin/sh sh",
                "/bin/sh",
                &["sh"],
                [true, true, false, true, false, false],
            ),
        ];
        for (v, path, argv, f) in cases {
            let c = one(v);
            assert_eq!(c.path, *path, "{v}");
            assert_eq!(c.argv, *argv, "{v}");
            let got = [
                c.flags.ignore_failure,
                c.flags.separate_argv0,
                c.flags.no_env_expand,
                c.flags.full_privileges,
                c.flags.no_setuid,
                c.flags.ambient_magic,
            ];
            assert_eq!(got, *f, "{v}");
            assert_eq!(c.line, 3);
        }
    }

    #[test]
    fn words_specifiers_and_separators() {
        let c = one("/usr/bin/srv --port=%i \"a b\" 'c\\td' %% %H");
        assert_eq!(
            c.argv,
            vec![
                "/usr/bin/srv",
                "--port=8080",
                "a b",
                "c\td",
                "%",
                "testhost.example.com"
            ]
        );
        assert_eq!(c.raw[2], "\"a b\"");
        let r = parse("/bin/a 1 ; /bin/b 2 \\; 3");
        assert!(r.error.is_none());
        let argvs: Vec<Vec<String>> = r.commands.iter().map(|c| c.argv.clone()).collect();
        assert_eq!(
            argvs,
            vec![vec!["/bin/a", "1"], vec!["/bin/b", "2", ";", "3"]]
        );
        let c = one("//usr//bin/./x");
        assert_eq!(c.path, "/usr/bin/x");
        assert_eq!(c.argv[0], "//usr//bin/./x");
        let c = one("true arg");
        assert_eq!(c.path, "true");
        assert_eq!(c.resolve_path().map(|p| p.is_absolute()), Some(true));
    }

    #[test]
    fn errors_table() {
        let cases: &[(&str, &str)] = &[
            (
                "/bin/echo \"a b",
                "Unbalanced quoting, ignoring: \"/bin/echo \"a b\"",
            ),
            (
                "\"/bin/echo",
                "Unbalanced quoting, ignoring: \"\"/bin/echo\"",
            ),
            (
                "/bin/echo %z",
                "Failed to resolve unit specifiers in %z: unknown specifier '%z'",
            ),
            (
                "%z/bin",
                "Failed to resolve unit specifiers in '%z/bin': unknown specifier '%z'",
            ),
            ("@", "Empty path in command line: '@'"),
            (
                "@/bin/true",
                "Empty executable name or zeroeth argument: @/bin/true",
            ),
            (
                "bin/true",
                "Neither a valid executable name nor an absolute path: bin/true",
            ),
            ("/bin/", "Executable path specifies a directory: /bin/"),
        ];
        for (v, want) in cases {
            let r = parse(v);
            assert_eq!(
                r.error.as_ref().map(|e| e.to_string()).as_deref(),
                Some(*want),
                "{v}"
            );
        }
    }

    #[test]
    fn ignore_prefix_turns_errors_into_warnings() {
        let r = parse("-/bin/echo \"open");
        assert!(r.error.is_none());
        assert!(r.commands.is_empty());
        assert_eq!(
            r.warnings,
            vec!["Unbalanced quoting, ignoring: \"-/bin/echo \"open\"".to_string()]
        );
        let r = parse("-/bin/echo %z");
        assert!(r.error.is_none());
        assert_eq!(
            r.warnings,
            vec![
                "Failed to resolve unit specifiers in %z, ignoring: unknown specifier '%z'"
                    .to_string()
            ]
        );
        let r = parse("/bin/echo \\d");
        assert!(r.error.is_none());
        assert_eq!(r.commands[0].argv[1], "\\d");
        assert_eq!(
            r.warnings,
            vec!["Ignoring unknown escape sequences: \"\\d\"".to_string()]
        );
    }

    #[test]
    fn env_expansion_table() {
        let env = |k: &str| -> Option<String> {
            match k {
                "OPTS" => Some("-a  -b \"c d\"".into()),
                "PORT" => Some("80".into()),
                "EMPTY" => Some(String::new()),
                _ => None,
            }
        };
        let cases: &[(&str, &[&str])] = &[
            ("/bin/x $OPTS", &["/bin/x", "-a", "-b", "c d"]),
            ("/bin/x ${OPTS}", &["/bin/x", "-a  -b \"c d\""]),
            ("/bin/x --port=${PORT}", &["/bin/x", "--port=80"]),
            ("/bin/x --port=$PORT", &["/bin/x", "--port=$PORT"]),
            ("/bin/x $UNSET y", &["/bin/x", "y"]),
            ("/bin/x ${UNSET}y", &["/bin/x", "y"]),
            ("/bin/x $EMPTY", &["/bin/x"]),
            ("/bin/x $$PORT", &["/bin/x", "$PORT"]),
            ("/bin/x \"$PORT\"", &["/bin/x", "80"]),
            ("/bin/x ${A:-b}", &["/bin/x", "${A:-b}"]),
            ("/bin/x ${PORT", &["/bin/x", "${PORT"]),
            (":/bin/x $PORT ${PORT}", &["/bin/x", "$PORT", "${PORT}"]),
        ];
        for (v, want) in cases {
            let c = one(v);
            assert_eq!(c.expand(&env), *want, "{v}");
        }
    }
}
