//! Automatic history compaction, etcd's `--auto-compaction-mode` and `--auto-compaction-retention`: without it
//! the history of every key grows for ever (fleet's state updates, service registrations with TTLs).
//!
//! - `periodic` (the default mode): keep about `retention` of history. The current revision is sampled every
//!   tenth of the period (of an hour at most); once the period has passed, the leader compacts to the revision
//!   sampled a period ago, then again every period (every hour when the period is longer). A bare number is
//!   hours (`--auto-compaction-retention=1`), otherwise a Go duration (`30m`, `1h30m`, `2.5s`).
//! - `revision`: every five minutes, compact to the current revision minus `retention` revisions.
//!
//! Retention `0` (the default) turns it off. Only the leader compacts; it proposes a Compact through raft as a
//! client's would, so every member compacts at the same revision. The decisions ([`Schedule`]) are pure and
//! driven by [`run`], which owns the clock and the proposals.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvstore_proto::etcdserverpb::CompactionRequest;
use kvstore_proto::internal::raft_request::Request as Raft;

use crate::error::EtcdError;
use crate::node::NodeHandle;
use crate::state::ServerState;

/// How often `revision` mode compacts (etcd's `revInterval`).
const REVISION_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// The periodic mode samples (and retries) every period / this.
const SAMPLES_PER_PERIOD: u32 = 10;

/// What `--auto-compaction-mode` and `--auto-compaction-retention` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Keep this much history (by time).
    Periodic(Duration),
    /// Keep this many revisions.
    Revision(i64),
}

impl Policy {
    /// Reads the two flags as etcd does. `Ok(None)`: turned off (retention 0). The error says which flag is
    /// wrong and why.
    pub fn parse(mode: &str, retention: &str) -> Result<Option<Policy>, (&'static str, String)> {
        let retention = retention.trim();
        let bare: Option<i64> = retention.parse().ok();
        let policy = match mode {
            "periodic" => {
                let period = match bare {
                    Some(h) if h < 0 => {
                        return Err((
                            "auto-compaction-retention",
                            format!("{retention:?} is negative"),
                        ))
                    }
                    Some(h) => Duration::from_secs(h as u64 * 3600),
                    None => parse_go_duration(retention).map_err(|why| {
                        ("auto-compaction-retention", format!("{retention:?}: {why}"))
                    })?,
                };
                (!period.is_zero()).then_some(Policy::Periodic(period))
            }
            "revision" => match bare {
                Some(n) if n < 0 => {
                    return Err((
                        "auto-compaction-retention",
                        format!("{retention:?} is negative"),
                    ))
                }
                Some(n) => (n > 0).then_some(Policy::Revision(n)),
                None => {
                    return Err((
                        "auto-compaction-retention",
                        format!("{retention:?}: revision mode takes a number of revisions"),
                    ))
                }
            },
            other => {
                return Err((
                    "auto-compaction-mode",
                    format!("{other:?}: expected periodic or revision"),
                ))
            }
        };
        Ok(policy)
    }
}

/// Parses a Go duration (`time.ParseDuration`: `300ms`, `1.5h`, `2h45m`), the form etcd's flag takes. Written
/// here because the crates that parse durations accept other grammars (`2h 45min`), and a flag copied from an
/// etcd unit file should mean the same thing here.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("expected a number before {tail:?}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("missing unit after {num}")),
            other => return Err(format!("unknown unit {other:?}")),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|e| e.to_string())
}

/// When to compact, and to which revision: etcd's compactors as a state machine. Between two calls of
/// [`Schedule::due`] the caller waits [`Schedule::interval`], recording the current revision first.
#[derive(Debug)]
pub struct Schedule {
    policy: Policy,
    /// Periodic: revisions sampled every interval, the oldest about one period ago.
    samples: VecDeque<i64>,
    /// Periodic: the last successful compaction (or the start).
    last_success: Instant,
    /// Periodic: the first compaction waits a whole period, later ones the compaction interval.
    first: bool,
    /// Revision: the revision last compacted to.
    prev: i64,
}

impl Schedule {
    pub fn new(policy: Policy, now: Instant) -> Schedule {
        Schedule {
            policy,
            samples: VecDeque::new(),
            last_success: now,
            first: true,
            prev: 0,
        }
    }

    /// How long to wait between two looks.
    pub fn interval(&self) -> Duration {
        match self.policy {
            Policy::Periodic(period) => compact_interval(period) / SAMPLES_PER_PERIOD,
            Policy::Revision(_) => REVISION_INTERVAL,
        }
    }

    /// Records the current revision (before each wait; a follower records too, so a new leader has history).
    pub fn record(&mut self, revision: i64) {
        if let Policy::Periodic(period) = self.policy {
            self.samples.push_back(revision);
            let keep = (period.as_secs_f64() / self.interval().as_secs_f64()).round() as usize + 1;
            while self.samples.len() > keep {
                self.samples.pop_front();
            }
        }
    }

    /// After a wait, on the leader: the revision to compact to now, if any.
    pub fn due(&mut self, now: Instant, revision: i64) -> Option<i64> {
        match self.policy {
            Policy::Periodic(period) => {
                let wait = if self.first {
                    period
                } else {
                    compact_interval(period)
                };
                if now.duration_since(self.last_success) < wait {
                    return None;
                }
                let target = *self.samples.front()?;
                (target > 0).then_some(target)
            }
            Policy::Revision(retention) => {
                let target = revision - retention;
                (target > 0 && target != self.prev).then_some(target)
            }
        }
    }

    /// The compaction to `revision` succeeded (or that revision was compacted already).
    pub fn compacted(&mut self, now: Instant, revision: i64) {
        self.first = false;
        self.last_success = now;
        self.prev = revision;
    }
}

/// A period over an hour compacts every hour.
fn compact_interval(period: Duration) -> Duration {
    period.min(Duration::from_secs(3600))
}

/// Runs the schedule until `stop` resolves: the leader proposes the compactions it calls for.
pub async fn run(
    policy: Policy,
    node: NodeHandle,
    state: Arc<ServerState>,
    stop: impl Future<Output = ()>,
) {
    let mut schedule = Schedule::new(policy, Instant::now());
    tokio::pin!(stop);
    loop {
        schedule.record(state.revision.load(Relaxed));
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(schedule.interval()) => {}
        }
        if !state.is_leader.load(Relaxed) {
            continue;
        }
        let Some(revision) = schedule.due(Instant::now(), state.revision.load(Relaxed)) else {
            continue;
        };
        let t = Instant::now();
        tracing::info!(revision, ?policy, "starting auto compaction");
        let request = Raft::Compaction(CompactionRequest {
            revision,
            physical: false,
        });
        match node.propose(request).await {
            Ok(_) | Err(EtcdError::Compacted) => {
                schedule.compacted(Instant::now(), revision);
                tracing::info!(revision, took = ?t.elapsed(), "completed auto compaction");
            }
            Err(e) => {
                tracing::warn!(revision, error = %e, retry_in = ?schedule.interval(), "auto compaction failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_etcd_reads_them() {
        let p = |m, r| Policy::parse(m, r);
        assert_eq!(p("periodic", "0"), Ok(None));
        assert_eq!(p("revision", "0"), Ok(None));
        assert_eq!(
            p("periodic", "1"),
            Ok(Some(Policy::Periodic(Duration::from_secs(3600))))
        );
        assert_eq!(
            p("periodic", "1h30m"),
            Ok(Some(Policy::Periodic(Duration::from_secs(5400))))
        );
        assert_eq!(
            p("periodic", "2.5s"),
            Ok(Some(Policy::Periodic(Duration::from_millis(2500))))
        );
        assert_eq!(p("revision", "1000"), Ok(Some(Policy::Revision(1000))));
        assert_eq!(
            p("periodic", "10x").unwrap_err().0,
            "auto-compaction-retention"
        );
        assert_eq!(
            p("periodic", "10").ok(),
            Some(Some(Policy::Periodic(Duration::from_secs(36000))))
        );
        assert_eq!(
            p("revision", "5m").unwrap_err().0,
            "auto-compaction-retention"
        );
        assert_eq!(
            p("revision", "-5").unwrap_err().0,
            "auto-compaction-retention"
        );
        assert_eq!(p("hourly", "1").unwrap_err().0, "auto-compaction-mode");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2h45m"), Ok(Duration::from_secs(9900)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("10us"), Ok(Duration::from_micros(10)));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("h").is_err());
        assert!(parse_go_duration("").is_err());
    }

    /// Drives a schedule like `run` does: record, wait an interval, ask. Returns (seconds since start, target) of
    /// each compaction over `steps` intervals, the revision being `rev(t)` at second `t`.
    fn drive(policy: Policy, steps: usize, rev: impl Fn(u64) -> i64) -> Vec<(u64, i64)> {
        let start = Instant::now();
        let mut s = Schedule::new(policy, start);
        let mut now = start;
        let mut done = Vec::new();
        for _ in 0..steps {
            s.record(rev(now.duration_since(start).as_secs()));
            now += s.interval();
            let t = now.duration_since(start).as_secs();
            if let Some(target) = s.due(now, rev(t)) {
                s.compacted(now, target);
                done.push((t, target));
            }
        }
        done
    }

    #[test]
    fn periodic_waits_a_period_then_keeps_about_a_period_of_history() {
        // One write a second; retention ten minutes: a sample every minute, the first compaction after ten
        // minutes to the revision at the start, then every ten minutes to the oldest of the last eleven samples
        // (as etcd keeps period/interval + 1 of them).
        let got = drive(Policy::Periodic(Duration::from_secs(600)), 30, |t| {
            t as i64 + 1
        });
        assert_eq!(got, vec![(600, 1), (1200, 541), (1800, 1141)]);
    }

    #[test]
    fn periodic_over_an_hour_compacts_hourly_keeping_the_whole_period() {
        // Retention three hours: samples every six minutes, the first compaction after three hours, then
        // hourly, each to the revision of (a little over) three hours before.
        let got = drive(Policy::Periodic(Duration::from_secs(3 * 3600)), 50, |t| {
            t as i64 + 1
        });
        assert_eq!(got, vec![(10800, 1), (14400, 3241), (18000, 6841)]);
    }

    #[test]
    fn revision_mode_compacts_every_five_minutes_to_current_minus_retention() {
        let got = drive(Policy::Revision(1000), 4, |t| t as i64 * 10);
        // At 300 s the revision is 3000: compact to 2000; at 600 s to 5000; ...
        assert_eq!(
            got,
            vec![(300, 2000), (600, 5000), (900, 8000), (1200, 11000)]
        );
        // Nothing new since the last compaction: nothing to do.
        let idle = drive(Policy::Revision(1000), 3, |_| 5000);
        assert_eq!(idle, vec![(300, 4000)]);
        // Fewer revisions than the retention: nothing to do.
        assert!(drive(Policy::Revision(1000), 3, |_| 900).is_empty());
    }
}
