//! The space quota and alarms, etcd's `--quota-backend-bytes` and `etcdctl alarm`: a member whose database would
//! grow past the quota raises the NOSPACE alarm, and while any member's NOSPACE alarm is up the cluster takes
//! no writes that add data (puts, txns that write, lease grants) — deletes and compaction still run, so an
//! operator can make room, defragment and `etcdctl alarm disarm`.
//!
//! This module holds the pure parts: what a request costs against the quota (etcd's estimates), the alarm set
//! (replicated: raised and disarmed through raft, stored with the applied state), and which requests NOSPACE
//! refuses. The checks sit in the gRPC handlers (the quota) and in [`crate::apply`] (the alarm).

use kvstore_proto::etcdserverpb::{
    request_op::Request, AlarmMember, AlarmResponse, AlarmType, PutRequest, RequestOp, TxnRequest,
};
use kvstore_proto::internal::raft_request;
use prost::Message as _;

/// etcd's default quota (`--quota-backend-bytes=0`).
pub const DEFAULT_QUOTA_BYTES: u64 = 2 << 30;
/// Above this etcd warns that the quota is too large to be safe; so does kvstore.
pub const MAX_QUOTA_BYTES: u64 = 8 << 30;
/// etcd's estimate of a key's metadata, and of a lease.
const KV_OVERHEAD: u64 = 256;
const LEASE_OVERHEAD: u64 = 64;

/// `--quota-backend-bytes` as etcd reads it: 0 is the default, a negative number turns the quota off.
pub fn quota_from_flag(bytes: i64) -> Option<u64> {
    match bytes {
        0 => Some(DEFAULT_QUOTA_BYTES),
        b if b < 0 => None,
        b => Some(b as u64),
    }
}

pub fn put_cost(p: &PutRequest) -> u64 {
    KV_OVERHEAD + p.key.len() as u64 + p.value.len() as u64
}

/// A txn costs its larger branch's puts (only one branch runs).
pub fn txn_cost(t: &TxnRequest) -> u64 {
    let branch = |ops: &[RequestOp]| -> u64 {
        ops.iter()
            .map(|op| match &op.request {
                Some(Request::RequestPut(p)) => put_cost(p),
                _ => 0,
            })
            .sum()
    };
    branch(&t.success).max(branch(&t.failure))
}

pub fn lease_cost() -> u64 {
    LEASE_OVERHEAD
}

/// Whether NOSPACE refuses this request: it adds data (a put, a txn that writes, a lease grant). Deletes,
/// compaction, lease revokes and alarm changes still run, so an operator can make room and disarm.
pub fn adds_data(r: &raft_request::Request) -> bool {
    use raft_request::Request as R;
    match r {
        R::Put(_) | R::LeaseGrant(_) => true,
        R::Txn(t) => !crate::kv_ops::txn_is_read_only(t),
        _ => false,
    }
}

/// Whether a CORRUPT alarm refuses this request: every change to the keys or leases and compaction (etcd's
/// corrupt applier); alarm changes still run, so an operator can disarm once the member is repaired.
pub fn refused_when_corrupt(r: &raft_request::Request) -> bool {
    use raft_request::Request as R;
    matches!(
        r,
        R::Put(_)
            | R::DeleteRange(_)
            | R::Txn(_)
            | R::Compaction(_)
            | R::LeaseGrant(_)
            | R::LeaseRevoke(_)
    )
}

/// Whether a request of `cost` bytes still fits: the database's size plus the cost stays under the quota.
pub fn fits(quota: Option<u64>, db_size: u64, cost: u64) -> bool {
    quota.is_none_or(|q| db_size.saturating_add(cost) < q)
}

/// The raised alarms, one per (member, kind), in the order they were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alarms(Vec<AlarmMember>);

impl Alarms {
    /// The alarms of one kind, or all of them for `AlarmType::None`.
    pub fn get(&self, kind: AlarmType) -> Vec<AlarmMember> {
        self.0
            .iter()
            .filter(|a| kind == AlarmType::None || a.alarm == kind as i32)
            .cloned()
            .collect()
    }

    /// Raises an alarm; returns it if it was not up already. `None` is not an alarm.
    pub fn activate(&mut self, member_id: u64, kind: AlarmType) -> Option<AlarmMember> {
        let m = AlarmMember {
            member_id,
            alarm: kind as i32,
        };
        if kind == AlarmType::None || self.0.contains(&m) {
            return None;
        }
        self.0.push(m);
        Some(m)
    }

    /// Disarms an alarm; returns it if it was up.
    pub fn deactivate(&mut self, member_id: u64, kind: AlarmType) -> Option<AlarmMember> {
        let i = self
            .0
            .iter()
            .position(|a| a.member_id == member_id && a.alarm == kind as i32)?;
        Some(self.0.remove(i))
    }

    /// Whether `member_id`'s alarm of this kind is up.
    pub fn is_raised(&self, member_id: u64, kind: AlarmType) -> bool {
        self.0
            .iter()
            .any(|a| a.member_id == member_id && a.alarm == kind as i32)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn no_space(&self) -> bool {
        self.0.iter().any(|a| a.alarm == AlarmType::Nospace as i32)
    }

    /// Whether some member's CORRUPT alarm is up.
    pub fn corrupt(&self) -> bool {
        self.0.iter().any(|a| a.alarm == AlarmType::Corrupt as i32)
    }

    /// The alarms as etcd's Status lists them in `errors` (Go's text form of an `AlarmMember`).
    pub fn describe(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|a| {
                let kind = AlarmType::try_from(a.alarm).map_or("UNKNOWN", |k| k.as_str_name());
                format!("memberID:{} alarm:{kind} ", a.member_id)
            })
            .collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        AlarmResponse {
            header: None,
            alarms: self.0.clone(),
        }
        .encode_to_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Alarms, prost::DecodeError> {
        Ok(Alarms(AlarmResponse::decode(bytes)?.alarms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvstore_proto::etcdserverpb::RangeRequest;

    fn put(key: &str, value_len: usize) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: key.into(),
                value: vec![0; value_len],
                ..Default::default()
            })),
        }
    }

    fn range() -> RequestOp {
        RequestOp {
            request: Some(Request::RequestRange(RangeRequest::default())),
        }
    }

    #[test]
    fn costs_follow_etcds_estimates() {
        let p = PutRequest {
            key: b"abc".to_vec(),
            value: vec![0; 1000],
            ..Default::default()
        };
        assert_eq!(put_cost(&p), 256 + 3 + 1000);
        let t = TxnRequest {
            success: vec![put("a", 10), range(), put("b", 10)],
            failure: vec![put("c", 100)],
            ..Default::default()
        };
        assert_eq!(txn_cost(&t), 2 * (256 + 1 + 10), "the larger branch");
        assert_eq!(quota_from_flag(0), Some(2 << 30));
        assert_eq!(quota_from_flag(-1), None);
        assert_eq!(quota_from_flag(4096), Some(4096));
        assert!(fits(Some(1000), 500, 499));
        assert!(!fits(Some(1000), 500, 500));
        assert!(fits(None, u64::MAX, 1));
    }

    #[test]
    fn nospace_refuses_what_adds_data_and_lets_an_operator_make_room() {
        use kvstore_proto::etcdserverpb::{
            CompactionRequest, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest,
        };
        use raft_request::Request as R;
        let writing = TxnRequest {
            failure: vec![put("a", 1)],
            ..Default::default()
        };
        let reading = TxnRequest {
            success: vec![range()],
            ..Default::default()
        };
        assert!(adds_data(&R::Put(PutRequest::default())));
        assert!(adds_data(&R::LeaseGrant(LeaseGrantRequest::default())));
        assert!(adds_data(&R::Txn(writing)), "a put in either branch");
        assert!(!adds_data(&R::Txn(reading)));
        assert!(!adds_data(&R::DeleteRange(DeleteRangeRequest::default())));
        assert!(!adds_data(&R::Compaction(CompactionRequest::default())));
        assert!(!adds_data(&R::LeaseRevoke(LeaseRevokeRequest::default())));
    }

    #[test]
    fn corrupt_refuses_every_change_but_alarms() {
        use kvstore_proto::etcdserverpb::{AlarmRequest, DeleteRangeRequest, LeaseRevokeRequest};
        use raft_request::Request as R;
        assert!(refused_when_corrupt(&R::Put(PutRequest::default())));
        assert!(refused_when_corrupt(&R::DeleteRange(
            DeleteRangeRequest::default()
        )));
        assert!(refused_when_corrupt(&R::LeaseRevoke(
            LeaseRevokeRequest::default()
        )));
        assert!(!refused_when_corrupt(&R::Alarm(AlarmRequest::default())));
    }

    #[test]
    fn alarms_are_raised_once_disarmed_once_and_survive_encoding() {
        let mut a = Alarms::default();
        assert!(!a.no_space());
        assert_eq!(a.activate(7, AlarmType::None), None);
        let raised = a.activate(7, AlarmType::Nospace).expect("raised");
        assert_eq!(raised.member_id, 7);
        assert_eq!(a.activate(7, AlarmType::Nospace), None, "already up");
        a.activate(9, AlarmType::Nospace);
        a.activate(9, AlarmType::Corrupt);
        assert!(a.no_space());
        assert_eq!(a.get(AlarmType::Nospace).len(), 2);
        assert_eq!(a.get(AlarmType::None).len(), 3);
        assert_eq!(
            a.describe()[0],
            "memberID:7 alarm:NOSPACE ",
            "as Go prints an AlarmMember"
        );
        let back = Alarms::decode(&a.encode()).expect("decodes");
        assert_eq!(back, a);
        assert!(a.deactivate(7, AlarmType::Nospace).is_some());
        assert!(a.deactivate(7, AlarmType::Nospace).is_none());
        assert!(a.no_space(), "member 9's is still up");
        a.deactivate(9, AlarmType::Nospace);
        assert!(!a.no_space());
    }
}
