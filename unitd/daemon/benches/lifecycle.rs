//! unitd start/stop latency and idle memory (`cargo bench -p unitd --bench lifecycle`).
//!
//! Starts a real unitd with 100 loaded units, then over its private D-Bus socket:
//! - start latency: StartUnit call → the service's exec (ExecMainStartTimestamp, taken once exec succeeded),
//!   and → the start job's JobRemoved;
//! - stop latency: StopUnit call → JobRemoved (process gone, cgroup empty);
//! - idle RSS of unitd with the 100 units loaded.
//!
//! The reference in the same run is a bare fork+exec of the same binary from this process
//! (`std::process::Command::spawn`, which also returns once exec succeeded): the floor any service manager
//! pays. Targets (issue 4): start p50 under 2 ms, RSS under 15 MB.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use unitd_client::{proxies, JobMode, JobWaiter, Target, UnitAction};

const UNITS: usize = 100;
const ROUNDS: usize = 200;

fn now_usec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn summary(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} p50 {:>7.3} ms   p99 {:>7.3} ms   (n={})",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len()
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let units = dir.path().join("units");
    std::fs::create_dir_all(&units)?;
    for i in 0..UNITS {
        std::fs::write(
            units.join(format!("idle-{i}.service")),
            format!("[Unit]\nDescription=Idle {i}\n[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n"),
        )?;
    }
    // No start limit: 200 starts within seconds would hit the default of 5 per 10 s.
    std::fs::write(
        units.join("trivial.service"),
        "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sleep 1000\n",
    )?;
    let runtime = dir.path().join("run");
    let mut unitd = Command::new(env!("CARGO_BIN_EXE_unitd"))
        .arg("--unit-path")
        .arg(&units)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--runtime-dir")
        .arg(&runtime)
        .args([
            "--slice",
            &format!("unitd-bench-{}.slice", std::process::id()),
            "--no-bus",
        ])
        .env(
            "UNITD_LOG",
            std::env::var("BENCH_UNITD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stderr(Stdio::inherit())
        .spawn()?;
    let socket = runtime.join("private");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if Instant::now() > deadline {
            return Err("unitd did not come up".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let conn = unitd_client::connect_to(&Target::Private(socket.clone())).await?;
        let manager = proxies::manager(&conn).await?;
        let service = proxies::service(&conn, "trivial.service").await?;
        let mut waiter = JobWaiter::new(&conn).await?;
        let loaded = manager.n_names().await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle_rss = rss_kib(unitd.id());

        let (mut to_exec, mut to_done, mut stop) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let t0 = now_usec();
            let job = waiter
                .enqueue(UnitAction::Start, "trivial.service", JobMode::Replace)
                .await?;
            let outcome = waiter.wait(&job).await?;
            if !outcome.result.is_success() {
                return Err(format!("start job ended {}", outcome.result).into());
            }
            let done = now_usec();
            let exec = service.exec_main_start_timestamp().await?;
            to_exec.push(exec.saturating_sub(t0) as f64 / 1000.0);
            to_done.push(done.saturating_sub(t0) as f64 / 1000.0);
            let t1 = Instant::now();
            let job = waiter
                .enqueue(UnitAction::Stop, "trivial.service", JobMode::Replace)
                .await?;
            let outcome = waiter.wait(&job).await?;
            if !outcome.result.is_success() {
                return Err(format!("stop job ended {}", outcome.result).into());
            }
            stop.push(t1.elapsed().as_secs_f64() * 1000.0);
        }
        let busy_rss = rss_kib(unitd.id());
        Ok::<_, Box<dyn std::error::Error>>((loaded, idle_rss, busy_rss, to_exec, to_done, stop))
    });
    let baseline: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t0 = Instant::now();
            let mut child = Command::new("/bin/sleep")
                .arg("1000")
                .spawn()
                .expect("spawn sleep");
            let elapsed = t0.elapsed().as_secs_f64() * 1000.0;
            let _ = child.kill();
            let _ = child.wait();
            elapsed
        })
        .collect();
    // SAFETY: SIGTERM to our own child; a clean shutdown stops its units.
    unsafe { libc::kill(unitd.id() as i32, libc::SIGTERM) };
    let _ = unitd.wait();
    let (loaded, idle_rss, busy_rss, to_exec, to_done, stop) = result?;

    println!("unitd lifecycle benchmark ({ROUNDS} start/stop rounds of a trivial service, {loaded} units loaded)");
    summary("start: StartUnit → service exec", to_exec);
    summary("start: StartUnit → job done", to_done);
    summary("stop:  StopUnit → job done", stop);
    summary("reference: fork+exec from a process", baseline);
    println!(
        "unitd RSS idle with {loaded} units: {:.1} MiB (after the rounds: {:.1} MiB)",
        idle_rss as f64 / 1024.0,
        busy_rss as f64 / 1024.0
    );
    println!("targets: start p50 < 2 ms, idle RSS < 15 MB");
    Ok(())
}
