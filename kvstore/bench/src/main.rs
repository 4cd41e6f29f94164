//! # kvbench
//!
//! Runs Flotilla's `kvstore` and the reference etcd (3.4, Debian's `/usr/bin/etcd`) one after the other on this
//! machine, drives both with the same Rust gRPC client, and prints a side-by-side table with the ratio
//! kvstore/etcd for every figure.
//!
//! ## Why ratios from one run
//! This machine is shared (two cores, other builds running), and its absolute numbers drift from day to day and
//! from hour to hour: fsync latency alone can move puts/s by 2x. Both servers measured in the same run, a minute
//! apart, with the same client, see the same machine, so their ratio is the figure worth comparing across days;
//! the absolute figures are there to make the ratio readable, not to be compared with yesterday's.
//!
//! ## What it measures, per server (each on a fresh data dir, one server running at a time)
//! 1. **puts** — puts/s and p50/p99 latency at each client level (`--clients 1,16,256`). A level is that many
//!    requests in flight over `--conns` connections (default min(clients, 16)), as etcd's `benchmark` tool does,
//!    for `--seconds` (or `--count` requests). Every put writes a new key with a fresh `--value-size` value.
//!    The put levels run in `--rounds` rounds (default 3): the first inside the full pass, then each server is
//!    started afresh for its put levels again, alternating which server goes first (kvstore, etcd; etcd,
//!    kvstore; …). The table has each level's median round, the lines under it every round's rate and the ratio
//!    of the two runs made back to back. One round was the rule until the same binaries gave 1.07 and 1.69 at
//!    256 clients ten minutes apart (2026-12-07): the host's noise moves one level of one server, and the median
//!    of alternating rounds is what survives it. Each level also records the CPU time the hypervisor stole
//!    (`/proc/stat`), noted under the table above 2%.
//! 2. **gets** — gets/s and p50/p99 of one existing key at `--get-clients` (16), linearizable then serializable.
//! 3. **watch** — latency from sending a put to receiving its watch event, one put at a time (`--watch-events`).
//! 4. **rss** — VmRSS idle (right after start), after the load phases, after `etcdctl check perf --load=m`, and the
//!    peak (VmHWM); plus whether `check perf --load=s` and `--load=m` PASS (`--skip-check-perf` skips both).
//!
//! ## `--members 3`: a cluster of each
//! With `--members 3` (default 1: everything above, unchanged) each server runs as a 3-member cluster on
//! loopback (members `a`, `b`, `c`, nine free ports, `--initial-cluster-token kvbench-LABEL
//! --initial-cluster-state new`), ready once every member answers a linearizable Range. The same client then
//! talks to all three members:
//! - **Connections are dealt over the members** as etcd's `benchmark` tool dials its endpoints — connection *j* to
//!   endpoint *j* mod 3 — with the endpoints listed from the member after the leader (looked up with
//!   Maintenance.Status at the start of each phase), so the leader comes last: one client goes through a
//!   follower, 16 connections are 6/5/5 with the leader getting 5. The watcher and the putter of the watch phase
//!   sit on the two followers. The order and the leader before and after each phase are in the JSON; a leader
//!   change during a phase is a note under the table.
//! - **check perf** runs `--load=m` then `--load=l` (8000 puts/s, 500 clients) with `--endpoints` listing all three.
//! - **rss** rows are the largest member's figure (`(max of 3)`); the JSON has every member's.
//! - **failover** (`--kills`, default 5): SIGKILL the leader, time until a put through the survivors succeeds
//!   (200 ms per attempt, see `failover.rs`), restart the killed member and wait until it has caught up; the
//!   table has the median, min and max.
//!
//! ## Layout
//! - `main.rs` — flags, their validation into a [`Plan`], and the order of phases per server.
//! - `server.rs` — spawn a server (one process or a cluster) on free ports, wait until it serves a Range, read its
//!   memory, find its leader, kill and restart members, kill them all on drop.
//! - `load.rs` — closed-loop put and get load over N connections.
//! - `watch.rs` — watch latency.
//! - `checkperf.rs` — run `etcdctl check perf` and parse its verdict.
//! - `failover.rs` — leader kills and the time until writes succeed again.
//! - `stats.rs` — latency histograms (hdrhistogram, µs) and their summary.
//! - `report.rs` — per-server results, the side-by-side table, the JSON file.
//!
//! A binary, not a library: errors are `anyhow` with context throughout rather than per-module `thiserror` enums,
//! since every error ends up as a line in the report and nothing matches on them. A phase that fails is recorded
//! and the run goes on, so a half-finished kvstore still gets the figures it can; the exit code is then 1.
//!
//! Everything is bounded: each level by `--seconds` (requests by a 10 s timeout), readiness by
//! `--ready-timeout`, check perf by 150 s, a failover round by 30 s (plus 60 s for the catch-up). Servers and
//! etcdctl are killed when kvbench exits, errs, panics or is interrupted.

mod checkperf;
mod failover;
mod load;
mod report;
mod server;
mod stats;
mod watch;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::load::{Level, Stop};
use crate::report::{ClusterReport, PhaseLeaders, ServerReport};
use crate::server::{Cluster, ServerSpec};

/// Side-by-side benchmark of kvstore and etcd, driven by one client; prints kvstore/etcd ratios.
#[derive(Parser, Debug)]
#[command(name = "kvbench", version)]
struct Args {
    /// The kvstore server binary [default: `kvstore` next to this executable].
    #[arg(long, value_name = "PATH")]
    kvstore_bin: Option<PathBuf>,
    /// The reference etcd binary.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/etcd")]
    etcd_bin: PathBuf,
    /// The etcdctl used for `check perf`.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/etcdctl")]
    etcdctl_bin: PathBuf,
    /// An extra flag for the kvstore server, after the common ones (repeatable).
    #[arg(long = "kvstore-arg", value_name = "ARG", allow_hyphen_values = true)]
    kvstore_args: Vec<String>,
    /// An extra flag for etcd, after the common ones (repeatable).
    #[arg(long = "etcd-arg", value_name = "ARG", allow_hyphen_values = true)]
    etcd_args: Vec<String>,
    /// Benchmark only this server.
    #[arg(long, value_enum)]
    only: Option<Which>,
    /// Phases to run, comma-separated [default: puts,gets,watch,rss, and failover with --members 3 or more].
    #[arg(long, value_enum, value_delimiter = ',')]
    phases: Option<Vec<Phase>>,
    /// Members per server: 1 runs each server alone; 3 runs a 3-member cluster of each.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=7))]
    members: u8,
    /// Leader kills in the failover phase (with --members 3 or more).
    #[arg(long, default_value_t = 5)]
    kills: usize,
    /// Keep each server's directory (data dirs and logs) instead of deleting it; its path goes to stderr.
    #[arg(long)]
    keep_data: bool,
    /// Put levels: requests in flight, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    clients: Vec<usize>,
    /// Rounds of the put levels: after the first full pass, each server is started afresh for its put levels
    /// again, alternating which goes first; the table has each level's median round.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    rounds: u8,
    /// gRPC connections per level [default: min(clients, 16)].
    #[arg(long)]
    conns: Option<usize>,
    /// Requests in flight for the get phases.
    #[arg(long, default_value_t = 16)]
    get_clients: usize,
    /// Duration of each put/get level, seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Run each put/get level for this many requests instead of --seconds.
    #[arg(long)]
    count: Option<u64>,
    /// Value size of every put, bytes.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Events measured in the watch phase.
    #[arg(long, default_value_t = 2000)]
    watch_events: usize,
    /// Do not run `etcdctl check perf` (it takes 2 minutes per server).
    #[arg(long)]
    skip_check_perf: bool,
    /// Seconds to wait for a server to answer its first Range.
    #[arg(long, default_value_t = 20.0)]
    ready_timeout: f64,
    /// Also write every raw figure to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Which {
    Kvstore,
    Etcd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    Puts,
    Gets,
    Watch,
    Rss,
    Failover,
}

/// The validated run: what the flags mean once checked.
#[derive(Debug, Serialize)]
struct Plan {
    /// Servers in the order they run.
    #[serde(skip)]
    specs: Vec<ServerSpec>,
    /// The binaries, for the JSON file.
    binaries: Vec<(String, PathBuf)>,
    puts: bool,
    gets: bool,
    watch: bool,
    rss: bool,
    check_perf: bool,
    /// With more than one member: the cluster settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterPlan>,
    /// Members per server.
    #[serde(skip)]
    members: usize,
    /// `check perf --load=` values, in order: `s`, `m` for one member, `m`, `l` for a cluster.
    #[serde(skip)]
    check_loads: Vec<&'static str>,
    #[serde(skip)]
    keep_data: bool,
    put_levels: Vec<Level>,
    /// Rounds of the put levels (the first inside the full pass).
    rounds: usize,
    get_level: Level,
    #[serde(skip)]
    stop: Stop,
    seconds: Option<f64>,
    count: Option<u64>,
    value_size: usize,
    watch_events: usize,
    etcdctl: PathBuf,
    #[serde(skip)]
    ready_timeout: Duration,
}

/// What a multi-member run adds to the plan.
#[derive(Debug, Serialize)]
struct ClusterPlan {
    members: usize,
    /// How connections are dealt to members.
    endpoint_order: &'static str,
    check_perf_loads: Vec<&'static str>,
    /// Leader kills; 0 when the failover phase does not run.
    kills: usize,
    failover_attempt_timeout_ms: u64,
    failover_retry_pause_ms: u64,
}

/// How [`endpoint_order`] deals connections, in words.
const ENDPOINT_ORDER: &str =
    "connection j of a phase goes to member (leader + 1 + j) mod members, leader as found at the phase's start";

/// etcd refuses requests over 1.5 MiB by default; leave room for the key and framing.
const MAX_VALUE_SIZE: usize = 1024 * 1024;

impl Plan {
    fn new(args: Args) -> Result<Plan> {
        if args.clients.is_empty() || args.clients.contains(&0) {
            bail!("--clients needs one or more levels above 0");
        }
        if args.get_clients == 0 || args.conns == Some(0) {
            bail!("--get-clients and --conns must be above 0");
        }
        if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
            bail!("--seconds must be above 0 and at most 3600");
        }
        if !(args.ready_timeout.is_finite()
            && args.ready_timeout > 0.0
            && args.ready_timeout <= 600.0)
        {
            bail!("--ready-timeout must be above 0 and at most 600");
        }
        if args.count == Some(0) {
            bail!("--count must be above 0");
        }
        if args.value_size > MAX_VALUE_SIZE {
            bail!("--value-size must be at most {MAX_VALUE_SIZE}");
        }
        let members = usize::from(args.members);
        let phases = args.phases.clone().unwrap_or_else(|| {
            let mut all = vec![Phase::Puts, Phase::Gets, Phase::Watch, Phase::Rss];
            if members >= 3 {
                all.push(Phase::Failover);
            }
            all
        });
        let has = |p| phases.contains(&p);
        if has(Phase::Watch) && args.watch_events == 0 {
            bail!("--watch-events must be above 0");
        }
        if has(Phase::Failover) && members < 3 {
            bail!("the failover phase needs --members 3 or more (a quorum must survive the kill)");
        }
        if has(Phase::Failover) && args.kills == 0 {
            bail!("--kills must be above 0");
        }

        let mut specs = Vec::new();
        if args.only != Some(Which::Etcd) {
            let binary = match args.kvstore_bin {
                Some(p) => p,
                None => default_kvstore_bin()?,
            };
            specs.push(ServerSpec {
                label: "kvstore",
                binary,
                extra_args: args.kvstore_args,
            });
        }
        if args.only != Some(Which::Kvstore) {
            specs.push(ServerSpec {
                label: "etcd",
                binary: args.etcd_bin,
                extra_args: args.etcd_args,
            });
        }
        for s in &specs {
            if !s.binary.is_file() {
                let hint = match s.label {
                    "kvstore" => "build it (cargo build --release -p kvstore), pass --kvstore-bin, or use --only etcd",
                    _ => "install etcd (apt-get install etcd-server), pass --etcd-bin, or use --only kvstore",
                };
                bail!("no {} binary at {}: {hint}", s.label, s.binary.display());
            }
        }
        let check_perf = has(Phase::Rss) && !args.skip_check_perf;
        if check_perf && !args.etcdctl_bin.is_file() {
            bail!(
                "no etcdctl at {}: pass --etcdctl-bin or --skip-check-perf",
                args.etcdctl_bin.display()
            );
        }

        let check_loads = if members == 1 {
            vec!["s", "m"]
        } else {
            vec!["m", "l"]
        };
        let failover = has(Phase::Failover);
        let level = |clients: usize| Level {
            clients,
            conns: args.conns.unwrap_or(16).min(clients),
        };
        Ok(Plan {
            binaries: specs
                .iter()
                .map(|s| (s.label.to_string(), s.binary.clone()))
                .collect(),
            specs,
            puts: has(Phase::Puts),
            gets: has(Phase::Gets),
            watch: has(Phase::Watch),
            rss: has(Phase::Rss),
            check_perf,
            cluster: (members > 1).then(|| ClusterPlan {
                members,
                endpoint_order: ENDPOINT_ORDER,
                check_perf_loads: check_loads.clone(),
                kills: if failover { args.kills } else { 0 },
                failover_attempt_timeout_ms: failover::ATTEMPT_TIMEOUT.as_millis() as u64,
                failover_retry_pause_ms: failover::RETRY_PAUSE.as_millis() as u64,
            }),
            members,
            check_loads,
            keep_data: args.keep_data,
            put_levels: args.clients.iter().map(|&c| level(c)).collect(),
            rounds: if has(Phase::Puts) {
                usize::from(args.rounds)
            } else {
                1
            },
            get_level: level(args.get_clients),
            stop: match args.count {
                Some(n) => Stop::Count(n),
                None => Stop::After(Duration::from_secs_f64(args.seconds)),
            },
            seconds: args.count.is_none().then_some(args.seconds),
            count: args.count,
            value_size: args.value_size,
            watch_events: args.watch_events,
            etcdctl: args.etcdctl_bin,
            ready_timeout: Duration::from_secs_f64(args.ready_timeout),
        })
    }

    /// One line saying how the figures were taken.
    fn describe(&self) -> String {
        let per_level = match self.stop {
            Stop::After(d) => format!("{}s per level", d.as_secs_f64()),
            Stop::Count(n) => format!("{n} requests per level"),
        };
        let mut line = format!(
            "{per_level}, {}-byte values, conns per level = min(clients, {}), {} watch events",
            self.value_size,
            self.put_levels.iter().map(|l| l.conns).max().unwrap_or(16),
            self.watch_events
        );
        if let Some(c) = &self.cluster {
            let _ = write!(
                line,
                "\n  {} members per server; connection j -> member (leader+1+j) mod {}; watcher on \
                 leader+1, putter on leader+2; check perf --load={} on all members",
                c.members,
                c.members,
                c.check_perf_loads.join(",")
            );
            if c.kills > 0 {
                let _ = write!(
                    line,
                    "; {} leader kills (kill -9, then puts through the survivors, {} ms per attempt)",
                    c.kills, c.failover_attempt_timeout_ms
                );
            }
        }
        line
    }
}

/// `kvstore` in the directory of this executable: where cargo puts it when both are built in one target dir.
fn default_kvstore_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding kvbench's own path")?;
    let dir = exe.parent().context("kvbench's path has no directory")?;
    Ok(dir.join("kvstore"))
}

/// jemalloc, as the kvstore server uses, instead of glibc malloc: the client shares the two cores with the server
/// it measures, and every CPU cycle it spends is one neither server gets. glibc's malloc/free were ~10% of the
/// client's CPU at 256 clients (perf, 2026-12-07). Both servers are driven by the same client, so this changes
/// no ratio by itself; it leaves more of the machine to the server under test.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json.clone();
    let outcome = tokio::select! {
        r = run(args, json.as_deref()) => r,
        // Dropping `run` drops the running Server, which kills it.
        _ = interrupted() => Err(anyhow::anyhow!("interrupted")),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("kvbench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs every selected server and prints the report; `Ok(false)` when some phase failed.
async fn run(args: Args, json: Option<&Path>) -> Result<bool> {
    let plan = Plan::new(args)?;
    let mut reports = Vec::new();
    for spec in &plan.specs {
        eprintln!(
            "kvbench: benchmarking {} ({})",
            spec.label,
            spec.binary.display()
        );
        reports.push(bench_server(spec, &plan).await);
    }
    // More rounds of the puts, alternating who goes first (ABBA…), so a drift of the machine over the minutes of
    // a run weighs on both servers alike.
    for round in 2..=plan.rounds {
        let mut order: Vec<usize> = (0..plan.specs.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            let spec = &plan.specs[i];
            eprintln!(
                "kvbench: {}: puts, round {round} of {}",
                spec.label, plan.rounds
            );
            put_round(spec, &plan, round, &mut reports[i]).await;
        }
    }
    for r in &mut reports {
        r.settle_puts();
    }

    let find = |label: &str| reports.iter().find(|r| r.server == label);
    let rows = report::rows(find("kvstore"), find("etcd"));
    println!("kvbench: {}", plan.describe());
    for r in &reports {
        println!(
            "  {}: {} ({})",
            r.server,
            r.binary,
            r.version.as_deref().unwrap_or("version unknown")
        );
    }
    println!();
    print!("{}", report::render_table(&rows));
    let rounds = report::render_rounds(find("kvstore"), find("etcd"));
    if !rounds.is_empty() {
        println!();
        print!("{rounds}");
    }
    let notes = report::render_notes(&reports);
    if !notes.is_empty() {
        println!();
        print!("{notes}");
    }
    println!();
    println!(
        "Ratios are kvstore/etcd from this run; compare ratios across days, not absolute figures."
    );
    if let Some(path) = json {
        report::write_json(path, &plan, &reports, &rows)?;
        eprintln!("kvbench: wrote {}", path.display());
    }
    Ok(reports.iter().all(|r| r.failures.is_empty()))
}

/// All phases against one freshly started server (one process, or a cluster). Failures are recorded in the
/// report, never returned: the other server still runs.
async fn bench_server(spec: &ServerSpec, plan: &Plan) -> ServerReport {
    let mut report = ServerReport::new(spec.label, &spec.binary);
    let mut server = match Cluster::start(spec, plan.members, plan.ready_timeout).await {
        Ok(s) => s,
        Err(e) => {
            report.fail("start", &e);
            return report;
        }
    };
    if plan.keep_data {
        if let Some(dir) = server.keep_dir() {
            eprintln!("kvbench: {}: keeping {}", spec.label, dir.display());
        }
    } else if let Some(dir) = server.dir().filter(|_| plan.members > 1) {
        eprintln!(
            "kvbench: {}: data and logs in {}",
            spec.label,
            dir.display()
        );
    }
    report.version = server.version().await;
    if plan.members > 1 {
        report.cluster = Some(ClusterReport {
            members: (0..server.len())
                .map(|i| server.name(i).to_string())
                .collect(),
            endpoints: server.endpoints(),
            ..ClusterReport::default()
        });
    }
    if plan.rss {
        report.rss.idle_kib = sample_rss(&server, &mut report, Sample::Idle);
    }

    if plan.puts && !put_levels(&mut server, &mut report, plan, 1).await {
        return report;
    }

    if plan.gets {
        eprintln!(
            "kvbench: {}: gets, {} clients",
            spec.label, plan.get_level.clients
        );
        let urls = endpoint_order(&mut server, &mut report, "gets").await;
        match load::prepare_get_key(&urls[0], plan.value_size).await {
            Ok(key) => {
                for serializable in [false, true] {
                    match load::gets(&urls, plan.get_level, plan.stop, key.clone(), serializable)
                        .await
                    {
                        Ok(r) if serializable => report.gets_serializable = Some(r),
                        Ok(r) => report.gets_linearizable = Some(r),
                        Err(e) => report.fail(
                            if serializable {
                                "gets serializable"
                            } else {
                                "gets linearizable"
                            },
                            &e,
                        ),
                    }
                }
            }
            Err(e) => report.fail("gets", &e),
        }
        leader_after(&mut server, &mut report).await;
        if !alive(&mut server, &mut report) {
            return report;
        }
    }

    if plan.watch {
        eprintln!(
            "kvbench: {}: watch latency, {} events",
            spec.label, plan.watch_events
        );
        let urls = endpoint_order(&mut server, &mut report, "watch").await;
        let (watch_url, put_url) = (&urls[0], &urls[1 % urls.len()]);
        match watch::latency(watch_url, put_url, plan.watch_events, plan.value_size).await {
            Ok(w) => report.watch = Some(w),
            Err(e) => report.fail("watch", &e),
        }
        leader_after(&mut server, &mut report).await;
        if !alive(&mut server, &mut report) {
            return report;
        }
    }

    if plan.rss {
        report.rss.after_load_kib = sample_rss(&server, &mut report, Sample::AfterLoad);
        if plan.check_perf {
            for &load in &plan.check_loads {
                eprintln!(
                    "kvbench: {}: etcdctl check perf --load={load} (60 s)",
                    spec.label
                );
                let phase = format!("check perf {load}");
                if plan.members > 1 {
                    endpoint_order(&mut server, &mut report, &phase).await;
                }
                match checkperf::run(&plan.etcdctl, &server.endpoints(), load).await {
                    Ok(c) => report.check_perf.push(c),
                    Err(e) => report.fail(&phase, &e),
                }
                leader_after(&mut server, &mut report).await;
                if !alive(&mut server, &mut report) {
                    return report;
                }
            }
            // Steady state, not the last request's transient: both servers get the same few seconds to hand
            // freed memory back (Go's scavenger, jemalloc's decay) before the sample.
            tokio::time::sleep(RSS_SETTLE).await;
            report.rss.after_check_perf_kib =
                sample_rss(&server, &mut report, Sample::AfterCheckPerf);
        }
        report.rss.peak_kib = sample_rss(&server, &mut report, Sample::Peak);
    }

    if plan.cluster.as_ref().is_some_and(|c| c.kills > 0) {
        let kills = plan.cluster.as_ref().map_or(0, |c| c.kills);
        eprintln!("kvbench: {}: failover, {kills} leader kills", spec.label);
        let (result, err) = failover::run(&mut server, kills, plan.value_size, spec.label).await;
        if let Some(c) = report.cluster.as_mut() {
            c.failover = Some(result);
        }
        if let Some(e) = err {
            report.fail("failover", &e);
        }
        alive(&mut server, &mut report);
    }
    report
}

/// One round of the put levels after the first on a freshly started server (fresh data dir, as the first).
async fn put_round(spec: &ServerSpec, plan: &Plan, round: usize, report: &mut ServerReport) {
    match Cluster::start(spec, plan.members, plan.ready_timeout).await {
        Ok(mut server) => {
            put_levels(&mut server, report, plan, round).await;
        }
        Err(e) => report.fail(&format!("start (round {round})"), &e),
    }
}

/// Runs every put level against `server`, appending the round's results to `report.put_rounds`; `false` when the
/// server died on the way.
async fn put_levels(
    server: &mut Cluster,
    report: &mut ServerReport,
    plan: &Plan,
    round: usize,
) -> bool {
    let mut results = Vec::new();
    let mut alive_after = true;
    for &level in &plan.put_levels {
        eprintln!(
            "kvbench: {}: puts, {} clients over {} conns",
            report.server, level.clients, level.conns
        );
        let phase = match round {
            1 => format!("puts c={}", level.clients),
            _ => format!("puts c={} (round {round})", level.clients),
        };
        let urls = endpoint_order(server, report, &phase).await;
        match load::puts(&urls, level, plan.stop, plan.value_size).await {
            Ok(r) => results.push(r),
            Err(e) => report.fail(&phase, &e),
        }
        leader_after(server, report).await;
        if !alive(server, report) {
            alive_after = false;
            break;
        }
    }
    report.put_rounds.push(results);
    alive_after
}

/// Pause between the end of `check perf` and the RSS sample.
const RSS_SETTLE: Duration = Duration::from_secs(3);

/// The RSS sample points.
#[derive(Clone, Copy)]
enum Sample {
    Idle,
    AfterLoad,
    AfterCheckPerf,
    Peak,
}

/// Reads every member's memory; returns the largest VmRSS (VmHWM for [`Sample::Peak`]), and in a cluster also
/// keeps each member's figure. With one member this is that member's figure, as it always was.
fn sample_rss(server: &Cluster, report: &mut ServerReport, at: Sample) -> Option<u64> {
    let mut figures = Vec::with_capacity(server.len());
    for i in 0..server.len() {
        let m = server.memory(i).map_err(|e| report.fail("rss", &e)).ok();
        figures.push(m.map(|m| match at {
            Sample::Peak => m.peak_kib,
            _ => m.rss_kib,
        }));
    }
    if let Some(c) = report.cluster.as_mut() {
        let slot = match at {
            Sample::Idle => &mut c.rss_kib.idle,
            Sample::AfterLoad => &mut c.rss_kib.after_load,
            Sample::AfterCheckPerf => &mut c.rss_kib.after_check_perf,
            Sample::Peak => &mut c.rss_kib.peak,
        };
        *slot = figures.clone();
    }
    if figures.iter().any(Option::is_none) {
        return None;
    }
    figures.into_iter().flatten().max()
}

/// The client URLs a phase deals its connections over (connection j to `urls[j % len]`). One member: its URL.
/// A cluster: every member, starting with the one after the leader, so that the leader comes last: a single
/// connection then goes through a follower (the common case for a client with all endpoints), the watcher and
/// the putter sit on two different followers, and with 16 connections over 3 members the leader gets 5. The
/// leader is looked up now and recorded with the phase; if it cannot be found the members go in their own order.
async fn endpoint_order(
    server: &mut Cluster,
    report: &mut ServerReport,
    phase: &str,
) -> Vec<String> {
    let n = server.len();
    if n == 1 {
        return vec![server.url(0)];
    }
    let leader = match server.leader(LEADER_WAIT).await {
        Ok(l) => Some(l),
        Err(e) => {
            report.fail(&format!("{phase}: finding the leader"), &e);
            None
        }
    };
    let first = leader.map_or(0, |l| l + 1);
    let order: Vec<usize> = (0..n).map(|j| (first + j) % n).collect();
    if let Some(c) = report.cluster.as_mut() {
        c.phases.push(PhaseLeaders {
            phase: phase.to_string(),
            order: order.iter().map(|&i| server.name(i).to_string()).collect(),
            leader_before: leader.map(|l| server.name(l).to_string()),
            leader_after: None,
        });
    }
    order.into_iter().map(|i| server.url(i)).collect()
}

/// Records who leads after the phase [`endpoint_order`] last started (clusters only).
async fn leader_after(server: &mut Cluster, report: &mut ServerReport) {
    if server.len() == 1 {
        return;
    }
    let leader = server
        .leader(LEADER_WAIT)
        .await
        .ok()
        .map(|l| server.name(l).to_string());
    if let Some(p) = report.cluster.as_mut().and_then(|c| c.phases.last_mut()) {
        p.leader_after = leader;
    }
}

/// How long to look for a leader around a phase.
const LEADER_WAIT: Duration = Duration::from_secs(10);

/// Checks every member is still running; if one died, records that with its log and says so.
fn alive(server: &mut Cluster, report: &mut ServerReport) -> bool {
    match server.exited() {
        None => true,
        Some((i, status)) => {
            let e = anyhow::anyhow!("{}", server.describe_exit(i, status, 20));
            report.fail("server", &e);
            false
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Plan> {
        let mut argv = vec![
            "kvbench",
            "--only",
            "etcd",
            "--etcd-bin",
            "/bin/sh",
            "--skip-check-perf",
        ];
        argv.extend_from_slice(extra);
        Plan::new(Args::try_parse_from(argv)?)
    }

    #[test]
    fn defaults_follow_the_brief() {
        let p = parse(&[]).unwrap();
        let shape: Vec<(usize, usize)> =
            p.put_levels.iter().map(|l| (l.clients, l.conns)).collect();
        assert_eq!(shape, [(1, 1), (16, 16), (256, 16)]);
        assert_eq!((p.get_level.clients, p.get_level.conns), (16, 16));
        assert!(p.puts && p.gets && p.watch && p.rss && !p.check_perf);
        assert_eq!(p.specs.len(), 1);
        assert!(matches!(p.stop, Stop::After(d) if d == Duration::from_secs(5)));
        assert_eq!(p.rounds, 3);
        assert_eq!(parse(&["--rounds", "1"]).unwrap().rounds, 1);
        // Rounds are of the put levels: without them there is one pass.
        assert_eq!(parse(&["--phases", "gets"]).unwrap().rounds, 1);
    }

    #[test]
    fn phases_clients_and_conns_parse() {
        let p = parse(&[
            "--phases",
            "puts,watch",
            "--clients",
            "4,64",
            "--conns",
            "8",
            "--count",
            "100",
        ])
        .unwrap();
        assert!(p.puts && p.watch && !p.gets && !p.rss);
        let shape: Vec<(usize, usize)> =
            p.put_levels.iter().map(|l| (l.clients, l.conns)).collect();
        assert_eq!(shape, [(4, 4), (64, 8)]);
        assert!(matches!(p.stop, Stop::Count(100)));
    }

    #[test]
    fn one_member_is_todays_run() {
        let p = parse(&[]).unwrap();
        assert_eq!(p.members, 1);
        assert!(p.cluster.is_none());
        assert_eq!(p.check_loads, ["s", "m"]);
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("cluster").is_none(), "{json}");
    }

    #[test]
    fn three_members_add_failover_and_the_large_check() {
        let p = parse(&["--members", "3"]).unwrap();
        assert_eq!(p.members, 3);
        assert_eq!(p.check_loads, ["m", "l"]);
        let c = p.cluster.as_ref().unwrap();
        assert_eq!((c.members, c.kills), (3, 5));
        assert!(p.describe().contains("3 members per server"));
        let p = parse(&["--members", "3", "--phases", "puts", "--kills", "2"]).unwrap();
        assert_eq!(p.cluster.unwrap().kills, 0);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["--clients", "0"][..],
            &["--seconds", "0"],
            &["--seconds", "NaN"],
            &["--value-size", "99999999"],
            &["--phases", "puts,nope"],
            &["--watch-events", "0"],
            &["--members", "0"],
            &["--members", "8"],
            &["--phases", "failover"],
            &["--members", "3", "--kills", "0"],
            &["--rounds", "0"],
            &["--rounds", "10"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_missing_server_binary_names_the_way_out() {
        let err = Plan::new(
            Args::try_parse_from(["kvbench", "--kvstore-bin", "/nonexistent/kvstore"]).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--only etcd"), "{err}");
    }
}
