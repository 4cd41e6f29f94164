//! `fleetctl verify UNIT`: the signed-units feature is gone (fleet prints this and exits 2).

use crate::cmd::SIGN_WARNING;
use crate::io::Io;

pub fn run(io: &Io) -> i32 {
    io.stderr(SIGN_WARNING);
    2
}
