//! The real unitctl binary against a real unitd: each test starts its own unitd (see `common/`), drives it
//! only through unitctl's command line, and asserts what a systemctl user would see — stdout, stderr and the
//! exit code. Needs root and cgroups (unitd puts each test's units in its own slice) and the unitd binary
//! built next to this test's executable.

mod common;

use std::time::{Duration, Instant};

use common::{wait_for, Captured, Unitd, UnitdExt};

/// A long-running service that logs one line.
const HELLO: &str = "[Unit]
Description=Hello World
[Service]
ExecStart=/bin/sh -c 'echo hello from hello; exec sleep 300'
[Install]
WantedBy=multi-user.target
";

/// The lines of `text`, for order-insensitive or prefix checks.
fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// This host's name as journal lines show it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn start_status_show_stop() {
    let mut d = Unitd::new();
    let fragment = d.write_unit("hello.service", HELLO);
    d.start();

    // No suffix: hello means hello.service. A successful blocking start prints nothing.
    let out = d.unitctl(&["start", "hello"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );

    let out = d.unitctl(&["is-active", "hello"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");

    let pid: u32 = d
        .ok(&["show", "-p", "MainPID", "--value", "hello"])
        .stdout
        .trim()
        .parse()
        .expect("MainPID is a number");
    assert!(pid > 0);

    // The shell execs sleep and logs a line first; wait until both happened so the page is complete.
    let mut status = d.unitctl(&["status", "hello.service"]);
    assert!(
        wait_for(Duration::from_secs(5), || {
            status = d.unitctl(&["status", "hello.service"]);
            status.stdout.contains("(sleep)") && status.stdout.contains("hello from hello")
        }),
        "status never showed the exec'd process and its log line:\n{status}"
    );
    assert_eq!(status.code, 0, "{status}");
    assert_eq!(status.stderr, "", "{status}");
    let page = lines(&status.stdout);
    assert_eq!(page[0], "● hello.service - Hello World", "{status}");
    assert_eq!(
        page[1],
        format!("     Loaded: loaded ({}; disabled)", fragment.display()),
        "{status}"
    );
    // `Active: active (running) since <ActiveEnterTimestamp>; <n>ms ago`, the time as show prints it.
    let entered = d.ok(&["show", "-p", "ActiveEnterTimestamp", "--value", "hello"]);
    let active = format!(
        "     Active: active (running) since {}; ",
        entered.stdout.trim()
    );
    assert!(
        page[2].starts_with(&active) && page[2].ends_with(" ago"),
        "want {active:?}…ago\n{status}"
    );
    assert!(
        page.contains(&format!("   Main PID: {pid} (sleep)").as_str()),
        "{status}"
    );
    let cgroup = format!("     CGroup: /{}/hello.service", d.slice);
    let at = page
        .iter()
        .position(|l| *l == cgroup)
        .unwrap_or_else(|| panic!("no {cgroup:?}\n{status}"));
    assert_eq!(
        page[at + 1],
        format!("             └─{pid} sleep 300"),
        "{status}"
    );
    // Then a blank line and the unit's last journal lines.
    assert_eq!(page[at + 2], "", "{status}");
    let journal = &page[at + 3..];
    assert!(
        journal.iter().any(|l| l.ends_with(": hello from hello")),
        "{status}"
    );
    assert!(
        journal
            .iter()
            .any(|l| l.contains(" unitd[") && l.ends_with("]: Started Hello World.")),
        "{status}"
    );

    let out = d.ok(&["show", "-p", "ActiveState,SubState", "hello"]);
    assert_eq!(out.stdout, "ActiveState=active\nSubState=running\n");

    let out = d.unitctl(&["stop", "hello"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    let out = d.unitctl(&["is-active", "hello"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "inactive\n"), "{out}");

    // A stopped service: status exits 3 and shows how the main process ended.
    let status = d.unitctl(&["status", "hello"]);
    assert_eq!(status.code, 3, "{status}");
    let page = lines(&status.stdout);
    assert_eq!(page[0], "○ hello.service - Hello World", "{status}");
    assert!(
        page[2].starts_with("     Active: inactive (dead) since "),
        "{status}"
    );
    assert!(
        page.contains(&format!("   Main PID: {pid} (code=killed, signal=TERM)").as_str()),
        "{status}"
    );
    assert!(
        status.stdout.ends_with("]: Stopped Hello World.\n"),
        "{status}"
    );
}

#[test]
fn failing_start_and_reset_failed() {
    let mut d = Unitd::new();
    d.write_unit(
        "broken.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    d.start();

    let out = d.unitctl(&["start", "broken"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(
        out.stderr,
        "Job for broken.service failed because the control process exited with error code.\n\
         See \"unitctl status broken.service\" and \"unitctl journal -xeu broken.service\" for details.\n"
    );

    let out = d.unitctl(&["is-failed", "broken"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "failed\n"), "{out}");
    let out = d.unitctl(&["is-system-running"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, "degraded\n"), "{out}");
    let out = d.unitctl(&["is-system-running", "--wait", "-q"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out}");
    let out = d.unitctl(&["is-active", "broken"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "failed\n"), "{out}");

    let status = d.unitctl(&["status", "broken"]);
    assert_eq!(status.code, 3, "{status}");
    let page = lines(&status.stdout);
    assert_eq!(page[0], "× broken.service", "{status}");
    assert!(
        page[2].starts_with("     Active: failed (Result: exit-code) since "),
        "{status}"
    );
    assert!(
        page.iter().any(|l| l.starts_with("    Process: ")
            && l.ends_with(" ExecStart=/bin/false (code=exited, status=1/FAILURE)")),
        "{status}"
    );

    // The hint in the failure message works as given.
    let out = d.ok(&["journal", "-xeu", "broken.service"]);
    assert!(
        out.stdout.ends_with("]: Failed to start broken.service.\n")
            && out
                .stdout
                .contains("]: broken.service: Failed with result 'exit-code'.\n"),
        "{out}"
    );

    let out = d.unitctl(&["reset-failed", "broken"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    let out = d.unitctl(&["is-failed", "broken"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, "inactive\n"), "{out}");
    let out = d.unitctl(&["is-system-running"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "running\n"), "{out}");
}

#[test]
fn no_block_start_returns_while_activating() {
    let mut d = Unitd::new();
    d.write_unit(
        "slow-oneshot.service",
        "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\n",
    );
    // Never sends READY=1: activating until the start timeout.
    d.write_unit(
        "slow-notify.service",
        "[Service]\nType=notify\nExecStart=/bin/sleep 30\nTimeoutStartSec=60\n",
    );
    d.start();

    let began = Instant::now();
    let out = d.unitctl(&["--no-block", "start", "slow-oneshot", "slow-notify"]);
    let took = began.elapsed();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    assert!(
        took < Duration::from_secs(5),
        "--no-block start took {took:?}"
    );

    let out = d.unitctl(&["is-active", "slow-oneshot", "slow-notify"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (3, "activating\nactivating\n"),
        "{out}"
    );
    let out = d.ok(&["show", "-p", "SubState", "--value", "slow-notify"]);
    assert_eq!(out.stdout, "start\n");

    // Both start jobs are still running.
    let out = d.ok(&["list-jobs"]);
    for unit in ["slow-oneshot.service", "slow-notify.service"] {
        assert!(
            out.stdout.lines().any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.get(1..) == Some(&[unit, "start", "running"][..])
            }),
            "{unit} not listed as a running start job:\n{out}"
        );
    }
    assert!(out.stdout.ends_with("\n2 jobs listed.\n"), "{out}");

    // Without --no-block, start waits for the job (here: until the oneshot's process exits).
    d.write_unit(
        "short.service",
        "[Service]\nType=oneshot\nExecStart=/bin/sleep 0.5\n",
    );
    d.ok(&["daemon-reload"]);
    let began = Instant::now();
    d.ok(&["start", "short"]);
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(500),
        "start returned after {took:?}"
    );
    let out = d.unitctl(&["is-active", "short"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "inactive\n"), "{out}");

    // Stopping cancels the start jobs (the blocking stop waits for that).
    d.ok(&["stop", "slow-oneshot", "slow-notify"]);
    let out = d.unitctl(&["is-active", "slow-oneshot", "slow-notify"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (3, "inactive\ninactive\n"),
        "{out}"
    );
}

#[test]
fn missing_units() {
    let mut d = Unitd::new();
    d.start();

    // Found through UNITD_ADDRESS this time.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
    cmd.env("UNITD_ADDRESS", d.address())
        .env("TZ", "UTC")
        .args(["start", "nosuch"]);
    let out = common::run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code, 5, "{out}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "Failed to start nosuch.service: Unit nosuch.service not found.\n"
    );

    let out = d.unitctl(&["status", "nosuch"]);
    assert_eq!(out.code, 4, "{out}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "Unit nosuch.service could not be found.\n");

    let out = d.unitctl(&["is-active", "nosuch"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "inactive\n"), "{out}");
    let out = d.ok(&["show", "-p", "LoadState", "--value", "nosuch"]);
    assert_eq!(out.stdout, "not-found\n");
    let out = d.unitctl(&["cat", "nosuch"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "No files found for nosuch.service.\n"),
        "{out}"
    );
}

/// The row of `unit` in a unit table, split on whitespace (without the `●` column).
fn row<'a>(table: &'a str, unit: &str) -> Option<Vec<&'a str>> {
    table.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().skip_while(|c| *c == "●").collect();
        (cols.first() == Some(&unit)).then_some(cols)
    })
}

/// Checks that each header column starts at the same character column as its values in every row.
fn assert_aligned(table: &str, headers: &[&str]) {
    let all: Vec<&str> = table.lines().take_while(|l| !l.is_empty()).collect();
    let (header, rows) = all.split_first().expect("a header line");
    let starts: Vec<usize> = headers
        .iter()
        .map(|h| {
            let byte = header
                .find(h)
                .unwrap_or_else(|| panic!("no {h} in {header:?}"));
            header[..byte].chars().count()
        })
        .collect();
    for row in rows {
        let chars: Vec<char> = row.chars().collect();
        for (h, &col) in headers.iter().zip(&starts) {
            let before = chars.get(col.wrapping_sub(1)).copied().unwrap_or(' ');
            let at = chars.get(col).copied().unwrap_or(' ');
            assert!(
                before == ' ' && at != ' ',
                "column {h} is not aligned in {row:?}:\n{table}"
            );
        }
    }
}

const LEGEND: &str = "
LOAD   = Reflects whether the unit definition was properly loaded.
ACTIVE = The high-level unit activation state, i.e. generalization of SUB.
SUB    = The low-level unit activation state, values depend on unit type.
";

#[test]
fn list_units_and_unit_files() {
    let mut d = Unitd::new();
    d.write_unit(
        "web.service",
        "[Unit]\nDescription=Web server\n[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=multi-user.target\n",
    );
    d.write_unit(
        "once.service",
        "[Unit]\nDescription=Runs once\n[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.write_unit(
        "broken.service",
        "[Unit]\nDescription=Always fails\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    d.write_unit(
        "spare.service",
        "[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=multi-user.target\n",
    );
    d.start();
    d.ok(&["start", "web", "once"]);
    assert_eq!(d.unitctl(&["start", "broken"]).code, 1);
    d.ok(&["enable", "web"]);

    // Default: loaded units that are not inactive (the failed one shows with a ●).
    let out = d.ok(&["list-units"]);
    let table = &out.stdout;
    assert!(
        table.starts_with("  UNIT ")
            && table.lines().next().is_some_and(|h| {
                h.split_whitespace().collect::<Vec<_>>()
                    == ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]
            }),
        "{out}"
    );
    assert_aligned(table, &["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]);
    assert_eq!(
        row(table, "web.service"),
        Some(vec![
            "web.service",
            "loaded",
            "active",
            "running",
            "Web",
            "server"
        ]),
        "{out}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("● broken.service ")),
        "{out}"
    );
    assert_eq!(
        row(table, "broken.service"),
        Some(vec![
            "broken.service",
            "loaded",
            "failed",
            "failed",
            "Always",
            "fails"
        ]),
        "{out}"
    );
    assert_eq!(
        row(table, "once.service"),
        None,
        "inactive units are hidden:\n{out}"
    );
    assert!(
        table.ends_with(&format!(
            "{LEGEND}2 loaded units listed. Pass --all to see loaded but inactive units, too.\n\
             To show all installed unit files use 'unitctl list-unit-files'.\n"
        )),
        "{out}"
    );

    // --all: inactive ones too (unitd loads every unit file it finds, unlike systemd, so also spare.service,
    // which nothing referenced).
    let out = d.ok(&["list-units", "--all"]);
    assert_aligned(
        &out.stdout,
        &["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"],
    );
    assert_eq!(
        row(&out.stdout, "once.service"),
        Some(vec![
            "once.service",
            "loaded",
            "inactive",
            "dead",
            "Runs",
            "once"
        ]),
        "{out}"
    );
    assert_eq!(
        row(&out.stdout, "spare.service"),
        Some(vec![
            "spare.service",
            "loaded",
            "inactive",
            "dead",
            "spare.service"
        ]),
        "{out}"
    );
    assert!(row(&out.stdout, "web.service").is_some(), "{out}");
    assert!(
        out.stdout.ends_with(&format!(
            "{LEGEND}4 loaded units listed.\n\
             To show all installed unit files use 'unitctl list-unit-files'.\n"
        )),
        "{out}"
    );

    // --state=failed: only the failed one.
    let out = d.ok(&["list-units", "--state=failed"]);
    assert_eq!(
        out.stdout,
        format!(
            "  UNIT           LOAD   ACTIVE SUB    DESCRIPTION\n\
             ● broken.service loaded failed failed Always fails\n\
             {LEGEND}1 loaded units listed.\n"
        ),
        "{out}"
    );
    // --failed is --state=failed, and list-units is the default verb.
    assert_eq!(d.ok(&["--failed"]).stdout, out.stdout);
    let out = d.ok(&["--no-legend", "list-units", "--state=running"]);
    assert_eq!(
        out.stdout, "  web.service loaded active running Web server\n",
        "{out}"
    );

    // Unit files with their states, sorted by type then name.
    let out = d.ok(&["list-unit-files"]);
    assert_eq!(
        out.stdout,
        "UNIT FILE      STATE\n\
         broken.service static\n\
         once.service   static\n\
         spare.service  disabled\n\
         web.service    enabled\n\
         \n4 unit files listed.\n",
        "{out}"
    );
    let out = d.ok(&["list-unit-files", "--state=enabled,static", "--no-legend"]);
    assert_eq!(
        out.stdout, "broken.service static\nonce.service   static\nweb.service    enabled\n",
        "{out}"
    );
}

#[test]
fn enable_and_disable() {
    let mut d = Unitd::new();
    let fragment = d.write_unit(
        "svc.service",
        "[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=multi-user.target\n",
    );
    d.write_unit("helper.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let link = d.units.join("multi-user.target.wants/svc.service");

    let out = d.unitctl(&["is-enabled", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, "disabled\n"), "{out}");

    let out = d.unitctl(&["enable", "svc"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "Created symlink {} → {}.\n",
            link.display(),
            fragment.display()
        )
    );
    assert_eq!(std::fs::read_link(&link).ok(), Some(fragment.clone()));

    let out = d.unitctl(&["is-enabled", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "enabled\n"), "{out}");
    // Enabling again changes nothing and says nothing.
    let out = d.unitctl(&["enable", "svc.service"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out}");

    let out = d.unitctl(&["disable", "svc"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stderr, format!("Removed \"{}\".\n", link.display()));
    assert!(link.symlink_metadata().is_err(), "the link is still there");
    let out = d.unitctl(&["is-enabled", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, "disabled\n"), "{out}");

    // A unit without [Install] is static (counts as enabled) and can't be enabled.
    let out = d.unitctl(&["is-enabled", "helper"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "static\n"), "{out}");
    let out = d.unitctl(&["enable", "helper"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.starts_with(
            "The unit files have no installation config (WantedBy=, RequiredBy=, Also=,\n"
        ),
        "{out}"
    );

    // enable --now starts it too.
    d.ok(&["enable", "--now", "svc"]);
    let out = d.unitctl(&["is-active", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");

    // reenable: the links follow a changed [Install] section; --now restarts the unit.
    let main_pid = |d: &Unitd| d.ok(&["show", "-p", "MainPID", "--value", "svc"]).stdout;
    let before = main_pid(&d);
    d.write_unit(
        "svc.service",
        "[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=default.target\n",
    );
    let moved = d.units.join("default.target.wants/svc.service");
    let out = d.unitctl(&["reenable", "--now", "svc"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "Removed \"{}\".\nCreated symlink {} → {}.\n",
            link.display(),
            moved.display(),
            fragment.display()
        )
    );
    assert!(
        link.symlink_metadata().is_err(),
        "the old link is still there"
    );
    assert_eq!(std::fs::read_link(&moved).ok(), Some(fragment.clone()));
    let after = main_pid(&d);
    assert!(
        after != before && after != "0\n",
        "restarted: {before} -> {after}"
    );
}

#[test]
fn cancel_jobs_by_id_or_all() {
    let mut d = Unitd::new();
    for name in ["a", "b", "c"] {
        d.write_unit(
            &format!("slow-{name}.service"),
            "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\n",
        );
    }
    d.start();
    d.ok(&["--no-block", "start", "slow-a", "slow-b", "slow-c"]);
    let jobs = d.ok(&["list-jobs", "--no-legend"]).stdout;
    let id_of = |unit: &str| {
        jobs.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cols| cols.get(1) == Some(&unit))
            .map(|cols| cols[0].to_string())
            .unwrap_or_else(|| panic!("no job for {unit}:\n{jobs}"))
    };
    let a = id_of("slow-a.service");

    // One id that names no job: reported, the other still cancelled, exit 1 (systemctl's message).
    let out = d.unitctl(&["cancel", &a, "999999"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed to cancel job 999999: Job 999999 does not exist.\n"
        ),
        "{out}"
    );
    let left = d.ok(&["list-jobs", "--no-legend"]).stdout;
    assert!(!left.contains("slow-a.service"), "{left}");
    assert!(
        left.contains("slow-b.service") && left.contains("slow-c.service"),
        "{left}"
    );

    // No id: every job.
    let out = d.unitctl(&["cancel"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out}");
    assert_eq!(d.ok(&["list-jobs"]).stdout, "No jobs running.\n");

    let out = d.unitctl(&["cancel", "x1"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Failed to parse job id \"x1\": Invalid argument\n"),
        "{out}"
    );
}

#[test]
fn mask_and_unmask() {
    let mut d = Unitd::new();
    d.write_unit("own.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    // The unit's file is in the runtime unit directory (where fleet puts the units it loads); masking links its
    // name in the configuration directory, which comes first in the search path.
    let runtime_units = d.runtime.join("system");
    std::fs::create_dir_all(&runtime_units).expect("runtime unit dir");
    std::fs::write(
        runtime_units.join("svc.service"),
        "[Service]\nExecStart=/bin/sleep 300\n",
    )
    .expect("write unit");
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "svc"]);
    assert!(!d.cgroup_pids("svc.service").is_empty(), "svc runs");
    let link = d.units.join("svc.service");

    let out = d.unitctl(&["mask", "--now", "svc"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        out.stderr,
        format!("Created symlink {} → /dev/null.\n", link.display())
    );
    assert_eq!(
        std::fs::read_link(&link).ok(),
        Some(std::path::PathBuf::from("/dev/null"))
    );
    let out = d.unitctl(&["is-active", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "inactive\n"), "{out}");
    assert!(
        d.cgroup_pids("svc.service").is_empty(),
        "mask --now stopped it"
    );
    let out = d.unitctl(&["is-enabled", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, "masked\n"), "{out}");
    let out = d.unitctl(&["start", "svc"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed to start svc.service: Unit svc.service is masked.\n"
        ),
        "{out}"
    );
    // Masking again changes nothing and says nothing.
    let out = d.unitctl(&["mask", "svc.service"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out}");
    // A unit whose own file is in the configuration directory cannot be masked there: the file stays.
    let out = d.unitctl(&["mask", "own"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "Failed to mask unit: File {} already exists.\n",
            d.units.join("own.service").display()
        )
    );
    assert!(d.units.join("own.service").is_file());
    // A link to something else is replaced only with --force.
    let alias = d.units.join("alias.service");
    std::os::unix::fs::symlink(runtime_units.join("svc.service"), &alias).expect("link");
    let out = d.unitctl(&["mask", "alias"]);
    assert_eq!(
        (out.code, out.stderr.clone()),
        (
            1,
            format!(
                "Failed to mask unit: File {} already exists and is a symlink to {}.\n",
                alias.display(),
                runtime_units.join("svc.service").display()
            )
        ),
        "{out}"
    );
    d.ok(&["mask", "--force", "alias"]);
    assert_eq!(
        std::fs::read_link(&alias).ok(),
        Some(std::path::PathBuf::from("/dev/null"))
    );

    let out = d.unitctl(&["unmask", "svc"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stderr, format!("Removed \"{}\".\n", link.display()));
    assert!(link.symlink_metadata().is_err(), "the mask is still there");
    d.ok(&["start", "svc"]);
    let out = d.unitctl(&["is-active", "svc"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");

    // Without the reload the unit's UnitFileState follows the link all the same, as with enable/disable.
    let state = |d: &Unitd| d.ok(&["show", "-p", "UnitFileState", "svc"]).stdout;
    assert_eq!(state(&d), "UnitFileState=static\n");
    d.ok(&["mask", "--no-reload", "svc"]);
    assert_eq!(state(&d), "UnitFileState=masked\n");
    d.ok(&["unmask", "--no-reload", "svc"]);
    assert_eq!(state(&d), "UnitFileState=static\n");
}

#[test]
fn list_dependencies_and_inverse_properties() {
    let mut d = Unitd::new();
    d.write_unit("app.target", "[Unit]\nWants=web.service\n");
    d.write_unit(
        "web.service",
        "[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.write_unit("db.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit(
        "extra.service",
        "[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=app.target\n",
    );
    d.start();
    d.ok(&["start", "app.target"]);

    // Services are not expanded unless --all; the state glyph comes first.
    let out = d.ok(&["list-dependencies", "app.target"]);
    assert_eq!(out.stdout, "app.target\n● └─web.service\n", "{out}");
    let out = d.ok(&["list-dependencies", "--all", "app.target"]);
    assert_eq!(
        out.stdout, "app.target\n● └─web.service\n●   └─db.service\n",
        "{out}"
    );
    // The inverse edges: db is required by web, web wanted by the target; ordering both ways.
    let out = d.ok(&["list-dependencies", "--reverse", "db"]);
    assert_eq!(out.stdout, "db.service\n● └─web.service\n", "{out}");
    let out = d.ok(&["list-dependencies", "--reverse", "--all", "db"]);
    assert_eq!(
        out.stdout, "db.service\n● └─web.service\n●   └─app.target\n",
        "{out}"
    );
    let out = d.ok(&["list-dependencies", "--before", "db"]);
    assert_eq!(out.stdout, "db.service\n● └─web.service\n", "{out}");
    let out = d.ok(&["show", "-p", "RequiredBy,Before,WantedBy", "db"]);
    assert_eq!(
        out.stdout, "RequiredBy=web.service\nWantedBy=\nBefore=web.service\n",
        "{out}"
    );

    // [Install] alone makes no edge; enabling (a link in app.target.wants/) does, on both units.
    let out = d.ok(&["show", "-p", "WantedBy", "extra"]);
    assert_eq!(out.stdout, "WantedBy=\n", "{out}");
    d.ok(&["enable", "extra"]);
    let out = d.ok(&["show", "-p", "WantedBy", "extra"]);
    assert_eq!(out.stdout, "WantedBy=app.target\n", "{out}");
    let out = d.ok(&["list-dependencies", "app.target"]);
    assert_eq!(
        out.stdout, "app.target\n○ ├─extra.service\n● └─web.service\n",
        "{out}"
    );
    // --type (comma-separated, as everywhere) filters and flattens the tree.
    let out = d.ok(&[
        "list-dependencies",
        "--all",
        "--type=service,socket",
        "app.target",
    ]);
    assert_eq!(
        out.stdout, "app.target\n  extra.service\n  web.service\n  db.service\n",
        "{out}"
    );
    let out = d.ok(&["list-dependencies", "--plain", "--all", "app.target", "db"]);
    assert_eq!(
        out.stdout, "app.target\n  extra.service\n  web.service\n  db.service\n\ndb.service\n",
        "{out}"
    );
}

#[test]
fn starting_a_target_waits_for_the_units_it_pulls_in() {
    let mut d = Unitd::new();
    d.write_unit("app.target", "[Unit]\nWants=slow.service\n");
    d.write_unit(
        "bare.target",
        "[Unit]\nDefaultDependencies=no\nWants=slow2.service\n",
    );
    let slow = "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sleep 1\n";
    d.write_unit("slow.service", slow);
    d.write_unit("slow2.service", slow);
    d.start();

    // systemd orders a target after what it pulls in (its default dependencies), so the start job of the target
    // ends once the service's has.
    let started = Instant::now();
    d.ok(&["start", "app.target"]);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "start returned after {:?}",
        started.elapsed()
    );
    let out = d.unitctl(&["is-active", "slow"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");
    let out = d.ok(&["list-dependencies", "--after", "app.target"]);
    assert_eq!(out.stdout, "app.target\n● └─slow.service\n", "{out}");
    let out = d.ok(&["show", "-p", "Before", "slow"]);
    assert_eq!(out.stdout, "Before=app.target\n", "{out}");

    // Not with DefaultDependencies=no: the target is active at once, the service still starting.
    d.ok(&["start", "bare.target"]);
    let out = d.unitctl(&["is-active", "bare.target", "slow2"]);
    assert_eq!(out.stdout, "active\nactivating\n", "{out}");
    let out = d.ok(&["list-dependencies", "--after", "bare.target"]);
    assert_eq!(out.stdout, "bare.target\n", "{out}");
}

#[test]
fn on_failure_and_on_success_units_are_started() {
    let mut d = Unitd::new();
    let log = d.root.path().join("alerts");
    // A template, as OnFailure=alert@%n.service is usually written: each run appends the failed unit's name.
    d.write_unit(
        "alert@.service",
        &format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo %i >> {}'\n",
            log.display()
        ),
    );
    d.write_unit(
        "broken.service",
        "[Unit]\nOnFailure=alert@%n.service\n[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    // Fails three times within its start limit: restarts are not failures yet, the start limit is.
    d.write_unit(
        "flappy.service",
        "[Unit]\nOnFailure=alert@%n.service\nStartLimitIntervalSec=60\nStartLimitBurst=3\n\
         [Service]\nExecStart=/bin/false\nRestart=on-failure\nRestartSec=100ms\n",
    );
    d.write_unit(
        "fine.service",
        "[Unit]\nOnSuccess=alert@%n.service\nOnFailure=alert@never.service\n\
         [Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.start();
    let lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    let out = d.unitctl(&["start", "broken"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        wait_for(Duration::from_secs(10), || lines() == ["broken.service"]),
        "{:?}",
        lines()
    );
    let out = d.ok(&["show", "-p", "OnFailure", "broken"]);
    assert_eq!(
        out.stdout, "OnFailure=alert@broken.service.service\n",
        "{out}"
    );
    let out = d.ok(&["show", "-p", "OnFailureOf", "alert@broken.service.service"]);
    assert_eq!(out.stdout, "OnFailureOf=broken.service\n", "{out}");

    d.unitctl(&["start", "flappy"]);
    assert!(
        wait_for(Duration::from_secs(10), || {
            d.unitctl(&["is-failed", "flappy"]).code == 0
        }),
        "flappy never failed for good"
    );
    let out = d.ok(&["show", "-p", "Result", "flappy"]);
    assert_eq!(out.stdout, "Result=start-limit-hit\n", "{out}");
    assert!(
        wait_for(Duration::from_secs(10), || lines().len() == 2),
        "{:?}",
        lines()
    );
    d.ok(&["start", "fine"]);
    assert!(
        wait_for(Duration::from_secs(10), || lines().len() == 3),
        "{:?}",
        lines()
    );
    // Once per failure for good, none per restart; OnSuccess= for the clean exit, not OnFailure=.
    assert_eq!(
        lines(),
        ["broken.service", "flappy.service", "fine.service"],
        "{:?}",
        lines()
    );

    // OnFailureJobMode=fail: the start is refused while a stop job of that unit runs (replace would undo the stop).
    d.write_unit(
        "guard.service",
        "[Service]\nExecStart=/bin/sleep 300\nExecStop=/bin/sleep 1\n",
    );
    d.write_unit(
        "strict.service",
        "[Unit]\nOnFailure=guard.service\nOnFailureJobMode=fail\n\
         [Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    d.ok(&["daemon-reload"]);
    d.ok(&["start", "guard"]);
    d.ok(&["--no-block", "stop", "guard"]);
    assert_eq!(d.unitctl(&["start", "strict"]).code, 1);
    assert!(
        wait_for(Duration::from_secs(10), || d
            .unitctl(&["is-active", "guard"])
            .stdout
            == "inactive\n"),
        "guard did not stop"
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = d.unitctl(&["is-active", "guard"]);
    assert_eq!(out.stdout, "inactive\n", "{out}");
}

#[test]
fn cat_shows_fragment_and_drop_ins() {
    let mut d = Unitd::new();
    let fragment_text = "[Unit]\nDescription=Catted\n\n[Service]\nExecStart=/bin/sleep 300\n";
    let fragment = d.write_unit("catted.service", fragment_text);
    let dropin_text = "[Service]\nEnvironment=FOO=bar\n";
    let dropin = d.write_unit("catted.service.d/override.conf", dropin_text);
    d.start();

    let out = d.ok(&["cat", "catted"]);
    assert_eq!(
        out.stdout,
        format!(
            "# {}\n{fragment_text}\n# {}\n{dropin_text}",
            fragment.display(),
            dropin.display()
        )
    );

    // status lists the drop-in too.
    let out = d.unitctl(&["status", "catted"]);
    assert_eq!(out.code, 3, "{out}");
    let page = lines(&out.stdout);
    assert_eq!(
        page[2..4],
        [
            format!(
                "    Drop-In: {}",
                d.units.join("catted.service.d").display()
            ),
            "             └─override.conf".to_string(),
        ],
        "{out}"
    );
}

/// A service that logs `one`, `two`, `three` and then a line per poke (a file appearing in `dir`).
fn chatty_unit(dir: &std::path::Path) -> String {
    // The short sleep first: unitd attaches the main pid to a unit's log lines only once the spawn returned,
    // so lines written before that are recorded without `_PID` (shown as `sh:` instead of `sh[PID]:`).
    format!(
        "[Service]\nExecStart=/bin/sh -c 'sleep 0.2; echo one; echo two; echo three; \
         while :; do if [ -e {poke} ]; then rm {poke}; echo poked; fi; sleep 0.1; done'\n",
        poke = dir.join("poke").display()
    )
}

#[test]
fn journal_lines_json_and_follow() {
    let mut d = Unitd::new();
    let poke_dir = d.root.path().to_path_buf();
    d.write_unit("chatty.service", &chatty_unit(&poke_dir));
    d.start();
    d.ok(&["start", "chatty"]);
    let pid = d.ok(&["show", "-p", "MainPID", "--value", "chatty"]).stdout;
    let pid = pid.trim();
    assert!(
        wait_for(Duration::from_secs(5), || d
            .ok(&["journal", "-u", "chatty", "-o", "cat"])
            .stdout
            .contains("three\n")),
        "the unit's lines never reached the journal"
    );

    // -o json: one object per line with the message, unit, identifier and pid.
    let out = d.ok(&["journal", "-u", "chatty", "-n", "2", "-o", "json"]);
    let records: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    for (record, message) in records.iter().zip(["two", "three"]) {
        assert_eq!(record["MESSAGE"], message, "{record}");
        assert_eq!(record["_SYSTEMD_UNIT"], "chatty.service", "{record}");
        assert_eq!(record["SYSLOG_IDENTIFIER"], "sh", "{record}");
        assert_eq!(record["_PID"], pid, "{record}");
    }

    // -n 2: the last two lines in short format, with the times the JSON gave.
    let out = d.ok(&["journal", "-u", "chatty", "-n", "2"]);
    let host = hostname();
    let want: String = records
        .iter()
        .map(|r| {
            let usec: i64 = r["__REALTIME_TIMESTAMP"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("__REALTIME_TIMESTAMP");
            let time = chrono::DateTime::from_timestamp_micros(usec).expect("time");
            format!(
                "{} {host} sh[{pid}]: {}\n",
                time.format("%b %d %H:%M:%S"),
                r["MESSAGE"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(out.stdout, want);

    // Other units' lines are not shown; a unit without any says so.
    let out = d.ok(&["journal", "-u", "quiet.service"]);
    assert_eq!(out.stdout, "-- No entries --\n");

    // -f: the last lines, then what is written afterwards.
    let mut follow = d
        .command(&["journal", "-u", "chatty", "-f", "-o", "cat"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn journal -f");
    let stdout = Captured::start(follow.stdout.take());
    let stderr = Captured::start(follow.stderr.take());
    let shown_old = wait_for(Duration::from_secs(5), || stdout.text().contains("three\n"));
    std::fs::write(poke_dir.join("poke"), "").expect("poke");
    let shown_new = wait_for(Duration::from_secs(5), || stdout.text().contains("poked\n"));
    let exited = follow.try_wait().expect("try_wait");
    let _ = follow.kill();
    let _ = follow.wait();
    let (text, errors) = (stdout.finish(), stderr.finish());
    assert!(
        exited.is_none(),
        "journal -f exited: {exited:?}\n{text}{errors}"
    );
    assert!(
        shown_old,
        "journal -f did not show the last lines:\n{text}{errors}"
    );
    assert!(
        shown_new,
        "journal -f did not show a new line:\n{text}{errors}"
    );
    assert!(
        text.starts_with("Starting chatty.service...\nStarted chatty.service.\none\ntwo\nthree\n"),
        "{text}"
    );
}

#[test]
fn daemon_reload_and_kill() {
    let mut d = Unitd::new();
    d.write_unit("hello.service", HELLO);
    d.start();
    d.ok(&["start", "hello"]);

    d.write_unit(
        "hello.service",
        &HELLO.replace("Hello World", "Hello Again"),
    );
    let out = d.ok(&["show", "-p", "Description", "--value", "hello"]);
    assert_eq!(
        out.stdout, "Hello World\n",
        "nothing changes before daemon-reload"
    );
    let out = d.unitctl(&["daemon-reload"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    let out = d.ok(&["show", "-p", "Description", "--value", "hello"]);
    assert_eq!(out.stdout, "Hello Again\n");
    // The running service kept running.
    let out = d.ok(&["is-active", "hello"]);
    assert_eq!(out.stdout, "active\n");
    let out = d.ok(&["status", "hello"]);
    assert!(
        out.stdout.starts_with("● hello.service - Hello Again\n"),
        "{out}"
    );

    let out = d.unitctl(&["kill", "-s", "SIGKILL", "hello"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || d
            .unitctl(&["is-failed", "hello"])
            .code
            == 0),
        "hello did not fail after SIGKILL"
    );
    let out = d.ok(&["show", "-p", "Result", "--value", "hello"]);
    assert_eq!(out.stdout, "signal\n");
    let status = d.unitctl(&["status", "hello"]);
    assert_eq!(status.code, 3, "{status}");
    assert!(
        lines(&status.stdout)[2].starts_with("     Active: failed (Result: signal) since "),
        "{status}"
    );
    assert!(
        status.stdout.contains(" (code=killed, signal=KILL)\n"),
        "{status}"
    );

    // A bad signal name is refused before anything is sent.
    let out = d.unitctl(&["kill", "-s", "SIGNOPE", "hello"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Failed to parse signal string SIGNOPE.\n"),
        "{out}"
    );
}

/// File-name suffixes of unit files.
const UNIT_SUFFIXES: [&str; 11] = [
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
];

#[test]
fn verify_the_hosts_unit_files() {
    let dir = std::path::Path::new("/lib/systemd/system");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("{} does not exist; nothing to verify", dir.display());
        return;
    };
    let mut files: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.is_dir())
        .filter(|p| {
            std::fs::read_link(p).ok().as_deref() != Some(std::path::Path::new("/dev/null"))
        })
        .filter_map(|p| p.to_str().map(str::to_string))
        .filter(|p| UNIT_SUFFIXES.iter().any(|s| p.ends_with(s)))
        .collect();
    files.sort();
    for batch in files.chunks(40) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
        cmd.env_remove("UNITD_ADDRESS").arg("verify").args(batch);
        let out = common::run_with_timeout(cmd, Duration::from_secs(30));
        assert_eq!(out.code, 0, "{}: {out}", batch.join(" "));
        // Only warnings (missing executables and the like), each about one of the files.
        for line in out.stdout.lines() {
            assert!(
                batch.iter().any(|f| line.starts_with(&format!("{f}:"))),
                "{line}"
            );
        }
    }
}

#[test]
fn verify_reports_a_bad_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.service");
    std::fs::write(
        &bad,
        "[Unit]\nDescription=bad\n\n[Service]\nExecStart=/bin/sh -c \"echo unterminated\n",
    )
    .expect("write");
    let good = tmp.path().join("good.service");
    std::fs::write(&good, "[Service]\nExecStart=/bin/true\n").expect("write");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
    cmd.env_remove("UNITD_ADDRESS")
        .arg("verify")
        .arg(&good)
        .arg(&bad);
    let out = common::run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code, 1, "{out}");
    let prefix = format!("{}:5: ", bad.display());
    assert!(
        !out.stdout.is_empty() && out.stdout.lines().all(|l| l.starts_with(&prefix)),
        "{out}"
    );

    // A dependency loop between two otherwise fine files: one error at the first After= of the loop.
    let x = tmp.path().join("x.service");
    let y = tmp.path().join("y.service");
    std::fs::write(
        &x,
        "[Unit]\nAfter=y.service\n[Service]\nExecStart=/bin/true\n",
    )
    .expect("write");
    std::fs::write(
        &y,
        "[Unit]\nAfter=x.service\n[Service]\nExecStart=/bin/true\n",
    )
    .expect("write");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
    cmd.env_remove("UNITD_ADDRESS")
        .arg("verify")
        .arg(&x)
        .arg(&y);
    let out = common::run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.starts_with(&format!(
            "{}:2: Ordering cycle found: x.service is after y.service",
            x.display()
        )) && out.stdout.contains(&format!("({}:2)", y.display())),
        "{out}"
    );
}

#[test]
fn daemon_reexec_returns_once_unitd_is_back() {
    let mut d = Unitd::new();
    d.write_unit("hello.service", HELLO);
    d.start();
    d.ok(&["start", "hello"]);
    let pid = d.ok(&["show", "-p", "MainPID", "--value", "hello"]).stdout;
    // Every command after daemon-reexec must find unitd (unitd execs itself shortly after its reply: a
    // daemon-reexec that returned on the reply left the next commands to be reset or refused), with the
    // service re-attached.
    for _ in 0..3 {
        let out = d.unitctl(&["daemon-reexec"]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{out}"
        );
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            let out = d.unitctl(&["is-active", "hello"]);
            assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");
        }
        let out = d.ok(&["show", "-p", "MainPID", "--value", "hello"]);
        assert_eq!(out.stdout, pid);
    }
}

#[test]
fn template_instances_load_on_demand() {
    let mut d = Unitd::new();
    let template = d.write_unit(
        "web@.service",
        "[Unit]\nDescription=Web %i\n[Service]\nExecStart=/bin/sleep 30%i\n",
    );
    d.start();

    d.ok(&["start", "web@1"]);
    let out = d.ok(&["status", "web@1"]);
    let page = lines(&out.stdout);
    assert_eq!(page[0], "● web@1.service - Web 1", "{out}");
    assert_eq!(
        page[1],
        format!("     Loaded: loaded ({}; static)", template.display()),
        "{out}"
    );
    assert!(out.stdout.contains(" /bin/sleep 301\n"), "{out}");

    // Instances nobody loaded yet: each lookup loads one, and its properties are there at once (in unitd's
    // order, as systemctl prints them in the order the manager sends them).
    for n in 2..40 {
        let unit = format!("web@{n}");
        let out = d.ok(&["show", "-p", "Id,LoadState,ActiveState,Description", &unit]);
        assert_eq!(
            out.stdout,
            format!(
                "Id=web@{n}.service\nDescription=Web {n}\nLoadState=loaded\nActiveState=inactive\n"
            ),
            "{out}"
        );
    }
    let out = d.unitctl(&["status", "web@40"]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stdout.starts_with("○ web@40.service - Web 40\n"),
        "{out}"
    );
    let out = d.ok(&["cat", "web@41"]);
    assert!(
        out.stdout
            .starts_with(&format!("# {}\n", template.display())),
        "{out}"
    );
}

#[test]
fn over_a_message_bus() {
    let mut d = Unitd::new();
    let bus = common::DbusDaemon::start(d.root.path());
    d.bus = Some(bus.address.clone());
    d.write_unit("hello.service", HELLO);
    d.start();
    // unitctl at the bus address: a bus connection, where unitd is org.freedesktop.systemd1.
    let on_bus = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
        cmd.env_remove("UNITD_ADDRESS")
            .env("TZ", "UTC")
            .arg("--address")
            .arg(&bus.address)
            .args(args);
        common::run_with_timeout(cmd, Duration::from_secs(30))
    };
    assert!(
        wait_for(Duration::from_secs(10), || on_bus(&["is-active", "hello"])
            .stdout
            == "inactive\n"),
        "unitd never answered on the bus:\n{}",
        d.log()
    );

    // Job waiting through the bus daemon (JobRemoved matched by sender).
    let out = on_bus(&["start", "hello"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    let out = on_bus(&["is-active", "hello"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");

    // daemon-reexec returns once the new unitd owns the name again.
    let out = on_bus(&["daemon-reexec"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out}"
    );
    let out = on_bus(&["is-active", "hello"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "active\n"), "{out}");
    let out = on_bus(&["stop", "hello"]);
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn manager_environment_reaches_units_started_afterwards() {
    let mut d = Unitd::new();
    let dump = d.root.path().join("env.txt");
    d.write_unit(
        "envdump.service",
        &format!(
            "[Service]\nType=oneshot\nEnvironment=OWN=unit\nExecStart=/bin/sh -c 'echo \"$GREETING|$OWN|$PATH\" > {}'\n",
            dump.display()
        ),
    );
    d.start();
    let show = |d: &Unitd| d.ok(&["show-environment"]).stdout;
    let before = show(&d);
    assert!(before.lines().any(|l| l.starts_with("PATH=")), "{before}");
    assert!(!before.contains("GREETING"), "{before}");

    d.ok(&[
        "set-environment",
        "GREETING=hello world",
        "OWN=manager",
        "PATH=/usr/bin:/bin",
    ]);
    let env = show(&d);
    for line in [
        "GREETING=$'hello world'",
        "OWN=manager",
        "PATH=/usr/bin:/bin",
    ] {
        assert!(lines(&env).contains(&line), "{line} in {env}");
    }
    let mut sorted = lines(&env);
    sorted.sort();
    assert_eq!(sorted, lines(&env), "sorted by name");
    let json = d.ok(&["show-environment", "-o", "json"]).stdout;
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(parsed["GREETING"], "hello world");

    // A unit started now gets the manager's variables; its own Environment= wins over them.
    d.ok(&["start", "envdump"]);
    assert_eq!(
        std::fs::read_to_string(&dump).expect("dump"),
        "hello world|unit|/usr/bin:/bin\n"
    );

    // Bad input is refused with systemd's message and changes nothing.
    let out = d.unitctl(&["set-environment", "NOEQUALS"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed to set environment: Invalid environment assignments\n"
        ),
        "{out}"
    );
    let out = d.unitctl(&["unset-environment", "9LIVES"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "Failed to set environment: Invalid environment variable names or assignments\n"
        ),
        "{out}"
    );
    let out = d.unitctl(&["set-environment"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(show(&d), env);

    // NAME=value unsets only that value; a name unsets whatever it holds.
    d.ok(&["unset-environment", "GREETING=other"]);
    assert!(show(&d).contains("GREETING="));
    d.ok(&["unset-environment", "GREETING", "OWN"]);
    let env = show(&d);
    assert!(!env.contains("GREETING") && !env.contains("OWN"), "{env}");

    // import-environment copies this shell's variables by name.
    let mut cmd = d.command(&["import-environment", "IMPORTED", "MISSING"]);
    cmd.env("IMPORTED", "from the shell").env_remove("MISSING");
    let out = common::run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (0, "Environment variable $MISSING not set, ignoring.\n"),
        "{out}"
    );
    assert!(lines(&show(&d)).contains(&"IMPORTED=$'from the shell'"));

    // The environment outlives a re-exec (it is kept in the runtime directory), and units see its changes.
    d.ok(&["set-environment", "GREETING=again"]);
    d.ok(&["daemon-reexec"]);
    assert!(lines(&show(&d)).contains(&"GREETING=again"));
    d.ok(&["restart", "envdump"]);
    let dumped = std::fs::read_to_string(&dump).expect("dump");
    assert!(dumped.starts_with("again|unit|"), "{dumped}");
}

#[test]
fn exec_environment_tells_results_and_invocations() {
    let mut d = Unitd::new();
    let log = d.root.path().join("events");
    let l = log.display();
    // A service that fails, with a stop-post step, and a template handler for its failure.
    d.write_unit(
        "crash.service",
        &format!(
            "[Unit]\nOnFailure=report@%n.service\n[Service]\n\
             ExecStart=/bin/sh -c 'echo \"start $INVOCATION_ID\" >> {l}; exit 3'\n\
             ExecStopPost=/bin/sh -c 'echo \"stoppost $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS $INVOCATION_ID\" >> {l}'\n"
        ),
    );
    d.write_unit(
        "report@.service",
        &format!(
            "[Service]\nType=oneshot\n\
             ExecStart=/bin/sh -c 'echo \"report %i $MONITOR_SERVICE_RESULT $MONITOR_EXIT_CODE $MONITOR_EXIT_STATUS $MONITOR_INVOCATION_ID $MONITOR_UNIT\" >> {l}'\n"
        ),
    );
    // A long-running one whose ExecStop= runs while the main process is still alive.
    d.write_unit(
        "daemon.service",
        &format!(
            "[Service]\nExecStart=/bin/sleep 300\n\
             ExecStop=/bin/sh -c 'echo \"stop $SERVICE_RESULT $${{EXIT_CODE-none}}\" >> {l}'\n\
             ExecStopPost=/bin/sh -c 'echo \"daemon-stoppost $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS\" >> {l}'\n"
        ),
    );
    // A handler named by two units gets no MONITOR_* (systemd cannot tell which one to report).
    for name in ["one.service", "two.service"] {
        d.write_unit(
            name,
            "[Unit]\nOnFailure=shared.service\n[Service]\nExecStart=/bin/false\n",
        );
    }
    d.write_unit(
        "shared.service",
        &format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo \"shared $${{MONITOR_UNIT-none}}\" >> {l}'\n"
        ),
    );
    d.start();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait_lines = |n: usize| {
        assert!(
            wait_for(Duration::from_secs(10), || read().lines().count() >= n),
            "{n} lines in {}",
            read()
        );
    };

    d.unitctl(&["start", "crash"]);
    wait_lines(3);
    let id = d
        .ok(&["show", "-p", "InvocationID", "--value", "crash"])
        .stdout
        .trim()
        .to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    assert_eq!(
        read(),
        format!(
            "start {id}\nstoppost exit-code exited 3 {id}\n\
             report crash.service exit-code exited 3 {id} crash.service\n"
        )
    );

    // Each start is a new invocation.
    d.ok(&["reset-failed", "crash"]);
    d.unitctl(&["start", "crash"]);
    wait_lines(6);
    let second = d
        .ok(&["show", "-p", "InvocationID", "--value", "crash"])
        .stdout
        .trim()
        .to_string();
    assert_ne!(second, id);
    assert!(read().contains(&format!("start {second}\n")));

    std::fs::write(&log, "").expect("truncate");
    d.ok(&["start", "daemon"]);
    d.ok(&["stop", "daemon"]);
    wait_lines(2);
    // ExecStop= runs before the main process is gone (no exit yet); SIGTERM is a clean stop.
    assert_eq!(
        read(),
        "stop success none\ndaemon-stoppost success killed TERM\n"
    );

    std::fs::write(&log, "").expect("truncate");
    d.unitctl(&["start", "one"]);
    wait_lines(1);
    assert_eq!(read(), "shared none\n");
    let journal = d.ok(&["journal", "-u", "shared", "-o", "cat"]).stdout;
    assert!(
        journal.contains("multiple trigger source candidates for exit status propagation"),
        "{journal}"
    );
}

/// A cgroup file of `unit` in the test's slice: v1 under `controller`, else the unified hierarchy.
fn cgroup_file(d: &Unitd, unit: &str, controller: &str, v1: &str, v2: &str) -> Option<String> {
    let base = std::path::Path::new("/sys/fs/cgroup");
    [
        base.join(controller).join(&d.slice).join(unit).join(v1),
        base.join(&d.slice).join(unit).join(v2),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .map(|s| s.trim().to_string())
}

#[test]
fn set_property_changes_limits_of_a_running_unit() {
    let mut d = Unitd::new();
    d.write_unit("limited.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    d.ok(&["start", "limited"]);
    let pid = d
        .ok(&["show", "-p", "MainPID", "--value", "limited"])
        .stdout;
    let memory = |d: &Unitd| {
        cgroup_file(
            d,
            "limited.service",
            "memory",
            "memory.limit_in_bytes",
            "memory.max",
        )
    };
    let value = |d: &Unitd, p: &str| {
        d.ok(&["show", "-p", p, "--value", "limited"])
            .stdout
            .trim()
            .to_string()
    };

    d.ok(&["set-property", "limited", "MemoryMax=64M", "CPUQuota=50%"]);
    assert_eq!(value(&d, "MemoryMax"), "67108864");
    assert_eq!(value(&d, "CPUQuotaPerSecUSec"), "500ms");
    assert_eq!(
        memory(&d).as_deref(),
        Some("67108864"),
        "applied to the cgroup"
    );
    assert_eq!(
        d.ok(&["show", "-p", "MainPID", "--value", "limited"])
            .stdout,
        pid,
        "without a restart"
    );
    // Kept as systemd keeps it: a drop-in per property in the control directory.
    let control = std::path::PathBuf::from(format!("{}.control", d.units.display()));
    let drop_in = control.join("limited.service.d/50-MemoryMax.conf");
    let text = std::fs::read_to_string(&drop_in).expect("drop-in");
    assert!(text.ends_with("[Service]\nMemoryMax=67108864\n"), "{text}");
    assert!(control.join("limited.service.d/50-CPUQuota.conf").exists());

    // --runtime keeps it in the runtime control directory.
    d.ok(&["set-property", "--runtime", "limited", "TasksMax=50"]);
    assert_eq!(value(&d, "TasksMax"), "50");
    assert!(d
        .runtime
        .join("system.control/limited.service.d/50-TasksMax.conf")
        .exists());

    // Bad input is refused, naming the problem, and changes nothing.
    let out = d.unitctl(&["set-property", "limited", "Bogus=1"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (1, "Unknown assignment: Bogus=1\n"),
        "{out}"
    );
    let out = d.unitctl(&["set-property", "limited", "MemoryMax=32M", "CPUWeight=0"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        out.stderr,
        "Failed to set unit properties on limited.service: Invalid value for CPUWeight: a weight is 1…10000\n"
    );
    assert_eq!(
        value(&d, "MemoryMax"),
        "67108864",
        "nothing of a refused call is applied"
    );
    let out = d.unitctl(&["set-property", "limited"]);
    assert_eq!(out.code, 1, "{out}");

    // The setting holds across a restart of the unit.
    d.ok(&["restart", "limited"]);
    assert_eq!(memory(&d).as_deref(), Some("67108864"));

    // daemon-reload applies an edited unit file's limits to the running unit, as systemd does; the
    // set-property drop-in still wins over the file.
    d.write_unit(
        "limited.service",
        "[Service]\nExecStart=/bin/sleep 300\nMemoryMax=32M\nCPUWeight=300\n",
    );
    d.ok(&["daemon-reload"]);
    assert_eq!(memory(&d).as_deref(), Some("67108864"));
    let weight = cgroup_file(&d, "limited.service", "cpu", "cpu.shares", "cpu.weight");
    assert!(
        matches!(weight.as_deref(), Some("3072") | Some("300")),
        "{weight:?}"
    );
}

#[test]
fn upholds_keeps_a_unit_running_while_its_upholder_is_active() {
    let mut d = Unitd::new();
    d.write_unit(
        "keeper.service",
        "[Unit]\nUpholds=worker.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    // No Restart=: only Upholds= brings it back.
    d.write_unit("worker.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let main_pid = |d: &Unitd| {
        d.ok(&["show", "-p", "MainPID", "--value", "worker"])
            .stdout
            .trim()
            .parse::<i32>()
            .unwrap_or(0)
    };
    let active = |d: &Unitd| d.unitctl(&["is-active", "worker"]).code == 0;

    // Upholds= pulls the unit in as Wants= does.
    d.ok(&["start", "keeper"]);
    assert!(wait_for(Duration::from_secs(5), || active(&d)));
    assert_eq!(
        d.ok(&["show", "-p", "Upholds", "--value", "keeper"]).stdout,
        "worker.service\n"
    );
    assert_eq!(
        d.ok(&["show", "-p", "UpheldBy", "--value", "worker"])
            .stdout,
        "keeper.service\n"
    );

    // Killed, it is started again at once.
    let first = main_pid(&d);
    d.ok(&["kill", "-s", "KILL", "worker"]);
    assert!(
        wait_for(Duration::from_secs(5), || {
            let pid = main_pid(&d);
            pid != 0 && pid != first && active(&d)
        }),
        "worker started again after SIGKILL"
    );
    // Stopped by hand too, as long as its upholder runs.
    let second = main_pid(&d);
    d.ok(&["stop", "worker"]);
    assert!(
        wait_for(Duration::from_secs(5), || {
            let pid = main_pid(&d);
            pid != 0 && pid != second && active(&d)
        }),
        "worker started again after a stop"
    );
    let journal = d.ok(&["journal", "-u", "worker", "-o", "cat"]).stdout;
    assert!(
        journal.contains("Unit is started because upheld by active unit keeper.service."),
        "{journal}"
    );

    // With the upholder stopped, the unit stays down.
    d.ok(&["stop", "keeper"]);
    d.ok(&["stop", "worker"]);
    std::thread::sleep(Duration::from_millis(500));
    let out = d.unitctl(&["is-active", "worker"]);
    assert_eq!(out.stdout, "inactive\n", "{out}");
}
