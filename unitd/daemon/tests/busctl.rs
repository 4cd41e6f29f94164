//! systemd's own busctl drives unitd: on a message bus (a dbus-daemon this test starts, where unitd owns
//! org.freedesktop.systemd1) and peer-to-peer on unitd's private socket.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn busctl(address: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("busctl")
        .arg(format!("--address={address}"))
        .args(args)
        .output()
        .expect("run busctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct DbusDaemon(std::process::Child);

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn busctl_on_a_bus_starts_a_unit_and_reads_its_properties() {
    if Command::new("dbus-daemon")
        .arg("--version")
        .output()
        .is_err()
        || Command::new("busctl").arg("--version").output().is_err()
    {
        panic!("dbus-daemon and busctl are required (apt-get install dbus systemd)");
    }
    let mut d = Unitd::new();
    let socket = d.root.path().join("bus");
    let address = format!("unix:path={}", socket.display());
    let daemon = DbusDaemon(
        Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--nopidfile",
                &format!("--address={address}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon"),
    );
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    d.extra_args = vec!["--bus-address".into(), address.clone()];
    d.write_unit(
        "hello.service",
        "[Unit]\nDescription=Hello from busctl\n[Service]\nExecStart=/bin/sleep 300\n",
    );
    d.start_with_bus();
    let conn = d.conn().await;
    // Wait until unitd owns its name on the bus.
    assert!(
        wait_for(Duration::from_secs(10), || async {
            busctl(&address, &["status", "org.freedesktop.systemd1"]).0
        })
        .await,
        "unitd never owned org.freedesktop.systemd1; log:\n{}",
        d.log()
    );

    let (ok, out, err) = busctl(
        &address,
        &[
            "introspect",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(".StartUnit") && out.contains("ss") && out.contains(".JobRemoved"),
        "{out}"
    );

    let (ok, out, err) = busctl(
        &address,
        &[
            "call",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartUnit",
            "ss",
            "hello.service",
            "replace",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with("o \"/org/freedesktop/systemd1/job/"),
        "{out}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "hello.service").await == "active"
        })
        .await
    );

    let path = "/org/freedesktop/systemd1/unit/hello_2eservice";
    let (ok, out, err) = busctl(
        &address,
        &[
            "get-property",
            "org.freedesktop.systemd1",
            path,
            "org.freedesktop.systemd1.Unit",
            "ActiveState",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "s \"active\"");
    let (ok, out, _) = busctl(
        &address,
        &[
            "get-property",
            "org.freedesktop.systemd1",
            path,
            "org.freedesktop.systemd1.Service",
            "MainPID",
        ],
    );
    assert!(ok);
    assert_eq!(
        out.trim(),
        format!("u {}", main_pid(&conn, "hello.service").await)
    );
    drop(daemon);
}

#[tokio::test]
async fn busctl_on_the_private_socket_works_peer_to_peer() {
    let mut d = Unitd::new();
    d.write_unit("p2p.service", "[Service]\nExecStart=/bin/sleep 300\n");
    d.start();
    let address = format!("unix:path={}", d.private_socket().display());
    let (ok, out, err) = busctl(
        &address,
        &[
            "call",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartUnit",
            "ss",
            "p2p.service",
            "replace",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("/org/freedesktop/systemd1/job/"), "{out}");
    let conn = d.conn().await;
    assert!(
        wait_for(Duration::from_secs(5), || async {
            active_state(&conn, "p2p.service").await == "active"
        })
        .await
    );
}
