//! etcd's MVCC model on RocksDB: every change gets a cluster-wide revision; each key keeps its history
//! (create_revision, mod_revision, version, lease per revision) until compaction.
//!
//! * [`keys`]: the byte layouts (key + inverted revision; revision → key).
//! * [`read`]: point, range and history reads at a revision over a consistent snapshot.
//! * [`write`]: the writes of one request, with an overlay for batched apply.
//! * [`compact`]: physical removal of compacted revisions, off the write path.

pub mod compact;
pub mod keys;
pub mod read;
pub mod write;

#[cfg(test)]
mod tests;
