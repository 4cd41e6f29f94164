//! Diagnostics: one message about one place in one file.
//!
//! Every complaint the crate makes — from the lexer, a setting's parser or the unit-level checks — ends up as a
//! [`Diagnostic`]. Its severity follows systemd: [`Severity::Error`] only for what makes systemd refuse the unit
//! (load state `bad-setting`/`error`), [`Severity::Warning`] for what systemd logs and ignores ("…, ignoring").

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// systemd logs it and goes on; the setting (or line) is ignored.
    Warning,
    /// systemd refuses to load the unit.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One message about a file and line, displayed as `FILE:LINE: message` (or `FILE: message` when the message is
/// about the unit as a whole and `line` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the message is about: the fragment or the drop-in that holds the offending line.
    pub file: PathBuf,
    /// 1-based line number; for a continued line, its last physical line (as systemd counts). 0 = whole unit.
    pub line: u32,
    /// Whether the unit can still be loaded.
    pub severity: Severity,
    /// What is wrong, worded like systemd's own message where there is one.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic that makes the unit unloadable.
    pub fn error(file: &Path, line: u32, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A diagnostic that systemd would log and ignore.
    pub fn warning(file: &Path, line: u32, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_and_line() {
        let d = Diagnostic::error(Path::new("/x/a.service"), 7, "bad");
        assert_eq!(d.to_string(), "/x/a.service:7: bad");
        assert!(d.is_error());
        let w = Diagnostic::warning(Path::new("/x/a.service"), 0, "unit-wide");
        assert_eq!(w.to_string(), "/x/a.service: unit-wide");
        assert!(!w.is_error());
    }
}
