//! What every verb gets: the global flags, the (lazily made) connection to unitd, and stdout/stderr.
//!
//! The connection is made on first use so that offline verbs (`verify`, `journal -D`) never look for unitd.

use std::io::Write;

use tokio::sync::OnceCell;
use unitd_client::proxies::{self, ManagerProxy};
use unitd_client::{ClientError, Connection, JobMode};

use crate::error::{code, exit_code_for_remote, Failure};
use crate::render::Zone;

/// The global options (systemctl takes all of its options before or after the verb).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--address`: where unitd is (see unitd-client's discovery rule).
    pub address: Option<String>,
    /// `--no-block`: enqueue jobs without waiting for them.
    pub no_block: bool,
    /// `-q`: fewer messages.
    pub quiet: bool,
    /// `--no-legend`: tables without header and footer.
    pub no_legend: bool,
    /// `--job-mode`.
    pub job_mode: JobMode,
    /// `-a`: show all units/properties, also inactive or empty ones.
    pub all: bool,
    /// `--state`: list only units (or unit files) in these states.
    pub states: Vec<String>,
    /// `-t`: list only units of these types.
    pub types: Vec<String>,
    /// `-p`: show only these properties.
    pub properties: Vec<String>,
    /// `--value`: show values only.
    pub value: bool,
    /// `-n`: journal lines (status: 10 by default).
    pub lines: Option<usize>,
    /// `-o`: journal output mode.
    pub output: Option<String>,
    /// `-s`: the signal for `kill`.
    pub signal: Option<String>,
    /// `--kill-whom`: `main`, `control` or `all`.
    pub kill_whom: Option<String>,
    /// `--now`: enable/disable also start/stop.
    pub now: bool,
    /// `--no-reload`: enable/disable don't daemon-reload.
    pub no_reload: bool,
    /// `--runtime`: enable only until the next reboot.
    pub runtime: bool,
    /// `--force`: enable overwrites conflicting symlinks.
    pub force: bool,
    /// `--reverse`/`--after`/`--before`: which edges list-dependencies follows.
    pub dependency: crate::cmd::list_dependencies::Direction,
    /// `--plain`: list-dependencies prints a flat list.
    pub plain: bool,
}

/// Options plus the connection.
pub struct Context {
    /// The global options.
    pub opts: Options,
    /// The zone timestamps are shown in (the local one; tests use UTC).
    pub zone: Zone,
    /// The connection, made on first use.
    conn: OnceCell<Connection>,
}

impl Context {
    /// A context that connects on first use.
    pub fn new(opts: Options) -> Context {
        Context {
            opts,
            zone: Zone::Local,
            conn: OnceCell::new(),
        }
    }

    /// The connection to unitd (exit 1 with `Failed to connect to unitd: …` if there is none).
    pub async fn conn(&self) -> Result<&Connection, Failure> {
        self.conn
            .get_or_try_init(|| unitd_client::connect(self.opts.address.as_deref()))
            .await
            .map_err(|e| Failure::error(format!("Failed to connect to unitd: {e}")))
    }

    /// The manager proxy.
    pub async fn manager(&self) -> Result<ManagerProxy<'static>, Failure> {
        let conn = self.conn().await?;
        proxies::manager(conn)
            .await
            .map_err(|e| bus_failure("Failed to create the manager proxy", &e.into()))
    }
}

/// `context: message` with the exit code systemctl gives the D-Bus error (or 1).
pub fn bus_failure(context: &str, err: &ClientError) -> Failure {
    let code = err
        .remote()
        .map(|r| exit_code_for_remote(&r))
        .unwrap_or(code::FAILURE);
    Failure::new(code, format!("{context}: {err}"))
}

/// Writes to stdout and flushes; a closed pipe ends the program quietly.
pub fn emit(text: &str) -> Result<(), Failure> {
    if text.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure::silent(code::FAILURE)
            } else {
                Failure::error(format!("Failed to write output: {e}"))
            }
        })
}

/// Writes to stderr (systemctl's log messages go there).
pub fn emit_err(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}
