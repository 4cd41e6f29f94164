//! `--experimental-initial-corrupt-check`, etcd's: before a restarted member takes part in raft or serves a
//! client, it hashes its key-value history up to its own revision and asks every peer for the hash of theirs up
//! to the same revision (`HashKV` over the peer URL). A peer with the same compacted revision and another hash
//! means this member's data (or the peer's) went bad on disk — the member refuses to start rather than serve
//! and spread it. Peers that cannot answer (down, behind, compacted past that revision) are logged and do not
//! stop the start, as in etcd. [`verdict`] is the decision, the rest fetches.

use std::sync::Arc;

use kvstore_proto::etcdserverpb::{HashKvRequest, HashKvResponse};

use crate::mvcc::read::Reader;
use crate::peer::forward::{Forwarder, Kind};
use crate::storage::{self, Db};

/// This member's hash of its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalHash {
    pub revision: i64,
    pub compact_revision: i64,
    pub hash: u32,
}

/// What one peer answered for the same revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerHash {
    Hash {
        member: u64,
        hash: u32,
        compact_revision: i64,
    },
    /// The peer has not reached the revision (`mvcc: required revision is a future revision`).
    Behind { member: u64 },
    /// The peer compacted past it.
    Compacted { member: u64 },
    /// No answer, or another error.
    Unavailable { member: u64, reason: String },
}

/// The peers whose data disagrees with this member's, and one line per peer that could not be compared.
pub fn verdict(local: LocalHash, peers: &[PeerHash]) -> (Vec<u64>, Vec<String>) {
    let mut mismatched = Vec::new();
    let mut notes = Vec::new();
    for p in peers {
        match p {
            PeerHash::Hash {
                member,
                hash,
                compact_revision,
            } => {
                if *hash == local.hash {
                    continue;
                }
                if *compact_revision == local.compact_revision {
                    mismatched.push(*member);
                } else {
                    // Different compactions hash different ranges: not comparable.
                    notes.push(format!(
                        "{member:x}: compacted at {compact_revision}, this member at {}; not compared",
                        local.compact_revision
                    ));
                }
            }
            PeerHash::Behind { member } => notes.push(format!(
                "{member:x}: has not reached revision {} yet; not compared",
                local.revision
            )),
            PeerHash::Compacted { member } => notes.push(format!(
                "{member:x}: compacted past revision {}; this member is behind; not compared",
                local.revision
            )),
            PeerHash::Unavailable { member, reason } => {
                notes.push(format!("{member:x}: no hash ({reason}); not compared"))
            }
        }
    }
    (mismatched, notes)
}

/// Hashes this member's history at its current revision.
pub fn local_hash(db: &Arc<Db>) -> storage::Result<LocalHash> {
    let snap = db.db.snapshot();
    let reader = Reader::at_snapshot(db, &snap);
    let revision = reader.current_revision()?;
    Ok(LocalHash {
        revision,
        // As peers report it in HashKV.
        compact_revision: crate::rpc::maintenance::reported_compact_revision(
            reader.compact_revision()?,
        ),
        hash: reader.hash_kv(revision)?,
    })
}

/// Asks every peer at once for its hash at `local.revision`.
pub async fn peer_hashes(forwarder: &Forwarder, peers: &[u64], revision: i64) -> Vec<PeerHash> {
    let req = HashKvRequest { revision };
    let asks = peers.iter().map(|&member| async move {
        match forwarder
            .to_member::<_, HashKvResponse>(member, Kind::HashKv, &req)
            .await
        {
            Ok(Ok(r)) => PeerHash::Hash {
                member,
                hash: r.hash,
                compact_revision: r.compact_revision,
            },
            Ok(Err(status)) if status.message().contains("future revision") => {
                PeerHash::Behind { member }
            }
            Ok(Err(status)) if status.message().contains("compacted") => {
                PeerHash::Compacted { member }
            }
            Ok(Err(status)) => PeerHash::Unavailable {
                member,
                reason: status.message().to_string(),
            },
            Err(e) => PeerHash::Unavailable {
                member,
                reason: e.to_string(),
            },
        }
    });
    futures::future::join_all(asks).await
}

/// Runs the check; `Err` names the peers that disagree.
pub async fn check(db: &Arc<Db>, forwarder: &Forwarder, peers: &[u64]) -> Result<(), String> {
    let local = local_hash(db).map_err(|e| format!("cannot hash the local store: {e}"))?;
    tracing::info!(
        revision = local.revision,
        hash = local.hash,
        peers = peers.len(),
        "starting the initial corruption check"
    );
    let answers = peer_hashes(forwarder, peers, local.revision).await;
    let (mismatched, notes) = verdict(local, &answers);
    for note in notes {
        tracing::warn!("initial corruption check: {note}");
    }
    if mismatched.is_empty() {
        tracing::info!("initial corruption check passed: no peer disagrees");
        return Ok(());
    }
    let ids: Vec<String> = mismatched.iter().map(|id| format!("{id:x}")).collect();
    Err(format!(
        "found data inconsistency with peers: the hash of the history up to revision {} ({}) differs on {} \
         (--experimental-initial-corrupt-check)",
        local.revision,
        local.hash,
        ids.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: LocalHash = LocalHash {
        revision: 100,
        compact_revision: 40,
        hash: 7,
    };

    #[test]
    fn a_different_hash_over_the_same_compaction_is_a_mismatch() {
        let peers = [
            PeerHash::Hash {
                member: 1,
                hash: 7,
                compact_revision: 40,
            },
            PeerHash::Hash {
                member: 2,
                hash: 8,
                compact_revision: 40,
            },
        ];
        let (bad, notes) = verdict(LOCAL, &peers);
        assert_eq!(bad, vec![2]);
        assert!(notes.is_empty());
    }

    #[test]
    fn peers_that_cannot_be_compared_are_noted_not_counted() {
        let peers = [
            PeerHash::Hash {
                member: 1,
                hash: 9,
                compact_revision: 50,
            },
            PeerHash::Behind { member: 2 },
            PeerHash::Compacted { member: 3 },
            PeerHash::Unavailable {
                member: 4,
                reason: "connection refused".into(),
            },
        ];
        let (bad, notes) = verdict(LOCAL, &peers);
        assert!(bad.is_empty());
        assert_eq!(notes.len(), 4);
        assert!(notes[0].contains("compacted at 50"), "{notes:?}");
        assert!(notes[3].contains("connection refused"), "{notes:?}");
    }
}
