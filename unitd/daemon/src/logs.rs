//! Capture of service output into the journal.
//!
//! Each unit's stdout/stderr is a FIFO at `RUNTIME_DIR/fifo/UNIT`, and the service gets it opened *read-write*.
//! That choice is what lets services outlive a unitd crash: with a plain pipe, the death of unitd (the only reader)
//! would turn the service's next write into SIGPIPE. With an O_RDWR FIFO there is always a reader (the service
//! itself), so writes only block once the 64 KiB pipe buffer is full — and the restarted unitd opens the same FIFO
//! by name and drains what was written meanwhile. unitd also holds its end O_RDWR, so it never sees EOF between a
//! unit's processes; the reader task ends when the unit goes inactive and the FIFO is drained.
//!
//! Lines become [`Record`]s for one journal writer thread, which owns the [`JournalWriter`] and its files.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};
use unitd_journal::{JournalWriter, Limits, LineSplitter, Record, Stream};

/// The sending side of the journal writer thread.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Record>,
}

impl Journal {
    /// Starts the writer thread over `dir`.
    pub fn start(dir: &Path, limits: Limits) -> Result<Journal, unitd_journal::WriteError> {
        let mut writer = JournalWriter::open(dir, limits)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                while let Some(record) = rx.blocking_recv() {
                    if let Err(e) = writer.append(&record) {
                        tracing::warn!(unit = %record.unit, error = %e, "journal write failed");
                    }
                }
            })
            .map_err(|e| unitd_journal::WriteError::Io {
                op: "spawn the journal thread for",
                path: dir.to_path_buf(),
                source: e,
            })?;
        Ok(Journal { tx })
    }

    pub fn send(&self, record: Record) {
        let _ = self.tx.send(record);
    }

    /// A message of unitd's own about `unit` ("Started …", "Failed with result …").
    pub fn manager(&self, unit: &str, priority: u8, message: &str) {
        self.send(Record::manager(unit, priority, message));
    }
}

/// Who is writing into a unit's FIFO: the identifier and pid its lines are recorded with.
#[derive(Debug, Clone, Default)]
struct Identity {
    identifier: String,
    pid: Option<u32>,
}

struct Pipe {
    identity: Arc<Mutex<Identity>>,
    stop: Option<oneshot::Sender<()>>,
}

/// The FIFOs of all units and their reader tasks.
pub struct LogPipes {
    dir: PathBuf,
    journal: Journal,
    pipes: HashMap<String, Pipe>,
}

impl LogPipes {
    pub fn new(dir: PathBuf, journal: Journal) -> std::io::Result<LogPipes> {
        std::fs::create_dir_all(&dir)?;
        Ok(LogPipes {
            dir,
            journal,
            pipes: HashMap::new(),
        })
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn fifo_path(&self, unit: &str) -> PathBuf {
        self.dir.join(unit)
    }

    /// A new read-write descriptor of `unit`'s FIFO for a child's stdout/stderr; starts the reader if needed.
    pub fn writer_for(
        &mut self,
        unit: &str,
        identifier: &str,
        pid: Option<u32>,
    ) -> std::io::Result<OwnedFd> {
        let path = self.fifo_path(unit);
        if !self.pipes.contains_key(unit) {
            let reader = open_fifo(&path)?;
            let identity = Arc::new(Mutex::new(Identity::default()));
            let (stop_tx, stop_rx) = oneshot::channel();
            let task_identity = identity.clone();
            let journal = self.journal.clone();
            let unit_name = unit.to_string();
            tokio::spawn(async move {
                if let Err(e) =
                    read_fifo(reader, unit_name.clone(), task_identity, journal, stop_rx).await
                {
                    tracing::warn!(unit = %unit_name, error = %e, "log capture ended");
                }
            });
            self.pipes.insert(
                unit.to_string(),
                Pipe {
                    identity,
                    stop: Some(stop_tx),
                },
            );
        }
        self.set_identity(unit, identifier, pid);
        open_fifo(&path)
    }

    /// Records later lines of `unit` under this identifier and pid (the main process, once known).
    pub fn set_identity(&mut self, unit: &str, identifier: &str, pid: Option<u32>) {
        if let Some(pipe) = self.pipes.get(unit) {
            if let Ok(mut id) = pipe.identity.lock() {
                id.identifier = identifier.to_string();
                id.pid = pid;
            }
        }
    }

    /// The unit is inactive: drain its FIFO, stop the reader and remove the FIFO.
    pub fn close(&mut self, unit: &str) {
        if let Some(mut pipe) = self.pipes.remove(unit) {
            if let Some(stop) = pipe.stop.take() {
                let _ = stop.send(());
            }
        }
        let _ = std::fs::remove_file(self.fifo_path(unit));
    }
}

/// Opens (creating if needed) a FIFO read-write and non-blocking.
fn open_fifo(path: &Path) -> std::io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in FIFO path"))?;
    // SAFETY: valid C string; mkfifo only creates a node.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(err);
        }
    }
    // SAFETY: valid C string; the returned descriptor is owned below.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

async fn read_fifo(
    fd: OwnedFd,
    unit: String,
    identity: Arc<Mutex<Identity>>,
    journal: Journal,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    // SAFETY: `fd` is an OwnedFd, open for as long as the AsyncFd owns it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(std::io::Error::from)?;
    let mut splitter = LineSplitter::new();
    let mut buf = vec![0u8; 64 * 1024];
    let emit = |lines: Vec<String>| {
        let id = identity.lock().map(|i| i.clone()).unwrap_or_default();
        let now = unitd_journal::now_usec();
        for line in lines {
            journal.send(Record::from_line(
                now,
                &unit,
                &id.identifier,
                id.pid,
                Stream::Stdout,
                &line,
            ));
        }
    };
    let mut stopping = false;
    loop {
        if stopping {
            // Drain whatever is buffered, then finish.
            loop {
                match read_once(fd.get_ref(), &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => emit(splitter.push(&buf[..n])),
                }
            }
            emit(splitter.finish().into_iter().collect());
            return Ok(());
        }
        tokio::select! {
            _ = &mut stop => stopping = true,
            guard = fd.readable() => {
                let mut guard = guard?;
                match guard.try_io(|inner| read_once(inner.get_ref(), &mut buf)) {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => emit(splitter.push(&buf[..n])),
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => {}
                }
            }
        }
    }
}

fn read_once(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: reading into a valid buffer from an owned descriptor.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
