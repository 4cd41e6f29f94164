//! Where fleetctl writes: stdout and stderr, behind one handle so commands can be run against buffers in tests
//! and so concurrent waiters (one per unit) never interleave half lines.
//!
//! [`Io::stdout`] and [`Io::stderr`] are fleet's `stdout()`/`stderr()` helpers: they add a newline unless the
//! text already ends in one. [`Io::log`] is fleet's `log` package: `YYYY/MM/DD HH:MM:SS LEVEL file: msg` on
//! stderr.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// fleetctl's two output streams.
#[derive(Clone)]
pub struct Io {
    out: Sink,
    err: Sink,
    /// `--debug`: whether [`Io::debug`] lines are printed.
    debug: bool,
}

impl Io {
    /// The process's stdout and stderr.
    pub fn stdio(debug: bool) -> Io {
        Io {
            out: Arc::new(Mutex::new(Box::new(io::stdout()))),
            err: Arc::new(Mutex::new(Box::new(io::stderr()))),
            debug,
        }
    }

    /// Prints `msg` to stdout, with a newline unless it ends in one.
    pub fn stdout(&self, msg: impl AsRef<str>) {
        // A closed stdout (`fleetctl … | head`) is not worth a panic or an error of its own.
        let _ = self.write_out(with_newline(msg.as_ref()).as_bytes());
    }

    /// Prints `msg` to stderr, with a newline unless it ends in one.
    pub fn stderr(&self, msg: impl AsRef<str>) {
        let _ = write_flush(&self.err, with_newline(msg.as_ref()).as_bytes());
    }

    /// Writes raw bytes to stdout and flushes (tables, `cat`, journal streams).
    pub fn write_out(&self, bytes: &[u8]) -> io::Result<()> {
        write_flush(&self.out, bytes)
    }

    /// A log line as fleet's `log` package prints it.
    pub fn log(&self, level: &str, file: &str, msg: impl AsRef<str>) {
        let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
        self.stderr(format!("{now} {level} {file}: {}", msg.as_ref()));
    }

    /// A `DEBUG` log line, printed only with `--debug`.
    pub fn debug(&self, file: &str, msg: impl AsRef<str>) {
        if self.debug {
            self.log("DEBUG", file, msg);
        }
    }
}

/// An I/O error's reason in Go's words where they differ (`no such file or directory`).
pub fn go_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => e.to_string(),
    }
}

fn with_newline(msg: &str) -> String {
    if msg.ends_with('\n') {
        msg.to_string()
    } else {
        format!("{msg}\n")
    }
}

fn write_flush(sink: &Sink, bytes: &[u8]) -> io::Result<()> {
    let mut w = sink.lock().unwrap_or_else(PoisonError::into_inner);
    w.write_all(bytes)?;
    w.flush()
}

#[cfg(test)]
pub(crate) mod capture {
    //! An [`Io`] over in-memory buffers.

    use super::*;

    /// What a command wrote.
    #[derive(Clone, Default)]
    pub struct Captured {
        out: Arc<Mutex<Vec<u8>>>,
        err: Arc<Mutex<Vec<u8>>>,
    }

    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn new() -> (Io, Captured) {
            let c = Captured::default();
            let io = Io {
                out: Arc::new(Mutex::new(Box::new(Buf(c.out.clone())))),
                err: Arc::new(Mutex::new(Box::new(Buf(c.err.clone())))),
                debug: false,
            };
            (io, c)
        }

        pub fn out(&self) -> String {
            String::from_utf8_lossy(&self.out.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned()
        }

        pub fn err(&self) -> String {
            String::from_utf8_lossy(&self.err.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned()
        }
    }
}
