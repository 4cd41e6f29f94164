//! Closed-loop put and get load, shaped like etcd's own `benchmark` tool.
//!
//! A level is `clients` tasks, each with exactly one request in flight, spread round-robin over `conns` gRPC
//! (HTTP/2) connections. Against a cluster, connection *j* goes to endpoint *j* mod the number of endpoints, as
//! etcd's `benchmark` tool dials its `--endpoints` (client *i* → connection *i* mod `conns` → endpoint); the
//! caller decides the endpoints' order. Each task sends, waits, records the latency and sends again until the level's deadline
//! (or its share of a fixed request count) is reached. Throughput is successful requests divided by the wall time
//! from the first send to the last answer.
//!
//! Puts write a new key every time, `bench/c<clients>/<client>/<n>`, so no level overwrites an earlier one. Values
//! are pseudo-random bytes, different for every put: kvstore stores into RocksDB with LZ4, and a constant value
//! would compress away and flatter it against etcd's uncompressed bbolt.
//!
//! Gets read one existing key, either linearizable (through the leader's read index: etcd's default) or
//! serializable (local read), and count an answer without exactly one key-value as an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use kvstore_proto::etcdserverpb::kv_client::KvClient;
use kvstore_proto::etcdserverpb::{PutRequest, RangeRequest};
use serde::Serialize;
use tonic::transport::Channel;

use crate::server::connect;
use crate::stats::{self, LatencySummary};

/// A request that takes longer than this counts as an error (and is cancelled), so a stuck server cannot hang a
/// level past its deadline by more than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// In count mode, a level stops at this age even if the count was not reached.
const COUNT_MODE_CAP: Duration = Duration::from_secs(300);

/// The shape of one level.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Level {
    /// Requests in flight at once (one per task).
    pub clients: usize,
    /// gRPC connections the tasks share, round-robin.
    pub conns: usize,
}

/// When a level ends.
#[derive(Debug, Clone, Copy, Serialize)]
pub enum Stop {
    /// After this much wall time (requests in flight at the deadline still finish and count).
    After(Duration),
    /// After this many requests in total across all clients.
    Count(u64),
}

/// What one level measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Requests in flight at once.
    pub clients: usize,
    /// gRPC connections used.
    pub conns: usize,
    /// Successful requests.
    pub ops: u64,
    /// Failed or timed-out requests (not in `ops`, not in the latencies).
    pub errors: u64,
    /// The first error seen, to tell "unimplemented" from "overloaded" at a glance.
    pub first_error: Option<String>,
    /// Wall time of the level, seconds.
    pub elapsed_s: f64,
    /// `ops / elapsed_s`.
    pub ops_per_sec: f64,
    /// Latencies of the successful requests.
    pub latency: LatencySummary,
    /// Share of the machine's CPU time the hypervisor gave to other guests during the level (`steal` in
    /// `/proc/stat`), percent; `None` where it cannot be read. A few percent marks a level whose figures the
    /// host, not the server, moved.
    pub steal_pct: Option<f64>,
}

/// What the clients send.
#[derive(Debug, Clone)]
enum Workload {
    /// A new key per request with a fresh random value of this many bytes.
    Put { value_size: usize },
    /// Range of exactly this key.
    Get { key: Vec<u8>, serializable: bool },
}

/// Runs one put level against `urls` (connection j to `urls[j % urls.len()]`).
pub async fn puts(
    urls: &[String],
    level: Level,
    stop: Stop,
    value_size: usize,
) -> Result<LoadResult> {
    drive(urls, level, stop, Arc::new(Workload::Put { value_size })).await
}

/// Writes the key the get levels read (`bench/get`, `value_size` bytes) and returns it.
pub async fn prepare_get_key(url: &str, value_size: usize) -> Result<Vec<u8>> {
    let key = b"bench/get".to_vec();
    let mut kv = KvClient::new(connect(url).await?);
    let req = PutRequest {
        key: key.clone(),
        value: random_value(&mut Rng::new(7), value_size),
        ..Default::default()
    };
    tokio::time::timeout(REQUEST_TIMEOUT, kv.put(req))
        .await
        .context("put of the get key timed out")?
        .context("put of the get key failed")?;
    Ok(key)
}

/// Runs one get level against `urls` (connection j to `urls[j % urls.len()]`), reading `key`.
pub async fn gets(
    urls: &[String],
    level: Level,
    stop: Stop,
    key: Vec<u8>,
    serializable: bool,
) -> Result<LoadResult> {
    drive(
        urls,
        level,
        stop,
        Arc::new(Workload::Get { key, serializable }),
    )
    .await
}

/// Per-task tallies, merged at the end of the level.
struct TaskStats {
    hist: Histogram<u64>,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn drive(
    urls: &[String],
    level: Level,
    stop: Stop,
    workload: Arc<Workload>,
) -> Result<LoadResult> {
    let clients = level.clients.max(1);
    let conns = level.conns.clamp(1, clients);
    if urls.is_empty() {
        anyhow::bail!("no endpoint to load");
    }
    // Connect before the clock starts: connection setup is not what is measured.
    let mut channels = Vec::with_capacity(conns);
    for j in 0..conns {
        channels.push(connect(&urls[j % urls.len()]).await?);
    }

    let (span, budget) = match stop {
        Stop::After(d) => (d, None),
        Stop::Count(n) => (COUNT_MODE_CAP, Some(Arc::new(AtomicU64::new(n)))),
    };
    let cpu_before = CpuTimes::read();
    let start = Instant::now();
    let deadline = start + span;
    let mut tasks = Vec::with_capacity(clients);
    for id in 0..clients {
        let kv = KvClient::new(channels[id % conns].clone());
        let ctx = TaskCtx {
            id,
            clients,
            deadline,
            budget: budget.clone(),
            workload: workload.clone(),
        };
        tasks.push(tokio::spawn(client_task(kv, ctx)));
    }

    let mut hist = stats::new_histogram();
    let (mut ops, mut errors, mut first_error) = (0, 0, None);
    for task in tasks {
        let t = task.await.context("a load task panicked")?;
        stats::merge(&mut hist, &t.hist);
        ops += t.ops;
        errors += t.errors;
        first_error = first_error.or(t.first_error);
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let steal_pct = cpu_before
        .zip(CpuTimes::read())
        .and_then(|(before, after)| after.steal_pct_since(&before));
    Ok(LoadResult {
        clients,
        conns,
        ops,
        errors,
        first_error,
        elapsed_s,
        ops_per_sec: if elapsed_s > 0.0 {
            ops as f64 / elapsed_s
        } else {
            0.0
        },
        latency: LatencySummary::of(&hist),
        steal_pct,
    })
}

/// The machine's CPU time so far, from the `cpu` line of `/proc/stat` (clock ticks, all CPUs together).
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTimes {
    /// Every column of the line but guest time (already counted in user).
    total: u64,
    steal: u64,
}

impl CpuTimes {
    fn read() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        Self::parse(stat.lines().next()?)
    }

    /// Parses `cpu  user nice system idle iowait irq softirq steal [guest guest_nice]`.
    fn parse(line: &str) -> Option<CpuTimes> {
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let ticks: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let steal = *ticks.get(7)?;
        Some(CpuTimes {
            total: ticks.iter().take(8).sum(),
            steal,
        })
    }

    /// Steal as a percentage of all CPU time between `before` and `self`.
    fn steal_pct_since(&self, before: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(before.total)?;
        let steal = self.steal.checked_sub(before.steal)?;
        (total > 0).then(|| 100.0 * steal as f64 / total as f64)
    }
}

/// What a client task needs to know.
struct TaskCtx {
    /// The client's number, part of its keys.
    id: usize,
    /// The level's client count, part of the keys so levels never overwrite each other.
    clients: usize,
    /// No new request starts after this.
    deadline: Instant,
    /// Requests left to start in count mode, shared by all tasks.
    budget: Option<Arc<AtomicU64>>,
    workload: Arc<Workload>,
}

impl TaskCtx {
    /// Claims the next request, or says the level is over.
    fn claim(&self) -> bool {
        if Instant::now() >= self.deadline {
            return false;
        }
        match &self.budget {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

async fn client_task(mut kv: KvClient<Channel>, ctx: TaskCtx) -> TaskStats {
    let mut st = TaskStats {
        hist: stats::new_histogram(),
        ops: 0,
        errors: 0,
        first_error: None,
    };
    let mut rng = Rng::new(ctx.id as u64 + 1);
    let mut n: u64 = 0;
    while ctx.claim() {
        // Build the request before the clock starts: key formatting and value generation are the client's cost.
        let outcome = match &*ctx.workload {
            Workload::Put { value_size } => {
                let req = PutRequest {
                    key: format!("bench/c{}/{}/{n}", ctx.clients, ctx.id).into_bytes(),
                    value: random_value(&mut rng, *value_size),
                    ..Default::default()
                };
                let started = Instant::now();
                let res = tokio::time::timeout(REQUEST_TIMEOUT, kv.put(req)).await;
                (
                    started.elapsed(),
                    res.map(|r| r.map(|_| ()).map_err(|s| status_text(&s))),
                )
            }
            Workload::Get { key, serializable } => {
                let req = RangeRequest {
                    key: key.clone(),
                    serializable: *serializable,
                    ..Default::default()
                };
                let started = Instant::now();
                let res = tokio::time::timeout(REQUEST_TIMEOUT, kv.range(req)).await;
                let res = res.map(|r| match r {
                    Ok(resp) if resp.get_ref().kvs.len() == 1 => Ok(()),
                    Ok(resp) => Err(format!(
                        "expected 1 key-value, got {}",
                        resp.get_ref().kvs.len()
                    )),
                    Err(s) => Err(status_text(&s)),
                });
                (started.elapsed(), res)
            }
        };
        match outcome {
            (latency, Ok(Ok(()))) => {
                stats::record(&mut st.hist, latency);
                st.ops += 1;
            }
            (_, Ok(Err(e))) => note_error(&mut st, e),
            (_, Err(_)) => note_error(&mut st, format!("no answer within {REQUEST_TIMEOUT:?}")),
        }
        n += 1;
    }
    st
}

fn note_error(st: &mut TaskStats, e: String) {
    st.errors += 1;
    if st.first_error.is_none() {
        st.first_error = Some(e);
    }
}

fn status_text(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// xorshift64*: cheap, deterministic per client, and plenty random for "does not compress".
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `size` pseudo-random bytes.
pub fn random_value(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 8);
    while v.len() < size {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(size);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_requested_size_and_differ() {
        let mut rng = Rng::new(1);
        let a = random_value(&mut rng, 256);
        let b = random_value(&mut rng, 256);
        assert_eq!(a.len(), 256);
        assert_ne!(a, b);
        assert_eq!(random_value(&mut rng, 3).len(), 3);
        assert!(random_value(&mut rng, 0).is_empty());
    }

    #[test]
    fn values_do_not_repeat_within_themselves() {
        let v = random_value(&mut Rng::new(42), 256);
        let distinct: std::collections::HashSet<u8> = v.iter().copied().collect();
        assert!(
            distinct.len() > 100,
            "only {} distinct bytes",
            distinct.len()
        );
    }

    #[test]
    fn count_budget_is_shared_exactly() {
        let budget = Arc::new(AtomicU64::new(5));
        let ctx = |id| TaskCtx {
            id,
            clients: 2,
            deadline: Instant::now() + Duration::from_secs(60),
            budget: Some(budget.clone()),
            workload: Arc::new(Workload::Put { value_size: 1 }),
        };
        let (a, b) = (ctx(0), ctx(1));
        let claimed = (0..10)
            .filter(|i| if i % 2 == 0 { a.claim() } else { b.claim() })
            .count();
        assert_eq!(claimed, 5);
    }

    #[test]
    fn steal_is_a_share_of_all_cpu_time() {
        let before = CpuTimes::parse("cpu  1000 0 200 5000 10 0 30 100 0 0").expect("a cpu line");
        assert_eq!(
            before,
            CpuTimes {
                total: 6340,
                steal: 100
            }
        );
        // 400 ticks passed, 20 of them stolen.
        let after = CpuTimes::parse("cpu  1200 0 260 5100 10 0 50 120 7 0").expect("a cpu line");
        assert_eq!(after.steal_pct_since(&before), Some(5.0));
        assert_eq!(before.steal_pct_since(&after), None, "time ran backwards");
        assert_eq!(before.steal_pct_since(&before), None, "no time passed");
        // Old kernels have no steal column; per-CPU lines and garbage are not the total.
        assert_eq!(CpuTimes::parse("cpu  1 2 3 4 5 6 7"), None);
        assert_eq!(CpuTimes::parse("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(CpuTimes::parse("cpu  1 2 x 4 5 6 7 8"), None);
    }

    #[test]
    fn past_deadline_claims_nothing() {
        let ctx = TaskCtx {
            id: 0,
            clients: 1,
            deadline: Instant::now(),
            budget: None,
            workload: Arc::new(Workload::Put { value_size: 1 }),
        };
        assert!(!ctx.claim());
    }
}
