//! Bad requests get etcd's status codes and messages, and never harm what is stored. Also the plain-HTTP
//! endpoints: /health and /metrics on the metrics listener, and those plus /version on the client port.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::{http_get, KvStore};
use kvstore_proto::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, request_op::Request, DeleteRangeRequest,
    LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use tonic::Code;

async fn kv(s: &KvStore) -> KvClient<tonic::transport::Channel> {
    KvClient::connect(format!("http://{}", s.endpoint()))
        .await
        .unwrap()
        .max_encoding_message_size(8 << 20)
}

#[tokio::test]
async fn bad_requests_get_etcds_errors_and_lose_nothing() {
    let s = KvStore::start();
    let mut c = kv(&s).await;
    c.put(PutRequest {
        key: b"keep".to_vec(),
        value: b"me".to_vec(),
        ..Default::default()
    })
    .await
    .unwrap();

    let e = c
        .put(PutRequest {
            key: vec![],
            value: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "etcdserver: key is not provided")
    );

    let e = c
        .put(PutRequest {
            key: b"big".to_vec(),
            value: vec![b'x'; 1600 * 1024],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "etcdserver: request is too large")
    );

    let e = c
        .put(PutRequest {
            key: b"huge".to_vec(),
            value: vec![b'x'; 3 << 20],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "gRPC's own size limit: {e:?}");

    let e = c
        .put(PutRequest {
            key: b"k".to_vec(),
            lease: 424242,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::NotFound, "etcdserver: requested lease not found")
    );

    let e = c
        .range(RangeRequest {
            key: b"keep".to_vec(),
            revision: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            Code::OutOfRange,
            "etcdserver: mvcc: required revision is a future revision"
        )
    );

    let put = |k: &str| RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: k.into(),
            ..Default::default()
        })),
    };
    let e = c
        .txn(TxnRequest {
            compare: vec![],
            success: vec![put("a"), put("a")],
            failure: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (
            Code::InvalidArgument,
            "etcdserver: duplicate key given in txn request"
        )
    );

    let e = c
        .delete_range(DeleteRangeRequest {
            key: vec![],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let mut l = LeaseClient::connect(format!("http://{}", s.endpoint()))
        .await
        .unwrap();
    let e = l
        .lease_revoke(LeaseRevokeRequest { id: 99 })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::NotFound, "etcdserver: requested lease not found")
    );

    // A garbage body on the KV Put method.
    let garbage = garbage_grpc_call(&s).await;
    assert!(garbage.is_err(), "garbage request was accepted");

    let got = c
        .range(RangeRequest {
            key: b"keep".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.kvs.len(), 1);
    assert_eq!(got.kvs[0].value, b"me");
    assert_eq!(
        got.header.unwrap().revision,
        2,
        "no failed request moved the revision"
    );
}

/// Sends bytes that are not a PutRequest to /etcdserverpb.KV/Put.
async fn garbage_grpc_call(s: &KvStore) -> Result<(), tonic::Status> {
    use tonic::codegen::http::uri::PathAndQuery;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.endpoint()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = RawCodec;
    grpc.unary(
        tonic::Request::new(vec![0xff, 0xff, 0xff, 0x0f, 0x01]),
        PathAndQuery::from_static("/etcdserverpb.KV/Put"),
        codec,
    )
    .await
    .map(|_: tonic::Response<Vec<u8>>| ())
}

#[derive(Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let v = src.chunk().to_vec();
        src.advance(v.len());
        Ok(Some(v))
    }
}

#[test]
fn health_and_metrics_endpoints() {
    let s = KvStore::start();
    let (code, body) = http_get(s.metrics_port, "/health").unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"health":"true"}"#));
    let o = common::etcdctl(&s.endpoint(), &["put", "m", "1"]);
    assert!(o.status.success());
    let (code, body) = http_get(s.metrics_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    // Every sample line is `name{labels} value` with a float value; every family has HELP and TYPE.
    let mut samples = 0;
    for line in body.lines().filter(|l| !l.is_empty()) {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad value in {line:?}"
        );
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {line:?}"
        );
        samples += 1;
    }
    assert!(samples > 20, "{body}");
    for needed in [
        "etcd_server_has_leader 1",
        "etcd_disk_wal_fsync_duration_seconds_count",
        "grpc_server_handled_total{",
        "etcd_mvcc_db_total_size_in_bytes",
    ] {
        assert!(body.contains(needed), "missing {needed}");
    }
    let (code, _) = http_get(s.metrics_port, "/nope").unwrap();
    assert_eq!(code, 404);
}

/// As etcd does, the client port answers plain HTTP beside gRPC: health checks written for etcd (`curl
/// http://127.0.0.1:2379/health`) work unchanged.
#[test]
fn the_client_port_serves_health_version_and_metrics_beside_grpc() {
    let s = KvStore::start();
    let (code, body) = http_get(s.client_port, "/health").unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"health":"true"}"#));
    let (code, body) = http_get(s.client_port, "/version").unwrap();
    assert_eq!(
        (code, body.as_str()),
        (200, r#"{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}"#)
    );
    let o = common::etcdctl(&s.endpoint(), &["put", "h", "1"]);
    assert!(o.status.success(), "{o:?}");
    let (code, body) = http_get(s.client_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    for needed in [
        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\"",
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ] {
        assert!(body.contains(needed), "missing {needed}");
    }
    let (code, body) = http_get(s.client_port, "/nope").unwrap();
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
    // gRPC on the same port still works after the HTTP/1 requests.
    let o = common::etcdctl(&s.endpoint(), &["get", "h", "--print-value-only"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n");
}

/// gRPC's standard health service answers as etcd's does: the server ("") is SERVING, a service nobody
/// registered is unknown.
#[tokio::test]
async fn the_grpc_health_service_reports_the_server_serving() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};
    let s = KvStore::start();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.endpoint()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = HealthClient::new(channel);
    let r = c
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, ServingStatus::Serving as i32);
    let e = c
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
