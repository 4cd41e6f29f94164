//! etcd's JSON gateway: every gRPC method of the v3 API as `POST /v3/<path>` on the client port, for clients
//! without gRPC (`curl http://127.0.0.1:2379/v3/kv/put -X POST -d '{"key":"Zm9v","value":"YmFy"}'`). etcd serves
//! it with grpc-gateway; the paths are the `google.api.http` bindings of etcd's `rpc.proto` (3.4 also answers
//! under `/v3beta/`, so does this).
//!
//! Bodies are protobuf JSON as etcd speaks it: `.proto` field names (`create_revision`, `ID`), 64-bit integers
//! as strings (numbers accepted), bytes as base64, enums by name (or number), zero values left out, unknown
//! fields ignored, an empty body taken as `{}`. A request is decoded here and handed to the same service
//! implementation gRPC calls, so both paths behave alike; a failure answers the HTTP status grpc-gateway maps
//! its gRPC code to, with `{"error": message, "message": message, "code": grpc code}`.
//!
//! Streams: the watch and keep-alive request bodies are a sequence of JSON objects (several may be sent on one
//! connection); responses go out as newline-separated `{"result": response}` objects, as long as the client
//! reads. Once the request body ends, a watch keeps watching (as etcd's does) while a keep-alive stream ends.
//! `maintenance/snapshot` and `election/observe` stream their responses the same way. The Lock and Election
//! services are there too (`/v3/lock/lock`, `/v3/election/campaign`, ...), as etcd's gateway has them.
//!
//! Why no framework: the gateway is a fixed table of paths to service calls, and it needs the request body as a
//! stream, which warp does not take from tonic's router (its body is not `Sync`); `http-body-util` is enough.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{header, HeaderValue, Method, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use kvstore_proto::etcdserverpb::auth_server::Auth;
use kvstore_proto::etcdserverpb::cluster_server::Cluster;
use kvstore_proto::etcdserverpb::kv_server::Kv;
use kvstore_proto::etcdserverpb::lease_server::Lease;
use kvstore_proto::etcdserverpb::maintenance_server::Maintenance;
use kvstore_proto::v3electionpb::election_server::Election;
use kvstore_proto::v3lockpb::lock_server::Lock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Code, Status};
use tracing::Instrument;

use crate::rpc::auth::AuthService;
use crate::rpc::cluster::ClusterService;
use crate::rpc::election::ElectionService;
use crate::rpc::kv::KvService;
use crate::rpc::lease::LeaseService;
use crate::rpc::local::Local;
use crate::rpc::lock::LockService;
use crate::rpc::maintenance::MaintenanceService;
use crate::rpc::Ctx;

/// The route patterns the gateway is mounted on (axum's syntax).
pub const ROUTES: [&str; 2] = ["/v3/{*method}", "/v3beta/{*method}"];
/// The prefixes those routes strip to find the method's path.
const PREFIXES: [&str; 2] = ["/v3/", "/v3beta/"];

type Body = tonic::body::Body;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Reply = http::Response<Body>;

/// The gateway of one member: the services it calls, and the largest request body it reads.
#[derive(Clone)]
pub struct Gateway {
    ctx: Arc<Ctx>,
    lease: Arc<LeaseService>,
    max_body: usize,
}

impl Gateway {
    /// `lease` is the member's one lease service (it hands out lease ids); `max_body` bounds a request body, as
    /// gRPC's decoding limit bounds a message.
    pub fn new(ctx: Arc<Ctx>, lease: Arc<LeaseService>, max_body: usize) -> Self {
        Gateway {
            ctx,
            lease,
            max_body,
        }
    }

    /// The gateway as a tower service for tonic's router.
    pub fn service<B>(
        self,
    ) -> impl tower::Service<
        http::Request<B>,
        Response = Reply,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone
           + Send
           + Sync
           + 'static
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        tower::service_fn(move |req: http::Request<B>| {
            let span = tracing::debug_span!("gateway", path = %req.uri().path());
            let reply = self.clone().handle(req).instrument(span);
            async move { Ok::<_, Infallible>(with_cors(reply.await)) }
        })
    }

    /// Answers one request.
    pub async fn handle<B>(self, req: http::Request<B>) -> Reply
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let Some(method) = PREFIXES
            .iter()
            .find_map(|p| req.uri().path().strip_prefix(p))
            .map(str::to_owned)
        else {
            return plain(StatusCode::NOT_FOUND, "Not Found\n");
        };
        if req.method() != Method::POST {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        }
        let body = req.into_body();
        let limit = self.max_body;
        let ctx = self.ctx;
        let lease = self.lease;
        let kv = KvService(ctx.clone());
        let cluster = ClusterService(ctx.clone());
        let maint = MaintenanceService(ctx.clone());
        let auth = AuthService;
        let local = Local::new(ctx.clone(), lease.clone());
        let lock = LockService(local.clone());
        let election = ElectionService(local);
        macro_rules! unary {
            ($svc:expr, $call:ident) => {
                one_request(
                    body,
                    limit,
                    |r| async move { $svc.$call(r).await },
                    unary_reply,
                )
                .await
            };
        }
        match method.as_str() {
            "kv/range" => unary!(kv, range),
            "kv/put" => unary!(kv, put),
            "kv/deleterange" => unary!(kv, delete_range),
            "kv/txn" => unary!(kv, txn),
            "kv/compaction" => unary!(kv, compact),
            "watch" => {
                if let Err(s) = ctx.refuse_learner() {
                    return error_reply(&s);
                }
                bidi_stream(body, limit, |inbound| {
                    crate::rpc::watch::serve(&ctx, inbound)
                })
                .await
            }
            "lease/grant" => unary!(lease, lease_grant),
            "lease/revoke" | "kv/lease/revoke" => unary!(lease, lease_revoke),
            "lease/keepalive" => {
                if let Err(s) = ctx.refuse_learner() {
                    return error_reply(&s);
                }
                bidi_stream(body, limit, |inbound| {
                    crate::rpc::lease::keep_alive(ctx.clone(), inbound)
                })
                .await
            }
            "lease/timetolive" | "kv/lease/timetolive" => unary!(lease, lease_time_to_live),
            "lease/leases" | "kv/lease/leases" => unary!(lease, lease_leases),
            "cluster/member/add" => unary!(cluster, member_add),
            "cluster/member/remove" => unary!(cluster, member_remove),
            "cluster/member/update" => unary!(cluster, member_update),
            "cluster/member/list" => unary!(cluster, member_list),
            "cluster/member/promote" => unary!(cluster, member_promote),
            "maintenance/alarm" => unary!(maint, alarm),
            "maintenance/status" => unary!(maint, status),
            "maintenance/defragment" => unary!(maint, defragment),
            "maintenance/hash" => unary!(maint, hash),
            "maintenance/hashkv" => unary!(maint, hash_kv),
            "maintenance/transfer-leadership" => unary!(maint, move_leader),
            "maintenance/snapshot" => {
                one_request(
                    body,
                    limit,
                    |r| async move { maint.snapshot(r).await },
                    stream_reply,
                )
                .await
            }
            "lock/lock" => unary!(lock, lock),
            "lock/unlock" => unary!(lock, unlock),
            "election/campaign" => unary!(election, campaign),
            "election/proclaim" => unary!(election, proclaim),
            "election/leader" => unary!(election, leader),
            "election/observe" => {
                one_request(
                    body,
                    limit,
                    |r| async move { election.observe(r).await },
                    stream_reply,
                )
                .await
            }
            "election/resign" => unary!(election, resign),
            "auth/enable" => unary!(auth, auth_enable),
            "auth/disable" => unary!(auth, auth_disable),
            "auth/status" => unary!(auth, auth_status),
            "auth/authenticate" => unary!(auth, authenticate),
            "auth/user/add" => unary!(auth, user_add),
            "auth/user/get" => unary!(auth, user_get),
            "auth/user/list" => unary!(auth, user_list),
            "auth/user/delete" => unary!(auth, user_delete),
            "auth/user/changepw" => unary!(auth, user_change_password),
            "auth/user/grant" => unary!(auth, user_grant_role),
            "auth/user/revoke" => unary!(auth, user_revoke_role),
            "auth/role/add" => unary!(auth, role_add),
            "auth/role/get" => unary!(auth, role_get),
            "auth/role/list" => unary!(auth, role_list),
            "auth/role/delete" => unary!(auth, role_delete),
            "auth/role/grant" => unary!(auth, role_grant_permission),
            "auth/role/revoke" => unary!(auth, role_revoke_permission),
            _ => plain(StatusCode::NOT_FOUND, "Not Found\n"),
        }
    }
}

/// A call with one request, the whole body: answered by `reply` with its response (a JSON object for a unary
/// call, [`stream_reply`] for a server stream), or with the error.
async fn one_request<B, Req, T, F, Fut>(
    body: B,
    limit: usize,
    call: F,
    reply: impl FnOnce(T) -> Reply,
) -> Reply
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    Req: DeserializeOwned + Default,
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let result = match read_request(body, limit).await {
        Ok(req) => call(tonic::Request::new(req)).await,
        Err(s) => Err(s),
    };
    match result {
        Ok(resp) => reply(resp.into_inner()),
        Err(s) => error_reply(&s),
    }
}

/// A unary response as a JSON object.
fn unary_reply<T: Serialize>(resp: T) -> Reply {
    match serde_json::to_vec(&resp) {
        Ok(json) => json_reply(StatusCode::OK, json),
        Err(e) => error_reply(&Status::internal(e.to_string())),
    }
}

/// Reads the whole body (at most `limit` bytes) as one request; an empty body is the default request.
async fn read_request<B, Req>(body: B, limit: usize) -> Result<Req, Status>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    Req: DeserializeOwned + Default,
{
    let bytes = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Status::resource_exhausted(format!(
                    "request body is larger than the {limit} bytes allowed"
                ))
            } else {
                Status::invalid_argument(format!("reading the request body: {e}"))
            }
        })?
        .to_bytes();
    parse_request(&bytes)
}

/// Decodes one request; blank input is the default request (etcd reads an empty body as `{}`).
pub fn parse_request<Req: DeserializeOwned + Default>(bytes: &[u8]) -> Result<Req, Status> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Req::default());
    }
    serde_json::from_slice(bytes).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// A bidirectional stream: the body is read as a sequence of JSON requests, handed to `serve`, and what it
/// answers is streamed back. A first request that does not decode is answered like a failed call, as
/// grpc-gateway answers it (HTTP 500, code 2), before the stream starts.
async fn bidi_stream<B, Req, Resp, F, S>(body: B, limit: usize, serve: F) -> Reply
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: FnOnce(futures::stream::BoxStream<'static, Result<Req, Status>>) -> S,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    let mut requests = json_requests::<B, Req>(body, limit).boxed();
    let first = requests.next().await;
    let inbound = match first {
        Some(Err(s)) => return error_reply(&Status::unknown(s.message().to_owned())),
        Some(Ok(r)) => futures::stream::once(async { Ok(r) })
            .chain(requests)
            .boxed(),
        None => requests,
    };
    stream_reply(serve(inbound))
}

/// The JSON objects of a request body, one request each, decoded as their bytes arrive. A request that does
/// not decode ends the stream with `InvalidArgument`, as does a body that ends inside one; no single request
/// may be larger than `limit`.
pub fn json_requests<B, Req>(body: B, limit: usize) -> impl Stream<Item = Result<Req, Status>>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    Req: DeserializeOwned,
{
    struct State<B> {
        body: B,
        buf: Vec<u8>,
        done: bool,
    }
    let state = State {
        body,
        buf: Vec::new(),
        done: false,
    };
    futures::stream::unfold(state, move |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            match next_object::<Req>(&mut st.buf, limit) {
                Ok(Some(req)) => return Some((Ok(req), st)),
                Ok(None) => {}
                Err(s) => {
                    st.done = true;
                    return Some((Err(s), st));
                }
            }
            if st.buf.len() > limit {
                st.done = true;
                return Some((Err(too_large(limit)), st));
            }
            match st.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        st.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    let msg = format!("reading the request body: {}", e.into());
                    return Some((Err(Status::invalid_argument(msg)), st));
                }
                None => {
                    st.done = true;
                    if st.buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    let msg = "the request body ends inside a JSON object".to_owned();
                    return Some((Err(Status::invalid_argument(msg)), st));
                }
            }
        }
    })
}

/// Takes the first complete JSON object off the front of `buf`: `Ok(None)` while it is incomplete (or `buf`
/// holds only whitespace); an object over `limit` bytes is refused.
fn next_object<Req: DeserializeOwned>(
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<Option<Req>, Status> {
    let mut objects = serde_json::Deserializer::from_slice(buf).into_iter::<Req>();
    match objects.next() {
        None => Ok(None),
        Some(Err(e)) if e.is_eof() => Ok(None),
        Some(Err(e)) => Err(Status::invalid_argument(e.to_string())),
        Some(Ok(_)) if objects.byte_offset() > limit => Err(too_large(limit)),
        Some(Ok(req)) => {
            let used = objects.byte_offset();
            buf.drain(..used);
            Ok(Some(req))
        }
    }
}

fn too_large(limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "a request in the body is larger than the {limit} bytes allowed"
    ))
}

/// One streamed response line: `{"result": ...}`, or `{"error": ...}` once the stream fails (grpc-gateway's
/// shapes).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum StreamLine<'a, T> {
    Result(&'a T),
    Error {
        grpc_code: i32,
        http_code: u16,
        message: &'a str,
        http_status: &'a str,
    },
}

/// A streamed reply: one JSON object per line, flushed as each response comes.
fn stream_reply<Resp, S>(responses: S) -> Reply
where
    Resp: Serialize + Send + 'static,
    S: Stream<Item = Result<Resp, Status>> + Send + 'static,
{
    let frames = responses.map(|item| {
        let line = match &item {
            Ok(resp) => serde_json::to_vec(&StreamLine::Result(resp)),
            Err(s) => {
                let http = http_status(s.code());
                let line: StreamLine<'_, Resp> = StreamLine::Error {
                    grpc_code: s.code() as i32,
                    http_code: http.as_u16(),
                    message: s.message(),
                    http_status: http.canonical_reason().unwrap_or(""),
                };
                serde_json::to_vec(&line)
            }
        };
        let mut line = line.unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#).into_bytes());
        line.push(b'\n');
        Ok::<_, Infallible>(Frame::data(Bytes::from(line)))
    });
    let mut reply = http::Response::new(Body::new(http_body_util::StreamBody::new(frames)));
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// grpc-gateway's error body, with the HTTP status it maps the code to.
fn error_reply(s: &Status) -> Reply {
    #[derive(Serialize)]
    struct Error<'a> {
        error: &'a str,
        message: &'a str,
        code: i32,
    }
    let body = Error {
        error: s.message(),
        message: s.message(),
        code: s.code() as i32,
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    json_reply(http_status(s.code()), json)
}

/// grpc-gateway's `HTTPStatusFromCode`.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn json_reply(status: StatusCode, json: Vec<u8>) -> Reply {
    let mut reply = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(json))));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut reply = http::Response::new(Body::new(text.to_owned()));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// etcd's default `--cors='*'`: browsers may call the gateway from any page.
fn with_cors(mut reply: Reply) -> Reply {
    let h = reply.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("accept, content-type, authorization"),
    );
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvstore_proto::etcdserverpb::{watch_request::RequestUnion, RangeRequest, WatchRequest};

    /// A request body that arrives in the given pieces.
    fn body_in(pieces: &[&str]) -> impl http_body::Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = pieces
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from(p.to_string()))))
            .collect();
        http_body_util::StreamBody::new(futures::stream::iter(frames))
    }

    fn keys(reqs: &[Result<WatchRequest, Status>]) -> Vec<Vec<u8>> {
        reqs.iter()
            .map(|r| match &r.as_ref().map(|w| &w.request_union) {
                Ok(Some(RequestUnion::CreateRequest(c))) => c.key.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn requests_split_across_body_pieces_are_put_back_together() {
        // "a" and "b" in base64; the second object is cut in the middle of a field name and of its value.
        let body = body_in(&[
            r#"{"create_request":{"key":"YQ=="}} {"create_req"#,
            r#"uest":{"key":"Yg"#,
            "==\"}}\n",
        ]);
        let reqs: Vec<_> = json_requests::<_, WatchRequest>(body, 1 << 20)
            .collect()
            .await;
        assert_eq!(keys(&reqs), vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[tokio::test]
    async fn a_body_ending_inside_a_request_or_holding_garbage_ends_with_an_error() {
        let cut = body_in(&[r#"{"create_request":{"key":"YQ=="}}{"create_request":"#]);
        let reqs: Vec<_> = json_requests::<_, WatchRequest>(cut, 1 << 20)
            .collect()
            .await;
        assert_eq!(reqs.len(), 2);
        assert_eq!(keys(&reqs[..1]), vec![b"a".to_vec()]);
        assert_eq!(reqs[1].as_ref().unwrap_err().code(), Code::InvalidArgument);

        let garbage = body_in(&["{nope}", r#"{"create_request":{"key":"YQ=="}}"#]);
        let reqs: Vec<_> = json_requests::<_, WatchRequest>(garbage, 1 << 20)
            .collect()
            .await;
        assert_eq!(
            reqs.len(),
            1,
            "nothing is read after a request that does not decode"
        );
        assert_eq!(reqs[0].as_ref().unwrap_err().code(), Code::InvalidArgument);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_limit_is_refused() {
        let big = format!(r#"{{"create_request":{{"key":"{}"}}}}"#, "QUFB".repeat(100));
        let reqs: Vec<_> = json_requests::<_, WatchRequest>(body_in(&[&big]), 64)
            .collect()
            .await;
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].as_ref().unwrap_err().code(),
            Code::ResourceExhausted
        );
    }

    #[test]
    fn an_empty_body_is_the_default_request_and_json_is_etcds_mapping() {
        let r: RangeRequest = parse_request(b" \n").unwrap();
        assert_eq!(r, RangeRequest::default());
        let r: RangeRequest = parse_request(
            br#"{"key":"YQ==","limit":"5","countOnly":true,"sort_order":"DESCEND","x":1}"#,
        )
        .unwrap();
        assert_eq!(
            (r.key.as_slice(), r.limit, r.count_only, r.sort_order),
            (&b"a"[..], 5, true, 2)
        );
        let e = parse_request::<RangeRequest>(br#"{"key":5}"#).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
    }

    #[test]
    fn grpc_codes_map_to_grpc_gateways_http_statuses() {
        let pairs = [
            (Code::InvalidArgument, 400),
            (Code::OutOfRange, 400),
            (Code::NotFound, 404),
            (Code::FailedPrecondition, 412),
            (Code::Unavailable, 503),
            (Code::Unimplemented, 501),
            (Code::DeadlineExceeded, 504),
        ];
        for (code, status) in pairs {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
        }
    }
}
