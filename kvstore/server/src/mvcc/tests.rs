//! MVCC behaviour through the state machine, as a user of etcd would see it: revisions, versions, history,
//! compaction boundaries, txn compares, leases.
#![allow(clippy::field_reassign_with_default)] // raft's protobuf messages are built field by field

use std::sync::{Arc, Mutex};

use kvstore_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    response_op::Response as OpResponse,
    CompactionRequest, Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest,
    PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use kvstore_proto::internal::{raft_request::Request as R, RaftRequest};
use prost::Message as _;
use raft::prelude::Entry;

use crate::apply::{Applier, Response};
use crate::error::EtcdError;
use crate::lease::Lessor;
use crate::mvcc::read::Reader;
use crate::state::ServerState;
use crate::storage::Db;
use crate::watch::WatchHub;

struct Harness {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    applier: Applier,
    lessor: Arc<Mutex<Lessor>>,
    index: u64,
    compactions: std::sync::mpsc::Receiver<crate::apply::CompactJob>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let lessor = Arc::new(Mutex::new(Lessor::new(1)));
        let (tx, compactions) = std::sync::mpsc::channel();
        let applier = Applier::open(
            db.clone(),
            lessor.clone(),
            Arc::new(ServerState::default()),
            WatchHub::default(),
            tx,
        )
        .unwrap();
        Harness {
            _dir: dir,
            db,
            applier,
            lessor,
            index: 0,
            compactions,
        }
    }

    fn apply(&mut self, req: R) -> Result<Response, EtcdError> {
        self.apply_all(vec![req]).pop().unwrap()
    }

    /// Applies several requests as one batch (one RocksDB write), like a Ready with many entries.
    fn apply_all(&mut self, reqs: Vec<R>) -> Vec<Result<Response, EtcdError>> {
        let entries: Vec<Entry> = reqs
            .into_iter()
            .map(|r| {
                self.index += 1;
                let mut e = Entry::default();
                e.index = self.index;
                e.term = 1;
                e.data = RaftRequest {
                    id: self.index,
                    proposer: 1,
                    request: Some(r),
                }
                .encode_to_vec()
                .into();
                e
            })
            .collect();
        self.applier
            .apply(&entries)
            .unwrap()
            .into_iter()
            .map(|a| a.result)
            .collect()
    }

    fn put(&mut self, k: &str, v: &str) -> i64 {
        match self
            .apply(R::Put(PutRequest {
                key: k.into(),
                value: v.into(),
                ..Default::default()
            }))
            .unwrap()
        {
            Response::Put(p) => p.header.unwrap().revision,
            other => panic!("{other:?}"),
        }
    }

    fn get(&self, k: &str, rev: i64) -> Option<kvstore_proto::mvccpb::KeyValue> {
        let snap = self.db.db.snapshot();
        Reader::at_snapshot(&self.db, &snap)
            .get_at(k.as_bytes(), rev)
            .unwrap()
    }

    fn current(&self) -> i64 {
        Reader::live(&self.db).current_revision().unwrap()
    }
}

fn cmp(key: &str, target: CompareTarget, result: CompareResult, t: TargetUnion) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.into(),
        target_union: Some(t),
        range_end: vec![],
    }
}

fn put_op(k: &str, v: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: k.into(),
            value: v.into(),
            ..Default::default()
        })),
    }
}

#[test]
fn store_starts_at_revision_one_and_each_write_bumps_it() {
    let mut h = Harness::new();
    assert_eq!(h.current(), 1);
    assert_eq!(h.put("a", "1"), 2);
    assert_eq!(h.put("b", "1"), 3);
    let kv = h.get("a", i64::MAX).unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 2, 1));
}

#[test]
fn recreating_a_deleted_key_resets_version_and_create_revision() {
    let mut h = Harness::new();
    h.put("k", "v1");
    h.put("k", "v2");
    assert_eq!(h.get("k", i64::MAX).unwrap().version, 2);
    h.apply(R::DeleteRange(DeleteRangeRequest {
        key: "k".into(),
        ..Default::default()
    }))
    .unwrap();
    assert!(h.get("k", i64::MAX).is_none());
    let rev = h.put("k", "v3");
    let kv = h.get("k", i64::MAX).unwrap();
    assert_eq!(
        (kv.version, kv.create_revision, kv.mod_revision),
        (1, rev, rev)
    );
    // History is still there.
    assert_eq!(h.get("k", 2).unwrap().value, b"v1");
    assert_eq!(h.get("k", 3).unwrap().value, b"v2");
    assert!(h.get("k", 4).is_none(), "deleted at revision 4");
}

#[test]
fn writes_in_one_batch_see_each_other() {
    let mut h = Harness::new();
    let res = h.apply_all(vec![
        R::Put(PutRequest {
            key: "k".into(),
            value: "1".into(),
            ..Default::default()
        }),
        R::Put(PutRequest {
            key: "k".into(),
            value: "2".into(),
            prev_kv: true,
            ..Default::default()
        }),
    ]);
    match &res[1] {
        Ok(Response::Put(p)) => assert_eq!(p.prev_kv.as_ref().unwrap().value, b"1"),
        other => panic!("{other:?}"),
    }
    let kv = h.get("k", i64::MAX).unwrap();
    assert_eq!((kv.version, kv.create_revision, kv.mod_revision), (2, 2, 3));
}

#[test]
fn a_batch_reads_every_stored_key_it_touches_in_any_order() {
    // One batch looks stored keys up through one shared iterator: keys out of order, keys absent between
    // present ones, a key that is a prefix of another, and a deleted key must each find their own state.
    let mut h = Harness::new();
    h.put("b", "1");
    h.put("ab", "1");
    h.put("a", "1");
    h.put("gone", "1");
    h.apply(R::DeleteRange(DeleteRangeRequest {
        key: "gone".into(),
        ..Default::default()
    }))
    .unwrap();
    let put = |k: &str| {
        R::Put(PutRequest {
            key: k.into(),
            value: "2".into(),
            prev_kv: true,
            ..Default::default()
        })
    };
    let res = h.apply_all(vec![put("b"), put("new"), put("a"), put("gone"), put("ab")]);
    let prev_versions: Vec<Option<i64>> = res
        .iter()
        .map(|r| match r {
            Ok(Response::Put(p)) => p.prev_kv.as_ref().map(|kv| kv.version),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(prev_versions, vec![Some(1), None, Some(1), None, Some(1)]);
    for (k, version) in [("a", 2), ("ab", 2), ("b", 2), ("new", 1), ("gone", 1)] {
        assert_eq!(h.get(k, i64::MAX).unwrap().version, version, "{k}");
    }
}

#[test]
fn delete_range_counts_and_returns_prev_kvs_at_one_revision() {
    let mut h = Harness::new();
    for k in ["a/1", "a/2", "a/3", "b"] {
        h.put(k, "x");
    }
    let resp = match h
        .apply(R::DeleteRange(DeleteRangeRequest {
            key: "a/".into(),
            range_end: "a0".into(),
            prev_kv: true,
        }))
        .unwrap()
    {
        Response::DeleteRange(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(resp.deleted, 3);
    assert_eq!(resp.prev_kvs.len(), 3);
    assert_eq!(
        resp.header.unwrap().revision,
        6,
        "one revision for the whole delete"
    );
    let all = Reader::live(&h.db)
        .range(b"\0", b"\0", i64::MAX, 0, false)
        .unwrap();
    assert_eq!(all.count, 1);
    // Deleting nothing does not move the revision.
    h.apply(R::DeleteRange(DeleteRangeRequest {
        key: "zz".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(h.current(), 6);
}

#[test]
fn a_range_delete_sees_what_its_batch_and_txn_wrote_first() {
    // Stored keys are streamed while earlier writes of the same batch (a/2 put, a/5 deleted) and of the same txn
    // (a/4 put) are merged in: every live key goes, in key order, and nothing already gone is counted.
    let mut h = Harness::new();
    for k in ["a/1", "a/3", "a/5", "b"] {
        h.put(k, "stored");
    }
    let delete_range = |key: &str, end: &str| DeleteRangeRequest {
        key: key.into(),
        range_end: end.into(),
        prev_kv: true,
    };
    let res = h.apply_all(vec![
        R::Put(PutRequest {
            key: "a/2".into(),
            value: "batch".into(),
            ..Default::default()
        }),
        R::DeleteRange(delete_range("a/5", "")),
        R::Txn(TxnRequest {
            compare: vec![],
            success: vec![
                put_op("a/4", "txn"),
                RequestOp {
                    request: Some(Request::RequestDeleteRange(delete_range("a/", "a0"))),
                },
            ],
            failure: vec![],
        }),
    ]);
    let txn = match res.last() {
        Some(Ok(Response::Txn(t))) => t.clone(),
        other => panic!("{other:?}"),
    };
    let deleted = match &txn.responses[1].response {
        Some(OpResponse::ResponseDeleteRange(d)) => d.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(deleted.deleted, 4);
    let prev: Vec<(String, String)> = deleted
        .prev_kvs
        .iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(&kv.key).into_owned(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            )
        })
        .collect();
    let want = [
        ("a/1", "stored"),
        ("a/2", "batch"),
        ("a/3", "stored"),
        ("a/4", "txn"),
    ];
    assert_eq!(
        prev,
        want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
    );
    // The txn's revision holds the put, then the deletes in key order.
    let rev = txn.header.unwrap().revision;
    let history = Reader::live(&h.db)
        .history(
            crate::mvcc::keys::Revision::new(rev, 0),
            rev + 1,
            &|_| true,
            false,
            100,
        )
        .unwrap();
    let order: Vec<(i32, String)> = history
        .iter()
        .map(|(_, e)| {
            let key = e.kv.as_ref().map(|kv| kv.key.clone()).unwrap_or_default();
            (e.r#type, String::from_utf8_lossy(&key).into_owned())
        })
        .collect();
    let (put, del) = (0, 1);
    assert_eq!(
        order,
        vec![
            (put, "a/4".to_string()),
            (del, "a/1".to_string()),
            (del, "a/2".to_string()),
            (del, "a/3".to_string()),
            (del, "a/4".to_string()),
        ]
    );
    let left = Reader::live(&h.db)
        .range(b"\0", b"\0", i64::MAX, 0, true)
        .unwrap();
    assert_eq!(left.count, 1, "only b is left");
}

#[test]
fn range_limits_count_the_whole_range_and_read_old_revisions() {
    let mut h = Harness::new();
    for i in 0..10 {
        h.put(&format!("k{i}"), "v");
    }
    let snap = h.db.db.snapshot();
    let r = Reader::at_snapshot(&h.db, &snap);
    let res = r.range(b"k", b"l", i64::MAX, 3, false).unwrap();
    assert_eq!((res.kvs.len(), res.count), (3, 10));
    let old = r.range(b"k", b"l", 5, 0, false).unwrap();
    assert_eq!(old.count, 4, "revisions 2..=5 created k0..k3");
}

#[test]
fn txn_compare_and_swap() {
    let mut h = Harness::new();
    h.put("k", "old");
    let cas = |expect: &str| {
        R::Txn(TxnRequest {
            compare: vec![cmp(
                "k",
                CompareTarget::Value,
                CompareResult::Equal,
                TargetUnion::Value(expect.into()),
            )],
            success: vec![put_op("k", "new")],
            failure: vec![RequestOp {
                request: Some(Request::RequestRange(RangeRequest {
                    key: "k".into(),
                    ..Default::default()
                })),
            }],
        })
    };
    match h.apply(cas("old")).unwrap() {
        Response::Txn(t) => assert!(t.succeeded),
        other => panic!("{other:?}"),
    }
    match h.apply(cas("old")).unwrap() {
        Response::Txn(t) => {
            assert!(!t.succeeded);
            match &t.responses[0].response {
                Some(OpResponse::ResponseRange(r)) => assert_eq!(r.kvs[0].value, b"new"),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    // create_revision == 0 means "absent": the classic create-if-missing.
    let create = R::Txn(TxnRequest {
        compare: vec![cmp(
            "fresh",
            CompareTarget::Create,
            CompareResult::Equal,
            TargetUnion::CreateRevision(0),
        )],
        success: vec![put_op("fresh", "1")],
        failure: vec![],
    });
    match h.apply(create).unwrap() {
        Response::Txn(t) => assert!(t.succeeded),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failing_txn_leaves_no_trace() {
    let mut h = Harness::new();
    h.put("a", "1");
    let before = h.current();
    let t = R::Txn(TxnRequest {
        compare: vec![],
        success: vec![
            put_op("b", "2"),
            RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: "c".into(),
                    value: "3".into(),
                    lease: 12345,
                    ..Default::default()
                })),
            },
        ],
        failure: vec![],
    });
    assert_eq!(h.apply(t).unwrap_err(), EtcdError::LeaseNotFound);
    assert_eq!(h.current(), before);
    assert!(h.get("b", i64::MAX).is_none());
}

#[test]
fn nested_txn_runs_its_own_compares() {
    let mut h = Harness::new();
    h.put("x", "1");
    let inner = TxnRequest {
        compare: vec![cmp(
            "x",
            CompareTarget::Version,
            CompareResult::Greater,
            TargetUnion::Version(5),
        )],
        success: vec![put_op("y", "big")],
        failure: vec![put_op("y", "small")],
    };
    let outer = R::Txn(TxnRequest {
        compare: vec![],
        success: vec![RequestOp {
            request: Some(Request::RequestTxn(inner)),
        }],
        failure: vec![],
    });
    h.apply(outer).unwrap();
    assert_eq!(h.get("y", i64::MAX).unwrap().value, b"small");
}

#[test]
fn compaction_refuses_old_revisions_and_removes_superseded_history() {
    let mut h = Harness::new();
    h.put("k", "v1"); // 2
    h.put("k", "v2"); // 3
    h.put("gone", "x"); // 4
    h.apply(R::DeleteRange(DeleteRangeRequest {
        key: "gone".into(),
        ..Default::default()
    }))
    .unwrap(); // 5
    h.put("k", "v3"); // 6
    assert_eq!(
        h.apply(R::Compaction(CompactionRequest {
            revision: 99,
            physical: false
        }))
        .unwrap_err(),
        EtcdError::FutureRev
    );
    h.apply(R::Compaction(CompactionRequest {
        revision: 5,
        physical: false,
    }))
    .unwrap();
    assert_eq!(
        h.apply(R::Compaction(CompactionRequest {
            revision: 4,
            physical: false
        }))
        .unwrap_err(),
        EtcdError::Compacted
    );
    let (rev, _) = h.compactions.try_recv().unwrap();
    assert_eq!(rev, 5);
    crate::mvcc::compact::compact(&h.db, rev).unwrap();
    // At the compacted revision the store still reads as it was.
    assert_eq!(h.get("k", 5).unwrap().value, b"v2");
    assert_eq!(h.get("k", 6).unwrap().value, b"v3");
    // Older versions are gone, and so is every trace of the key deleted at or before the compaction.
    assert!(h.get("k", 2).is_none());
    assert!(h.get("gone", 4).is_none());
    let snap = h.db.db.snapshot();
    let hist = Reader::at_snapshot(&h.db, &snap)
        .history(
            crate::mvcc::keys::Revision::new(1, 0),
            100,
            &|_: &[u8]| true,
            false,
            100,
        )
        .unwrap();
    let revs: Vec<i64> = hist.iter().map(|(r, _)| r.main).collect();
    assert_eq!(revs, vec![3, 6]);
}

#[test]
fn lease_revoke_deletes_attached_keys_and_put_needs_a_live_lease() {
    let mut h = Harness::new();
    h.apply(R::LeaseGrant(LeaseGrantRequest { ttl: 5, id: 7 }))
        .unwrap();
    assert_eq!(
        h.apply(R::LeaseGrant(LeaseGrantRequest { ttl: 5, id: 7 }))
            .unwrap_err(),
        EtcdError::LeaseExists
    );
    for k in ["s/1", "s/2"] {
        h.apply(R::Put(PutRequest {
            key: k.into(),
            value: "x".into(),
            lease: 7,
            ..Default::default()
        }))
        .unwrap();
    }
    h.put("s/3", "kept");
    assert_eq!(h.get("s/1", i64::MAX).unwrap().lease, 7);
    h.apply(R::LeaseRevoke(LeaseRevokeRequest { id: 7 }))
        .unwrap();
    assert!(h.get("s/1", i64::MAX).is_none());
    assert!(h.get("s/2", i64::MAX).is_none());
    assert!(h.get("s/3", i64::MAX).is_some());
    assert!(!h.lessor.lock().unwrap().exists(7));
    let err = h
        .apply(R::Put(PutRequest {
            key: "s/4".into(),
            lease: 7,
            ..Default::default()
        }))
        .unwrap_err();
    assert_eq!(err, EtcdError::LeaseNotFound);
    assert_eq!(
        h.apply(R::LeaseRevoke(LeaseRevokeRequest { id: 7 }))
            .unwrap_err(),
        EtcdError::LeaseNotFound
    );
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        let lessor = Arc::new(Mutex::new(Lessor::new(1)));
        let (tx, _rx) = std::sync::mpsc::channel();
        let mut a = Applier::open(
            db,
            lessor,
            Arc::new(ServerState::default()),
            WatchHub::default(),
            tx,
        )
        .unwrap();
        let mut e = Entry::default();
        e.index = 1;
        e.data = RaftRequest {
            id: 1,
            proposer: 1,
            request: Some(R::LeaseGrant(LeaseGrantRequest { ttl: 9, id: 3 })),
        }
        .encode_to_vec()
        .into();
        let mut e2 = Entry::default();
        e2.index = 2;
        e2.data = RaftRequest {
            id: 2,
            proposer: 1,
            request: Some(R::Put(PutRequest {
                key: "k".into(),
                value: "v".into(),
                lease: 3,
                ..Default::default()
            })),
        }
        .encode_to_vec()
        .into();
        a.apply(&[e, e2]).unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    let lessor = Arc::new(Mutex::new(Lessor::new(1)));
    let (tx, _rx) = std::sync::mpsc::channel();
    let a = Applier::open(
        db,
        lessor.clone(),
        Arc::new(ServerState::default()),
        WatchHub::default(),
        tx,
    )
    .unwrap();
    assert_eq!(a.applied_index(), 2);
    let info = lessor
        .lock()
        .unwrap()
        .time_to_live(3, std::time::Instant::now())
        .unwrap();
    assert_eq!(info.keys, vec![b"k".to_vec()]);
}
