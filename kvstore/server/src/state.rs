//! What the Ready loop and apply publish for everyone else to read without a lock: revisions, raft indexes,
//! term and leader, and the cluster membership.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

use kvstore_proto::etcdserverpb::{Member, ResponseHeader};
use serde::{Deserialize, Serialize};

/// One cluster member as configured and persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl MemberInfo {
    pub fn to_proto(&self) -> Member {
        Member {
            id: self.id,
            name: self.name.clone(),
            peer_ur_ls: self.peer_urls.clone(),
            client_ur_ls: self.client_urls.clone(),
            is_learner: self.is_learner,
        }
    }
}

/// Cluster identity and membership, persisted at bootstrap (`meta::MEMBERSHIP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub cluster_id: u64,
    pub members: Vec<MemberInfo>,
}

/// Live counters of this member.
#[derive(Debug, Default)]
pub struct ServerState {
    pub cluster_id: AtomicU64,
    pub member_id: AtomicU64,
    /// Current store revision (after the last applied batch).
    pub revision: AtomicI64,
    pub compact_revision: AtomicI64,
    pub applied_index: AtomicU64,
    pub commit_index: AtomicU64,
    pub term: AtomicU64,
    /// Current leader's member id, 0 when none is known.
    pub leader: AtomicU64,
    pub is_leader: AtomicBool,
    pub members: RwLock<Vec<MemberInfo>>,
}

impl ServerState {
    /// A response header at `revision` (etcd fills the applied revision for KV calls, the current one elsewhere).
    pub fn header_at(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.cluster_id.load(Relaxed),
            member_id: self.member_id.load(Relaxed),
            revision,
            raft_term: self.term.load(Relaxed),
        }
    }

    pub fn header(&self) -> ResponseHeader {
        self.header_at(self.revision.load(Relaxed))
    }

    pub fn members(&self) -> Vec<MemberInfo> {
        self.members.read().map(|m| m.clone()).unwrap_or_default()
    }
}
