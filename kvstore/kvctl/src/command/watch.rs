//! `watch KEY [RANGE_END] [-- COMMAND ...]`: one Watch stream, events printed as they arrive (flushed per
//! response, so a pipe sees them at once). A cancelled watch (compaction) prints etcdctl's messages and exits 5.
//! `-i` reads `watch ...` and `progress` lines from stdin and adds watches on the same stream; unlike etcdctl,
//! end of stdin stops reading commands but keeps the watches running.

use clap::{Args, Parser};
use kvstore_proto::etcdserverpb::{
    watch_request::RequestUnion, WatchCreateRequest, WatchProgressRequest, WatchRequest,
    WatchResponse,
};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::get::apply_range_flags;
use super::txn::argify;
use super::{emit, emit_err, Context};
use crate::client::{Client, RpcError};
use crate::error::{go_quote, ExitCode, Failure};

/// What etcd says when a watch starts below the compacted revision.
pub const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`.
#[derive(Args, Clone, Debug, Default)]
pub struct WatchArgs {
    /// The key or prefix.
    pub key: Option<String>,
    /// The end of the range [key, range_end).
    pub range_end: Option<String>,
    /// Interactive mode: read `watch ...`/`progress` commands from stdin.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Watch on a prefix if prefix is set.
    #[arg(long)]
    pub prefix: bool,
    /// Revision to start watching.
    #[arg(long, default_value_t = 0)]
    pub rev: i64,
    /// Get the previous key-value pair before the event happens.
    #[arg(long)]
    pub prev_kv: bool,
    /// A command to run for every event, after `--`.
    #[arg(last = true)]
    pub exec: Vec<String>,
    /// v2 `watch --forever` (only with ETCDCTL_API=2).
    #[arg(short = 'f', long, hide = true)]
    pub forever: bool,
    /// v2 `watch --recursive` (only with ETCDCTL_API=2).
    #[arg(short = 'r', long, hide = true)]
    pub recursive: bool,
    /// v2 `watch --after-index` (only with ETCDCTL_API=2).
    #[arg(long, hide = true, default_value_t = 0)]
    pub after_index: i64,
}

impl WatchArgs {
    /// The create request these arguments ask for.
    pub fn create_request(&self) -> Result<WatchCreateRequest, Failure> {
        let key = self
            .key
            .clone()
            .ok_or_else(|| Failure::bad_args("bad number of arguments"))?
            .into_bytes();
        let mut range_end = Vec::new();
        if let Some(end) = &self.range_end {
            if self.prefix {
                return Err(Failure::bad_args(
                    "`range_end` and `--prefix` are mutually exclusive",
                ));
            }
            range_end = end.clone().into_bytes();
        }
        let mut key = key;
        apply_range_flags(&mut key, &mut range_end, self.prefix, false);
        Ok(WatchCreateRequest {
            key,
            range_end,
            start_revision: self.rev.max(0),
            prev_kv: self.prev_kv,
            ..Default::default()
        })
    }
}

/// A line of `watch -i` input.
#[derive(Parser, Debug)]
#[command(no_binary_name = true)]
struct InteractiveWatch {
    #[command(flatten)]
    args: WatchArgs,
}

/// An open Watch stream: the sender keeps the request side open.
pub struct WatchStream {
    /// Sends further create/cancel/progress requests.
    pub requests: mpsc::Sender<WatchRequest>,
    /// The server's responses.
    pub responses: tonic::Streaming<WatchResponse>,
}

/// Opens a Watch stream with one create request. Sends etcd's `hasleader` metadata, as etcdctl does.
pub async fn open(client: &Client, create: WatchCreateRequest) -> Result<WatchStream, Failure> {
    let (tx, rx) = mpsc::channel(16);
    send(&tx, RequestUnion::CreateRequest(create)).await?;
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    let mut watch = client.watch();
    let responses = client
        .call(watch.watch(request))
        .await
        .map_err(Failure::from)?;
    Ok(WatchStream {
        requests: tx,
        responses,
    })
}

async fn send(tx: &mpsc::Sender<WatchRequest>, union: RequestUnion) -> Result<(), Failure> {
    tx.send(WatchRequest {
        request_union: Some(union),
    })
    .await
    .map_err(|_| Failure::error("watch stream closed"))
}

/// clientv3's `WatchResponse.Err()` text for a cancelled response.
pub fn cancel_reason(resp: &WatchResponse) -> String {
    if resp.compact_revision != 0 {
        COMPACTED.to_string()
    } else if !resp.cancel_reason.is_empty() {
        resp.cancel_reason.clone()
    } else {
        "<nil>".to_string()
    }
}

/// Whether a response is a progress notification (clientv3's `IsProgressNotify`).
fn is_progress_notify(resp: &WatchResponse) -> bool {
    resp.events.is_empty()
        && !resp.canceled
        && !resp.created
        && resp.compact_revision == 0
        && resp.header.as_ref().is_some_and(|h| h.revision != 0)
}

/// Runs `watch`.
pub async fn run(ctx: &Context, args: &WatchArgs) -> anyhow::Result<()> {
    if args.interactive {
        return interactive(ctx).await;
    }
    let create = args.create_request()?;
    let client = ctx.connect().await?;
    let mut stream = open(&client, create).await?;
    loop {
        match stream.responses.message().await {
            Ok(Some(resp)) => {
                let cancelled = handle_response(ctx, &resp, &args.exec).await?;
                if cancelled {
                    break;
                }
            }
            Ok(None) => break,
            Err(status) => {
                emit_err(format!("watch was canceled ({})\n", RpcError::Status(status)).as_bytes());
                break;
            }
        }
    }
    drop(stream.requests);
    Err(Failure::new(ExitCode::Interrupted, "watch is canceled by the server").into())
}

/// Prints one response and runs the exec command for its events. Returns whether the watch was cancelled.
async fn handle_response(
    ctx: &Context,
    resp: &WatchResponse,
    exec: &[String],
) -> Result<bool, Failure> {
    let cancelled = resp.canceled || resp.compact_revision != 0;
    if cancelled {
        emit_err(format!("watch was canceled ({})\n", cancel_reason(resp)).as_bytes());
    }
    if is_progress_notify(resp) {
        let rev = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
        emit(format!("progress notify: {rev}\n").as_bytes())?;
    }
    if resp.events.is_empty() && resp.created {
        return Ok(cancelled);
    }
    emit(&ctx.printer.watch(resp)?)?;
    if let Some((program, rest)) = exec.split_first() {
        for ev in &resp.events {
            run_exec(program, rest, resp, ev).await?;
        }
    }
    Ok(cancelled)
}

/// Runs the `-- command` for one event with etcdctl's `ETCD_WATCH_*` environment.
async fn run_exec(
    program: &str,
    rest: &[String],
    resp: &WatchResponse,
    ev: &kvstore_proto::mvccpb::Event,
) -> Result<(), Failure> {
    let kv = ev.kv.clone().unwrap_or_default();
    let kind = kvstore_proto::mvccpb::event::EventType::try_from(ev.r#type)
        .map(|t| t.as_str_name())
        .unwrap_or("UNKNOWN");
    let revision = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
    let status = tokio::process::Command::new(program)
        .args(rest)
        .env("ETCD_WATCH_REVISION", revision.to_string())
        .env("ETCD_WATCH_EVENT_TYPE", go_quote(kind.as_bytes()))
        .env("ETCD_WATCH_KEY", go_quote(&kv.key))
        .env("ETCD_WATCH_VALUE", go_quote(&kv.value))
        .status()
        .await;
    let failed = match status {
        Ok(s) if s.success() => return Ok(()),
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    };
    let quoted: Vec<String> = std::iter::once(program)
        .chain(rest.iter().map(String::as_str))
        .map(|a| go_quote(a.as_bytes()))
        .collect();
    emit_err(format!("command [{}] error ({failed})\n", quoted.join(" ")).as_bytes());
    Err(Failure::silent(ExitCode::Error))
}

/// `watch -i`: commands from stdin, all watches on one stream.
async fn interactive(ctx: &Context) -> anyhow::Result<()> {
    let client = ctx.connect().await?;
    let (tx, rx) = mpsc::channel(16);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    let mut watch = client.watch();
    // The server sends no response headers until the first watch is created, so the call completes inside the
    // loop, alongside reading the commands that create watches.
    let mut call = Box::pin(watch.watch(request));
    let mut responses: Option<tonic::Streaming<WatchResponse>> = None;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // Exec commands of created-but-unconfirmed watches, in request order, then by watch ID.
    let mut pending_exec: std::collections::VecDeque<Vec<String>> = Default::default();
    let mut exec_by_id: std::collections::HashMap<i64, Vec<String>> = Default::default();
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => {
                match line {
                    Ok(Some(l)) => {
                        if let Some(exec) = interactive_line(&tx, &l).await? {
                            pending_exec.push_back(exec);
                        }
                    }
                    Ok(None) => stdin_open = false,
                    Err(e) => {
                        return Err(Failure::new(
                            ExitCode::InvalidInput,
                            format!("Error reading watch request line: {e}"),
                        )
                        .into())
                    }
                }
            }
            started = &mut call, if responses.is_none() => {
                responses = Some(started.map_err(|s| Failure::from(RpcError::Status(s)))?.into_inner());
            }
            msg = next_message(&mut responses) => {
                match msg {
                    Ok(Some(resp)) => {
                        if resp.created {
                            let exec = pending_exec.pop_front().unwrap_or_default();
                            exec_by_id.insert(resp.watch_id, exec);
                        }
                        let exec = exec_by_id.get(&resp.watch_id).cloned().unwrap_or_default();
                        handle_response(ctx, &resp, &exec).await?;
                    }
                    Ok(None) => break,
                    Err(status) => {
                        emit_err(format!("watch was canceled ({})\n", RpcError::Status(status)).as_bytes());
                        break;
                    }
                }
            }
        }
    }
    Err(Failure::new(ExitCode::Interrupted, "watch is canceled by the server").into())
}

/// The next response once the stream is open; never resolves before.
async fn next_message(
    responses: &mut Option<tonic::Streaming<WatchResponse>>,
) -> Result<Option<WatchResponse>, tonic::Status> {
    match responses {
        Some(s) => s.message().await,
        None => std::future::pending().await,
    }
}

/// Handles one `watch -i` line; returns the exec command of a new watch.
async fn interactive_line(
    tx: &mpsc::Sender<WatchRequest>,
    line: &str,
) -> Result<Option<Vec<String>>, Failure> {
    let args = match argify(line) {
        Ok(a) if !a.is_empty() => a,
        _ => {
            emit_err(
                format!("Invalid command: {line} (watch and progress supported)\n").as_bytes(),
            );
            return Ok(None);
        }
    };
    match args[0].as_str() {
        "watch" => {
            let parsed = match InteractiveWatch::try_parse_from(&args[1..]) {
                Ok(p) => p.args,
                Err(e) => return Err(Failure::bad_args(e.to_string().trim().to_string())),
            };
            match parsed.create_request() {
                Ok(create) => {
                    send(tx, RequestUnion::CreateRequest(create)).await?;
                    Ok(Some(parsed.exec))
                }
                Err(e) => {
                    emit_err(format!("Invalid command {line} ({e})\n").as_bytes());
                    Ok(None)
                }
            }
        }
        "progress" => {
            send(tx, RequestUnion::ProgressRequest(WatchProgressRequest {})).await?;
            Ok(None)
        }
        _ => {
            emit_err(format!("Invalid command {line} (only support watch)\n").as_bytes());
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: WatchArgs,
    }

    fn parse(argv: &[&str]) -> WatchArgs {
        let mut full = vec!["watch"];
        full.extend_from_slice(argv);
        Wrap::try_parse_from(full).expect("parses").args
    }

    #[test]
    fn create_requests() {
        let c = parse(&["--prefix", "--rev", "5", "--prev-kv", "/svc/"])
            .create_request()
            .expect("valid");
        assert_eq!(c.key, b"/svc/".to_vec());
        assert_eq!(c.range_end, b"/svc0".to_vec());
        assert_eq!((c.start_revision, c.prev_kv), (5, true));
        let a = parse(&["k", "--", "echo", "hi"]);
        assert_eq!(a.exec, vec!["echo", "hi"]);
        assert!(parse(&["--prefix", "a", "b"]).create_request().is_err());
        assert_eq!(
            parse(&[]).create_request().expect_err("no key").code,
            ExitCode::BadArgs
        );
    }

    #[test]
    fn cancel_reasons() {
        let r = WatchResponse {
            canceled: true,
            compact_revision: 3,
            ..Default::default()
        };
        assert_eq!(cancel_reason(&r), COMPACTED);
        let r = WatchResponse {
            canceled: true,
            cancel_reason: "etcdserver: no leader".into(),
            ..Default::default()
        };
        assert_eq!(cancel_reason(&r), "etcdserver: no leader");
    }
}
