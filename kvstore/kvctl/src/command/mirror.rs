//! `make-mirror [options] <destination>`: copies the keys under `--prefix` to another cluster, then keeps
//! copying their changes until stopped — etcdctl's way to move a keyspace between clusters (from etcd to
//! kvstore, say) with the source in service.
//!
//! As etcdctl (3.4, with 3.5's `--rev` and `--max-txn-ops`): the keys are read at one revision in pages of 1,000
//! and written to the destination, renamed from `--prefix` to `--dest-prefix` (the same prefix by default, the
//! root with `--no-dest-prefix`); then a watch from the next revision replays every change, the events of one
//! source revision in one destination transaction (split at `--max-txn-ops`). The number of keys copied so far
//! is printed every 30 s. A source compacted past the watch ends it with etcd's error. The base copy writes
//! its pages in transactions of `--max-txn-ops` puts too, where etcdctl puts key by key: the destination ends
//! up the same, in far fewer round trips.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kvstore_proto::etcdserverpb::{
    request_op, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
    WatchCreateRequest,
};
use kvstore_proto::mvccpb::{event::EventType, Event, KeyValue};

use super::get::apply_range_flags;
use super::watch;
use super::{emit, Context};
use crate::client::{Client, ClientConfig, TlsFlags};
use crate::error::Failure;

/// Keys per page of the base copy (etcd's syncer's `batchLimit`).
const PAGE: i64 = 1000;
/// How often the count of copied keys is printed.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// `make-mirror` arguments.
#[derive(Args, Clone, Debug)]
pub struct MirrorArgs {
    /// The destination endpoint.
    pub destination: Option<String>,
    /// Key-value prefix to mirror.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Destination prefix to mirror a prefix to a different prefix in the destination cluster.
    #[arg(long, default_value = "")]
    pub dest_prefix: String,
    /// Mirror key-values to the root of the destination cluster.
    #[arg(long)]
    pub no_dest_prefix: bool,
    /// Specify the kv revision to start to mirror (only its changes: no base copy).
    #[arg(long, default_value_t = 0)]
    pub rev: i64,
    /// Maximum number of operations permitted in a transaction during syncing updates.
    #[arg(long, default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Identify secure client using this TLS certificate file for the destination cluster.
    #[arg(long)]
    pub dest_cert: Option<PathBuf>,
    /// Identify secure client using this TLS key file.
    #[arg(long)]
    pub dest_key: Option<PathBuf>,
    /// Verify certificates of TLS enabled secure servers using this CA bundle.
    #[arg(long)]
    pub dest_cacert: Option<PathBuf>,
    /// Disable transport security for client connections.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub dest_insecure_transport: bool,
}

impl MirrorArgs {
    /// The prefix keys get at the destination.
    fn destination_prefix(&self) -> Result<Vec<u8>, Failure> {
        match (self.no_dest_prefix, self.dest_prefix.is_empty()) {
            (true, false) => Err(Failure::bad_args(
                "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
            )),
            (true, true) => Ok(Vec::new()),
            (false, true) => Ok(self.prefix.as_bytes().to_vec()),
            (false, false) => Ok(self.dest_prefix.as_bytes().to_vec()),
        }
    }

    /// The source range: `[key, range_end)` of the prefix, every key when it is empty.
    fn range(&self) -> (Vec<u8>, Vec<u8>) {
        let (mut key, mut range_end) = (self.prefix.as_bytes().to_vec(), Vec::new());
        apply_range_flags(&mut key, &mut range_end, true, false);
        (key, range_end)
    }
}

/// Renames source keys to destination keys.
#[derive(Clone, Debug)]
struct Rename {
    from: Vec<u8>,
    to: Vec<u8>,
}

impl Rename {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        let rest = key.strip_prefix(self.from.as_slice()).unwrap_or(key);
        [self.to.as_slice(), rest].concat()
    }

    fn put(&self, kv: &KeyValue) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: self.key(&kv.key),
                value: kv.value.clone(),
                ..Default::default()
            })),
        }
    }

    fn delete(&self, kv: &KeyValue) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: self.key(&kv.key),
                    ..Default::default()
                },
            )),
        }
    }
}

/// The destination transactions for `events` (in revision order): one per source revision, split into pieces
/// of at most `max_ops` operations.
fn transactions(events: &[Event], rename: &Rename, max_ops: usize) -> Vec<Vec<RequestOp>> {
    let max_ops = max_ops.max(1);
    let mut txns: Vec<Vec<RequestOp>> = Vec::new();
    let mut last_rev = None;
    for ev in events {
        let Some(kv) = &ev.kv else { continue };
        let op = if ev.r#type == EventType::Delete as i32 {
            rename.delete(kv)
        } else {
            rename.put(kv)
        };
        match txns.last_mut() {
            Some(txn) if last_rev == Some(kv.mod_revision) && txn.len() < max_ops => txn.push(op),
            _ => txns.push(vec![op]),
        }
        last_rev = Some(kv.mod_revision);
    }
    txns
}

pub async fn run(ctx: &Context, args: &MirrorArgs) -> anyhow::Result<()> {
    let Some(destination) = args.destination.as_deref() else {
        return Err(Failure::bad_args("make-mirror takes one destination argument").into());
    };
    let rename = Rename {
        from: args.prefix.as_bytes().to_vec(),
        to: args.destination_prefix()?,
    };
    let dest = ClientConfig::new(
        Some(destination),
        ctx.client.dial_timeout,
        ctx.client.command_timeout,
        TlsFlags {
            cacert: args.dest_cacert.clone(),
            cert: args.dest_cert.clone(),
            key: args.dest_key.clone(),
            insecure_skip_verify: false,
            insecure_transport: args.dest_insecure_transport,
        },
    )?
    .connect()
    .await?;
    let source = ctx.connect().await?;

    let total = Arc::new(AtomicU64::new(0));
    let reporter = {
        let total = total.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPORT_EVERY).await;
                if emit(format!("{}\n", total.load(Ordering::Relaxed)).as_bytes()).is_err() {
                    return;
                }
            }
        })
    };
    let result = mirror(&source, &dest, args, &rename, &total).await;
    reporter.abort();
    result
}

async fn mirror(
    source: &Client,
    dest: &Client,
    args: &MirrorArgs,
    rename: &Rename,
    total: &AtomicU64,
) -> anyhow::Result<()> {
    let rev = if args.rev > 0 {
        args.rev - 1
    } else {
        copy_base(source, dest, args, rename, total).await?
    };
    let (key, range_end) = args.range();
    let mut stream = watch::open(
        source,
        WatchCreateRequest {
            key,
            range_end,
            start_revision: rev + 1,
            ..Default::default()
        },
    )
    .await?;
    while let Some(resp) = stream.responses.message().await.map_err(Failure::error)? {
        // A watch compacted past its revision ends with etcd's compaction error (cancel_reason gives it).
        if resp.canceled || resp.compact_revision != 0 {
            return Err(Failure::error(watch::cancel_reason(&resp)).into());
        }
        for ops in transactions(&resp.events, rename, args.max_txn_ops) {
            let n = ops.len() as u64;
            commit(dest, ops).await?;
            total.fetch_add(n, Ordering::Relaxed);
        }
    }
    Err(Failure::error("watch stream closed by the source").into())
}

/// Copies every key of the range at the source's current revision; returns that revision.
async fn copy_base(
    source: &Client,
    dest: &Client,
    args: &MirrorArgs,
    rename: &Rename,
    total: &AtomicU64,
) -> anyhow::Result<i64> {
    let (mut key, range_end) = args.range();
    let mut revision = 0;
    loop {
        let page = source
            .call(source.kv().range(RangeRequest {
                key: key.clone(),
                range_end: range_end.clone(),
                limit: PAGE,
                revision,
                ..Default::default()
            }))
            .await
            .map_err(Failure::from)?;
        if revision == 0 {
            revision = page.header.as_ref().map_or(0, |h| h.revision);
        }
        for chunk in page.kvs.chunks(args.max_txn_ops.max(1)) {
            commit(dest, chunk.iter().map(|kv| rename.put(kv)).collect()).await?;
            total.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        match page.kvs.last() {
            Some(last) if page.more => key = [last.key.as_slice(), &[0]].concat(),
            _ => return Ok(revision),
        }
    }
}

async fn commit(dest: &Client, success: Vec<RequestOp>) -> Result<(), Failure> {
    dest.call(dest.kv().txn(TxnRequest {
        success,
        ..Default::default()
    }))
    .await
    .map_err(Failure::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(prefix: &str, dest_prefix: &str, no_dest_prefix: bool) -> MirrorArgs {
        MirrorArgs {
            destination: Some("127.0.0.1:2379".into()),
            prefix: prefix.into(),
            dest_prefix: dest_prefix.into(),
            no_dest_prefix,
            rev: 0,
            max_txn_ops: 128,
            dest_cert: None,
            dest_key: None,
            dest_cacert: None,
            dest_insecure_transport: true,
        }
    }

    #[test]
    fn keys_keep_their_prefix_move_to_another_or_to_the_root() {
        let same = Rename {
            from: b"/a/".to_vec(),
            to: args("/a/", "", false).destination_prefix().unwrap(),
        };
        assert_eq!(same.key(b"/a/k"), b"/a/k");
        let moved = Rename {
            from: b"/a/".to_vec(),
            to: args("/a/", "/b/", false).destination_prefix().unwrap(),
        };
        assert_eq!(moved.key(b"/a/k"), b"/b/k");
        let root = Rename {
            from: b"/a/".to_vec(),
            to: args("/a/", "", true).destination_prefix().unwrap(),
        };
        assert_eq!(root.key(b"/a/k"), b"k");
        // No source prefix: every key, under the destination prefix.
        let all = Rename {
            from: Vec::new(),
            to: b"/copy".to_vec(),
        };
        assert_eq!(all.key(b"/x"), b"/copy/x");
        assert!(args("/a/", "/b/", true).destination_prefix().is_err());
    }

    fn event(kind: EventType, key: &str, rev: i64) -> Event {
        Event {
            r#type: kind as i32,
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec(),
                value: b"v".to_vec(),
                mod_revision: rev,
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    #[test]
    fn one_transaction_per_source_revision_split_at_the_limit() {
        let rename = Rename {
            from: Vec::new(),
            to: Vec::new(),
        };
        let events = [
            event(EventType::Put, "a", 5),
            event(EventType::Put, "b", 6),
            event(EventType::Delete, "c", 6),
            event(EventType::Put, "d", 6),
            event(EventType::Put, "e", 7),
        ];
        let sizes: Vec<usize> = transactions(&events, &rename, 128)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [1, 3, 1]);
        let sizes: Vec<usize> = transactions(&events, &rename, 2)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [1, 2, 1, 1]);
        let ops = &transactions(&events, &rename, 128)[1];
        assert!(matches!(
            &ops[1].request,
            Some(request_op::Request::RequestDeleteRange(d)) if d.key == b"c"
        ));
    }
}
