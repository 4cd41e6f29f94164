//! The write side of the MVCC store: one [`WriteTxn`] per state-changing request.
//!
//! A request's writes are staged in the txn (with their own overlay) and only land in the apply batch by
//! [`WriteTxn::commit`], so a request that fails half-way (a txn whose nested branch names a missing lease)
//! leaves no trace. The batch [`Overlay`] holds the latest state of every key earlier requests in the same
//! batch wrote, so they are visible before anything reaches RocksDB.

use std::collections::BTreeMap;

use kvstore_proto::mvccpb::{event::EventType, Event, KeyValue};
use rocksdb::WriteBatch;

use super::keys::{self, Record, Revision};
use super::read::{decode_live, LatestCursor, Reader};
use crate::storage::{self, Db, CF_KV, CF_LEASE, CF_REV};

/// Latest state of keys written (`None`: deleted).
pub type Overlay = BTreeMap<Vec<u8>, Option<KeyValue>>;

/// A change to which lease a key is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseChange {
    Attach(i64, Vec<u8>),
    Detach(i64, Vec<u8>),
}

/// The key under which the `lease` family records that `key` is attached to `lease`.
pub fn lease_key_entry(lease: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len() + 1);
    k.extend_from_slice(&lease.to_be_bytes());
    k.push(b'k');
    k.extend_from_slice(key);
    k
}

/// The key under which the `lease` family records a lease's TTL.
pub fn lease_entry(lease: i64) -> Vec<u8> {
    let mut k = lease.to_be_bytes().to_vec();
    k.push(b't');
    k
}

/// Where a txn looks up stored values: a [`LatestCursor`] (behind a trait object only so that a cursor borrowed
/// for a whole batch can be lent to each shorter-lived txn).
trait StoredLatest {
    fn latest(&self, key: &[u8]) -> storage::Result<Option<KeyValue>>;
}

impl StoredLatest for LatestCursor<'_> {
    fn latest(&self, key: &[u8]) -> storage::Result<Option<KeyValue>> {
        LatestCursor::latest(self, key)
    }
}

/// Staged writes of one request, all at revision `rev`.
pub struct WriteTxn<'a> {
    db: &'a Db,
    batch: &'a Overlay,
    /// The batch's shared lookup of stored values.
    cursor: &'a (dyn StoredLatest + 'a),
    local: Overlay,
    writes: Vec<(Vec<u8>, Revision, Record)>,
    rev: i64,
    /// Whether anyone watches: without watchers no events (and no copies of values for them) are built.
    with_events: bool,
    /// The events this request produced, for watchers.
    pub events: Vec<Event>,
    /// Lease attachments that change, applied to the lessor on commit.
    pub lease_changes: Vec<LeaseChange>,
}

impl<'a> WriteTxn<'a> {
    /// Starts a request that writes at `current_revision + 1`, reading stored values through the batch's
    /// `cursor`; `with_events` when watchers want its events.
    pub fn new(
        cursor: &'a LatestCursor<'_>,
        batch: &'a Overlay,
        current_revision: i64,
        with_events: bool,
    ) -> Self {
        WriteTxn {
            db: cursor.db(),
            batch,
            cursor,
            local: Overlay::new(),
            writes: Vec::new(),
            rev: current_revision + 1,
            with_events,
            events: Vec::new(),
            lease_changes: Vec::new(),
        }
    }

    /// Whether anything was written (and so whether the store's revision moves).
    pub fn changed(&self) -> bool {
        !self.writes.is_empty()
    }

    /// The revision this request writes at.
    pub fn revision(&self) -> i64 {
        self.rev
    }

    /// The store's revision as a read inside this request sees it: the one before, until the request has
    /// written something, then its own.
    pub fn visible_revision(&self) -> i64 {
        if self.changed() {
            self.rev
        } else {
            self.rev - 1
        }
    }

    /// The current live value of `key`.
    pub fn latest(&self, key: &[u8]) -> storage::Result<Option<KeyValue>> {
        if let Some(v) = self.local.get(key).or_else(|| self.batch.get(key)) {
            return Ok(v.clone());
        }
        self.cursor.latest(key)
    }

    /// Every live key-value in `[start, end)`, in key order, including staged and batched writes.
    pub fn range_latest(&self, start: &[u8], end: &[u8]) -> storage::Result<Vec<KeyValue>> {
        let stored = Reader::live(self.db)
            .range(start, end, i64::MAX, 0, false)?
            .kvs;
        let touched_batch = touched(self.batch, start, end);
        let touched_local = touched(&self.local, start, end);
        if touched_batch.is_empty() && touched_local.is_empty() {
            return Ok(stored);
        }
        let mut merged: BTreeMap<Vec<u8>, KeyValue> =
            stored.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
        for (k, v) in touched_batch.into_iter().chain(touched_local) {
            match v {
                Some(kv) => merged.insert(k.clone(), kv.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_values().collect())
    }

    /// Deletes every live key in `[start, end)` (a range: `end` is not empty), in key order, including keys
    /// written earlier in this request or batch. Returns how many were deleted and, with `keep_prev`, what they
    /// held.
    ///
    /// Stored keys are streamed from RocksDB and deleted one by one instead of being read into a list first (one
    /// more copy of every key: ~260 MB for the ~340k keys `etcdctl check perf --load=l` deletes at its end), and
    /// their values are only loaded when someone wants them (`keep_prev`, or watchers' events).
    pub fn delete_range(
        &mut self,
        start: &[u8],
        end: &[u8],
        keep_prev: bool,
    ) -> storage::Result<(i64, Vec<KeyValue>)> {
        let keys_only = !keep_prev && !self.with_events;
        // What this batch and this request already wrote in the range (few keys, if any) wins over the store.
        let mut written: BTreeMap<Vec<u8>, Option<KeyValue>> = BTreeMap::new();
        for (k, v) in
            touched(self.batch, start, end)
                .into_iter()
                .chain(touched(&self.local, start, end))
        {
            written.insert(k.clone(), v.clone());
        }
        let mut written = written.into_iter().peekable();
        let mut deleted = 0i64;
        let mut prevs = Vec::new();
        let mut delete = |txn: &mut Self, kv: Option<KeyValue>| {
            if let Some(kv) = kv {
                txn.delete_live(&kv);
                deleted += 1;
                if keep_prev {
                    prevs.push(kv);
                }
            }
        };
        let db = self.db;
        Reader::live(db).for_each_live(start, end, i64::MAX, |key, rev, stored| {
            while let Some((_, kv)) = written.next_if(|(k, _)| *k < key) {
                delete(self, kv);
            }
            if let Some((_, kv)) = written.next_if(|(k, _)| *k == key) {
                delete(self, kv);
            } else {
                delete(self, decode_live(db, key, rev, stored, keys_only)?);
            }
            Ok(())
        })?;
        for (_, kv) in written {
            delete(self, kv);
        }
        Ok((deleted, prevs))
    }

    fn stage(&mut self, key: &[u8], rec: Record) -> Revision {
        let rev = Revision::new(self.rev, self.writes.len() as i64);
        self.writes.push((key.to_vec(), rev, rec));
        rev
    }

    /// Puts `key`; returns the new key-value and the previous one.
    pub fn put(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        lease: i64,
    ) -> storage::Result<(KeyValue, Option<KeyValue>)> {
        let prev = self.latest(key)?;
        let (create_revision, version, old_lease) = match &prev {
            Some(p) => (p.create_revision, p.version + 1, p.lease),
            None => (self.rev, 1, 0),
        };
        if old_lease != lease {
            if old_lease != 0 {
                self.lease_changes
                    .push(LeaseChange::Detach(old_lease, key.to_vec()));
            }
            if lease != 0 {
                self.lease_changes
                    .push(LeaseChange::Attach(lease, key.to_vec()));
            }
        }
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision,
            mod_revision: self.rev,
            version,
            value,
            lease,
        };
        self.stage(
            key,
            Record {
                tombstone: false,
                create_revision,
                version,
                lease,
                value: kv.value.clone(),
            },
        );
        self.local.insert(key.to_vec(), Some(kv.clone()));
        if self.with_events {
            self.events.push(Event {
                r#type: EventType::Put as i32,
                kv: Some(kv.clone()),
                prev_kv: prev.clone(),
            });
        }
        Ok((kv, prev))
    }

    /// Deletes `key` if it is live; returns what was deleted.
    pub fn delete(&mut self, key: &[u8]) -> storage::Result<Option<KeyValue>> {
        let Some(prev) = self.latest(key)? else {
            return Ok(None);
        };
        self.delete_live(&prev);
        Ok(Some(prev))
    }

    /// Deletes a key the caller just read as live (`prev` is its current value), without reading it again.
    fn delete_live(&mut self, prev: &KeyValue) {
        let key = prev.key.as_slice();
        if prev.lease != 0 {
            self.lease_changes
                .push(LeaseChange::Detach(prev.lease, key.to_vec()));
        }
        self.stage(
            key,
            Record {
                tombstone: true,
                create_revision: 0,
                version: 0,
                lease: 0,
                value: Vec::new(),
            },
        );
        self.local.insert(key.to_vec(), None);
        if self.with_events {
            self.events.push(Event {
                r#type: EventType::Delete as i32,
                kv: Some(KeyValue {
                    key: key.to_vec(),
                    mod_revision: self.rev,
                    ..Default::default()
                }),
                prev_kv: Some(prev.clone()),
            });
        }
    }

    /// Ends the request: what it staged, free of borrows, for [`Staged::write_into`].
    pub fn finish(self) -> Staged {
        Staged {
            revision: self.rev,
            writes: self.writes,
            local: self.local,
            events: self.events,
            lease_changes: self.lease_changes,
        }
    }
}

/// An upper bound on a batch record's bytes besides its key and value: index escaping adds at most one byte per key
/// byte (counted with the key), revisions 16 bytes each, the record header 25, varints and tags the rest.
const WRITE_BOUND: usize = 96;
/// Batches whose bound is at least this large are reserved up front (see [`Staged::write_into`]).
const RESERVE_FROM: usize = 1 << 20;

/// The writes of one finished request.
pub struct Staged {
    pub revision: i64,
    writes: Vec<(Vec<u8>, Revision, Record)>,
    local: Overlay,
    pub events: Vec<Event>,
    pub lease_changes: Vec<LeaseChange>,
}

impl Staged {
    /// Whether anything was written (and so whether the store's revision moves).
    pub fn changed(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Adds the writes to the apply batch and the batch overlay.
    pub fn write_into(
        &mut self,
        db: &Db,
        wb: &mut WriteBatch,
        overlay: &mut Overlay,
    ) -> storage::Result<()> {
        let kv = db.cf(CF_KV)?;
        let revs = db.cf(CF_REV)?;
        let leases = db.cf(CF_LEASE)?;
        if wb.is_empty() {
            // A batch grows by doubling, so a large one (a mass delete's) left the buffer it outgrew resident
            // beside the new one: ~250 MB more peak RSS for `check perf --load=l`'s delete of ~350k keys. A
            // bound on its size, reserved up front, is only address space until it is written.
            let bound: usize = self
                .writes
                .iter()
                .map(|(key, _, rec)| WRITE_BOUND + 3 * key.len() + rec.value.len())
                .chain(self.lease_changes.iter().map(|c| match c {
                    LeaseChange::Attach(_, key) | LeaseChange::Detach(_, key) => {
                        WRITE_BOUND + key.len()
                    }
                }))
                .sum();
            if bound >= RESERVE_FROM {
                *wb = WriteBatch::with_capacity_bytes(bound + RESERVE_FROM);
            }
        }
        for (key, rev, rec) in &self.writes {
            wb.put_cf(kv, keys::index_key(key, *rev), rec.encode());
            wb.put_cf(revs, rev.to_bytes(), key);
        }
        for change in &self.lease_changes {
            match change {
                LeaseChange::Attach(id, key) => wb.put_cf(leases, lease_key_entry(*id, key), b""),
                LeaseChange::Detach(id, key) => wb.delete_cf(leases, lease_key_entry(*id, key)),
            }
        }
        if overlay.is_empty() {
            // The first request of the batch (usually the only one, for a large one): hand the tree over
            // instead of rebuilding it node by node.
            std::mem::swap(overlay, &mut self.local);
        } else {
            overlay.extend(std::mem::take(&mut self.local));
        }
        Ok(())
    }
}

fn touched<'o>(
    overlay: &'o Overlay,
    start: &[u8],
    end: &[u8],
) -> Vec<(&'o Vec<u8>, &'o Option<KeyValue>)> {
    if end.is_empty() {
        overlay.get_key_value(start).into_iter().collect()
    } else {
        overlay
            .range(start.to_vec()..)
            .take_while(|(k, _)| end == [0] || k.as_slice() < end)
            .collect()
    }
}
