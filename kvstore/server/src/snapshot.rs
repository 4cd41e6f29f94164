//! State-machine snapshots: the whole MVCC store (families `kv`, `rev`, `lease`, `meta`) as one stream.
//!
//! The same format serves three purposes:
//! - a raft snapshot for a follower that fell behind the leader's log truncation point or joined late
//!   ([`SnapshotFiles`] makes them in the background; the peer transport streams the file);
//! - `Maintenance.Snapshot`, the backup `kvctl snapshot save` and `etcdctl snapshot save` write (with the padding
//!   and trailing SHA-256 etcdctl checks for, see [`backup_trailer`]);
//! - `kvstore --restore FILE`, which loads a backup into a fresh data dir under a new membership.
//!
//! Format: `KVSNAP01`, then records `family:u8 klen:u32 vlen:u32 key value` (big-endian lengths), then
//! `0xFF crc32:u32` over everything before it. A stream that ends early or fails its checksum is refused.
//!
//! Files are written from a RocksDB snapshot, which is consistent: the applied index in `meta` describes exactly
//! the state beside it, so a snapshot file is self-describing.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use protobuf::Message as _;
use raft::prelude::{ConfState, SnapshotMetadata};
use rocksdb::WriteBatch;
use sha2::{Digest, Sha256};

use crate::storage::{self, meta, Db, StorageError, CF_KV, CF_LEASE, CF_META, CF_RAFT, CF_REV};

const MAGIC: &[u8; 8] = b"KVSNAP01";
const END: u8 = 0xFF;
/// The state machine's families, in record order; a record's family byte is its index here.
const FAMILIES: [&str; 4] = [CF_KV, CF_REV, CF_LEASE, CF_META];
/// Bytes per RocksDB batch while loading.
const LOAD_BATCH: usize = 4 << 20;

fn corrupt(what: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        path: PathBuf::from("snapshot"),
        what: what.into(),
    }
}

fn io(path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        what: format!("snapshot file: {e}"),
    }
}

/// Writes the state machine as seen by `snap` to `w`. Returns the bytes written.
pub fn write_state<W: Write>(db: &Db, snap: &rocksdb::Snapshot<'_>, w: W) -> storage::Result<u64> {
    let mut out = Checksummed::new(w);
    out.put(MAGIC).map_err(|e| io(&db.path, e))?;
    for (i, name) in FAMILIES.iter().enumerate() {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_snapshot(snap);
        ro.set_total_order_seek(true);
        let mut it = db.db.raw_iterator_cf_opt(db.cf(name)?, ro);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let mut head = [0u8; 9];
            head[0] = i as u8;
            head[1..5].copy_from_slice(&(k.len() as u32).to_be_bytes());
            head[5..9].copy_from_slice(&(v.len() as u32).to_be_bytes());
            out.put(&head).map_err(|e| io(&db.path, e))?;
            out.put(k).map_err(|e| io(&db.path, e))?;
            out.put(v).map_err(|e| io(&db.path, e))?;
            it.next();
        }
        it.status().map_err(|e| db.err(e))?;
    }
    let crc = out.crc.clone().finalize();
    out.put(&[END]).map_err(|e| io(&db.path, e))?;
    out.put(&crc.to_be_bytes()).map_err(|e| io(&db.path, e))?;
    out.w.flush().map_err(|e| io(&db.path, e))?;
    Ok(out.written)
}

struct Checksummed<W> {
    w: W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Checksummed<W> {
    fn new(w: W) -> Self {
        Checksummed {
            w,
            crc: crc32fast::Hasher::new(),
            written: 0,
        }
    }

    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc.update(b);
        self.written += b.len() as u64;
        self.w.write_all(b)
    }
}

/// Replaces the state machine in `db` with the snapshot read from `r`. Not atomic on its own: callers that need
/// crash safety record an install marker first (see `storage::raft_log`).
pub fn load_state<R: Read>(db: &Db, r: R) -> storage::Result<()> {
    for name in FAMILIES {
        clear_family(db, name)?;
    }
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut crc = crc32fast::Hasher::new();
    let mut magic = [0u8; 8];
    read_exact(&mut r, &mut magic, &mut crc)?;
    if &magic != MAGIC {
        return Err(corrupt("not a kvstore snapshot (bad magic)"));
    }
    let cfs = FAMILIES
        .iter()
        .map(|n| db.cf(n))
        .collect::<storage::Result<Vec<_>>>()?;
    let mut wb = WriteBatch::default();
    loop {
        let mut kind = [0u8; 1];
        let sum = crc.clone().finalize();
        read_exact(&mut r, &mut kind, &mut crc)?;
        if kind[0] == END {
            let mut want = [0u8; 4];
            r.read_exact(&mut want)
                .map_err(|e| corrupt(format!("truncated checksum: {e}")))?;
            if u32::from_be_bytes(want) != sum {
                return Err(corrupt("checksum mismatch"));
            }
            break;
        }
        let cf = cfs
            .get(kind[0] as usize)
            .ok_or_else(|| corrupt(format!("unknown family {}", kind[0])))?;
        let mut lens = [0u8; 8];
        read_exact(&mut r, &mut lens, &mut crc)?;
        let klen = u32::from_be_bytes([lens[0], lens[1], lens[2], lens[3]]) as usize;
        let vlen = u32::from_be_bytes([lens[4], lens[5], lens[6], lens[7]]) as usize;
        if klen > 64 << 20 || vlen > 64 << 20 {
            return Err(corrupt("record larger than 64 MiB"));
        }
        let mut kv = vec![0u8; klen + vlen];
        read_exact(&mut r, &mut kv, &mut crc)?;
        wb.put_cf(*cf, &kv[..klen], &kv[klen..]);
        if wb.size_in_bytes() >= LOAD_BATCH {
            db.write(std::mem::take(&mut wb), false)?;
        }
    }
    db.write(wb, false)
}

fn read_exact<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    crc: &mut crc32fast::Hasher,
) -> storage::Result<()> {
    r.read_exact(buf)
        .map_err(|e| corrupt(format!("truncated snapshot: {e}")))?;
    crc.update(buf);
    Ok(())
}

/// Deletes every key of a family with one range tombstone (plus the last key, which the range excludes).
fn clear_family(db: &Db, name: &'static str) -> storage::Result<()> {
    let cf = db.cf(name)?;
    let mut ro = rocksdb::ReadOptions::default();
    ro.set_total_order_seek(true);
    let mut it = db.db.raw_iterator_cf_opt(cf, ro);
    it.seek_to_first();
    let Some(first) = it.key().map(<[u8]>::to_vec) else {
        return it.status().map_err(|e| db.err(e));
    };
    it.seek_to_last();
    let last = it
        .key()
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| first.clone());
    it.status().map_err(|e| db.err(e))?;
    drop(it);
    let mut wb = WriteBatch::default();
    wb.delete_range_cf(cf, &first, &last);
    wb.delete_cf(cf, &last);
    db.write(wb, false)
}

/// etcdctl's `snapshot save` accepts a stream whose length is 32 more than a multiple of 512, the last 32 bytes
/// being the SHA-256 of the rest (bolt files are page-aligned). This pads our stream with zeros to the boundary
/// and returns the padding plus the digest to send after it. The loader ignores what follows the end record.
pub fn backup_trailer(mut hasher: Sha256, len: u64) -> Vec<u8> {
    let pad = ((512 - len % 512) % 512) as usize;
    let mut out = vec![0u8; pad];
    hasher.update(&out);
    out.extend_from_slice(&hasher.finalize());
    out
}

/// Checks a backup file's trailing SHA-256 (when it has one) before it is restored.
pub fn verify_backup(path: &Path) -> storage::Result<()> {
    let len = std::fs::metadata(path).map_err(|e| io(path, e))?.len();
    if len % 512 != 32 {
        return Ok(()); // a raw snapshot stream without the trailer
    }
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let mut h = Sha256::new();
    let mut left = len - 32;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n]).map_err(|e| io(path, e))?;
        h.update(&buf[..n]);
        left -= n as u64;
    }
    let mut want = [0u8; 32];
    f.read_exact(&mut want).map_err(|e| io(path, e))?;
    if h.finalize().as_slice() != want {
        return Err(StorageError::Corrupt {
            path: path.to_path_buf(),
            what: "backup: SHA-256 mismatch".into(),
        });
    }
    Ok(())
}

/// A snapshot file made for followers, with the raft metadata that describes it.
#[derive(Clone)]
pub struct Generated {
    pub metadata: SnapshotMetadata,
    pub path: PathBuf,
}

/// The leader's snapshot files under `<data-dir>/snap`, made in the background on raft's request.
pub struct SnapshotFiles {
    pub dir: PathBuf,
    latest: Mutex<Option<Generated>>,
    generating: AtomicBool,
}

impl SnapshotFiles {
    pub fn new(dir: PathBuf) -> Arc<SnapshotFiles> {
        Arc::new(SnapshotFiles {
            dir,
            latest: Mutex::new(None),
            generating: AtomicBool::new(false),
        })
    }

    /// The newest finished snapshot, if it covers `min_index`.
    pub fn ready(&self, min_index: u64) -> Option<Generated> {
        let g = self.latest.lock().ok()?.clone()?;
        (g.metadata.index >= min_index && g.path.exists()).then_some(g)
    }

    /// Starts making a snapshot of the current state unless one is being made.
    pub fn start(self: &Arc<Self>, db: Arc<Db>) {
        if self.generating.swap(true, Ordering::AcqRel) {
            return;
        }
        let files = self.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let t = std::time::Instant::now();
                match files.generate(&db) {
                    Ok(g) => tracing::info!(index = g.metadata.index, term = g.metadata.term, path = %g.path.display(), took = ?t.elapsed(), "raft snapshot made"),
                    Err(e) => tracing::error!(error = %e, "making a raft snapshot failed"),
                }
                files.generating.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.generating.store(false, Ordering::Release);
        }
    }

    fn generate(&self, db: &Db) -> storage::Result<Generated> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let snap = db.db.snapshot();
        let get = |cf: &'static str, key: &[u8]| -> storage::Result<Option<Vec<u8>>> {
            snap.get_cf(db.cf(cf)?, key).map_err(|e| db.err(e))
        };
        let index = storage::u64_be(get(CF_META, meta::APPLIED_INDEX)?);
        let term = crate::storage::raft_log::term_in(&get, index)?;
        let conf_state = match get(CF_RAFT, crate::storage::raft_log::CONF_STATE)? {
            Some(b) => {
                ConfState::parse_from_bytes(&b).map_err(|e| corrupt(format!("conf state: {e}")))?
            }
            None => ConfState::default(),
        };
        let path = self.dir.join(format!("{term:016x}-{index:016x}.snap"));
        let tmp = path.with_extension("tmp");
        let f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write_state(db, &snap, &mut w)?;
        let f = w.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        let mut metadata = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        metadata.set_conf_state(conf_state);
        let g = Generated { metadata, path };
        if let Ok(mut latest) = self.latest.lock() {
            if let Some(old) = latest.replace(g.clone()) {
                if old.path != g.path {
                    let _ = std::fs::remove_file(&old.path);
                }
            }
        }
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_replaces_what_was_there() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let src = Db::open(a.path()).unwrap();
        let dst = Db::open(b.path()).unwrap();
        let mut wb = WriteBatch::default();
        wb.put_cf(src.cf(CF_KV).unwrap(), b"k1", b"v1");
        wb.put_cf(src.cf(CF_META).unwrap(), meta::REVISION, 7i64.to_be_bytes());
        src.write(wb, true).unwrap();
        let mut wb = WriteBatch::default();
        wb.put_cf(dst.cf(CF_KV).unwrap(), b"stale", b"x");
        wb.put_cf(dst.cf(CF_REV).unwrap(), b"stale", b"x");
        dst.write(wb, true).unwrap();

        let mut buf = Vec::new();
        let snap = src.db.snapshot();
        write_state(&src, &snap, &mut buf).unwrap();
        load_state(&dst, &buf[..]).unwrap();
        assert_eq!(dst.get_cf(CF_KV, b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(dst.get_cf(CF_KV, b"stale").unwrap(), None);
        assert_eq!(dst.get_cf(CF_REV, b"stale").unwrap(), None);
        assert_eq!(
            storage::i64_be(dst.get_cf(CF_META, meta::REVISION).unwrap()),
            7
        );

        // A flipped byte or a short stream is refused.
        let mut bad = buf.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        assert!(load_state(&dst, &bad[..]).is_err());
        assert!(load_state(&dst, &buf[..buf.len() - 3]).is_err());
    }

    #[test]
    fn backup_trailer_matches_what_etcdctl_checks() {
        let body = vec![7u8; 1000];
        let mut h = Sha256::new();
        h.update(&body);
        let trailer = backup_trailer(h, body.len() as u64);
        let total = body.len() + trailer.len();
        assert_eq!(total % 512, 32);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b");
        let mut all = body.clone();
        all.extend_from_slice(&trailer);
        std::fs::write(&p, &all).unwrap();
        verify_backup(&p).unwrap();
        all[3] ^= 1;
        std::fs::write(&p, &all).unwrap();
        assert!(verify_backup(&p).is_err());
    }
}
