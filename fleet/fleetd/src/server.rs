//! Starts fleetd's parts and stops them in order.
//!
//! Start: read the machine ID, connect the registry (lazily: a KV store that is down only delays things), bind
//! the API listeners, then run presence, the agent and (unless `disable_engine`) the engine. Stop (SIGTERM or
//! SIGINT): the engine resigns, the agent unloads every local unit, then the presence lease is revoked — so the
//! rest of the cluster moves this machine's units at once — and the API closes.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use fleet_model::MachineState;
use fleet_registry::Registry;
use tokio::sync::watch;
use tracing::info;

use crate::agent::{presence, Agent};
use crate::api::{self, ApiState};
use crate::config::Config;
use crate::engine::Engine;
use crate::metrics::Metrics;

/// Runs fleetd until `stop` resolves.
pub async fn run(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let machine_id = config.machine_id()?;
    let registry = Registry::connect_tls(
        &config.etcd_servers,
        &config.etcd_key_prefix,
        config.etcd_request_timeout,
        &config.etcd_tls,
    )
    .await
    .with_context(|| {
        format!(
            "connecting to the KV store at {}",
            config.etcd_servers.join(",")
        )
    })?;
    let metrics = Arc::new(Metrics::new());
    let journal_dir = Arc::new(RwLock::new(None));
    let public_ip = if config.public_ip.is_empty() {
        presence::detect_public_ip()
    } else {
        config.public_ip.clone()
    };
    let version = env!("CARGO_PKG_VERSION").to_string();

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = ApiState {
        registry: registry.clone(),
        token_limit: config.token_limit,
        machine_id: machine_id.clone(),
        journal_dir: journal_dir.clone(),
        metrics: metrics.clone(),
        version: version.clone(),
    };
    let mut advertise = config.api_advertise.clone();
    let mut api_tasks = Vec::new();
    for url in &config.api_listen {
        let addr = api::parse_listen(url).with_context(|| format!("api_listen {url:?}"))?;
        let listener = api::bind(&addr)
            .await
            .with_context(|| format!("binding the API on {url}"))?;
        if advertise.is_empty() {
            if let api::ApiListener::Tcp(l) = &listener {
                let local = l.local_addr()?;
                let host = if local.ip().is_unspecified() {
                    public_ip.clone()
                } else {
                    local.ip().to_string()
                };
                advertise = format!("http://{host}:{}", local.port());
            }
        }
        info!(%url, "serving the fleet API");
        let mut rx = shutdown_rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        api_tasks.push(tokio::spawn(api::serve(listener, state.clone(), shutdown)));
    }

    let machine = MachineState {
        id: machine_id.clone(),
        public_ip,
        metadata: config.metadata.clone(),
        version,
        api: advertise,
    };
    let (lease_tx, lease_rx) = watch::channel(None);
    let (presence_stop_tx, presence_stop_rx) = watch::channel(false);
    let presence_task = tokio::spawn(presence::run(
        registry.clone(),
        machine.clone(),
        config.agent_ttl,
        lease_tx,
        presence_stop_rx,
    ));
    let agent = Agent::new(
        registry.clone(),
        machine_id.clone(),
        config.unitd_address.clone(),
        !config.disable_watches,
        metrics.clone(),
        journal_dir,
        lease_rx.clone(),
    );
    let agent_task = tokio::spawn(agent.run(shutdown_rx.clone()));
    let engine_task = (!config.disable_engine).then(|| {
        let engine = Engine {
            registry: registry.clone(),
            machine_id: machine_id.clone(),
            reconcile_interval: config.engine_reconcile_interval,
            lease_ttl: config.agent_ttl,
            watches: !config.disable_watches,
            metrics: metrics.clone(),
        };
        tokio::spawn(engine.run(shutdown_rx.clone()))
    });
    info!(machine = %machine.id, ip = %machine.public_ip, api = %machine.api, engine = !config.disable_engine, "fleetd started");
    notify_ready();

    stop.await;
    info!("stopping: unloading local units, then leaving the cluster");
    let _ = shutdown_tx.send(true);
    if let Some(t) = engine_task {
        let _ = t.await;
    }
    let _ = agent_task.await;
    let _ = presence_stop_tx.send(true);
    let _ = presence_task.await;
    if let Some(lease) = *lease_rx.borrow() {
        let _ = tokio::time::timeout(Duration::from_secs(2), registry.revoke_lease(lease)).await;
    }
    for t in api_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    info!("fleetd stopped");
    Ok(())
}

/// Tells a service manager (unitd, systemd) that fleetd is up, when started as `Type=notify`.
fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = sock.send_to(b"READY=1\nSTATUS=scheduling", path);
    }
}
