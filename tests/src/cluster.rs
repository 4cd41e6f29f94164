//! A whole fleet cluster for the cross-component tests: a KV store and N hosts, fleetctl against them, and
//! fleet's HTTP API to check what they did.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{stderr, stdout, wait_for, FleetSettings, Host, Kv};

/// A KV store and `n` hosts with the given metadata, every fleetd started.
pub struct Cluster {
    pub hosts: Vec<Host>,
    pub kv: Kv,
    pub units_dir: tempfile::TempDir,
    pub ttl: Duration,
}

impl Cluster {
    pub fn start(metadata: &[&str], ttl_secs: u64) -> Cluster {
        let kv = Kv::start();
        let settings = FleetSettings {
            etcd: kv.url(),
            agent_ttl: format!("{ttl_secs}s"),
            reconcile_interval: "1".into(),
        };
        let mut hosts: Vec<Host> = metadata.iter().map(|m| Host::new(&settings, m)).collect();
        for h in &mut hosts {
            h.start_fleetd();
        }
        let c = Cluster {
            hosts,
            kv,
            units_dir: tempfile::tempdir().expect("tempdir"),
            ttl: Duration::from_secs(ttl_secs),
        };
        let n = c.hosts.len();
        assert!(
            wait_for(Duration::from_secs(20), || c.machines().len() == n),
            "all machines registered: {:?}",
            c.machines()
        );
        c
    }

    pub fn host(&self, machine: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.machine_id == machine)
            .expect("a host of this cluster")
    }

    /// Writes a unit file for fleetctl to submit; returns its path.
    pub fn unit_file(&self, name: &str, body: &str) -> PathBuf {
        let path = self.units_dir.path().join(name);
        std::fs::write(&path, body).expect("write unit");
        path
    }

    pub fn fleetctl(&self, args: &[&str]) -> std::process::Output {
        self.hosts[0].fleetctl(args)
    }

    pub fn fleetctl_ok(&self, args: &[&str]) -> String {
        let out = self.fleetctl(args);
        assert!(
            out.status.success(),
            "fleetctl {args:?} failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// GET on the API of the first host that answers (a test may have crashed some).
    pub fn get(&self, path: &str) -> Value {
        self.hosts
            .iter()
            .find_map(|h| api_get(h, path))
            .expect("some host's fleet API answers")
    }

    pub fn machines(&self) -> Vec<String> {
        let v = self.get("/fleet/v1/machines");
        v["machines"].as_array().map_or(vec![], |ms| {
            ms.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
    }

    /// unit → (desiredState, machineID).
    pub fn units(&self) -> BTreeMap<String, (String, Option<String>)> {
        let v = self.get("/fleet/v1/units");
        v["units"]
            .as_array()
            .map_or(vec![], Clone::clone)
            .into_iter()
            .map(|u| {
                (
                    u["name"].as_str().unwrap_or_default().to_string(),
                    (
                        u["desiredState"].as_str().unwrap_or_default().to_string(),
                        u["machineID"].as_str().map(str::to_string),
                    ),
                )
            })
            .collect()
    }

    pub fn unit(&self, name: &str) -> Value {
        self.get(&format!("/fleet/v1/units/{name}"))
    }

    /// (machine, active state) of every published state of `unit`.
    pub fn states(&self, unit: &str) -> Vec<(String, String)> {
        let v = self.get(&format!("/fleet/v1/state?unitName={unit}"));
        v["states"].as_array().map_or(vec![], |ss| {
            ss.iter()
                .map(|s| {
                    (
                        s["machineID"].as_str().unwrap_or_default().to_string(),
                        s["systemdActiveState"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
    }

    /// The machines where `unit` is active (by published state and by processes in its cgroup).
    pub fn running_on(&self, unit: &str) -> Vec<String> {
        self.states(unit)
            .into_iter()
            .filter(|(m, active)| {
                active == "active"
                    && self
                        .hosts
                        .iter()
                        .any(|h| &h.machine_id == m && !h.unit_pids(unit).is_empty())
            })
            .map(|(m, _)| m)
            .collect()
    }

    pub fn wait_running(&self, unit: &str, timeout: Duration) -> String {
        let mut on = Vec::new();
        let ok = wait_for(timeout, || {
            on = self.running_on(unit);
            on.len() == 1
        });
        assert!(
            ok,
            "{unit} running on exactly one machine: {on:?}; states {:?}",
            self.states(unit)
        );
        on.remove(0)
    }
}

/// GET on a host's API over TCP; the JSON body (`None` when the host does not answer).
pub fn api_get(host: &Host, path: &str) -> Option<Value> {
    let mut s = TcpStream::connect((host.ip.as_str(), host.api_port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: fleet\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked or not, the JSON object is the part between the outer braces.
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    Some(serde_json::from_str(&body[start..end]).unwrap_or(Value::Null))
}

/// A service whose one process keeps its PID for as long as it runs (so a restart is visible as a new PID).
pub const SLEEPER: &str = "[Service]\nExecStart=/bin/sleep 1000000\n";

pub fn with_xfleet(xfleet: &str) -> String {
    format!("{SLEEPER}\n[X-Fleet]\n{xfleet}\n")
}

/// A shipped unit file (`units/NAME`) with the host paths and the KV endpoint of this test in place of the
/// installed ones (`/usr/local/bin/kvctl`, `127.0.0.1:2379`).
pub fn shipped_unit(name: &str, kv: &Kv) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../units")
        .join(name);
    std::fs::read_to_string(&path)
        .expect("shipped unit")
        .replace(
            "/usr/local/bin/kvctl",
            &crate::binary("kvctl").display().to_string(),
        )
        .replace("127.0.0.1:2379", &format!("127.0.0.1:{}", kv.client_port))
}

pub fn kv_get(kv: &Kv, key: &str) -> Option<String> {
    let out = std::process::Command::new(crate::binary("kvctl"))
        .args([
            "--endpoints",
            &format!("127.0.0.1:{}", kv.client_port),
            "get",
            "--print-value-only",
            key,
        ])
        .output()
        .expect("kvctl");
    let v = stdout(&out).trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// Runs `fleetctl` with exactly `args` (no `--endpoint` added) and, on top of a clean `FLEETCTL_*`
/// environment, the variables `env`.
pub fn fleetctl_raw(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(crate::binary("fleetctl"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("FLEETCTL_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run fleetctl")
}

/// SHA-1 of `text` in hex, by coreutils' `sha1sum` (an oracle independent of fleet's code).
pub fn sha1_hex(text: &str) -> String {
    let mut child = std::process::Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sha1sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to sha1sum");
    let out = child.wait_with_output().expect("sha1sum");
    let hex = stdout(&out)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(hex.len(), 40, "sha1sum output: {}", stdout(&out));
    hex
}

/// The command lines (`/proc/PID/cmdline`, NULs as spaces) of the processes in `unit`'s cgroup on `host`.
pub fn cmdlines(host: &Host, unit: &str) -> Vec<String> {
    host.unit_pids(unit)
        .into_iter()
        .map(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default()
        })
        .collect()
}
