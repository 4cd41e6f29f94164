//! `kvstore --restore FILE`: a backup from `kvctl snapshot save` (or `Maintenance.Snapshot`) becomes the data dir
//! of a member of a new cluster, as `etcdctl snapshot restore` does: the keys, their revisions and the leases are
//! kept; the membership and cluster id come from the flags (`--initial-cluster`), and the raft log starts afresh.

use std::path::Path;

use rocksdb::WriteBatch;

use crate::config::ServerConfig;
use crate::snapshot;
use crate::storage::{meta, Db, StorageError, CF_META};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("data dir {0} already holds a member; restore into a new data dir")]
    NotEmpty(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub fn restore(file: &Path, cfg: &ServerConfig) -> Result<(), RestoreError> {
    if cfg.data_dir.join("db").exists() {
        return Err(RestoreError::NotEmpty(cfg.data_dir.display().to_string()));
    }
    snapshot::verify_backup(file)?;
    let f =
        std::fs::File::open(file).map_err(|e| RestoreError::Io(file.display().to_string(), e))?;
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| RestoreError::Io(cfg.data_dir.display().to_string(), e))?;
    let db = Db::open_with_wal(&cfg.data_dir, cfg.wal_dir.as_deref())?;
    snapshot::load_state(&db, f)?;
    let mut wb = WriteBatch::default();
    cfg.initial.put(&db, &mut wb)?;
    // The source's raft position means nothing in the new cluster; bootstrap sets it.
    wb.delete_cf(db.cf(CF_META)?, meta::APPLIED_INDEX);
    db.write(wb, true)?;
    let revision = crate::storage::i64_be(db.get_cf(CF_META, meta::REVISION)?);
    tracing::info!(file = %file.display(), revision, data_dir = %cfg.data_dir.display(), "restored a backup");
    Ok(())
}
