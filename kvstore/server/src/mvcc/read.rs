//! Reads of the MVCC store at a revision: point lookups, ranges with counts, and the history walk that watch
//! replay uses. A [`Reader`] reads either the live database (only the apply thread does that: it is the only
//! writer, so what it sees is consistent) or a RocksDB snapshot taken for one request, so a read never copies
//! memtables and is never torn by a concurrent apply.

use kvstore_proto::mvccpb::{event::EventType, Event, KeyValue};
use rocksdb::{DBRawIterator, ReadOptions, Snapshot};

use super::keys::{self, Record, Revision};
use crate::storage::{self, meta, Db, CF_KV, CF_META, CF_REV};

/// What a range read found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RangeResult {
    /// Live key-values in key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// How many live keys the whole range holds (unaffected by `limit`), as etcd reports it.
    pub count: i64,
}

/// A consistent view of the store.
pub struct Reader<'a> {
    db: &'a Db,
    snapshot: Option<&'a Snapshot<'a>>,
}

impl<'a> Reader<'a> {
    /// Reads the live database. Only for the single writer.
    pub fn live(db: &'a Db) -> Self {
        Reader { db, snapshot: None }
    }

    /// Reads a snapshot: every read through this reader sees the same state.
    pub fn at_snapshot(db: &'a Db, snapshot: &'a Snapshot<'a>) -> Self {
        Reader {
            db,
            snapshot: Some(snapshot),
        }
    }

    fn opts(&self) -> ReadOptions {
        let mut o = ReadOptions::default();
        if let Some(s) = self.snapshot {
            o.set_snapshot(s);
        }
        o
    }

    /// An iterator over `[lower, upper)` in total order (across keys).
    fn iter(
        &self,
        cf: &'static str,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
    ) -> storage::Result<DBRawIterator<'a>> {
        let mut o = self.opts();
        o.set_total_order_seek(true);
        if let Some(l) = lower {
            o.set_iterate_lower_bound(l);
        }
        if let Some(u) = upper {
            o.set_iterate_upper_bound(u);
        }
        Ok(self.db.db.raw_iterator_cf_opt(self.db.cf(cf)?, o))
    }

    fn get(&self, cf: &'static str, key: &[u8]) -> storage::Result<Option<Vec<u8>>> {
        self.db
            .db
            .get_cf_opt(self.db.cf(cf)?, key, &self.opts())
            .map_err(|e| self.db.err(e))
    }

    /// The store's current revision as of this view.
    pub fn current_revision(&self) -> storage::Result<i64> {
        // An empty store is at revision 1, as in etcd.
        Ok(self
            .get(CF_META, meta::REVISION)?
            .map(|b| storage::i64_be(Some(b)))
            .unwrap_or(1))
    }

    /// The compacted revision as of this view.
    pub fn compact_revision(&self) -> storage::Result<i64> {
        Ok(storage::i64_be(self.get(CF_META, meta::COMPACT_REVISION)?))
    }

    /// The live value of `key` at revision `rev` (newest revision ≤ `rev` that is not a deletion).
    pub fn get_at(&self, key: &[u8], rev: i64) -> storage::Result<Option<KeyValue>> {
        // A prefix seek: bloom filters skip every file that does not hold this key.
        let mut o = self.opts();
        o.set_prefix_same_as_start(true);
        o.set_iterate_upper_bound(keys::key_upper(key));
        let mut it = self.db.db.raw_iterator_cf_opt(self.db.cf(CF_KV)?, o);
        seek_live(self.db, &mut it, key, rev)
    }

    /// Live keys in `[start, end)` (etcd range semantics) as of `rev`; `limit` 0 means all. `keys_only` leaves
    /// values out. The count covers the whole range.
    pub fn range(
        &self,
        start: &[u8],
        end: &[u8],
        rev: i64,
        limit: usize,
        keys_only: bool,
    ) -> storage::Result<RangeResult> {
        let mut out = RangeResult::default();
        self.for_each_live(start, end, rev, |key, r, v| {
            out.count += 1;
            if limit == 0 || out.kvs.len() < limit {
                if let Some(kv) = decode_live(self.db, key, r, v, keys_only)? {
                    out.kvs.push(kv);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every live key in `[start, end)` as of `rev`, in key order, one at a time: `f` gets the user key, the
    /// revision and the stored record of its newest revision at or below `rev`. Nothing is collected, so a
    /// caller that streams (a mass delete) holds one key at a time instead of the whole range.
    pub fn for_each_live(
        &self,
        start: &[u8],
        end: &[u8],
        rev: i64,
        mut f: impl FnMut(Vec<u8>, Revision, &[u8]) -> storage::Result<()>,
    ) -> storage::Result<()> {
        let lower = keys::key_prefix(start);
        let upper = if end.is_empty() {
            Some(keys::key_upper(start))
        } else if end == [0] {
            None
        } else {
            Some(keys::key_prefix(end))
        };
        let mut it = self.iter(CF_KV, Some(lower.clone()), upper)?;
        it.seek(&lower);
        let seek_rev = Revision::new(rev, i64::MAX).to_inverted();
        while let Some(ik) = it.key() {
            let prefix = keys::index_key_prefix(ik).to_vec();
            if ik[prefix.len()..] < seek_rev[..] {
                // Newer revisions than asked for: jump to the newest one at or below `rev`.
                let mut target = prefix.clone();
                target.extend_from_slice(&seek_rev);
                it.seek(&target);
            }
            if let (Some(ik), Some(v)) = (it.key(), it.value()) {
                if keys::index_key_prefix(ik) == prefix.as_slice() {
                    let tombstone = v.first() == Some(&1);
                    if !tombstone {
                        if let Some((k, r)) = keys::split_index_key(ik) {
                            f(k, r, v)?;
                        }
                    }
                    it.next();
                    // Skip the older revisions of this key.
                    if it
                        .key()
                        .is_some_and(|k| keys::index_key_prefix(k) == prefix.as_slice())
                    {
                        let mut next = prefix.clone();
                        if let Some(last) = next.last_mut() {
                            *last += 1;
                        }
                        it.seek(&next);
                    }
                }
            }
        }
        it.status().map_err(|e| self.db.err(e))
    }

    /// The changes with revisions in `[from, to)` whose key passes `wanted`, in revision order, at most `max`
    /// of them (the caller continues from the last one's revision + 1). With `prev_kv`, each event carries the
    /// key's previous value where history still has it.
    pub fn history(
        &self,
        from: Revision,
        to: i64,
        wanted: &dyn Fn(&[u8]) -> bool,
        prev_kv: bool,
        max: usize,
    ) -> storage::Result<Vec<(Revision, Event)>> {
        let mut it = self.iter(
            CF_REV,
            Some(from.to_bytes().to_vec()),
            Some(Revision::new(to, 0).to_bytes().to_vec()),
        )?;
        it.seek(from.to_bytes());
        let mut out = Vec::new();
        while let (Some(rk), Some(key)) = (it.key(), it.value()) {
            let rev = Revision::from_bytes(rk).ok_or_else(|| storage::StorageError::Corrupt {
                path: self.db.path.clone(),
                what: "revision key".into(),
            })?;
            // Pages end between revisions, never inside one, so the caller can resume at `main + 1`.
            if out.len() >= max
                && out
                    .last()
                    .is_some_and(|(r, _): &(Revision, Event)| r.main != rev.main)
            {
                break;
            }
            if wanted(key) {
                if let Some(v) = self.get(CF_KV, &keys::index_key(key, rev))? {
                    let rec = Record::decode(&v).ok_or_else(|| corrupt(self.db))?;
                    let prev = if prev_kv {
                        self.get_at(key, rev.main - 1)?
                    } else {
                        None
                    };
                    out.push((rev, event_of(key.to_vec(), rev, rec, prev)));
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.db.err(e))?;
        Ok(out)
    }

    /// CRC-32 over every stored revision up to `rev` (revision, key, record): members with equal histories hash
    /// equally, which is what `HashKV` is for.
    pub fn hash_kv(&self, rev: i64) -> storage::Result<u32> {
        let mut h = crc32fast::Hasher::new();
        let mut it = self.iter(
            CF_REV,
            None,
            Some(Revision::new(rev + 1, 0).to_bytes().to_vec()),
        )?;
        it.seek_to_first();
        while let (Some(rk), Some(key)) = (it.key(), it.value()) {
            if let Some(r) = Revision::from_bytes(rk) {
                if let Some(v) = self.get(CF_KV, &keys::index_key(key, r))? {
                    h.update(rk);
                    h.update(key);
                    h.update(&v);
                }
            }
            it.next();
        }
        it.status().map_err(|e| self.db.err(e))?;
        Ok(h.finalize())
    }
}

/// Seeks `it` (a prefix-same-as-start iterator over `kv`) to the newest revision of `key` that is ≤ `rev`;
/// returns it if it is live.
fn seek_live(
    db: &Db,
    it: &mut DBRawIterator<'_>,
    key: &[u8],
    rev: i64,
) -> storage::Result<Option<KeyValue>> {
    it.seek(keys::index_key(key, Revision::new(rev, i64::MAX)));
    if let (Some(ik), Some(v)) = (it.key(), it.value()) {
        if let Some((k, r)) = keys::split_index_key(ik) {
            if k == key {
                return decode_live(db, k, r, v, false);
            }
        }
    }
    it.status().map_err(|e| db.err(e))?;
    Ok(None)
}

/// The apply thread's lookups of keys' current values, through one RocksDB iterator kept for a whole batch of
/// requests: creating (and dropping) an iterator per key cost as much as the seek itself (perf, 256 clients).
/// The iterator sees the store as it was when first used, which is right for one apply batch: its own writes
/// reach RocksDB only at the batch's end, and until then the batch's overlay answers for them.
pub struct LatestCursor<'a> {
    db: &'a Db,
    it: std::cell::RefCell<Option<DBRawIterator<'a>>>,
}

impl<'a> LatestCursor<'a> {
    pub fn new(db: &'a Db) -> Self {
        LatestCursor {
            db,
            it: std::cell::RefCell::new(None),
        }
    }

    pub fn db(&self) -> &'a Db {
        self.db
    }

    /// The current live value of `key` as stored (not counting the batch's overlay).
    pub fn latest(&self, key: &[u8]) -> storage::Result<Option<KeyValue>> {
        let mut slot = self.it.borrow_mut();
        let it = match &mut *slot {
            Some(it) => it,
            None => {
                // Prefix seeks only (the bloom filters skip files without the key); no upper bound, so the
                // iterator serves every key of the batch.
                let mut o = ReadOptions::default();
                o.set_prefix_same_as_start(true);
                slot.insert(self.db.db.raw_iterator_cf_opt(self.db.cf(CF_KV)?, o))
            }
        };
        seek_live(self.db, it, key, i64::MAX)
    }
}

fn corrupt(db: &Db) -> storage::StorageError {
    storage::StorageError::Corrupt {
        path: db.path.clone(),
        what: "kv record".into(),
    }
}

pub(super) fn decode_live(
    db: &Db,
    key: Vec<u8>,
    rev: Revision,
    v: &[u8],
    keys_only: bool,
) -> storage::Result<Option<KeyValue>> {
    let rec = Record::decode(v).ok_or_else(|| corrupt(db))?;
    if rec.tombstone {
        return Ok(None);
    }
    Ok(Some(KeyValue {
        key,
        create_revision: rec.create_revision,
        mod_revision: rev.main,
        version: rec.version,
        value: if keys_only { Vec::new() } else { rec.value },
        lease: rec.lease,
    }))
}

/// The watch event for one stored revision.
pub fn event_of(key: Vec<u8>, rev: Revision, rec: Record, prev_kv: Option<KeyValue>) -> Event {
    if rec.tombstone {
        Event {
            r#type: EventType::Delete as i32,
            kv: Some(KeyValue {
                key,
                mod_revision: rev.main,
                ..Default::default()
            }),
            prev_kv,
        }
    } else {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key,
                create_revision: rec.create_revision,
                mod_revision: rev.main,
                version: rec.version,
                value: rec.value,
                lease: rec.lease,
            }),
            prev_kv,
        }
    }
}
