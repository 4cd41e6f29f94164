//! etcd's corruption checks, both comparing hashes of the key-value history (`HashKV`, asked of peers over the
//! peer URL as etcd's `/members/hashkv`):
//!
//! - `--experimental-initial-corrupt-check`: before a restarted member takes part in raft or serves a client, it
//!   hashes its history up to its own revision and asks every peer for theirs up to the same revision. A peer
//!   with the same compacted revision and another hash means this member's data (or the peer's) went bad on
//!   disk — the member refuses to start rather than serve and spread it. Peers that cannot answer (down,
//!   behind, compacted past that revision) are logged and do not stop the start. [`verdict`] decides.
//! - `--experimental-corrupt-check-time`: every interval the leader hashes its history, asks the followers, and
//!   raises the CORRUPT alarm for a member whose hash differs over the same compaction, or that claims a newer
//!   revision or compaction than the leader's (its own, if its store changed under it). While a CORRUPT alarm is
//!   up the cluster applies no change to keys or leases ("etcdserver: corrupt cluster") until an operator
//!   repairs the member and disarms it. [`periodic_verdict`] decides.

use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use kvstore_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmRequest, AlarmType, HashKvRequest, HashKvResponse,
};
use kvstore_proto::internal::raft_request::Request as Raft;

use crate::error::EtcdError;
use crate::node::NodeHandle;
use crate::peer::forward::{Forwarder, Kind};
use crate::state::ServerState;
use crate::storage::Db;

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
        /// The peer's current revision when it answered.
        revision: i64,
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
                ..
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

/// Hashes this member's history at its current revision, as a peer's HashKV reports its own.
pub fn local_hash(db: &Arc<Db>) -> Result<LocalHash, EtcdError> {
    let (hash, compact_revision, revision) = crate::rpc::maintenance::hash_at(db, 0)?;
    Ok(LocalHash {
        revision,
        compact_revision,
        hash,
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
                revision: r.header.map_or(0, |h| h.revision),
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

/// The members the leader (`me`) finds corrupt in one periodic pass, as etcd's `checkHashKV` decides: `before`
/// is its hash when it asked the peers, `after` its hash once it had applied everything committed by then.
pub fn periodic_verdict(
    me: u64,
    before: LocalHash,
    after: LocalHash,
    peers: &[PeerHash],
) -> Vec<u64> {
    let mut suspects = Vec::new();
    // The same revision and compaction hashed twice with different results: this member's store changed under it.
    if after.hash != before.hash
        && after.revision == before.revision
        && after.compact_revision == before.compact_revision
    {
        suspects.push(me);
    }
    for p in peers {
        let PeerHash::Hash {
            member,
            hash,
            compact_revision,
            revision,
        } = p
        else {
            continue;
        };
        let corrupt = *revision > after.revision
            || *compact_revision > after.compact_revision
            || (*compact_revision == before.compact_revision && *hash != before.hash);
        if corrupt && !suspects.contains(member) {
            suspects.push(*member);
        }
    }
    suspects
}

/// One periodic pass on the leader.
async fn periodic_pass(
    db: &Arc<Db>,
    forwarder: &Forwarder,
    node: &NodeHandle,
    peers: &[u64],
) -> Result<Vec<u64>, String> {
    let before = local_hash(db).map_err(|e| e.to_string())?;
    let answers = peer_hashes(forwarder, peers, before.revision).await;
    node.read_index().await.map_err(|e| e.to_string())?;
    let after = local_hash(db).map_err(|e| e.to_string())?;
    Ok(periodic_verdict(forwarder.me, before, after, &answers))
}

/// `--experimental-corrupt-check-time`: every `interval`, while this member leads, compares the members'
/// hashes and raises a CORRUPT alarm for each member found corrupt.
pub async fn run_periodic(
    interval: Duration,
    db: Arc<Db>,
    forwarder: Forwarder,
    node: NodeHandle,
    state: Arc<ServerState>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if !state.is_leader.load(Relaxed) {
            continue;
        }
        let peers = state.membership().others(forwarder.me);
        let suspects = match periodic_pass(&db, &forwarder, &node, &peers).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "corruption check could not run");
                continue;
            }
        };
        for member in suspects {
            if state.alarms().is_raised(member, AlarmType::Corrupt) {
                continue;
            }
            tracing::error!(
                member = format!("{member:x}"),
                "corruption check: this member's history differs; raising the CORRUPT alarm"
            );
            let alarm = Raft::Alarm(AlarmRequest {
                action: AlarmAction::Activate as i32,
                member_id: member,
                alarm: AlarmType::Corrupt as i32,
            });
            if let Err(e) = node.propose(alarm).await {
                tracing::warn!(error = %e, "could not raise the CORRUPT alarm");
            }
        }
    }
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
                revision: 100,
            },
            PeerHash::Hash {
                member: 2,
                hash: 8,
                compact_revision: 40,
                revision: 100,
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
                revision: 100,
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

    #[test]
    fn the_leader_suspects_followers_that_differ_or_run_ahead_and_itself_if_its_store_changed() {
        let hash = |member, hash, compact_revision, revision| PeerHash::Hash {
            member,
            hash,
            compact_revision,
            revision,
        };
        // History moved on between the two hashes: only what the peers said counts.
        let after = LocalHash {
            revision: 105,
            hash: 11,
            ..LOCAL
        };
        let peers = [
            hash(1, 7, 40, 100),            // agrees
            hash(2, 8, 40, 100),            // same compaction, other hash
            hash(3, 7, 40, 106),            // claims a revision the leader has not reached
            hash(4, 5, 45, 100),            // compacted further than the leader
            hash(5, 9, 30, 100),            // compacted less: not comparable, not suspect
            PeerHash::Behind { member: 6 }, // not comparable
        ];
        assert_eq!(periodic_verdict(9, LOCAL, after, &peers), vec![2, 3, 4]);
        // The leader's own store changed while nothing was written.
        let changed = LocalHash { hash: 8, ..LOCAL };
        assert_eq!(
            periodic_verdict(9, LOCAL, changed, &[hash(1, 7, 40, 100)]),
            vec![9]
        );
        assert!(periodic_verdict(9, LOCAL, LOCAL, &[hash(1, 7, 40, 100)]).is_empty());
    }
}
