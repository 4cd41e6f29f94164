//! `Manager.Reexecute` and waiting until unitd is back.
//!
//! unitd answers `Reexecute`, then replaces itself; the new process loads its units and binds its private socket
//! again before it serves anyone. A client that returns on the reply races that: the next connection is reset
//! (it reached the old process's listener just before the exec) or refused (nobody listens yet). systemctl
//! does not see this because systemd keeps its sockets across the exec; unitd does not, so [`reexecute`] waits:
//! on the private socket until unitd closed the caller's connection (the exec) and a new connection to the same
//! place answers; on a bus until `org.freedesktop.systemd1` has a new owner.

use std::time::{Duration, Instant};

use futures::StreamExt;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream};

use crate::address::{connect_to, Target};
use crate::error::{ClientError, Result};
use crate::proxies::{self, SERVICE_NAME};

/// How often a new connection is tried while unitd comes back.
const RETRY_INTERVAL: Duration = Duration::from_millis(20);

/// Asks unitd on `conn` (which reaches `target`) to re-execute itself and waits until it answers again, for at
/// most `timeout`. Returns a connection to the new unitd: a new one on the private socket, `conn` itself on a
/// bus.
pub async fn reexecute(
    conn: &Connection,
    target: &Target,
    timeout: Duration,
) -> Result<Connection> {
    let deadline = Instant::now() + timeout;
    if conn.is_bus() {
        reexecute_on_bus(conn, deadline, timeout).await
    } else {
        reexecute_p2p(conn, target, deadline, timeout).await
    }
}

/// Private socket: the end of `conn`, then a connection that answers.
async fn reexecute_p2p(
    conn: &Connection,
    target: &Target,
    deadline: Instant,
    timeout: Duration,
) -> Result<Connection> {
    // A stream that no message matches: it only ends, when the connection does. Made before the call so the
    // close can't be missed.
    let rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .interface("org.freedesktop.DBus.Local")
        .build()?;
    let mut closed = MessageStream::for_match_rule(rule, conn, None).await?;
    call_reexecute(conn).await?;
    let wait_close = async {
        while let Some(item) = closed.next().await {
            if item.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), wait_close)
        .await
        .is_err()
    {
        return Err(ClientError::NotBack { timeout });
    }
    loop {
        if let Ok(new) = connect_to(target).await {
            if let Ok(manager) = proxies::manager(&new).await {
                if manager.version().await.is_ok() {
                    return Ok(new);
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(ClientError::NotBack { timeout });
        }
        tokio::time::sleep(RETRY_INTERVAL).await;
    }
}

/// Message bus: `org.freedesktop.systemd1` changes hands (the old process drops it at the exec, the new one
/// takes it once it serves).
async fn reexecute_on_bus(
    conn: &Connection,
    deadline: Instant,
    timeout: Duration,
) -> Result<Connection> {
    let dbus = zbus::fdo::DBusProxy::new(conn).await?;
    let name = zbus::names::BusName::try_from(SERVICE_NAME)?;
    let old_owner = dbus.get_name_owner(name.clone()).await?;
    call_reexecute(conn).await?;
    loop {
        if let Ok(owner) = dbus.get_name_owner(name.clone()).await {
            if owner != old_owner {
                return Ok(conn.clone());
            }
        }
        if Instant::now() >= deadline {
            return Err(ClientError::NotBack { timeout });
        }
        tokio::time::sleep(RETRY_INTERVAL).await;
    }
}

/// `Reexecute`; the connection breaking instead of a reply means the same (unitd was quicker than its reply).
async fn call_reexecute(conn: &Connection) -> Result<()> {
    let manager = proxies::manager(conn).await?;
    match manager.reexecute().await {
        Ok(()) => Ok(()),
        Err(e) => {
            let e = ClientError::from(e);
            if e.is_disconnect() {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}
