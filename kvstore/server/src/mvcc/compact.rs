//! Physical compaction: removes the revisions that a `Compact` made unreachable. The logical part (refusing
//! reads below the compacted revision) happens at apply time; this part runs on its own thread, in bounded
//! batches, so writers are never stalled by it. It only ever deletes revisions at or below the compacted
//! revision, which no later write touches, so it can run beside the apply thread. A crash in the middle is
//! resumed at start-up (`meta::COMPACT_FINISHED` lags `meta::COMPACT_REVISION`).

use rocksdb::WriteBatch;

use super::keys::{self, Record};
use crate::storage::{self, meta, Db, CF_KV, CF_META, CF_REV};

/// Deletes per write batch.
const BATCH: usize = 10_000;

/// Removes, for every key, all revisions below its newest revision ≤ `rev`, and that one too if it is a
/// deletion. Returns how many revisions were removed.
pub fn compact(db: &Db, rev: i64) -> storage::Result<u64> {
    let kv = db.cf(CF_KV)?;
    let revs = db.cf(CF_REV)?;
    let mut total = rocksdb::ReadOptions::default();
    total.set_total_order_seek(true);
    let mut it = db.db.raw_iterator_cf_opt(kv, total);
    it.seek_to_first();
    let mut wb = WriteBatch::default();
    let mut pending = 0usize;
    let mut removed = 0u64;
    let mut current_key: Option<Vec<u8>> = None;
    let mut kept_one = false;
    while let (Some(ik), Some(v)) = (it.key(), it.value()) {
        let Some((key, r)) = keys::split_index_key(ik) else {
            it.next();
            continue;
        };
        if current_key.as_deref() != Some(key.as_slice()) {
            // Batches end only between keys: a reader never sees a key's tombstone gone but older values left.
            if pending >= BATCH {
                db.write(std::mem::take(&mut wb), false)?;
                pending = 0;
            }
            current_key = Some(key.clone());
            kept_one = false;
        }
        if r.main <= rev {
            let tombstone = Record::decode(v).is_some_and(|rec| rec.tombstone);
            if kept_one || tombstone {
                wb.delete_cf(kv, ik);
                wb.delete_cf(revs, r.to_bytes());
                pending += 1;
                removed += 1;
            }
            kept_one = true;
        }
        it.next();
    }
    it.status().map_err(|e| db.err(e))?;
    wb.put_cf(db.cf(CF_META)?, meta::COMPACT_FINISHED, rev.to_be_bytes());
    db.write(wb, false)?;
    if removed > BATCH as u64 {
        // Drop RocksDB's own deletion markers so later scans of the region do not step over them.
        db.db.compact_range_cf(kv, None::<&[u8]>, None::<&[u8]>);
        db.db.compact_range_cf(revs, None::<&[u8]>, None::<&[u8]>);
    }
    Ok(removed)
}
