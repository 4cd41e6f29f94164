//! `cargo run --example verify -- FILE...`: prints the diagnostics of `unitfile::verify` for unit files, one per
//! line as `severity FILE:LINE: message`, and exits 1 when there is an error (like `systemd-analyze verify`).

use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let opts = unitfile::VerifyOptions::default();
    let diags = unitfile::verify(&paths, &opts);
    for d in &diags {
        println!("{} {d}", d.severity);
    }
    if diags.iter().any(|d| d.is_error()) {
        std::process::exit(1);
    }
}
