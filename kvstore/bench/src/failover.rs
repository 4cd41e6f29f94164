//! Failover: how long a cluster cannot take writes when its leader dies.
//!
//! One round: find the leader (the `leader` field of Maintenance.Status, mapped to a member through each member's
//! own Status header), open one connection to each surviving member, then SIGKILL the leader. The clock starts
//! just before the kill. A retry loop then puts `bench/failover/<round>/<attempt>` through the survivors in turn
//! (attempt *k* to survivor *k* mod 2), each attempt with a [`ATTEMPT_TIMEOUT`] of its own and a
//! [`RETRY_PAUSE`] after an attempt that failed early; the clock stops at the first successful put answer. So the
//! figure is what a client with all endpoints and a short timeout sees: failure detection + election + the first
//! commit, to within one attempt timeout. The loop gives up after [`FAILOVER_CAP`].
//!
//! Then the killed member is started again on its own data dir, one more put goes through a survivor, and the
//! round ends when the restarted member serves that put's revision from a serializable Range and names a leader
//! in its Status (it has caught up), plus [`SETTLE`]. The same loop, timeouts and pauses run against both servers.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::{PutRequest, RangeRequest};
use serde::Serialize;
use tonic::transport::Channel;

use crate::load::{random_value, Rng};
use crate::server::{connect, Cluster};

/// Timeout of one put attempt while the cluster has no leader.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(200);
/// Pause after an attempt that failed before its timeout (e.g. "no leader"), so the loop does not spin.
pub const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// A round with no successful put within this long is a failed round.
const FAILOVER_CAP: Duration = Duration::from_secs(30);
/// A restarted member that has not caught up within this long fails the phase.
const CATCH_UP_CAP: Duration = Duration::from_secs(60);
/// Time to find a leader before a round.
const LEADER_WAIT: Duration = Duration::from_secs(10);
/// Pause after the restarted member caught up, before the next round.
const SETTLE: Duration = Duration::from_secs(1);

/// One leader kill.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// The leader that was killed.
    pub killed: String,
    /// Kill → first successful put, ms; `None` when no put succeeded within the cap.
    pub failover_ms: Option<f64>,
    /// The survivor whose put succeeded first.
    pub answered_by: Option<String>,
    /// The leader after the failover, as the survivors report it.
    pub new_leader: Option<String>,
    /// Put attempts, the successful one included.
    pub attempts: u32,
    /// Attempts that ran into [`ATTEMPT_TIMEOUT`].
    pub timeouts: u32,
    /// The first error an attempt got back (not a timeout), to tell how each server refuses writes meanwhile.
    pub first_error: Option<String>,
    /// Restart of the killed member → it serves the latest write, ms.
    pub catch_up_ms: Option<f64>,
}

/// The whole phase.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverResult {
    pub kills: Vec<Kill>,
    /// Median of the successful rounds' `failover_ms`.
    pub median_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub attempt_timeout_ms: u64,
    pub retry_pause_ms: u64,
}

impl FailoverResult {
    fn new() -> Self {
        FailoverResult {
            kills: Vec::new(),
            median_ms: None,
            min_ms: None,
            max_ms: None,
            attempt_timeout_ms: ATTEMPT_TIMEOUT.as_millis() as u64,
            retry_pause_ms: RETRY_PAUSE.as_millis() as u64,
        }
    }

    fn summarise(&mut self) {
        let mut ms: Vec<f64> = self.kills.iter().filter_map(|k| k.failover_ms).collect();
        ms.sort_by(f64::total_cmp);
        self.median_ms = median(&ms);
        self.min_ms = ms.first().copied();
        self.max_ms = ms.last().copied();
    }
}

/// The median of sorted figures (the mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Runs `rounds` leader kills. Returns what was measured even when a round could not finish, with the error.
pub async fn run(
    cluster: &mut Cluster,
    rounds: usize,
    value_size: usize,
    label: &str,
) -> (FailoverResult, Option<anyhow::Error>) {
    let mut result = FailoverResult::new();
    let mut rng = Rng::new(4242);
    for round in 1..=rounds {
        match one_round(cluster, round, value_size, &mut rng).await {
            Ok(kill) => {
                eprintln!(
                    "kvbench: {label}: failover {round}/{rounds}: killed {} (leader); {}; {} caught up in {}",
                    kill.killed,
                    match (kill.failover_ms, &kill.answered_by) {
                        (Some(ms), Some(by)) => format!(
                            "put through {by} succeeded after {ms:.0} ms ({} attempts), new leader {}",
                            kill.attempts,
                            kill.new_leader.as_deref().unwrap_or("?")
                        ),
                        _ => format!("no put succeeded within {FAILOVER_CAP:?}"),
                    },
                    kill.killed,
                    kill.catch_up_ms
                        .map_or_else(|| "-".to_string(), |ms| format!("{ms:.0} ms")),
                );
                result.kills.push(kill);
            }
            Err(e) => {
                result.summarise();
                return (result, Some(e.context(format!("failover round {round}"))));
            }
        }
    }
    result.summarise();
    (result, None)
}

async fn one_round(
    cluster: &mut Cluster,
    round: usize,
    value_size: usize,
    rng: &mut Rng,
) -> Result<Kill> {
    let leader = cluster.leader(LEADER_WAIT).await?;
    let survivors: Vec<usize> = (0..cluster.len())
        .filter(|&i| i != leader && cluster.running(i))
        .collect();
    if survivors.is_empty() {
        bail!("no member would survive the kill");
    }
    // Connected before the kill: connection setup is not part of the failover.
    let mut kvs = Vec::with_capacity(survivors.len());
    for &i in &survivors {
        kvs.push(KvClient::new(connect(&cluster.url(i)).await?));
    }

    let mut kill = Kill {
        killed: cluster.name(leader).to_string(),
        failover_ms: None,
        answered_by: None,
        new_leader: None,
        attempts: 0,
        timeouts: 0,
        first_error: None,
        catch_up_ms: None,
    };
    let killed_at = Instant::now();
    cluster.kill(leader)?;
    while killed_at.elapsed() < FAILOVER_CAP {
        let k = kill.attempts as usize % kvs.len();
        kill.attempts += 1;
        let req = PutRequest {
            key: format!("bench/failover/{round}/{}", kill.attempts).into_bytes(),
            value: random_value(rng, value_size),
            ..Default::default()
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, kvs[k].put(req)).await {
            Ok(Ok(_)) => {
                kill.failover_ms = Some(killed_at.elapsed().as_secs_f64() * 1000.0);
                kill.answered_by = Some(cluster.name(survivors[k]).to_string());
                break;
            }
            Ok(Err(s)) => {
                if kill.first_error.is_none() {
                    kill.first_error = Some(format!("{:?}: {}", s.code(), s.message()));
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(_) => kill.timeouts += 1,
        }
        if let Some((i, status)) = cluster.exited() {
            bail!("{}", cluster.describe_exit(i, status, 20));
        }
    }
    kill.new_leader = cluster
        .leader(LEADER_WAIT)
        .await
        .ok()
        .map(|l| cluster.name(l).to_string());

    // Bring the killed member back and wait until it has the latest write.
    let restarted_at = Instant::now();
    cluster.restart(leader)?;
    let marker = format!("bench/failover/{round}/caught-up").into_bytes();
    let revision = put_until(&mut kvs, &marker, value_size, rng, CATCH_UP_CAP).await?;
    let url = cluster.url(leader);
    loop {
        if let Some((i, status)) = cluster.exited() {
            bail!("{}", cluster.describe_exit(i, status, 20));
        }
        if caught_up(cluster, leader, &url, &marker, revision).await {
            kill.catch_up_ms = Some(restarted_at.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        if restarted_at.elapsed() >= CATCH_UP_CAP {
            bail!(
                "restarted member {} did not serve revision {revision} within {CATCH_UP_CAP:?}; log tail:\n{}",
                cluster.name(leader),
                cluster.log_tail(leader, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(SETTLE).await;
    Ok(kill)
}

/// Puts `key` through the survivors in turn until one answers; returns the revision of the write.
async fn put_until(
    kvs: &mut [KvClient<Channel>],
    key: &[u8],
    value_size: usize,
    rng: &mut Rng,
    cap: Duration,
) -> Result<i64> {
    let started = Instant::now();
    let mut last = String::from("no attempt");
    for k in 0.. {
        if started.elapsed() >= cap {
            break;
        }
        let req = PutRequest {
            key: key.to_vec(),
            value: random_value(rng, value_size),
            ..Default::default()
        };
        let kv = &mut kvs[k % kvs.len()];
        match tokio::time::timeout(Duration::from_secs(2), kv.put(req)).await {
            Ok(Ok(resp)) => {
                return resp
                    .into_inner()
                    .header
                    .map(|h| h.revision)
                    .context("put answer without a header");
            }
            Ok(Err(s)) => last = format!("{:?}: {}", s.code(), s.message()),
            Err(_) => last = "timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("no put succeeded within {cap:?} (last: {last})")
}

/// Whether member `i` serves `key` at `revision` or later from its own store and names a leader.
async fn caught_up(cluster: &Cluster, i: usize, url: &str, key: &[u8], revision: i64) -> bool {
    let Ok(channel) = connect(url).await else {
        return false;
    };
    let req = RangeRequest {
        key: key.to_vec(),
        serializable: true,
        ..Default::default()
    };
    let served =
        match tokio::time::timeout(Duration::from_secs(1), KvClient::new(channel).range(req)).await
        {
            Ok(Ok(resp)) => {
                let resp = resp.into_inner();
                resp.kvs.len() == 1 && resp.header.is_some_and(|h| h.revision >= revision)
            }
            _ => false,
        };
    served && cluster.status(i).await.is_ok_and(|s| s.leader != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), Some(3.0));
    }

    #[test]
    fn summary_skips_failed_rounds() {
        let kill = |ms| Kill {
            killed: "a".into(),
            failover_ms: ms,
            answered_by: None,
            new_leader: None,
            attempts: 1,
            timeouts: 0,
            first_error: None,
            catch_up_ms: None,
        };
        let mut r = FailoverResult::new();
        r.kills = vec![
            kill(Some(900.0)),
            kill(None),
            kill(Some(1500.0)),
            kill(Some(1100.0)),
        ];
        r.summarise();
        assert_eq!(r.median_ms, Some(1100.0));
        assert_eq!((r.min_ms, r.max_ms), (Some(900.0), Some(1500.0)));
    }
}
