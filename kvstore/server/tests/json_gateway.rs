//! etcd's JSON gateway on the client port, driven the way its documentation drives etcd's with curl: plain
//! HTTP POSTs of protobuf JSON to `/v3/...`, answers in etcd's shapes (64-bit integers as strings, bytes in
//! base64, `.proto` field names), streams as one `{"result": ...}` per line. What the gateway writes the stock
//! etcdctl reads, and the other way round.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD, Engine};
use common::{etcdctl, stdout, KvStore};
use serde_json::{json, Value};

/// `curl -X POST -d BODY http://127.0.0.1:PORT/PATH` over HTTP/1.0: (status, body as JSON or text).
fn post(s: &KvStore, path: &str, body: &str) -> (u16, String) {
    request(s, "POST", path, body)
}

fn request(s: &KvStore, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", s.client_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    let code = reply.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_owned();
    (code, body)
}

/// A POST that must succeed, its body parsed.
fn call(s: &KvStore, path: &str, body: Value) -> Value {
    let (code, text) = post(s, path, &body.to_string());
    assert_eq!(code, 200, "{path} {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// A streaming call: the request body is sent whole, the response read line by line as it comes.
struct Stream {
    lines: BufReader<TcpStream>,
}

impl Stream {
    fn open(s: &KvStore, path: &str, body: &str) -> Stream {
        let mut c = TcpStream::connect(("127.0.0.1", s.client_port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            c,
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut lines = BufReader::new(c);
        let mut status = String::new();
        lines.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut h = String::new();
            lines.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
        }
        Stream { lines }
    }

    /// The next `{"result": ...}` line's result.
    fn next(&mut self) -> Value {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        v.get("result").unwrap_or_else(|| panic!("{v}")).clone()
    }
}

#[test]
fn put_range_txn_and_delete_speak_etcds_json_and_share_the_store_with_etcdctl() {
    let s = KvStore::start();
    let ep = s.endpoint();

    let put = call(
        &s,
        "/v3/kv/put",
        json!({"key": b64("foo"), "value": b64("bar")}),
    );
    assert_eq!(put["header"]["revision"], "2", "{put}");
    assert!(put["header"]["cluster_id"].is_string(), "{put}");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "foo", "--print-value-only"])),
        "bar\n"
    );

    assert!(etcdctl(&ep, &["put", "foo", "baz"]).status.success());
    let got = call(&s, "/v3/kv/range", json!({"key": b64("foo")}));
    assert_eq!(got["count"], "1");
    let kv = &got["kvs"][0];
    assert_eq!(kv["key"], b64("foo"));
    assert_eq!(kv["value"], b64("baz"));
    assert_eq!(
        (&kv["create_revision"], &kv["mod_revision"], &kv["version"]),
        (&json!("2"), &json!("3"), &json!("2"))
    );

    // camelCase names, enums by name and numbers for 64-bit fields are accepted, as by etcd's gateway.
    let cas = call(
        &s,
        "/v3/kv/txn",
        json!({
            "compare": [{"target": "MOD", "key": b64("foo"), "modRevision": 3}],
            "success": [{"requestPut": {"key": b64("foo"), "value": b64("swapped")}},
                        {"request_range": {"key": b64("foo")}}],
            "failure": [{"request_range": {"key": b64("foo")}}]
        }),
    );
    assert_eq!(cas["succeeded"], true, "{cas}");
    // Each response inside a txn carries the revision it saw, as etcd's do.
    assert_eq!(
        cas["responses"][0]["response_put"]["header"]["revision"], "4",
        "{cas}"
    );
    assert_eq!(
        cas["responses"][1]["response_range"]["kvs"][0]["value"],
        b64("swapped")
    );
    let lost = call(
        &s,
        "/v3/kv/txn",
        json!({"compare": [{"target": "MOD", "key": b64("foo"), "mod_revision": "3"}],
               "success": [{"request_delete_range": {"key": b64("foo")}}]}),
    );
    assert!(lost.get("succeeded").is_none(), "false is left out: {lost}");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "foo", "--print-value-only"])),
        "swapped\n"
    );

    let del = call(
        &s,
        "/v3/kv/deleterange",
        json!({"key": b64("foo"), "prev_kv": true}),
    );
    assert_eq!(del["deleted"], "1");
    assert_eq!(del["prev_kvs"][0]["value"], b64("swapped"));
    assert_eq!(stdout(&etcdctl(&ep, &["get", "foo"])), "");

    let status = call(&s, "/v3beta/maintenance/status", json!({}));
    assert_eq!(status["header"]["revision"], "5", "{status}");
    let members = call(&s, "/v3/cluster/member/list", json!({}));
    assert_eq!(
        members["members"][0]["clientURLs"][0],
        format!("http://{ep}")
    );
}

#[test]
fn bad_requests_get_grpc_gateway_errors_and_lose_nothing() {
    let s = KvStore::start();
    call(
        &s,
        "/v3/kv/put",
        json!({"key": b64("keep"), "value": b64("me")}),
    );

    let cases: [(&str, &str, u16, i64, &str); 5] = [
        ("/v3/kv/put", r#"{"key": "#, 400, 3, "EOF"),
        (
            "/v3/kv/put",
            r#"{"key":"","value":"eA=="}"#,
            400,
            3,
            "etcdserver: key is not provided",
        ),
        (
            "/v3/kv/range",
            r#"{"key":"a2VlcA==","revision":"99"}"#,
            400,
            11,
            "etcdserver: mvcc: required revision is a future revision",
        ),
        (
            "/v3/lease/revoke",
            r#"{"ID":"12345"}"#,
            404,
            5,
            "etcdserver: requested lease not found",
        ),
        (
            "/v3/kv/put",
            r#"{"key":"a2VlcA==","value":"eA==","lease":"777"}"#,
            404,
            5,
            "etcdserver: requested lease not found",
        ),
    ];
    for (path, body, status, code, message) in cases {
        let (got, text) = post(&s, path, body);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(got, status, "{path} {body}: {text}");
        assert_eq!(v["code"], code, "{path} {body}: {text}");
        assert!(
            v["error"].as_str().unwrap().contains(message),
            "{path} {body}: {text}"
        );
        assert_eq!(v["error"], v["message"]);
    }
    assert_eq!(request(&s, "GET", "/v3/kv/range", "").0, 405);
    assert_eq!(post(&s, "/v3/kv/nonsense", "{}").0, 404);

    let got = call(&s, "/v3/kv/range", json!({"key": b64("keep")}));
    assert_eq!(got["kvs"][0]["value"], b64("me"), "{got}");
    assert_eq!(
        got["kvs"][0]["mod_revision"], "2",
        "no failed request wrote: {got}"
    );
}

#[test]
fn a_watch_streams_events_after_its_request_body_has_ended() {
    let s = KvStore::start();
    let ep = s.endpoint();
    assert!(etcdctl(&ep, &["put", "svc/a", "1"]).status.success());

    // History from revision 2, then live events, with prev_kv; the request body ends right after the create.
    let create = json!({"create_request": {"key": b64("svc/"), "range_end": b64("svc0"),
                                          "start_revision": "2", "prev_kv": true}});
    let mut w = Stream::open(&s, "/v3/watch", &create.to_string());
    let created = w.next();
    assert_eq!(created["created"], true, "{created}");
    let history = w.next();
    assert_eq!(history["events"][0]["kv"]["key"], b64("svc/a"), "{history}");

    assert!(etcdctl(&ep, &["put", "svc/a", "2"]).status.success());
    assert!(etcdctl(&ep, &["del", "svc/a"]).status.success());
    let put = w.next();
    assert_eq!(put["events"][0]["kv"]["value"], b64("2"), "{put}");
    assert!(
        put["events"][0].get("type").is_none(),
        "PUT is the default, left out: {put}"
    );
    assert_eq!(put["events"][0]["prev_kv"]["value"], b64("1"), "{put}");
    let del = w.next();
    assert_eq!(del["events"][0]["type"], "DELETE", "{del}");
    assert_eq!(del["header"]["revision"], "4", "{del}");
}

#[test]
fn a_lease_granted_over_json_is_kept_alive_by_its_stream_and_expires_without_it() {
    let s = KvStore::start();
    let ep = s.endpoint();
    let grant = call(&s, "/v3/lease/grant", json!({"TTL": 2}));
    let id = grant["ID"].as_str().unwrap().to_owned();
    assert_eq!(grant["TTL"], "2");
    call(
        &s,
        "/v3/kv/put",
        json!({"key": b64("lease/k"), "value": b64("v"), "lease": id}),
    );

    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let mut ka = Stream::open(&s, "/v3/lease/keepalive", &json!({"ID": id}).to_string());
        let r = ka.next();
        assert_eq!((&r["ID"], &r["TTL"]), (&json!(id), &json!("2")), "{r}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let ttl = call(
        &s,
        "/v3/kv/lease/timetolive",
        json!({"ID": id, "keys": true}),
    );
    assert_eq!(ttl["keys"][0], b64("lease/k"), "{ttl}");
    assert_eq!(
        stdout(&etcdctl(&ep, &["get", "lease/k", "--print-value-only"])),
        "v\n"
    );

    let deadline = Instant::now() + Duration::from_secs(6);
    while !stdout(&etcdctl(&ep, &["get", "lease/k"])).is_empty() {
        assert!(Instant::now() < deadline, "the key outlived its lease");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, _) = post(&s, "/v3/lease/revoke", &json!({"ID": id}).to_string());
    assert_eq!(code, 404);
}

#[test]
fn locks_and_elections_are_on_the_gateway_too() {
    let s = KvStore::start();
    let ep = s.endpoint();
    // No lease given: the lock gets one of its own (60 s), as etcd's lock service does.
    let held = call(&s, "/v3/lock/lock", json!({"name": b64("door")}));
    let key = STANDARD.decode(held["key"].as_str().unwrap()).unwrap();
    assert!(key.starts_with(b"door/"), "{held}");
    let listed = stdout(&etcdctl(&ep, &["get", "door/", "--prefix", "--keys-only"]));
    assert_eq!(listed.trim(), String::from_utf8_lossy(&key), "{listed}");
    call(&s, "/v3/lock/unlock", json!({"key": held["key"]}));
    assert_eq!(stdout(&etcdctl(&ep, &["get", "door/", "--prefix"])), "");

    let (code, text) = post(
        &s,
        "/v3/election/leader",
        &json!({"name": b64("svc")}).to_string(),
    );
    assert_eq!(code, 500, "{text}");
    assert!(text.contains("election: no leader"), "{text}");
    let won = call(
        &s,
        "/v3/election/campaign",
        json!({"name": b64("svc"), "value": b64("me")}),
    );
    assert_eq!(won["leader"]["name"], b64("svc"), "{won}");
    let leader = call(&s, "/v3/election/leader", json!({"name": b64("svc")}));
    assert_eq!(leader["kv"]["value"], b64("me"), "{leader}");
    call(&s, "/v3/election/resign", json!({"leader": won["leader"]}));
    assert_eq!(
        post(
            &s,
            "/v3/election/leader",
            &json!({"name": b64("svc")}).to_string()
        )
        .0,
        500
    );
}
