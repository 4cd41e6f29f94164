//! One file per verb family. Each exposes its clap arguments and an async `run`; request building is split
//! from the I/O so it can be tested (and reused by `txn`, which parses `put`/`get`/`del` lines).

pub mod alarm;
pub mod compaction;
pub mod concurrency;
pub mod del;
pub mod endpoint;
pub mod get;
pub mod lease;
pub mod member;
pub mod mirror;
pub mod move_leader;
pub mod put;
pub mod snapshot;
pub mod txn;
pub mod v2;
pub mod watch;

use std::io::Write;

use crate::client::{Client, ClientConfig};
use crate::error::{ExitCode, Failure};
use crate::printer::Printer;

/// What every command gets: where to connect and how to print.
#[derive(Clone, Debug)]
pub struct Context {
    /// Endpoints and timeouts.
    pub client: ClientConfig,
    /// The `--write-out`/`--hex` printer.
    pub printer: Printer,
}

impl Context {
    /// Connects to the first endpoint that answers (exit 2 if none does).
    pub async fn connect(&self) -> Result<Client, Failure> {
        self.client.connect().await
    }
}

/// Writes to stdout and flushes, so output reaches a pipe as soon as it is printed (watch, keep-alive).
pub fn emit(bytes: &[u8]) -> Result<(), Failure> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                // The reader went away (`kvctl watch ... | head -1`): stop quietly, as a Go program killed by SIGPIPE.
                Failure::silent(ExitCode::Io)
            } else {
                Failure::new(ExitCode::Io, format!("writing output: {e}"))
            }
        })
}

/// Writes to stderr (some etcdctl messages go there).
pub fn emit_err(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = err.write_all(bytes).and_then(|()| err.flush());
}
