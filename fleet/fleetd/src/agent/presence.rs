//! This machine's presence: a key bound to a lease of `agent_ttl`, renewed every third of it. When the lease is
//! found expired (the KV store was unreachable for longer than the TTL), a new one is granted and the presence
//! written again; the agent republishes its unit states under the new lease. Losing the KV store never touches
//! local units: presence only decides what the engine sees.

use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use fleet_model::MachineState;
use fleet_registry::Registry;
use tokio::sync::watch;
use tracing::{info, warn};

/// How soon a failed grant or renewal is retried.
const RETRY: Duration = Duration::from_millis(500);

/// Keeps the presence key alive and publishes the current lease (`None` while there is none).
pub async fn run(
    registry: Registry,
    machine: MachineState,
    ttl: Duration,
    lease_tx: watch::Sender<Option<i64>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let renew_every = (ttl / 3).max(Duration::from_millis(200));
    let mut lease: Option<i64> = None;
    let mut was_down = false;
    while !*shutdown.borrow() {
        let wait = match lease {
            None => match register(&registry, &machine, ttl).await {
                Ok(id) => {
                    info!(lease = id, machine = %machine.id, ip = %machine.public_ip, "machine registered");
                    lease = Some(id);
                    let _ = lease_tx.send(lease);
                    renew_every
                }
                Err(e) => {
                    if !was_down {
                        warn!(error = %e, "cannot register the machine; retrying");
                        was_down = true;
                    }
                    RETRY
                }
            },
            Some(id) => match registry.keep_alive(id).await {
                Ok(true) => {
                    if was_down {
                        info!("KV store reachable again; presence kept");
                        was_down = false;
                    }
                    renew_every
                }
                Ok(false) => {
                    warn!(lease = id, "presence lease expired; registering again");
                    lease = None;
                    let _ = lease_tx.send(None);
                    Duration::ZERO
                }
                Err(e) => {
                    if !was_down {
                        warn!(error = %e, "cannot renew the presence lease; local units keep running");
                        was_down = true;
                    }
                    RETRY
                }
            },
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn register(
    registry: &Registry,
    machine: &MachineState,
    ttl: Duration,
) -> Result<i64, fleet_registry::RegistryError> {
    let lease = registry.grant_lease(ttl).await?;
    registry.register_machine(machine, lease.id).await?;
    Ok(lease.id)
}

/// fleet's default `public_ip`: the address this host sends from on its default route; loopback without one.
pub fn detect_public_ip() -> String {
    let probe = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        // No packet is sent: connecting a UDP socket only picks the route and source address.
        socket.connect("192.0.2.1:9")?;
        Ok(socket.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => "127.0.0.1".to_string(),
    }
}
