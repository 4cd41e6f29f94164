//! `GET /journal/{unit}` (Flotilla): a unit's journal on *this* machine, so `fleetctl journal` works across the
//! cluster without ssh (fleetctl asks the machine the unit runs on, through its `api` address).
//!
//! Query: `lines=N` (the last N records, default 10), `follow=true|false` (default false), and
//! `output=short|short-iso|json|cat` (journalctl's formats, default short). The answer is `text/plain`, one
//! record per line. With `follow=true` the body streams (chunked): the last N records, then new ones as unitd
//! appends them, until the client hangs up or the server stops.
//!
//! 503 `unitd journal not available on this machine` until the agent has learned where unitd keeps its
//! journal; 404 `no journal for unit <name> on this machine` for a unit that never logged here. The unit name
//! is only ever compared with the journal's own list of units, never joined onto a path.

use std::convert::Infallible;
use std::path::PathBuf;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use unitd_journal::{Filter, Follower, JournalReader, ReadError, Record, POLL_INTERVAL};
use warp::http::header::CONTENT_TYPE;
use warp::http::{HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::error::HttpError;
use super::request::Request;
use super::{reply, ApiState, Shutdown};

const TEXT: &str = "text/plain; charset=utf-8";

/// Records returned when `lines` is not given (`fleetctl journal`'s default).
const DEFAULT_LINES: usize = 10;

/// Chunks a follower may run ahead of a slow client.
const FOLLOW_BUFFER: usize = 16;

/// journalctl's output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Short,
    ShortIso,
    Json,
    Cat,
}

/// What the query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    lines: usize,
    follow: bool,
    output: Output,
}

impl Options {
    fn parse(req: &Request) -> Result<Options, HttpError> {
        let q = &req.query;
        let lines = match q.first("lines") {
            None => DEFAULT_LINES,
            Some(s) => s
                .parse()
                .map_err(|_| HttpError::bad_request(format!("invalid value {s:?} for lines")))?,
        };
        let follow = match q.first("follow") {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(s) => {
                return Err(HttpError::bad_request(format!(
                    "invalid value {s:?} for follow"
                )))
            }
        };
        let output = match q.first("output").unwrap_or("short") {
            "short" => Output::Short,
            "short-iso" => Output::ShortIso,
            "json" => Output::Json,
            "cat" => Output::Cat,
            s => {
                return Err(HttpError::bad_request(format!(
                    "invalid output {s:?}: expected short, short-iso, json or cat"
                )))
            }
        };
        Ok(Options {
            lines,
            follow,
            output,
        })
    }
}

/// Why the journal could not be read.
enum Unreadable {
    NoSuchUnit,
    Read(ReadError),
}

/// `GET /journal/{unit}`.
pub(crate) async fn get(
    state: &ApiState,
    shutdown: Shutdown,
    req: &Request,
    unit: &str,
) -> Result<Response, HttpError> {
    if req.method != Method::GET {
        return Err(HttpError::method_not_allowed(
            "only GET supported against this resource",
        ));
    }
    let options = Options::parse(req)?;
    let dir = state
        .journal_dir
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let Some(dir) = dir else {
        return Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unitd journal not available on this machine",
        ));
    };
    let name = unit.to_string();
    let lines = options.lines;
    let opened = tokio::task::spawn_blocking(move || open(dir, name, lines))
        .await
        .map_err(|e| HttpError::internal(format!("reading the journal: {e}")))?;
    let (records, follower) = match opened {
        Ok(v) => v,
        Err(Unreadable::NoSuchUnit) => {
            return Err(HttpError::not_found(format!(
                "no journal for unit {unit} on this machine"
            )))
        }
        Err(Unreadable::Read(e)) => return Err(HttpError::internal(e.to_string())),
    };
    let host = hostname();
    let first = render(&records, options.output, &host);
    if !options.follow {
        return Ok(reply::with_type(StatusCode::OK, TEXT, first));
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(FOLLOW_BUFFER);
    if !first.is_empty() {
        // The channel is new and empty: this cannot wait.
        let _ = tx.try_send(Ok(Bytes::from(first)));
    }
    tokio::spawn(pump(follower, tx, shutdown, options.output, host));
    let mut response = warp::reply::stream(ReceiverStream::new(rx)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT));
    Ok(response)
}

/// The last `lines` records of `unit`, and a follower positioned after them.
fn open(dir: PathBuf, unit: String, lines: usize) -> Result<(Vec<Record>, Follower), Unreadable> {
    let reader = JournalReader::open(dir).map_err(Unreadable::Read)?;
    if !reader.units().map_err(Unreadable::Read)?.contains(&unit) {
        return Err(Unreadable::NoSuchUnit);
    }
    reader
        .follow(&Filter {
            units: vec![unit],
            since: None,
            lines: Some(lines),
        })
        .map_err(Unreadable::Read)
}

/// Sends new records to the client until it hangs up (the receiver is dropped), the server stops, or the
/// journal can no longer be read.
async fn pump(
    mut follower: Follower,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    mut shutdown: Shutdown,
    output: Output,
    host: String,
) {
    loop {
        tokio::select! {
            () = shutdown.wait() => return,
            () = tx.closed() => return,
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        let polled = tokio::task::spawn_blocking(move || {
            let records = follower.poll();
            (follower, records)
        })
        .await;
        let records = match polled {
            Ok((f, Ok(records))) => {
                follower = f;
                records
            }
            Ok((_, Err(e))) => {
                tracing::warn!(error = %e, "following the journal");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "following the journal");
                return;
            }
        };
        if records.is_empty() {
            continue;
        }
        if tx
            .send(Ok(Bytes::from(render(&records, output, &host))))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// One line per record.
fn render(records: &[Record], output: Output, host: &str) -> String {
    let mut out = String::new();
    for r in records {
        out.push_str(&match output {
            Output::Short => unitd_journal::format_short(r, host),
            Output::ShortIso => unitd_journal::format_short_iso(r, host),
            Output::Json => unitd_journal::format_json(r),
            Output::Cat => unitd_journal::format_cat(r),
        });
        out.push('\n');
    }
    out
}

/// This host's name, as journalctl's short formats show it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request::Query;
    use warp::http::HeaderMap;

    fn parse(query: &str) -> Result<Options, String> {
        let req = Request {
            method: Method::GET,
            query: Query::parse(query),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        Options::parse(&req).map_err(|e| e.message)
    }

    #[test]
    fn options_default_like_fleetctl_and_refuse_garbage() {
        assert_eq!(
            parse(""),
            Ok(Options {
                lines: 10,
                follow: false,
                output: Output::Short
            })
        );
        assert_eq!(
            parse("lines=0&follow=true&output=json"),
            Ok(Options {
                lines: 0,
                follow: true,
                output: Output::Json
            })
        );
        assert_eq!(
            parse("lines=-1"),
            Err("invalid value \"-1\" for lines".into())
        );
        assert_eq!(
            parse("follow=yes"),
            Err("invalid value \"yes\" for follow".into())
        );
        assert_eq!(
            parse("output=verbose"),
            Err("invalid output \"verbose\": expected short, short-iso, json or cat".into())
        );
    }
}
