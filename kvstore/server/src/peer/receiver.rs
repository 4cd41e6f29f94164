//! Incoming peer connections: check the hello, then step raft messages into the node, take in snapshot
//! streams, answer a membership query (a member joining with `--initial-cluster-state existing`), or answer a
//! request a follower forwarded ([`super::forward`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use kvstore_tls::Stream;
use protobuf::Message as _;
use raft::prelude::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_stream::StreamExt as _;

use super::wire::{self, Answer, Hello, Purpose, WireError};
use crate::node::NodeHandle;
use crate::state::{Membership, ServerState};

#[derive(Clone)]
pub struct ReceiverCtx {
    pub node: NodeHandle,
    pub state: Arc<ServerState>,
    /// Where received snapshot files go (`<data-dir>/snap`).
    pub snap_dir: PathBuf,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Answers forwarded requests (the gRPC services' handlers).
    pub forward: super::forward::Handler,
}

/// Serves accepted peer connections (see [`crate::accept::connections`]) until `stop` resolves.
pub async fn serve(
    mut connections: impl tokio_stream::Stream<Item = Stream> + Unpin,
    ctx: ReceiverCtx,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            s = connections.next() => match s {
                Some(s) => s,
                None => return,
            },
        };
        let addr = stream.tcp().peer_addr().ok();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &ctx).await {
                tracing::debug!(?addr, error = %e, "peer connection ended");
            }
        });
    }
}

/// Why a hello is refused, if it is.
fn check(h: &Hello, state: &ServerState) -> Answer {
    let me = state.member_id.load(Relaxed);
    let cluster = state.cluster_id.load(Relaxed);
    if h.purpose == Purpose::Membership {
        return Answer::Accepted;
    }
    if h.cluster_id != cluster {
        return Answer::Refused(format!(
            "cluster ID mismatch: this member {me:x} is in cluster {cluster:x}, the sender {:x} in {:x}",
            h.from, h.cluster_id
        ));
    }
    if h.to != me {
        return Answer::Refused(format!("this is member {me:x}, not {:x}", h.to));
    }
    if state.is_removed(h.from) {
        return Answer::Removed(format!(
            "member {:x} was removed from cluster {cluster:x}",
            h.from
        ));
    }
    Answer::Accepted
}

async fn handle(mut stream: Stream, ctx: &ReceiverCtx) -> Result<(), WireError> {
    let hello = tokio::time::timeout(wire::HELLO_TIMEOUT, wire::read_hello(&mut stream))
        .await
        .map_err(|_| WireError::Timeout)??;
    let answer = check(&hello, &ctx.state);
    wire::write_answer(&mut stream, &answer).await?;
    if let Answer::Refused(reason) | Answer::Removed(reason) = answer {
        tracing::warn!(from = format!("{:x}", hello.from), %reason, "refused a peer connection");
        return Ok(());
    }
    match hello.purpose {
        Purpose::Raft => {
            let mut r = BufReader::with_capacity(256 << 10, stream);
            loop {
                let bytes = wire::read_frame(&mut r).await?;
                let m = Message::parse_from_bytes(&bytes)
                    .map_err(|e| std::io::Error::other(format!("bad raft message: {e}")))?;
                if ctx.node.step(m).is_err() {
                    return Ok(()); // the node stopped
                }
            }
        }
        Purpose::Snapshot => receive_snapshot(stream, hello, ctx).await,
        Purpose::Forward => {
            super::forward::serve(&mut stream, &ctx.forward, &ctx.state, hello.from).await
        }
        Purpose::Membership => {
            let m: Membership = ctx.state.membership();
            let json = serde_json::to_vec(&m).map_err(|e| std::io::Error::other(e.to_string()))?;
            wire::write_frame(&mut stream, &json).await?;
            stream.flush().await?;
            Ok(())
        }
    }
}

async fn receive_snapshot(
    mut stream: Stream,
    hello: Hello,
    ctx: &ReceiverCtx,
) -> Result<(), WireError> {
    let head = wire::read_frame(&mut stream).await?;
    let mut m = Message::parse_from_bytes(&head)
        .map_err(|e| std::io::Error::other(format!("bad snapshot message: {e}")))?;
    let len = stream.read_u64().await?;
    let index = m.get_snapshot().get_metadata().index;
    tokio::fs::create_dir_all(&ctx.snap_dir).await?;
    let path = ctx
        .snap_dir
        .join(format!("recv-{:x}-{index:016x}.snap", hello.from));
    let tmp = path.with_extension("tmp");
    let mut file = tokio::fs::File::create(&tmp).await?;
    let got = tokio::io::copy(&mut (&mut stream).take(len), &mut file).await?;
    if got != len {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(WireError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("snapshot stream ended after {got} of {len} bytes"),
        )));
    }
    file.sync_all().await?;
    tokio::fs::rename(&tmp, &path).await?;
    tracing::info!(
        from = format!("{:x}", hello.from),
        index,
        bytes = len,
        "snapshot received"
    );
    m.mut_snapshot().data = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())
        .to_vec()
        .into();
    let ok = ctx.node.step(m).is_ok();
    ctx.metrics.snapshot_received.inc();
    stream.write_u8(if ok { 0 } else { 1 }).await?;
    stream.flush().await?;
    Ok(())
}

/// Asks the members at `peer_urls` for the cluster's membership (a joining member learns the cluster id and its
/// own id this way). The first that answers wins.
pub async fn fetch_membership(
    peer_urls: &[String],
    tls: &Arc<kvstore_tls::ClientConfig>,
) -> Result<Membership, String> {
    let mut errors = Vec::new();
    for url in peer_urls {
        let addrs = super::resolve(std::slice::from_ref(url)).await;
        for addr in addrs {
            let attempt = async {
                let mut s = super::connect(&addr, tls).await?;
                let hello = Hello {
                    purpose: Purpose::Membership,
                    cluster_id: 0,
                    from: 0,
                    to: 0,
                };
                wire::write_hello(&mut s, &hello).await?;
                wire::read_answer(&mut s).await?;
                let json = wire::read_frame(&mut s).await?;
                serde_json::from_slice::<Membership>(&json)
                    .map_err(|e| WireError::Io(std::io::Error::other(e.to_string())))
            };
            match tokio::time::timeout(wire::HELLO_TIMEOUT, attempt).await {
                Ok(Ok(m)) => return Ok(m),
                Ok(Err(e)) => errors.push(format!("{url}: {e}")),
                Err(_) => errors.push(format!("{url}: timed out")),
            }
        }
    }
    Err(format!("no member answered: {}", errors.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemberInfo;

    fn state() -> ServerState {
        let s = ServerState::default();
        s.cluster_id.store(0xc1, Relaxed);
        s.member_id.store(1, Relaxed);
        let member = |id| MemberInfo {
            id,
            name: format!("m{id}"),
            peer_urls: vec![format!("http://127.0.0.1:{id}")],
            client_urls: Vec::new(),
            is_learner: false,
        };
        s.set_membership(Membership {
            cluster_id: 0xc1,
            members: vec![member(1), member(2)],
            removed: vec![3],
        });
        s
    }

    fn hello(cluster_id: u64, from: u64, to: u64) -> Hello {
        Hello {
            purpose: Purpose::Raft,
            cluster_id,
            from,
            to,
        }
    }

    #[test]
    fn hellos_from_another_cluster_for_another_member_or_from_a_removed_member_are_refused() {
        let s = state();
        assert_eq!(check(&hello(0xc1, 2, 1), &s), Answer::Accepted);
        let Answer::Refused(why) = check(&hello(0xc2, 2, 1), &s) else {
            panic!("another cluster was accepted");
        };
        assert!(
            why.contains("cluster ID mismatch") && why.contains("c2"),
            "{why}"
        );
        assert!(matches!(check(&hello(0xc1, 2, 9), &s), Answer::Refused(w) if w.contains("not 9")));
        assert!(matches!(check(&hello(0xc1, 3, 1), &s), Answer::Removed(_)));
        // A joining member asks for the membership before it knows the cluster id.
        let q = Hello {
            purpose: Purpose::Membership,
            cluster_id: 0,
            from: 0,
            to: 0,
        };
        assert_eq!(check(&q, &s), Answer::Accepted);
    }
}
