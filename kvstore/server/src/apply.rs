//! The state machine: applies committed raft entries to the MVCC store and the lessor.
//!
//! One call to [`Applier::apply`] handles one run of committed entries as one RocksDB batch (together with the
//! applied index, so a crash replays exactly the entries not yet applied), then publishes the batch's events to
//! watchers and hands each proposer its result. Everything here is deterministic in the entry data and prior
//! state, so every member computes the same store.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kvstore_proto::etcdserverpb::{
    alarm_request::AlarmAction, request_op::Request, response_op::Response as OpResponse,
    AlarmRequest, AlarmResponse, AlarmType, CompactionRequest, CompactionResponse,
    DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, PutRequest, PutResponse, RangeRequest, RequestOp,
    ResponseOp, TxnRequest, TxnResponse,
};
use kvstore_proto::internal::{raft_request, RaftRequest};
use kvstore_proto::mvccpb::Event;
use prost::Message as _;
use raft::prelude::Entry;
use rocksdb::WriteBatch;
use tokio::sync::oneshot;

use crate::error::EtcdError;
use crate::kv_ops;
use crate::lease::Lessor;
use crate::mvcc::read::{LatestCursor, Reader};
use crate::mvcc::write::{lease_entry, LeaseChange, Overlay, Staged, WriteTxn};
use crate::state::{MemberInfo, Membership, ServerState};
use crate::storage::{self, meta, Db, CF_LEASE, CF_META};
use crate::watch::{WatchBatch, WatchHub};

/// The result of one applied request.
#[derive(Debug)]
pub enum Response {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    /// With `physical`, a receiver that fires once the removal is done.
    Compaction(CompactionResponse, Option<oneshot::Receiver<()>>),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
    Alarm(AlarmResponse),
    /// A membership change: the member it concerns and the members after it.
    Members(Option<MemberInfo>, Vec<MemberInfo>),
}

/// One applied entry's outcome, for its proposer.
#[derive(Debug)]
pub struct Applied {
    pub id: u64,
    pub proposer: u64,
    pub result: Result<Response, EtcdError>,
}

/// A compaction for the background compactor: revision, and who waits for it.
pub type CompactJob = (i64, Option<oneshot::Sender<()>>);

pub struct Applier {
    db: Arc<Db>,
    lessor: Arc<Mutex<Lessor>>,
    state: Arc<ServerState>,
    watch: WatchHub,
    compactor: std::sync::mpsc::Sender<CompactJob>,
    revision: i64,
    compact_revision: i64,
    applied_index: u64,
}

impl From<storage::StorageError> for EtcdError {
    fn from(e: storage::StorageError) -> Self {
        EtcdError::Storage(e.to_string())
    }
}

impl Applier {
    /// Loads revisions, the applied index and the leases from `db`, and resumes an unfinished compaction.
    pub fn open(
        db: Arc<Db>,
        lessor: Arc<Mutex<Lessor>>,
        state: Arc<ServerState>,
        watch: WatchHub,
        compactor: std::sync::mpsc::Sender<CompactJob>,
    ) -> storage::Result<Applier> {
        let mut a = Applier {
            db,
            lessor,
            state,
            watch,
            compactor,
            revision: 1,
            compact_revision: 0,
            applied_index: 0,
        };
        a.load()?;
        Ok(a)
    }

    /// (Re)reads everything the applier keeps in memory from the store: at start-up, and after a snapshot
    /// replaced the state machine. Watchers are then told to catch up from the store's history.
    pub fn load(&mut self) -> storage::Result<()> {
        let (db, lessor, state, compactor) = (&self.db, &self.lessor, &self.state, &self.compactor);
        // An empty store is at revision 1, as in etcd: the first write is revision 2.
        let revision = match db.get_cf(CF_META, meta::REVISION)? {
            Some(b) => storage::i64_be(Some(b)),
            None => 1,
        };
        let compact_revision = storage::i64_be(db.get_cf(CF_META, meta::COMPACT_REVISION)?);
        let finished = storage::i64_be(db.get_cf(CF_META, meta::COMPACT_FINISHED)?);
        let applied_index = storage::u64_be(db.get_cf(CF_META, meta::APPLIED_INDEX)?);
        {
            let mut l = lessor.lock().map_err(|_| poisoned(db))?;
            l.clear();
            let mut it = db.db.raw_iterator_cf(db.cf(CF_LEASE)?);
            it.seek_to_first();
            // Attachments ('k') sort before the lease record ('t'): restore leases first, attach after.
            let mut attached = Vec::new();
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if k.len() >= 9 {
                    let id = i64::from_be_bytes(k[..8].try_into().map_err(|_| poisoned(db))?);
                    match k[8] {
                        b't' => l.restore(id, storage::i64_be(Some(v.to_vec()))),
                        b'k' => attached.push((id, k[9..].to_vec())),
                        _ => {}
                    }
                }
                it.next();
            }
            it.status().map_err(|e| db.err(e))?;
            for (id, key) in attached {
                l.attach(id, &key);
            }
        }
        if finished < compact_revision {
            let _ = compactor.send((compact_revision, None));
        }
        if let Some(m) = Membership::load(db)? {
            state.set_membership(m);
        }
        let alarms = match db.get_cf(CF_META, meta::ALARMS)? {
            Some(b) => {
                crate::quota::Alarms::decode(&b).map_err(|e| storage::StorageError::Corrupt {
                    path: db.path.clone(),
                    what: format!("alarms: {e}"),
                })?
            }
            None => crate::quota::Alarms::default(),
        };
        state.set_alarms(alarms);
        state.revision.store(revision, Relaxed);
        state.compact_revision.store(compact_revision, Relaxed);
        state.applied_index.store(applied_index, Relaxed);
        let resync = self.applied_index != 0 && revision != self.revision;
        self.revision = revision;
        self.compact_revision = compact_revision;
        self.applied_index = applied_index;
        if resync {
            // An empty batch past every watcher's position: each reads what it missed from history.
            self.watch.publish(WatchBatch {
                first_rev: revision + 1,
                last_rev: revision,
                events: Vec::new(),
            });
        }
        Ok(())
    }

    /// Records an applied conf change: the new membership and the applied index, into `wb` (which also carries
    /// the new conf state), written by the caller.
    pub fn record_membership(
        &mut self,
        wb: &mut WriteBatch,
        membership: Membership,
        index: u64,
    ) -> storage::Result<()> {
        membership.put(&self.db, wb)?;
        wb.put_cf(
            self.db.cf(CF_META)?,
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        self.state.set_membership(membership);
        Ok(())
    }

    /// After the caller wrote the batch from [`Applier::record_membership`].
    pub fn mark_applied(&mut self, index: u64) {
        self.applied_index = self.applied_index.max(index);
        self.state.applied_index.store(self.applied_index, Relaxed);
    }

    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// Applies a run of committed normal entries. Storage errors are returned and are fatal for the member.
    pub fn apply(&mut self, entries: &[Entry]) -> storage::Result<Vec<Applied>> {
        let Some(last) = entries.last() else {
            return Ok(Vec::new());
        };
        let mut wb = WriteBatch::default();
        let mut overlay = Overlay::new();
        let db = self.db.clone();
        let cursor = LatestCursor::new(&db);
        let mut events = Vec::new();
        let mut out = Vec::new();
        let mut compactions = Vec::new();
        let first_rev = self.revision + 1;
        for e in entries {
            if e.data.is_empty() {
                continue;
            }
            let req = match RaftRequest::decode(&e.data[..]) {
                Ok(r) => r,
                Err(err) => {
                    tracing::error!(index = e.index, %err, "skipping undecodable raft entry");
                    continue;
                }
            };
            let result = self.apply_request(
                &req,
                &cursor,
                &mut wb,
                &mut overlay,
                &mut events,
                &mut compactions,
            );
            let result = match result {
                Err(EtcdError::Storage(msg)) => {
                    return Err(storage::StorageError::Corrupt {
                        path: self.db.path.clone(),
                        what: msg,
                    })
                }
                other => other,
            };
            out.push(Applied {
                id: req.id,
                proposer: req.proposer,
                result,
            });
        }
        // What was staged is in `wb` now: free it (and the cursor's pinned blocks) before RocksDB copies the batch
        // into its memtable, which can then reuse that memory (after a mass delete, hundreds of MB).
        drop(overlay);
        drop(cursor);
        let meta_cf = self.db.cf(CF_META)?;
        wb.put_cf(meta_cf, meta::APPLIED_INDEX, last.index.to_be_bytes());
        wb.put_cf(meta_cf, meta::REVISION, self.revision.to_be_bytes());
        wb.put_cf(
            meta_cf,
            meta::COMPACT_REVISION,
            self.compact_revision.to_be_bytes(),
        );
        self.db.write(wb, false)?;
        self.applied_index = last.index;
        self.state.revision.store(self.revision, Relaxed);
        self.state
            .compact_revision
            .store(self.compact_revision, Relaxed);
        self.state.applied_index.store(self.applied_index, Relaxed);
        if !events.is_empty() {
            self.watch.publish(WatchBatch {
                first_rev,
                last_rev: self.revision,
                events,
            });
        }
        for job in compactions {
            let _ = self.compactor.send(job);
        }
        Ok(out)
    }

    /// Records that entries up to `index` (conf changes, empty entries) were applied.
    pub fn set_applied(&mut self, index: u64) -> storage::Result<()> {
        if index <= self.applied_index {
            return Ok(());
        }
        let mut wb = WriteBatch::default();
        wb.put_cf(
            self.db.cf(CF_META)?,
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        self.db.write(wb, false)?;
        self.applied_index = index;
        self.state.applied_index.store(index, Relaxed);
        Ok(())
    }

    fn apply_request(
        &mut self,
        req: &RaftRequest,
        cursor: &LatestCursor<'_>,
        wb: &mut WriteBatch,
        overlay: &mut Overlay,
        events: &mut Vec<Event>,
        compactions: &mut Vec<CompactJob>,
    ) -> Result<Response, EtcdError> {
        use raft_request::Request as R;
        let Some(request) = &req.request else {
            return Err(EtcdError::InvalidArgument("empty raft request".into()));
        };
        // While a NOSPACE alarm is up, nothing that adds data is applied (etcd's capped applier); every member
        // decides the same, since the alarms are replicated state.
        if crate::quota::adds_data(request) && self.state.no_space() {
            return Err(EtcdError::NoSpace);
        }
        if crate::quota::refused_when_corrupt(request) && self.state.corrupt() {
            return Err(EtcdError::Corrupt);
        }
        match request {
            R::Alarm(a) => self.alarm(a, wb),
            R::Put(p) => {
                let mut txn = WriteTxn::new(cursor, overlay, self.revision, self.watched());
                let mut resp = self.put(&mut txn, p)?;
                self.commit(txn.finish(), wb, overlay, events)?;
                resp.header = Some(self.state.header_at(self.revision));
                Ok(Response::Put(resp))
            }
            R::DeleteRange(d) => {
                let mut txn = WriteTxn::new(cursor, overlay, self.revision, self.watched());
                let mut resp = delete_range(&mut txn, d)?;
                self.commit(txn.finish(), wb, overlay, events)?;
                resp.header = Some(self.state.header_at(self.revision));
                Ok(Response::DeleteRange(resp))
            }
            R::Txn(t) => {
                let mut txn = WriteTxn::new(cursor, overlay, self.revision, self.watched());
                let mut resp = self.txn(&mut txn, t)?;
                self.commit(txn.finish(), wb, overlay, events)?;
                resp.header = Some(self.state.header_at(self.revision));
                Ok(Response::Txn(resp))
            }
            R::Compaction(c) => self.compact(c, compactions),
            R::LeaseGrant(g) => self.lease_grant(g, wb),
            R::LeaseRevoke(r) => {
                let resp = self.lease_revoke(r, cursor, wb, overlay, events)?;
                Ok(Response::LeaseRevoke(resp))
            }
            R::MemberAttributes(a) => self.change_membership(wb, a.id, |m| {
                m.set_attributes(a.id, a.name.clone(), a.client_urls.clone())
            }),
            R::MemberUpdate(u) => {
                self.change_membership(wb, u.id, |m| m.update_peer_urls(u.id, u.peer_ur_ls.clone()))
            }
        }
    }

    /// Raises or disarms an alarm, written with the batch. The response lists the alarm if it changed.
    fn alarm(&mut self, a: &AlarmRequest, wb: &mut WriteBatch) -> Result<Response, EtcdError> {
        let kind = AlarmType::try_from(a.alarm)
            .map_err(|_| EtcdError::InvalidArgument(format!("unknown alarm type {}", a.alarm)))?;
        let mut alarms = self.state.alarms();
        let changed = match AlarmAction::try_from(a.action) {
            Ok(AlarmAction::Activate) => alarms.activate(a.member_id, kind),
            Ok(AlarmAction::Deactivate) => alarms.deactivate(a.member_id, kind),
            _ => {
                return Err(EtcdError::InvalidArgument(
                    "alarm action is not replicated".into(),
                ))
            }
        };
        if let Some(m) = &changed {
            tracing::warn!(
                member = format!("{:x}", m.member_id),
                alarm = kind.as_str_name(),
                action = a.action,
                "alarm changed"
            );
            wb.put_cf(self.db.cf(CF_META)?, meta::ALARMS, alarms.encode());
            self.state.set_alarms(alarms);
        }
        Ok(Response::Alarm(AlarmResponse {
            header: Some(self.state.header()),
            alarms: changed.into_iter().collect(),
        }))
    }

    /// A membership change that is not a raft conf change (names, URLs): written with the batch.
    fn change_membership(
        &mut self,
        wb: &mut WriteBatch,
        id: u64,
        change: impl FnOnce(&mut Membership) -> Result<(), EtcdError>,
    ) -> Result<Response, EtcdError> {
        let mut m = self.state.membership();
        change(&mut m)?;
        m.put(&self.db, wb)?;
        let member = m.get(id).cloned();
        let members = m.members.clone();
        self.state.set_membership(m);
        Ok(Response::Members(member, members))
    }

    fn commit(
        &mut self,
        mut staged: Staged,
        wb: &mut WriteBatch,
        overlay: &mut Overlay,
        events: &mut Vec<Event>,
    ) -> Result<(), EtcdError> {
        staged.write_into(&self.db, wb, overlay)?;
        {
            let mut lessor = self.lessor()?;
            for c in staged.lease_changes.drain(..) {
                match c {
                    LeaseChange::Attach(id, key) => lessor.attach(id, &key),
                    LeaseChange::Detach(id, key) => lessor.detach(id, &key),
                }
            }
        }
        if staged.changed() {
            self.revision = staged.revision;
        }
        events.append(&mut staged.events);
        Ok(())
    }

    /// Whether any watcher is open: events are only built for someone.
    fn watched(&self) -> bool {
        self.watch.watchers.load(Relaxed) > 0
    }

    fn lease_exists(&self, id: i64) -> Result<bool, EtcdError> {
        Ok(self.lessor()?.exists(id))
    }

    /// The lessor, locked. A poisoned lock means apply panicked half-way: nothing more may be applied.
    fn lessor(&self) -> Result<std::sync::MutexGuard<'_, Lessor>, EtcdError> {
        self.lessor
            .lock()
            .map_err(|_| EtcdError::Storage("lessor lock poisoned".into()))
    }

    fn put(&self, txn: &mut WriteTxn<'_>, p: &PutRequest) -> Result<PutResponse, EtcdError> {
        let (value, lease) = self.checked_put_values(txn, p)?;
        let (_, prev) = txn.put(&p.key, value, lease)?;
        Ok(PutResponse {
            header: None,
            prev_kv: if p.prev_kv { prev } else { None },
        })
    }

    /// The value and lease a put will write, or why it cannot (etcd's `checkRequestPut`).
    fn checked_put_values(
        &self,
        txn: &WriteTxn<'_>,
        p: &PutRequest,
    ) -> Result<(Vec<u8>, i64), EtcdError> {
        let (mut value, mut lease) = (p.value.clone(), p.lease);
        if p.ignore_value || p.ignore_lease {
            let prev = txn.latest(&p.key)?.ok_or(EtcdError::KeyNotFound)?;
            if p.ignore_value {
                value = prev.value;
            }
            if p.ignore_lease {
                lease = prev.lease;
            }
        }
        if lease != 0 && !self.lease_exists(lease)? {
            return Err(EtcdError::LeaseNotFound);
        }
        Ok((value, lease))
    }

    fn txn(&self, txn: &mut WriteTxn<'_>, t: &TxnRequest) -> Result<TxnResponse, EtcdError> {
        let succeeded = compares_hold(txn, t)?;
        let ops = if succeeded { &t.success } else { &t.failure };
        self.check_ops(txn, ops)?;
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            responses.push(self.exec_op(txn, op)?);
        }
        Ok(TxnResponse {
            header: None,
            succeeded,
            responses,
        })
    }

    /// Refuses the whole txn up front if a put in the branch that will run cannot be applied.
    fn check_ops(&self, txn: &WriteTxn<'_>, ops: &[RequestOp]) -> Result<(), EtcdError> {
        for op in ops {
            match &op.request {
                Some(Request::RequestPut(p)) => {
                    self.checked_put_values(txn, p)?;
                }
                Some(Request::RequestTxn(t)) => {
                    let ok = compares_hold(txn, t)?;
                    self.check_ops(txn, if ok { &t.success } else { &t.failure })?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn exec_op(&self, txn: &mut WriteTxn<'_>, op: &RequestOp) -> Result<ResponseOp, EtcdError> {
        let mut response = match &op.request {
            Some(Request::RequestRange(r)) => {
                OpResponse::ResponseRange(range_in_txn(&self.db, txn, r, self.compact_revision)?)
            }
            Some(Request::RequestPut(p)) => OpResponse::ResponsePut(self.put(txn, p)?),
            Some(Request::RequestDeleteRange(d)) => {
                OpResponse::ResponseDeleteRange(delete_range(txn, d)?)
            }
            Some(Request::RequestTxn(t)) => OpResponse::ResponseTxn(self.txn(txn, t)?),
            None => return Err(EtcdError::InvalidArgument("empty request op in txn".into())),
        };
        kv_ops::txn_op_header(&mut response, txn.visible_revision());
        Ok(ResponseOp {
            response: Some(response),
        })
    }

    fn compact(
        &mut self,
        c: &CompactionRequest,
        compactions: &mut Vec<CompactJob>,
    ) -> Result<Response, EtcdError> {
        if c.revision <= self.compact_revision {
            return Err(EtcdError::Compacted);
        }
        if c.revision > self.revision {
            return Err(EtcdError::FutureRev);
        }
        self.compact_revision = c.revision;
        let (tx, rx) = if c.physical {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        compactions.push((c.revision, tx));
        Ok(Response::Compaction(
            CompactionResponse {
                header: Some(self.state.header_at(self.revision)),
            },
            rx,
        ))
    }

    fn lease_grant(
        &mut self,
        g: &LeaseGrantRequest,
        wb: &mut WriteBatch,
    ) -> Result<Response, EtcdError> {
        let mut lessor = self.lessor()?;
        if lessor.exists(g.id) {
            return Err(EtcdError::LeaseExists);
        }
        let ttl = lessor.grant(g.id, g.ttl, Instant::now());
        wb.put_cf(self.db.cf(CF_LEASE)?, lease_entry(g.id), ttl.to_be_bytes());
        Ok(Response::LeaseGrant(LeaseGrantResponse {
            header: Some(self.state.header_at(self.revision)),
            id: g.id,
            ttl,
            error: String::new(),
        }))
    }

    fn lease_revoke(
        &mut self,
        r: &LeaseRevokeRequest,
        cursor: &LatestCursor<'_>,
        wb: &mut WriteBatch,
        overlay: &mut Overlay,
        events: &mut Vec<Event>,
    ) -> Result<LeaseRevokeResponse, EtcdError> {
        let keys = self.lessor()?.keys(r.id).ok_or(EtcdError::LeaseNotFound)?;
        let mut txn = WriteTxn::new(cursor, overlay, self.revision, self.watched());
        for key in &keys {
            txn.delete(key)?;
        }
        self.commit(txn.finish(), wb, overlay, events)?;
        let lease_cf = self.db.cf(CF_LEASE)?;
        wb.delete_range_cf(lease_cf, r.id.to_be_bytes(), (r.id + 1).to_be_bytes());
        self.lessor()?.revoke(r.id);
        Ok(LeaseRevokeResponse {
            header: Some(self.state.header_at(self.revision)),
        })
    }
}

fn poisoned(db: &Db) -> storage::StorageError {
    storage::StorageError::Corrupt {
        path: db.path.clone(),
        what: "lease record".into(),
    }
}

fn compares_hold(txn: &WriteTxn<'_>, t: &TxnRequest) -> Result<bool, EtcdError> {
    for c in &t.compare {
        let kvs = if c.range_end.is_empty() {
            txn.latest(&c.key)?.into_iter().collect()
        } else {
            txn.range_latest(&c.key, &c.range_end)?
        };
        if !kv_ops::compare_holds(c, &kvs) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn delete_range(
    txn: &mut WriteTxn<'_>,
    d: &DeleteRangeRequest,
) -> Result<DeleteRangeResponse, EtcdError> {
    let (deleted, prev_kvs) = if d.range_end.is_empty() {
        let prev = txn.delete(&d.key)?;
        (prev.is_some() as i64, prev.into_iter().collect())
    } else {
        txn.delete_range(&d.key, &d.range_end, d.prev_kv)?
    };
    Ok(DeleteRangeResponse {
        header: None,
        deleted,
        prev_kvs: if d.prev_kv { prev_kvs } else { Vec::new() },
    })
}

/// A range inside a write txn: sees the txn's own earlier writes.
fn range_in_txn(
    db: &Db,
    txn: &WriteTxn<'_>,
    r: &RangeRequest,
    compact_revision: i64,
) -> Result<kvstore_proto::etcdserverpb::RangeResponse, EtcdError> {
    if r.revision > 0 {
        // Everything before this request's own revision is stored; its own writes are not readable by revision.
        let rev = kv_ops::read_revision(r.revision, txn.revision() - 1, compact_revision)?;
        let res = Reader::live(db).range(
            &r.key,
            &r.range_end,
            rev,
            kv_ops::fetch_limit(r),
            r.keys_only,
        )?;
        return Ok(kv_ops::finish_range(r, res.kvs, res.count));
    }
    let kvs = txn.range_latest(&r.key, &r.range_end)?;
    let count = kvs.len() as i64;
    Ok(kv_ops::finish_range(r, kvs, count))
}
