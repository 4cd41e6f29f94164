//! The errors kvstore's requests can end in, with the gRPC status and message etcd gives for each, so that
//! etcd clients (which match on these messages) recognise them.

use tonic::{Code, Status};

/// A request that could not be served. The display strings are etcd's own (`api/v3rpc/rpctypes`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: value is provided")]
    ValueProvided,
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRev,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: not leader")]
    NotLeader,
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: request timed out, possibly due to connection lost")]
    ConnectionLost,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    #[error("etcdserver: ID removed")]
    MemberRemoved,
    #[error("etcdserver: member ID already exist")]
    MemberExists,
    #[error("etcdserver: can only promote a learner member")]
    NotLearner,
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStarted,
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    #[error("etcdserver: request timed out, leader transfer took too long")]
    LeaderTransferTimeout,
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// A CORRUPT alarm is up (see [`crate::corrupt_check`]): no mutation is applied until it is disarmed.
    #[error("etcdserver: corrupt cluster")]
    Corrupt,
    #[error("etcdserver: {0}")]
    InvalidArgument(String),
    /// A storage failure: the server stops itself after reporting it (fail-stop, like etcd).
    #[error("etcdserver: storage failure: {0}")]
    Storage(String),
}

impl EtcdError {
    pub fn code(&self) -> Code {
        use EtcdError::*;
        match self {
            EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey
            | RequestTooLarge | InvalidArgument(_) => Code::InvalidArgument,
            Compacted | FutureRev | LeaseTtlTooLarge => Code::OutOfRange,
            LeaseNotFound | MemberNotFound => Code::NotFound,
            LeaseExists | NotLeader | PeerUrlExists | MemberRemoved | MemberExists | NotLearner
            | LearnerNotReady | NotEnoughStarted | BadLeaderTransferee => Code::FailedPrecondition,
            NoLeader
            | Stopped
            | Timeout
            | ConnectionLost
            | NotSupportedForLearner
            | Unhealthy
            | LeaderTransferTimeout => Code::Unavailable,
            NoSpace => Code::ResourceExhausted,
            Corrupt => Code::DataLoss,
            Storage(_) => Code::Internal,
        }
    }
}

impl From<EtcdError> for Status {
    fn from(e: EtcdError) -> Status {
        Status::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_etcd() {
        let s = Status::from(EtcdError::Compacted);
        assert_eq!(s.code(), Code::OutOfRange);
        assert_eq!(
            s.message(),
            "etcdserver: mvcc: required revision has been compacted"
        );
        assert_eq!(
            Status::from(EtcdError::LeaseNotFound).code(),
            Code::NotFound
        );
        assert_eq!(
            Status::from(EtcdError::EmptyKey).message(),
            "etcdserver: key is not provided"
        );
    }
}
