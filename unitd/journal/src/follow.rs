//! Following the journal as it grows (`journalctl -f`).
//!
//! Owns [`Follower`]: it remembers, per unit, the [`Position`] after the last record it returned, and each
//! [`poll`](Follower::poll) scans on from there (see [`crate::reader`] for why that is exact across rotation).
//! Units that appear later are read from their beginning. Polling is the whole mechanism; [`Follower::wait`]
//! polls every [`POLL_INTERVAL`] until something arrives. Records a unit rotated away (deleted) before the
//! follower got to them are lost, as with journald.

use crate::reader::{merge, scan_unit, Filter, JournalReader, Position, ReadError};
use crate::record::Record;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often [`Follower::wait`] looks for new records.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Yields records as they are appended.
#[derive(Debug)]
pub struct Follower {
    reader: JournalReader,
    /// Units (empty: all) and `since`; `lines` only shaped the initial read.
    filter: Filter,
    /// Where each known unit's next record starts; a unit without an entry is read from its beginning.
    positions: BTreeMap<String, Position>,
}

impl JournalReader {
    /// Reads what `filter` selects now and returns it with a [`Follower`] positioned right after it, so the
    /// two together see every record once. Use `lines: Some(0)` to only get new records.
    pub fn follow(&self, filter: &Filter) -> Result<(Vec<Record>, Follower), ReadError> {
        let (records, positions) = self.read_with_positions(filter)?;
        let follower = Follower {
            reader: self.clone(),
            filter: Filter {
                lines: None,
                ..filter.clone()
            },
            positions: positions.into_iter().collect(),
        };
        Ok((records, follower))
    }
}

impl Follower {
    /// The records appended since the last call (or since the follower was made), merged by timestamp.
    pub fn poll(&mut self) -> Result<Vec<Record>, ReadError> {
        let units = self.reader.selected_units(&self.filter)?;
        let mut per_unit = Vec::with_capacity(units.len());
        for unit in units {
            let from = self.positions.get(&unit).copied();
            let (mut records, pos) = scan_unit(&self.reader.dir().join(&unit), from)?;
            records.retain(|r| self.filter.since.is_none_or(|s| r.realtime_usec >= s));
            per_unit.push(records);
            self.positions.insert(unit, pos);
        }
        Ok(merge(per_unit))
    }

    /// Polls every [`POLL_INTERVAL`] until there are new records or `timeout` passes (then returns empty).
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<Record>, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            let records = self.poll()?;
            if !records.is_empty() {
                return Ok(records);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(records);
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;
    use crate::writer::{JournalWriter, Limits};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn rec(unit: &str, ts: u64) -> Record {
        Record::from_line(ts, unit, "t", None, Stream::Stdout, &format!("m{ts}"))
    }

    fn stamps(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.realtime_usec).collect()
    }

    #[test]
    fn follow_starts_after_the_initial_read() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        for ts in 1..=5 {
            w.append(&rec("a.service", ts))?;
        }
        let reader = JournalReader::open(tmp.path())?;
        let (initial, mut f) = reader.follow(&Filter {
            lines: Some(2),
            ..Filter::default()
        })?;
        assert_eq!(stamps(&initial), [4, 5]);
        assert!(f.poll()?.is_empty());
        w.append(&rec("a.service", 6))?;
        w.append(&rec("new.service", 7))?; // a unit that didn't exist when following began
        assert_eq!(stamps(&f.poll()?), [6, 7]);
        assert!(f.poll()?.is_empty());
        Ok(())
    }

    #[test]
    fn follow_across_rotation_loses_and_repeats_nothing() -> TestResult {
        let tmp = tempfile::tempdir()?;
        // Small files, enough of them that nothing is deleted between polls.
        let limits = Limits {
            max_file_bytes: 600,
            max_files: 50,
        };
        let mut w = JournalWriter::open(tmp.path(), limits)?;
        let reader = JournalReader::open(tmp.path())?;
        let (initial, mut f) = reader.follow(&Filter::default())?;
        assert!(initial.is_empty());
        let mut seen = Vec::new();
        let mut ts = 0;
        // Polls land at every phase of rotation: mid-file, right after a rotation, after several.
        for batch in [1, 2, 3, 5, 8, 13, 21, 1, 1, 34] {
            for _ in 0..batch {
                ts += 1;
                w.append(&rec("a.service", ts))?;
            }
            seen.extend(stamps(&f.poll()?));
        }
        assert!(list_files_count(tmp.path())? > 5, "rotation happened");
        assert_eq!(seen, (1..=ts).collect::<Vec<_>>());
        Ok(())
    }

    #[test]
    fn follow_concurrent_writer_thread() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let limits = Limits {
            max_file_bytes: 4096,
            max_files: 1000,
        };
        let dir = tmp.path().to_path_buf();
        let reader = JournalReader::open(&dir)?;
        let (_, mut f) = reader.follow(&Filter::default())?;
        let writer = std::thread::spawn(move || -> Result<(), crate::WriteError> {
            let mut w = JournalWriter::open(&dir, limits)?;
            for ts in 1..=3000 {
                w.append(&rec(
                    if ts % 3 == 0 {
                        "b.service"
                    } else {
                        "a.service"
                    },
                    ts,
                ))?;
            }
            Ok(())
        });
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.len() < 3000 && Instant::now() < deadline {
            seen.extend(stamps(&f.wait(Duration::from_millis(20))?));
        }
        writer.join().map_err(|_| "writer panicked")??;
        seen.sort_unstable();
        assert_eq!(seen, (1..=3000).collect::<Vec<_>>());
        Ok(())
    }

    #[test]
    fn records_rotated_away_before_a_poll_are_skipped_not_an_error() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let limits = Limits {
            max_file_bytes: 300,
            max_files: 2,
        };
        let mut w = JournalWriter::open(tmp.path(), limits)?;
        w.append(&rec("a.service", 1))?;
        let reader = JournalReader::open(tmp.path())?;
        let (initial, mut f) = reader.follow(&Filter::default())?;
        assert_eq!(stamps(&initial), [1]);
        for ts in 2..=100 {
            w.append(&rec("a.service", ts))?;
        }
        let got = stamps(&f.poll()?);
        assert_eq!(got.last(), Some(&100));
        assert!(
            got.windows(2).all(|p| p[1] == p[0] + 1),
            "contiguous: {got:?}"
        );
        Ok(())
    }

    #[test]
    fn a_line_still_being_written_is_returned_once_complete() -> TestResult {
        use std::io::Write;
        let tmp = tempfile::tempdir()?;
        let mut w = JournalWriter::open(tmp.path(), Limits::default())?;
        w.append(&rec("a.service", 1))?;
        let reader = JournalReader::open(tmp.path())?;
        let (_, mut f) = reader.follow(&Filter::default())?;
        let line = format!("{}\n", rec("a.service", 2).to_json());
        let (head, tail) = line.split_at(line.len() / 2);
        let path = tmp
            .path()
            .join("a.service")
            .join(crate::layout::file_name(1));
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        file.write_all(head.as_bytes())?;
        assert!(f.poll()?.is_empty(), "half a line is not a record yet");
        file.write_all(tail.as_bytes())?;
        assert_eq!(stamps(&f.poll()?), [2]);
        Ok(())
    }

    fn list_files_count(dir: &std::path::Path) -> std::io::Result<usize> {
        Ok(std::fs::read_dir(dir.join("a.service"))?.count())
    }
}
