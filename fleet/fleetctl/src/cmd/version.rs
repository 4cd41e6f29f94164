//! `fleetctl version` (and `fleetctl --version`/`-v`).

use crate::io::Io;

/// `fleetctl version <v>`.
pub fn line() -> String {
    format!("fleetctl version {}", env!("CARGO_PKG_VERSION"))
}

pub fn run(io: &Io) -> i32 {
    io.stdout(line());
    0
}
