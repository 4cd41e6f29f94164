//! Live tests against the host's cgroupfs: they need root and skip (with a message) without it, or when a
//! controller they exercise is missing. Each test works in its own slice (`unitd-test-<pid>-<name>.slice`)
//! that a drop guard tears down even when the test fails.

use std::error::Error;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use unitd_cgroup::mountinfo::is_cgroup2;
use unitd_cgroup::{join_in_child, CgroupManager, Cgroups, Limits, V2};

type TestResult = Result<(), Box<dyn Error>>;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Kills and removes every unit of the slice and the slice itself on drop.
struct SliceGuard<M: CgroupManager> {
    cg: M,
}

impl<M: CgroupManager> Drop for SliceGuard<M> {
    fn drop(&mut self) {
        for unit in self.cg.units().unwrap_or_default() {
            let _ = self.cg.kill_all(&unit, libc::SIGKILL);
            let _ = wait_until(Duration::from_secs(5), || {
                self.cg.is_empty(&unit).unwrap_or(true)
            });
            if let Err(e) = self.cg.remove(&unit) {
                eprintln!("cleanup: {e}");
            }
        }
        if let Err(e) = self.cg.remove_slice() {
            eprintln!("cleanup: {e}");
        }
    }
}

fn slice_name(test: &str) -> String {
    format!("unitd-test-{}-{test}.slice", std::process::id())
}

/// The host backend in a fresh test slice, or `None` (after saying why) when not root.
fn host(test: &str) -> Result<Option<SliceGuard<Cgroups>>, Box<dyn Error>> {
    if !is_root() {
        eprintln!("skipping {test}: needs root");
        return Ok(None);
    }
    Ok(Some(SliceGuard {
        cg: Cgroups::detect(&slice_name(test))?,
    }))
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// Runs `sh -c script` with the child joining the unit's cgroups between fork and exec.
fn spawn_in(cg: &dyn CgroupManager, unit: &str, script: &str) -> Result<Child, Box<dyn Error>> {
    let paths = cg.join_paths(unit)?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: join_in_child is async-signal-safe: it only calls open/write/close on `paths`, which were
    // allocated before the fork and are not touched by anything else in the child.
    unsafe {
        cmd.pre_exec(move || join_in_child(&paths));
    }
    Ok(cmd.spawn()?)
}

/// The unit's directory in the v1 hierarchy carrying `controller`, if mounted.
fn v1_dir(cg: &Cgroups, controller: &str, unit: &str) -> Option<PathBuf> {
    let Cgroups::V1(v1) = cg else { return None };
    let h = v1.hierarchies().iter().find(|h| h.has(controller))?;
    Some(
        h.mount_point
            .join(cg.unit_path(unit).trim_start_matches('/')),
    )
}

fn knob(dir: &Path, name: &str) -> Result<String, Box<dyn Error>> {
    Ok(std::fs::read_to_string(dir.join(name))?.trim().to_string())
}

/// Spawns the three-process shell, checks tracking, SIGKILLs everything, removes the cgroup.
fn track_and_kill(cg: &dyn CgroupManager, unit: &str, signal: i32) -> TestResult {
    cg.create(unit, &Limits::default())?;
    cg.create(unit, &Limits::default())?; // idempotent
    let mut child = spawn_in(cg, unit, "sleep 100 & sleep 100 & wait")?;
    let sh = i32::try_from(child.id())?;
    assert!(
        wait_until(Duration::from_secs(5), || cg
            .pids(unit)
            .map(|p| p.len() == 3)
            .unwrap_or(false)),
        "expected sh and two sleeps, got {:?}",
        cg.pids(unit)?
    );
    assert!(cg.pids(unit)?.contains(&sh));
    assert_eq!(cg.find_unit_of_pid(sh).as_deref(), Some(unit));
    assert_eq!(
        cg.find_unit_of_pid(i32::try_from(std::process::id())?),
        None
    );
    assert_eq!(cg.units()?, [unit]);
    let stats = cg.stats(unit)?;
    if let Some(tasks) = stats.tasks_current {
        assert!(tasks >= 3, "{stats:?}");
    }
    if cg.version() == 1 && Path::new("/sys/fs/cgroup/memory/memory.usage_in_bytes").exists() {
        assert!(stats.memory_current.is_some(), "{stats:?}");
    }
    if cg.version() == 1 && Path::new("/sys/fs/cgroup/cpuacct/cpuacct.usage").exists() {
        assert!(stats.cpu_usage_nsec.is_some(), "{stats:?}");
    }

    let signalled = cg.kill_all(unit, signal)?;
    assert_eq!(signalled, 3);
    let status = child.wait()?;
    assert!(!status.success());
    assert!(
        wait_until(Duration::from_secs(5), || cg
            .is_empty(unit)
            .unwrap_or(false)),
        "still in the cgroup: {:?}",
        cg.pids(unit)?
    );
    cg.remove(unit)?;
    assert!(cg.units()?.is_empty());
    assert_eq!(
        cg.kill_all(unit, signal)?,
        0,
        "a removed unit has nothing to kill"
    );
    Ok(())
}

#[test]
fn detect_picks_this_hosts_version() -> TestResult {
    let Some(g) = host("detect")? else {
        return Ok(());
    };
    let expected = if is_cgroup2(Path::new("/sys/fs/cgroup")) {
        2
    } else {
        1
    };
    assert_eq!(g.cg.version(), expected);
    assert_eq!(
        g.cg.unit_path("hello.service"),
        format!("/{}/hello.service", slice_name("detect"))
    );
    assert_eq!(g.cg.join_paths("hello.service")?.len() > 1, expected == 1);
    Ok(())
}

#[test]
fn pids_and_kill_all_sigkill() -> TestResult {
    let Some(g) = host("sigkill")? else {
        return Ok(());
    };
    track_and_kill(&g.cg, "hello.service", libc::SIGKILL)
}

#[test]
fn kill_all_sigterm_through_the_freezer() -> TestResult {
    let Some(g) = host("sigterm")? else {
        return Ok(());
    };
    // A unit name that needs escaping, while at it.
    track_and_kill(&g.cg, "cpu.service", libc::SIGTERM)
}

#[test]
fn kill_all_beats_a_fork_loop() -> TestResult {
    let Some(g) = host("forkloop")? else {
        return Ok(());
    };
    let cg = &g.cg;
    let unit = "bomb.service";
    cg.create(
        unit,
        &Limits {
            tasks_max: Some(64),
            ..Limits::default()
        },
    )?;
    let mut child = spawn_in(cg, unit, "while :; do sleep 100 & done")?;
    assert!(wait_until(Duration::from_secs(5), || cg
        .pids(unit)
        .map(|p| p.len() > 10)
        .unwrap_or(false)));
    cg.kill_all(unit, libc::SIGKILL)?;
    child.wait()?;
    assert!(
        wait_until(Duration::from_secs(5), || cg
            .is_empty(unit)
            .unwrap_or(false)),
        "survivors: {:?}",
        cg.pids(unit)?
    );
    cg.remove(unit)?;
    Ok(())
}

#[test]
fn memory_max_is_enforced_and_oom_kills_counted() -> TestResult {
    let Some(g) = host("oom")? else { return Ok(()) };
    let cg = &g.cg;
    let unit = "hog.service";
    cg.create(
        unit,
        &Limits {
            memory_max: Some(32 << 20),
            ..Limits::default()
        },
    )?;
    if cg.stats(unit)?.memory_current.is_none() {
        eprintln!("skipping memory test: no memory controller");
        return Ok(());
    }
    assert_eq!(cg.oom_kills(unit)?, 0);
    // Touches 200 MiB: far beyond the limit (there is no swap to escape to).
    let mut child = spawn_in(cg, unit, "exec python3 -c 'x = b\"a\" * (200 << 20)'")?;
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(cg.oom_kills(unit)? >= 1);
    cg.remove(unit)?;
    Ok(())
}

#[test]
fn tasks_max_caps_forks() -> TestResult {
    let Some(g) = host("tasks")? else {
        return Ok(());
    };
    let cg = &g.cg;
    let unit = "forky.service";
    cg.create(
        unit,
        &Limits {
            tasks_max: Some(5),
            ..Limits::default()
        },
    )?;
    if cg.stats(unit)?.tasks_current.is_none() {
        eprintln!("skipping tasks test: no pids controller");
        return Ok(());
    }
    let mut child = spawn_in(
        cg,
        unit,
        "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 & done; wait",
    )?;
    // Give the loop time to try all ten forks.
    std::thread::sleep(Duration::from_millis(500));
    let tasks = cg.stats(unit)?.tasks_current.unwrap_or(0);
    assert!(tasks <= 5, "{tasks} tasks with TasksMax=5");
    assert!(cg.pids(unit)?.len() <= 5);
    let events_file = match cg {
        Cgroups::V1(_) => v1_dir(cg, "pids", unit).map(|d| d.join("pids.events")),
        Cgroups::V2(v2) => Some(
            v2.root()
                .join(cg.unit_path(unit).trim_start_matches('/'))
                .join("pids.events"),
        ),
    };
    if let Some(events) = events_file {
        let text = std::fs::read_to_string(events)?;
        assert!(
            text.lines().any(|l| l.starts_with("max ") && l != "max 0"),
            "fork refusals counted: {text}"
        );
    }
    cg.kill_all(unit, libc::SIGKILL)?;
    child.wait()?;
    Ok(())
}

#[test]
fn limits_read_back_from_the_files() -> TestResult {
    let Some(g) = host("limits")? else {
        return Ok(());
    };
    let cg = &g.cg;
    let unit = "limited.service";
    let limits = Limits {
        memory_max: Some(64 << 20),
        cpu_quota_percent: Some(50),
        cpu_weight: Some(200),
        cpu_shares: None,
        tasks_max: Some(10),
        io_weight: Some(300),
        allowed_cpus: Some("0".into()),
    };
    cg.create(unit, &limits)?;
    match cg {
        Cgroups::V1(_) => {
            if let Some(d) = v1_dir(cg, "memory", unit) {
                assert_eq!(knob(&d, "memory.limit_in_bytes")?, "67108864");
            }
            if let Some(d) = v1_dir(cg, "cpu", unit) {
                assert_eq!(knob(&d, "cpu.cfs_period_us")?, "100000");
                assert_eq!(knob(&d, "cpu.cfs_quota_us")?, "50000");
                assert_eq!(knob(&d, "cpu.shares")?, "2048");
            }
            if let Some(d) = v1_dir(cg, "pids", unit) {
                assert_eq!(knob(&d, "pids.max")?, "10");
            }
            if let Some(d) = v1_dir(cg, "cpuset", unit) {
                assert_eq!(knob(&d, "cpuset.cpus")?, "0");
                assert!(!knob(&d, "cpuset.mems")?.is_empty());
            }
            if let Some(d) = v1_dir(cg, "blkio", unit) {
                if d.join("blkio.bfq.weight").exists() {
                    let w = knob(&d, "blkio.bfq.weight")?;
                    assert!(w.ends_with("300"), "blkio.bfq.weight {w:?}");
                }
            }
            // Applying no limits resets every knob.
            cg.apply(unit, &Limits::default())?;
            if let Some(d) = v1_dir(cg, "memory", unit) {
                let unlimited: u64 = knob(&d, "memory.limit_in_bytes")?.parse()?;
                assert!(unlimited > 1 << 60);
            }
            if let Some(d) = v1_dir(cg, "cpu", unit) {
                assert_eq!(knob(&d, "cpu.cfs_quota_us")?, "-1");
                assert_eq!(knob(&d, "cpu.shares")?, "1024");
            }
            if let Some(d) = v1_dir(cg, "pids", unit) {
                assert_eq!(knob(&d, "pids.max")?, "max");
            }
            if let Some(d) = v1_dir(cg, "cpuset", unit) {
                let parent = d.parent().ok_or("no parent")?;
                assert_eq!(knob(&d, "cpuset.cpus")?, knob(parent, "cpuset.cpus")?);
            }
        }
        Cgroups::V2(v2) => {
            let d = v2.root().join(cg.unit_path(unit).trim_start_matches('/'));
            for (file, want) in [
                ("memory.max", "67108864"),
                ("cpu.max", "50000 100000"),
                ("cpu.weight", "200"),
                ("pids.max", "10"),
            ] {
                if d.join(file).exists() {
                    assert_eq!(knob(&d, file)?, want, "{file}");
                }
            }
        }
    }
    cg.remove(unit)?;
    Ok(())
}

#[test]
fn v2_backend_on_the_hybrid_unified_mount() -> TestResult {
    let unified = Path::new("/sys/fs/cgroup/unified");
    if !is_root() || !is_cgroup2(unified) {
        eprintln!(
            "skipping v2-on-unified: needs root and a cgroup2 mount at {}",
            unified.display()
        );
        return Ok(());
    }
    let g = SliceGuard {
        cg: V2::new(unified, &slice_name("unified"))?,
    };
    assert_eq!(g.cg.version(), 2);
    // cgroup.kill when present, the freeze loop otherwise.
    track_and_kill(&g.cg, "hello.service", libc::SIGKILL)?;
    // cgroup.freeze + cgroup.events.
    track_and_kill(&g.cg, "term.service", libc::SIGTERM)?;
    // No controllers here: limits are skipped, not errors.
    g.cg.create(
        "limited.service",
        &Limits {
            memory_max: Some(1 << 20),
            tasks_max: Some(3),
            ..Limits::default()
        },
    )?;
    assert_eq!(g.cg.oom_kills("limited.service")?, 0);
    g.cg.remove("limited.service")?;
    Ok(())
}

#[test]
fn add_pid_from_the_parent_side() -> TestResult {
    let Some(g) = host("addpid")? else {
        return Ok(());
    };
    let cg = &g.cg;
    let unit = "adopted.service";
    cg.create(unit, &Limits::default())?;
    let mut child = Command::new("sleep").arg("100").spawn()?;
    let pid = i32::try_from(child.id())?;
    cg.add_pid(unit, pid)?;
    assert_eq!(cg.pids(unit)?, [pid]);
    assert_eq!(cg.find_unit_of_pid(pid).as_deref(), Some(unit));
    assert_eq!(cg.kill_all(unit, libc::SIGKILL)?, 1);
    child.wait()?;
    assert!(wait_until(Duration::from_secs(5), || cg
        .is_empty(unit)
        .unwrap_or(false)));
    Ok(())
}
