//! Watches: every applied batch of events is broadcast once; each Watch stream filters it for its watchers.
//!
//! Writers never wait for watchers. The broadcast ring is bounded; a stream that falls behind (slow client,
//! full send buffer) is told it lagged and simply catches up from the store's history, exactly as a watcher with
//! an old `start_revision` does. Each watcher tracks `next_rev`, the first revision it has not seen; any batch
//! that starts above it first triggers a history read of the gap, so events arrive once, in order, none lost.
//! A watcher whose `next_rev` has been compacted away is cancelled with `compact_revision` (etcd's behaviour).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kvstore_proto::etcdserverpb::{
    watch_create_request::FilterType, watch_request::RequestUnion, WatchCreateRequest,
    WatchRequest, WatchResponse,
};
use kvstore_proto::mvccpb::{event::EventType, Event};
use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use crate::mvcc::keys::{in_range, Revision};
use crate::mvcc::read::Reader;
use crate::state::ServerState;
use crate::storage::Db;

/// Batches the broadcast ring holds before a slow stream is told it lagged.
const RING: usize = 4096;
/// Events read from history per page while catching up.
const PAGE: usize = 1000;

/// The events of one applied batch: every revision in `first_rev..=last_rev`.
#[derive(Debug)]
pub struct WatchBatch {
    pub first_rev: i64,
    pub last_rev: i64,
    pub events: Vec<Event>,
}

/// The fan-out point between apply and the watch streams.
#[derive(Clone)]
pub struct WatchHub {
    tx: broadcast::Sender<Arc<WatchBatch>>,
    /// Open watchers across all streams (for metrics).
    pub watchers: Arc<AtomicI64>,
}

impl Default for WatchHub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(RING);
        WatchHub {
            tx,
            watchers: Arc::new(AtomicI64::new(0)),
        }
    }
}

impl WatchHub {
    pub fn publish(&self, batch: WatchBatch) {
        // No receivers is fine: nobody watches.
        let _ = self.tx.send(Arc::new(batch));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchBatch>> {
        self.tx.subscribe()
    }
}

struct Watcher {
    key: Vec<u8>,
    range_end: Vec<u8>,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    progress_notify: bool,
    /// First revision this watcher has not been sent.
    next_rev: i64,
}

impl Watcher {
    fn wants(&self, e: &Event) -> bool {
        let Some(kv) = &e.kv else { return false };
        let is_put = e.r#type == EventType::Put as i32;
        if (is_put && self.no_put) || (!is_put && self.no_delete) {
            return false;
        }
        in_range(&kv.key, &self.key, &self.range_end)
    }
}

/// The server side of one Watch RPC.
pub struct WatchStream {
    hub: WatchHub,
    db: Arc<Db>,
    state: Arc<ServerState>,
    out: mpsc::Sender<Result<WatchResponse, Status>>,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    progress_interval: Duration,
}

enum Flow {
    Continue,
    Stop,
}

impl WatchStream {
    pub fn new(
        hub: WatchHub,
        db: Arc<Db>,
        state: Arc<ServerState>,
        out: mpsc::Sender<Result<WatchResponse, Status>>,
        progress_interval: Duration,
    ) -> Self {
        WatchStream {
            hub,
            db,
            state,
            out,
            watchers: BTreeMap::new(),
            next_id: 0,
            progress_interval,
        }
    }

    /// Serves the stream until the client goes away. A client that closes its sending side (the JSON gateway
    /// does once the request body ends) keeps its watches, as etcd's `recvLoop` returns without error on EOF;
    /// the stream then ends when nobody reads the responses any more.
    pub async fn run<S>(mut self, mut inbound: S)
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin,
    {
        let mut rx = self.hub.subscribe();
        let mut progress = tokio::time::interval(self.progress_interval);
        progress.tick().await;
        let out = self.out.clone();
        let mut inbound_open = true;
        loop {
            let flow = tokio::select! {
                req = inbound.next(), if inbound_open => match req {
                    Some(Ok(req)) => self.on_request(req).await,
                    None => {
                        inbound_open = false;
                        Flow::Continue
                    }
                    Some(Err(_)) => Flow::Stop,
                },
                () = out.closed() => Flow::Stop,
                batch = rx.recv() => match batch {
                    Ok(batch) => self.on_batch(&batch).await,
                    // Lagged: what we missed is in the store; the next batch's gap check reads it.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "watch stream lagged; catching up from history");
                        self.catch_up_all().await
                    }
                    Err(broadcast::error::RecvError::Closed) => Flow::Stop,
                },
                _ = progress.tick() => self.on_progress_tick().await,
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        self.hub
            .watchers
            .fetch_sub(self.watchers.len() as i64, Relaxed);
    }

    async fn send(&self, resp: WatchResponse) -> Flow {
        match self.out.send(Ok(resp)).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    async fn on_request(&mut self, req: WatchRequest) -> Flow {
        match req.request_union {
            Some(RequestUnion::CreateRequest(c)) => self.create(c).await,
            Some(RequestUnion::CancelRequest(c)) => {
                if self.watchers.remove(&c.watch_id).is_some() {
                    self.hub.watchers.fetch_sub(1, Relaxed);
                }
                let resp = WatchResponse {
                    header: Some(self.state.header()),
                    watch_id: c.watch_id,
                    canceled: true,
                    ..Default::default()
                };
                self.send(resp).await
            }
            Some(RequestUnion::ProgressRequest(_)) => self.send_progress(false).await,
            None => Flow::Continue,
        }
    }

    async fn create(&mut self, c: WatchCreateRequest) -> Flow {
        let current = self.state.revision.load(Relaxed);
        let id = if c.watch_id != 0 {
            c.watch_id
        } else {
            self.free_id()
        };
        if self.watchers.contains_key(&id) || id < 0 {
            let resp = WatchResponse {
                header: Some(self.state.header_at(current)),
                watch_id: -1,
                created: true,
                canceled: true,
                cancel_reason: format!("watch id {id} is already in use on this stream"),
                ..Default::default()
            };
            return self.send(resp).await;
        }
        let w = Watcher {
            no_put: c.filters.contains(&(FilterType::Noput as i32)),
            no_delete: c.filters.contains(&(FilterType::Nodelete as i32)),
            key: c.key,
            range_end: c.range_end,
            prev_kv: c.prev_kv,
            progress_notify: c.progress_notify,
            next_rev: if c.start_revision > 0 {
                c.start_revision
            } else {
                current + 1
            },
        };
        self.watchers.insert(id, w);
        self.hub.watchers.fetch_add(1, Relaxed);
        let created = WatchResponse {
            header: Some(self.state.header_at(current)),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        if let Flow::Stop = self.send(created).await {
            return Flow::Stop;
        }
        self.catch_up(id, current + 1).await
    }

    fn free_id(&mut self) -> i64 {
        while self.watchers.contains_key(&self.next_id) {
            self.next_id += 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends watcher `id` everything in history from its `next_rev` up to (not including) `until`.
    async fn catch_up(&mut self, id: i64, until: i64) -> Flow {
        loop {
            let Some(w) = self.watchers.get(&id) else {
                return Flow::Continue;
            };
            if w.next_rev >= until {
                return Flow::Continue;
            }
            let compacted = self.state.compact_revision.load(Relaxed);
            if w.next_rev <= compacted {
                self.watchers.remove(&id);
                self.hub.watchers.fetch_sub(1, Relaxed);
                let resp = WatchResponse {
                    header: Some(self.state.header()),
                    watch_id: id,
                    canceled: true,
                    compact_revision: compacted,
                    cancel_reason: crate::error::EtcdError::Compacted.to_string(),
                    ..Default::default()
                };
                return self.send(resp).await;
            }
            let (from, prev_kv) = (w.next_rev, w.prev_kv);
            let filter = Watcher {
                key: w.key.clone(),
                range_end: w.range_end.clone(),
                ..*w
            };
            let db = self.db.clone();
            let page = tokio::task::spawn_blocking(move || {
                let snap = db.db.snapshot();
                let reader = Reader::at_snapshot(&db, &snap);
                let wanted = |key: &[u8]| in_range(key, &filter.key, &filter.range_end);
                reader
                    .history(Revision::new(from, 0), until, &wanted, prev_kv, PAGE)
                    .map(|evs| {
                        evs.into_iter()
                            .filter(|(_, e)| filter.wants(e))
                            .collect::<Vec<_>>()
                    })
            })
            .await;
            let events = match page {
                Ok(Ok(evs)) => evs,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "watch history read failed");
                    return self.send_err(Status::internal(e.to_string())).await;
                }
                Err(_) => return Flow::Stop,
            };
            // A full page may stop inside a revision; resume at the last revision seen (sub-revisions already
            // sent are skipped by re-reading from the next main revision only when the page was not full).
            let full = events.len() >= PAGE;
            let last_rev = events.last().map(|(r, _)| r.main);
            let next = match (full, last_rev) {
                (true, Some(r)) => r + 1,
                _ => until,
            };
            let events: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
            if let Some(w) = self.watchers.get_mut(&id) {
                w.next_rev = next;
            }
            if !events.is_empty() {
                let resp = WatchResponse {
                    header: Some(self.state.header_at(next - 1)),
                    watch_id: id,
                    events,
                    ..Default::default()
                };
                if let Flow::Stop = self.send(resp).await {
                    return Flow::Stop;
                }
            }
        }
    }

    async fn send_err(&self, status: Status) -> Flow {
        let _ = self.out.send(Err(status)).await;
        Flow::Stop
    }

    async fn catch_up_all(&mut self) -> Flow {
        let until = self.state.revision.load(Relaxed) + 1;
        let ids: Vec<i64> = self.watchers.keys().copied().collect();
        for id in ids {
            if let Flow::Stop = self.catch_up(id, until).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn on_batch(&mut self, batch: &WatchBatch) -> Flow {
        let ids: Vec<i64> = self.watchers.keys().copied().collect();
        for id in ids {
            let behind = self
                .watchers
                .get(&id)
                .is_some_and(|w| w.next_rev < batch.first_rev);
            if behind {
                if let Flow::Stop = self.catch_up(id, batch.first_rev).await {
                    return Flow::Stop;
                }
            }
            let Some(w) = self.watchers.get_mut(&id) else {
                continue;
            };
            if w.next_rev > batch.last_rev {
                continue;
            }
            let from = w.next_rev;
            let events: Vec<Event> = batch
                .events
                .iter()
                .filter(|e| e.kv.as_ref().is_some_and(|kv| kv.mod_revision >= from) && w.wants(e))
                .map(|e| {
                    if w.prev_kv {
                        e.clone()
                    } else {
                        Event {
                            prev_kv: None,
                            ..e.clone()
                        }
                    }
                })
                .collect();
            w.next_rev = batch.last_rev + 1;
            if !events.is_empty() {
                let resp = WatchResponse {
                    header: Some(self.state.header_at(batch.last_rev)),
                    watch_id: id,
                    events,
                    ..Default::default()
                };
                if let Flow::Stop = self.send(resp).await {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }

    async fn on_progress_tick(&mut self) -> Flow {
        self.send_progress(true).await
    }

    /// Tells watchers that are caught up the current revision (an empty response whose header carries it);
    /// with `only_notify`, just those that asked for periodic progress notifications.
    async fn send_progress(&mut self, only_notify: bool) -> Flow {
        let current = self.state.revision.load(Relaxed);
        let ids: Vec<i64> = self
            .watchers
            .iter()
            .filter(|(_, w)| (w.progress_notify || !only_notify) && w.next_rev > current)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let resp = WatchResponse {
                header: Some(self.state.header_at(current)),
                watch_id: id,
                ..Default::default()
            };
            if let Flow::Stop = self.send(resp).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}
