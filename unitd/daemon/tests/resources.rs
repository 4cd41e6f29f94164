//! Resource control through cgroups: MemoryMax= OOM-kills a hog (Result=oom-kill) and TasksMax= stops a fork
//! bomb; the limits are visible as properties.

mod common;

use std::time::Duration;

use common::*;
use unitd_client::JobResult;

#[tokio::test]
async fn memory_max_oom_kills_a_hog() {
    let mut d = Unitd::new();
    d.write_unit(
        "hog.service",
        "[Service]\nMemoryMax=32M\nExecStart=/usr/bin/python3 -c \"x = bytearray(256*1024*1024); import time; time.sleep(30)\"\n",
    );
    d.start();
    let conn = d.conn().await;
    let _ = start(&conn, "hog.service").await;
    assert!(
        wait_for(Duration::from_secs(15), || async {
            active_state(&conn, "hog.service").await == "failed"
        })
        .await
    );
    assert_eq!(result(&conn, "hog.service").await, "oom-kill");
    let svc = unitd_client::proxies::service(&conn, "hog.service")
        .await
        .unwrap();
    assert_eq!(svc.memory_max().await.unwrap(), 32 * 1024 * 1024);
}

#[tokio::test]
async fn tasks_max_stops_a_fork_bomb() {
    let mut d = Unitd::new();
    let out = d.root.path().join("spawned");
    d.write_unit(
        "bomb.service",
        &format!(
            "[Service]\nTasksMax=10\nExecStart=/bin/sh -c 'n=0; while [ $n -lt 50 ]; do sleep 300 & n=$((n+1)); echo $n > {}; done; sleep 300'\n",
            out.display()
        ),
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "bomb.service").await, JobResult::Done);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tasks = d.cgroup_pids("bomb.service").len();
    assert!(tasks <= 10, "{tasks} tasks under TasksMax=10");
    let svc = unitd_client::proxies::service(&conn, "bomb.service")
        .await
        .unwrap();
    assert_eq!(svc.tasks_max().await.unwrap(), 10);
    assert_eq!(stop(&conn, "bomb.service").await, JobResult::Done);
    assert!(d.cgroup_pids("bomb.service").is_empty());
}
