//! etcd v2-style verbs (`set`, `mk`, `update`, `rm`, `ls`, and `get`/`watch` under `ETCDCTL_API=2`), for the
//! unit files and scripts written against etcdctl 2, done with the v3 API.
//!
//! The mapping: keys are stored as given (`/services/web/host1` is that v3 key); a "directory" `/a` is every key
//! under `/a/`, so directories exist exactly while they hold keys; `--ttl N` attaches a fresh lease of N
//! seconds; the v2 index in error messages is the v3 revision. Output and exit codes are etcdctl v2's simple
//! format: `set`/`mk`/`get` print the value, `rm` prints `PrevNode.Value: ...`, errors print
//! `Error:  CODE: Message (KEY) [INDEX]` and exit 4, bad arguments exit 1.

use std::collections::BTreeMap;

use clap::Args;
use kvstore_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use kvstore_proto::etcdserverpb::{
    request_op, response_op, Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest,
    PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest,
};
use kvstore_proto::mvccpb::event::EventType;
use kvstore_proto::prefix_range_end;

use super::watch::WatchArgs;
use super::{emit, emit_err, Context};
use crate::client::Client;
use crate::error::{ExitCode, Failure};

/// `set <key> <value> [--ttl N]`.
#[derive(Args, Clone, Debug)]
pub struct SetArgs {
    /// The key.
    pub key: Option<String>,
    /// The value; read from standard input when omitted.
    pub value: Option<String>,
    /// Key time-to-live in seconds.
    #[arg(long, default_value_t = 0)]
    pub ttl: i64,
}

/// `rm <key> [--recursive]`.
#[derive(Args, Clone, Debug)]
pub struct RmArgs {
    /// The key or directory.
    pub key: Option<String>,
    /// Removes the key and all child keys (if it is a directory).
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Removes the key if it is an empty directory or a key-value pair.
    #[arg(long)]
    pub dir: bool,
}

/// `ls [key] [--recursive] [-p]`.
#[derive(Args, Clone, Debug)]
pub struct LsArgs {
    /// The directory (default `/`).
    pub key: Option<String>,
    /// Returns all key names recursively for the given path.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Append slash (/) to directories.
    #[arg(short = 'p')]
    pub slash: bool,
    /// Returns result in sorted order (always sorted here).
    #[arg(long)]
    pub sort: bool,
    /// Require quorum for get request (reads are linearizable anyway).
    #[arg(short = 'q', long)]
    pub quorum: bool,
}

/// v2 error codes kvctl can produce (etcd's `error/error.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Error {
    KeyNotFound = 100,
    NotFile = 102,
    KeyExists = 105,
    RootReadOnly = 107,
    DirNotEmpty = 108,
    EventIndexCleared = 401,
}

impl V2Error {
    fn message(self) -> &'static str {
        match self {
            V2Error::KeyNotFound => "Key not found",
            V2Error::NotFile => "Not a file",
            V2Error::KeyExists => "Key already exists",
            V2Error::RootReadOnly => "Root is read only",
            V2Error::DirNotEmpty => "Directory not empty",
            V2Error::EventIndexCleared => "The event in requested index is outdated and cleared",
        }
    }

    /// The failure etcdctl v2 reports: `Error:  100: Key not found (/a) [7]`, exit 4.
    pub fn failure(self, cause: &str, index: i64) -> Failure {
        Failure::v2(
            ExitCode::V2_SERVER_ERROR,
            format!("{}: {} ({cause}) [{index}]", self as u32, self.message()),
        )
    }
}

fn bad_args(message: &str) -> Failure {
    Failure::v2(ExitCode::Error, message)
}

fn server_error(e: impl std::fmt::Display) -> Failure {
    Failure::v2(ExitCode::V2_SERVER_ERROR, e.to_string())
}

async fn connect(ctx: &Context) -> Result<Client, Failure> {
    ctx.connect().await.map_err(|f| Failure {
        message: f
            .message
            .map(|m| format!("client: etcd cluster is unavailable or misconfigured; {m}")),
        v2: true,
        ..f
    })
}

/// The keys of directory `key` start with this.
pub fn dir_prefix(key: &str) -> String {
    if key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    }
}

fn header_rev(h: &Option<kvstore_proto::etcdserverpb::ResponseHeader>) -> i64 {
    h.as_ref().map(|h| h.revision).unwrap_or(0)
}

/// The value from the argument or from stdin, as etcdctl v2's `argOrStdin`.
fn value_arg(value: &Option<String>) -> Result<Vec<u8>, Failure> {
    if let Some(v) = value {
        return Ok(v.clone().into_bytes());
    }
    let mut buf = Vec::new();
    match std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf) {
        Ok(_) if !buf.is_empty() => Ok(buf),
        _ => Err(bad_args("value required")),
    }
}

async fn grant(client: &Client, ttl: i64) -> Result<i64, Failure> {
    if ttl <= 0 {
        return Ok(0);
    }
    let resp = client
        .call(client.lease().lease_grant(LeaseGrantRequest { ttl, id: 0 }))
        .await
        .map_err(server_error)?;
    Ok(resp.id)
}

async fn revoke_quietly(client: &Client, id: i64) {
    if id != 0 {
        // The lease expires by itself if this fails; nothing is attached to it.
        let _ = client
            .call(client.lease().lease_revoke(LeaseRevokeRequest { id }))
            .await;
    }
}

fn print_value(value: &[u8]) -> Result<(), Failure> {
    let mut out = value.to_vec();
    out.push(b'\n');
    emit(&out)
}

/// `set`: put, with a lease when `--ttl` is given; prints the value.
pub async fn set(ctx: &Context, args: &SetArgs) -> anyhow::Result<()> {
    let key = args.key.clone().ok_or_else(|| bad_args("key required"))?;
    let value = value_arg(&args.value)?;
    let client = connect(ctx).await?;
    let lease = grant(&client, args.ttl).await?;
    client
        .call(client.kv().put(PutRequest {
            key: key.into_bytes(),
            value: value.clone(),
            lease,
            ..Default::default()
        }))
        .await
        .map_err(server_error)?;
    print_value(&value)?;
    Ok(())
}

/// Whether `mk` creates (the key must be absent) or `update` replaces (the key must exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Absent,
    Present,
}

/// `mk` and `update`: a txn on the key's create revision, then put.
pub async fn conditional_set(
    ctx: &Context,
    args: &SetArgs,
    condition: Condition,
) -> anyhow::Result<()> {
    let key = args.key.clone().ok_or_else(|| bad_args("key required"))?;
    let value = value_arg(&args.value)?;
    let client = connect(ctx).await?;
    let lease = grant(&client, args.ttl).await?;
    let result = match condition {
        Condition::Absent => CompareResult::Equal,
        Condition::Present => CompareResult::Greater,
    };
    let txn = TxnRequest {
        compare: vec![Compare {
            result: result as i32,
            target: CompareTarget::Create as i32,
            key: key.clone().into_bytes(),
            range_end: Vec::new(),
            target_union: Some(TargetUnion::CreateRevision(0)),
        }],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: key.clone().into_bytes(),
                value: value.clone(),
                lease,
                ..Default::default()
            })),
        }],
        failure: Vec::new(),
    };
    let resp = client.call(client.kv().txn(txn)).await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            revoke_quietly(&client, lease).await;
            return Err(server_error(e).into());
        }
    };
    if !resp.succeeded {
        revoke_quietly(&client, lease).await;
        let rev = header_rev(&resp.header);
        let err = match condition {
            Condition::Absent => V2Error::KeyExists,
            Condition::Present => V2Error::KeyNotFound,
        };
        return Err(err.failure(&key, rev).into());
    }
    print_value(&value)?;
    Ok(())
}

/// Whether any key lives under `prefix`, and the revision read at.
async fn has_children(client: &Client, prefix: &str) -> Result<(bool, i64), Failure> {
    let resp = client
        .call(client.kv().range(RangeRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_range_end(prefix.as_bytes()),
            count_only: true,
            ..Default::default()
        }))
        .await
        .map_err(server_error)?;
    Ok((resp.count > 0, header_rev(&resp.header)))
}

fn print_prev_value(prev: &[u8]) -> Result<(), Failure> {
    let mut out = b"PrevNode.Value: ".to_vec();
    out.extend_from_slice(prev);
    out.push(b'\n');
    emit(&out)
}

/// `rm`: deletes a key; with `--recursive` also everything under `KEY/`.
pub async fn rm(ctx: &Context, args: &RmArgs) -> anyhow::Result<()> {
    let key = args.key.clone().ok_or_else(|| bad_args("key required"))?;
    let prefix = dir_prefix(&key);
    let client = connect(ctx).await?;
    if key == "/" {
        let (_, rev) = has_children(&client, "/").await?;
        return Err(V2Error::RootReadOnly.failure("/", rev).into());
    }
    if args.recursive {
        let del = |k: &str, end: Vec<u8>| RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: k.as_bytes().to_vec(),
                    range_end: end,
                    prev_kv: true,
                },
            )),
        };
        let txn = TxnRequest {
            compare: Vec::new(),
            success: vec![
                del(&key, Vec::new()),
                del(&prefix, prefix_range_end(prefix.as_bytes())),
            ],
            failure: Vec::new(),
        };
        let resp = client
            .call(client.kv().txn(txn))
            .await
            .map_err(server_error)?;
        let deleted: Vec<_> = resp
            .responses
            .iter()
            .map(|r| match &r.response {
                Some(response_op::Response::ResponseDeleteRange(d)) => d.clone(),
                _ => Default::default(),
            })
            .collect();
        let leaf = deleted.first().and_then(|d| d.prev_kvs.first());
        let children = deleted.get(1).map(|d| d.deleted).unwrap_or(0);
        if let Some(prev) = leaf {
            print_prev_value(&prev.value)?;
        } else if children == 0 {
            return Err(V2Error::KeyNotFound
                .failure(&key, header_rev(&resp.header))
                .into());
        }
        return Ok(());
    }
    let resp = client
        .call(client.kv().delete_range(DeleteRangeRequest {
            key: key.clone().into_bytes(),
            range_end: Vec::new(),
            prev_kv: true,
        }))
        .await
        .map_err(server_error)?;
    if let Some(prev) = resp.prev_kvs.first() {
        return Ok(print_prev_value(&prev.value)?);
    }
    let (dir, rev) = has_children(&client, &prefix).await?;
    let err = match (dir, args.dir) {
        (true, true) => V2Error::DirNotEmpty,
        (true, false) => V2Error::NotFile,
        (false, _) => V2Error::KeyNotFound,
    };
    Err(err.failure(&key, rev).into())
}

/// One line of `ls` output: a full path and whether it is a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsEntry {
    /// The full path, `prefix` + child name(s).
    pub path: String,
    /// Whether keys live under it.
    pub dir: bool,
}

/// The entries `ls` shows for directory `prefix` (which ends in `/`), given every key under it: the immediate
/// children, or with `recursive` every directory and key beneath, depth first. Empty path components are
/// skipped, so `/a//b` lists like `/a/b`.
pub fn ls_entries(prefix: &str, keys: &[Vec<u8>], recursive: bool) -> Vec<LsEntry> {
    let mut tree: BTreeMap<Vec<String>, bool> = BTreeMap::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        let rest = String::from_utf8_lossy(rest);
        let parts: Vec<String> = rest
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let depth = if recursive {
            parts.len()
        } else {
            parts.len().min(1)
        };
        for i in 1..=depth {
            let is_dir = i < parts.len();
            let entry = tree.entry(parts[..i].to_vec()).or_insert(false);
            *entry |= is_dir;
        }
    }
    tree.into_iter()
        .map(|(parts, dir)| LsEntry {
            path: format!("{prefix}{}", parts.join("/")),
            dir,
        })
        .collect()
}

/// `ls`: the children of a directory (or the key itself when it is a plain key).
pub async fn ls(ctx: &Context, args: &LsArgs) -> anyhow::Result<()> {
    let key = args.key.clone().unwrap_or_else(|| "/".to_string());
    let prefix = dir_prefix(&key);
    let client = connect(ctx).await?;
    let children = client
        .call(client.kv().range(RangeRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_range_end(prefix.as_bytes()),
            keys_only: true,
            ..Default::default()
        }))
        .await
        .map_err(server_error)?;
    let keys: Vec<Vec<u8>> = children.kvs.into_iter().map(|kv| kv.key).collect();
    let entries = ls_entries(&prefix, &keys, args.recursive);
    if entries.is_empty() && key != "/" {
        let leaf = client
            .call(client.kv().range(RangeRequest {
                key: key.clone().into_bytes(),
                count_only: true,
                ..Default::default()
            }))
            .await
            .map_err(server_error)?;
        if leaf.count == 0 {
            return Err(V2Error::KeyNotFound
                .failure(&key, header_rev(&leaf.header))
                .into());
        }
        emit(format!("{key}\n").as_bytes())?;
        return Ok(());
    }
    let mut out = String::new();
    for e in entries {
        out.push_str(&e.path);
        if e.dir && args.slash {
            out.push('/');
        }
        out.push('\n');
    }
    emit(out.as_bytes())?;
    Ok(())
}

/// v2 `get KEY`: prints the value only.
pub async fn get(ctx: &Context, key: Option<&str>) -> anyhow::Result<()> {
    let key = key.ok_or_else(|| bad_args("key required"))?;
    let client = connect(ctx).await?;
    let resp = client
        .call(client.kv().range(RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        }))
        .await
        .map_err(server_error)?;
    if let Some(kv) = resp.kvs.first() {
        print_value(&kv.value)?;
        return Ok(());
    }
    let (dir, rev) = has_children(&client, &dir_prefix(key)).await?;
    if dir {
        emit_err(format!("{key}: is a directory\n").as_bytes());
        return Err(Failure::silent(ExitCode::Error).into());
    }
    Err(V2Error::KeyNotFound.failure(key, rev).into())
}

/// v2 `watch KEY [--forever] [--recursive] [--after-index N]`: waits for a change, prints the new value (or
/// `PrevNode.Value: ...` for a delete), and exits unless `--forever`.
pub async fn watch(ctx: &Context, args: &WatchArgs) -> anyhow::Result<()> {
    let key = args.key.clone().ok_or_else(|| bad_args("key required"))?;
    let prefix = dir_prefix(&key);
    let create = WatchCreateRequest {
        key: key.clone().into_bytes(),
        range_end: if args.recursive {
            prefix_range_end(prefix.as_bytes())
        } else {
            Vec::new()
        },
        start_revision: if args.after_index > 0 {
            args.after_index + 1
        } else {
            0
        },
        prev_kv: true,
        ..Default::default()
    };
    let client = connect(ctx).await?;
    let mut stream = super::watch::open(&client, create)
        .await
        .map_err(|f| Failure { v2: true, ..f })?;
    loop {
        let resp = match stream.responses.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(server_error("watch is canceled by the server").into()),
            Err(status) => return Err(server_error(crate::client::RpcError::Status(status)).into()),
        };
        if resp.compact_revision != 0 {
            let cause = format!(
                "the requested history has been cleared [{}/{}]",
                resp.compact_revision, args.after_index
            );
            let rev = header_rev(&resp.header);
            return Err(V2Error::EventIndexCleared.failure(&cause, rev).into());
        }
        if resp.canceled {
            return Err(server_error(super::watch::cancel_reason(&resp)).into());
        }
        for ev in &resp.events {
            let Some(kv) = &ev.kv else { continue };
            if kv.key != key.as_bytes() && !kv.key.starts_with(prefix.as_bytes()) {
                continue;
            }
            let delete = ev.r#type == EventType::Delete as i32;
            let mut out = Vec::new();
            if args.recursive {
                let action = if delete { "delete" } else { "set" };
                out.extend_from_slice(format!("[{action}] ").as_bytes());
                out.extend_from_slice(&kv.key);
                out.push(b'\n');
            }
            if delete {
                out.extend_from_slice(b"PrevNode.Value: ");
                out.extend_from_slice(
                    ev.prev_kv
                        .as_ref()
                        .map(|p| p.value.as_slice())
                        .unwrap_or_default(),
                );
            } else {
                out.extend_from_slice(&kv.value);
            }
            out.push(b'\n');
            emit(&out)?;
            if !args.forever {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    fn paths(entries: &[LsEntry]) -> Vec<(&str, bool)> {
        entries.iter().map(|e| (e.path.as_str(), e.dir)).collect()
    }

    #[test]
    fn ls_shows_immediate_children_as_dirs_and_keys() {
        let k = keys(&["/a/b", "/a/c/d", "/a/c/e", "/a/f/g/h"]);
        assert_eq!(
            paths(&ls_entries("/a/", &k, false)),
            vec![("/a/b", false), ("/a/c", true), ("/a/f", true)]
        );
        assert_eq!(paths(&ls_entries("/", &k, false)), vec![("/a", true)]);
    }

    #[test]
    fn ls_recursive_is_depth_first() {
        let k = keys(&["/a/b", "/a/c/d", "/a/c-x", "/a/c/e/f"]);
        assert_eq!(
            paths(&ls_entries("/a/", &k, true)),
            vec![
                ("/a/b", false),
                ("/a/c", true),
                ("/a/c/d", false),
                ("/a/c/e", true),
                ("/a/c/e/f", false),
                ("/a/c-x", false),
            ]
        );
    }

    #[test]
    fn ls_edge_cases() {
        // A key that is also a directory is shown as a directory; empty components are skipped.
        let k = keys(&["/a/c", "/a/c/d", "/a//x", "/a/"]);
        assert_eq!(
            paths(&ls_entries("/a/", &k, false)),
            vec![("/a/c", true), ("/a/x", false)]
        );
        assert!(ls_entries("/z/", &k, false).is_empty());
    }

    #[test]
    fn v2_error_text() {
        let f = V2Error::KeyExists.failure("/services/web", 12);
        assert_eq!(
            f.stderr_text().as_deref(),
            Some("Error:  105: Key already exists (/services/web) [12]")
        );
        assert_eq!(f.code.code(), 4);
        assert_eq!(dir_prefix("/a"), "/a/");
        assert_eq!(dir_prefix("/a/"), "/a/");
    }
}
