//! A client connection whose writes are batched: many gRPC replies leave in one `writev` instead of one each.
//!
//! The raft thread answers a whole batch of proposals at once, which wakes one handler task per request. Each
//! finished handler wakes its connection's HTTP/2 task, and tokio runs a task woken that way right next, so
//! the connection flushed after every reply: at 256 clients ~0.6 `writev` per put, each a trip through the
//! loopback TCP stack and a wake-up of the client. grpc-go (etcd) avoids this with a writer that drains all
//! queued frames before it flushes.
//!
//! [`BatchedWrites`] does the same under h2: writes go to a buffer, and while other requests are in flight
//! ([`InFlight`]) the first flush of a buffer yields once (the task wakes itself, which puts it behind the
//! tasks already queued) so that the other replies of the batch are encoded before the bytes go out. With
//! nothing else in flight (one client, a watch event on an idle server) the bytes go at once: a yield would
//! only hand the connection to the other worker thread, one more wake-up on a lone request's path. Reads pass
//! through. One reply's frames stay together only because the vendored h2 hands frames over without flushing
//! until its send loop ends (`third_party/h2/FLOTILLA.md`); stock h2 flushes after a DATA frame of 256 bytes
//! or more, which sent a Range reply's trailers in a second write.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Buffered bytes above which a write drains the buffer first (and a larger write goes straight through).
const BUFFER_LIMIT: usize = 64 << 10;

/// How many unary requests are being handled on this member: while any are, a flush waits for their replies.
#[derive(Debug, Default)]
pub struct InFlight(AtomicUsize);

impl InFlight {
    /// Counts a request until the returned guard is dropped.
    pub fn enter(&self) -> InFlightGuard<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self)
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// One request in flight; see [`InFlight::enter`].
pub struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An I/O stream whose writes are held until a flush, and whose first flush yields once to gather more while
/// other requests are in flight.
pub struct BatchedWrites<T> {
    inner: T,
    in_flight: Arc<InFlight>,
    buf: Vec<u8>,
    /// Bytes of `buf` already written to `inner`.
    written: usize,
    /// Whether this flush already yielded.
    yielded: bool,
}

impl<T> BatchedWrites<T> {
    pub fn new(inner: T, in_flight: Arc<InFlight>) -> Self {
        BatchedWrites {
            inner,
            in_flight,
            buf: Vec::new(),
            written: 0,
            yielded: false,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncWrite + Unpin> BatchedWrites<T> {
    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes: drains a full buffer. `Ready(true)` when the bytes should bypass the
    /// buffer (they are as large as it is).
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<bool>> {
        if self.buf.len() + len > BUFFER_LIMIT {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(len >= BUFFER_LIMIT))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BatchedWrites<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if ready!(this.poll_room(cx, data.len()))? {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        this.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if ready!(this.poll_room(cx, len))? {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        for b in bufs {
            this.buf.extend_from_slice(b);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        if !this.yielded && this.in_flight.any() {
            // Waking the running task re-queues it behind the tasks already runnable (tokio treats it as a
            // yield), so the replies they are about to finish join this write.
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_drain(cx))?;
        this.yielded = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for BatchedWrites<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl tonic::transport::server::Connected for BatchedWrites<kvstore_tls::Stream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.tcp().connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_are_held_until_a_flush_and_then_arrive_in_order() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = BatchedWrites::new(a, Arc::default());
        w.write_all(b"one ").await.unwrap();
        w.write_all(b"two").await.unwrap();
        let mut probe = [0u8; 16];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), b.read(&mut probe)).await;
        assert!(early.is_err(), "bytes left before the flush");
        w.flush().await.unwrap();
        let mut got = vec![0u8; 7];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"one two");
    }

    #[tokio::test]
    async fn a_write_larger_than_the_buffer_goes_through_after_what_was_buffered() {
        let (a, mut b) = tokio::io::duplex(4 << 20);
        let mut w = BatchedWrites::new(a, Arc::default());
        let big = vec![7u8; BUFFER_LIMIT * 3];
        w.write_all(b"head").await.unwrap();
        w.write_all(&big).await.unwrap();
        w.write_all(b"tail").await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 4 + big.len() + 4);
        assert_eq!(&got[..4], b"head");
        assert!(got[4..4 + big.len()].iter().all(|&x| x == 7));
        assert_eq!(&got[got.len() - 4..], b"tail");
    }

    /// Counts the writes that reach the socket side.
    struct CountWrites<T> {
        inner: T,
        writes: Arc<AtomicUsize>,
    }

    impl<T: AsyncWrite + Unpin> AsyncWrite for CountWrites<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, data))?;
            self.writes.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    impl<T: AsyncRead + Unpin> AsyncRead for CountWrites<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    /// A unary reply whose message is large enough for h2 to chain it (a Range answer with a 256-byte value)
    /// leaves in one write with its trailers: the client wakes once per reply, not twice. This holds through
    /// the patched h2 in third_party/h2 (see its FLOTILLA.md); stock h2 flushes between DATA and trailers.
    #[tokio::test]
    async fn a_reply_with_a_large_message_leaves_in_one_write_with_its_trailers() {
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = CountWrites {
            inner: server_io,
            writes: writes.clone(),
        };
        let server = tokio::spawn(async move {
            let mut conn = h2::server::handshake(BatchedWrites::new(counted, Arc::default()))
                .await
                .expect("server handshake");
            let (_req, mut respond) = conn.accept().await.expect("a request").expect("request");
            (conn, respond.send_response(http::Response::new(()), false))
        });
        let (mut client, client_conn) = h2::client::handshake(client_io)
            .await
            .expect("client handshake");
        tokio::spawn(client_conn);
        let (reply, _) = client
            .send_request(http::Request::new(()), true)
            .expect("send request");
        let (mut conn, send) = server.await.expect("server task");
        let mut send = send.expect("send_response");
        let before = writes.load(Ordering::SeqCst);
        send.send_data(bytes::Bytes::from(vec![b'v'; 300]), false)
            .expect("send_data");
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        send.send_trailers(trailers).expect("send_trailers");
        tokio::spawn(async move { while conn.accept().await.is_some() {} });

        let mut body = reply.await.expect("reply").into_body();
        let mut got = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("body chunk");
            got += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body
            .trailers()
            .await
            .expect("trailers")
            .expect("some trailers");
        assert_eq!(got, 300);
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(
            writes.load(Ordering::SeqCst) - before,
            1,
            "headers, message and trailers of one reply took more than one write"
        );
    }
}
