//! The peer transport: raft messages between members over TCP on the peer URL (`--listen-peer-urls`, default
//! 127.0.0.1:2380), with TLS when the URL is `https://` (`--peer-cert-file` and friends, as etcd's).
//!
//! - [`sender::PeerTransport`] is the Ready loop's [`crate::transport::Transport`]: one task and one persistent
//!   connection per peer, fed through a bounded queue, so a slow or dead peer never blocks the loop (messages
//!   beyond the queue are dropped; raft retransmits). Failed connects back off from 50 ms to 1 s and report the
//!   peer unreachable to raft. Snapshots go on their own connection as a stream, so heartbeats keep flowing.
//! - [`receiver::serve`] accepts connections and steps what arrives into the raft node.
//! - [`forward`] carries the few client requests only the leader can answer (lease renewals, membership
//!   changes) from a follower to the leader, on connections of their own that a follower keeps open and reuses.
//! - [`wire`] is the framing and the handshake. Every connection opens with a hello that names the cluster, the
//!   sender and the addressee: a member of another cluster, a message for another member, or a member that was
//!   removed is refused with a reason, and the sender logs it (a removed member stops itself).
//!
//! Why hand-rolled framing rather than gRPC: raft-rs messages are rust-protobuf types, the stream is one-way
//! and ordered, and a length prefix is all it needs; it keeps the hot path to one `write` per batch.

pub mod forward;
pub mod receiver;
pub mod sender;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use kvstore_tls::ServerName;
use kvstore_tls::Stream;

/// Where a peer URL leads: an address, and for an `https://` URL the name its certificate must carry.
#[derive(Debug, Clone)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    pub tls_name: Option<ServerName<'static>>,
}

/// The socket addresses of peer URLs (`http[s]://host:port`), in order, skipping ones that do not resolve.
pub async fn resolve(urls: &[String]) -> Vec<PeerAddr> {
    let mut out = Vec::new();
    for u in urls {
        let Ok(hostport) = crate::config::host_port(u) else {
            continue;
        };
        let tls_name = if crate::config::is_https(u) {
            match kvstore_tls::server_name(crate::config::host_of(hostport)) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!(url = %u, error = %e, "skipping a peer URL");
                    continue;
                }
            }
        } else {
            None
        };
        if let Ok(addrs) = tokio::net::lookup_host(hostport).await {
            out.extend(addrs.map(|addr| PeerAddr {
                addr,
                tls_name: tls_name.clone(),
            }));
        }
    }
    out
}

/// Dials a peer, with TLS (`tls` trusted, this member's certificate presented) when its URL is https.
pub async fn connect(
    to: &PeerAddr,
    tls: &Arc<kvstore_tls::ClientConfig>,
) -> std::io::Result<Stream> {
    Stream::connect(to.addr, to.tls_name.clone().map(|name| (tls, name))).await
}
