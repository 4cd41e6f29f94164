//! `etcdctl check perf`: etcd's own pass/fail load test, run with the Debian etcdctl (API v3) against the server.
//!
//! `--load=s` is 150 puts/s from 50 clients for 60 s; `--load=m` is 1000 puts/s from 200 clients (200 gRPC
//! connections) for 60 s; `--load=l` (cluster runs) is 8000 puts/s from 500 clients. With several endpoints
//! (`a,b,c`) every etcdctl client connects to all of them and round-robins its requests. Keys are 256 bytes under `/etcdctl-check-perf/` (binary, mostly NUL bytes), values 1 KiB.
//! Before the load etcdctl checks the prefix is empty (a Range with limit 1); afterwards it deletes the prefix.
//! It passes when throughput is above 90 % of the target, the slowest put took at most 0.5 s and the standard
//! deviation is at most 0.1 s. The output ends with a line that is exactly `PASS` or `FAIL`; the lines above it
//! give the figures (`PASS: Throughput is 974 writes/s`, `Slowest request took too long: 0.78s`, ...).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::server::die_with_parent;

/// A check runs 60 s of load plus a delete with a 30 s timeout; past this it is killed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(150);

/// etcdctl's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
}

/// The outcome of one `check perf` run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckPerf {
    /// `s` or `m`.
    pub load: String,
    /// `None` when etcdctl ended without a verdict (connection refused, timeout, crash).
    pub verdict: Option<Verdict>,
    /// Throughput etcdctl measured, writes/s.
    pub writes_per_sec: Option<f64>,
    /// The result lines (`PASS: ...`, `FAIL: ...`, `Slowest request took too long: ...`) or, without a verdict,
    /// the tail of its output.
    pub lines: Vec<String>,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

/// What etcdctl's output says.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub verdict: Option<Verdict>,
    pub writes_per_sec: Option<f64>,
    pub lines: Vec<String>,
}

/// Parses etcdctl's combined output. The progress bar redraws itself with `\r`, so both `\r` and `\n` end a line.
pub fn parse(output: &str) -> Parsed {
    let lines: Vec<&str> = output
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let verdict = lines.iter().rev().find_map(|l| match *l {
        "PASS" => Some(Verdict::Pass),
        "FAIL" => Some(Verdict::Fail),
        _ => None,
    });
    let is_result = |l: &str| {
        l.starts_with("PASS:")
            || l.starts_with("FAIL:")
            || l.starts_with("Slowest request took too long")
            || l.starts_with("Stddev too high")
    };
    let writes_per_sec = lines.iter().find_map(|l| {
        let rest = l
            .strip_prefix("PASS: Throughput is ")
            .or_else(|| l.strip_prefix("FAIL: Throughput too low: "))?;
        rest.strip_suffix(" writes/s")?.trim().parse().ok()
    });
    let result_lines: Vec<String> = if verdict.is_some() {
        lines
            .iter()
            .filter(|l| is_result(l))
            .map(|l| l.to_string())
            .collect()
    } else {
        // No verdict: keep what explains why (usually an "Error: ..." line at the end).
        lines[lines.len().saturating_sub(5)..]
            .iter()
            .map(|l| l.to_string())
            .collect()
    };
    Parsed {
        verdict,
        writes_per_sec,
        lines: result_lines,
    }
}

/// Runs `etcdctl --endpoints=ADDRS check perf --load=LOAD` (`ADDRS` comma-separated) and parses what it printed.
pub async fn run(etcdctl: &Path, addr: &str, load: &str) -> Result<CheckPerf> {
    let mut cmd = tokio::process::Command::new(etcdctl);
    cmd.arg(format!("--endpoints={addr}"))
        .args(["check", "perf", &format!("--load={load}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // ETCDCTL_* in our environment (endpoints, certificates) would clash with --endpoints or change the test.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ETCDCTL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("ETCDCTL_API", "3");
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(die_with_parent);
    }
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", etcdctl.display()))?;
    // On timeout the future is dropped, and with it the child (kill_on_drop).
    let out = tokio::time::timeout(CHECK_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| {
            format!("etcdctl check perf --load={load} ran longer than {CHECK_TIMEOUT:?}")
        })?
        .context("waiting for etcdctl")?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = parse(&text);
    Ok(CheckPerf {
        load: load.to_string(),
        verdict: parsed.verdict,
        writes_per_sec: parsed.writes_per_sec,
        lines: parsed.lines,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pass() {
        let out = " 0 / 60    0.00% 1 / 60    1.67% 00m59s\r 60 / 60  100.00% 1m0s\n\
                   PASS: Throughput is 150 writes/s\nPASS: Slowest request took 0.039791s\n\
                   PASS: Stddev is 0.001863s\nPASS\n";
        let p = parse(out);
        assert_eq!(p.verdict, Some(Verdict::Pass));
        assert_eq!(p.writes_per_sec, Some(150.0));
        assert_eq!(p.lines.len(), 3);
        assert_eq!(p.lines[1], "PASS: Slowest request took 0.039791s");
    }

    #[test]
    fn parses_a_fail_with_unprefixed_lines() {
        let out = "60 / 60 Boooo! 100.00% 1m0s\nFAIL: Throughput too low: 6491 writes/s\n\
                   Slowest request took too long: 0.786915s\nPASS: Stddev is 0.063215s\nFAIL\n";
        let p = parse(out);
        assert_eq!(p.verdict, Some(Verdict::Fail));
        assert_eq!(p.writes_per_sec, Some(6491.0));
        assert_eq!(
            p.lines,
            vec![
                "FAIL: Throughput too low: 6491 writes/s",
                "Slowest request took too long: 0.786915s",
                "PASS: Stddev is 0.063215s"
            ]
        );
    }

    #[test]
    fn error_without_verdict_keeps_the_tail() {
        let out = "\n{\"level\":\"warn\"}\nError: context deadline exceeded\n";
        let p = parse(out);
        assert_eq!(p.verdict, None);
        assert_eq!(p.writes_per_sec, None);
        assert_eq!(
            p.lines.last().map(String::as_str),
            Some("Error: context deadline exceeded")
        );
    }
}
