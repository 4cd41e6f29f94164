//! Dependencies and jobs: Requires=/After= ordering, Wants= pulled in, Conflicts= stops, a stop propagates to
//! units that require the stopped one, BindsTo= follows its unit down, and ordering cycles are refused with the
//! settings that form them.

mod common;

use std::time::Duration;

use common::*;
use unitd_client::JobResult;

/// A oneshot that appends its name to `log` when it runs.
fn recorder(log: &std::path::Path, name: &str, extra: &str) -> String {
    format!(
        "[Unit]\n{extra}\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep 0.1; echo {name} >> {}'\n",
        log.display()
    )
}

#[tokio::test]
async fn requires_and_after_start_dependencies_first() {
    let mut d = Unitd::new();
    let log = d.root.path().join("order");
    d.write_unit("db.service", &recorder(&log, "db", ""));
    d.write_unit(
        "cache.service",
        &recorder(&log, "cache", "After=db.service"),
    );
    d.write_unit(
        "web.service",
        &recorder(
            &log,
            "web",
            "Requires=db.service\nWants=cache.service\nAfter=db.service cache.service",
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "web.service").await, JobResult::Done);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "db\ncache\nweb\n");
    for unit in ["db.service", "cache.service", "web.service"] {
        assert_eq!(active_state(&conn, unit).await, "active", "{unit}");
    }
    // Stopping db stops web, which requires it; cache (only wanted) stays.
    assert_eq!(stop(&conn, "db.service").await, JobResult::Done);
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "web.service").await == "inactive"
        })
        .await
    );
    assert_eq!(active_state(&conn, "cache.service").await, "active");
}

#[tokio::test]
async fn a_failed_requirement_fails_the_dependent_job() {
    let mut d = Unitd::new();
    d.write_unit(
        "bad-db.service",
        "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    );
    d.write_unit("app.service", "[Unit]\nRequires=bad-db.service\nAfter=bad-db.service\n[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "app.service").await, JobResult::Dependency);
    assert_eq!(active_state(&conn, "app.service").await, "inactive");
    assert_eq!(active_state(&conn, "bad-db.service").await, "failed");
}

#[tokio::test]
async fn a_missing_requirement_is_refused_up_front() {
    let mut d = Unitd::new();
    d.write_unit(
        "lonely.service",
        "[Unit]\nRequires=ghost.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    let err = manager
        .start_unit("lonely.service", "replace")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ghost.service"), "{err}");
    assert_eq!(active_state(&conn, "lonely.service").await, "inactive");
}

#[tokio::test]
async fn an_ordering_cycle_is_reported_with_file_and_line_and_nothing_hangs() {
    let mut d = Unitd::new();
    let a = d.write_unit("a.service", "[Unit]\nDescription=A\nAfter=b.service\nWants=b.service\n[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit(
        "b.service",
        "[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.write_unit("fine.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    let err = manager
        .start_unit("a.service", "replace")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("TransactionOrderIsCyclic"), "{text}");
    assert!(
        text.contains(&format!("{}:3", a.display())),
        "cycle report names a.service's After= line: {text}"
    );
    assert_eq!(active_state(&conn, "a.service").await, "inactive");
    // The daemon is unharmed.
    assert_eq!(start(&conn, "fine.service").await, JobResult::Done);
}

#[tokio::test]
async fn conflicts_stop_the_other_unit() {
    let mut d = Unitd::new();
    d.write_unit("blue.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit(
        "green.service",
        "[Unit]\nConflicts=blue.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "blue.service").await, JobResult::Done);
    assert_eq!(start(&conn, "green.service").await, JobResult::Done);
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "blue.service").await == "inactive"
        })
        .await
    );
    assert_eq!(active_state(&conn, "green.service").await, "active");
}

#[tokio::test]
async fn binds_to_stops_when_the_bound_unit_dies() {
    let mut d = Unitd::new();
    d.write_unit("backend.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit("sidecar.service", "[Unit]\nBindsTo=backend.service\nAfter=backend.service\n[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "sidecar.service").await, JobResult::Done);
    assert_eq!(active_state(&conn, "backend.service").await, "active");
    let pid = main_pid(&conn, "backend.service").await;
    // SAFETY: killing the test's own service.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "sidecar.service").await == "inactive"
        })
        .await
    );
}

#[tokio::test]
async fn targets_group_units_and_the_default_target_starts_at_boot() {
    let mut d = Unitd::new();
    d.write_unit(
        "default.target",
        "[Unit]\nDescription=Default\nWants=boot-app.service\n",
    );
    d.write_unit("boot-app.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "boot-app.service").await == "active"
        })
        .await
    );
    assert_eq!(active_state(&conn, "default.target").await, "active");
}

#[tokio::test]
async fn part_of_follows_restarts_and_requisite_needs_an_active_unit() {
    let mut d = Unitd::new();
    d.write_unit("main.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.write_unit(
        "part.service",
        "[Unit]\nPartOf=main.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.write_unit(
        "needy.service",
        "[Unit]\nRequisite=main.service\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    let err = manager
        .start_unit("needy.service", "replace")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("main.service"), "{err}");
    assert_eq!(start(&conn, "main.service").await, JobResult::Done);
    assert_eq!(start(&conn, "needy.service").await, JobResult::Done);
    assert_eq!(start(&conn, "part.service").await, JobResult::Done);
    let part_pid = main_pid(&conn, "part.service").await;
    assert_eq!(restart(&conn, "main.service").await, JobResult::Done);
    assert!(
        wait_for(Duration::from_secs(5), || async {
            let pid = main_pid(&conn, "part.service").await;
            pid != 0 && pid != part_pid
        })
        .await,
        "part.service was not restarted with main.service"
    );
    assert_eq!(stop(&conn, "main.service").await, JobResult::Done);
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "part.service").await == "inactive"
        })
        .await
    );
}
