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

#[tokio::test]
async fn cpu_quota_weight_and_allowed_cpus_are_written_to_the_cgroup() {
    let mut d = Unitd::new();
    d.write_unit(
        "limited.service",
        "[Service]\nCPUQuota=50%\nCPUWeight=200\nAllowedCPUs=0\nMemoryMax=64M\nExecStart=/bin/sleep 300\n",
    );
    d.start();
    let conn = d.conn().await;
    assert_eq!(start(&conn, "limited.service").await, JobResult::Done);
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .ok()
    };
    let v1 = |controller: &str, file: &str| {
        read(
            std::path::Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(&d.slice)
                .join("limited.service")
                .join(file),
        )
    };
    let v2 = |file: &str| {
        read(
            std::path::Path::new("/sys/fs/cgroup")
                .join(&d.slice)
                .join("limited.service")
                .join(file),
        )
    };
    if let Some(quota) = v1("cpu", "cpu.cfs_quota_us") {
        assert_eq!(quota, "50000");
        assert_eq!(v1("cpu", "cpu.cfs_period_us").as_deref(), Some("100000"));
        assert_eq!(v1("cpu", "cpu.shares").as_deref(), Some("2048"));
        assert_eq!(v1("cpuset", "cpuset.cpus").as_deref(), Some("0"));
        assert_eq!(
            v1("memory", "memory.limit_in_bytes").as_deref(),
            Some("67108864")
        );
    } else {
        assert_eq!(v2("cpu.max").as_deref(), Some("50000 100000"));
        assert_eq!(v2("cpu.weight").as_deref(), Some("200"));
        assert_eq!(v2("cpuset.cpus").as_deref(), Some("0"));
        assert_eq!(v2("memory.max").as_deref(), Some("67108864"));
    }
    let pid = main_pid(&conn, "limited.service").await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let allowed = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    assert_eq!(
        allowed.split_whitespace().nth(1),
        Some("0"),
        "AllowedCPUs=0 is enforced on the process"
    );
}
