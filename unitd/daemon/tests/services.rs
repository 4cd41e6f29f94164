//! Service lifecycle against a real unitd: simple, oneshot, forking and notify services; restarts and the start
//! limit; stopping a service kills what it forked; the journal captures output.

mod common;

use std::time::Duration;

use common::*;
use unitd_client::JobResult;

#[tokio::test]
async fn simple_service_starts_stops_and_restarts_with_a_new_pid() {
    let mut d = Unitd::new();
    d.write_unit(
        "hello.service",
        "[Unit]\nDescription=Hello\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "hello.service").await, JobResult::Done);
    assert_eq!(active_state(&conn, "hello.service").await, "active");
    assert_eq!(sub_state(&conn, "hello.service").await, "running");
    let pid = main_pid(&conn, "hello.service").await;
    assert!(pid > 0 && process_alive(pid as i32));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "sleep"
    );

    assert_eq!(restart(&conn, "hello.service").await, JobResult::Done);
    let new_pid = main_pid(&conn, "hello.service").await;
    assert!(
        new_pid > 0 && new_pid != pid,
        "restart gave pid {new_pid}, was {pid}"
    );
    assert!(
        !process_alive(pid as i32),
        "old main process survived the restart"
    );

    assert_eq!(stop(&conn, "hello.service").await, JobResult::Done);
    assert_eq!(active_state(&conn, "hello.service").await, "inactive");
    assert_eq!(main_pid(&conn, "hello.service").await, 0);
    assert!(!process_alive(new_pid as i32));
    let journal = journal_messages(&d.state, "hello.service");
    assert!(journal.iter().any(|m| m == "Started Hello."), "{journal:?}");
    assert!(journal.iter().any(|m| m == "Stopped Hello."), "{journal:?}");
}

#[tokio::test]
async fn oneshot_runs_to_completion_and_remain_after_exit_stays_active() {
    let mut d = Unitd::new();
    let marker = d.root.path().join("ran");
    d.write_unit(
        "setup.service",
        &format!(
            "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo one >> {m}'\nExecStart=/bin/sh -c 'echo two >> {m}'\n",
            m = marker.display()
        ),
    );
    d.write_unit(
        "once.service",
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    );
    d.write_unit(
        "broken.service",
        "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 3'\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "setup.service").await, JobResult::Done);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "one\ntwo\n",
        "both ExecStart= ran, in order"
    );
    assert_eq!(
        (
            active_state(&conn, "setup.service").await,
            sub_state(&conn, "setup.service").await
        ),
        ("active".into(), "exited".into())
    );

    assert_eq!(start(&conn, "once.service").await, JobResult::Done);
    assert_eq!(active_state(&conn, "once.service").await, "inactive");

    assert_eq!(start(&conn, "broken.service").await, JobResult::Failed);
    assert_eq!(active_state(&conn, "broken.service").await, "failed");
    assert_eq!(result(&conn, "broken.service").await, "exit-code");
    let svc = unitd_client::proxies::service(&conn, "broken.service")
        .await
        .unwrap();
    assert_eq!(
        (
            svc.exec_main_code().await.unwrap(),
            svc.exec_main_status().await.unwrap()
        ),
        (1, 3)
    );
}

#[tokio::test]
async fn forking_service_main_pid_comes_from_its_pid_file() {
    let mut d = Unitd::new();
    let pidfile = d.root.path().join("daemon.pid");
    d.write_unit(
        "forker.service",
        &format!(
            "[Service]\nType=forking\nPIDFile={p}\nExecStart=/bin/sh -c 'sleep 300 & echo $! > {p}'\n",
            p = pidfile.display()
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "forker.service").await, JobResult::Done);
    let written: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(main_pid(&conn, "forker.service").await, written);
    assert_eq!(sub_state(&conn, "forker.service").await, "running");
    assert_eq!(stop(&conn, "forker.service").await, JobResult::Done);
    assert!(!process_alive(written as i32));
}

#[tokio::test]
async fn notify_service_is_active_only_after_ready() {
    let mut d = Unitd::new();
    // READY=1 comes 1 s after start, from the main process itself.
    d.write_unit(
        "notifier.service",
        "[Service]\nType=notify\nExecStart=/usr/bin/python3 -c \"import os,socket,time; time.sleep(1); s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'READY=1\\\\nSTATUS=serving'); time.sleep(300)\"\n",
    );
    d.start();
    let conn = d.conn().await;
    let waiter_conn = d.conn().await;
    let started = std::time::Instant::now();
    let job = tokio::spawn(async move { start(&waiter_conn, "notifier.service").await });
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "notifier.service").await == "activating"
        })
        .await
    );
    assert_eq!(job.await.unwrap(), JobResult::Done);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "start finished before READY=1"
    );
    assert_eq!(active_state(&conn, "notifier.service").await, "active");
    let svc = unitd_client::proxies::service(&conn, "notifier.service")
        .await
        .unwrap();
    assert_eq!(svc.status_text().await.unwrap(), "serving");
    assert_eq!(stop(&conn, "notifier.service").await, JobResult::Done);
}

#[tokio::test]
async fn on_failure_restarts_after_restart_sec_until_the_start_limit() {
    let mut d = Unitd::new();
    d.write_unit(
        "flaky.service",
        "[Unit]\nStartLimitIntervalSec=60\nStartLimitBurst=3\n[Service]\nExecStart=/bin/sh -c 'sleep 0.2; exit 1'\nRestart=on-failure\nRestartSec=300ms\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "flaky.service").await, JobResult::Done);
    let first = main_pid(&conn, "flaky.service").await;
    // Auto-restarted at least once, with RestartSec between exit and restart.
    assert!(
        wait_for(Duration::from_secs(5), || async {
            let pid = main_pid(&conn, "flaky.service").await;
            pid != 0 && pid != first
        })
        .await
    );
    // Three starts within the interval, then start-limit-hit.
    assert!(
        wait_for(Duration::from_secs(10), || async {
            active_state(&conn, "flaky.service").await == "failed"
        })
        .await
    );
    assert_eq!(result(&conn, "flaky.service").await, "start-limit-hit");
    let svc = unitd_client::proxies::service(&conn, "flaky.service")
        .await
        .unwrap();
    assert_eq!(svc.n_restarts().await.unwrap(), 2);
    let journal = journal_messages(&d.state, "flaky.service");
    assert!(
        journal
            .iter()
            .any(|m| m.contains("Start request repeated too quickly")),
        "{journal:?}"
    );
}

#[tokio::test]
async fn stop_kills_forked_grandchildren_and_empties_the_cgroup() {
    let mut d = Unitd::new();
    d.write_unit(
        "family.service",
        "[Service]\nExecStart=/bin/sh -c 'sleep 300 & (sleep 300 &) ; sleep 300'\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "family.service").await, JobResult::Done);
    assert!(
        wait_for(Duration::from_secs(5), || async {
            d.cgroup_pids("family.service").len() >= 4
        })
        .await
    );
    let pids = d.cgroup_pids("family.service");
    assert_eq!(stop(&conn, "family.service").await, JobResult::Done);
    for pid in &pids {
        assert!(
            !process_alive(*pid),
            "pid {pid} of the service survived its stop"
        );
    }
    assert!(d.cgroup_pids("family.service").is_empty());
}

#[tokio::test]
async fn journal_captures_stdout_and_stderr_with_the_process_identifier() {
    let mut d = Unitd::new();
    d.write_unit("chatty.service", "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo to-stdout; echo to-stderr >&2; echo \"<3>an error\"'\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "chatty.service").await, JobResult::Done);
    let reader = unitd_journal::JournalReader::open(d.state.join("journal")).unwrap();
    let filter = unitd_journal::Filter {
        units: vec!["chatty.service".into()],
        since: None,
        lines: None,
    };
    let ok = wait_for(Duration::from_secs(5), || async {
        reader
            .read(&filter)
            .unwrap()
            .iter()
            .any(|r| r.message == "an error")
    })
    .await;
    let records = reader.read(&filter).unwrap();
    assert!(ok, "{records:?}");
    let out = records
        .iter()
        .find(|r| r.message == "to-stdout")
        .expect("stdout line");
    assert_eq!(out.identifier, "sh");
    assert!(records.iter().any(|r| r.message == "to-stderr"));
    assert_eq!(
        records
            .iter()
            .find(|r| r.message == "an error")
            .unwrap()
            .priority,
        3
    );
}

#[tokio::test]
async fn kill_unit_signals_the_main_process() {
    let mut d = Unitd::new();
    d.write_unit("victim.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "victim.service").await, JobResult::Done);
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    manager
        .kill_unit("victim.service", "main", libc::SIGKILL)
        .await
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "victim.service").await == "failed"
        })
        .await
    );
    assert_eq!(result(&conn, "victim.service").await, "signal");
    manager.reset_failed_unit("victim.service").await.unwrap();
    assert_eq!(active_state(&conn, "victim.service").await, "inactive");
}

#[tokio::test]
async fn a_service_ignoring_sigterm_is_killed_after_timeout_stop_sec() {
    let mut d = Unitd::new();
    d.write_unit("stubborn.service", "[Service]\nExecStart=/bin/sh -c 'trap \"\" TERM; while true; do sleep 0.1; done'\nTimeoutStopSec=1\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "stubborn.service").await, JobResult::Done);
    let pid = main_pid(&conn, "stubborn.service").await;
    // The shell has set its trap once it runs its first sleep.
    assert!(
        wait_for(Duration::from_secs(5), || async {
            d.cgroup_pids("stubborn.service").len() >= 2
        })
        .await
    );
    let t = std::time::Instant::now();
    assert_eq!(stop(&conn, "stubborn.service").await, JobResult::Done);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "stop took {took:?}"
    );
    assert!(!process_alive(pid as i32));
    assert_eq!(active_state(&conn, "stubborn.service").await, "failed");
    assert_eq!(result(&conn, "stubborn.service").await, "timeout");
    let journal = journal_messages(&d.state, "stubborn.service");
    assert!(
        journal.iter().any(|m| m.contains("timed out. Killing")),
        "{journal:?}"
    );
}

#[tokio::test]
async fn a_silent_watchdog_kills_and_restarts_the_service() {
    let mut d = Unitd::new();
    // Pings the watchdog twice, then goes silent.
    d.write_unit(
        "watched.service",
        "[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=notify\nWatchdogSec=500ms\nRestart=on-watchdog\nRestartSec=100ms\nExecStart=/usr/bin/python3 -c \"import os,socket,time; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'READY=1'); [s.send(b'WATCHDOG=1') or time.sleep(0.2) for _ in range(2)]; time.sleep(300)\"\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "watched.service").await, JobResult::Done);
    let first = main_pid(&conn, "watched.service").await;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            let pid = main_pid(&conn, "watched.service").await;
            pid != 0 && pid != first
        })
        .await,
        "not restarted after the watchdog fired"
    );
    assert!(!process_alive(first as i32));
    let journal = journal_messages(&d.state, "watched.service");
    assert!(
        journal.iter().any(|m| m.contains("Watchdog timeout")),
        "{journal:?}"
    );
    let svc = unitd_client::proxies::service(&conn, "watched.service")
        .await
        .unwrap();
    assert!(svc.n_restarts().await.unwrap() >= 1);
}

#[tokio::test]
async fn standard_output_to_a_file_and_environment_files() {
    let mut d = Unitd::new();
    let out = d.root.path().join("out.log");
    let env = d.root.path().join("env");
    std::fs::write(&env, "# settings\nNAME=\"from file\"\n").unwrap();
    d.write_unit(
        "writer.service",
        &format!(
            "[Service]\nType=oneshot\nEnvironment=GREETING=hi\nEnvironmentFile={}\nEnvironmentFile=-/nonexistent\nStandardOutput=append:{}\nExecStart=/bin/sh -c 'echo $GREETING $NAME'\nExecStart=/bin/echo ${{GREETING}}-braced\n",
            env.display(),
            out.display()
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "writer.service").await, JobResult::Done);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "hi from file\nhi-braced\n"
    );
}

#[tokio::test]
async fn every_exec_phase_runs_in_order_with_user_umask_and_directory() {
    let mut d = Unitd::new();
    let log = d.root.path().join("phases");
    let work = d.root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // `nobody` must reach the working directory and append to the log.
    std::fs::set_permissions(
        d.root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for file in [log.clone(), log.with_extension("main")] {
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
    }
    let rec = |phase: &str| {
        format!(
            "/bin/sh -c 'echo {phase} $(id -un) $(umask) $(pwd) >> {}'",
            log.display()
        )
    };
    d.write_unit(
        "phases.service",
        &format!(
            "[Service]\nUser=nobody\nUMask=0077\nWorkingDirectory={}\nExecStartPre={}\nExecStartPre=+{}\nExecStart=/bin/sh -c 'echo main $(id -un) > {}.main; exec sleep 300'\nExecStartPost={}\nExecReload={}\nExecStop={}\nExecStopPost={}\n",
            work.display(),
            rec("pre"),
            rec("pre-privileged"),
            log.display(),
            rec("post"),
            rec("reload"),
            rec("stop"),
            rec("stop-post"),
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "phases.service").await, JobResult::Done);
    assert_eq!(
        unitd_client::reload_and_wait(&conn, "phases.service", unitd_client::JobMode::Replace)
            .await
            .unwrap(),
        JobResult::Done
    );
    assert_eq!(stop(&conn, "phases.service").await, JobResult::Done);
    let w = work.display();
    // The main process runs beside ExecStartPost= (Type=simple), so it has a file of its own.
    assert_eq!(
        std::fs::read_to_string(log.with_extension("main")).unwrap(),
        "main nobody\n"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "pre nobody 0077 {w}\npre-privileged root 0077 {w}\npost nobody 0077 {w}\nreload nobody 0077 {w}\nstop nobody 0077 {w}\nstop-post nobody 0077 {w}\n"
        )
    );
}
