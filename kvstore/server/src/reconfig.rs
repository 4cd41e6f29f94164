//! etcd's `--strict-reconfig-check` (on by default): a membership change that would leave the cluster without a
//! quorum of working members is refused instead of proposed. The leader decides, from which voters it has heard
//! within an election timeout (followers answer its heartbeats every heartbeat interval); a follower hands the
//! request to the leader ([`crate::rpc::cluster`]).
//!
//! The rules are etcd 3.4's (`mayAddMember`, `mayPromoteMember`, `mayRemoveMember`):
//! - adding a voting member needs every voter reachable: the new member counts toward the quorum before it has
//!   started, so with one voter down, 3 + 1 members would need 3 of the 2 that answer ("unhealthy cluster");
//! - promoting a learner needs the reachable voters plus the learner to be a quorum of the grown cluster ("not
//!   enough started members");
//! - removing a voter that is up needs the reachable voters left after it to be a quorum of the shrunk cluster;
//!   removing a learner or a voter that is down is always allowed.
//!
//! A cluster of one may add a second voter (etcd's exception): it cannot write until that member starts.

use crate::error::EtcdError;
use crate::node::MemberChangeKind;

/// Members needed for a quorum of `n` voters.
fn quorum(n: usize) -> usize {
    n / 2 + 1
}

/// Whether `kind` of change to member `target` may be proposed, given the current `voters` and which members
/// `reachable` (always true for the leader itself).
pub fn check(
    kind: MemberChangeKind,
    target: u64,
    voters: &[u64],
    reachable: impl Fn(u64) -> bool,
) -> Result<(), EtcdError> {
    let up = voters.iter().filter(|id| reachable(**id)).count();
    let n = voters.len();
    match kind {
        MemberChangeKind::AddLearner => Ok(()),
        MemberChangeKind::Add if n == 1 => Ok(()),
        MemberChangeKind::Add if up < n => Err(EtcdError::Unhealthy),
        MemberChangeKind::Add => Ok(()),
        MemberChangeKind::Promote if n == 1 => Ok(()),
        MemberChangeKind::Promote if up + 1 < quorum(n + 1) => Err(EtcdError::NotEnoughStarted),
        MemberChangeKind::Promote => Ok(()),
        MemberChangeKind::Remove if !voters.contains(&target) || !reachable(target) => Ok(()),
        MemberChangeKind::Remove if up - 1 < quorum(n - 1) => Err(EtcdError::Unhealthy),
        MemberChangeKind::Remove => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberChangeKind::*;

    /// Voters 1..=n, of which those in `down` do not answer.
    fn run(kind: MemberChangeKind, target: u64, n: u64, down: &[u64]) -> Result<(), EtcdError> {
        let voters: Vec<u64> = (1..=n).collect();
        check(kind, target, &voters, |id| !down.contains(&id))
    }

    #[test]
    fn adding_a_voter_needs_every_voter_up_but_a_learner_does_not() {
        assert_eq!(run(Add, 9, 3, &[]), Ok(()));
        assert_eq!(run(Add, 9, 3, &[3]), Err(EtcdError::Unhealthy));
        assert_eq!(run(AddLearner, 9, 3, &[2, 3]), Ok(()));
        // etcd's exception: a cluster of one grows to two.
        assert_eq!(run(Add, 9, 1, &[]), Ok(()));
    }

    #[test]
    fn promoting_needs_a_quorum_of_the_grown_cluster() {
        assert_eq!(run(Promote, 9, 3, &[3]), Ok(())); // 2 up + the learner = 3 of 4
        assert_eq!(
            run(Promote, 9, 3, &[2, 3]),
            Err(EtcdError::NotEnoughStarted)
        );
        assert_eq!(run(Promote, 9, 1, &[]), Ok(()));
    }

    #[test]
    fn removing_a_live_voter_must_leave_a_quorum_and_a_dead_one_may_go() {
        assert_eq!(run(Remove, 2, 3, &[]), Ok(())); // 2 of 2 left
        assert_eq!(run(Remove, 2, 3, &[3]), Err(EtcdError::Unhealthy)); // 1 of 2 left
        assert_eq!(run(Remove, 3, 3, &[3]), Ok(())); // the one that is down
        assert_eq!(run(Remove, 9, 3, &[2, 3]), Ok(())); // not a voter: a learner
        assert_eq!(run(Remove, 2, 5, &[5]), Ok(())); // 3 of 4 left
        assert_eq!(run(Remove, 2, 5, &[4, 5]), Err(EtcdError::Unhealthy)); // 2 of 4 left
    }
}
