//! Reading the journal back.
//!
//! Owns [`JournalReader`], [`Filter`], the per-unit scan from a [`Position`] (shared with the follower) and the
//! merge of several units by timestamp. A line that doesn't parse — the torn last line of a crash, or garbage —
//! is skipped, never an error: one bad line must not hide the rest of a unit's history. A final line without
//! its newline is left alone (it may be a write in progress; the follower picks it up once it is complete)
//! unless a newer file exists, in which case it can never be completed and is skipped.

use crate::layout::{file_name, is_valid_unit_name, list_files, list_units};
use crate::record::Record;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Errors from reading the journal.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file or directory couldn't be read.
    #[error("journal: {op} {path}: {source}")]
    Io {
        /// What was being done ("list", "open", "read").
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ReadError + 'a {
    move |source| ReadError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Which records to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Units to include (`journalctl -u`); empty means all units.
    pub units: Vec<String>,
    /// Only records at or after this time, microseconds since the epoch (`--since`).
    pub since: Option<u64>,
    /// Only the last N records after merging (`-n N`).
    pub lines: Option<usize>,
}

impl Filter {
    fn admits(&self, record: &Record) -> bool {
        self.since.is_none_or(|since| record.realtime_usec >= since)
    }
}

/// Where a scan of one unit stopped: the next byte to read is `offset` in file number `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Position {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
}

/// Where each unit's scan ended, by unit name.
pub(crate) type UnitPositions = Vec<(String, Position)>;

/// Reads a journal directory written by [`crate::JournalWriter`].
#[derive(Debug, Clone)]
pub struct JournalReader {
    dir: PathBuf,
}

impl JournalReader {
    /// A reader over `dir`. A journal that doesn't exist yet reads as empty.
    pub fn open(dir: impl AsRef<Path>) -> Result<JournalReader, ReadError> {
        let dir = dir.as_ref().to_path_buf();
        match std::fs::metadata(&dir) {
            Ok(m) if !m.is_dir() => Err(ReadError::Io {
                op: "open",
                path: dir,
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            }),
            Ok(_) => Ok(JournalReader { dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(JournalReader { dir }),
            Err(e) => Err(io_err("stat", &dir)(e)),
        }
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The units that have records.
    pub fn units(&self) -> Result<Vec<String>, ReadError> {
        list_units(&self.dir).map_err(io_err("list", &self.dir))
    }

    /// The records matching `filter`, oldest first, merged across units by timestamp.
    pub fn read(&self, filter: &Filter) -> Result<Vec<Record>, ReadError> {
        Ok(self.read_with_positions(filter)?.0)
    }

    /// [`read`](Self::read), plus where each unit's scan ended, for a follower to continue from.
    pub(crate) fn read_with_positions(
        &self,
        filter: &Filter,
    ) -> Result<(Vec<Record>, UnitPositions), ReadError> {
        let units = self.selected_units(filter)?;
        let mut per_unit = Vec::with_capacity(units.len());
        let mut positions = Vec::with_capacity(units.len());
        for unit in units {
            let (mut records, pos) = scan_unit(&self.dir.join(&unit), None)?;
            records.retain(|r| filter.admits(r));
            per_unit.push(records);
            positions.push((unit, pos));
        }
        let mut merged = merge(per_unit);
        if let Some(n) = filter.lines {
            let skip = merged.len().saturating_sub(n);
            merged.drain(..skip);
        }
        Ok((merged, positions))
    }

    /// The units a filter names (only valid names), or every unit in the journal.
    pub(crate) fn selected_units(&self, filter: &Filter) -> Result<Vec<String>, ReadError> {
        if filter.units.is_empty() {
            self.units()
        } else {
            let mut units: Vec<String> = filter
                .units
                .iter()
                .filter(|u| is_valid_unit_name(u))
                .cloned()
                .collect();
            units.sort();
            units.dedup();
            Ok(units)
        }
    }
}

/// Reads one unit's records from `from` (the beginning if `None`) to the end of the last complete line.
///
/// The directory is listed before any file is read: a file that has a newer one beside it in that listing is
/// finished (the writer only starts a new file after its last write to the old one), so reading it to its end
/// sees everything it will ever hold.
pub(crate) fn scan_unit(
    unit_dir: &Path,
    from: Option<Position>,
) -> Result<(Vec<Record>, Position), ReadError> {
    let seqs = list_files(unit_dir).map_err(io_err("list", unit_dir))?;
    let mut pos = from.unwrap_or_default();
    if seqs.last().is_some_and(|&newest| newest < pos.seq) {
        // The journal was wiped and restarted at lower numbers: start over.
        pos = Position::default();
    }
    let mut records = Vec::new();
    for (i, &seq) in seqs.iter().enumerate() {
        if seq < pos.seq {
            continue;
        }
        let start = if seq == pos.seq { pos.offset } else { 0 };
        let is_newest = i + 1 == seqs.len();
        let path = unit_dir.join(file_name(seq));
        let Some(bytes) = read_from(&path, start)? else {
            continue; // deleted by rotation since the listing
        };
        let (start, bytes) = match bytes {
            Tail::From(b) => (start, b),
            Tail::Restarted(b) => (0, b), // shorter than our offset: not the file we were reading
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in bytes[..complete].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            if let Some(record) = std::str::from_utf8(line).ok().and_then(Record::from_json) {
                records.push(record);
            }
        }
        let consumed = if is_newest { complete } else { bytes.len() };
        pos = Position {
            seq,
            offset: start + consumed as u64,
        };
    }
    Ok((records, pos))
}

enum Tail {
    /// The bytes from the requested offset to the end.
    From(Vec<u8>),
    /// The file is shorter than the offset, so it was replaced: all of it.
    Restarted(Vec<u8>),
}

/// The bytes of `path` from `offset` on; `None` if the file is gone.
fn read_from(path: &Path, offset: u64) -> Result<Option<Tail>, ReadError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    let restarted = len < offset;
    let start = if restarted { 0 } else { offset };
    file.seek(SeekFrom::Start(start))
        .map_err(io_err("seek", path))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(io_err("read", path))?;
    Ok(Some(if restarted {
        Tail::Restarted(bytes)
    } else {
        Tail::From(bytes)
    }))
}

/// Merges per-unit record lists (each in file order) by timestamp. Each unit keeps its own order even if its
/// clock stepped back; ties go to the unit listed first.
pub(crate) fn merge(per_unit: Vec<Vec<Record>>) -> Vec<Record> {
    let total = per_unit.iter().map(Vec::len).sum();
    let mut queues: Vec<VecDeque<Record>> = per_unit.into_iter().map(VecDeque::from).collect();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = queues
        .iter()
        .enumerate()
        .filter_map(|(i, q)| q.front().map(|r| Reverse((r.realtime_usec, i))))
        .collect();
    let mut out = Vec::with_capacity(total);
    while let Some(Reverse((_, i))) = heap.pop() {
        let Some(record) = queues[i].pop_front() else {
            continue;
        };
        out.push(record);
        if let Some(next) = queues[i].front() {
            heap.push(Reverse((next.realtime_usec, i)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;
    use crate::writer::{JournalWriter, Limits};
    use std::io::Write;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn rec(unit: &str, ts: u64, msg: &str) -> Record {
        Record::from_line(ts, unit, "t", Some(1), Stream::Stdout, msg)
    }

    fn messages(records: &[Record]) -> Vec<String> {
        records.iter().map(|r| r.message.clone()).collect()
    }

    #[test]
    fn merges_units_by_timestamp() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        w.append(&rec("a.service", 10, "a10"))?;
        w.append(&rec("b.service", 5, "b5"))?;
        w.append(&rec("a.service", 20, "a20"))?;
        w.append(&rec("b.service", 15, "b15"))?;
        w.append(&rec("c.service", 15, "c15"))?;
        let r = JournalReader::open(tmp.path())?;
        let all = r.read(&Filter::default())?;
        assert_eq!(messages(&all), ["b5", "a10", "b15", "c15", "a20"]);
        let only_b = r.read(&Filter {
            units: vec!["b.service".into(), "missing.service".into()],
            ..Filter::default()
        })?;
        assert_eq!(messages(&only_b), ["b5", "b15"]);
        Ok(())
    }

    #[test]
    fn merge_keeps_a_units_order_when_its_clock_steps_back() {
        let merged = merge(vec![
            vec![rec("a", 10, "a1"), rec("a", 3, "a2")],
            vec![rec("b", 5, "b1")],
        ]);
        assert_eq!(messages(&merged), ["b1", "a1", "a2"]);
    }

    #[test]
    fn last_n_and_since() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        for i in 0..10u64 {
            let unit = if i % 2 == 0 {
                "even.service"
            } else {
                "odd.service"
            };
            w.append(&rec(unit, i, &i.to_string()))?;
        }
        let r = JournalReader::open(tmp.path())?;
        let last3 = r.read(&Filter {
            lines: Some(3),
            ..Filter::default()
        })?;
        assert_eq!(messages(&last3), ["7", "8", "9"]);
        let since = r.read(&Filter {
            since: Some(6),
            lines: Some(100),
            ..Filter::default()
        })?;
        assert_eq!(messages(&since), ["6", "7", "8", "9"]);
        let none = r.read(&Filter {
            lines: Some(0),
            ..Filter::default()
        })?;
        assert!(none.is_empty());
        Ok(())
    }

    #[test]
    fn rotation_keeps_the_newest_records_and_another_units_history() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let limits = Limits {
            max_file_bytes: 2048,
            max_files: 2,
        };
        let mut w = JournalWriter::open(tmp.path(), limits)?;
        w.append(&rec("quiet.service", 0, "still here"))?;
        for i in 1..=1000u64 {
            w.append(&rec("chatty.service", i, &format!("n{i}")))?;
        }
        let r = JournalReader::open(tmp.path())?;
        let chatty = r.read(&Filter {
            units: vec!["chatty.service".into()],
            ..Filter::default()
        })?;
        // Bounded: two files of ≤ 2 KiB hold a few dozen records, and they are the newest, contiguous ones.
        assert!(!chatty.is_empty() && chatty.len() < 100, "{}", chatty.len());
        let first = chatty[0].realtime_usec;
        let want: Vec<u64> = (first..=1000).collect();
        let got: Vec<u64> = chatty.iter().map(|r| r.realtime_usec).collect();
        assert_eq!(got, want);
        let quiet = r.read(&Filter {
            units: vec!["quiet.service".into()],
            ..Filter::default()
        })?;
        assert_eq!(messages(&quiet), ["still here"]);
        Ok(())
    }

    #[test]
    fn corrupt_and_truncated_lines_are_skipped() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        w.append(&rec("a.service", 1, "one"))?;
        drop(w);
        let path = tmp.path().join("a.service").join(file_name(1));
        let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
        f.write_all(b"not json at all\n")?;
        f.write_all(rec("a.service", 2, "two").to_json().as_bytes())?;
        f.write_all(b"\n{\"__REALTIME_TIMESTAMP\":\"3\",\"_SYSTEMD_UN")?; // crash mid-write
        drop(f);
        let r = JournalReader::open(tmp.path())?;
        assert_eq!(messages(&r.read(&Filter::default())?), ["one", "two"]);
        // The writer terminates the torn line on reopen; everything after it is readable.
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        w.append(&rec("a.service", 4, "four"))?;
        assert_eq!(
            messages(&r.read(&Filter::default())?),
            ["one", "two", "four"]
        );
        Ok(())
    }

    #[test]
    fn missing_journal_reads_empty() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let r = JournalReader::open(tmp.path().join("none"))?;
        assert!(r.read(&Filter::default())?.is_empty());
        Ok(())
    }
}
