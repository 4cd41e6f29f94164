//! Requests a follower hands to the leader over the peer URL, as etcd renews leases through its peer listener
//! (`/leases`): lease keep-alives and time-to-live (lease deadlines live on the leader), and membership changes
//! (the leader decides them: [`crate::reconfig`]); and one a member asks of any peer, the hash of its history
//! (`HashKV`, as etcd's `/members/hashkv`) for [`crate::corrupt_check`]. The peer connection is the one channel between members that is
//! authenticated the same way whatever the client URLs serve (plain, TLS, client-cert-auth).
//!
//! A connection opens with the hello (purpose [`Purpose::Forward`]) and then carries requests one after another:
//! a frame `kind:u8 request` (protobuf), answered by a frame `0 response` (protobuf) or `1 code:u32 message` (a
//! gRPC status, relayed to the client as the leader gave it). A follower keeps a few idle connections per member
//! ([`IdleConnections`]) so that a stream of lease keep-alives through it does not dial, say hello (and shake
//! hands, with TLS) once per renewal. Only requests that are safe to send twice ([`Kind::is_idempotent`]) go on
//! a reused connection, and are sent again on a fresh one when the reused one turns out to be closed — the other
//! end may have dropped it while it was idle. Membership changes always dial.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvstore_tls::Stream;
use prost::Message;
use tokio::io::AsyncWriteExt;
use tonic::{Code, Status};

use super::wire::{self, Purpose, WireError};
use crate::state::ServerState;

/// How long a forwarded request may take, dial included.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a follower keeps an unused connection for the next request.
const IDLE_KEPT: Duration = Duration::from_secs(30);

/// How long the answering member waits for the next request before closing a connection; longer than
/// [`IDLE_KEPT`], so that a connection the follower may still reuse is rarely closed under it.
const IDLE_SERVED: Duration = Duration::from_secs(60);

/// Idle connections kept per member: enough for the keep-alives of many clients arriving together.
const IDLE_PER_MEMBER: usize = 8;

/// What is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LeaseKeepAlive = 1,
    LeaseTimeToLive = 2,
    MemberAdd = 3,
    MemberRemove = 4,
    MemberPromote = 5,
    HashKv = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::LeaseKeepAlive,
            2 => Kind::LeaseTimeToLive,
            3 => Kind::MemberAdd,
            4 => Kind::MemberRemove,
            5 => Kind::MemberPromote,
            6 => Kind::HashKv,
            _ => return None,
        })
    }

    /// Whether the request may be sent again when its first connection failed with no answer: renewing a lease
    /// twice, or asking twice for its time to live or a hash, changes nothing; a membership change might be made
    /// twice.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Kind::LeaseKeepAlive | Kind::LeaseTimeToLive | Kind::HashKv
        )
    }
}

/// The leader's side: answers a forwarded request (protobuf bytes) with the response's protobuf bytes.
pub type Handler = Arc<
    dyn Fn(Kind, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Status>> + Send>>
        + Send
        + Sync,
>;

/// Dials the leader's peer URL on behalf of a follower's request handlers.
#[derive(Clone)]
pub struct Forwarder {
    pub me: u64,
    state: Arc<ServerState>,
    tls: Arc<kvstore_tls::ClientConfig>,
    idle: Arc<IdleConnections>,
}

/// Open forward connections not in use, by member, with when each was last used.
#[derive(Default)]
pub struct IdleConnections(Mutex<HashMap<u64, Vec<(Stream, Instant)>>>);

impl IdleConnections {
    /// The most recently used connection to `member` that has not been idle too long (older ones are closed).
    fn take(&self, member: u64) -> Option<Stream> {
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.get_mut(&member)?;
        conns.retain(|(_, since)| since.elapsed() < IDLE_KEPT);
        conns.pop().map(|(s, _)| s)
    }

    /// Keeps a connection that just answered, unless `member` already has enough idle ones.
    fn put(&self, member: u64, s: Stream) {
        let mut idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.entry(member).or_default();
        if conns.len() < IDLE_PER_MEMBER {
            conns.push((s, Instant::now()));
        }
    }

    #[cfg(test)]
    fn count(&self, member: u64) -> usize {
        let idle = self.0.lock().unwrap_or_else(|e| e.into_inner());
        idle.get(&member).map_or(0, Vec::len)
    }
}

impl Forwarder {
    pub fn new(me: u64, state: Arc<ServerState>, tls: Arc<kvstore_tls::ClientConfig>) -> Forwarder {
        Forwarder {
            me,
            state,
            tls,
            idle: Arc::default(),
        }
    }

    /// Sends `req` to the current leader and returns its answer; a leader that cannot be reached is "no leader"
    /// (`Unavailable`), which clients retry.
    pub async fn to_leader<Req: Message, Resp: Message + Default>(
        &self,
        kind: Kind,
        req: &Req,
    ) -> Result<Resp, Status> {
        let leader = self.state.leader.load(Relaxed);
        if leader == 0 || leader == self.me {
            return Err(crate::error::EtcdError::NoLeader.into());
        }
        match self.to_member(leader, kind, req).await {
            Ok(answer) => answer,
            Err(Unanswered::Timeout) => Err(crate::error::EtcdError::Timeout.into()),
            Err(Unanswered::Failed(e)) => {
                tracing::debug!(leader = format!("{leader:x}"), error = %e, ?kind, "forwarding to the leader failed");
                Err(crate::error::EtcdError::NoLeader.into())
            }
        }
    }

    /// Sends `req` to member `id`: its answer (a response or the status it gave), or why there was none.
    pub async fn to_member<Req: Message, Resp: Message + Default>(
        &self,
        id: u64,
        kind: Kind,
        req: &Req,
    ) -> Result<Result<Resp, Status>, Unanswered> {
        let mut frame = vec![kind as u8];
        req.encode(&mut frame)
            .map_err(|e| Unanswered::Failed(std::io::Error::other(e.to_string()).into()))?;
        let call = async {
            if kind.is_idempotent() {
                if let Some(mut s) = self.idle.take(id) {
                    match exchange(&mut s, &frame).await {
                        Ok(answer) => {
                            self.idle.put(id, s);
                            return Ok(answer);
                        }
                        Err(e) => tracing::debug!(member = format!("{id:x}"), error = %e, ?kind,
                            "an idle forward connection failed; sending on a new one"),
                    }
                }
            }
            let mut s =
                super::sender::dial_peer(&self.state, self.me, &self.tls, id, Purpose::Forward)
                    .await?;
            let answer = exchange(&mut s, &frame).await?;
            self.idle.put(id, s);
            Ok(answer)
        };
        match tokio::time::timeout(FORWARD_TIMEOUT, call).await {
            Ok(Ok(answer)) => Ok(decode_answer(&answer)),
            Ok(Err(e)) => Err(Unanswered::Failed(e)),
            Err(_) => Err(Unanswered::Timeout),
        }
    }
}

/// Sends one request frame and reads its answer.
async fn exchange(s: &mut Stream, frame: &[u8]) -> Result<Vec<u8>, WireError> {
    wire::write_frame(s, frame).await?;
    s.flush().await?;
    wire::read_frame(s).await
}

/// Why a member gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    #[error("{0}")]
    Failed(WireError),
    #[error("no answer within {FORWARD_TIMEOUT:?}")]
    Timeout,
}

fn decode_answer<Resp: Message + Default>(b: &[u8]) -> Result<Resp, Status> {
    match b.split_first() {
        Some((0, body)) => Resp::decode(body)
            .map_err(|e| Status::internal(format!("leader's answer does not decode: {e}"))),
        Some((1, rest)) if rest.len() >= 4 => {
            let (code, message) = rest.split_at(4);
            let code = u32::from_be_bytes([code[0], code[1], code[2], code[3]]);
            Err(Status::new(
                Code::from_i32(code as i32),
                String::from_utf8_lossy(message).into_owned(),
            ))
        }
        _ => Err(Status::internal("leader's answer is malformed")),
    }
}

fn encode_answer(answer: Result<Vec<u8>, Status>) -> Vec<u8> {
    match answer {
        Ok(body) => {
            let mut b = Vec::with_capacity(body.len() + 1);
            b.push(0);
            b.extend_from_slice(&body);
            b
        }
        Err(status) => {
            let mut b = vec![1];
            b.extend_from_slice(&(status.code() as i32 as u32).to_be_bytes());
            b.extend_from_slice(status.message().as_bytes());
            b
        }
    }
}

/// Answers the requests on a forward connection from member `from`, one after another, until it closes, stays
/// idle for [`IDLE_SERVED`], or `from` is removed from the cluster.
pub async fn serve(
    stream: &mut Stream,
    handler: &Handler,
    state: &ServerState,
    from: u64,
) -> Result<(), WireError> {
    loop {
        let frame = match tokio::time::timeout(IDLE_SERVED, wire::read_frame(stream)).await {
            Err(_) => return Ok(()),
            Ok(Err(WireError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(())
            }
            Ok(frame) => frame?,
        };
        if state.is_removed(from) {
            return Ok(());
        }
        let answer = match frame.split_first() {
            Some((kind, body)) => match Kind::from_u8(*kind) {
                Some(kind) => handler(kind, body.to_vec()).await,
                None => Err(Status::unimplemented(format!(
                    "unknown forwarded request kind {kind}"
                ))),
            },
            None => Err(Status::invalid_argument("empty forwarded request")),
        };
        wire::write_frame(stream, &encode_answer(answer)).await?;
        stream.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MemberInfo, Membership};
    use kvstore_proto::etcdserverpb::{LeaseKeepAliveRequest, LeaseKeepAliveResponse};
    use kvstore_proto::etcdserverpb::{MemberPromoteRequest, MemberPromoteResponse};
    use std::sync::atomic::AtomicUsize;
    use tokio::net::TcpListener;

    const LEADER: u64 = 0x2;

    /// What the test leader saw: connections accepted, and the kind of every request that reached it.
    #[derive(Default)]
    struct Seen {
        accepted: AtomicUsize,
        received: Mutex<Vec<Kind>>,
    }

    impl Seen {
        fn received(&self, kind: Kind) -> usize {
            self.received
                .lock()
                .unwrap()
                .iter()
                .filter(|k| **k == kind)
                .count()
        }
    }

    /// A member on a real 127.0.0.1 port that answers forward connections with `serve` (a keep-alive's ttl is
    /// its id). With `answers_per_connection`, it answers that many on a connection, then reads one more request
    /// and closes without an answer, as a member that dropped a connection or died would. Returns a follower's
    /// forwarder to it and what it saw.
    async fn leader(answers_per_connection: Option<usize>) -> (Forwarder, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let recorder = seen.clone();
        let handler: Handler = Arc::new(move |kind, body| {
            recorder.received.lock().unwrap().push(kind);
            Box::pin(async move {
                match kind {
                    Kind::LeaseKeepAlive => {
                        let req = LeaseKeepAliveRequest::decode(&body[..]).unwrap();
                        Ok(LeaseKeepAliveResponse {
                            header: None,
                            id: req.id,
                            ttl: req.id,
                        }
                        .encode_to_vec())
                    }
                    _ => Ok(MemberPromoteResponse::default().encode_to_vec()),
                }
            })
        });
        let counter = seen.clone();
        tokio::spawn(async move {
            let leader_state = Arc::new(ServerState::default());
            while let Ok((tcp, _)) = listener.accept().await {
                counter.accepted.fetch_add(1, Relaxed);
                let (handler, leader_state) = (handler.clone(), leader_state.clone());
                tokio::spawn(async move {
                    let mut s = Stream::accept(tcp, None).await.unwrap();
                    let hello = wire::read_hello(&mut s).await.unwrap();
                    wire::write_answer(&mut s, &wire::Answer::Accepted)
                        .await
                        .unwrap();
                    let Some(n) = answers_per_connection else {
                        return serve(&mut s, &handler, &leader_state, hello.from).await;
                    };
                    for _ in 0..n {
                        let frame = wire::read_frame(&mut s).await?;
                        let kind = Kind::from_u8(frame[0]).unwrap();
                        let answer = handler(kind, frame[1..].to_vec()).await;
                        wire::write_frame(&mut s, &encode_answer(answer)).await?;
                        s.flush().await?;
                    }
                    let frame = wire::read_frame(&mut s).await?;
                    drop(handler(Kind::from_u8(frame[0]).unwrap(), vec![]));
                    Ok(())
                });
            }
        });
        let state = ServerState::default();
        *state.membership.write().unwrap() = Membership {
            cluster_id: 1,
            members: vec![MemberInfo {
                id: LEADER,
                name: "leader".into(),
                peer_urls: vec![url],
                client_urls: vec![],
                is_learner: false,
            }],
            removed: vec![],
        };
        state.leader.store(LEADER, Relaxed);
        let tls = kvstore_tls::client_config(None, None, true, &[]).unwrap();
        (Forwarder::new(0x1, Arc::new(state), tls), seen)
    }

    async fn keep_alive(f: &Forwarder, id: i64) -> i64 {
        let req = LeaseKeepAliveRequest { id };
        let resp: LeaseKeepAliveResponse = f.to_leader(Kind::LeaseKeepAlive, &req).await.unwrap();
        resp.ttl
    }

    #[test]
    fn answers_round_trip_as_responses_or_statuses() {
        let resp = LeaseKeepAliveResponse {
            header: None,
            id: 7,
            ttl: 30,
        };
        let back: LeaseKeepAliveResponse =
            decode_answer(&encode_answer(Ok(resp.encode_to_vec()))).unwrap();
        assert_eq!(back, resp);
        let status = Status::unavailable("etcdserver: unhealthy cluster");
        let err = decode_answer::<LeaseKeepAliveResponse>(&encode_answer(Err(status))).unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert_eq!(err.message(), "etcdserver: unhealthy cluster");
        assert!(decode_answer::<LeaseKeepAliveResponse>(&[1, 0]).is_err());
        assert!(decode_answer::<LeaseKeepAliveResponse>(&[]).is_err());
    }

    #[tokio::test]
    async fn keep_alives_share_one_connection() {
        let (f, seen) = leader(None).await;
        for id in 1..=20 {
            assert_eq!(
                keep_alive(&f, id).await,
                id,
                "each answer is its own request's"
            );
        }
        assert_eq!(
            seen.accepted.load(Relaxed),
            1,
            "20 keep-alives in a row dial once"
        );
        assert_eq!(f.idle.count(LEADER), 1);
        let together = futures::future::join_all((1..=12).map(|id| keep_alive(&f, id))).await;
        assert_eq!(together, (1..=12).collect::<Vec<_>>());
        let dialed = seen.accepted.load(Relaxed);
        assert!(
            dialed <= 12,
            "12 at once need at most 12 connections: {dialed}"
        );
        assert!(f.idle.count(LEADER) <= IDLE_PER_MEMBER);
    }

    #[tokio::test]
    async fn a_keep_alive_is_sent_again_on_a_new_connection_a_membership_change_never() {
        let (f, seen) = leader(Some(1)).await;
        assert_eq!(keep_alive(&f, 1).await, 1);
        // Its idle connection is closed after reading the next request: sent again on a new one.
        assert_eq!(keep_alive(&f, 2).await, 2);
        assert_eq!(seen.accepted.load(Relaxed), 2);
        assert_eq!(seen.received(Kind::LeaseKeepAlive), 3);
        // A membership change dials whatever is idle, so it reaches the leader once.
        let promote = MemberPromoteRequest { id: 9 };
        let r: Result<MemberPromoteResponse, _> = f.to_leader(Kind::MemberPromote, &promote).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            seen.received(Kind::MemberPromote),
            1,
            "a membership change is sent once"
        );
        assert_eq!(seen.accepted.load(Relaxed), 3);
    }
}
