//! A unit file as fleet keeps it: an ordered list of options, serialised canonically and addressed by the
//! SHA-1 of that serialisation (fleet's `unit.UnitFile`, `Bytes()` and `Hash()`).
//!
//! Units travel as text (`fleetctl` reading a file, the etcd driver) or as options (fleet's HTTP API). Both are
//! turned into the same canonical text — sections in order of first appearance, `Name=Value` lines, a blank line
//! between sections — so the same unit has the same hash whichever way it came, as in fleet.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// One `Name=Value` line of a section, the shape fleet's API uses (`{"section","name","value"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitOption {
    pub section: String,
    pub name: String,
    pub value: String,
}

/// Why unit text is refused: the first fatal syntax error, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitFileError {
    #[error("line {line}: {message}")]
    Syntax { line: u32, message: String },
    #[error("unit file is empty")]
    Empty,
}

/// A unit's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    options: Vec<UnitOption>,
}

impl UnitFile {
    /// Parses unit text with systemd's grammar (the `unitfile` lexer: continuations, comments, quoting kept as
    /// written). A fatal syntax error refuses the unit; warnings (a line without `=`) are dropped as systemd
    /// drops them.
    pub fn parse(text: &str) -> Result<UnitFile, UnitFileError> {
        let parsed = unitfile::parse_bytes(Path::new("unit"), text.as_bytes());
        if let Some(d) = parsed.all_diagnostics().into_iter().find(|d| d.is_error()) {
            return Err(UnitFileError::Syntax {
                line: d.line,
                message: d.message.clone(),
            });
        }
        let options: Vec<UnitOption> = parsed
            .sections
            .iter()
            .flat_map(|s| {
                s.entries.iter().map(|e| UnitOption {
                    section: s.name.clone(),
                    name: e.key.clone(),
                    value: e.value.clone(),
                })
            })
            .collect();
        if options.is_empty() && parsed.sections.is_empty() {
            return Err(UnitFileError::Empty);
        }
        Ok(UnitFile { options })
    }

    /// A unit from options as fleet's API carries them.
    pub fn from_options(options: Vec<UnitOption>) -> UnitFile {
        UnitFile { options }
    }

    pub fn options(&self) -> &[UnitOption] {
        &self.options
    }

    /// The canonical text (go-systemd's `Serialize`): what is stored and hashed.
    pub fn to_text(&self) -> String {
        let mut order: Vec<&str> = Vec::new();
        let mut by_section: BTreeMap<&str, Vec<&UnitOption>> = BTreeMap::new();
        for o in &self.options {
            if !by_section.contains_key(o.section.as_str()) {
                order.push(&o.section);
            }
            by_section.entry(&o.section).or_default().push(o);
        }
        let mut out = String::new();
        for (i, section) in order.iter().enumerate() {
            out.push('[');
            out.push_str(section);
            out.push_str("]\n");
            for o in by_section.get(section).into_iter().flatten() {
                out.push_str(&o.name);
                out.push('=');
                out.push_str(&o.value);
                out.push('\n');
            }
            if i + 1 < order.len() {
                out.push('\n');
            }
        }
        out
    }

    /// SHA-1 of the canonical text.
    pub fn hash(&self) -> UnitHash {
        UnitHash(Sha1::digest(self.to_text().as_bytes()).into())
    }

    /// The values of `name` in `section`, in order.
    pub fn values<'a>(
        &'a self,
        section: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.options
            .iter()
            .filter(move |o| o.section == section && o.name == name)
            .map(|o| o.value.as_str())
    }

    /// `[Unit] Description=` (the first one), as fleet shows it.
    pub fn description(&self) -> Option<&str> {
        self.values("Unit", "Description").next()
    }

    /// Whether the unit has an `[Install]` section (the agent then enables it, as fleet did).
    pub fn has_install_section(&self) -> bool {
        self.options.iter().any(|o| o.section == "Install")
    }
}

/// The SHA-1 of a unit's canonical text; `Display` is 40 hex digits, [`UnitHash::short`] fleet's 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct UnitHash(pub [u8; 20]);

impl UnitHash {
    /// Parses 40 hex digits.
    pub fn parse(hex: &str) -> Option<UnitHash> {
        if hex.len() != 40 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(UnitHash(out))
    }

    /// The first 7 hex digits, as `fleetctl list-unit-files` shows them.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(7);
        s
    }
}

impl fmt::Display for UnitHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_options_give_the_same_canonical_text_and_hash() {
        let text = "# a comment\n[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\n[X-Fleet]\nConflicts=web@*.service\n";
        let parsed = UnitFile::parse(text).expect("valid");
        assert_eq!(
            parsed.to_text(),
            "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sh -c    'echo hi'\n\n[X-Fleet]\nConflicts=web@*.service\n"
        );
        let from_opts = UnitFile::from_options(parsed.options().to_vec());
        assert_eq!(from_opts.hash(), parsed.hash());
        assert_eq!(
            UnitFile::parse(&parsed.to_text()).expect("canonical parses"),
            parsed
        );
        assert_eq!(parsed.description(), Some("Hello"));
        assert!(!parsed.has_install_section());
    }

    #[test]
    fn hash_is_sha1_of_the_canonical_text_and_round_trips() {
        let u = UnitFile::parse("[Unit]\nDescription=x\n").expect("valid");
        // `printf '[Unit]\nDescription=x\n' | sha1sum`
        let h = u.hash();
        assert_eq!(h.to_string(), "9fcce57bebda098e6fb9d87b2543194856511ef2");
        assert_eq!(UnitHash::parse(&h.to_string()), Some(h));
        assert_eq!(h.short(), h.to_string()[..7]);
        assert_eq!(UnitHash::parse("xyz"), None);
        let other = UnitFile::parse("[Unit]\nDescription=y\n").expect("valid");
        assert_ne!(other.hash(), h);
    }

    #[test]
    fn sections_merge_in_order_of_first_appearance() {
        let u = UnitFile::parse("[Unit]\nA=1\n[Service]\nB=2\n[Unit]\nC=3\n").expect("valid");
        assert_eq!(u.to_text(), "[Unit]\nA=1\nC=3\n\n[Service]\nB=2\n");
    }

    #[test]
    fn bad_text_names_the_line() {
        let err =
            UnitFile::parse("[Unit]\nDescription=x\n[Service\nExecStart=/bin/true\n").unwrap_err();
        assert_eq!(err.to_string(), "line 3: Invalid section header '[Service'");
        assert_eq!(UnitFile::parse("\n# nothing\n"), Err(UnitFileError::Empty));
    }
}
