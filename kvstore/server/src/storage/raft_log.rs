//! The raft log, hard state, conf state and snapshot metadata in the `raft` column family, behind
//! [`raft::Storage`].
//!
//! As in raft-rs, the trait is read-only; the Ready loop calls the write methods here ([`RaftLog::append`],
//! [`RaftLog::set_hard_state`], [`RaftLog::compact`]) to fill a [`WriteBatch`] that it then writes synced.
//! A tail of recent entries stays in memory so that applying just-committed entries and answering `term()`
//! never reads RocksDB on the hot path.

use std::collections::VecDeque;
use std::sync::Arc;

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError as RaftStorageError};
use rocksdb::WriteBatch;

use super::{Db, Result, StorageError, CF_META, CF_RAFT};
use crate::snapshot::SnapshotFiles;

const HARD_STATE: &[u8] = b"hs";
pub const CONF_STATE: &[u8] = b"cs";
/// Index and term of the last entry removed by log compaction (16 bytes BE).
const SNAPSHOT_META: &[u8] = b"sm";
/// Set while a received snapshot is being installed: index, term, then the snapshot file's path. A member that
/// finds it at start-up finishes the install before anything else.
const INSTALLING: &[u8] = b"si";
const ENTRY_PREFIX: u8 = b'e';
/// How many recent entries stay in memory.
const CACHE_ENTRIES: usize = 1024;

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY_PREFIX;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The member's raft log. Owned by the Ready loop thread.
pub struct RaftLog {
    db: Arc<Db>,
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the entry just before `first_index` (0, 0 for a log never compacted).
    snapshot_index: u64,
    snapshot_term: u64,
    last_index: u64,
    /// The newest entries, contiguous, ending at `last_index`.
    cache: VecDeque<Entry>,
    /// Snapshots of the state machine for followers that need one.
    snapshots: Arc<SnapshotFiles>,
}

/// Reads one key of a family (from a RocksDB snapshot).
pub type FamilyGet<'a> = dyn Fn(&'static str, &[u8]) -> Result<Option<Vec<u8>>> + 'a;

/// The term of entry `index`, read through `get` (a RocksDB snapshot's reader), for snapshot metadata.
pub fn term_in(get: &FamilyGet<'_>, index: u64) -> Result<u64> {
    if let Some(b) = get(CF_RAFT, &entry_key(index))? {
        let e = Entry::parse_from_bytes(&b).map_err(|e| StorageError::Corrupt {
            path: "raft log".into(),
            what: format!("entry {index}: {e}"),
        })?;
        return Ok(e.term);
    }
    match get(CF_RAFT, SNAPSHOT_META)? {
        Some(b) if b.len() == 16 && b[..8] == index.to_be_bytes() => {
            Ok(u64::from_be_bytes(b[8..].try_into().unwrap_or_default()))
        }
        _ if index == 0 => Ok(0),
        _ => Err(StorageError::Corrupt {
            path: "raft log".into(),
            what: format!("no term for applied index {index}"),
        }),
    }
}

fn corrupt(db: &Db, what: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        path: db.path.clone(),
        what: what.into(),
    }
}

impl RaftLog {
    /// Loads the log from `db`. A database without a conf state has never been bootstrapped:
    /// see [`RaftLog::is_bootstrapped`] and [`RaftLog::bootstrap`].
    pub fn open(db: Arc<Db>, snapshots: Arc<SnapshotFiles>) -> Result<RaftLog> {
        let cf = db.cf(CF_RAFT)?;
        let read = |key: &[u8]| db.db.get_cf(cf, key).map_err(|e| db.err(e));
        let hard_state = match read(HARD_STATE)? {
            Some(b) => HardState::parse_from_bytes(&b)
                .map_err(|e| corrupt(&db, format!("hard state: {e}")))?,
            None => HardState::default(),
        };
        let conf_state = match read(CONF_STATE)? {
            Some(b) => ConfState::parse_from_bytes(&b)
                .map_err(|e| corrupt(&db, format!("conf state: {e}")))?,
            None => ConfState::default(),
        };
        let (snapshot_index, snapshot_term) = match read(SNAPSHOT_META)? {
            Some(b) if b.len() == 16 => {
                let (i, t) = b.split_at(8);
                let i =
                    u64::from_be_bytes(i.try_into().map_err(|_| corrupt(&db, "snapshot meta"))?);
                let t =
                    u64::from_be_bytes(t.try_into().map_err(|_| corrupt(&db, "snapshot meta"))?);
                (i, t)
            }
            Some(_) => return Err(corrupt(&db, "snapshot meta")),
            None => (0, 0),
        };
        let mut it = db.db.raw_iterator_cf(cf);
        it.seek_for_prev(entry_key(u64::MAX));
        let last_index = match it.key() {
            Some(k) if k.first() == Some(&ENTRY_PREFIX) && k.len() == 9 => {
                u64::from_be_bytes(k[1..].try_into().map_err(|_| corrupt(&db, "entry key"))?)
            }
            _ => snapshot_index,
        };
        drop(it);
        let mut log = RaftLog {
            db,
            hard_state,
            conf_state,
            snapshot_index,
            snapshot_term,
            last_index,
            cache: VecDeque::new(),
            snapshots,
        };
        log.finish_install()?;
        // Warm the cache with the tail, so restart does not read entries one by one.
        let low = log
            .first_index()
            .max(log.last_index.saturating_sub(CACHE_ENTRIES as u64 - 1));
        if low <= log.last_index {
            let tail = log.read_entries(low, log.last_index + 1)?;
            log.cache = tail.into();
        }
        Ok(log)
    }

    pub fn is_bootstrapped(&self) -> bool {
        !self.conf_state.voters.is_empty() || !self.conf_state.learners.is_empty()
    }

    /// Writes the initial membership of a new cluster. Every founding member starts from the same state: as if it
    /// had installed a snapshot at index 1, term 1 that holds the conf state. A member added later starts empty
    /// and, since index 1 is not in anyone's log, always receives a snapshot that carries the membership.
    pub fn bootstrap(&mut self, conf_state: ConfState) -> Result<()> {
        let mut wb = WriteBatch::default();
        self.set_conf_state(&mut wb, conf_state)?;
        let db = self.db.clone();
        let cf = db.cf(CF_RAFT)?;
        let mut meta = Vec::with_capacity(16);
        meta.extend_from_slice(&1u64.to_be_bytes());
        meta.extend_from_slice(&1u64.to_be_bytes());
        wb.put_cf(cf, SNAPSHOT_META, meta);
        let hs = HardState {
            term: 1,
            commit: 1,
            ..Default::default()
        };
        self.set_hard_state(&mut wb, &hs)?;
        wb.put_cf(
            self.db.cf(CF_META)?,
            super::meta::APPLIED_INDEX,
            1u64.to_be_bytes(),
        );
        self.db.write(wb, true)?;
        self.snapshot_index = 1;
        self.snapshot_term = 1;
        self.last_index = self.last_index.max(1);
        Ok(())
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    fn first_index(&self) -> u64 {
        self.snapshot_index + 1
    }

    /// Adds `entries` to the batch, replacing any conflicting suffix of the log.
    pub fn append(&mut self, wb: &mut WriteBatch, entries: &[Entry]) -> Result<()> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        let cf = self.db.cf(CF_RAFT)?;
        for e in entries {
            let bytes = e
                .write_to_bytes()
                .map_err(|err| corrupt(&self.db, format!("entry encode: {err}")))?;
            wb.put_cf(cf, entry_key(e.index), bytes);
        }
        if last.index < self.last_index {
            wb.delete_range_cf(
                cf,
                entry_key(last.index + 1),
                entry_key(self.last_index + 1),
            );
        }
        // Keep the cache contiguous: drop what the new entries replace, or everything if they do not follow on.
        while self.cache.back().is_some_and(|e| e.index >= first.index) {
            self.cache.pop_back();
        }
        if self
            .cache
            .back()
            .is_some_and(|e| e.index + 1 != first.index)
        {
            self.cache.clear();
        }
        self.cache.extend(entries.iter().cloned());
        while self.cache.len() > CACHE_ENTRIES {
            self.cache.pop_front();
        }
        self.last_index = last.index;
        Ok(())
    }

    pub fn set_hard_state(&mut self, wb: &mut WriteBatch, hs: &HardState) -> Result<()> {
        let bytes = hs
            .write_to_bytes()
            .map_err(|e| corrupt(&self.db, format!("hard state encode: {e}")))?;
        wb.put_cf(self.db.cf(CF_RAFT)?, HARD_STATE, bytes);
        self.hard_state = hs.clone();
        Ok(())
    }

    /// Raises the commit index raft will start from to `index`, a point known to be committed (the applied
    /// index), without writing anything: the hard state on disk may lag it, because the commit index a light
    /// ready reports is not written on its own.
    pub fn raise_commit(&mut self, index: u64) {
        self.hard_state.commit = self.hard_state.commit.max(index);
    }

    pub fn set_conf_state(&mut self, wb: &mut WriteBatch, cs: ConfState) -> Result<()> {
        let bytes = cs
            .write_to_bytes()
            .map_err(|e| corrupt(&self.db, format!("conf state encode: {e}")))?;
        wb.put_cf(self.db.cf(CF_RAFT)?, CONF_STATE, bytes);
        self.conf_state = cs;
        Ok(())
    }

    /// Drops every entry before `index` (which must be applied). The term of `index - 1` is kept so raft can still
    /// match the log against it.
    pub fn compact(&mut self, wb: &mut WriteBatch, index: u64) -> Result<()> {
        if index <= self.first_index() || index > self.last_index + 1 {
            return Ok(());
        }
        let term = self.term_of(index - 1)?;
        let cf = self.db.cf(CF_RAFT)?;
        wb.delete_range_cf(cf, entry_key(self.first_index()), entry_key(index));
        let mut meta = Vec::with_capacity(16);
        meta.extend_from_slice(&(index - 1).to_be_bytes());
        meta.extend_from_slice(&term.to_be_bytes());
        wb.put_cf(cf, SNAPSHOT_META, meta);
        self.snapshot_index = index - 1;
        self.snapshot_term = term;
        while self.cache.front().is_some_and(|e| e.index < index) {
            self.cache.pop_front();
        }
        Ok(())
    }

    /// Installs a received snapshot: the state machine is replaced by the file's contents, the log emptied up to
    /// the snapshot's index, conf state and commit index taken from it. Crash-safe: a marker written first makes
    /// a restart finish the install from the same file.
    pub fn install_snapshot(
        &mut self,
        meta: &raft::prelude::SnapshotMetadata,
        path: &std::path::Path,
    ) -> Result<()> {
        let mut marker = Vec::new();
        marker.extend_from_slice(&meta.index.to_be_bytes());
        marker.extend_from_slice(&meta.term.to_be_bytes());
        marker.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
        let mut wb = WriteBatch::default();
        wb.put_cf(self.db.cf(CF_RAFT)?, INSTALLING, marker);
        self.set_conf_state(&mut wb, meta.get_conf_state().clone())?;
        self.db.write(wb, true)?;
        self.finish_install()
    }

    /// Completes an install recorded by [`RaftLog::install_snapshot`] (no-op when none is pending).
    fn finish_install(&mut self) -> Result<()> {
        let Some(marker) = self.db.get_cf(CF_RAFT, INSTALLING)? else {
            return Ok(());
        };
        if marker.len() < 16 {
            return Err(corrupt(&self.db, "snapshot install marker"));
        }
        let index = u64::from_be_bytes(
            marker[..8]
                .try_into()
                .map_err(|_| corrupt(&self.db, "marker"))?,
        );
        let term = u64::from_be_bytes(
            marker[8..16]
                .try_into()
                .map_err(|_| corrupt(&self.db, "marker"))?,
        );
        let path = std::path::PathBuf::from(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&marker[16..]),
        );
        let f = std::fs::File::open(&path).map_err(|e| StorageError::Corrupt {
            path: path.clone(),
            what: format!("snapshot being installed: {e}"),
        })?;
        crate::snapshot::load_state(&self.db, f)?;
        let db = self.db.clone();
        let cf = db.cf(CF_RAFT)?;
        let mut wb = WriteBatch::default();
        wb.delete_range_cf(cf, entry_key(0), entry_key(u64::MAX));
        let mut meta = Vec::with_capacity(16);
        meta.extend_from_slice(&index.to_be_bytes());
        meta.extend_from_slice(&term.to_be_bytes());
        wb.put_cf(cf, SNAPSHOT_META, meta);
        let mut hs = self.hard_state.clone();
        hs.commit = hs.commit.max(index);
        hs.term = hs.term.max(term);
        self.set_hard_state(&mut wb, &hs)?;
        // The snapshot's meta family carries the applied index it was taken at, which is `index`.
        wb.put_cf(
            self.db.cf(CF_META)?,
            super::meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        wb.delete_cf(cf, INSTALLING);
        self.db.write(wb, true)?;
        let _ = std::fs::remove_file(&path);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.last_index = index;
        self.cache.clear();
        tracing::info!(index, term, "installed a raft snapshot");
        Ok(())
    }

    pub fn first_log_index(&self) -> u64 {
        self.first_index()
    }

    fn term_of(&self, idx: u64) -> Result<u64> {
        if idx == self.snapshot_index {
            return Ok(self.snapshot_term);
        }
        if let Some(front) = self.cache.front() {
            if idx >= front.index && idx <= self.last_index {
                return Ok(self.cache[(idx - front.index) as usize].term);
            }
        }
        let e = self.read_entries(idx, idx + 1)?;
        e.first()
            .map(|e| e.term)
            .ok_or_else(|| corrupt(&self.db, format!("missing entry {idx}")))
    }

    fn read_entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
        let cf = self.db.cf(CF_RAFT)?;
        let mut out = Vec::with_capacity((high - low) as usize);
        let mut it = self.db.db.raw_iterator_cf(cf);
        it.seek(entry_key(low));
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.len() != 9 || k[0] != ENTRY_PREFIX {
                break;
            }
            let e = Entry::parse_from_bytes(v)
                .map_err(|err| corrupt(&self.db, format!("entry: {err}")))?;
            if e.index >= high {
                break;
            }
            if e.index != low + out.len() as u64 {
                return Err(corrupt(
                    &self.db,
                    format!("log gap at {}", low + out.len() as u64),
                ));
            }
            out.push(e);
            it.next();
        }
        it.status().map_err(|e| self.db.err(e))?;
        Ok(out)
    }
}

fn store_err(e: StorageError) -> raft::Error {
    raft::Error::Store(RaftStorageError::Other(Box::new(e)))
}

impl raft::Storage for RaftLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state.clone(),
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first_index() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if high > self.last_index + 1 {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        let mut ents = match self.cache.front() {
            Some(front) if low >= front.index => {
                let from = (low - front.index) as usize;
                let to = (high - front.index) as usize;
                self.cache.range(from..to).cloned().collect()
            }
            _ => self.read_entries(low, high).map_err(store_err)?,
        };
        if let Some(max) = max_size.into() {
            let mut size = 0u64;
            let mut keep = 0;
            for e in &ents {
                size += u64::from(e.compute_size());
                if keep > 0 && size > max {
                    break;
                }
                keep += 1;
            }
            ents.truncate(keep);
        }
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.snapshot_index {
            return Ok(self.snapshot_term);
        }
        if idx < self.first_index() {
            return Err(raft::Error::Store(RaftStorageError::Compacted));
        }
        if idx > self.last_index {
            return Err(raft::Error::Store(RaftStorageError::Unavailable));
        }
        self.term_of(idx).map_err(store_err)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    /// A follower needs entries this log no longer has. Hands out the newest snapshot file if it covers what
    /// was truncated; otherwise starts making one in the background and asks raft to retry.
    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        if let Some(g) = self.snapshots.ready(request_index.max(self.snapshot_index)) {
            let mut s = Snapshot {
                data: g.path.as_os_str().as_encoded_bytes().to_vec().into(),
                ..Default::default()
            };
            s.set_metadata(g.metadata);
            return Ok(s);
        }
        tracing::info!(
            to = format!("{to:x}"),
            "a follower needs a snapshot; making one"
        );
        self.snapshots.start(self.db.clone());
        Err(raft::Error::Store(
            RaftStorageError::SnapshotTemporarilyUnavailable,
        ))
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // raft's protobuf messages are built field by field
mod tests {
    use super::*;
    use raft::Storage;

    fn snaps(dir: &tempfile::TempDir) -> Arc<SnapshotFiles> {
        SnapshotFiles::new(dir.path().join("snap"))
    }

    fn entry(index: u64, term: u64) -> Entry {
        let mut e = Entry::default();
        e.index = index;
        e.term = term;
        e.data = vec![index as u8].into();
        e
    }

    #[test]
    fn append_persist_reopen_and_truncate_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut log = RaftLog::open(db.clone(), snaps(&dir)).unwrap();
        assert!(!log.is_bootstrapped());
        let mut cs = ConfState::default();
        cs.voters = vec![1];
        log.bootstrap(cs).unwrap();
        // Bootstrap is a snapshot at index 1: the log starts at 2.
        assert_eq!(raft::Storage::first_index(&log).unwrap(), 2);
        assert_eq!(log.term(1).unwrap(), 1);
        let mut wb = WriteBatch::default();
        log.append(&mut wb, &[entry(2, 1), entry(3, 1), entry(4, 1)])
            .unwrap();
        db.write(wb, true).unwrap();
        // A new leader overwrites index 4 onwards.
        let mut wb = WriteBatch::default();
        log.append(&mut wb, &[entry(3, 2)]).unwrap();
        db.write(wb, true).unwrap();
        assert_eq!(log.last_index().unwrap(), 3);
        drop(log);
        let log = RaftLog::open(db, snaps(&dir)).unwrap();
        assert!(log.is_bootstrapped());
        assert_eq!(log.last_index().unwrap(), 3);
        assert_eq!(log.term(3).unwrap(), 2);
        let got = log
            .entries(2, 4, None, GetEntriesContext::empty(false))
            .unwrap();
        assert_eq!(
            got.iter().map(|e| (e.index, e.term)).collect::<Vec<_>>(),
            vec![(2, 1), (3, 2)]
        );
    }

    #[test]
    fn compaction_keeps_the_boundary_term() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut log = RaftLog::open(db.clone(), snaps(&dir)).unwrap();
        let mut wb = WriteBatch::default();
        log.append(&mut wb, &(1..=10).map(|i| entry(i, 3)).collect::<Vec<_>>())
            .unwrap();
        log.compact(&mut wb, 6).unwrap();
        db.write(wb, true).unwrap();
        let log = RaftLog::open(db, snaps(&dir)).unwrap();
        assert_eq!(raft::Storage::first_index(&log).unwrap(), 6);
        assert_eq!(log.term(5).unwrap(), 3);
        assert!(matches!(
            log.term(4),
            Err(raft::Error::Store(RaftStorageError::Compacted))
        ));
        assert!(log
            .entries(4, 7, None, GetEntriesContext::empty(false))
            .is_err());
        assert_eq!(
            log.entries(6, 11, None, GetEntriesContext::empty(false))
                .unwrap()
                .len(),
            5
        );
    }
}
