//! Request rules shared by the RPC layer (checks before proposing) and apply (evaluating what was proposed):
//! etcd's request validation, its Range shaping (sort, limit, filters, keys/count only) and Txn compares.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use kvstore_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    range_request::{SortOrder, SortTarget},
    request_op::Request,
    response_op::Response as OpResponse,
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse, RequestOp,
    ResponseHeader, TxnRequest,
};
use kvstore_proto::mvccpb::KeyValue;

use crate::error::EtcdError;

/// etcd's default `--max-txn-ops` (the server's is a flag).
pub const MAX_TXN_OPS: usize = 128;
/// etcd's default `--max-request-bytes` (1.5 MiB; the server's is a flag).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// Resolves the revision a read asks for against the view's current and compacted revisions.
pub fn read_revision(asked: i64, current: i64, compacted: i64) -> Result<i64, EtcdError> {
    if asked <= 0 {
        return Ok(current);
    }
    if asked < compacted {
        return Err(EtcdError::Compacted);
    }
    if asked > current {
        return Err(EtcdError::FutureRev);
    }
    Ok(asked)
}

pub fn check_range(r: &RangeRequest) -> Result<(), EtcdError> {
    if r.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if SortOrder::try_from(r.sort_order).is_err() || SortTarget::try_from(r.sort_target).is_err() {
        return Err(EtcdError::InvalidArgument("invalid sort option".into()));
    }
    Ok(())
}

pub fn check_put(p: &PutRequest) -> Result<(), EtcdError> {
    if p.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(EtcdError::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(EtcdError::LeaseProvided);
    }
    Ok(())
}

pub fn check_delete(d: &DeleteRangeRequest) -> Result<(), EtcdError> {
    if d.key.is_empty() {
        return Err(EtcdError::EmptyKey);
    }
    Ok(())
}

/// etcd's `checkTxnRequest` and `checkIntervals`: bounded op count, every op well-formed, and no key written
/// twice (or written and deleted) in the same branch, nested txns included.
pub fn check_txn(t: &TxnRequest, max_ops: usize) -> Result<(), EtcdError> {
    if t.compare.len() > max_ops || t.success.len() > max_ops || t.failure.len() > max_ops {
        return Err(EtcdError::TooManyOps);
    }
    for c in &t.compare {
        if c.key.is_empty() {
            return Err(EtcdError::EmptyKey);
        }
    }
    for branch in [&t.success, &t.failure] {
        for op in branch.iter() {
            match &op.request {
                Some(Request::RequestRange(r)) => check_range(r)?,
                Some(Request::RequestPut(p)) => check_put(p)?,
                Some(Request::RequestDeleteRange(d)) => check_delete(d)?,
                Some(Request::RequestTxn(inner)) => check_txn(inner, max_ops)?,
                None => return Err(EtcdError::InvalidArgument("empty request op in txn".into())),
            }
        }
        let mut puts = BTreeSet::new();
        let mut deletes = Vec::new();
        collect_writes(branch, &mut puts, &mut deletes)?;
        for key in &puts {
            if deletes
                .iter()
                .any(|(s, e)| crate::mvcc::keys::in_range(key, s, e))
            {
                return Err(EtcdError::DuplicateKey);
            }
        }
    }
    Ok(())
}

fn collect_writes(
    ops: &[RequestOp],
    puts: &mut BTreeSet<Vec<u8>>,
    deletes: &mut Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<(), EtcdError> {
    for op in ops {
        match &op.request {
            Some(Request::RequestPut(p)) if !puts.insert(p.key.clone()) => {
                return Err(EtcdError::DuplicateKey);
            }
            Some(Request::RequestDeleteRange(d)) => {
                deletes.push((d.key.clone(), d.range_end.clone()))
            }
            Some(Request::RequestTxn(t)) => {
                // Either branch of a nested txn may run: both count.
                for branch in [&t.success, &t.failure] {
                    let mut inner = puts.clone();
                    collect_writes(branch, &mut inner, deletes)?;
                    puts.extend(inner);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a txn (recursively) writes anything; read-only txns are served like reads, without raft.
pub fn txn_is_read_only(t: &TxnRequest) -> bool {
    t.success
        .iter()
        .chain(&t.failure)
        .all(|op| match &op.request {
            Some(Request::RequestRange(_)) | None => true,
            Some(Request::RequestTxn(inner)) => txn_is_read_only(inner),
            _ => false,
        })
}

/// Whether the range request needs every key before it can cut to `limit` (sorting or filtering).
pub fn needs_all(r: &RangeRequest) -> bool {
    let sorted = !(r.sort_order == SortOrder::None as i32
        || (r.sort_target == SortTarget::Key as i32 && r.sort_order == SortOrder::Ascend as i32));
    sorted
        || r.min_mod_revision != 0
        || r.max_mod_revision != 0
        || r.min_create_revision != 0
        || r.max_create_revision != 0
}

/// How many key-values to fetch for `r`: one more than the limit, to know whether there are more.
pub fn fetch_limit(r: &RangeRequest) -> usize {
    if r.limit <= 0 || needs_all(r) {
        0
    } else {
        r.limit as usize + 1
    }
}

/// Shapes fetched key-values into etcd's RangeResponse: filters, sort, limit, keys/count only.
pub fn finish_range(r: &RangeRequest, mut kvs: Vec<KeyValue>, count: i64) -> RangeResponse {
    kvs.retain(|kv| {
        (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
            && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
            && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
            && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
    });
    let order = SortOrder::try_from(r.sort_order).unwrap_or(SortOrder::None);
    let target = SortTarget::try_from(r.sort_target).unwrap_or(SortTarget::Key);
    // etcd: a sort target other than KEY with no order means ascending.
    let order = if order == SortOrder::None && target != SortTarget::Key {
        SortOrder::Ascend
    } else {
        order
    };
    if order != SortOrder::None {
        let key = |a: &KeyValue, b: &KeyValue| match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        };
        if order == SortOrder::Descend {
            kvs.sort_by(|a, b| key(b, a));
        } else {
            kvs.sort_by(key);
        }
    }
    let mut more = false;
    if r.limit > 0 && kvs.len() > r.limit as usize {
        kvs.truncate(r.limit as usize);
        more = true;
    }
    if r.keys_only {
        for kv in kvs.iter_mut() {
            kv.value.clear();
        }
    }
    if r.count_only {
        kvs.clear();
    }
    RangeResponse {
        header: None,
        kvs,
        more,
        count,
    }
}

/// The header etcd gives a response inside a txn: range, put and delete carry only `revision`, the store's
/// revision as that operation saw it (the txn's own once it has written, as etcd's `storeTxnWrite` reports it);
/// a nested txn carries an empty header.
pub fn txn_op_header(response: &mut OpResponse, revision: i64) {
    let header = Some(ResponseHeader {
        revision,
        ..Default::default()
    });
    match response {
        OpResponse::ResponseRange(r) => r.header = header,
        OpResponse::ResponsePut(r) => r.header = header,
        OpResponse::ResponseDeleteRange(r) => r.header = header,
        OpResponse::ResponseTxn(r) => r.header = Some(ResponseHeader::default()),
    }
}

/// One txn compare over the key-values its key (or range) currently holds, as etcd's `applyCompare`: an
/// absent key compares as all zeroes, except that a value compare on it fails.
pub fn compare_holds(c: &Compare, kvs: &[KeyValue]) -> bool {
    if kvs.is_empty() {
        if c.target == CompareTarget::Value as i32 {
            return false;
        }
        return compare_kv(c, &KeyValue::default());
    }
    kvs.iter().all(|kv| compare_kv(c, kv))
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    let ord = match (CompareTarget::try_from(c.target), &c.target_union) {
        (Ok(CompareTarget::Value), Some(TargetUnion::Value(v))) => {
            kv.value.as_slice().cmp(v.as_slice())
        }
        (Ok(CompareTarget::Value), None) => kv.value.as_slice().cmp(&[][..]),
        (Ok(CompareTarget::Version), t) => kv.version.cmp(&int_of(t)),
        (Ok(CompareTarget::Create), t) => kv.create_revision.cmp(&int_of(t)),
        (Ok(CompareTarget::Mod), t) => kv.mod_revision.cmp(&int_of(t)),
        (Ok(CompareTarget::Lease), t) => kv.lease.cmp(&int_of(t)),
        _ => return false,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ord == Ordering::Equal,
        Ok(CompareResult::Greater) => ord == Ordering::Greater,
        Ok(CompareResult::Less) => ord == Ordering::Less,
        Ok(CompareResult::NotEqual) => ord != Ordering::Equal,
        Err(_) => false,
    }
}

fn int_of(t: &Option<TargetUnion>) -> i64 {
    match t {
        Some(TargetUnion::Version(v))
        | Some(TargetUnion::CreateRevision(v))
        | Some(TargetUnion::ModRevision(v))
        | Some(TargetUnion::Lease(v)) => *v,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, version: i64, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            version,
            value: value.into(),
            mod_revision: version,
            create_revision: 1,
            lease: 0,
        }
    }

    fn cmp(target: CompareTarget, result: CompareResult, t: TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: b"k".to_vec(),
            target_union: Some(t),
            range_end: vec![],
        }
    }

    #[test]
    fn read_revision_bounds() {
        assert_eq!(read_revision(0, 10, 3), Ok(10));
        assert_eq!(read_revision(3, 10, 3), Ok(3));
        assert_eq!(read_revision(2, 10, 3), Err(EtcdError::Compacted));
        assert_eq!(read_revision(11, 10, 3), Err(EtcdError::FutureRev));
    }

    #[test]
    fn compares_follow_etcd_on_absent_keys() {
        let absent: Vec<KeyValue> = vec![];
        assert!(compare_holds(
            &cmp(
                CompareTarget::Version,
                CompareResult::Equal,
                TargetUnion::Version(0)
            ),
            &absent
        ));
        assert!(compare_holds(
            &cmp(
                CompareTarget::Create,
                CompareResult::Equal,
                TargetUnion::CreateRevision(0)
            ),
            &absent
        ));
        assert!(!compare_holds(
            &cmp(
                CompareTarget::Value,
                CompareResult::NotEqual,
                TargetUnion::Value(b"x".to_vec())
            ),
            &absent
        ));
    }

    #[test]
    fn compares_every_key_of_a_range() {
        let kvs = vec![kv("a", 2, "x"), kv("b", 5, "y")];
        assert!(compare_holds(
            &cmp(
                CompareTarget::Version,
                CompareResult::Greater,
                TargetUnion::Version(1)
            ),
            &kvs
        ));
        assert!(!compare_holds(
            &cmp(
                CompareTarget::Version,
                CompareResult::Greater,
                TargetUnion::Version(2)
            ),
            &kvs
        ));
        assert!(compare_holds(
            &cmp(
                CompareTarget::Value,
                CompareResult::Less,
                TargetUnion::Value(b"z".to_vec())
            ),
            &kvs
        ));
        assert!(compare_holds(
            &cmp(
                CompareTarget::Mod,
                CompareResult::NotEqual,
                TargetUnion::ModRevision(3)
            ),
            &kvs
        ));
    }

    #[test]
    fn duplicate_writes_in_a_txn_are_refused() {
        let put = |k: &str| RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: k.into(),
                ..Default::default()
            })),
        };
        let del = |k: &str, e: &str| RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: k.into(),
                range_end: e.into(),
                prev_kv: false,
            })),
        };
        let t = TxnRequest {
            compare: vec![],
            success: vec![put("a"), put("a")],
            failure: vec![],
        };
        assert_eq!(check_txn(&t, MAX_TXN_OPS), Err(EtcdError::DuplicateKey));
        let t = TxnRequest {
            compare: vec![],
            success: vec![put("ab"), del("a", "b")],
            failure: vec![],
        };
        assert_eq!(check_txn(&t, MAX_TXN_OPS), Err(EtcdError::DuplicateKey));
        let t = TxnRequest {
            compare: vec![],
            success: vec![put("a")],
            failure: vec![put("a")],
        };
        assert_eq!(
            check_txn(&t, MAX_TXN_OPS),
            Ok(()),
            "branches are independent"
        );
        let t = TxnRequest {
            compare: vec![],
            success: (0..129).map(|i| put(&i.to_string())).collect(),
            failure: vec![],
        };
        assert_eq!(check_txn(&t, MAX_TXN_OPS), Err(EtcdError::TooManyOps));
    }

    #[test]
    fn range_shaping_sorts_limits_and_reports_more() {
        let kvs = vec![kv("a", 3, "1"), kv("b", 1, "2"), kv("c", 2, "3")];
        let r = RangeRequest {
            key: b"a".to_vec(),
            limit: 2,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Version as i32,
            ..Default::default()
        };
        let resp = finish_range(&r, kvs.clone(), 3);
        assert_eq!(
            resp.kvs.iter().map(|k| k.key.clone()).collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"c".to_vec()]
        );
        assert!(resp.more);
        assert_eq!(resp.count, 3);
        let r = RangeRequest {
            key: b"a".to_vec(),
            count_only: true,
            ..Default::default()
        };
        assert!(finish_range(&r, kvs, 3).kvs.is_empty());
    }
}
