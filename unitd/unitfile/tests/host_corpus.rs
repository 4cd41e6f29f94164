//! Every unit file shipped on this machine must verify without errors: walks /lib/systemd/system and
//! /usr/lib/systemd/system (and their subdirectories: drop-in `*.d/`, `*.wants/`) when present, skips symlinks
//! to /dev/null and files that are neither unit files nor drop-ins, and prints how many files it checked.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use unitfile::{verify, Severity, UnitName, VerifyOptions};

const ROOTS: &[&str] = &["/lib/systemd/system", "/usr/lib/systemd/system"];

fn is_checked(path: &Path) -> bool {
    if fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null")) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let in_dropin_dir = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".d"));
    (in_dropin_dir && name.ends_with(".conf")) || UnitName::is_valid(name)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, out);
        } else if is_checked(&p) {
            out.push(p);
        }
    }
}

#[test]
fn host_unit_files_verify_without_errors() {
    // /lib is often a symlink to /usr/lib: check each real directory once.
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for root in ROOTS {
        let Ok(canon) = fs::canonicalize(root) else {
            continue;
        };
        if seen.insert(canon) {
            walk(Path::new(root), &mut files);
        }
    }
    let opts = VerifyOptions::default();
    let mut errors = Vec::new();
    let mut warnings = 0;
    for f in &files {
        for d in verify(std::slice::from_ref(f), &opts) {
            match d.severity {
                Severity::Error => errors.push(d.to_string()),
                Severity::Warning => warnings += 1,
            }
        }
    }
    println!(
        "host corpus: checked {} unit files and drop-ins under {:?}: {} errors, {} warnings",
        files.len(),
        ROOTS,
        errors.len(),
        warnings
    );
    assert!(errors.is_empty(), "errors:\n{}", errors.join("\n"));
}
