//! The unit-file lexer: bytes of one file in, [`RawSection`]s and syntax diagnostics out.
//!
//! Follows `config_parse()`/`parse_line()` of systemd's `src/shared/conf-parser.c`:
//! - a UTF-8 byte-order mark at the start of the file is skipped;
//! - lines whose first non-blank character is `#` or `;` are comments — also in the middle of a continued line,
//!   so a commented-out line inside a continuation is skipped, and a comment never continues;
//! - a line whose last character is an unescaped `\` continues on the next line: the backslash is replaced by
//!   a space and the next line appended (`\\` at the end is an escaped backslash, not a continuation);
//!   a file that ends inside a continuation still yields that last line (numbered one past the end, as systemd);
//! - each logical line is trimmed of blanks; `[Name]` opens a section (the name is not trimmed); `Key=Value`
//!   splits at the first `=` and trims both sides;
//! - diagnostics carry the number of the *last* physical line of a continued line, as systemd's do.
//!
//! Severity follows systemd (a bad section header refuses the unit; a line without `=` is ignored with a
//! warning) with one deliberate deviation: an assignment before the first section header is an error here,
//! where systemd only warns "Assignment outside of section. Ignoring." — a unit file that starts with settings
//! outside any section is a mistake worth stopping for, and no shipped unit file does it.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::raw::{RawEntry, RawSection};

/// What one file parsed into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    /// The file that was read.
    pub path: PathBuf,
    /// Its sections in file order.
    pub sections: Vec<RawSection>,
    /// Syntax problems of the file as a whole (errors and warnings), in file order; problems of lines inside a
    /// section are in that section's [`RawSection::invalid`].
    pub diagnostics: Vec<Diagnostic>,
}

impl ParsedFile {
    /// Every syntax diagnostic, file-level and per-section, in line order.
    pub fn all_diagnostics(&self) -> Vec<Diagnostic> {
        let mut v = self.diagnostics.clone();
        for s in &self.sections {
            v.extend(s.invalid.iter().cloned());
        }
        v.sort_by_key(|d| d.line);
        v
    }
}

/// Syntax errors and warnings of the lexer; their `Display` is the diagnostic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// `[Name` without the closing bracket (systemd: fatal).
    #[error("Invalid section header '{0}'")]
    InvalidSectionHeader(String),
    /// Control characters, quotes or backslashes in a section name (systemd: fatal).
    #[error("Bad characters in section header '{0}'")]
    BadSectionCharacters(String),
    /// A setting before any section header (an error here; systemd warns and ignores it).
    #[error("Assignment outside of section.")]
    OutsideSection,
    /// A line that is neither a section header nor an assignment (warning).
    #[error("Missing '=', ignoring line.")]
    MissingEquals,
    /// `=value` (warning).
    #[error("Missing key name before '=', ignoring line.")]
    MissingKey,
    /// A line that is not valid UTF-8 (warning).
    #[error("String is not UTF-8 clean, ignoring assignment: {0}")]
    NotUtf8(String),
}

impl SyntaxError {
    /// Whether systemd (or, for [`SyntaxError::OutsideSection`], Flotilla) refuses the unit over it.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SyntaxError::InvalidSectionHeader(_)
                | SyntaxError::BadSectionCharacters(_)
                | SyntaxError::OutsideSection
        )
    }

    fn at(&self, file: &Path, line: u32) -> Diagnostic {
        if self.is_fatal() {
            Diagnostic::error(file, line, self.to_string())
        } else {
            Diagnostic::warning(file, line, self.to_string())
        }
    }
}

/// The characters systemd strips around keys, values and lines (`WHITESPACE`).
pub(crate) const WHITESPACE: &[u8] = b" \t\n\r";

/// Trims systemd's whitespace from both ends.
pub(crate) fn strip(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|c| !WHITESPACE.contains(c))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !WHITESPACE.contains(c))
        .map_or(start, |p| p + 1);
    &s[start..end.max(start)]
}

/// Parses the text of one unit file or drop-in. `path` is only used to label sections, entries and diagnostics.
pub fn parse_bytes(path: &Path, data: &[u8]) -> ParsedFile {
    let mut st = State {
        file: ParsedFile {
            path: path.to_path_buf(),
            sections: Vec::new(),
            diagnostics: Vec::new(),
        },
        ignoring: false,
    };
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut continuation: Option<Vec<u8>> = None;
    let mut line_no: u32 = 0;

    let mut lines: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
    // A trailing newline does not start another line.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for raw in lines {
        line_no += 1;
        let l = raw.strip_suffix(b"\r").unwrap_or(raw);
        let first = l.iter().find(|c| !WHITESPACE.contains(c));
        if first.is_some_and(|c| *c == b'#' || *c == b';') {
            continue;
        }
        let mut logical = match continuation.take() {
            Some(mut c) => {
                c.extend_from_slice(l);
                c
            }
            None => l.to_vec(),
        };
        if ends_with_unescaped_backslash(&logical) {
            if let Some(last) = logical.last_mut() {
                *last = b' ';
            }
            continuation = Some(logical);
            continue;
        }
        st.line(&logical, line_no);
        logical.clear();
    }
    if let Some(c) = continuation {
        st.line(&c, line_no + 1);
    }
    st.file
}

/// Reads and parses a file.
pub fn parse_file(path: &Path) -> std::io::Result<ParsedFile> {
    let data = std::fs::read(path)?;
    Ok(parse_bytes(path, &data))
}

/// Scans like systemd: a backslash escapes the next character, so only an odd run at the end continues.
fn ends_with_unescaped_backslash(l: &[u8]) -> bool {
    let mut escaped = false;
    for &c in l {
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        }
    }
    escaped
}

struct State {
    file: ParsedFile,
    /// After a fatal section-header error: skip lines until the next good header instead of piling up
    /// "outside of section" errors for them.
    ignoring: bool,
}

impl State {
    fn report(&mut self, e: SyntaxError, line: u32) {
        let d = e.at(&self.file.path, line);
        self.file.diagnostics.push(d);
    }

    fn line(&mut self, l: &[u8], line: u32) {
        let l = strip(l);
        if l.is_empty() {
            return;
        }
        let Ok(l) = std::str::from_utf8(l) else {
            self.report(
                SyntaxError::NotUtf8(String::from_utf8_lossy(l).into_owned()),
                line,
            );
            return;
        };
        if let Some(rest) = l.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                self.report(SyntaxError::InvalidSectionHeader(l.to_string()), line);
                self.ignoring = true;
                return;
            };
            if !string_is_safe(name) {
                self.report(SyntaxError::BadSectionCharacters(l.to_string()), line);
                self.ignoring = true;
                return;
            }
            self.ignoring = false;
            self.file.sections.push(RawSection {
                name: name.to_string(),
                file: self.file.path.clone(),
                line,
                entries: Vec::new(),
                invalid: Vec::new(),
            });
            return;
        }
        if self.ignoring {
            return;
        }
        let Some(section) = self.file.sections.last_mut() else {
            self.report(SyntaxError::OutsideSection, line);
            return;
        };
        let Some((key, value)) = l.split_once('=') else {
            section
                .invalid
                .push(SyntaxError::MissingEquals.at(&section.file, line));
            return;
        };
        if key.is_empty() {
            section
                .invalid
                .push(SyntaxError::MissingKey.at(&section.file, line));
            return;
        }
        let trim = |s: &str| {
            s.trim_matches(|c: char| c.is_ascii() && WHITESPACE.contains(&(c as u8)))
                .to_string()
        };
        section.entries.push(RawEntry {
            key: trim(key),
            value: trim(value),
            file: section.file.clone(),
            line,
        });
    }
}

/// systemd's `string_is_safe()`: no control characters, no quotes, no backslash.
pub(crate) fn string_is_safe(s: &str) -> bool {
    !s.chars()
        .any(|c| (c as u32) < 0x20 || c == '\x7f' || c == '\\' || c == '"' || c == '\'')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;

    fn parse(text: &str) -> ParsedFile {
        parse_bytes(Path::new("/u/t.service"), text.as_bytes())
    }

    /// (section, key, value, line) of every entry.
    fn flat(p: &ParsedFile) -> Vec<(String, String, String, u32)> {
        p.sections
            .iter()
            .flat_map(|s| {
                s.entries
                    .iter()
                    .map(move |e| (s.name.clone(), e.key.clone(), e.value.clone(), e.line))
            })
            .collect()
    }

    fn msgs(p: &ParsedFile) -> Vec<String> {
        p.diagnostics.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn grammar_table() {
        // (input, expected entries as "Section|Key|Value|line")
        let cases: &[(&str, &[&str])] = &[
            ("[A]\nk=v\n", &["A|k|v|2"]),
            ("[A]\n  k  =  v w  \n", &["A|k|v w|2"]),
            ("[A]\nk=a=b\n", &["A|k|a=b|2"]),
            ("[A]\nk=\n", &["A|k||2"]),
            (
                "# c\n; c\n[A]\n  # indented comment\nk=v # not a comment\n",
                &["A|k|v # not a comment|5"],
            ),
            // continuation: backslash-newline becomes a space; reported at the last line
            ("[A]\nk=a \\\n  b\n", &["A|k|a    b|3"]),
            ("[A]\nk=a\\\nb\n", &["A|k|a b|3"]),
            // a comment inside a continuation is skipped, even one that ends in a backslash
            ("[A]\nk=a \\\n# x \\\n; y\nb\n", &["A|k|a  b|5"]),
            // an escaped backslash at the end does not continue
            ("[A]\nk=a\\\\\nj=b\n", &["A|k|a\\\\|2", "A|j|b|3"]),
            // continuation at end of file is still parsed (one past the last line, like systemd)
            ("[A]\nk=a \\", &["A|k|a|3"]),
            // CRLF line ends and a BOM
            ("\u{feff}[A]\r\nk=v\r\n", &["A|k|v|2"]),
            // section names are kept verbatim, repeated sections stay separate
            (
                "[X-Fleet]\nMachineOf=a\n[ Unit]\nx=1\n[X-Fleet]\nMachineOf=b\n",
                &[
                    "X-Fleet|MachineOf|a|2",
                    " Unit|x|1|4",
                    "X-Fleet|MachineOf|b|6",
                ],
            ),
        ];
        for (input, want) in cases {
            let p = parse(input);
            let got: Vec<String> = flat(&p)
                .into_iter()
                .map(|(s, k, v, l)| format!("{s}|{k}|{v}|{l}"))
                .collect();
            assert_eq!(&got, want, "input {input:?}");
            assert!(
                p.diagnostics.is_empty(),
                "input {input:?}: {:?}",
                p.diagnostics
            );
        }
    }

    #[test]
    fn diagnostics_table() {
        // (input, expected "line|severity|message")
        let cases: &[(&str, &str)] = &[
            ("k=v\n[A]\n", "1|error|Assignment outside of section."),
            ("\n\n  k=v\n", "3|error|Assignment outside of section."),
            ("[A]\nnoequals\n", "2|warning|Missing '=', ignoring line."),
            (
                "[A]\n=v\n",
                "2|warning|Missing key name before '=', ignoring line.",
            ),
            ("[A\nk=v\n", "1|error|Invalid section header '[A'"),
            (
                "[A\"]\nk=v\n",
                "1|error|Bad characters in section header '[A\"]'",
            ),
        ];
        for (input, want) in cases {
            let p = parse(input);
            let got: Vec<String> = p
                .all_diagnostics()
                .iter()
                .map(|d| format!("{}|{}|{}", d.line, d.severity, d.message))
                .collect();
            assert_eq!(got, vec![want.to_string()], "input {input:?}");
        }
    }

    #[test]
    fn bad_header_skips_its_lines_without_more_errors() {
        let p = parse("[A\nk=v\nj=w\n[B]\nx=1\n");
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(flat(&p).len(), 1);
    }

    #[test]
    fn invalid_utf8_line_is_a_warning_and_skipped() {
        let p = parse_bytes(Path::new("f"), b"[A]\nk=\xff\nj=1\n");
        assert_eq!(flat(&p).len(), 1);
        assert_eq!(p.diagnostics[0].severity, Severity::Warning);
        assert_eq!(p.diagnostics[0].line, 2);
    }

    #[test]
    fn diagnostics_name_the_file() {
        let p = parse("x=1\n");
        assert_eq!(
            msgs(&p),
            vec!["/u/t.service:1: Assignment outside of section.".to_string()]
        );
    }
}
