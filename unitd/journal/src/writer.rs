//! Appending records to the journal.
//!
//! Owns [`JournalWriter`] and its [`Limits`]: one active file per unit, opened on the unit's first record and
//! kept open; each record is one `write(2)` of one JSON line (no fsync per line — [`JournalWriter::sync`] is
//! there for shutdown). Before a record would push the active file past `max_file_bytes` the writer starts the
//! next file, then deletes the unit's oldest files beyond `max_files`. Limits are per unit, so a chatty unit
//! only ever rotates away its own history.
//!
//! One writer per journal directory: the writer assumes it is the only one appending.

use crate::layout::{file_name, is_valid_unit_name, list_files};
use crate::record::Record;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Errors from [`JournalWriter`].
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file or directory operation failed.
    #[error("journal: {op} {path}: {source}")]
    Io {
        /// What was being done ("create", "open", "write", "remove", …).
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The record's unit name can't be a directory name.
    #[error("journal: invalid unit name {0:?}")]
    InvalidUnit(String),
    /// Limits that would keep nothing.
    #[error("journal: invalid limits: {0}")]
    InvalidLimits(&'static str),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// How much journal each unit may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size at which the active file is rotated (a single record larger than this still gets a file).
    pub max_file_bytes: u64,
    /// Files kept per unit, the active one included; the oldest beyond this are deleted on rotation.
    pub max_files: usize,
}

impl Default for Limits {
    /// 8 MiB per file, 4 files per unit.
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_files: 4,
        }
    }
}

/// The active file of one unit.
#[derive(Debug)]
struct ActiveFile {
    file: File,
    /// Its number, so rotation knows the next one.
    seq: u64,
    /// Bytes in it, tracked here instead of a stat per record.
    size: u64,
    /// Its path, for error messages.
    path: PathBuf,
}

/// Appends records to a journal directory.
#[derive(Debug)]
pub struct JournalWriter {
    dir: PathBuf,
    limits: Limits,
    /// Open active files by unit name.
    active: HashMap<String, ActiveFile>,
}

impl JournalWriter {
    /// Opens (creating if needed) the journal at `dir`.
    pub fn open(dir: impl AsRef<Path>, limits: Limits) -> Result<JournalWriter, WriteError> {
        if limits.max_files == 0 {
            return Err(WriteError::InvalidLimits("max_files must be at least 1"));
        }
        if limits.max_file_bytes == 0 {
            return Err(WriteError::InvalidLimits(
                "max_file_bytes must be at least 1",
            ));
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(JournalWriter {
            dir,
            limits,
            active: HashMap::new(),
        })
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record to its unit's active file, rotating first if the record wouldn't fit.
    pub fn append(&mut self, record: &Record) -> Result<(), WriteError> {
        if !is_valid_unit_name(&record.unit) {
            return Err(WriteError::InvalidUnit(record.unit.clone()));
        }
        let mut line = record.to_json().into_bytes();
        line.push(b'\n');
        let len = line.len() as u64;

        if !self.active.contains_key(&record.unit) {
            let active = self.open_unit(&record.unit)?;
            self.active.insert(record.unit.clone(), active);
        }
        let needs_rotation = match self.active.get(&record.unit) {
            Some(a) => a.size > 0 && a.size.saturating_add(len) > self.limits.max_file_bytes,
            None => false,
        };
        if needs_rotation {
            self.rotate(&record.unit)?;
        }
        let Some(active) = self.active.get_mut(&record.unit) else {
            return Ok(()); // unreachable: inserted above
        };
        // One write(2) for the whole line on a regular file opened O_APPEND.
        active
            .file
            .write_all(&line)
            .map_err(io_err("write", &active.path))?;
        active.size += len;
        Ok(())
    }

    /// fsyncs every open active file (for shutdown; appends don't fsync).
    pub fn sync(&mut self) -> Result<(), WriteError> {
        for active in self.active.values_mut() {
            active
                .file
                .sync_data()
                .map_err(io_err("fsync", &active.path))?;
        }
        Ok(())
    }

    /// Closes the unit's active file (it is reopened on the unit's next record).
    pub fn close_unit(&mut self, unit: &str) {
        self.active.remove(unit);
    }

    /// Opens the unit's newest file for appending, creating the directory and file 1 if needed.
    fn open_unit(&self, unit: &str) -> Result<ActiveFile, WriteError> {
        let unit_dir = self.dir.join(unit);
        std::fs::create_dir_all(&unit_dir).map_err(io_err("create", &unit_dir))?;
        let seqs = list_files(&unit_dir).map_err(io_err("list", &unit_dir))?;
        let seq = seqs.last().copied().unwrap_or(1);
        let path = unit_dir.join(file_name(seq));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let mut size = file.metadata().map_err(io_err("stat", &path))?.len();
        if size > 0 && !ends_with_newline(&mut file).map_err(io_err("read", &path))? {
            // A crash cut the last record short: end that line so it stays one skippable line and our next
            // record starts clean.
            file.write_all(b"\n").map_err(io_err("write", &path))?;
            size += 1;
        }
        Ok(ActiveFile {
            file,
            seq,
            size,
            path,
        })
    }

    /// Starts the unit's next file and deletes the oldest files beyond `max_files`.
    fn rotate(&mut self, unit: &str) -> Result<(), WriteError> {
        let unit_dir = self.dir.join(unit);
        let Some(active) = self.active.get_mut(unit) else {
            return Ok(());
        };
        let seq = active.seq + 1;
        let path = unit_dir.join(file_name(seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let size = file.metadata().map_err(io_err("stat", &path))?.len();
        *active = ActiveFile {
            file,
            seq,
            size,
            path,
        };

        let seqs = list_files(&unit_dir).map_err(io_err("list", &unit_dir))?;
        let excess = seqs.len().saturating_sub(self.limits.max_files);
        for old in seqs.iter().take(excess) {
            let old_path = unit_dir.join(file_name(*old));
            match std::fs::remove_file(&old_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &old_path)(e)),
            }
        }
        Ok(())
    }
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;

    fn rec(unit: &str, ts: u64, msg: &str) -> Record {
        Record::from_line(ts, unit, "t", Some(1), Stream::Stdout, msg)
    }

    #[test]
    fn rejects_bad_unit_and_limits() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let zero = Limits {
            max_files: 0,
            ..Limits::default()
        };
        assert!(matches!(
            JournalWriter::open(tmp.path(), zero),
            Err(WriteError::InvalidLimits(_))
        ));
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        assert!(matches!(
            w.append(&rec("../escape", 1, "x")),
            Err(WriteError::InvalidUnit(_))
        ));
        Ok(())
    }

    #[test]
    fn rotation_bounds_file_size_and_count() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let limits = Limits {
            max_file_bytes: 1000,
            max_files: 3,
        };
        let mut w = JournalWriter::open(tmp.path(), limits)?;
        for i in 0..200 {
            w.append(&rec("chatty.service", i, &format!("line {i}")))?;
        }
        let unit_dir = tmp.path().join("chatty.service");
        let seqs = list_files(&unit_dir)?;
        assert_eq!(seqs.len(), 3, "{seqs:?}");
        for seq in &seqs {
            let len = std::fs::metadata(unit_dir.join(file_name(*seq)))?.len();
            assert!(len <= 1000, "file {seq} is {len} bytes");
        }
        Ok(())
    }

    #[test]
    fn reopen_terminates_a_torn_line_and_continues_the_newest_file(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let unit_dir = tmp.path().join("a.service");
        std::fs::create_dir_all(&unit_dir)?;
        std::fs::write(unit_dir.join(file_name(1)), b"old\n")?;
        std::fs::write(unit_dir.join(file_name(5)), b"{\"__REALTIME_TIME")?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        w.append(&rec("a.service", 1, "after crash"))?;
        let text = std::fs::read_to_string(unit_dir.join(file_name(5)))?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"__REALTIME_TIME");
        assert!(lines[1].contains("after crash"));
        Ok(())
    }
}
