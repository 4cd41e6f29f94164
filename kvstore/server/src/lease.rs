//! The lessor: granted leases, the keys attached to each, and when each expires.
//!
//! Grants, revokes and attachments change only through applied raft entries, so every member agrees on them.
//! Expiry is not replicated: only the leader (the *primary* lessor) keeps deadlines, renews them on keep-alive,
//! and proposes a revoke for each lease that runs out; followers hold every lease forever until they lead.
//! A new leader extends every lease by its full TTL, as etcd does, so a leader change never expires a lease early.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::error::EtcdError;

/// etcd's upper bound for a lease TTL, in seconds.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

#[derive(Debug, Clone)]
struct Lease {
    /// Granted TTL in seconds (after raising to the minimum).
    ttl: i64,
    /// When it runs out; `None` while this member is not the leader.
    expiry: Option<Instant>,
    keys: BTreeSet<Vec<u8>>,
    /// When a revoke for it was last proposed (so an expired lease is proposed once, then retried slowly).
    revoke_proposed: Option<Instant>,
}

/// What `TimeToLive` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub remaining: i64,
    pub granted: i64,
    pub keys: Vec<Vec<u8>>,
}

#[derive(Debug)]
pub struct Lessor {
    leases: HashMap<i64, Lease>,
    primary: bool,
    /// Shortest TTL handed out: a lease must outlive a leader election (etcd: 1.5 × election timeout).
    min_ttl: i64,
}

impl Lessor {
    pub fn new(min_ttl: i64) -> Self {
        Lessor {
            leases: HashMap::new(),
            primary: false,
            min_ttl,
        }
    }

    pub fn exists(&self, id: i64) -> bool {
        self.leases.contains_key(&id)
    }

    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.leases.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The TTL a grant of `ttl` ends up with.
    pub fn effective_ttl(&self, ttl: i64) -> i64 {
        ttl.max(self.min_ttl)
    }

    /// Applies a grant (already checked not to exist). Returns the granted TTL.
    pub fn grant(&mut self, id: i64, ttl: i64, now: Instant) -> i64 {
        let ttl = self.effective_ttl(ttl);
        let expiry = self.primary.then(|| now + secs(ttl));
        self.leases.insert(
            id,
            Lease {
                ttl,
                expiry,
                keys: BTreeSet::new(),
                revoke_proposed: None,
            },
        );
        ttl
    }

    /// Forgets every lease (before the table is reloaded from a snapshot).
    pub fn clear(&mut self) {
        self.leases.clear();
    }

    /// Restores a lease from storage at start-up.
    pub fn restore(&mut self, id: i64, ttl: i64) {
        self.leases.insert(
            id,
            Lease {
                ttl,
                expiry: None,
                keys: BTreeSet::new(),
                revoke_proposed: None,
            },
        );
    }

    /// Applies a revoke; returns the attached keys (to delete), or `None` if there was no such lease.
    pub fn revoke(&mut self, id: i64) -> Option<Vec<Vec<u8>>> {
        self.leases
            .remove(&id)
            .map(|l| l.keys.into_iter().collect())
    }

    /// The keys attached to lease `id`, or `None` if there is no such lease.
    pub fn keys(&self, id: i64) -> Option<Vec<Vec<u8>>> {
        self.leases
            .get(&id)
            .map(|l| l.keys.iter().cloned().collect())
    }

    pub fn attach(&mut self, id: i64, key: &[u8]) {
        if let Some(l) = self.leases.get_mut(&id) {
            l.keys.insert(key.to_vec());
        }
    }

    pub fn detach(&mut self, id: i64, key: &[u8]) {
        if let Some(l) = self.leases.get_mut(&id) {
            l.keys.remove(key);
        }
    }

    /// Keep-alive: restarts the lease's clock. Only the leader can renew.
    pub fn renew(&mut self, id: i64, now: Instant) -> Result<i64, EtcdError> {
        if !self.primary {
            return Err(EtcdError::NotLeader);
        }
        let l = self.leases.get_mut(&id).ok_or(EtcdError::LeaseNotFound)?;
        if l.expiry.is_some_and(|e| e <= now) {
            // Already expired: its revoke is on the way.
            return Err(EtcdError::LeaseNotFound);
        }
        l.expiry = Some(now + secs(l.ttl));
        Ok(l.ttl)
    }

    pub fn time_to_live(&self, id: i64, now: Instant) -> Option<LeaseInfo> {
        let l = self.leases.get(&id)?;
        let remaining = match l.expiry {
            Some(e) => e.saturating_duration_since(now).as_secs_f64().ceil() as i64,
            None => l.ttl,
        };
        Some(LeaseInfo {
            remaining,
            granted: l.ttl,
            keys: l.keys.iter().cloned().collect(),
        })
    }

    /// Leases whose time is up and whose revoke should be proposed now (at most once per `retry`).
    pub fn take_expired(&mut self, now: Instant, retry: Duration) -> Vec<i64> {
        if !self.primary {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (id, l) in self.leases.iter_mut() {
            let due = l.expiry.is_some_and(|e| e <= now);
            let not_recent = l
                .revoke_proposed
                .is_none_or(|t| now.duration_since(t) >= retry);
            if due && not_recent {
                l.revoke_proposed = Some(now);
                out.push(*id);
            }
        }
        out.sort_unstable();
        out
    }

    /// This member became leader: every lease gets its full TTL from now.
    pub fn promote(&mut self, now: Instant) {
        self.primary = true;
        for l in self.leases.values_mut() {
            l.expiry = Some(now + secs(l.ttl));
            l.revoke_proposed = None;
        }
    }

    /// This member stopped leading: deadlines are the new leader's business.
    pub fn demote(&mut self) {
        self.primary = false;
        for l in self.leases.values_mut() {
            l.expiry = None;
        }
    }

    pub fn is_primary(&self) -> bool {
        self.primary
    }

    pub fn len(&self) -> usize {
        self.leases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(s.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ttls_are_raised_to_the_minimum() {
        let mut l = Lessor::new(2);
        assert_eq!(l.grant(1, 1, Instant::now()), 2);
        assert_eq!(l.grant(2, 10, Instant::now()), 10);
    }

    #[test]
    fn only_the_primary_expires_and_renews() {
        let t0 = Instant::now();
        let mut l = Lessor::new(1);
        l.grant(7, 5, t0);
        assert!(l
            .take_expired(t0 + secs(60), Duration::from_secs(1))
            .is_empty());
        assert_eq!(l.renew(7, t0), Err(EtcdError::NotLeader));
        l.promote(t0);
        assert!(l
            .take_expired(t0 + secs(4), Duration::from_secs(1))
            .is_empty());
        assert_eq!(l.renew(7, t0 + secs(4)), Ok(5));
        assert!(
            l.take_expired(t0 + secs(8), Duration::from_secs(1))
                .is_empty(),
            "renewal moved the deadline"
        );
        assert_eq!(
            l.take_expired(t0 + secs(10), Duration::from_secs(1)),
            vec![7]
        );
        assert!(
            l.take_expired(t0 + secs(10), Duration::from_secs(1))
                .is_empty(),
            "proposed once"
        );
        assert_eq!(
            l.take_expired(t0 + secs(12), Duration::from_secs(1)),
            vec![7],
            "retried later"
        );
        assert_eq!(l.renew(7, t0 + secs(12)), Err(EtcdError::LeaseNotFound));
    }

    #[test]
    fn revoke_returns_attached_keys() {
        let mut l = Lessor::new(1);
        l.grant(1, 5, Instant::now());
        l.attach(1, b"b");
        l.attach(1, b"a");
        l.detach(1, b"b");
        assert_eq!(l.revoke(1), Some(vec![b"a".to_vec()]));
        assert_eq!(l.revoke(1), None);
    }
}
