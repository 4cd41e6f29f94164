//! What the Ready loop and apply publish for everyone else to read without a lock: revisions, raft indexes,
//! term and leader, and the cluster membership.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

use kvstore_proto::etcdserverpb::{Member, ResponseHeader};
use serde::{Deserialize, Serialize};

use crate::error::EtcdError;
use crate::storage::{self, meta, Db, CF_META};

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

/// Cluster identity and membership, persisted at bootstrap and with every change (`meta::MEMBERSHIP`, in the
/// same batch as the applied index, so it travels in snapshots too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub cluster_id: u64,
    pub members: Vec<MemberInfo>,
    /// Members removed at runtime: their messages are refused, so a removed member that comes back learns it
    /// and stops instead of disrupting the cluster (etcd's rule).
    #[serde(default)]
    pub removed: Vec<u64>,
}

impl Membership {
    /// The membership stored in `db`, if there is one yet.
    pub fn load(db: &Db) -> storage::Result<Option<Membership>> {
        let Some(raw) = db.get_cf(CF_META, meta::MEMBERSHIP)? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| storage::StorageError::Corrupt {
                path: db.path.clone(),
                what: format!("membership: {e}"),
            })
    }

    /// Adds the write that stores this membership to `wb`.
    pub fn put(&self, db: &Db, wb: &mut rocksdb::WriteBatch) -> storage::Result<()> {
        let raw = serde_json::to_vec(self).map_err(|e| storage::StorageError::Corrupt {
            path: db.path.clone(),
            what: format!("membership: {e}"),
        })?;
        wb.put_cf(db.cf(CF_META)?, meta::MEMBERSHIP, raw);
        Ok(())
    }

    /// The ids of every member but `me`.
    pub fn others(&self, me: u64) -> Vec<u64> {
        self.members
            .iter()
            .map(|m| m.id)
            .filter(|&id| id != me)
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Checks that `m` can join: a fresh id and peer URLs no member uses.
    pub fn check_add(&self, m: &MemberInfo) -> Result<(), EtcdError> {
        if self.removed.contains(&m.id) {
            return Err(EtcdError::MemberRemoved);
        }
        if self.get(m.id).is_some() {
            return Err(EtcdError::MemberExists);
        }
        self.check_urls(m.id, &m.peer_urls)
    }

    /// Checks that `urls` are used by no member but `id`.
    pub fn check_urls(&self, id: u64, urls: &[String]) -> Result<(), EtcdError> {
        let taken = self
            .members
            .iter()
            .filter(|x| x.id != id)
            .any(|x| x.peer_urls.iter().any(|u| urls.contains(u)));
        if taken {
            return Err(EtcdError::PeerUrlExists);
        }
        Ok(())
    }

    pub fn add(&mut self, m: MemberInfo) {
        self.members.retain(|x| x.id != m.id);
        self.members.push(m);
        self.members.sort_by_key(|m| m.id);
    }

    pub fn remove(&mut self, id: u64) {
        self.members.retain(|x| x.id != id);
        if !self.removed.contains(&id) {
            self.removed.push(id);
        }
    }

    pub fn promote(&mut self, id: u64) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == id) {
            m.is_learner = false;
        }
    }

    /// Peer URLs of a member that exists (MemberUpdate).
    pub fn update_peer_urls(&mut self, id: u64, urls: Vec<String>) -> Result<(), EtcdError> {
        self.check_urls(id, &urls)?;
        let m = self
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(EtcdError::MemberNotFound)?;
        m.peer_urls = urls;
        Ok(())
    }

    /// Name and client URLs a member publishes when it starts (etcd's `publish`).
    pub fn set_attributes(
        &mut self,
        id: u64,
        name: String,
        client_urls: Vec<String>,
    ) -> Result<(), EtcdError> {
        let m = self
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(EtcdError::MemberNotFound)?;
        m.name = name;
        m.client_urls = client_urls;
        Ok(())
    }
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
    pub membership: RwLock<Membership>,
    /// The raised alarms (replicated; see [`crate::quota`]).
    pub alarms: RwLock<crate::quota::Alarms>,
    /// The database's size as last measured (refreshed every second), for the space quota.
    pub db_size: AtomicU64,
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
        self.membership
            .read()
            .map(|m| m.members.clone())
            .unwrap_or_default()
    }

    pub fn membership(&self) -> Membership {
        self.membership
            .read()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn alarms(&self) -> crate::quota::Alarms {
        self.alarms.read().map(|a| a.clone()).unwrap_or_default()
    }

    pub fn set_alarms(&self, a: crate::quota::Alarms) {
        if let Ok(mut cur) = self.alarms.write() {
            *cur = a;
        }
    }

    /// Whether some member's NOSPACE alarm is up: writes that add data are refused.
    pub fn no_space(&self) -> bool {
        self.alarms.read().is_ok_and(|a| a.no_space())
    }

    /// Whether some member's CORRUPT alarm is up: no mutation is applied.
    pub fn corrupt(&self) -> bool {
        self.alarms.read().is_ok_and(|a| a.corrupt())
    }

    pub fn set_membership(&self, m: Membership) {
        if let Ok(mut cur) = self.membership.write() {
            *cur = m;
        }
    }

    /// The peer URLs of member `id`, if it is a member.
    pub fn peer_urls(&self, id: u64) -> Vec<String> {
        self.membership
            .read()
            .ok()
            .and_then(|m| m.get(id).map(|x| x.peer_urls.clone()))
            .unwrap_or_default()
    }

    /// Whether this member is a learner: etcd serves a learner's clients only Status and serializable reads.
    pub fn is_learner(&self) -> bool {
        let me = self.member_id.load(Relaxed);
        self.membership
            .read()
            .map(|m| m.get(me).is_some_and(|x| x.is_learner))
            .unwrap_or(false)
    }

    pub fn is_removed(&self, id: u64) -> bool {
        self.membership
            .read()
            .map(|m| m.removed.contains(&id))
            .unwrap_or(false)
    }
}
