//! fleetd API test harness: a real kvstore process ([`flotilla_tests::Kv`]), a [`Registry`] connected to it, and
//! fleetd's API served in-process by [`fleetd::api::serve`] on a loopback TCP port; requests go over real
//! sockets with the small client in [`http`]. [`FleetApi`] also writes what agents and the engine would
//! (machines, unit states, schedules), so tests can set up a cluster without running them.
#![allow(dead_code)]

pub mod http;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use fleet_model::{MachineState, UnitState};
use fleet_registry::{Registry, ScheduleChange};
use fleetd::api::{self, ApiState, ListenAddr};
use fleetd::metrics::Metrics;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use self::http::{Request, Response, Streaming};
use flotilla_tests::Kv as KvStore;

/// The version the API under test reports in `Server:`.
pub const VERSION: &str = "9.8.7-test";

/// The machine that plays the engine leader when a test writes a schedule.
const ENGINE: &str = "engine-test-machine";

/// fleetd's API over a fresh kvstore.
pub struct FleetApi {
    pub kv: KvStore,
    pub registry: Registry,
    pub metrics: Arc<Metrics>,
    /// What the agent would fill in once it knows where unitd's journal is.
    pub journal_dir: Arc<RwLock<Option<PathBuf>>>,
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// A lease for machines and states written by the test (kept alive by its long TTL).
    lease: Option<i64>,
    /// The engine leader lease, once a schedule was written.
    engine_lease: Option<i64>,
}

impl FleetApi {
    /// Page size fleet's default.
    pub async fn start() -> FleetApi {
        FleetApi::start_with(100).await
    }

    /// With `token_limit` items per page.
    pub async fn start_with(token_limit: u16) -> FleetApi {
        let kv = tokio::task::spawn_blocking(KvStore::start)
            .await
            .expect("kvstore start");
        let registry = Registry::connect(
            &kv.urls(),
            fleet_model::Keys::DEFAULT_PREFIX,
            Duration::from_secs(2),
        )
        .await
        .expect("connect to kvstore");
        let metrics = Arc::new(Metrics::new());
        let journal_dir = Arc::new(RwLock::new(None));
        let state = ApiState {
            registry: registry.clone(),
            token_limit,
            machine_id: "api-test-machine".into(),
            journal_dir: journal_dir.clone(),
            metrics: metrics.clone(),
            version: VERSION.into(),
        };
        let listener = api::bind(&ListenAddr::Tcp(
            "127.0.0.1:0".parse().expect("loopback address"),
        ))
        .await
        .expect("bind the API");
        let Ok(ListenAddr::Tcp(addr)) = listener.local_addr() else {
            panic!("a TCP listener has a TCP address");
        };
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, state, async move {
            let _ = rx.await;
        }));
        FleetApi {
            kv,
            registry,
            metrics,
            journal_dir,
            addr,
            shutdown: Some(tx),
            server: Some(server),
            lease: None,
            engine_lease: None,
        }
    }

    /// Sends `req` on a new connection and reads the whole response.
    pub async fn send(&self, req: Request<'_>) -> Response {
        http::send(self.connect().await, req).await
    }

    /// Sends `req` and returns as soon as the head arrived (for streamed bodies).
    pub async fn open(&self, req: Request<'_>) -> Streaming<TcpStream> {
        http::open(self.connect().await, req).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Request::new("GET", path)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(Request::new("DELETE", path)).await
    }

    /// `PUT` of a JSON body with `Content-Type: application/json`.
    pub async fn put_json(&self, path: &str, body: serde_json::Value) -> Response {
        self.send(Request::new("PUT", path).json(&body)).await
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr)
            .await
            .expect("connect to the API")
    }

    /// Signals shutdown and waits for `serve` to return (at most `limit`).
    pub async fn stop(&mut self, limit: Duration) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let server = self.server.take().expect("the server runs");
        tokio::time::timeout(limit, server)
            .await
            .expect("serve returned in time")
            .expect("serve did not panic")
    }

    async fn lease(&mut self) -> i64 {
        if let Some(l) = self.lease {
            return l;
        }
        let l = self
            .registry
            .grant_lease(Duration::from_secs(600))
            .await
            .expect("grant lease")
            .id;
        self.lease = Some(l);
        l
    }

    /// Registers machine `id` as its agent would.
    pub async fn add_machine(&mut self, id: &str, public_ip: &str, metadata: &[(&str, &str)]) {
        let lease = self.lease().await;
        let machine = MachineState {
            id: id.into(),
            public_ip: public_ip.into(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            version: VERSION.into(),
            api: format!("http://{public_ip}:49153"),
        };
        self.registry
            .register_machine(&machine, lease)
            .await
            .expect("register machine");
    }

    /// Publishes `machine`'s state of `unit` as its agent would.
    pub async fn put_state(&mut self, unit: &str, machine: &str, active: &str, sub: &str) {
        let lease = self.lease().await;
        let state = UnitState {
            name: unit.into(),
            load_state: "loaded".into(),
            active_state: active.into(),
            sub_state: sub.into(),
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            machine_id: machine.into(),
        };
        self.registry
            .put_unit_state(&state, lease)
            .await
            .expect("put unit state");
    }

    /// Schedules `unit` to `machine` (or records why it cannot be placed) as the engine leader would.
    pub async fn schedule(&mut self, changes: &[ScheduleChange]) {
        let lease = match self.engine_lease {
            Some(l) => l,
            None => {
                let l = self
                    .registry
                    .grant_lease(Duration::from_secs(600))
                    .await
                    .expect("grant engine lease")
                    .id;
                assert!(
                    self.registry.campaign(ENGINE, l).await.expect("campaign"),
                    "the test engine leads"
                );
                self.engine_lease = Some(l);
                l
            }
        };
        let stats = self
            .registry
            .apply_schedule(changes, ENGINE, lease)
            .await
            .expect("apply schedule");
        assert_eq!(stats.refused, 0, "schedule written");
    }

    /// Places `unit` on `machine`.
    pub async fn place(&mut self, unit: &str, machine: &str) {
        self.schedule(&[ScheduleChange::Target {
            unit: unit.into(),
            machine: Some(machine.into()),
            expected_revision: 0,
        }])
        .await;
    }
}
