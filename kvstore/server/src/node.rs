//! The raft member: a dedicated thread that owns the [`RawNode`] and runs the Ready loop, and the
//! [`NodeHandle`] the rest of the server uses to propose writes and ask for linearizable reads.
//!
//! Ready handling follows raft-rs's documented order, persisting before applying as etcd does:
//! send messages → (snapshot) → persist entries + hard state in one synced RocksDB write → send persisted
//! messages → apply committed entries → `advance` → persist the new commit index → apply the light ready's
//! committed entries → `advance_apply` → release reads whose index is applied.
//!
//! Group commit: the loop drains every queued proposal before it asks for a Ready, so all writes that arrived
//! while the previous fsync was running share the next one. Read requests are batched the same way into one
//! ReadIndex round.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvstore_proto::internal::{raft_request, RaftRequest};
use prost::Message as _;
use raft::prelude::{Entry, EntryType, Message};
use raft::{Config, RawNode, ReadOnlyOption, StateRole};
use rocksdb::WriteBatch;
use tokio::sync::oneshot;

use crate::apply::{Applier, Response};
use crate::error::EtcdError;
use crate::kv_ops::MAX_REQUEST_BYTES;
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::state::ServerState;
use crate::storage::raft_log::RaftLog;
use crate::storage::{self, Db};
use crate::transport::Transport;

/// How long a proposal may wait for its result before the caller gets "request timed out".
const PROPOSAL_TIMEOUT: Duration = Duration::from_secs(7);
/// How long the Ready loop polls for work before it blocks.
const SPIN: Duration = Duration::from_micros(50);
/// Raft log entries kept behind the applied index when the log is truncated.
const LOG_KEEP: u64 = 10_000;
/// Truncate once this many applied entries have piled up beyond `LOG_KEEP`.
const LOG_COMPACT_EVERY: u64 = 20_000;

type Reply = oneshot::Sender<Result<Response, EtcdError>>;
type ReadReply = oneshot::Sender<Result<(), EtcdError>>;

/// What the rest of the server asks of the raft thread.
pub enum NodeMsg {
    Propose {
        id: u64,
        data: Vec<u8>,
        reply: Reply,
    },
    ReadIndex {
        reply: ReadReply,
    },
    /// A raft message from a peer.
    Step(Box<Message>),
}

/// Cheap to clone; every RPC handler holds one.
#[derive(Clone)]
pub struct NodeHandle {
    tx: Sender<NodeMsg>,
    next_id: Arc<AtomicU64>,
    member_id: u64,
}

impl NodeHandle {
    /// Proposes `request` and waits until it is committed and applied; returns its result.
    pub async fn propose(&self, request: raft_request::Request) -> Result<Response, EtcdError> {
        let id = self.next_id.fetch_add(1, Relaxed);
        let data = RaftRequest {
            id,
            proposer: self.member_id,
            request: Some(request),
        }
        .encode_to_vec();
        if data.len() > MAX_REQUEST_BYTES {
            return Err(EtcdError::RequestTooLarge);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(NodeMsg::Propose { id, data, reply })
            .map_err(|_| EtcdError::Stopped)?;
        match tokio::time::timeout(PROPOSAL_TIMEOUT, rx).await {
            Ok(Ok(res)) => res,
            Ok(Err(_)) => Err(EtcdError::Stopped),
            Err(_) => Err(EtcdError::Timeout),
        }
    }

    /// Waits until this member has applied everything committed before the call (raft ReadIndex): a read
    /// served after this is linearizable.
    pub async fn read_index(&self) -> Result<(), EtcdError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(NodeMsg::ReadIndex { reply })
            .map_err(|_| EtcdError::Stopped)?;
        match tokio::time::timeout(PROPOSAL_TIMEOUT, rx).await {
            Ok(Ok(res)) => res,
            Ok(Err(_)) => Err(EtcdError::Stopped),
            Err(_) => Err(EtcdError::Timeout),
        }
    }

    pub fn step(&self, m: Message) -> Result<(), EtcdError> {
        self.tx
            .send(NodeMsg::Step(Box::new(m)))
            .map_err(|_| EtcdError::Stopped)
    }
}

/// Settings of the raft member.
pub struct NodeConfig {
    pub id: u64,
    pub tick: Duration,
    pub election_ticks: usize,
}

pub struct Node {
    raw: RawNode<RaftLog>,
    db: Arc<Db>,
    applier: Applier,
    rx: Receiver<NodeMsg>,
    transport: Box<dyn Transport>,
    state: Arc<ServerState>,
    lessor: Arc<Mutex<Lessor>>,
    metrics: Arc<Metrics>,
    tick: Duration,
    /// Proposals of this member waiting for their entry to apply, by proposal id.
    pending: HashMap<u64, Reply>,
    /// Read requests that arrived since the last ReadIndex round.
    reads_new: Vec<ReadReply>,
    /// Read requests in a ReadIndex round, by its context.
    reads_in_flight: HashMap<Vec<u8>, Vec<ReadReply>>,
    /// Read requests whose read index is known, waiting for it to be applied.
    reads_ready: Vec<(u64, Vec<ReadReply>)>,
    read_ctx: u64,
    leader: u64,
}

impl Node {
    /// Builds the member. `log` must be bootstrapped.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &NodeConfig,
        log: RaftLog,
        db: Arc<Db>,
        applier: Applier,
        transport: Box<dyn Transport>,
        state: Arc<ServerState>,
        lessor: Arc<Mutex<Lessor>>,
        metrics: Arc<Metrics>,
    ) -> Result<(Node, NodeHandle), raft::Error> {
        // A crash can leave the applied index (written unsynced after the commit index) ahead of the persisted
        // commit; raft must not be told more than it knows. Entries applied twice are skipped by the applier.
        let applied = applier.applied_index().min(log.hard_state().commit);
        let single_voter = log.conf_state().voters == vec![cfg.id];
        let config = Config {
            id: cfg.id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: 1,
            applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            read_only_option: ReadOnlyOption::Safe,
            ..Default::default()
        };
        config.validate()?;
        let mut raw = RawNode::new(&config, log, &crate::raft_log_bridge::logger())?;
        if single_voter {
            // Nobody to wait for: lead at once instead of after an election timeout.
            raw.campaign()?;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = NodeHandle {
            tx,
            next_id: Arc::new(AtomicU64::new(1)),
            member_id: cfg.id,
        };
        let node = Node {
            raw,
            db,
            applier,
            rx,
            transport,
            state,
            lessor,
            metrics,
            tick: cfg.tick,
            pending: HashMap::new(),
            reads_new: Vec::new(),
            reads_in_flight: HashMap::new(),
            reads_ready: Vec::new(),
            read_ctx: 0,
            leader: 0,
        };
        Ok((node, handle))
    }

    /// Runs the Ready loop until every handle is dropped. A storage error ends it (fail-stop): the caller must
    /// stop the member.
    pub fn run(mut self) -> storage::Result<()> {
        let mut last_tick = Instant::now();
        loop {
            let wait = if self.raw.has_ready() {
                Duration::ZERO
            } else {
                self.tick.saturating_sub(last_tick.elapsed())
            };
            // Spin briefly before sleeping: a proposal that arrives within microseconds of the last Ready is
            // picked up without a futex wake-up, which is most of a lone client's non-fsync latency.
            let mut first = None;
            let spin_until = Instant::now() + SPIN;
            while first.is_none() && !wait.is_zero() && Instant::now() < spin_until {
                match self.rx.try_recv() {
                    Ok(m) => first = Some(m),
                    Err(std::sync::mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                }
            }
            match first {
                Some(m) => self.handle(m),
                None => match self.rx.recv_timeout(wait) {
                    Ok(m) => self.handle(m),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            }
            // Group commit: take everything that queued up while we were busy.
            while let Ok(m) = self.rx.try_recv() {
                self.handle(m);
            }
            if last_tick.elapsed() >= self.tick {
                self.raw.tick();
                last_tick = Instant::now();
            }
            if !self.reads_new.is_empty() {
                self.read_ctx += 1;
                let ctx = self.read_ctx.to_be_bytes().to_vec();
                self.raw.read_index(ctx.clone());
                self.reads_in_flight
                    .insert(ctx, std::mem::take(&mut self.reads_new));
            }
            if let Err(e) = self.on_ready() {
                self.fail_all(EtcdError::Stopped);
                return Err(e);
            }
            self.metrics
                .proposals_pending
                .set(self.pending.len() as i64);
        }
        self.fail_all(EtcdError::Stopped);
        Ok(())
    }

    fn fail_all(&mut self, err: EtcdError) {
        for (_, r) in self.pending.drain() {
            let _ = r.send(Err(err.clone()));
        }
        let reads = self
            .reads_new
            .drain(..)
            .chain(self.reads_in_flight.drain().flat_map(|(_, v)| v))
            .chain(self.reads_ready.drain(..).flat_map(|(_, v)| v));
        for r in reads {
            let _ = r.send(Err(err.clone()));
        }
    }

    fn handle(&mut self, m: NodeMsg) {
        match m {
            NodeMsg::Propose { id, data, reply } => match self.raw.propose(Vec::new(), data) {
                Ok(()) => {
                    self.pending.insert(id, reply);
                }
                Err(e) => {
                    self.metrics.proposals_failed.inc();
                    let err = if self.leader == 0 {
                        EtcdError::NoLeader
                    } else {
                        EtcdError::NotLeader
                    };
                    tracing::debug!(error = %e, "proposal dropped");
                    let _ = reply.send(Err(err));
                }
            },
            NodeMsg::ReadIndex { reply } => {
                if self.leader == 0 {
                    let _ = reply.send(Err(EtcdError::NoLeader));
                } else {
                    self.reads_new.push(reply);
                }
            }
            NodeMsg::Step(msg) => {
                if let Err(e) = self.raw.step(*msg) {
                    tracing::debug!(error = %e, "raft step failed");
                }
            }
        }
    }

    fn on_ready(&mut self) -> storage::Result<()> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        if let Some(ss) = ready.ss() {
            self.on_soft_state(ss.leader_id, ss.raft_state);
        }
        self.transport.send(ready.take_messages());
        if !ready.snapshot().is_empty() {
            // Only the multi-member transport can deliver a snapshot; a single member never receives one.
            return Err(storage::StorageError::Corrupt {
                path: self.db.path.clone(),
                what: "received a raft snapshot, which this member cannot install".into(),
            });
        }
        for rs in ready.take_read_states() {
            if let Some(waiters) = self.reads_in_flight.remove(&rs.request_ctx) {
                self.reads_ready.push((rs.index, waiters));
            }
        }
        // Persist entries and hard state: one synced write, before anything is applied or acknowledged.
        let mut wb = WriteBatch::default();
        if !ready.entries().is_empty() {
            self.raw.mut_store().append(&mut wb, ready.entries())?;
        }
        if let Some(hs) = ready.hs() {
            self.state.term.store(hs.term, Relaxed);
            self.state.commit_index.store(hs.commit, Relaxed);
            self.metrics.term.set(hs.term as i64);
            self.metrics.committed_index.set(hs.commit as i64);
            self.raw.mut_store().set_hard_state(&mut wb, hs)?;
        }
        if !wb.is_empty() {
            let t = Instant::now();
            self.db.write(wb, true)?;
            self.metrics
                .wal_fsync_seconds
                .observe(t.elapsed().as_secs_f64());
        }
        self.transport.send(ready.take_persisted_messages());
        let committed = ready.take_committed_entries();
        self.apply(committed)?;
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.state.commit_index.store(commit, Relaxed);
            self.metrics.committed_index.set(commit as i64);
            let mut wb = WriteBatch::default();
            self.raw.mut_store().set_commit(&mut wb, commit)?;
            // Not synced: the entries are durable already; WAL order puts this before the apply write below.
            self.db.write(wb, false)?;
        }
        self.transport.send(light.take_messages());
        self.apply(light.take_committed_entries())?;
        self.raw.advance_apply();
        self.release_reads();
        self.maybe_compact_log()
    }

    fn on_soft_state(&mut self, leader: u64, role: StateRole) {
        if leader != self.leader {
            if leader != 0 {
                self.metrics.leader_changes.inc();
            }
            tracing::info!(leader = format!("{leader:x}"), ?role, "raft leader changed");
            self.leader = leader;
        }
        self.state.leader.store(leader, Relaxed);
        self.metrics.has_leader.set(i64::from(leader != 0));
        let is_leader = role == StateRole::Leader;
        let was_leader = self.state.is_leader.swap(is_leader, Relaxed);
        self.metrics.is_leader.set(i64::from(is_leader));
        if is_leader != was_leader {
            if let Ok(mut l) = self.lessor.lock() {
                if is_leader {
                    l.promote(Instant::now());
                } else {
                    l.demote();
                }
            }
        }
        if leader == 0 {
            // Reads waiting for a ReadIndex round can no longer be answered by this leader.
            let waiting: Vec<_> = self
                .reads_new
                .drain(..)
                .chain(self.reads_in_flight.drain().flat_map(|(_, v)| v))
                .collect();
            for r in waiting {
                let _ = r.send(Err(EtcdError::NoLeader));
            }
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) -> storage::Result<()> {
        let applied = self.applier.applied_index();
        let entries: Vec<Entry> = entries.into_iter().filter(|e| e.index > applied).collect();
        let Some(last) = entries.last().map(|e| e.index) else {
            return Ok(());
        };
        let t = Instant::now();
        let mut run: Vec<Entry> = Vec::new();
        for e in entries {
            match e.get_entry_type() {
                EntryType::EntryNormal => run.push(e),
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    self.apply_run(std::mem::take(&mut run))?;
                    // Membership changes arrive with the multi-member cluster; record the index so a restart does
                    // not replay it.
                    tracing::warn!(index = e.index, "ignoring a conf change entry");
                    self.applier.set_applied(e.index)?;
                }
            }
        }
        self.apply_run(run)?;
        self.applier.set_applied(last)?;
        self.metrics
            .apply_seconds
            .observe(t.elapsed().as_secs_f64());
        self.metrics.applied_index.set(last as i64);
        Ok(())
    }

    fn apply_run(&mut self, run: Vec<Entry>) -> storage::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        let n = run.iter().filter(|e| !e.data.is_empty()).count() as u64;
        let results = self.applier.apply(&run)?;
        self.metrics.proposals_committed.inc_by(n);
        self.metrics.proposals_applied.inc_by(n);
        let me = self.state.member_id.load(Relaxed);
        for a in results {
            if a.proposer == me {
                if let Some(reply) = self.pending.remove(&a.id) {
                    if a.result.is_err() {
                        self.metrics.proposals_failed.inc();
                    }
                    let _ = reply.send(a.result);
                }
            }
        }
        Ok(())
    }

    fn release_reads(&mut self) {
        let applied = self.applier.applied_index();
        let mut i = 0;
        while i < self.reads_ready.len() {
            if self.reads_ready[i].0 <= applied {
                let (_, waiters) = self.reads_ready.swap_remove(i);
                for w in waiters {
                    let _ = w.send(Ok(()));
                }
            } else {
                i += 1;
            }
        }
    }

    fn maybe_compact_log(&mut self) -> storage::Result<()> {
        let applied = self.applier.applied_index();
        let first = self.raw.store().first_log_index();
        if applied > first + LOG_KEEP + LOG_COMPACT_EVERY {
            let mut wb = WriteBatch::default();
            self.raw.mut_store().compact(&mut wb, applied - LOG_KEEP)?;
            self.db.write(wb, false)?;
        }
        Ok(())
    }
}
