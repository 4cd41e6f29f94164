//! unitd restarts while units run: after a crash (SIGKILL) and after Reexecute, the new unitd finds its running
//! services again — same MainPID, still active, not started twice — and can stop them; output written while it
//! was down reaches the journal. A clean shutdown (SIGTERM) stops every unit.

mod common;

use std::time::Duration;

use common::*;
use unitd_client::JobResult;

#[tokio::test]
async fn after_a_crash_running_services_are_reattached_with_the_same_main_pid() {
    let mut d = Unitd::new();
    d.write_unit(
        "steady.service",
        "[Service]\nExecStart=/bin/sh -c 'while true; do echo tick; sleep 0.2; done'\n",
    );
    d.write_unit(
        "setup.service",
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "steady.service").await, JobResult::Done);
    assert_eq!(start(&conn, "setup.service").await, JobResult::Done);
    let pid = main_pid(&conn, "steady.service").await;
    drop(conn);

    d.kill9();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(process_alive(pid as i32), "the service died with unitd");
    let before = journal_messages(&d.state, "steady.service")
        .iter()
        .filter(|m| *m == "tick")
        .count();
    d.start();
    let conn = d.conn().await;
    assert_eq!(active_state(&conn, "steady.service").await, "active");
    assert_eq!(
        main_pid(&conn, "steady.service").await,
        pid,
        "re-attached to the same process"
    );
    assert_eq!(active_state(&conn, "setup.service").await, "active");
    assert_eq!(
        d.cgroup_pids("steady.service")
            .iter()
            .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "sh"))
            .count(),
        1,
        "not started twice"
    );
    // Output the service wrote while unitd was down is in the journal now.
    assert!(
        wait_for(Duration::from_secs(5), || async {
            journal_messages(&d.state, "steady.service")
                .iter()
                .filter(|m| *m == "tick")
                .count()
                > before + 2
        })
        .await
    );
    assert_eq!(stop(&conn, "steady.service").await, JobResult::Done);
    assert!(!process_alive(pid as i32));
}

#[tokio::test]
async fn reexecute_keeps_services_running() {
    let mut d = Unitd::new();
    d.write_unit("long.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "long.service").await, JobResult::Done);
    let pid = main_pid(&conn, "long.service").await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    manager.reexecute().await.unwrap();
    drop(conn);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) =
            unitd_client::connect_to(&unitd_client::Target::Private(d.private_socket())).await
        {
            if unitd_client::proxies::manager(&c)
                .await
                .unwrap()
                .version()
                .await
                .is_ok()
            {
                conn = Some(c);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = conn.expect("unitd back after Reexecute");
    assert_eq!(main_pid(&conn, "long.service").await, pid);
    // Still our child: its exit is seen with its status.
    // SAFETY: killing the test's own service.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "long.service").await == "failed"
        })
        .await
    );
    assert_eq!(result(&conn, "long.service").await, "signal");
}

#[tokio::test]
async fn clean_shutdown_stops_every_unit() {
    let mut d = Unitd::new();
    d.write_unit("one.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit(
        "two.service",
        "[Unit]\nRequires=one.service\nAfter=one.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "two.service").await, JobResult::Done);
    let pids = [
        main_pid(&conn, "one.service").await,
        main_pid(&conn, "two.service").await,
    ];
    drop(conn);
    d.stop();
    for pid in pids {
        assert!(
            !process_alive(pid as i32),
            "pid {pid} outlived unitd's clean shutdown"
        );
    }
}
