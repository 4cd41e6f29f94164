//! The unitctl binary against a fake unitd on a real socket (peer-to-peer, as unitd serves its private
//! socket): the D-Bus calls each verb makes, job waiting, error replies, and what is printed with which exit
//! code. The fake only knows a few units; `e2e.rs` runs the same binary against a real unitd.

// The fake's helpers are test code too (clippy only exempts `#[test]` functions themselves).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::UnixListener;
use zbus::object_server::SignalEmitter;
use zbus::{interface, DBusError, ObjectPath, OwnedObjectPath};

use unitd_client::{
    unit_object_path, ExecCommand, JobListEntry, UnitFileChange, UnitFileEntry, UnitListEntry,
};

#[derive(DBusError, Debug)]
#[zbus(prefix = "org.freedesktop.systemd1")]
enum FakeError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSuchUnit(String),
}

#[derive(Clone, Debug)]
struct Unit {
    description: String,
    active: String,
    sub: String,
    result: String,
    fragment: String,
    main_pid: u32,
}

#[derive(Debug, Default)]
struct State {
    units: BTreeMap<String, Unit>,
    next_job: u32,
    kills: Vec<(String, String, i32)>,
    reloads: u32,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn no_such_unit(name: &str) -> FakeError {
    FakeError::NoSuchUnit(format!("Unit {name} not found."))
}

struct Manager {
    state: Shared,
    journal_parent: String,
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    async fn start_unit(
        &self,
        name: String,
        _mode: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<OwnedObjectPath, FakeError> {
        let (id, result) = {
            let mut st = lock(&self.state);
            st.next_job += 1;
            let id = st.next_job;
            let unit = st.units.get_mut(&name).ok_or_else(|| no_such_unit(&name))?;
            let result = if name.contains("fail") {
                unit.active = "failed".into();
                unit.sub = "failed".into();
                unit.result = "exit-code".into();
                "failed"
            } else {
                unit.active = "active".into();
                unit.sub = "running".into();
                "done"
            };
            (id, result)
        };
        let job = OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}"))?;
        Manager::job_removed(&emitter, id, job.as_ref(), &name, result).await?;
        Ok(job)
    }

    async fn stop_unit(
        &self,
        name: String,
        _mode: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<OwnedObjectPath, FakeError> {
        let id = {
            let mut st = lock(&self.state);
            st.next_job += 1;
            let id = st.next_job;
            let unit = st.units.get_mut(&name).ok_or_else(|| no_such_unit(&name))?;
            unit.active = "inactive".into();
            unit.sub = "dead".into();
            id
        };
        let job = OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}"))?;
        Manager::job_removed(&emitter, id, job.as_ref(), &name, "done").await?;
        Ok(job)
    }

    fn kill_unit(&self, name: String, whom: String, signal: i32) -> Result<(), FakeError> {
        let mut st = lock(&self.state);
        if !st.units.contains_key(&name) {
            return Err(no_such_unit(&name));
        }
        st.kills.push((name, whom, signal));
        Ok(())
    }

    fn reset_failed(&self) {}

    fn get_unit(&self, name: String) -> Result<OwnedObjectPath, FakeError> {
        if lock(&self.state).units.contains_key(&name) {
            Ok(unit_object_path(&name))
        } else {
            Err(no_such_unit(&name))
        }
    }

    fn load_unit(&self, name: String) -> Result<OwnedObjectPath, FakeError> {
        self.get_unit(name)
    }

    fn list_units(&self) -> Vec<UnitListEntry> {
        lock(&self.state)
            .units
            .iter()
            .map(|(id, u)| UnitListEntry {
                id: id.clone(),
                description: u.description.clone(),
                load_state: "loaded".into(),
                active_state: u.active.clone(),
                sub_state: u.sub.clone(),
                following: String::new(),
                unit_path: unit_object_path(id),
                job_id: 0,
                job_type: String::new(),
                job_path: OwnedObjectPath::try_from("/").unwrap_or_default(),
            })
            .collect()
    }

    fn list_unit_files(&self) -> Vec<UnitFileEntry> {
        lock(&self.state)
            .units
            .values()
            .map(|u| UnitFileEntry {
                path: u.fragment.clone(),
                state: "enabled".into(),
            })
            .collect()
    }

    fn get_unit_file_state(&self, file: String) -> Result<String, FakeError> {
        if lock(&self.state).units.contains_key(&file) {
            Ok("enabled".into())
        } else {
            Err(no_such_unit(&file))
        }
    }

    fn enable_unit_files(
        &self,
        files: Vec<String>,
        _runtime: bool,
        _force: bool,
    ) -> (bool, Vec<UnitFileChange>) {
        let changes = files
            .iter()
            .map(|f| UnitFileChange {
                change_type: "symlink".into(),
                file: format!("/etc/unitd/system/multi-user.target.wants/{f}"),
                destination: format!("/etc/unitd/system/{f}"),
            })
            .collect();
        (true, changes)
    }

    fn list_jobs(&self) -> Vec<JobListEntry> {
        Vec::new()
    }

    fn reload(&self) {
        lock(&self.state).reloads += 1;
    }

    fn subscribe(&self) {}

    #[zbus(signal)]
    async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;

    #[zbus(property, name = "SystemState")]
    fn system_state(&self) -> String {
        "running".into()
    }

    #[zbus(property, name = "NJobs")]
    fn n_jobs(&self) -> u32 {
        0
    }

    #[zbus(property, name = "NFailedUnits")]
    fn n_failed_units(&self) -> u32 {
        0
    }

    #[zbus(property, name = "Version")]
    fn version(&self) -> String {
        "fake".into()
    }

    #[zbus(property, name = "UnitPath")]
    fn unit_path(&self) -> Vec<String> {
        vec![self.journal_parent.clone()]
    }
}

struct Flotilla {
    state_dir: String,
}

#[interface(name = "io.flotilla.unitd1.Manager")]
impl Flotilla {
    #[zbus(property, name = "StateDirectory")]
    fn state_directory(&self) -> String {
        self.state_dir.clone()
    }
}

struct UnitObject {
    name: String,
    state: Shared,
}

impl UnitObject {
    fn unit(&self) -> Unit {
        lock(&self.state)
            .units
            .get(&self.name)
            .cloned()
            .unwrap_or(Unit {
                description: String::new(),
                active: "inactive".into(),
                sub: "dead".into(),
                result: "success".into(),
                fragment: String::new(),
                main_pid: 0,
            })
    }
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl UnitObject {
    #[zbus(property, name = "Id")]
    fn id(&self) -> String {
        self.name.clone()
    }

    #[zbus(property, name = "Description")]
    fn description(&self) -> String {
        self.unit().description
    }

    #[zbus(property, name = "LoadState")]
    fn load_state(&self) -> String {
        "loaded".into()
    }

    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> String {
        self.unit().active
    }

    #[zbus(property, name = "SubState")]
    fn sub_state(&self) -> String {
        self.unit().sub
    }

    #[zbus(property, name = "FragmentPath")]
    fn fragment_path(&self) -> String {
        self.unit().fragment
    }

    #[zbus(property, name = "DropInPaths")]
    fn drop_in_paths(&self) -> Vec<String> {
        Vec::new()
    }

    #[zbus(property, name = "UnitFileState")]
    fn unit_file_state(&self) -> String {
        "enabled".into()
    }

    #[zbus(property, name = "ActiveEnterTimestamp")]
    fn active_enter_timestamp(&self) -> u64 {
        1_795_450_203_000_000
    }

    #[zbus(property, name = "InactiveEnterTimestamp")]
    fn inactive_enter_timestamp(&self) -> u64 {
        1_795_450_203_000_000
    }

    #[zbus(property, name = "Job")]
    fn job(&self) -> (u32, OwnedObjectPath) {
        (0, OwnedObjectPath::try_from("/").unwrap_or_default())
    }

    #[zbus(property, name = "LoadError")]
    fn load_error(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

struct ServiceObject {
    name: String,
    state: Shared,
}

#[interface(name = "org.freedesktop.systemd1.Service")]
impl ServiceObject {
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> u32 {
        lock(&self.state)
            .units
            .get(&self.name)
            .map_or(0, |u| u.main_pid)
    }

    #[zbus(property, name = "Result")]
    fn result(&self) -> String {
        lock(&self.state)
            .units
            .get(&self.name)
            .map_or_else(|| "success".into(), |u| u.result.clone())
    }

    #[zbus(property, name = "ControlGroup")]
    fn control_group(&self) -> String {
        format!("/flotilla.slice/{}", self.name)
    }

    #[zbus(property, name = "TasksCurrent")]
    fn tasks_current(&self) -> u64 {
        1
    }

    #[zbus(property, name = "MemoryCurrent")]
    fn memory_current(&self) -> u64 {
        u64::MAX
    }

    #[zbus(property, name = "ExecStart")]
    fn exec_start(&self) -> Vec<ExecCommand> {
        vec![ExecCommand {
            path: "/bin/sleep".into(),
            argv: vec!["/bin/sleep".into(), "1000".into()],
            ignore_failure: false,
            start_timestamp: 1_795_450_203_000_000,
            start_monotonic: 1,
            exit_timestamp: 0,
            exit_monotonic: 0,
            pid: 0,
            code: 0,
            status: 0,
        }]
    }
}

/// A fake unitd serving on `dir/private`; its journal is in `dir/state/journal`.
struct Fake {
    dir: tempfile::TempDir,
    state: Shared,
}

impl Fake {
    async fn start() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let fragment = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                format!("[Service]\nExecStart=/bin/sleep 1000 # {name}\n"),
            )
            .unwrap();
            path.display().to_string()
        };
        let mut units = BTreeMap::new();
        let unit = |description: &str,
                    active: &str,
                    sub: &str,
                    result: &str,
                    fragment: String,
                    main_pid: u32| Unit {
            description: description.into(),
            active: active.into(),
            sub: sub.into(),
            result: result.into(),
            fragment,
            main_pid,
        };
        units.insert(
            "hello.service".to_string(),
            unit(
                "Hello",
                "active",
                "running",
                "success",
                fragment("hello.service"),
                std::process::id(),
            ),
        );
        units.insert(
            "broken.service".to_string(),
            unit(
                "Broken",
                "failed",
                "failed",
                "exit-code",
                fragment("broken.service"),
                0,
            ),
        );
        units.insert(
            "fail.service".to_string(),
            unit(
                "Fails",
                "inactive",
                "dead",
                "success",
                fragment("fail.service"),
                0,
            ),
        );
        let state: Shared = Arc::new(Mutex::new(State {
            units,
            ..State::default()
        }));
        let listener = UnixListener::bind(dir.path().join("private")).unwrap();
        let state_dir = dir.path().join("state").display().to_string();
        let server_state = state.clone();
        tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                let names: Vec<String> = lock(&server_state).units.keys().cloned().collect();
                let mut builder =
                    zbus::connection::Builder::unix_stream(stream.into_std().unwrap())
                        .server(zbus::Guid::generate())
                        .p2p()
                        .serve_at(
                            "/org/freedesktop/systemd1",
                            Manager {
                                state: server_state.clone(),
                                journal_parent: state_dir.clone(),
                            },
                        )
                        .serve_at(
                            "/org/freedesktop/systemd1",
                            Flotilla {
                                state_dir: state_dir.clone(),
                            },
                        );
                for name in names {
                    let path = unit_object_path(&name);
                    builder = builder
                        .serve_at(
                            path.clone(),
                            UnitObject {
                                name: name.clone(),
                                state: server_state.clone(),
                            },
                        )
                        .serve_at(
                            path,
                            ServiceObject {
                                name,
                                state: server_state.clone(),
                            },
                        );
                }
                conns.push(builder.build().await.unwrap());
            }
        });
        Fake { dir, state }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("private")
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("state/journal")
    }

    /// Runs unitctl against the fake: (exit code, stdout, stderr).
    async fn unitctl(&self, args: &[&str]) -> (i32, String, String) {
        run_unitctl(Some(&self.socket()), args).await
    }
}

async fn run_unitctl(socket: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_unitctl"));
    cmd.env_remove("UNITD_ADDRESS").env("TZ", "UTC");
    if let Some(socket) = socket {
        cmd.arg("--address").arg(socket);
    }
    let out = cmd.args(args).output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_waits_and_reports_failures_like_systemctl() {
    let fake = Fake::start().await;
    assert_eq!(
        fake.unitctl(&["start", "hello"]).await,
        (0, String::new(), String::new())
    );
    let (code, out, err) = fake.unitctl(&["start", "fail"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "Job for fail.service failed because the control process exited with error code.\n\
         See \"unitctl status fail.service\" and \"unitctl journal -xeu fail.service\" for details.\n"
    );
    let (code, _, err) = fake.unitctl(&["start", "missing"]).await;
    assert_eq!(code, 5);
    assert_eq!(
        err,
        "Failed to start missing.service: Unit missing.service not found.\n"
    );
    assert_eq!(
        fake.unitctl(&["--no-block", "stop", "hello.service"])
            .await
            .0,
        0
    );
    assert_eq!(
        fake.unitctl(&["is-active", "hello"]).await,
        (3, "inactive\n".into(), String::new())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_queries() {
    let fake = Fake::start().await;
    assert_eq!(
        fake.unitctl(&["is-active", "hello"]).await,
        (0, "active\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["is-active", "broken"]).await,
        (3, "failed\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["is-active", "-q", "missing"]).await,
        (3, String::new(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["is-failed", "broken"]).await,
        (0, "failed\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["is-failed", "hello"]).await,
        (1, "active\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["is-enabled", "hello"]).await,
        (0, "enabled\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["show", "-p", "ActiveState,SubState", "--value", "hello"])
            .await,
        (0, "active\nrunning\n".into(), String::new())
    );
    let (code, out, _) = fake.unitctl(&["show", "hello.service"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("MainPID={}\nResult=success\n", std::process::id())),
        "{out}"
    );
    assert!(out.contains("\nId=hello.service\n"), "{out}");
    assert!(
        out.contains("\nActiveEnterTimestamp=Mon 2026-11-23 16:10:03 UTC\n"),
        "{out}"
    );
    assert!(out.contains("\nExecStart={ path=/bin/sleep ; argv[]=/bin/sleep 1000 ; ignore_errors=no ; start_time=[Mon 2026-11-23 16:10:03 UTC] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n"), "{out}");
    assert!(
        !out.contains("DropInPaths="),
        "empty values are hidden: {out}"
    );
    assert_eq!(
        fake.unitctl(&["show", "-p", "LoadState", "--value", "nope"])
            .await,
        (0, "not-found\n".into(), String::new())
    );
    assert_eq!(
        fake.unitctl(&["show", "-p", "SystemState", "-p", "StateDirectory"])
            .await,
        (
            0,
            format!(
                "SystemState=running\nStateDirectory={}\n",
                fake.dir.path().join("state").display()
            ),
            String::new()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pages_and_exit_codes() {
    let fake = Fake::start().await;
    let mut writer =
        unitd_journal::JournalWriter::open(fake.journal(), unitd_journal::Limits::default())
            .unwrap();
    writer
        .append(&unitd_journal::Record::from_line(
            1_795_450_203_000_000,
            "hello.service",
            "hello",
            Some(42),
            unitd_journal::Stream::Stdout,
            "hello there",
        ))
        .unwrap();
    writer.sync().unwrap();

    let (code, out, err) = fake.unitctl(&["status", "--utc", "hello"]).await;
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "● hello.service - Hello");
    assert_eq!(
        lines[1],
        format!(
            "     Loaded: loaded ({}; enabled)",
            fake.dir.path().join("hello.service").display()
        )
    );
    assert!(
        lines[2].starts_with("     Active: active (running) since Mon 2026-11-23 16:10:03 UTC; "),
        "{out}"
    );
    assert!(
        lines[3].starts_with(&format!("   Main PID: {} (", std::process::id())),
        "{out}"
    );
    assert_eq!(lines[4], "      Tasks: 1");
    assert_eq!(lines[5], "     CGroup: /flotilla.slice/hello.service");
    assert_eq!(
        lines.last().copied(),
        Some(
            "Nov 23 16:10:03 fakehost hello[42]: hello there"
                .replace("fakehost", &hostname())
                .as_str()
        )
    );

    let (code, out, _) = fake.unitctl(&["status", "broken"]).await;
    assert_eq!(code, 3);
    assert!(out.starts_with("× broken.service - Broken\n"), "{out}");
    assert!(
        out.contains("     Active: failed (Result: exit-code) since"),
        "{out}"
    );

    let (code, out, err) = fake.unitctl(&["status", "missing", "hello"]).await;
    assert_eq!(code, 4);
    assert_eq!(err, "Unit missing.service could not be found.\n");
    assert!(out.starts_with("● hello.service - Hello\n"), "{out}");

    let (code, out, _) = fake.unitctl(&["status"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("    State: running\n     Jobs: 0 queued\n   Failed: 0 units\n"),
        "{out}"
    );
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_files_and_admin_verbs() {
    let fake = Fake::start().await;
    let (code, out, _) = fake.unitctl(&["list-units", "--no-legend"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "● broken.service loaded failed failed  Broken\n  hello.service  loaded active running Hello\n"
    );
    let (code, out, _) = fake.unitctl(&["--all"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("  fail.service   loaded inactive dead    Fails\n"),
        "{out}"
    );
    assert!(out.ends_with("3 loaded units listed.\nTo show all installed unit files use 'unitctl list-unit-files'.\n"), "{out}");
    let (_, out, _) = fake.unitctl(&["list-unit-files", "h*"]).await;
    assert_eq!(
        out,
        "UNIT FILE     STATE\nhello.service enabled\n\n1 unit files listed.\n"
    );
    assert_eq!(
        fake.unitctl(&["list-jobs"]).await,
        (0, "No jobs running.\n".into(), String::new())
    );

    let (code, out, _) = fake.unitctl(&["cat", "hello"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "# {}\n[Service]\nExecStart=/bin/sleep 1000 # hello.service\n",
            fake.dir.path().join("hello.service").display()
        )
    );

    let (code, _, err) = fake.unitctl(&["enable", "hello"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        err,
        "Created symlink /etc/unitd/system/multi-user.target.wants/hello.service → /etc/unitd/system/hello.service.\n"
    );
    assert_eq!(lock(&fake.state).reloads, 1);
    assert_eq!(fake.unitctl(&["daemon-reload"]).await.0, 0);
    assert_eq!(lock(&fake.state).reloads, 2);

    assert_eq!(
        fake.unitctl(&["kill", "-s", "KILL", "--kill-whom", "main", "hello"])
            .await
            .0,
        0
    );
    assert_eq!(
        lock(&fake.state).kills,
        [("hello.service".to_string(), "main".to_string(), 9)]
    );
    let (code, _, err) = fake.unitctl(&["kill", "nope"]).await;
    assert_eq!(code, 5);
    assert_eq!(
        err,
        "Failed to kill unit nope.service: Unit nope.service not found.\n"
    );
    assert_eq!(fake.unitctl(&["reset-failed"]).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verbs_need_no_unitd() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let mut writer =
        unitd_journal::JournalWriter::open(&journal, unitd_journal::Limits::default()).unwrap();
    for (i, line) in ["one", "two", "three"].iter().enumerate() {
        writer
            .append(&unitd_journal::Record::from_line(
                1_795_450_203_000_000 + i as u64,
                "web.service",
                "web",
                Some(7),
                unitd_journal::Stream::Stdout,
                line,
            ))
            .unwrap();
    }
    writer.sync().unwrap();
    let nowhere = dir.path().join("no-unitd-here");
    let journal_arg = journal.display().to_string();
    assert_eq!(
        run_unitctl(
            Some(&nowhere),
            &[
                "journal",
                "-u",
                "web",
                "-n",
                "2",
                "-o",
                "cat",
                "-D",
                &journal_arg
            ]
        )
        .await,
        (0, "two\nthree\n".into(), String::new())
    );
    assert_eq!(
        run_unitctl(
            Some(&nowhere),
            &["journal", "-u", "other", "-D", &journal_arg]
        )
        .await,
        (0, "-- No entries --\n".into(), String::new())
    );
    let (code, _, err) = run_unitctl(Some(&nowhere), &["is-active", "web"]).await;
    assert_eq!(code, 1);
    assert!(err.starts_with("Failed to connect to unitd: "), "{err}");
    let warn = dir.path().join("warn.service");
    std::fs::write(&warn, "[Unit]\nFoo=bar\n[Service]\nExecStart=/bin/true\n").unwrap();
    let bad = dir.path().join("bad.service");
    std::fs::write(&bad, "[Service]\nExecStart=relative/path\n").unwrap();
    let (warn_arg, bad_arg) = (warn.display().to_string(), bad.display().to_string());
    assert_eq!(
        run_unitctl(Some(&nowhere), &["verify", &warn_arg]).await,
        (
            0,
            format!("{warn_arg}:2: Unknown key 'Foo' in section [Unit], ignoring.\n"),
            String::new()
        )
    );
    let (code, out, _) = run_unitctl(Some(&nowhere), &["verify", &bad_arg, &warn_arg]).await;
    assert_eq!(code, 1);
    assert!(out.starts_with(&format!("{bad_arg}:2: ")), "{out}");
    let (code, _, err) = run_unitctl(None, &["start"]).await;
    assert_eq!((code, err.as_str()), (1, "Too few arguments to 'start'.\n"));
}
