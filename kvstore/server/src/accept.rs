//! Accepting connections on the client and peer listeners: plain TCP, or TCP plus a TLS handshake (an
//! `https://` listen URL) done in a task of its own, so a client that stalls mid-handshake holds up no one else.

use std::sync::Arc;
use std::time::Duration;

use kvstore_tls::Stream;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How long a TLS client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections `listener` accepts, ready for use (handshaken with `tls` when given). Accepting stops when
/// the stream is dropped.
pub fn connections(
    listener: TcpListener,
    tls: Option<Arc<kvstore_tls::ServerConfig>>,
) -> ReceiverStream<Stream> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => return,
                r = listener.accept() => r,
            };
            let (tcp, from) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(config) = tls.clone() else {
                match Stream::accept(tcp, None).await {
                    Ok(s) => {
                        if tx.send(s).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::debug!(%from, error = %e, "dropped a new connection"),
                }
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, Stream::accept(tcp, Some(&config)))
                    .await
                {
                    Ok(Ok(s)) => {
                        let _ = tx.send(s).await;
                    }
                    Ok(Err(e)) => tracing::warn!(%from, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::warn!(%from, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
