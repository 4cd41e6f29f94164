//! Requests a follower hands to the leader over the peer URL, as etcd renews leases through its peer listener
//! (`/leases`): lease keep-alives and time-to-live (lease deadlines live on the leader), and membership changes
//! (the leader decides them: [`crate::reconfig`]); and one a member asks of any peer, the hash of its history
//! (`HashKV`, as etcd's `/members/hashkv`) for [`crate::corrupt_check`]. The peer connection is the one channel between members that is
//! authenticated the same way whatever the client URLs serve (plain, TLS, client-cert-auth).
//!
//! One connection per request: the hello (purpose [`Purpose::Forward`]), then a frame `kind:u8 request`
//! (protobuf); the answer is a frame `0 response` (protobuf) or `1 code:u32 message` (a gRPC status, relayed to
//! the client as the leader gave it).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use kvstore_tls::Stream;
use prost::Message;
use tokio::io::AsyncWriteExt;
use tonic::{Code, Status};

use super::wire::{self, Purpose, WireError};
use crate::state::ServerState;

/// How long a forwarded request may take, dial included.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

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
    pub state: Arc<ServerState>,
    pub tls: Arc<kvstore_tls::ClientConfig>,
}

impl Forwarder {
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
        let call = async {
            let mut s =
                super::sender::dial_peer(&self.state, self.me, &self.tls, id, Purpose::Forward)
                    .await?;
            let mut frame = vec![kind as u8];
            req.encode(&mut frame)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            wire::write_frame(&mut s, &frame).await?;
            s.flush().await?;
            wire::read_frame(&mut s).await
        };
        match tokio::time::timeout(FORWARD_TIMEOUT, call).await {
            Ok(Ok(answer)) => Ok(decode_answer(&answer)),
            Ok(Err(e)) => Err(Unanswered::Failed(e)),
            Err(_) => Err(Unanswered::Timeout),
        }
    }
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

/// Answers the one request on a forward connection.
pub async fn serve_one(stream: &mut Stream, handler: &Handler) -> Result<(), WireError> {
    let frame = wire::read_frame(stream).await?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvstore_proto::etcdserverpb::LeaseKeepAliveResponse;

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
}
