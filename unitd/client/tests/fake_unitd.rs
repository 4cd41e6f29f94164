//! The client against a fake unitd served on a real unix socket named `private`, peer-to-peer as unitd serves
//! its private socket: discovery by path and by `unix:path=` address, the proxies' D-Bus member names, error
//! replies, and `JobRemoved` arriving before `StartUnit` returns or out of order.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, DBusError, ObjectPath, OwnedObjectPath};

use unitd_client::error::names;
use unitd_client::{connect, proxies, start_and_wait, JobMode, JobResult, JobWaiter, UnitAction};

#[derive(DBusError, Debug)]
#[zbus(prefix = "org.freedesktop.systemd1")]
enum FakeError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSuchUnit(String),
}

/// A manager that finishes every job on its own: units with `fail` in their name fail, `delay-<ms>*` units finish after that
/// many milliseconds, `missing*` units do not exist; everything else is done before the reply is sent.
struct FakeManager {
    next_job: u32,
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl FakeManager {
    async fn start_unit(
        &mut self,
        name: String,
        mode: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<OwnedObjectPath, FakeError> {
        if name.starts_with("missing") {
            return Err(FakeError::NoSuchUnit(format!("Unit {name} not found.")));
        }
        assert_eq!(mode, "replace");
        self.next_job += 1;
        let id = self.next_job;
        let job = OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}"))?;
        let result = if name.contains("fail") {
            "failed"
        } else {
            "done"
        };
        let delay = name
            .strip_prefix("delay-")
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|ms| ms.parse::<u64>().ok());
        match delay {
            Some(ms) => {
                let emitter = emitter.to_owned();
                let job = job.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let _ =
                        FakeManager::job_removed(&emitter, id, job.as_ref(), &name, result).await;
                });
            }
            // The worst case for a client: the job is gone before it learns the job's path.
            None => FakeManager::job_removed(&emitter, id, job.as_ref(), &name, result).await?,
        }
        Ok(job)
    }

    async fn subscribe(&self) {}

    #[zbus(signal)]
    async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

struct FakeUnit;

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl FakeUnit {
    #[zbus(property, name = "Id")]
    fn id(&self) -> String {
        "hello.service".into()
    }

    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> String {
        "active".into()
    }

    #[zbus(property, name = "Job")]
    fn job(&self) -> (u32, OwnedObjectPath) {
        (0, OwnedObjectPath::default())
    }
}

struct FakeService;

#[interface(name = "org.freedesktop.systemd1.Service")]
impl FakeService {
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> u32 {
        4242
    }

    #[zbus(property, name = "CPUUsageNSec")]
    fn cpu_usage_nsec(&self) -> u64 {
        u64::MAX
    }
}

struct FakeFlotilla;

#[interface(name = "io.flotilla.unitd1.Manager")]
impl FakeFlotilla {
    #[zbus(property, name = "StateDirectory")]
    fn state_directory(&self) -> String {
        "/var/lib/unitd".into()
    }
}

/// Serves the fake on `dir/private` for every connection; the returned path is the socket.
async fn serve(dir: &Path) -> PathBuf {
    let path = dir.join("private");
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        let mut conns: Vec<Connection> = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            let stream = stream.into_std().expect("into_std");
            let conn = zbus::connection::Builder::unix_stream(stream)
                .server(zbus::Guid::generate())
                .p2p()
                .serve_at("/org/freedesktop/systemd1", FakeManager { next_job: 0 })
                .serve_at("/org/freedesktop/systemd1", FakeFlotilla)
                .serve_at("/org/freedesktop/systemd1/unit/hello_2eservice", FakeUnit)
                .serve_at(
                    "/org/freedesktop/systemd1/unit/hello_2eservice",
                    FakeService,
                )
                .build()
                .await
                .expect("server connection");
            conns.push(conn);
        }
    });
    path
}

#[tokio::test]
async fn start_and_wait_sees_a_job_removed_before_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let socket = serve(dir.path()).await;
    let conn = connect(Some(socket.to_str().unwrap())).await.unwrap();
    assert!(!conn.is_bus());
    assert_eq!(
        start_and_wait(&conn, "hello.service", JobMode::Replace)
            .await
            .unwrap(),
        JobResult::Done
    );
    assert_eq!(
        start_and_wait(&conn, "failing.service", JobMode::Replace)
            .await
            .unwrap(),
        JobResult::Failed
    );
}

#[tokio::test]
async fn a_unix_path_address_named_private_is_peer_to_peer() {
    let dir = tempfile::tempdir().unwrap();
    let socket = serve(dir.path()).await;
    let address = format!("unix:path={}", socket.display());
    let conn = connect(Some(&address)).await.unwrap();
    let manager = proxies::manager(&conn).await.unwrap();
    manager.subscribe().await.unwrap();
}

#[tokio::test]
async fn error_replies_keep_their_name_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let socket = serve(dir.path()).await;
    let conn = connect(Some(socket.to_str().unwrap())).await.unwrap();
    let err = start_and_wait(&conn, "missing.service", JobMode::Replace)
        .await
        .unwrap_err();
    assert!(err.is_remote(names::NO_SUCH_UNIT), "{err:?}");
    assert_eq!(err.to_string(), "Unit missing.service not found.");
}

#[tokio::test]
async fn jobs_finishing_out_of_order_are_matched_to_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let socket = serve(dir.path()).await;
    let conn = connect(Some(socket.to_str().unwrap())).await.unwrap();
    let mut waiter = JobWaiter::new(&conn).await.unwrap();
    let mut jobs = Vec::new();
    for unit in [
        "delay-300.service",
        "delay-100-fail.service",
        "delay-0.service",
    ] {
        jobs.push(
            waiter
                .enqueue(UnitAction::Start, unit, JobMode::Replace)
                .await
                .unwrap(),
        );
    }
    let outcomes = tokio::time::timeout(Duration::from_secs(10), waiter.wait_all(&jobs))
        .await
        .expect("jobs finish")
        .unwrap();
    let got: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|o| (o.unit.as_str(), o.result.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("delay-300.service", "done"),
            ("delay-100-fail.service", "failed"),
            ("delay-0.service", "done"),
        ]
    );
    assert_eq!(outcomes[0].job, jobs[0]);
}

#[tokio::test]
async fn properties_use_systemd_member_names() {
    let dir = tempfile::tempdir().unwrap();
    let socket = serve(dir.path()).await;
    let conn = connect(Some(socket.to_str().unwrap())).await.unwrap();
    let unit = proxies::unit(&conn, "hello.service").await.unwrap();
    assert_eq!(unit.id().await.unwrap(), "hello.service");
    assert_eq!(unit.active_state().await.unwrap(), "active");
    let (job_id, _) = unit.job().await.unwrap();
    assert_eq!(job_id, 0);
    let service = proxies::service(&conn, "hello.service").await.unwrap();
    assert_eq!(service.main_pid().await.unwrap(), 4242);
    assert_eq!(service.cpu_usage_nsec().await.unwrap(), u64::MAX);
    let flotilla = proxies::flotilla_manager(&conn).await.unwrap();
    assert_eq!(flotilla.state_directory().await.unwrap(), "/var/lib/unitd");
    let props = proxies::properties_at(&conn, unitd_client::unit_object_path("hello.service"))
        .await
        .unwrap();
    let all = props
        .get_all("org.freedesktop.systemd1.Service".try_into().unwrap())
        .await
        .unwrap();
    assert!(all.contains_key("MainPID"));
}
