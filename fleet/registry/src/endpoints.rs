//! Which KV endpoint the registry talks to, and moving to another when it stops answering.
//!
//! fleet's default `etcd_servers` lists two URLs (`:2379` and the legacy `:4001`), and a KV cluster lists one
//! per member. A client balancing requests over all of them fails a share of requests whenever one is down,
//! so instead the registry holds one client per endpoint, uses one at a time, and a background check (every
//! [`CHECK_INTERVAL`], and at once when a request could not reach the KV store) moves to the first endpoint that
//! answers when the current one does not — etcd's clientv3 fails over the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions};

use crate::tls::TlsFor;
use tokio::sync::Notify;
use tracing::{info, warn};

/// How often the current endpoint is checked.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// One client per endpoint and the index of the one in use.
pub(crate) struct Endpoints {
    urls: Vec<String>,
    clients: Vec<Client>,
    current: AtomicUsize,
    timeout: Duration,
    /// Wakes the check before its interval is up.
    check_now: Notify,
}

impl Endpoints {
    /// Clients for every URL; with more than one, the first that answers is used, and a task keeps the
    /// current one healthy for as long as the returned value lives.
    pub(crate) async fn connect(
        urls: &[String],
        timeout: Duration,
        tls: &TlsFor,
    ) -> Result<Arc<Endpoints>, etcd_client::Error> {
        let options = ConnectOptions::new()
            .with_timeout(timeout)
            .with_connect_timeout(timeout)
            .with_keep_alive(Duration::from_secs(2), timeout.max(Duration::from_secs(1)));
        let mut clients = Vec::with_capacity(urls.len());
        for url in urls {
            let options = match tls.for_url(url) {
                Some(tls) => options.clone().with_tls(tls),
                None => options.clone(),
            };
            clients.push(Client::connect([url.as_str()], Some(options)).await?);
        }
        if clients.is_empty() {
            return Err(etcd_client::Error::InvalidArgs(
                "no KV endpoints given".into(),
            ));
        }
        let endpoints = Arc::new(Endpoints {
            urls: urls.to_vec(),
            clients,
            current: AtomicUsize::new(0),
            timeout,
            check_now: Notify::new(),
        });
        if endpoints.clients.len() > 1 {
            // Start on the first endpoint that answers now (the first one if none does yet).
            for i in 0..endpoints.clients.len() {
                if endpoints.answers(i).await {
                    endpoints.current.store(i, Ordering::Relaxed);
                    break;
                }
            }
            tokio::spawn(keep_healthy(Arc::downgrade(&endpoints)));
        }
        Ok(endpoints)
    }

    /// The client in use.
    pub(crate) fn client(&self) -> Client {
        self.clients[self.current.load(Ordering::Relaxed) % self.clients.len()].clone()
    }

    /// How long a request may take (`--request-timeout`, fleetd's `etcd_request_timeout`).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A request on the current endpoint could not reach the KV store: check it now rather than at the next
    /// interval, so the next request already goes to an endpoint that answers.
    pub(crate) fn suspect(&self) {
        self.check_now.notify_one();
    }

    async fn answers(&self, i: usize) -> bool {
        let mut kv = self.clients[i].kv_client();
        let probe = kv.get("\0", Some(GetOptions::new().with_count_only()));
        matches!(tokio::time::timeout(self.timeout, probe).await, Ok(Ok(_)))
    }
}

/// Checks the current endpoint; when it does not answer, moves to the first one (in order) that does.
async fn keep_healthy(endpoints: Weak<Endpoints>) {
    let mut down = false;
    loop {
        let Some(e) = endpoints.upgrade() else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(CHECK_INTERVAL) => {}
            () = e.check_now.notified() => {}
        }
        let current = e.current.load(Ordering::Relaxed);
        if e.answers(current).await {
            down = false;
            continue;
        }
        let n = e.clients.len();
        let mut moved = false;
        for step in 1..n {
            let i = (current + step) % n;
            if e.answers(i).await {
                e.current.store(i, Ordering::Relaxed);
                info!(from = %e.urls[current], to = %e.urls[i], "KV endpoint not answering; switched");
                moved = true;
                break;
            }
        }
        if !moved && !down {
            warn!(endpoints = %e.urls.join(","), "no KV endpoint answers");
        }
        down = !moved;
    }
}
