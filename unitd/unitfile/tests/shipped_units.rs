//! The unit files Flotilla ships (`units/` at the repository root, installed by `scripts/up.sh`) verify
//! without a single diagnostic: no errors, no warnings.

use std::path::PathBuf;

use unitfile::{verify, VerifyOptions};

#[test]
fn shipped_units_verify_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../units");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("units/ directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "service" || e == "target")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the shipped units in {}",
        dir.display()
    );
    let diagnostics = verify(&files, &VerifyOptions::default());
    assert!(
        diagnostics.is_empty(),
        "{}",
        diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
