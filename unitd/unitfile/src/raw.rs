//! The raw parse: sections and `Key=Value` entries exactly as written, each with its file and line.
//!
//! This is the "what was parsed" half of the two kinds of config type: nothing here is interpreted, so sections
//! that Flotilla does not model (`[X-Fleet]`, `[Socket]` of a socket unit, …) stay available verbatim to whoever
//! reads them later — the fleet scheduler reads `[X-Fleet]` from the same unit file. A [`RawUnit`] is the
//! concatenation of the fragment and its drop-ins in the order systemd applies them.

use std::path::PathBuf;

use crate::diag::Diagnostic;

/// One `Key=Value` line (after line continuation), whitespace around key and value trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The key, case-sensitive as systemd treats it.
    pub key: String,
    /// The value, untouched: no unquoting, no specifier expansion.
    pub value: String,
    /// The file that holds the line, so diagnostics and dependency loops can point at it.
    pub file: PathBuf,
    /// The 1-based line number (for a continued line: its last physical line, as systemd reports it).
    pub line: u32,
}

/// One `[Section]` of one file and the entries under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// The name between the brackets, verbatim (systemd does not trim it).
    pub name: String,
    /// The file the section header is in.
    pub file: PathBuf,
    /// The line of the section header.
    pub line: u32,
    /// The entries in file order.
    pub entries: Vec<RawEntry>,
    /// Warnings about lines in this section that are not assignments ("Missing '='"); systemd reports them only
    /// for sections the unit type reads, so the config layer decides whether they are shown.
    pub invalid: Vec<Diagnostic>,
}

/// All sections of a unit: fragment first, then drop-ins in the order they are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawUnit {
    /// Sections in application order; a section name can appear several times (once per file, or repeated).
    pub sections: Vec<RawSection>,
}

impl RawUnit {
    /// All entries of every section called `section`, in application order.
    pub fn entries<'a>(&'a self, section: &str) -> impl Iterator<Item = &'a RawEntry> + 'a {
        let section = section.to_string();
        self.sections
            .iter()
            .filter(move |s| s.name == section)
            .flat_map(|s| s.entries.iter())
    }

    /// The values of `key` in `section`, with systemd's list semantics: each assignment appends, and an empty
    /// assignment drops what came before it (also from earlier files).
    pub fn values(&self, section: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for e in self.entries(section).filter(|e| e.key == key) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(e.value.as_str());
            }
        }
        out
    }

    /// The last value of `key` in `section` (single-valued settings: the last assignment wins).
    pub fn last(&self, section: &str, key: &str) -> Option<&RawEntry> {
        self.entries(section).filter(|e| e.key == key).last()
    }

    /// The distinct section names, in order of first appearance.
    pub fn section_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.sections {
            if !out.contains(&s.name.as_str()) {
                out.push(&s.name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &str, line: u32) -> RawEntry {
        RawEntry {
            key: key.into(),
            value: value.into(),
            file: PathBuf::from("f"),
            line,
        }
    }

    fn unit() -> RawUnit {
        let sec = |name: &str, entries| RawSection {
            name: name.into(),
            file: PathBuf::from("f"),
            line: 1,
            entries,
            invalid: Vec::new(),
        };
        RawUnit {
            sections: vec![
                sec(
                    "X-Fleet",
                    vec![
                        entry("MachineOf", "a.service", 2),
                        entry("Conflicts", "b*", 3),
                    ],
                ),
                sec("Unit", vec![entry("After", "x.service", 5)]),
                sec(
                    "X-Fleet",
                    vec![
                        entry("MachineOf", "", 7),
                        entry("MachineOf", "c.service", 8),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn values_accumulate_across_sections_and_reset_on_empty() {
        let u = unit();
        assert_eq!(u.values("X-Fleet", "MachineOf"), vec!["c.service"]);
        assert_eq!(u.values("X-Fleet", "Conflicts"), vec!["b*"]);
        assert_eq!(u.last("X-Fleet", "MachineOf").map(|e| e.line), Some(8));
        assert_eq!(u.section_names(), vec!["X-Fleet", "Unit"]);
        assert_eq!(u.entries("X-Fleet").count(), 4);
    }
}
