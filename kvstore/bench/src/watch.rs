//! Watch latency: how long from sending a put until a watcher hears about it.
//!
//! One watcher watches the prefix `bench/watch/` on its own connection. One putter, on a second connection, puts
//! `bench/watch/<i>` and waits for both its put answer and the matching event before the next put, so exactly one
//! event is ever pending and the figure is pure notification delay (commit + apply + fan-out), not queueing. Two
//! connections so the put answer and the event do not share one HTTP/2 stream window. Against a cluster the two
//! connections go to two different members (the caller picks them), so the figure also includes replication to
//! and apply on the watcher's member. This is what fleet's agents feel: they learn about new units through
//! watches.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::watch_client::WatchClient;
use kvstore_proto::etcdserverpb::watch_request::RequestUnion;
use kvstore_proto::etcdserverpb::{PutRequest, WatchCreateRequest, WatchRequest, WatchResponse};
use kvstore_proto::prefix_range_end;
use serde::Serialize;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::load::{random_value, Rng, REQUEST_TIMEOUT};
use crate::server::connect;
use crate::stats::{self, LatencySummary};

/// The watched prefix.
const PREFIX: &[u8] = b"bench/watch/";

/// What the watch phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchResult {
    /// Events received (one per put).
    pub events: u64,
    /// Wall time of the whole phase, seconds.
    pub elapsed_s: f64,
    /// Put-sent to event-received latencies.
    pub latency: LatencySummary,
}

/// Puts `events` keys one at a time through `put_url` and measures how long each takes to come back as a watch
/// event on `watch_url`.
pub async fn latency(
    watch_url: &str,
    put_url: &str,
    events: usize,
    value_size: usize,
) -> Result<WatchResult> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let create = WatchCreateRequest {
        key: PREFIX.to_vec(),
        range_end: prefix_range_end(PREFIX),
        ..Default::default()
    };
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(create)),
    })
    .await
    .context("queueing the watch create request")?;

    let mut watcher = WatchClient::new(connect(watch_url).await?);
    let mut stream = tokio::time::timeout(REQUEST_TIMEOUT, watcher.watch(ReceiverStream::new(rx)))
        .await
        .context("Watch call timed out")?
        .context("Watch call failed")?
        .into_inner();
    tokio::time::timeout(REQUEST_TIMEOUT, wait_created(&mut stream))
        .await
        .context("no watch-created answer")??;

    let mut kv = KvClient::new(connect(put_url).await?);
    let mut rng = Rng::new(99);
    let mut hist = stats::new_histogram();
    let start = Instant::now();
    for i in 0..events {
        let key = format!("bench/watch/{i}").into_bytes();
        let req = PutRequest {
            key: key.clone(),
            value: random_value(&mut rng, value_size),
            ..Default::default()
        };
        let sent = Instant::now();
        let put = async {
            kv.put(req)
                .await
                .map_err(|s| anyhow::anyhow!("put {i}: {:?}: {}", s.code(), s.message()))
        };
        let (put, seen) = tokio::time::timeout(REQUEST_TIMEOUT, async {
            tokio::join!(put, next_event_for(&mut stream, &key))
        })
        .await
        .with_context(|| {
            format!("put {i} or its event did not arrive within {REQUEST_TIMEOUT:?}")
        })?;
        put?;
        stats::record(&mut hist, seen?.saturating_duration_since(sent));
    }
    // The request stream (and so the watch) stays open until here.
    drop(tx);
    Ok(WatchResult {
        events: hist.len(),
        elapsed_s: start.elapsed().as_secs_f64(),
        latency: LatencySummary::of(&hist),
    })
}

async fn next_message(stream: &mut Streaming<WatchResponse>) -> Result<WatchResponse> {
    let msg = stream
        .message()
        .await
        .context("watch stream failed")?
        .context("watch stream ended")?;
    if msg.canceled {
        bail!("watch canceled by the server: {}", msg.cancel_reason);
    }
    Ok(msg)
}

async fn wait_created(stream: &mut Streaming<WatchResponse>) -> Result<()> {
    loop {
        if next_message(stream).await?.created {
            return Ok(());
        }
    }
}

/// Reads the stream until an event for `key` arrives; returns when it arrived.
async fn next_event_for(stream: &mut Streaming<WatchResponse>, key: &[u8]) -> Result<Instant> {
    loop {
        let msg = next_message(stream).await?;
        let arrived = Instant::now();
        if msg
            .events
            .iter()
            .any(|ev| ev.kv.as_ref().is_some_and(|kv| kv.key == key))
        {
            return Ok(arrived);
        }
    }
}
