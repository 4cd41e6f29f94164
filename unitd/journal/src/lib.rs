//! unitd's journal: every line a unit prints, stored with a timestamp in size-bounded, rotated files.
//!
//! Owns the journal's storage format and everything that touches it: turning a unit's output stream into
//! lines, appending records, reading and merging them back, following new ones, and formatting them like
//! journalctl. The daemon owns the pipes and decides *what* to log; this crate decides how it is kept.
//!
//! # Layout
//! - [`record`]: [`Record`], [`Stream`], the `<N>` priority prefix, the JSON line with journald field names.
//! - [`splitter`]: [`LineSplitter`], bytes from a pipe → lines (48 KiB cap, `\r` stripped, lossy UTF-8).
//! - [`layout`]: the directory layout — one directory per unit, numbered files, the highest one active.
//! - [`writer`]: [`JournalWriter`] and [`Limits`] — append with one `write(2)`, rotate, keep `max_files`.
//! - [`reader`]: [`JournalReader`] and [`Filter`] — per-unit scans merged by timestamp, last N, since.
//! - [`follow`]: [`Follower`] — poll-based `journalctl -f` that survives rotation.
//! - [`format`]: `short`, `short-iso`, `json`, `cat` output.
//!
//! # On disk
//! `<dir>/<unit>/<20-digit number>.jsonl`, one JSON object per line, e.g.
//! `{"__REALTIME_TIMESTAMP":"1700755803500000","_SYSTEMD_UNIT":"hello.service","SYSLOG_IDENTIFIER":"hello",
//! "_PID":"1234","PRIORITY":"6","_TRANSPORT":"stdout","_UNITD_STREAM":"stdout","MESSAGE":"Hello"}`.
//! `_UNITD_STREAM` (`stdout`/`stderr`/`manager`) is ours: journald doesn't keep stdout and stderr apart.
//! `_HOSTNAME` is not stored (one journal per host; formatting takes the hostname) but is accepted on read.
//! Limits are per unit (default 8 MiB × 4 files), so one unit's output never evicts another's.
//!
//! # Example
//! ```
//! use unitd_journal::{Filter, JournalReader, JournalWriter, LineSplitter, Limits, Record, Stream};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?; let dir = tmp.path();
//! let mut writer = JournalWriter::open(dir, Limits::default())?;
//! let mut lines = LineSplitter::new();
//! for line in lines.push(b"<4>low disk\nhello\n") {
//!     writer.append(&Record::from_line(unitd_journal::now_usec(), "hello.service", "hello", Some(42), Stream::Stdout, &line))?;
//! }
//! let records = JournalReader::open(dir)?.read(&Filter { lines: Some(10), ..Filter::default() })?;
//! assert_eq!(records[0].priority, 4);
//! assert_eq!(unitd_journal::format_cat(&records[1]), "hello");
//! # Ok(()) }
//! ```

pub mod follow;
pub mod format;
pub mod layout;
pub mod reader;
pub mod record;
pub mod splitter;
pub mod writer;

pub use follow::{Follower, POLL_INTERVAL};
pub use format::{
    format_cat, format_json, format_short, format_short_in, format_short_iso, format_short_iso_in,
};
pub use layout::is_valid_unit_name;
pub use reader::{Filter, JournalReader, ReadError};
pub use record::{
    now_usec, parse_priority_prefix, Record, Stream, PRIORITY_ERR, PRIORITY_INFO, PRIORITY_NOTICE,
};
pub use splitter::{LineSplitter, LINE_MAX};
pub use writer::{JournalWriter, Limits, WriteError};
