//! The one RocksDB database a member keeps, and its column families:
//!
//! | family | holds | written by |
//! |---|---|---|
//! | `raft` | raft log entries, hard state, conf state, snapshot metadata ([`raft_log`]) | the Ready loop, synced |
//! | `kv` | every revision of every key ([`crate::mvcc::keys`]) | apply |
//! | `rev` | revision → key, the order of history | apply |
//! | `lease` | granted leases and the keys attached to them | apply |
//! | `meta` | applied index, current/compacted revision, cluster membership | apply / bootstrap |
//!
//! Log writes are synced before anything is acknowledged; apply writes are not synced on their own, because the
//! applied index lives in the same atomic batch and a crash replays the (synced) log from there.
//!
//! Why RocksDB (the `rocksdb` crate): column families give one atomic, crash-safe write across log and state,
//! snapshots give consistent reads without copying, and its memory use is bounded by configuration.

pub mod raft_log;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, FlushOptions, Options, WriteBatch,
    WriteOptions, DB,
};

pub const CF_RAFT: &str = "raft";
pub const CF_KV: &str = "kv";
pub const CF_REV: &str = "rev";
pub const CF_LEASE: &str = "lease";
pub const CF_META: &str = "meta";
const FAMILIES: [&str; 5] = [CF_RAFT, CF_KV, CF_REV, CF_LEASE, CF_META];

/// A batch at least this large may leave a memtable far over its size (see [`Db::write`]).
const LARGE_BATCH_BYTES: usize = 1 << 20;
/// The size of a WAL file made at open (see [`Db::presize_wal`]); about what one holds between memtable flushes.
const WAL_PRESIZE_BYTES: usize = 32 << 20;
/// The key in `meta` that makes the presizing flush switch the WAL (written and deleted at once).
const WAL_PRESIZE_MARKER: &[u8] = b"\xffwal-presize";

/// The file in `<data-dir>/db` naming the `--wal-dir` the database was created with (absent: the default).
const WAL_DIR_MARKER: &str = "WAL_DIR";

/// The file in a `--wal-dir` naming the data dir whose log it holds: two databases' logs in one directory would
/// mix (RocksDB numbers each database's files from 1).
const WAL_OWNER_MARKER: &str = "KVSTORE_DATA_DIR";

/// The path a marker file holds, if it is there.
fn read_marker(file: &Path) -> Option<PathBuf> {
    std::fs::read(file)
        .ok()
        .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
}

/// Writes `path` into marker `file` unless the file is there already.
fn write_marker(file: &Path, path: &Path) -> Result<()> {
    if file.exists() {
        return Ok(());
    }
    std::fs::write(file, path.as_os_str().as_encoded_bytes()).map_err(|e| StorageError::Corrupt {
        path: file.to_path_buf(),
        what: format!("cannot record {}: {e}", path.display()),
    })
}

/// Refuses to open an existing database with its write-ahead log looked for anywhere but where it was created,
/// and a `wal_dir` that holds another data dir's log. [`record_wal_dir`] writes what this reads.
fn check_wal_dir(dir: &Path, wal_dir: Option<&Path>) -> Result<()> {
    if let Some(wal) = wal_dir {
        let me = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if let Some(owner) = read_marker(&wal.join(WAL_OWNER_MARKER)).filter(|o| *o != me) {
            return Err(StorageError::Corrupt {
                path: wal.to_path_buf(),
                what: format!(
                    "--wal-dir holds the log of data dir {}; give each member a directory of its own",
                    owner.display()
                ),
            });
        }
    }
    let db = dir.join("db");
    if !db.join("CURRENT").exists() {
        return Ok(()); // a new database
    }
    let kept = read_marker(&db.join(WAL_DIR_MARKER));
    if kept.as_deref() == wal_dir {
        return Ok(());
    }
    let show = |p: Option<&Path>| match p {
        Some(p) => p.display().to_string(),
        None => format!("{} (the default)", db.display()),
    };
    Err(StorageError::WalDirMoved {
        dir: dir.to_path_buf(),
        kept: show(kept.as_deref()),
        asked: show(wal_dir),
        hint: match &kept {
            Some(p) => format!("--wal-dir={}", p.display()),
            None => "no --wal-dir".into(),
        },
    })
}

/// Records, once the database is open, which `wal_dir` its log is in and, in that directory, whose log it is.
fn record_wal_dir(dir: &Path, wal: &Path) -> Result<()> {
    let me = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    write_marker(&wal.join(WAL_OWNER_MARKER), &me)?;
    write_marker(&dir.join("db").join(WAL_DIR_MARKER), wal)
}

/// Each family's memtable size: the busy families get more.
fn write_buffer_bytes(family: &str) -> usize {
    if family == CF_KV || family == CF_RAFT {
        8 << 20
    } else {
        2 << 20
    }
}

/// Storage failures. They are fatal for the member: the caller stops rather than serve from a store it cannot
/// trust (etcd's fail-stop rule).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb at {path}: {source}")]
    Rocks {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("corrupt {what} in {path}")]
    Corrupt { path: PathBuf, what: String },
    #[error("column family {0} missing")]
    MissingFamily(&'static str),
    #[error("data directory {dir} is in use by another process (its database lock is held)")]
    InUse { dir: PathBuf },
    /// The data dir's write-ahead log lives elsewhere than `--wal-dir` says: opening it there would start from
    /// the last flushed state and lose every synced write after it.
    #[error(
        "data directory {dir} keeps its write-ahead log in {kept}, not {asked}: start with {hint}"
    )]
    WalDirMoved {
        dir: PathBuf,
        kept: String,
        asked: String,
        hint: String,
    },
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The opened database plus the path, for error messages.
pub struct Db {
    pub db: DB,
    pub path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the member database under `dir/db`, with memory bounded to a few tens of MB:
    /// a shared 8 MiB block cache and at most 16 MiB of memtables across all families.
    pub fn open(dir: &Path) -> Result<Arc<Db>> {
        Db::open_with_wal(dir, None)
    }

    /// [`Db::open`] with the write-ahead log in `wal_dir` (etcd's `--wal-dir`: the synced log on a disk of its
    /// own) instead of beside the tables. The choice is recorded in the data dir when it is created, and a later
    /// open that names another place (or none) is refused ([`StorageError::WalDirMoved`]).
    pub fn open_with_wal(dir: &Path, wal_dir: Option<&Path>) -> Result<Arc<Db>> {
        let path = dir.join("db");
        check_wal_dir(dir, wal_dir)?;
        let cache = Cache::new_lru_cache(8 << 20);
        let mut opts = Options::default();
        if let Some(wal) = wal_dir {
            opts.set_wal_dir(wal);
        }
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_db_write_buffer_size(16 << 20);
        opts.set_max_total_wal_size(96 << 20);
        opts.set_keep_log_file_num(3);
        opts.set_recycle_log_file_num(4);
        let families = FAMILIES.iter().map(|name| {
            let mut cf = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            // 16 KiB blocks: keys are long (escaped user key + revision), so 4 KiB blocks made the index large.
            table.set_block_size(16 << 10);
            if *name == CF_KV {
                // Only prefix seeks are filtered in `kv`; whole-key filters would double the filter memory.
                table.set_whole_key_filtering(false);
            }
            // Index and filter blocks stay with their table reader (a few KB per file) instead of competing with data
            // blocks in the cache: evicted index blocks were re-read and LZ4-decompressed on every seek (perf).
            table.set_cache_index_and_filter_blocks(false);
            cf.set_block_based_table_factory(&table);
            cf.set_write_buffer_size(write_buffer_bytes(name));
            cf.set_max_write_buffer_number(2);
            // No compression where data is young (TiKV's default: none on levels 0–1, LZ4 below): the raft log
            // is truncated soon after it is written and level 0–1 files are rewritten by compaction soon after,
            // so compressing them was ~3% of the server's CPU at 256 clients (perf) for bytes about to go.
            use rocksdb::DBCompressionType::{Lz4, None as Plain};
            if *name == CF_RAFT {
                cf.set_compression_type(Plain);
            } else {
                cf.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
            }
            if *name == CF_KV {
                // Bloom filters over the key part (all but the 16-byte revision): "latest revision of K" is a
                // seek within K's prefix, and for a key a file does not hold the filter answers without reading
                // (and decompressing) a data block. Multi-key scans read with total order.
                cf.set_prefix_extractor(rocksdb::SliceTransform::create(
                    "kvstore.key",
                    kv_key_part,
                    Some(kv_in_domain),
                ));
                cf.set_memtable_prefix_bloom_ratio(0.05);
            }
            ColumnFamilyDescriptor::new(*name, cf)
        });
        let db = DB::open_cf_descriptors(&opts, &path, families).map_err(|source| {
            // RocksDB holds a lock on `LOCK` while the database is open; another opener fails to take it.
            let lock = path.join("LOCK");
            if source.kind() == rocksdb::ErrorKind::IOError
                && source.to_string().contains(&*lock.to_string_lossy())
            {
                StorageError::InUse {
                    dir: dir.to_path_buf(),
                }
            } else {
                StorageError::Rocks {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        if let Some(wal) = wal_dir {
            record_wal_dir(dir, wal)?;
        }
        Ok(Arc::new(Db { db, path }))
    }

    /// Leaves the write-ahead log in a file that already has its size, as etcd preallocates its WAL segments.
    ///
    /// Every acknowledged write ends in an `fdatasync` of the WAL. RocksDB appends to a fresh WAL file, so each of
    /// those also has to write the file's new size (inode metadata): on this project's machine 125–140 µs per
    /// small write against 83–91 µs into a file that is already that long. RocksDB reuses WAL files a memtable
    /// flush retired (`recycle_log_file_num`), overwriting them in place; this makes two such files now, at
    /// open, instead of after the first tens of megabytes of writes: each round writes [`WAL_PRESIZE_BYTES`] of
    /// log-only data (never applied: RocksDB's `PutLogData`) plus one marker in `meta`, syncs it, and flushes
    /// `meta`, which retires the WAL. The marker is deleted in the same batch that writes it.
    ///
    /// Called by the server when it opens its store (not by every [`Db::open`]: a restore or a test that opens a
    /// store briefly need not write 64 MiB).
    pub fn presize_wal(&self) -> Result<()> {
        let meta = self.cf(CF_META)?;
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..2 {
            // In 1 MiB writes: one 32 MiB batch (and RocksDB's copy of it) stayed in the allocator's cache,
            // tripling an idle member's RSS.
            for _ in 0..WAL_PRESIZE_BYTES / chunk.len() {
                let mut wb = WriteBatch::default();
                wb.put_log_data(&chunk);
                self.db.write(wb).map_err(|e| self.err(e))?;
            }
            let mut wb = WriteBatch::default();
            wb.put_cf(meta, WAL_PRESIZE_MARKER, b"");
            wb.delete_cf(meta, WAL_PRESIZE_MARKER);
            self.db.write(wb).map_err(|e| self.err(e))?;
            self.db.flush_wal(true).map_err(|e| self.err(e))?;
            self.db.flush_cf(meta).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    pub fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or(StorageError::MissingFamily(name))
    }

    pub fn err(&self, source: rocksdb::Error) -> StorageError {
        StorageError::Rocks {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes a batch; `sync` fsyncs the write-ahead log before returning.
    ///
    /// A batch goes into the active memtable whole, however large. RocksDB notices the memtable is full but only
    /// switches it at the *next* write, so after a mass delete (etcdctl `check perf` ends with one of 200k keys)
    /// an idle store kept a 160 MB memtable resident indefinitely (jemalloc heap profile). After a large batch,
    /// full memtables are flushed now, in the background.
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let large = batch.size_in_bytes() >= LARGE_BATCH_BYTES;
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo).map_err(|e| self.err(e))?;
        if large {
            self.flush_full_memtables()?;
        }
        Ok(())
    }

    /// Starts a background flush of every family whose active memtable has outgrown its size.
    fn flush_full_memtables(&self) -> Result<()> {
        let mut flush = FlushOptions::default();
        flush.set_wait(false);
        for name in FAMILIES {
            let cf = self.cf(name)?;
            if self.property(cf, "rocksdb.cur-size-active-mem-table") as usize
                >= write_buffer_bytes(name)
            {
                tracing::debug!(family = name, "flushing a memtable a large batch filled");
                self.db.flush_cf_opt(cf, &flush).map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    pub fn get_cf(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.err(e))
    }

    fn property(&self, cf: &rocksdb::ColumnFamily, name: &str) -> u64 {
        self.db
            .property_int_value_cf(cf, name)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// The sum of integer properties over every family.
    fn property_sum(&self, names: &[&str]) -> u64 {
        FAMILIES
            .iter()
            .filter_map(|f| self.db.cf_handle(f))
            .map(|cf| names.iter().map(|n| self.property(cf, n)).sum::<u64>())
            .sum()
    }

    /// Bytes on disk (SST files) plus memtables: etcd's "db size".
    pub fn size_bytes(&self) -> u64 {
        self.property_sum(&[
            "rocksdb.total-sst-files-size",
            "rocksdb.cur-size-all-mem-tables",
        ])
    }

    /// Bytes logically in use (live SST data plus memtables).
    pub fn size_in_use_bytes(&self) -> u64 {
        self.property_sum(&[
            "rocksdb.estimate-live-data-size",
            "rocksdb.cur-size-all-mem-tables",
        ])
    }

    /// Memory RocksDB holds, by kind: (memtables, block cache, table readers).
    pub fn memory_bytes(&self) -> (u64, u64, u64) {
        // The block cache is shared: any family reports the whole of it.
        let cache = self
            .db
            .cf_handle(CF_KV)
            .map(|cf| self.property(cf, "rocksdb.block-cache-usage"))
            .unwrap_or(0);
        (
            self.property_sum(&["rocksdb.cur-size-all-mem-tables"]),
            cache,
            self.property_sum(&["rocksdb.estimate-table-readers-mem"]),
        )
    }
}

/// The prefix of a `kv` family key: the encoded user key without its revision.
fn kv_key_part(k: &[u8]) -> &[u8] {
    &k[..k.len().saturating_sub(16)]
}

fn kv_in_domain(k: &[u8]) -> bool {
    k.len() > 16
}

/// Meta keys (in `meta`).
pub mod meta {
    /// Raft index of the last applied entry (u64 BE). Written in the same batch as the state it produced.
    pub const APPLIED_INDEX: &[u8] = b"applied_index";
    /// The store's current main revision (i64 BE).
    pub const REVISION: &[u8] = b"revision";
    /// Revision reads below which are refused (i64 BE).
    pub const COMPACT_REVISION: &[u8] = b"compact_revision";
    /// Revision up to which old versions were physically removed (i64 BE); behind COMPACT_REVISION while a
    /// compaction is in progress, and resumed at start-up.
    pub const COMPACT_FINISHED: &[u8] = b"compact_finished";
    /// JSON membership (cluster id and members), written at bootstrap.
    pub const MEMBERSHIP: &[u8] = b"membership";
    /// The raised alarms (an `AlarmResponse` holding them), written with the batch that raised or disarmed one.
    pub const ALARMS: &[u8] = b"alarms";
}

pub fn u64_be(b: Option<Vec<u8>>) -> u64 {
    b.and_then(|v| v.as_slice().try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

pub fn i64_be(b: Option<Vec<u8>>) -> i64 {
    b.and_then(|v| v.as_slice().try_into().ok())
        .map(i64::from_be_bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mass delete arrives as one batch far larger than a memtable; its memory must not stay resident until
    /// some later write happens to come along.
    #[test]
    fn a_large_batch_does_not_leave_its_memtable_resident() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut wb = WriteBatch::default();
        let cf = db.cf(CF_KV).unwrap();
        for i in 0..60_000u32 {
            wb.put_cf(cf, format!("key/{i:08}").repeat(4), [i as u8; 512]);
        }
        assert!(wb.size_in_bytes() > 3 * write_buffer_bytes(CF_KV));
        db.write(wb, false).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (memtables, _, _) = db.memory_bytes();
            if memtables < write_buffer_bytes(CF_KV) as u64 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "memtables still hold {memtables} bytes with no further writes"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Nothing was lost by the flush.
        let n = db
            .db
            .iterator_cf(db.cf(CF_KV).unwrap(), rocksdb::IteratorMode::Start)
            .count();
        assert_eq!(n, 60_000);
    }

    /// A second server pointed at a data directory in use is refused with a message that says so, and the
    /// first one keeps its data.
    #[test]
    fn a_data_dir_in_use_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mut wb = WriteBatch::default();
        wb.put_cf(db.cf(CF_KV).unwrap(), b"k", b"v");
        db.write(wb, true).unwrap();
        let err = Db::open(dir.path()).err().expect("second open refused");
        assert!(matches!(err, StorageError::InUse { .. }), "{err:?}");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        assert_eq!(db.get_cf(CF_KV, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }

    /// After presizing, the WAL file an opened store writes to already has its size (so an acknowledged write's
    /// `fdatasync` need not also write the file size), on every open, and what was written survives a reopen.
    #[test]
    fn writes_go_to_a_presized_wal_that_recovers_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let wal_in_use = |db: &Db| {
            let newest = std::fs::read_dir(&db.path)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .max()
                .expect("a WAL file");
            std::fs::metadata(newest).unwrap().len() as usize
        };
        for round in 0..2u8 {
            let db = Db::open(dir.path()).unwrap();
            db.presize_wal().unwrap();
            assert!(wal_in_use(&db) >= WAL_PRESIZE_BYTES, "open #{round}");
            let meta = db.cf(CF_META).unwrap();
            assert_eq!(db.db.get_cf(meta, WAL_PRESIZE_MARKER).unwrap(), None);
            if round == 1 {
                assert_eq!(db.get_cf(CF_KV, b"k").unwrap().as_deref(), Some(&b"v"[..]));
            }
            let mut wb = WriteBatch::default();
            wb.put_cf(db.cf(CF_KV).unwrap(), b"k", b"v");
            db.write(wb, true).unwrap();
            // Dropped without a flush: the write is only in the (recycled) WAL.
        }
    }
}
