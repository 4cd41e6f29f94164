//! What one server measured ([`ServerReport`]), the side-by-side table built from two of them, and the JSON file.
//!
//! The table is the product: one row per metric, the kvstore and etcd figures, their ratio kvstore/etcd, and which
//! direction is better. A ratio is only computed from two figures of the same run; see the crate docs for why.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::checkperf::{CheckPerf, Verdict};
use crate::failover::FailoverResult;
use crate::load::LoadResult;
use crate::watch::WatchResult;

/// Everything measured on one server. Phases that did not run stay empty; phases that failed are in `failures`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// "kvstore" or "etcd": the table column.
    pub server: String,
    /// The executable that ran.
    pub binary: String,
    /// From the Status call, when the server answers it.
    pub version: Option<String>,
    /// One result per client level: with several rounds, the round with the median rate at that level.
    pub puts: Vec<LoadResult>,
    /// Every round's results, one result per level each (`--rounds`); `puts` is picked from these.
    pub put_rounds: Vec<Vec<LoadResult>>,
    pub gets_linearizable: Option<LoadResult>,
    pub gets_serializable: Option<LoadResult>,
    pub watch: Option<WatchResult>,
    pub rss: Rss,
    /// `s` then `m`, when check perf ran.
    pub check_perf: Vec<CheckPerf>,
    /// Phases that could not finish, with why.
    pub failures: Vec<Failure>,
    /// With `--members` above 1: the members, per-member figures, leaders and the failover phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
}

/// What only a multi-member run has. `rss` of the [`ServerReport`] then holds the largest member's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterReport {
    /// Member names, in member order (`a`, `b`, `c`).
    pub members: Vec<String>,
    /// The `--endpoints` given to etcdctl.
    pub endpoints: String,
    /// Every member's RSS at each sample point, KiB, in member order.
    pub rss_kib: MemberRss,
    /// For each load phase: the members in the order connections were dealt to them, and the leader before and
    /// after the phase.
    pub phases: Vec<PhaseLeaders>,
    /// The leader kills.
    pub failover: Option<FailoverResult>,
}

/// Per-member RSS samples, KiB (`None` for a member that could not be read).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberRss {
    pub idle: Vec<Option<u64>>,
    pub after_load: Vec<Option<u64>>,
    pub after_check_perf: Vec<Option<u64>>,
    pub peak: Vec<Option<u64>>,
}

/// Who led while one phase ran, and how its connections were dealt.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseLeaders {
    pub phase: String,
    /// Connection j went to `order[j % order.len()]`.
    pub order: Vec<String>,
    pub leader_before: Option<String>,
    pub leader_after: Option<String>,
}

/// Resident memory at the points the benchmark samples it, KiB.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rss {
    /// Right after the server answered its first Range: the floor.
    pub idle_kib: Option<u64>,
    /// After the put, get and watch phases.
    pub after_load_kib: Option<u64>,
    /// After `check perf --load=m` (200 connections, 60 s of 1 KiB puts).
    pub after_check_perf_kib: Option<u64>,
    /// VmHWM at the end: the most the server was ever resident.
    pub peak_kib: Option<u64>,
}

/// A phase that did not finish.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub phase: String,
    pub error: String,
}

impl ServerReport {
    pub fn new(server: &str, binary: &Path) -> Self {
        ServerReport {
            server: server.to_string(),
            binary: binary.display().to_string(),
            version: None,
            puts: Vec::new(),
            put_rounds: Vec::new(),
            gets_linearizable: None,
            gets_serializable: None,
            watch: None,
            rss: Rss::default(),
            check_perf: Vec::new(),
            failures: Vec::new(),
            cluster: None,
        }
    }

    /// Records that `phase` failed; `{:#}` keeps anyhow's context chain on one line.
    pub fn fail(&mut self, phase: &str, error: &anyhow::Error) {
        self.failures.push(Failure {
            phase: phase.to_string(),
            error: format!("{error:#}"),
        });
    }

    /// Sets `puts` to the median round of each level in `put_rounds` (levels in first-seen order). With an even
    /// number of rounds the slower of the two middle ones is taken, so a lucky round never makes the figure.
    pub fn settle_puts(&mut self) {
        self.puts = median_rounds(&self.put_rounds);
    }

    /// The figures as table metrics, in table order.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::new();
        for p in &self.puts {
            load_metrics(&mut m, "put", &format!("c={}", p.clients), p);
        }
        if let Some(g) = &self.gets_linearizable {
            load_metrics(&mut m, "get", &format!("linearizable c={}", g.clients), g);
        }
        if let Some(g) = &self.gets_serializable {
            load_metrics(&mut m, "get", &format!("serializable c={}", g.clients), g);
        }
        if let Some(w) = &self.watch {
            m.push(Metric::new(
                "watch p50 us",
                Value::Micros(w.latency.p50_us),
                Better::Lower,
            ));
            m.push(Metric::new(
                "watch p99 us",
                Value::Micros(w.latency.p99_us),
                Better::Lower,
            ));
        }
        let rss = [
            ("RSS idle MiB", self.rss.idle_kib),
            ("RSS after load MiB", self.rss.after_load_kib),
            ("RSS after check perf MiB", self.rss.after_check_perf_kib),
            ("RSS peak MiB", self.rss.peak_kib),
        ];
        // In a cluster the figure is the largest member's, and the row says so.
        let of = self
            .cluster
            .as_ref()
            .map(|c| format!(" (max of {})", c.members.len()))
            .unwrap_or_default();
        for (name, kib) in rss {
            if let Some(kib) = kib {
                m.push(Metric::new(
                    &format!("{name}{of}"),
                    Value::Mib(kib as f64 / 1024.0),
                    Better::Lower,
                ));
            }
        }
        for c in &self.check_perf {
            let verdict = match c.verdict {
                Some(Verdict::Pass) => "PASS",
                Some(Verdict::Fail) => "FAIL",
                None => "no verdict",
            };
            m.push(Metric::new(
                &format!("check perf {}", c.load),
                Value::Text(verdict.into()),
                Better::Neither,
            ));
            if let Some(w) = c.writes_per_sec {
                m.push(Metric::new(
                    &format!("check perf {} writes/s", c.load),
                    Value::Rate(w),
                    Better::Higher,
                ));
            }
        }
        if let Some(f) = self.cluster.as_ref().and_then(|c| c.failover.as_ref()) {
            let ok = f.kills.iter().filter(|k| k.failover_ms.is_some()).count();
            let figures = [
                (format!("failover ms median ({ok} kills)"), f.median_ms),
                ("failover ms min".to_string(), f.min_ms),
                ("failover ms max".to_string(), f.max_ms),
            ];
            for (name, ms) in figures {
                if let Some(ms) = ms {
                    m.push(Metric::new(&name, Value::Millis(ms), Better::Lower));
                }
            }
        }
        m
    }
}

/// Per client level, the result whose rate is the median of that level's rounds (see
/// [`ServerReport::settle_puts`]).
fn median_rounds(rounds: &[Vec<LoadResult>]) -> Vec<LoadResult> {
    levels(rounds.iter().flatten())
        .into_iter()
        .filter_map(|clients| {
            let mut of_level: Vec<&LoadResult> = rounds
                .iter()
                .flatten()
                .filter(|r| r.clients == clients)
                .collect();
            of_level.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
            of_level.get((of_level.len() - 1) / 2).map(|r| (*r).clone())
        })
        .collect()
}

/// The client levels of `results`, each once, in first-seen order.
fn levels<'a>(results: impl IntoIterator<Item = &'a LoadResult>) -> Vec<usize> {
    let mut levels: Vec<usize> = Vec::new();
    for r in results {
        if !levels.contains(&r.clients) {
            levels.push(r.clients);
        }
    }
    levels
}

/// With more than one round: per put level, every round's rate for each server and the ratio of the rounds run
/// back to back, so the spread behind the median in the table is in view.
pub fn render_rounds(kvstore: Option<&ServerReport>, etcd: Option<&ServerReport>) -> String {
    let mut out = String::new();
    let rounds = |r: Option<&ServerReport>| r.map_or(0, |r| r.put_rounds.len());
    if rounds(kvstore).max(rounds(etcd)) < 2 {
        return out;
    }
    let rate = |r: Option<&ServerReport>, round: usize, clients: usize| {
        r.and_then(|r| r.put_rounds.get(round))
            .and_then(|levels| levels.iter().find(|l| l.clients == clients))
            .map(|l| l.ops_per_sec)
    };
    let all = kvstore
        .into_iter()
        .chain(etcd)
        .flat_map(|r| r.put_rounds.iter().flatten());
    for clients in levels(all) {
        let mut line = format!("put/s c={clients}, round by round:");
        for round in 0..rounds(kvstore).max(rounds(etcd)) {
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            let (k, e) = (rate(kvstore, round, clients), rate(etcd, round, clients));
            let _ = write!(line, " {} / {}", show(k), show(e));
            if let (Some(k), Some(e)) = (k, e) {
                if e > 0.0 {
                    let _ = write!(line, " = {:.2}", k / e);
                }
            }
            line.push(';');
        }
        line.pop();
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A level during which the host took more than this share of the CPU time (percent) gets a note.
const STEAL_NOTE_PCT: f64 = 2.0;

fn load_metrics(m: &mut Vec<Metric>, op: &str, what: &str, r: &LoadResult) {
    m.push(Metric::new(
        &format!("{op}/s {what}"),
        Value::Rate(r.ops_per_sec),
        Better::Higher,
    ));
    m.push(Metric::new(
        &format!("{op} p50 us {what}"),
        Value::Micros(r.latency.p50_us),
        Better::Lower,
    ));
    m.push(Metric::new(
        &format!("{op} p99 us {what}"),
        Value::Micros(r.latency.p99_us),
        Better::Lower,
    ));
}

/// One figure of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: Value,
    pub better: Better,
}

impl Metric {
    fn new(name: &str, value: Value, better: Better) -> Self {
        Metric {
            name: name.to_string(),
            value,
            better,
        }
    }
}

/// A figure, typed so it prints with the right precision. Serialized as a bare number or string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Operations per second.
    Rate(f64),
    /// Microseconds.
    Micros(u64),
    /// Mebibytes.
    Mib(f64),
    /// Milliseconds.
    Millis(f64),
    /// A word such as PASS.
    Text(String),
}

impl Value {
    fn number(&self) -> Option<f64> {
        match self {
            Value::Rate(v) | Value::Mib(v) | Value::Millis(v) => Some(*v),
            Value::Micros(v) => Some(*v as f64),
            Value::Text(_) => None,
        }
    }

    /// Rates as whole numbers (one decimal below 100), micro- and milliseconds whole, MiB with one decimal.
    pub fn display(&self) -> String {
        match self {
            Value::Rate(v) if *v < 100.0 => format!("{v:.1}"),
            Value::Rate(v) => format!("{v:.0}"),
            Value::Micros(v) => v.to_string(),
            Value::Mib(v) => format!("{v:.1}"),
            Value::Millis(v) => format!("{v:.0}"),
            Value::Text(t) => t.clone(),
        }
    }
}

/// Which way a ratio kvstore/etcd should go for kvstore to be the better one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput: a ratio above 1 means kvstore is faster.
    Higher,
    /// Latency and memory: a ratio below 1 means kvstore is better.
    Lower,
    /// Not a number (PASS/FAIL).
    Neither,
}

impl Better {
    fn label(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
            Better::Neither => "",
        }
    }
}

/// One table row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub metric: String,
    pub kvstore: Option<Value>,
    pub etcd: Option<Value>,
    /// kvstore / etcd, when both are numbers and etcd's is not zero.
    pub ratio: Option<f64>,
    pub better: Better,
}

/// Lines up the two servers' metrics by name: kvstore's order first, then any metric only etcd has.
pub fn rows(kvstore: Option<&ServerReport>, etcd: Option<&ServerReport>) -> Vec<Row> {
    let kv = kvstore.map(ServerReport::metrics).unwrap_or_default();
    let et = etcd.map(ServerReport::metrics).unwrap_or_default();
    let mut order: Vec<(&str, Better)> = kv.iter().map(|m| (m.name.as_str(), m.better)).collect();
    for m in &et {
        if !order.iter().any(|(n, _)| *n == m.name) {
            order.push((m.name.as_str(), m.better));
        }
    }
    let find =
        |ms: &[Metric], name: &str| ms.iter().find(|m| m.name == name).map(|m| m.value.clone());
    order
        .into_iter()
        .map(|(name, better)| {
            let (k, e) = (find(&kv, name), find(&et, name));
            let ratio = match (
                k.as_ref().and_then(Value::number),
                e.as_ref().and_then(Value::number),
            ) {
                (Some(k), Some(e)) if e != 0.0 => Some(k / e),
                _ => None,
            };
            Row {
                metric: name.to_string(),
                kvstore: k,
                etcd: e,
                ratio,
                better,
            }
        })
        .collect()
}

/// The table as fixed-width text: metric left-aligned, figures right-aligned, `-` where a figure is missing.
pub fn render_table(rows: &[Row]) -> String {
    let header = ["metric", "kvstore", "etcd", "kvstore/etcd", "better"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let show =
                |v: &Option<Value>| v.as_ref().map_or_else(|| "-".to_string(), Value::display);
            [
                r.metric.clone(),
                show(&r.kvstore),
                show(&r.etcd),
                r.ratio
                    .map_or_else(|| "-".to_string(), |x| format!("{x:.2}")),
                r.better.label().to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |c: [&str; 5]| {
        let s = format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:<w4$}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4]
        );
        s.trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(header));
    out.push('\n');
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]));
    out.push('\n');
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4]]));
        out.push('\n');
    }
    out
}

/// Everything worth a warning under the table: failed phases, request errors, check perf without a verdict or
/// failing, with etcdctl's own lines.
pub fn render_notes(reports: &[ServerReport]) -> String {
    let mut out = String::new();
    for r in reports {
        for f in &r.failures {
            let _ = writeln!(out, "{}: {} failed: {}", r.server, f.phase, f.error);
        }
        let loads = r
            .puts
            .iter()
            .map(|p| ("puts", p))
            .chain(r.gets_linearizable.iter().map(|g| ("gets linearizable", g)))
            .chain(r.gets_serializable.iter().map(|g| ("gets serializable", g)));
        for (round, levels) in r.put_rounds.iter().enumerate() {
            for l in levels {
                if let Some(steal) = l.steal_pct.filter(|s| *s > STEAL_NOTE_PCT) {
                    let _ = writeln!(
                        out,
                        "{}: puts c={} (round {}): the host took {steal:.1}% of the CPU time (steal)",
                        r.server,
                        l.clients,
                        round + 1
                    );
                }
            }
        }
        for (what, l) in loads {
            if l.errors > 0 {
                let first = l.first_error.as_deref().unwrap_or("?");
                let _ = writeln!(
                    out,
                    "{}: {what} c={}: {} errors (first: {first})",
                    r.server, l.clients, l.errors
                );
            }
        }
        for c in &r.check_perf {
            if c.verdict != Some(Verdict::Pass) {
                let _ = writeln!(
                    out,
                    "{}: check perf --load={}: {}",
                    r.server,
                    c.load,
                    c.lines.join(" | ")
                );
            }
        }
        if let Some(c) = &r.cluster {
            for p in &c.phases {
                if p.leader_before != p.leader_after {
                    let name = |l: &Option<String>| l.clone().unwrap_or_else(|| "?".into());
                    let _ = writeln!(
                        out,
                        "{}: the leader changed during {}: {} before, {} after",
                        r.server,
                        p.phase,
                        name(&p.leader_before),
                        name(&p.leader_after)
                    );
                }
            }
            for (i, k) in c.failover.iter().flat_map(|f| f.kills.iter()).enumerate() {
                if k.failover_ms.is_none() {
                    let _ = writeln!(
                        out,
                        "{}: failover {}: no put succeeded after killing {} (first error: {})",
                        r.server,
                        i + 1,
                        k.killed,
                        k.first_error.as_deref().unwrap_or("none, only timeouts")
                    );
                }
            }
        }
    }
    out
}

/// The JSON file: the settings, every raw figure of every server, and the table rows.
#[derive(Serialize)]
struct JsonReport<'a, S: Serialize> {
    settings: &'a S,
    servers: &'a [ServerReport],
    table: &'a [Row],
}

pub fn write_json<S: Serialize>(
    path: &Path,
    settings: &S,
    servers: &[ServerReport],
    table: &[Row],
) -> Result<()> {
    let json = serde_json::to_string_pretty(&JsonReport {
        settings,
        servers,
        table,
    })
    .context("encoding the report")?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;

    fn load(clients: usize, ops_per_sec: f64, p50_us: u64, p99_us: u64) -> LoadResult {
        LoadResult {
            clients,
            conns: clients.min(16),
            ops: 100,
            errors: 0,
            first_error: None,
            elapsed_s: 1.0,
            ops_per_sec,
            latency: LatencySummary {
                samples: 100,
                p50_us,
                p99_us,
                max_us: p99_us,
                mean_us: p50_us as f64,
            },
            steal_pct: None,
        }
    }

    #[test]
    fn each_level_takes_its_median_round() {
        let mut r = ServerReport::new("kvstore", Path::new("/bin/kvstore"));
        r.put_rounds = vec![
            vec![load(1, 300.0, 10, 20), load(256, 9000.0, 11, 21)],
            vec![load(1, 100.0, 12, 22), load(256, 7000.0, 13, 23)],
            vec![load(1, 200.0, 14, 24), load(256, 8000.0, 15, 25)],
        ];
        r.settle_puts();
        let picked: Vec<(usize, f64, u64)> = r
            .puts
            .iter()
            .map(|l| (l.clients, l.ops_per_sec, l.latency.p50_us))
            .collect();
        // The median round's latencies come with its rate.
        assert_eq!(picked, [(1, 200.0, 14), (256, 8000.0, 15)]);

        // Two rounds: the slower one. A level missing from a round (it failed) uses the rounds that have it.
        r.put_rounds = vec![
            vec![load(1, 300.0, 10, 20), load(256, 9000.0, 11, 21)],
            vec![load(1, 100.0, 12, 22)],
        ];
        r.settle_puts();
        let picked: Vec<(usize, f64)> = r.puts.iter().map(|l| (l.clients, l.ops_per_sec)).collect();
        assert_eq!(picked, [(1, 100.0), (256, 9000.0)]);
    }

    #[test]
    fn rounds_are_listed_with_their_ratios() {
        let mut k = ServerReport::new("kvstore", Path::new("/bin/kvstore"));
        let mut e = ServerReport::new("etcd", Path::new("/usr/bin/etcd"));
        assert_eq!(render_rounds(Some(&k), Some(&e)), "");
        k.put_rounds = vec![
            vec![load(256, 30000.0, 1, 2)],
            vec![load(256, 24000.0, 1, 2)],
        ];
        e.put_rounds = vec![vec![load(256, 20000.0, 1, 2)], vec![load(256, 0.0, 1, 2)]];
        assert_eq!(
            render_rounds(Some(&k), Some(&e)),
            "put/s c=256, round by round: 30000 / 20000 = 1.50; 24000 / 0\n"
        );
        k.put_rounds[1][0].steal_pct = Some(6.25);
        let notes = render_notes(&[k]);
        assert!(
            notes.contains(
                "kvstore: puts c=256 (round 2): the host took 6.2% of the CPU time (steal)"
            ),
            "{notes}"
        );
    }

    fn report(name: &str, rate: f64) -> ServerReport {
        let mut r = ServerReport::new(name, Path::new("/usr/bin/etcd"));
        r.puts.push(load(1, rate, 2000, 4000));
        r.rss.idle_kib = Some(20 * 1024);
        r
    }

    #[test]
    fn ratio_is_kvstore_over_etcd() {
        let rows = rows(
            Some(&report("kvstore", 600.0)),
            Some(&report("etcd", 400.0)),
        );
        let put = rows.iter().find(|r| r.metric == "put/s c=1").unwrap();
        assert_eq!(put.ratio, Some(1.5));
        assert_eq!(put.better, Better::Higher);
        let p99 = rows.iter().find(|r| r.metric == "put p99 us c=1").unwrap();
        assert_eq!(p99.ratio, Some(1.0));
        assert_eq!(p99.better, Better::Lower);
        let rss = rows.iter().find(|r| r.metric == "RSS idle MiB").unwrap();
        assert_eq!(rss.kvstore, Some(Value::Mib(20.0)));
    }

    #[test]
    fn one_server_only_has_no_ratios() {
        let rows = rows(None, Some(&report("etcd", 400.0)));
        assert!(rows
            .iter()
            .all(|r| r.kvstore.is_none() && r.ratio.is_none()));
        let table = render_table(&rows);
        assert!(table
            .lines()
            .any(|l| l.starts_with("put/s c=1") && l.contains("400") && l.contains(" - ")));
    }

    #[test]
    fn metrics_only_one_side_has_are_kept() {
        let mut e = report("etcd", 400.0);
        e.puts.push(load(16, 3000.0, 5000, 9000));
        let rows = rows(Some(&report("kvstore", 600.0)), Some(&e));
        let r = rows.iter().find(|r| r.metric == "put/s c=16").unwrap();
        assert_eq!((r.kvstore.as_ref(), r.ratio), (None, None));
        assert_eq!(r.etcd, Some(Value::Rate(3000.0)));
    }

    #[test]
    fn zero_in_etcd_gives_no_ratio() {
        let rows = rows(Some(&report("kvstore", 10.0)), Some(&report("etcd", 0.0)));
        assert_eq!(
            rows.iter().find(|r| r.metric == "put/s c=1").unwrap().ratio,
            None
        );
    }

    #[test]
    fn value_formatting() {
        assert_eq!(Value::Rate(1234.56).display(), "1235");
        assert_eq!(Value::Rate(12.34).display(), "12.3");
        assert_eq!(Value::Micros(987).display(), "987");
        assert_eq!(Value::Mib(33.333).display(), "33.3");
        assert_eq!(Value::Millis(1234.6).display(), "1235");
        assert_eq!(Value::Text("PASS".into()).display(), "PASS");
    }

    #[test]
    fn table_layout() {
        let mut k = report("kvstore", 600.0);
        let mut e = report("etcd", 400.0);
        for (r, v) in [(&mut k, Verdict::Fail), (&mut e, Verdict::Pass)] {
            r.check_perf.push(CheckPerf {
                load: "s".into(),
                verdict: Some(v),
                writes_per_sec: Some(150.0),
                lines: vec![],
                elapsed_s: 60.0,
            });
        }
        let table = render_table(&rows(Some(&k), Some(&e)));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["metric", "kvstore", "etcd", "kvstore/etcd", "better"]
        );
        assert!(lines[1].starts_with("------"));
        let put: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(put, ["put/s", "c=1", "600", "400", "1.50", "higher"]);
        let check: Vec<&str> = lines
            .iter()
            .find(|l| l.starts_with("check perf s "))
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(check, ["check", "perf", "s", "FAIL", "PASS", "-"]);
        // Columns line up: every figure in the etcd column ends at the same offset.
        let end_of = |l: &str, needle: &str| l.find(needle).map(|i| i + needle.len());
        assert_eq!(end_of(lines[0], "etcd"), end_of(lines[2], "400"));
    }

    #[test]
    fn notes_name_failures_and_errors() {
        let mut k = report("kvstore", 600.0);
        k.fail(
            "watch",
            &anyhow::anyhow!("Unimplemented").context("watch call failed"),
        );
        k.puts[0].errors = 3;
        k.puts[0].first_error = Some("Unavailable: x".into());
        let notes = render_notes(&[k]);
        assert!(
            notes.contains("kvstore: watch failed: watch call failed: Unimplemented"),
            "{notes}"
        );
        assert!(
            notes.contains("kvstore: puts c=1: 3 errors (first: Unavailable: x)"),
            "{notes}"
        );
    }

    #[test]
    fn cluster_rows_name_the_max_and_the_failover() {
        use crate::failover::{FailoverResult, Kill};
        let cluster = |ms: f64| ClusterReport {
            members: vec!["a".into(), "b".into(), "c".into()],
            failover: Some(FailoverResult {
                kills: vec![Kill {
                    killed: "a".into(),
                    failover_ms: Some(ms),
                    answered_by: Some("b".into()),
                    new_leader: Some("b".into()),
                    attempts: 3,
                    timeouts: 1,
                    first_error: None,
                    catch_up_ms: Some(500.0),
                }],
                median_ms: Some(ms),
                min_ms: Some(ms),
                max_ms: Some(ms),
                attempt_timeout_ms: 200,
                retry_pause_ms: 20,
            }),
            ..ClusterReport::default()
        };
        let mut k = report("kvstore", 600.0);
        k.cluster = Some(cluster(1000.0));
        let mut e = report("etcd", 400.0);
        e.cluster = Some(cluster(2000.0));
        let rows = rows(Some(&k), Some(&e));
        assert!(rows.iter().any(|r| r.metric == "RSS idle MiB (max of 3)"));
        let f = rows
            .iter()
            .find(|r| r.metric == "failover ms median (1 kills)")
            .unwrap();
        assert_eq!((f.ratio, f.better), (Some(0.5), Better::Lower));
    }

    #[test]
    fn json_has_numbers_not_wrappers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let e = report("etcd", 400.0);
        write_json(
            &path,
            &serde_json::json!({"seconds": 1}),
            std::slice::from_ref(&e),
            &rows(None, Some(&e)),
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(v["servers"][0].get("cluster").is_none(), "{v}");
        assert_eq!(v["servers"][0]["puts"][0]["ops_per_sec"], 400.0);
        assert_eq!(v["table"][0]["etcd"], 400.0);
        assert_eq!(v["table"][0]["better"], "higher");
    }
}
