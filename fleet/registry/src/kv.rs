//! The registry's KV requests, riding over a KV leader election or a member that went away the way etcd's
//! clientv3 does (its retry interceptor):
//!
//! - every request that cannot reach the KV store has the endpoint in use checked at once (see
//!   [`Endpoints::suspect`]), so the next request — whoever makes it — already goes to one that answers;
//! - a read that fails that way is tried again on the endpoint then in use, every [`RETRY_PAUSE`], until the
//!   request timeout is spent (a read has no effect, so trying it twice is harmless);
//! - a change (put, delete, transaction) is tried again only when it was never sent — the connection to the
//!   endpoint was refused — because one that reached a member that then failed may have been applied, and
//!   its outcome is the caller's to find out (as with etcd, whose clients retry only unsent changes).

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    DeleteOptions, DeleteResponse, GetOptions, GetResponse, KvClient, PutOptions, PutResponse, Txn,
    TxnResponse,
};
use tokio::time::Instant;

use crate::endpoints::Endpoints;
use crate::error::RegistryError;

/// Pause between two tries of a request (etcd's clientv3 waits 25 ms ± 10%; a KV election takes a few hundred).
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// KV requests on the endpoint in use, tried again as the module docs say.
pub(crate) struct Kv {
    endpoints: Arc<Endpoints>,
}

impl Kv {
    pub(crate) fn new(endpoints: Arc<Endpoints>) -> Kv {
        Kv { endpoints }
    }

    pub(crate) async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<GetOptions>,
    ) -> Result<GetResponse, RegistryError> {
        let key = key.into();
        self.tried(RegistryError::is_unavailable, |mut kv| {
            let (key, options) = (key.clone(), options.clone());
            async move { kv.get(key, options).await }
        })
        .await
    }

    pub(crate) async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: Option<PutOptions>,
    ) -> Result<PutResponse, RegistryError> {
        let (key, value) = (key.into(), value.into());
        self.tried(RegistryError::is_unsent, |mut kv| {
            let (key, value, options) = (key.clone(), value.clone(), options.clone());
            async move { kv.put(key, value, options).await }
        })
        .await
    }

    pub(crate) async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResponse, RegistryError> {
        let key = key.into();
        self.tried(RegistryError::is_unsent, |mut kv| {
            let (key, options) = (key.clone(), options.clone());
            async move { kv.delete(key, options).await }
        })
        .await
    }

    pub(crate) async fn txn(&self, txn: Txn) -> Result<TxnResponse, RegistryError> {
        self.tried(RegistryError::is_unsent, |mut kv| {
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await
    }

    /// Runs `request` on the client in use, again (on whichever is in use then) after a failure `retried`
    /// accepts, until the request timeout is spent.
    async fn tried<T, F, Fut>(
        &self,
        retried: fn(&RegistryError) -> bool,
        request: F,
    ) -> Result<T, RegistryError>
    where
        F: Fn(KvClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let give_up = Instant::now() + self.endpoints.timeout();
        loop {
            let r = reported(
                &self.endpoints,
                request(self.endpoints.client().kv_client()).await,
            );
            match r {
                Err(e) if retried(&e) && Instant::now() + RETRY_PAUSE < give_up => {
                    tracing::debug!(error = %e, "KV request failed; trying again");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                r => return r,
            }
        }
    }
}

/// `r` as a registry result; a failure to reach the KV store has the endpoint in use checked at once.
pub(crate) fn reported<T>(
    endpoints: &Endpoints,
    r: Result<T, etcd_client::Error>,
) -> Result<T, RegistryError> {
    r.map_err(|e| {
        let e = RegistryError::from(e);
        if e.is_unavailable() {
            endpoints.suspect();
        }
        e
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::TcpListener;

    use super::*;
    use crate::Registry;

    const TIMEOUT: Duration = Duration::from_secs(2);

    /// A listener on 127.0.0.1 that takes each connection and closes it at once (a member that dies as a
    /// request arrives), counting them.
    async fn closing_listener(listener: TcpListener) -> Arc<AtomicUsize> {
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        accepted
    }

    async fn registry(port: u16) -> Registry {
        Registry::connect(&[format!("http://127.0.0.1:{port}")], "/test/", TIMEOUT)
            .await
            .expect("connecting does not wait for the KV store")
    }

    #[tokio::test]
    async fn a_read_is_tried_again_but_a_change_that_may_have_arrived_is_not() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = closing_listener(listener).await;
        let r = registry(port).await;

        let e = r
            .kv()
            .put("k", "v", None)
            .await
            .expect_err("nothing answers");
        assert!(e.is_unavailable() && !e.is_unsent(), "{e:?}");
        let after_put = accepted.load(Ordering::SeqCst);
        assert_eq!(
            after_put, 1,
            "a change that reached a member is not sent again"
        );

        let e = r.kv().get("k", None).await.expect_err("nothing answers");
        assert!(e.is_unavailable(), "{e:?}");
        let tries = accepted.load(Ordering::SeqCst) - after_put;
        assert!(
            tries > 2,
            "a read is tried until the timeout: {tries} tries"
        );
    }

    #[tokio::test]
    async fn a_refused_change_is_sent_again_once_the_endpoint_listens() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let r = registry(port).await;
        let refused = r.kv().put("k", "v", None).await.expect_err("refused");
        assert!(refused.is_unsent(), "{refused:?}");

        // The same change, with the endpoint coming up while it is tried again.
        let put = tokio::spawn(async move { r.kv().put("k", "v", None).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let accepted = closing_listener(
            TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("rebind"),
        )
        .await;
        let e = put
            .await
            .expect("task")
            .expect_err("the listener closes it");
        assert!(!e.is_unsent(), "it reached the endpoint this time: {e:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
