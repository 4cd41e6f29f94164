//! Outgoing raft messages: one task, one queue and one persistent connection per peer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvstore_tls::Stream;
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

use super::wire::{self, Hello, Purpose, WireError};
use crate::metrics::Metrics;
use crate::node::NodeHandle;
use crate::state::ServerState;
use crate::transport::Transport;

/// Messages queued per peer before new ones are dropped (raft resends what matters).
const QUEUE: usize = 4096;
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long a peer has to take in a snapshot and answer.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);

/// What every peer task needs.
#[derive(Clone)]
struct PeerCtx {
    me: u64,
    state: Arc<ServerState>,
    node: NodeHandle,
    metrics: Arc<Metrics>,
    /// How to dial members whose peer URL is https.
    tls: Arc<kvstore_tls::ClientConfig>,
}

/// The multi-member [`Transport`].
pub struct PeerTransport {
    ctx: PeerCtx,
    rt: tokio::runtime::Handle,
    peers: HashMap<u64, mpsc::Sender<Message>>,
}

impl PeerTransport {
    pub fn new(
        me: u64,
        state: Arc<ServerState>,
        node: NodeHandle,
        metrics: Arc<Metrics>,
        tls: Arc<kvstore_tls::ClientConfig>,
        rt: tokio::runtime::Handle,
    ) -> Self {
        PeerTransport {
            ctx: PeerCtx {
                me,
                state,
                node,
                metrics,
                tls,
            },
            rt,
            peers: HashMap::new(),
        }
    }

    fn queue(&mut self, to: u64) -> &mpsc::Sender<Message> {
        let closed = self.peers.get(&to).is_some_and(|tx| tx.is_closed());
        if closed {
            self.peers.remove(&to);
        }
        let (ctx, rt) = (&self.ctx, &self.rt);
        self.peers.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            rt.spawn(peer_loop(ctx.clone(), to, rx));
            tx
        })
    }
}

impl Transport for PeerTransport {
    fn send(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            if m.get_msg_type() == MessageType::MsgSnapshot {
                self.rt.spawn(send_snapshot(self.ctx.clone(), m));
                continue;
            }
            let to = m.to;
            if self.queue(to).try_send(m).is_err() {
                self.ctx.metrics.peer_sent_failures.inc();
                tracing::debug!(
                    to = format!("{to:x}"),
                    "peer queue full; raft message dropped"
                );
            }
        }
    }
}

/// Dials member `to` on its peer URLs and completes the hello.
async fn dial(ctx: &PeerCtx, to: u64, purpose: Purpose) -> Result<Stream, WireError> {
    dial_peer(&ctx.state, ctx.me, &ctx.tls, to, purpose).await
}

/// Dials member `to` on its peer URLs as member `me` and completes the hello for `purpose`.
pub(crate) async fn dial_peer(
    state: &ServerState,
    me: u64,
    tls: &Arc<kvstore_tls::ClientConfig>,
    to: u64,
    purpose: Purpose,
) -> Result<Stream, WireError> {
    let urls = state.peer_urls(to);
    let addrs = super::resolve(&urls).await;
    if addrs.is_empty() {
        return Err(WireError::Refused(format!(
            "no usable peer URL for member {to:x} ({urls:?})"
        )));
    }
    let mut last = WireError::Timeout;
    for addr in addrs {
        let hello = Hello {
            purpose,
            cluster_id: state.cluster_id.load(std::sync::atomic::Ordering::Relaxed),
            from: me,
            to,
        };
        let attempt = async {
            let mut s = super::connect(&addr, tls).await?;
            wire::write_hello(&mut s, &hello).await?;
            wire::read_answer(&mut s).await?;
            Ok::<_, WireError>(s)
        };
        match tokio::time::timeout(DIAL_TIMEOUT, attempt).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = e,
            Err(_) => last = WireError::Timeout,
        }
    }
    Err(last)
}

/// Handles a refusal that means this member must stop.
fn on_dial_error(ctx: &PeerCtx, to: u64, e: &WireError) {
    if let WireError::Removed(reason) = e {
        tracing::error!(peer = format!("{to:x}"), %reason, "this member was removed from the cluster");
        ctx.node.removed();
    }
}

/// An open raft stream to a peer: the write half, and a signal that fires when the peer closes it (the peer never
/// writes on this connection, so any read result means it is gone — a killed process is noticed at once).
struct Conn {
    w: BufWriter<kvstore_tls::WriteHalf>,
    closed: tokio::sync::oneshot::Receiver<()>,
}

impl Conn {
    fn new(s: Stream) -> Conn {
        let (mut r, w) = s.into_split();
        let (tx, closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut b = [0u8; 64];
            let _ = r.read(&mut b).await;
            let _ = tx.send(());
        });
        Conn {
            w: BufWriter::with_capacity(256 << 10, w),
            closed,
        }
    }
}

async fn closed(conn: &mut Option<Conn>) {
    match conn {
        Some(c) => {
            let _ = (&mut c.closed).await;
        }
        None => std::future::pending().await,
    }
}

async fn peer_loop(ctx: PeerCtx, to: u64, mut rx: mpsc::Receiver<Message>) {
    let peer = format!("{to:x}");
    let mut conn: Option<Conn> = None;
    let mut backoff = MIN_BACKOFF;
    let mut retry_at: Option<Instant> = None;
    let mut reported_down = false;
    let mut batch = Vec::new();
    loop {
        // An answer this member owes the peer comes from the raft thread within an fsync: spin for it.
        let owed = ctx.node.answer_due().recv(to, &mut rx).await;
        let first = match owed {
            Some(m) => m,
            None => tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return,
                },
                _ = closed(&mut conn) => {
                    tracing::warn!(peer, "peer closed the connection");
                    conn = None;
                    reported_down = true;
                    ctx.node.report_unreachable(to);
                    continue;
                }
            },
        };
        batch.clear();
        batch.push(first);
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            if retry_at.is_some_and(|t| Instant::now() < t) {
                continue; // still backing off: drop, raft will retry
            }
            match dial(&ctx, to, Purpose::Raft).await {
                Ok(s) => {
                    if reported_down {
                        tracing::info!(peer, "peer reachable again");
                    }
                    conn = Some(Conn::new(s));
                    backoff = MIN_BACKOFF;
                    retry_at = None;
                    reported_down = false;
                }
                Err(e) => {
                    if !reported_down {
                        tracing::warn!(peer, error = %e, "cannot reach peer");
                        reported_down = true;
                    }
                    on_dial_error(&ctx, to, &e);
                    ctx.node.report_unreachable(to);
                    ctx.metrics.peer_sent_failures.inc_by(batch.len() as u64);
                    retry_at = Some(Instant::now() + backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(Conn { w, .. }) = conn.as_mut() else {
            continue;
        };
        let write = async {
            for m in &batch {
                let bytes = m
                    .write_to_bytes()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                wire::write_frame(w, &bytes).await?;
            }
            w.flush().await
        };
        let res = match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write timed out",
            )),
        };
        if let Err(e) = res {
            tracing::warn!(peer, error = %e, "lost the connection to peer");
            conn = None;
            reported_down = true;
            ctx.node.report_unreachable(to);
        }
    }
}

/// Streams a snapshot file to its follower on a connection of its own and reports the outcome to raft.
async fn send_snapshot(ctx: PeerCtx, mut m: Message) {
    let to = m.to;
    let path = PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&m.get_snapshot().data),
    );
    let index = m.get_snapshot().get_metadata().index;
    m.mut_snapshot().data = Vec::new().into();
    let started = Instant::now();
    let res = async {
        let mut file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        let mut s = dial(&ctx, to, Purpose::Snapshot).await?;
        let head = m
            .write_to_bytes()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        wire::write_frame(&mut s, &head).await?;
        s.write_u64(len).await?;
        let sent = tokio::io::copy(&mut file, &mut s).await?;
        if sent != len {
            return Err(WireError::Io(std::io::Error::other(
                "snapshot file changed while sending",
            )));
        }
        s.flush().await?;
        let ack = s.read_u8().await?;
        if ack != 0 {
            return Err(WireError::Refused("snapshot rejected".into()));
        }
        Ok::<u64, WireError>(len)
    };
    let res = match tokio::time::timeout(SNAPSHOT_TIMEOUT, res).await {
        Ok(r) => r,
        Err(_) => Err(WireError::Timeout),
    };
    match &res {
        Ok(len) => {
            tracing::info!(peer = format!("{to:x}"), index, bytes = len, took = ?started.elapsed(), "snapshot sent")
        }
        Err(e) => {
            tracing::warn!(peer = format!("{to:x}"), index, error = %e, "sending snapshot failed");
            on_dial_error(&ctx, to, e);
        }
    }
    if res.is_ok() {
        ctx.metrics.snapshot_sent.inc();
    }
    ctx.node.report_snapshot(to, res.is_ok());
}
