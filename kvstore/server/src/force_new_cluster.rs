//! etcd's `--force-new-cluster`: the way back when a cluster lost its quorum for good (the other members'
//! machines are gone). The member restarts as the only member of its cluster, keeping its data, its member id and
//! the cluster id; the other members are removed and, should one come back, refused.
//!
//! As etcd does it, this is a rewrite of the member's own raft log before raft starts: entries after the commit
//! index are dropped (nobody can commit them any more), a conf change removing each other member is appended,
//! and the commit index is moved past them. Raft then applies the removals as committed entries, through the same
//! path as `member remove`, so the member list, the raft configuration and the removed-members list agree; with
//! itself the only voter left, the member elects itself. Running it again on a cluster of one changes nothing.

use raft::prelude::{ConfChange, ConfChangeType, ConfState, Entry, EntryType};

use crate::node::{ConfChangeContext, MemberChange, MemberChangeKind};
use crate::state::{MemberInfo, Membership};
use crate::storage::raft_log::RaftLog;
use crate::storage::{self, Db, StorageError};

/// Every member of `conf` (voters and learners) but `me`, in id order.
pub fn others(me: u64, conf: &ConfState) -> Vec<u64> {
    let mut others: Vec<u64> = conf
        .voters
        .iter()
        .chain(&conf.learners)
        .copied()
        .filter(|id| *id != me)
        .collect();
    others.sort_unstable();
    others.dedup();
    others
}

/// Entries that remove the members `ids`, numbered from `first_index`, in `term`. A member the member list does
/// not know is removed by id alone.
pub fn removal_entries(
    ids: &[u64],
    members: &Membership,
    term: u64,
    first_index: u64,
) -> Result<Vec<Entry>, String> {
    ids.iter()
        .copied()
        .zip(first_index..)
        .map(|(id, index)| {
            let mut cc = ConfChange {
                node_id: id,
                ..Default::default()
            };
            cc.set_change_type(ConfChangeType::RemoveNode);
            let member = members
                .members
                .iter()
                .find(|m| m.id == id)
                .cloned()
                .unwrap_or(MemberInfo {
                    id,
                    name: String::new(),
                    peer_urls: Vec::new(),
                    client_urls: Vec::new(),
                    is_learner: false,
                });
            // Proposer 0 is no member: nobody waits for the answer.
            let context = serde_json::to_vec(&ConfChangeContext {
                id: 0,
                proposer: 0,
                change: MemberChange {
                    kind: MemberChangeKind::Remove,
                    member,
                },
            })
            .map_err(|e| format!("conf change context: {e}"))?;
            let data =
                protobuf::Message::write_to_bytes(&cc).map_err(|e| format!("conf change: {e}"))?;
            let mut e = Entry {
                term,
                index,
                data: data.into(),
                context: context.into(),
                ..Default::default()
            };
            e.set_entry_type(EntryType::EntryConfChange);
            Ok(e)
        })
        .collect()
}

/// Rewrites `log` so that this member (`me`) restarts as its cluster's only member (see the module docs);
/// `applied` is the state machine's applied index. Returns the ids of the members removed (none if `me` is alone
/// already). The rewrite is one synced write.
pub fn force(
    log: &mut RaftLog,
    db: &Db,
    me: u64,
    membership: &Membership,
    applied: u64,
) -> storage::Result<Vec<u64>> {
    let mut hs = log.hard_state().clone();
    let commit = hs.commit.max(applied);
    let removed = others(me, log.conf_state());
    let entries = removal_entries(&removed, membership, hs.term, commit + 1).map_err(|what| {
        StorageError::Corrupt {
            path: db.path.clone(),
            what,
        }
    })?;
    let Some(last) = entries.last() else {
        return Ok(Vec::new());
    };
    let mut wb = rocksdb::WriteBatch::default();
    // Appending right after the commit index drops the uncommitted entries that followed it.
    log.append(&mut wb, &entries)?;
    hs.commit = last.index;
    log.set_hard_state(&mut wb, &hs)?;
    db.write(wb, true)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str) -> MemberInfo {
        MemberInfo {
            id,
            name: name.into(),
            peer_urls: vec![format!("http://{name}:2380")],
            client_urls: Vec::new(),
            is_learner: false,
        }
    }

    #[test]
    fn every_other_voter_and_learner_is_removed_after_the_commit_index() {
        let conf = ConfState {
            voters: vec![3, 1, 2],
            learners: vec![4],
            ..Default::default()
        };
        let members = Membership {
            cluster_id: 9,
            members: vec![member(1, "a"), member(2, "b"), member(3, "c")],
            removed: Vec::new(),
        };
        assert_eq!(others(2, &conf), vec![1, 3, 4]);
        let entries = removal_entries(&others(2, &conf), &members, 7, 41).unwrap();
        let removed: Vec<(u64, u64, u64)> = entries
            .iter()
            .map(|e| {
                let cc = <ConfChange as protobuf::Message>::parse_from_bytes(&e.data).unwrap();
                assert_eq!(cc.get_change_type(), ConfChangeType::RemoveNode);
                assert_eq!(e.get_entry_type(), EntryType::EntryConfChange);
                (e.index, e.term, cc.node_id)
            })
            .collect();
        assert_eq!(removed, vec![(41, 7, 1), (42, 7, 3), (43, 7, 4)]);
        // The context names the member as the member list has it, so apply removes that entry.
        let ctx: ConfChangeContext = serde_json::from_slice(&entries[0].context).unwrap();
        assert_eq!(ctx.change.member, member(1, "a"));
        assert_eq!(ctx.change.kind, MemberChangeKind::Remove);
        assert_eq!(ctx.proposer, 0);

        let alone = ConfState {
            voters: vec![2],
            ..Default::default()
        };
        assert!(others(2, &alone).is_empty());
    }
}
