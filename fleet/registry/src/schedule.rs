//! The engine's writes: schedule changes in batched, fenced transactions.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use futures::stream::{self, StreamExt};

use crate::error::RegistryError;
use crate::registry::Registry;

/// Units per transaction: each unit is one write and up to two compares, under the KV store's 128-operation
/// limit (etcd's `--max-txn-ops` default) with room for the leader fence.
pub const MAX_UNITS_PER_TXN: usize = 60;

/// Transactions in flight at once: enough to hide the round trip and the fsync of each, few enough not to
/// crowd out other clients.
const TXNS_IN_FLIGHT: usize = 8;

/// One write of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleChange {
    /// Set (`Some`) or clear (`None`) where `unit` runs, if `job/<unit>/target` is still at `expected_revision`
    /// (0: absent) — so a pass over a stale snapshot never undoes a newer decision.
    Target {
        unit: String,
        machine: Option<String>,
        expected_revision: i64,
    },
    /// Record (`Some`) or clear (`None`) why `unit` cannot be placed.
    Reason {
        unit: String,
        reason: Option<String>,
    },
}

/// What [`Registry::apply_schedule`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleStats {
    /// Changes written.
    pub applied: usize,
    /// Changes in transactions whose compares failed (a unit changed since the snapshot, or the leadership was
    /// lost): nothing of those was written.
    pub refused: usize,
    /// Transactions sent.
    pub transactions: usize,
}

impl Registry {
    /// Writes `changes` in transactions of up to [`MAX_UNITS_PER_TXN`], each guarded by the engine's leader key
    /// still holding `leader` under `lease` and by each target's expected revision; several transactions are in
    /// flight at once. A refused transaction writes nothing and is counted, not retried: the engine's next pass
    /// reads again.
    pub async fn apply_schedule(
        &self,
        changes: &[ScheduleChange],
        leader: &str,
        lease: i64,
    ) -> Result<ScheduleStats, RegistryError> {
        let k = self.keys();
        let txns: Vec<(usize, Txn)> = changes
            .chunks(MAX_UNITS_PER_TXN)
            .map(|chunk| {
                let mut compares = vec![
                    Compare::value(k.engine_leader(), CompareOp::Equal, leader),
                    Compare::lease(k.engine_leader(), CompareOp::Equal, lease),
                ];
                let mut ops = Vec::with_capacity(chunk.len());
                for change in chunk {
                    match change {
                        ScheduleChange::Target {
                            unit,
                            machine,
                            expected_revision,
                        } => {
                            compares.push(Compare::mod_revision(
                                k.job_target(unit),
                                CompareOp::Equal,
                                *expected_revision,
                            ));
                            // The unit must still exist: a destroyed unit is not brought back by a stale pass.
                            compares.push(Compare::create_revision(
                                k.job_object(unit),
                                CompareOp::Greater,
                                0,
                            ));
                            ops.push(match machine {
                                Some(m) => TxnOp::put(k.job_target(unit), m.as_str(), None),
                                None => TxnOp::delete(k.job_target(unit), None),
                            });
                        }
                        ScheduleChange::Reason { unit, reason } => {
                            compares.push(Compare::create_revision(
                                k.job_object(unit),
                                CompareOp::Greater,
                                0,
                            ));
                            ops.push(match reason {
                                Some(r) => TxnOp::put(k.job_unschedulable(unit), r.as_str(), None),
                                None => TxnOp::delete(k.job_unschedulable(unit), None),
                            });
                        }
                    }
                }
                (chunk.len(), Txn::new().when(compares).and_then(ops))
            })
            .collect();
        let mut stats = ScheduleStats::default();
        let mut results = stream::iter(txns.into_iter().map(|(n, txn)| {
            let kv = self.kv();
            async move { kv.txn(txn).await.map(|r| (n, r.succeeded())) }
        }))
        .buffer_unordered(TXNS_IN_FLIGHT);
        while let Some(result) = results.next().await {
            let (n, ok) = result?;
            stats.transactions += 1;
            if ok {
                stats.applied += n;
            } else {
                stats.refused += n;
            }
        }
        Ok(stats)
    }
}
