//! Where the journal keeps things on disk.
//!
//! Owns the directory layout and nothing else:
//!
//! ```text
//! <journal dir>/
//!   hello.service/
//!     00000000000000000007.jsonl   oldest kept file
//!     00000000000000000008.jsonl
//!     00000000000000000009.jsonl   the active file: the highest number, the only one written to
//!   other.service/…
//! ```
//!
//! Files are never renamed: rotation starts the next number and deletes the lowest ones. That keeps a
//! reader's position `(file number, byte offset)` meaningful across rotation, which is what lets the
//! follower neither lose nor repeat records.

use std::io;
use std::path::Path;

/// The name of journal file number `seq`; zero-padded so names sort like numbers.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:020}.jsonl")
}

/// The number of a journal file name, `None` for anything else in the directory.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".jsonl")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The journal file numbers in a unit directory, ascending; empty if the directory doesn't exist.
pub(crate) fn list_files(unit_dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    let entries = match std::fs::read_dir(unit_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(seqs),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_file_name) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// The units that have a directory in the journal, sorted; empty if the journal doesn't exist yet.
pub(crate) fn list_units(dir: &Path) -> io::Result<Vec<String>> {
    let mut units = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(units),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            if is_valid_unit_name(name) {
                units.push(name.to_string());
            }
        }
    }
    units.sort_unstable();
    Ok(units)
}

/// Whether `unit` can be used as a directory name as it is: non-empty, at most 255 bytes, no `/`, no NUL,
/// no control characters, and not starting with a dot (so `.`/`..`/hidden names are out).
pub fn is_valid_unit_name(unit: &str) -> bool {
    !unit.is_empty()
        && unit.len() <= 255
        && !unit.starts_with('.')
        && !unit.chars().any(|c| c == '/' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_sort() {
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert!(file_name(9) < file_name(10));
        for bad in ["x.jsonl", ".jsonl", "12.json", "12.jsonl.tmp", "-1.jsonl"] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn unit_names() {
        for ok in ["hello.service", "getty@tty1.service", "a-b_c.timer"] {
            assert!(is_valid_unit_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a\0b", "a\nb"] {
            assert!(!is_valid_unit_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn listing_a_missing_dir_is_empty() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        assert!(list_files(&tmp.path().join("nope"))?.is_empty());
        assert!(list_units(&tmp.path().join("nope"))?.is_empty());
        Ok(())
    }
}
