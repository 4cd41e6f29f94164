//! Unit files as users write them: template instances, drop-ins that reset ExecStart=, enable/disable links,
//! daemon-reload, and bad unit files reported with file:line while the daemon carries on.

mod common;

use std::time::Duration;

use common::*;
use unitd_client::JobResult;

#[tokio::test]
async fn template_instances_get_their_instance_name() {
    let mut d = Unitd::new();
    let out = d.root.path().join("instances");
    d.write_unit(
        "web@.service",
        &format!("[Unit]\nDescription=Web %i\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'echo %n %i %p >> {}'\n", out.display()),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "web@1.service").await, JobResult::Done);
    assert_eq!(start(&conn, "web@blue.service").await, JobResult::Done);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "web@1.service 1 web\nweb@blue.service blue web\n"
    );
    let unit = unitd_client::proxies::unit(&conn, "web@blue.service")
        .await
        .unwrap();
    assert_eq!(unit.description().await.unwrap(), "Web blue");
}

#[tokio::test]
async fn a_drop_in_resets_exec_start_and_replaces_it() {
    let mut d = Unitd::new();
    let out = d.root.path().join("which");
    d.write_unit(
        "app.service",
        &format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo original >> {}'\n",
            out.display()
        ),
    );
    let dropin = d.write_unit(
        "app.service.d/override.conf",
        &format!(
            "[Service]\nExecStart=\nExecStart=/bin/sh -c 'echo override >> {}'\n",
            out.display()
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "app.service").await, JobResult::Done);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "override\n");
    let unit = unitd_client::proxies::unit(&conn, "app.service")
        .await
        .unwrap();
    assert_eq!(
        unit.drop_in_paths().await.unwrap(),
        vec![dropin.display().to_string()]
    );
}

#[tokio::test]
async fn enable_creates_wants_links_and_disable_removes_them() {
    let mut d = Unitd::new();
    d.write_unit("multi-user.target", "[Unit]\nDescription=Multi-User\n");
    let unit = d.write_unit(
        "svc.service",
        "[Service]\nExecStart=/bin/sleep 300\n[Install]\nWantedBy=multi-user.target\n",
    );
    d.start();
    let conn = d.conn().await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    assert_eq!(
        manager.get_unit_file_state("svc.service").await.unwrap(),
        "disabled"
    );
    let (carries, changes) = manager
        .enable_unit_files(&["svc.service"], false, false)
        .await
        .unwrap();
    assert!(carries);
    let link = d.units.join("multi-user.target.wants/svc.service");
    assert_eq!(std::fs::read_link(&link).unwrap(), unit);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].destination, unit.display().to_string());
    assert_eq!(
        manager.get_unit_file_state("svc.service").await.unwrap(),
        "enabled"
    );
    // The link is a dependency now: starting the target starts the service.
    assert_eq!(start(&conn, "multi-user.target").await, JobResult::Done);
    assert_eq!(active_state(&conn, "svc.service").await, "active");

    let changes = manager
        .disable_unit_files(&["svc.service"], false)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert_eq!(
        manager.get_unit_file_state("svc.service").await.unwrap(),
        "disabled"
    );
}

#[tokio::test]
async fn daemon_reload_picks_up_edited_unit_files() {
    let mut d = Unitd::new();
    d.write_unit(
        "edit.service",
        "[Unit]\nDescription=Before\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    let unit = unitd_client::proxies::unit(&conn, "edit.service")
        .await
        .unwrap();
    assert_eq!(unit.description().await.unwrap(), "Before");
    d.write_unit(
        "edit.service",
        "[Unit]\nDescription=After\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.write_unit("new.service", "[Service]\nExecStart=/bin/sleep 300\n");
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    manager.reload().await.unwrap();
    assert_eq!(unit.description().await.unwrap(), "After");
    assert_eq!(start(&conn, "new.service").await, JobResult::Done);
}

#[tokio::test]
async fn bad_unit_files_are_reported_with_file_and_line_and_the_daemon_carries_on() {
    let mut d = Unitd::new();
    let quote = d.write_unit(
        "quote.service",
        "[Unit]\nDescription=Q\n[Service]\nExecStart=/bin/echo \"unterminated\n",
    );
    let kind = d.write_unit(
        "kind.service",
        "[Service]\nType=sideways\nExecStart=/bin/true\n",
    );
    let noexec = d.write_unit(
        "noexec.service",
        "[Unit]\nDescription=Nothing to run\n[Service]\nType=simple\n",
    );
    d.write_unit("good.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let conn = d.conn().await;
    let manager = unitd_client::proxies::manager(&conn).await.unwrap();
    for (unit, path, line) in [("quote.service", &quote, 4), ("kind.service", &kind, 2)] {
        let err = manager
            .start_unit(unit, "replace")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{}:{line}", path.display())),
            "{unit}: {err}"
        );
        let u = unitd_client::proxies::unit(&conn, unit).await.unwrap();
        assert_eq!(u.load_state().await.unwrap(), "bad-setting", "{unit}");
    }
    let err = manager
        .start_unit("noexec.service", "replace")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&noexec.display().to_string()), "{err}");
    assert!(err.contains("ExecStart"), "{err}");
    assert!(
        d.log().contains(&format!("{}:4", quote.display())),
        "the log names the bad line"
    );
    // Nothing else was disturbed.
    assert_eq!(start(&conn, "good.service").await, JobResult::Done);
    let _ = Duration::ZERO;
}
