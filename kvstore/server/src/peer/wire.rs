//! Peer connection framing: a hello and its answer, then length-prefixed frames.
//!
//! Hello (33 bytes): `KVPEER01`, purpose (1 raft stream, 2 snapshot, 3 membership query, 4 a request forwarded
//! to the leader), cluster id, sender id,
//! addressee id (u64 big-endian each). Answer: a status byte (0 accepted, 1 refused, 2 sender was removed), a
//! u32 length and a UTF-8 reason (empty when accepted). Frames: u32 big-endian length, then the bytes.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAGIC: &[u8; 8] = b"KVPEER01";
/// Largest frame accepted: a raft append of `max_size_per_msg` (1 MiB) of entries, each up to the 1.5 MiB request
/// limit, plus headroom.
pub const MAX_FRAME: usize = 64 << 20;
/// How long a handshake may take.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Raft = 1,
    Snapshot = 2,
    Membership = 3,
    Forward = 4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    pub purpose: Purpose,
    pub cluster_id: u64,
    pub from: u64,
    pub to: u64,
}

/// The receiver's answer to a hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Refused(String),
    /// The sender was removed from the cluster.
    Removed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a kvstore peer connection")]
    BadMagic,
    #[error("unknown purpose {0}")]
    BadPurpose(u8),
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("refused by the peer: {0}")]
    Refused(String),
    #[error("this member was removed from the cluster: {0}")]
    Removed(String),
    #[error("timed out")]
    Timeout,
}

pub async fn write_hello<W: AsyncWrite + Unpin>(w: &mut W, h: &Hello) -> std::io::Result<()> {
    let mut b = Vec::with_capacity(33);
    b.extend_from_slice(MAGIC);
    b.push(h.purpose as u8);
    b.extend_from_slice(&h.cluster_id.to_be_bytes());
    b.extend_from_slice(&h.from.to_be_bytes());
    b.extend_from_slice(&h.to.to_be_bytes());
    w.write_all(&b).await?;
    w.flush().await
}

pub async fn read_hello<R: AsyncRead + Unpin>(r: &mut R) -> Result<Hello, WireError> {
    let mut b = [0u8; 33];
    r.read_exact(&mut b).await?;
    if &b[..8] != MAGIC {
        return Err(WireError::BadMagic);
    }
    let purpose = match b[8] {
        1 => Purpose::Raft,
        2 => Purpose::Snapshot,
        3 => Purpose::Membership,
        4 => Purpose::Forward,
        p => return Err(WireError::BadPurpose(p)),
    };
    let u = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or_default());
    Ok(Hello {
        purpose,
        cluster_id: u(9),
        from: u(17),
        to: u(25),
    })
}

pub async fn write_answer<W: AsyncWrite + Unpin>(w: &mut W, a: &Answer) -> std::io::Result<()> {
    let (code, reason) = match a {
        Answer::Accepted => (0u8, ""),
        Answer::Refused(r) => (1, r.as_str()),
        Answer::Removed(r) => (2, r.as_str()),
    };
    let mut b = vec![code];
    b.extend_from_slice(&(reason.len() as u32).to_be_bytes());
    b.extend_from_slice(reason.as_bytes());
    w.write_all(&b).await?;
    w.flush().await
}

/// Reads the answer; a refusal becomes the error.
pub async fn read_answer<R: AsyncRead + Unpin>(r: &mut R) -> Result<(), WireError> {
    let code = r.read_u8().await?;
    let reason = String::from_utf8_lossy(&read_frame(r).await?).into_owned();
    match code {
        0 => Ok(()),
        2 => Err(WireError::Removed(reason)),
        _ => Err(WireError::Refused(reason)),
    }
}

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u32).to_be_bytes()).await?;
    w.write_all(b).await
}

pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, WireError> {
    let len = r.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    let mut b = vec![0u8; len];
    r.read_exact(&mut b).await?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hello_answer_and_frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let h = Hello {
            purpose: Purpose::Snapshot,
            cluster_id: 0xdead_beef,
            from: 1,
            to: u64::MAX,
        };
        write_hello(&mut a, &h).await.unwrap();
        assert_eq!(read_hello(&mut b).await.unwrap(), h);
        write_answer(&mut b, &Answer::Refused("cluster ID mismatch".into()))
            .await
            .unwrap();
        let err = read_answer(&mut a).await.unwrap_err();
        assert!(err.to_string().contains("cluster ID mismatch"), "{err}");
        write_frame(&mut a, b"raft").await.unwrap();
        assert_eq!(read_frame(&mut b).await.unwrap(), b"raft");
        // Not a peer: an HTTP request on the peer port.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        a.write_all(b"GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
            .await
            .unwrap();
        assert!(matches!(read_hello(&mut b).await, Err(WireError::BadMagic)));
    }
}
