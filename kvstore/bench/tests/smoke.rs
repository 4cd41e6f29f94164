//! Runs the built kvbench against the real etcd (when installed) with the shortest settings and checks that the
//! table and the JSON file carry a non-zero put rate.

use std::path::Path;
use std::process::Command;

const ETCD: &str = "/usr/bin/etcd";

#[test]
fn etcd_only_run_reports_puts() {
    if !Path::new(ETCD).is_file() {
        eprintln!("skipped: {ETCD} is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kvbench"))
        .args([
            "--only",
            "etcd",
            "--seconds",
            "1",
            "--clients",
            "1",
            "--skip-check-perf",
            "--watch-events",
            "200",
            "--rounds",
            "2",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kvbench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The table: a put/s row with a positive etcd figure and no kvstore figure.
    let row = stdout
        .lines()
        .find(|l| l.starts_with("put/s c=1"))
        .unwrap_or_else(|| panic!("no put/s row:\n{stdout}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[2], "-", "{row}");
    let rate: f64 = cols[3].parse().unwrap();
    assert!(rate > 0.0, "{row}");
    for metric in [
        "get/s linearizable c=16",
        "get/s serializable c=16",
        "watch p99 us",
        "RSS idle MiB",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(metric)),
            "no {metric} row:\n{stdout}"
        );
    }

    // The JSON file: the same figure, raw.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let etcd = &v["servers"][0];
    assert_eq!(etcd["server"], "etcd");
    assert!(etcd["puts"][0]["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(etcd["puts"][0]["errors"], 0);
    // Two rounds of the put level, each measured; the table's figure is one of them.
    let rounds = etcd["put_rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    let rates: Vec<f64> = rounds
        .iter()
        .map(|r| r[0]["ops_per_sec"].as_f64().unwrap())
        .collect();
    assert!(rates.iter().all(|r| *r > 0.0), "{rates:?}");
    assert!(rates.contains(&etcd["puts"][0]["ops_per_sec"].as_f64().unwrap()));
    assert!(
        stdout.contains("put/s c=1, round by round: - / "),
        "no round lines:\n{stdout}"
    );
    assert_eq!(etcd["watch"]["events"], 200);
    assert!(etcd["rss"]["idle_kib"].as_u64().unwrap() > 0);
    assert!(etcd["failures"].as_array().unwrap().is_empty());
}
