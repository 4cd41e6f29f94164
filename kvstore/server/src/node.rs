//! The raft member: a dedicated thread that owns the [`RawNode`] and runs the Ready loop, and the
//! [`NodeHandle`] the rest of the server uses to propose writes and ask for linearizable reads.
//!
//! Ready handling follows raft-rs's documented order, persisting before applying as etcd does:
//! send messages → (snapshot) → persist entries + hard state in one synced RocksDB write → send persisted
//! messages → apply committed entries → `advance` → apply the light ready's committed entries → `advance_apply`
//! → release reads whose index is applied. A commit index learnt in the light ready is not written on its own:
//! the applied index, persisted atomically with every apply, implies it on restart.
//!
//! Group commit: the loop drains every queued proposal before it asks for a Ready, so all writes that arrived
//! while the previous fsync was running share the next one. Read requests are batched the same way into one
//! ReadIndex round.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvstore_proto::internal::{raft_request, RaftRequest};
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeType, Entry, EntryType, Message};
use raft::{Config, RawNode, ReadOnlyOption, SnapshotStatus, StateRole};
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::apply::{Applier, Response};
use crate::error::EtcdError;
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::reply_wait::{AnswerDue, InFlight};
use crate::state::{MemberInfo, ServerState};
use crate::storage::raft_log::RaftLog;
use crate::storage::{self, Db};
use crate::transport::Transport;

/// How long a proposal may wait for its result before the caller gets "request timed out".
const PROPOSAL_TIMEOUT: Duration = Duration::from_secs(7);
/// How long after its last message the Ready loop keeps polling for the next one before it blocks.
const POLL_AFTER_WORK: Duration = Duration::from_micros(400);
/// The first part of that poll spins; the rest yields the CPU between polls.
const SPIN: Duration = Duration::from_micros(20);
/// At most this many applied entries stay in the log after truncation, for followers that are a little behind
/// (etcd's `SnapshotCatchUpEntries`); a follower further behind gets a snapshot.
const CATCH_UP_ENTRIES: u64 = 5_000;
/// etcd's readiness bar for promoting a learner: its log matches at least 90% of the leader's.
const LEARNER_READY_PERCENT: f64 = 0.9;
/// How long a member that applied its own removal keeps running before it stops (etcd's `stopWithDelay`, also
/// 1 s): a removed leader's last messages carry the commit of its removal to the others, so that a request to
/// remove it, waiting on another member, is answered with its result instead of failing with the lost leader.
const REMOVED_GRACE: Duration = Duration::from_secs(1);
/// Requests held while there is no reachable leader; beyond this many a request is refused with "no leader".
const MAX_WAITING_FOR_LEADER: usize = 10_000;

type Reply = oneshot::Sender<Result<Response, EtcdError>>;
type ReadReply = oneshot::Sender<Result<(), EtcdError>>;

/// A request that arrived while this member knew no reachable leader, held until one is known.
enum Waiting {
    Propose {
        id: u64,
        data: Vec<u8>,
        reply: Reply,
    },
    Read(ReadReply),
}

impl Waiting {
    /// Whether its caller gave up (the RPC timed out or was cancelled).
    fn abandoned(&self) -> bool {
        match self {
            Waiting::Propose { reply, .. } => reply.is_closed(),
            Waiting::Read(reply) => reply.is_closed(),
        }
    }

    fn refuse(self, err: EtcdError) {
        match self {
            Waiting::Propose { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Waiting::Read(reply) => {
                let _ = reply.send(Err(err));
            }
        }
    }
}

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
    /// A membership change to propose as a raft conf change.
    ConfChange {
        id: u64,
        change: MemberChange,
        reply: Reply,
    },
    /// The transport could not reach this peer.
    Unreachable(u64),
    /// How sending a snapshot to a peer ended.
    SnapshotSent {
        to: u64,
        ok: bool,
    },
    /// A peer refused this member because it was removed from the cluster.
    Removed,
    /// Hand leadership to this voter (etcd's MoveLeader; raft's leader transfer).
    TransferLeader(u64),
}

/// A runtime membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberChangeKind {
    Add,
    AddLearner,
    Remove,
    Promote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChange {
    pub kind: MemberChangeKind,
    pub member: MemberInfo,
}

/// What a conf change entry carries besides raft's own fields (its `context`, JSON).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConfChangeContext {
    pub(crate) id: u64,
    pub(crate) proposer: u64,
    pub(crate) change: MemberChange,
}

/// Why the Ready loop ended without a storage failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every handle was dropped: the server is shutting down.
    Stopped,
    /// This member was removed from the cluster and stops itself.
    Removed,
}

/// Waits for the raft thread's answer, at most `PROPOSAL_TIMEOUT`.
async fn await_reply<T>(
    in_flight: &InFlight,
    rx: oneshot::Receiver<Result<T, EtcdError>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(PROPOSAL_TIMEOUT, in_flight.wait(rx)).await {
        Ok(Ok(res)) => res,
        Ok(Err(_)) => Err(EtcdError::Stopped),
        Err(_) => Err(EtcdError::Timeout),
    }
}

/// Cheap to clone; every RPC handler holds one.
#[derive(Clone)]
pub struct NodeHandle {
    tx: Sender<NodeMsg>,
    next_id: Arc<AtomicU64>,
    member_id: u64,
    max_request_bytes: usize,
    in_flight: InFlight,
    answer_due: AnswerDue,
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
        if data.len() > self.max_request_bytes {
            return Err(EtcdError::RequestTooLarge);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(NodeMsg::Propose { id, data, reply })
            .map_err(|_| EtcdError::Stopped)?;
        await_reply(&self.in_flight, rx).await
    }

    /// Waits until this member has applied everything committed before the call (raft ReadIndex): a read
    /// served after this is linearizable.
    pub async fn read_index(&self) -> Result<(), EtcdError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(NodeMsg::ReadIndex { reply })
            .map_err(|_| EtcdError::Stopped)?;
        await_reply(&self.in_flight, rx).await
    }

    pub fn step(&self, m: Message) -> Result<(), EtcdError> {
        if m.get_msg_type() == raft::prelude::MessageType::MsgAppend {
            self.answer_due.expect(m.from);
        }
        self.tx
            .send(NodeMsg::Step(Box::new(m)))
            .map_err(|_| EtcdError::Stopped)
    }

    /// Proposes a membership change and waits until it is applied.
    pub async fn change_members(&self, change: MemberChange) -> Result<Response, EtcdError> {
        let id = self.next_id.fetch_add(1, Relaxed);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(NodeMsg::ConfChange { id, change, reply })
            .map_err(|_| EtcdError::Stopped)?;
        await_reply(&self.in_flight, rx).await
    }

    pub fn report_unreachable(&self, to: u64) {
        let _ = self.tx.send(NodeMsg::Unreachable(to));
    }

    pub fn report_snapshot(&self, to: u64, ok: bool) {
        let _ = self.tx.send(NodeMsg::SnapshotSent { to, ok });
    }

    pub fn removed(&self) {
        let _ = self.tx.send(NodeMsg::Removed);
    }

    /// Asks raft to hand leadership to `to`; the caller watches the leader change.
    pub fn transfer_leader(&self, to: u64) -> Result<(), EtcdError> {
        self.tx
            .send(NodeMsg::TransferLeader(to))
            .map_err(|_| EtcdError::Stopped)
    }

    pub fn member_id(&self) -> u64 {
        self.member_id
    }

    /// Which peer awaits an answer from the raft thread (see [`AnswerDue`]).
    pub fn answer_due(&self) -> &AnswerDue {
        &self.answer_due
    }
}

/// How much faster a follower ticks once its leader's connection is gone (see [`Node::tick_interval`]).
const FAST_TICKS: u32 = 10;

/// Settings of the raft member.
pub struct NodeConfig {
    pub id: u64,
    pub tick: Duration,
    pub election_ticks: usize,
    /// Applied entries between log truncations (etcd's `--snapshot-count`).
    pub snapshot_count: u64,
    /// The largest proposal accepted (etcd's `--max-request-bytes`).
    pub max_request_bytes: usize,
    /// Refuse membership changes that would cost the cluster its quorum (see [`crate::reconfig`]).
    pub strict_reconfig_check: bool,
    /// Raft's pre-vote phase (etcd's `--pre-vote`).
    pub pre_vote: bool,
}

pub struct Node {
    raw: RawNode<RaftLog>,
    db: Arc<Db>,
    applier: Applier,
    rx: Receiver<NodeMsg>,
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
    snapshot_count: u64,
    /// When this member stops because it was removed (see [`REMOVED_GRACE`]).
    stop_removed_at: Option<Instant>,
    /// The transport could not reach the leader since its last message: a follower then holds new requests
    /// (see `waiting`) instead of forwarding them into the void.
    leader_unreachable: bool,
    /// Proposals and reads that arrived while there was no reachable leader (an election is running), in
    /// arrival order. As etcd does, they wait for the next leader instead of failing, so a client sees a
    /// failover as a pause rather than an error; one that gives up first (its RPC timed out) is dropped.
    /// Clients that want to fail fast send etcd's `hasleader` metadata (see `rpc::RequireLeader`).
    waiting: Vec<Waiting>,
    /// Since when this follower has been without a reachable leader, electing at the fast pace (see
    /// [`Node::tick_interval`]); `None` once a leader is heard from or elected.
    fast_election_since: Option<Instant>,
    /// How long the fast pace lasts at most: three election timeouts.
    fast_election_window: Duration,
    /// When each peer was last heard from (any raft message), for [`crate::reconfig`].
    last_heard: HashMap<u64, Instant>,
    strict_reconfig_check: bool,
}

impl Node {
    /// Builds the member. `log` must be bootstrapped.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &NodeConfig,
        mut log: RaftLog,
        db: Arc<Db>,
        applier: Applier,
        state: Arc<ServerState>,
        lessor: Arc<Mutex<Lessor>>,
        metrics: Arc<Metrics>,
    ) -> Result<(Node, NodeHandle), raft::Error> {
        // Entries up to the applied index were committed: the commit index raft starts from is at least that,
        // though the hard state last written may say less (a commit learnt after the last entries or vote were
        // persisted is not written on its own).
        let applied = applier.applied_index();
        log.raise_commit(applied);
        let single_voter = log.conf_state().voters == vec![cfg.id];
        let config = Config {
            id: cfg.id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: 1,
            applied,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: cfg.pre_vote,
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
            max_request_bytes: cfg.max_request_bytes,
            in_flight: InFlight::default(),
            answer_due: AnswerDue::default(),
        };
        let node = Node {
            raw,
            db,
            applier,
            rx,
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
            snapshot_count: cfg.snapshot_count.max(1),
            stop_removed_at: None,
            leader_unreachable: false,
            waiting: Vec::new(),
            fast_election_since: None,
            fast_election_window: cfg.tick * (3 * cfg.election_ticks as u32),
            last_heard: HashMap::new(),
            strict_reconfig_check: cfg.strict_reconfig_check,
        };
        Ok((node, handle))
    }

    /// Runs the Ready loop until every handle is dropped or this member is removed. A storage error ends it
    /// (fail-stop): the caller must stop the member.
    pub fn run(mut self, mut transport: Box<dyn Transport>) -> storage::Result<Exit> {
        let mut last_tick = Instant::now();
        let mut last_work = Instant::now();
        loop {
            let wait = if self.raw.has_ready() {
                Duration::ZERO
            } else {
                self.tick_interval().saturating_sub(last_tick.elapsed())
            };
            // Poll for a while after the last message before sleeping: a lone client's next proposal arrives
            // about one round trip after its reply, and a thread that is still polling picks it up without the
            // wake-up of a sleeping one (tens of µs here: ~10% of such a write's latency; Go's scheduler, which
            // etcd runs on, spins the same way). After the first 20 µs each poll yields the CPU, giving way to
            // the threads that produce the work; an idle member sleeps.
            let mut first = None;
            while first.is_none() && !wait.is_zero() {
                let since = last_work.elapsed();
                if since >= POLL_AFTER_WORK {
                    break;
                }
                match self.rx.try_recv() {
                    Ok(m) => first = Some(m),
                    Err(std::sync::mpsc::TryRecvError::Empty) if since < SPIN => {
                        std::hint::spin_loop()
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => std::thread::yield_now(),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                }
            }
            let got = match first {
                Some(m) => Some(m),
                None => match self.rx.recv_timeout(wait) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let worked = got.is_some();
            if let Some(m) = got {
                self.handle(m);
            }
            // Group commit: take everything that queued up while we were busy.
            while let Ok(m) = self.rx.try_recv() {
                self.handle(m);
            }
            if last_tick.elapsed() >= self.tick_interval() {
                self.raw.tick();
                last_tick = Instant::now();
                self.waiting.retain(|w| !w.abandoned());
            }
            self.release_waiting();
            if !self.reads_new.is_empty() {
                self.read_ctx += 1;
                // The leader keys pending reads by context: it must be unique across members, or a follower's
                // request that collides with another member's is silently dropped.
                let mut ctx = self.state.member_id.load(Relaxed).to_be_bytes().to_vec();
                ctx.extend_from_slice(&self.read_ctx.to_be_bytes());
                self.raw.read_index(ctx.clone());
                self.reads_in_flight
                    .insert(ctx, std::mem::take(&mut self.reads_new));
            }
            if let Err(e) = self.on_ready(transport.as_mut()) {
                self.fail_all(EtcdError::Stopped);
                return Err(e);
            }
            if worked {
                last_work = Instant::now();
            }
            self.metrics
                .proposals_pending
                .set(self.pending.len() as i64);
            if self.stop_removed_at.is_some_and(|at| Instant::now() >= at) {
                self.fail_all(EtcdError::Stopped);
                return Ok(Exit::Removed);
            }
        }
        self.fail_all(EtcdError::Stopped);
        Ok(Exit::Stopped)
    }

    /// How often raft ticks. A follower whose connection to the leader was closed or refused (a killed or
    /// crashed leader process; the transport notices within milliseconds) counts its election timeout down
    /// [`FAST_TICKS`] times faster, so the cluster elects a new leader in about a tenth of the timeout instead of
    /// waiting all of it in silence. This is safe against false alarms: the election is preceded by a pre-vote,
    /// which members still hearing from a live leader refuse (check-quorum's leader lease), and any message from
    /// the leader restores the normal pace.
    ///
    /// The pace holds until a leader is known again — through split votes, which two followers that noticed the
    /// same death at the same instant sometimes cast — but for three election timeouts at most, so a member that
    /// is only cut off does not keep asking for pre-votes ten times as often.
    fn tick_interval(&self) -> Duration {
        match self.fast_election_since {
            Some(since) if since.elapsed() < self.fast_election_window => self.tick / FAST_TICKS,
            _ => self.tick,
        }
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
        for w in self.waiting.drain(..) {
            w.refuse(err.clone());
        }
    }

    /// Whether requests can go to raft now: a leader is known and, for a follower, reachable.
    fn has_reachable_leader(&self) -> bool {
        self.leader != 0 && !self.leader_unreachable
    }

    /// Holds a request until a leader is known, or refuses it if too many already wait.
    fn wait_for_leader(&mut self, w: Waiting) {
        if self.waiting.len() < MAX_WAITING_FOR_LEADER {
            self.waiting.push(w);
            return;
        }
        if let Waiting::Propose { .. } = w {
            self.metrics.proposals_failed.inc();
        }
        w.refuse(EtcdError::NoLeader);
    }

    /// Hands the held requests to raft, in arrival order, once a reachable leader is known.
    fn release_waiting(&mut self) {
        if self.waiting.is_empty() || !self.has_reachable_leader() {
            return;
        }
        tracing::debug!(
            requests = self.waiting.len(),
            "a leader is known: releasing held requests"
        );
        for w in std::mem::take(&mut self.waiting) {
            match w {
                w if w.abandoned() => {}
                Waiting::Propose { id, data, reply } => self.propose(id, data, reply),
                Waiting::Read(reply) => self.reads_new.push(reply),
            }
        }
    }

    fn propose(&mut self, id: u64, data: Vec<u8>, reply: Reply) {
        if !self.has_reachable_leader() {
            return self.wait_for_leader(Waiting::Propose { id, data, reply });
        }
        match self.raw.propose(Vec::new(), data) {
            Ok(()) => {
                self.pending.insert(id, reply);
            }
            Err(e) => {
                // A leader that is transferring leadership away drops proposals (raft-rs).
                self.metrics.proposals_failed.inc();
                tracing::debug!(error = %e, "proposal dropped");
                let _ = reply.send(Err(EtcdError::NotLeader));
            }
        }
    }

    fn handle(&mut self, m: NodeMsg) {
        match m {
            NodeMsg::Propose { id, data, reply } => self.propose(id, data, reply),
            NodeMsg::ReadIndex { reply } => {
                if self.has_reachable_leader() {
                    self.reads_new.push(reply);
                } else {
                    self.wait_for_leader(Waiting::Read(reply));
                }
            }
            NodeMsg::Step(msg) => {
                if self.strict_reconfig_check {
                    self.last_heard.insert(msg.from, Instant::now());
                }
                if msg.from == self.leader {
                    self.leader_unreachable = false;
                    self.fast_election_since = None;
                }
                if let Err(e) = self.raw.step(*msg) {
                    tracing::debug!(error = %e, "raft step failed");
                }
            }
            NodeMsg::ConfChange { id, change, reply } => {
                if let Err(e) = self.propose_conf_change(id, change) {
                    self.metrics.proposals_failed.inc();
                    let _ = reply.send(Err(e));
                } else {
                    self.pending.insert(id, reply);
                }
            }
            NodeMsg::Unreachable(to) => {
                self.raw.report_unreachable(to);
                if to == self.leader && !self.state.is_leader.load(Relaxed) {
                    self.on_leader_unreachable();
                }
            }
            NodeMsg::SnapshotSent { to, ok } => {
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.raw.report_snapshot(to, status);
            }
            // A peer refused this member as removed: it is out already, nothing of it is waited for.
            NodeMsg::Removed => self.stop_removed_at = Some(Instant::now()),
            NodeMsg::TransferLeader(to) => self.raw.transfer_leader(to),
        }
    }

    /// The leader cannot be reached: what this follower forwarded to it may be lost. Its callers are told so now
    /// (the outcome is unknown, as with any timeout) rather than after the full proposal timeout. Reads are only
    /// barriers, so they are asked again of the next leader.
    fn on_leader_unreachable(&mut self) {
        if !self.leader_unreachable {
            tracing::warn!(
                leader = format!("{:x}", self.leader),
                "the leader is unreachable"
            );
        }
        self.leader_unreachable = true;
        self.fast_election_since.get_or_insert_with(Instant::now);
        for (_, r) in self.pending.drain() {
            self.metrics.proposals_failed.inc();
            let _ = r.send(Err(EtcdError::ConnectionLost));
        }
        self.hold_unanswered_reads();
    }

    /// Moves reads that were waiting for a ReadIndex answer from a leader that is gone to wait for the next one.
    fn hold_unanswered_reads(&mut self) {
        let reads: Vec<ReadReply> = self
            .reads_new
            .drain(..)
            .chain(self.reads_in_flight.drain().flat_map(|(_, v)| v))
            .collect();
        for r in reads {
            self.wait_for_leader(Waiting::Read(r));
        }
    }

    fn propose_conf_change(&mut self, id: u64, change: MemberChange) -> Result<(), EtcdError> {
        if self.leader == 0 {
            return Err(EtcdError::NoLeader);
        }
        let target = change.member.id;
        if self.strict_reconfig_check && self.raw.raft.state == StateRole::Leader {
            // Heard from within an election timeout: followers answer every heartbeat.
            let window = self.tick * self.raw.raft.election_timeout() as u32;
            let me = self.state.member_id.load(Relaxed);
            let heard = |id: u64| {
                id == me
                    || self
                        .last_heard
                        .get(&id)
                        .is_some_and(|t| t.elapsed() < window)
            };
            let voters = &self.raw.store().conf_state().voters;
            crate::reconfig::check(change.kind, target, voters, heard)?;
        }
        let mut cc = ConfChange {
            node_id: target,
            ..Default::default()
        };
        cc.set_change_type(match change.kind {
            MemberChangeKind::Add | MemberChangeKind::Promote => ConfChangeType::AddNode,
            MemberChangeKind::AddLearner => ConfChangeType::AddLearnerNode,
            MemberChangeKind::Remove => ConfChangeType::RemoveNode,
        });
        if change.kind == MemberChangeKind::Promote && self.raw.raft.state == StateRole::Leader {
            let last = self.raw.raft.raft_log.last_index();
            let matched = self
                .raw
                .raft
                .prs()
                .get(target)
                .map(|p| p.matched)
                .unwrap_or(0);
            if (matched as f64) < (last as f64) * LEARNER_READY_PERCENT {
                return Err(EtcdError::LearnerNotReady);
            }
        }
        let context = serde_json::to_vec(&ConfChangeContext {
            id,
            proposer: self.state.member_id.load(Relaxed),
            change,
        })
        .map_err(|e| EtcdError::InvalidArgument(e.to_string()))?;
        self.raw.propose_conf_change(context, cc).map_err(|e| {
            tracing::debug!(error = %e, "conf change dropped");
            EtcdError::NotLeader
        })
    }

    fn on_ready(&mut self, transport: &mut dyn Transport) -> storage::Result<()> {
        if !self.raw.has_ready() {
            return Ok(());
        }
        let mut ready = self.raw.ready();
        if let Some(ss) = ready.ss() {
            self.on_soft_state(ss.leader_id, ss.raft_state);
        }
        transport.send(ready.take_messages());
        if !ready.snapshot().is_empty() {
            let snap = ready.snapshot();
            let path = PathBuf::from(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&snap.data),
            );
            let t = Instant::now();
            self.raw
                .mut_store()
                .install_snapshot(snap.get_metadata(), &path)?;
            self.applier.load()?;
            tracing::info!(index = snap.get_metadata().index, took = ?t.elapsed(), "state machine replaced by the leader's snapshot");
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
            // Synced when raft needs it (new entries, a new term or vote); a commit index alone can be
            // re-learned from the leader, so a follower does not pay an fsync just to record it.
            let t = Instant::now();
            let sync = ready.must_sync();
            self.db.write(wb, sync)?;
            if sync {
                // Like etcd's, the histogram counts real fsyncs only.
                self.metrics
                    .wal_fsync_seconds
                    .observe(t.elapsed().as_secs_f64());
            }
        }
        transport.send(ready.take_persisted_messages());
        let committed = ready.take_committed_entries();
        self.apply(committed)?;
        let mut light = self.raw.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.state.commit_index.store(commit, Relaxed);
            self.metrics.committed_index.set(commit as i64);
            // No write of its own: the apply below persists its applied index, and a restarted member knows
            // everything up to that index is committed (see `Node::new`).
        }
        transport.send(light.take_messages());
        self.apply(light.take_committed_entries())?;
        self.raw.advance_apply();
        self.release_reads();
        self.maybe_compact_log()
    }

    fn on_soft_state(&mut self, leader: u64, role: StateRole) {
        if leader != self.leader {
            self.leader_unreachable = false;
            if leader != 0 {
                self.metrics.leader_changes.inc();
                self.fast_election_since = None;
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
            // Reads waiting for a ReadIndex round can no longer be answered by the old leader.
            self.hold_unanswered_reads();
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
                EntryType::EntryConfChange => {
                    self.apply_run(std::mem::take(&mut run))?;
                    self.apply_conf_change(&e)?;
                }
                EntryType::EntryConfChangeV2 => {
                    self.apply_run(std::mem::take(&mut run))?;
                    tracing::warn!(
                        index = e.index,
                        "ignoring a joint-consensus conf change entry"
                    );
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

    /// Applies a membership change: raft's configuration, the member list and the applied index in one batch.
    /// The change is checked again here, deterministically, so every member makes the same decision.
    fn apply_conf_change(&mut self, e: &Entry) -> storage::Result<()> {
        let cc = match ConfChange::parse_from_bytes(&e.data) {
            Ok(cc) => cc,
            Err(err) => {
                tracing::error!(index = e.index, %err, "skipping an undecodable conf change");
                return self.applier.set_applied(e.index);
            }
        };
        // raft-rs puts the proposal's context on the entry, not inside the conf change.
        let ctx: ConfChangeContext = match serde_json::from_slice(&e.context) {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(index = e.index, %err, "skipping a conf change without its context");
                return self.applier.set_applied(e.index);
            }
        };
        let mut m = self.state.membership();
        let change = &ctx.change;
        let id = change.member.id;
        let checked = match change.kind {
            MemberChangeKind::Add | MemberChangeKind::AddLearner => {
                m.check_add(&change.member).map(|_| {
                    let mut member = change.member.clone();
                    member.is_learner = change.kind == MemberChangeKind::AddLearner;
                    m.add(member);
                })
            }
            MemberChangeKind::Promote => match m.get(id) {
                None => Err(EtcdError::MemberNotFound),
                Some(x) if !x.is_learner => Err(EtcdError::NotLearner),
                Some(_) => {
                    m.promote(id);
                    Ok(())
                }
            },
            MemberChangeKind::Remove => match m.get(id) {
                None => Err(EtcdError::MemberNotFound),
                Some(_) => {
                    m.remove(id);
                    Ok(())
                }
            },
        };
        let result = match checked {
            Ok(()) => {
                let cs = self.raw.apply_conf_change(&cc).map_err(|err| {
                    storage::StorageError::Corrupt {
                        path: self.db.path.clone(),
                        what: format!("conf change at {}: {err}", e.index),
                    }
                })?;
                let member = m.get(id).cloned().or_else(|| Some(change.member.clone()));
                let members = m.members.clone();
                let me = self.state.member_id.load(Relaxed);
                let alone = cs.voters == [me] && self.raw.raft.state != StateRole::Leader;
                let mut wb = WriteBatch::default();
                self.raw.mut_store().set_conf_state(&mut wb, cs)?;
                self.applier.record_membership(&mut wb, m, e.index)?;
                self.db.write(wb, false)?;
                self.applier.mark_applied(e.index);
                tracing::info!(member = format!("{id:x}"), kind = ?change.kind, index = e.index, "membership changed");
                if change.kind == MemberChangeKind::Remove
                    && id == self.state.member_id.load(Relaxed)
                {
                    tracing::warn!("this member was removed from the cluster; stopping");
                    self.stop_removed_at = Some(Instant::now() + REMOVED_GRACE);
                }
                if alone {
                    // The only voter left (--force-new-cluster): nobody to wait for.
                    let _ = self.raw.campaign();
                }
                Ok(Response::Members(member, members))
            }
            Err(err) => {
                self.applier.set_applied(e.index)?;
                Err(err)
            }
        };
        if ctx.proposer == self.state.member_id.load(Relaxed) {
            if let Some(reply) = self.pending.remove(&ctx.id) {
                let _ = reply.send(result);
            }
        }
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

    /// Truncates the log every `snapshot_count` applied entries, keeping the newest `CATCH_UP_ENTRIES` (or
    /// `snapshot_count`, if smaller) for followers that are only a little behind.
    fn maybe_compact_log(&mut self) -> storage::Result<()> {
        let applied = self.applier.applied_index();
        let first = self.raw.store().first_log_index();
        let keep = CATCH_UP_ENTRIES.min(self.snapshot_count);
        if applied >= first + keep + self.snapshot_count {
            let mut wb = WriteBatch::default();
            self.raw.mut_store().compact(&mut wb, applied - keep)?;
            self.db.write(wb, false)?;
        }
        Ok(())
    }
}
