//! Where unitd is, and connecting to it. The rule is in the crate docs; [`Target::resolve`] is that rule as a
//! pure function of its inputs, [`Target::discover`] feeds it from the environment and the filesystem.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use zbus::connection::Builder;
use zbus::Connection;

use crate::error::{ClientError, Result};

/// unitd's private peer-to-peer socket (`RUNTIME_DIR/private` with the default runtime directory).
pub const PRIVATE_SOCKET: &str = "/run/unitd/private";
/// The environment variable holding an address for unitd.
pub const ADDRESS_ENV: &str = "UNITD_ADDRESS";
/// The environment variable holding the system bus address.
pub const SYSTEM_BUS_ENV: &str = "DBUS_SYSTEM_BUS_ADDRESS";
/// The system bus when `DBUS_SYSTEM_BUS_ADDRESS` is unset.
pub const DEFAULT_SYSTEM_BUS: &str = "unix:path=/run/dbus/system_bus_socket";
/// The file name that marks a `unix:path=` address as a private (peer-to-peer) socket.
pub const PRIVATE_SOCKET_NAME: &str = "private";

/// How to reach unitd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// unitd's private socket at this path: a peer-to-peer connection, no `Hello`, no bus daemon.
    Private(PathBuf),
    /// A message bus at this D-Bus address, where unitd owns `org.freedesktop.systemd1`.
    Bus(String),
}

impl Target {
    /// Reads an explicit address (`--address`, `UNITD_ADDRESS`): a bare path or a `unix:path=…/private` address
    /// is unitd's private socket, anything else is a message bus.
    pub fn parse(address: &str) -> Target {
        let address = address.trim();
        if address.starts_with('/') || address.starts_with("./") || address.starts_with("../") {
            return Target::Private(PathBuf::from(address));
        }
        if let Some(path) = unix_path(address) {
            if Path::new(&path).file_name().and_then(|n| n.to_str()) == Some(PRIVATE_SOCKET_NAME) {
                return Target::Private(PathBuf::from(path));
            }
        }
        Target::Bus(address.to_string())
    }

    /// The discovery rule over its inputs: the flag, `UNITD_ADDRESS`, whether the private socket exists, and
    /// `DBUS_SYSTEM_BUS_ADDRESS`. Empty values count as unset.
    pub fn resolve(
        flag: Option<&str>,
        env_address: Option<&str>,
        private_socket_exists: bool,
        env_system_bus: Option<&str>,
    ) -> Target {
        if let Some(address) = non_empty(flag).or(non_empty(env_address)) {
            return Target::parse(address);
        }
        if private_socket_exists {
            return Target::Private(PathBuf::from(PRIVATE_SOCKET));
        }
        Target::Bus(
            non_empty(env_system_bus)
                .unwrap_or(DEFAULT_SYSTEM_BUS)
                .to_string(),
        )
    }

    /// [`Target::resolve`] with the environment and the filesystem of this process.
    pub fn discover(flag: Option<&str>) -> Target {
        let env_address = std::env::var(ADDRESS_ENV).ok();
        let env_bus = std::env::var(SYSTEM_BUS_ENV).ok();
        let private_exists = Path::new(PRIVATE_SOCKET).exists();
        Target::resolve(
            flag,
            env_address.as_deref(),
            private_exists,
            env_bus.as_deref(),
        )
    }

    /// Whether connecting means a peer-to-peer connection.
    pub fn is_p2p(&self) -> bool {
        matches!(self, Target::Private(_))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Private(path) => write!(f, "unix:path={}", path.display()),
            Target::Bus(address) => f.write_str(address),
        }
    }
}

/// `None` for an unset or blank value.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// The `path` of a `unix:path=…[,key=value…]` address (one transport only; `;`-separated lists are buses).
fn unix_path(address: &str) -> Option<String> {
    if address.contains(';') {
        return None;
    }
    let params = address.strip_prefix("unix:")?;
    params
        .split(',')
        .find_map(|kv| kv.strip_prefix("path="))
        .map(unescape_address_value)
}

/// D-Bus address values escape bytes as `%xx`.
fn unescape_address_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Connects to unitd: the `--address` value if given, else by the discovery rule (see the crate docs). Must run
/// inside a Tokio runtime (zbus is built for Tokio here).
pub async fn connect(address: Option<&str>) -> Result<Connection> {
    connect_to(&Target::discover(address)).await
}

/// Connects to a known target. Must run inside a Tokio runtime.
pub async fn connect_to(target: &Target) -> Result<Connection> {
    match target {
        Target::Private(path) => {
            let stream =
                UnixStream::connect(path).map_err(|source| ClientError::ConnectPrivate {
                    path: path.clone(),
                    source,
                })?;
            Builder::unix_stream(stream)
                .p2p()
                .build()
                .await
                .map_err(|source| ClientError::Handshake {
                    path: path.clone(),
                    source,
                })
        }
        Target::Bus(address) => {
            Builder::address(address.as_str())
                .build()
                .await
                .map_err(|source| ClientError::ConnectBus {
                    address: address.clone(),
                    source,
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(p: &str) -> Target {
        Target::Private(PathBuf::from(p))
    }

    fn bus(a: &str) -> Target {
        Target::Bus(a.to_string())
    }

    #[test]
    fn explicit_addresses() {
        let cases = [
            ("/run/unitd/private", private("/run/unitd/private")),
            ("/tmp/t1/unitd.sock", private("/tmp/t1/unitd.sock")),
            ("./private", private("./private")),
            ("unix:path=/tmp/x/private", private("/tmp/x/private")),
            (
                "unix:path=/tmp/x/private,guid=0123456789abcdef0123456789abcdef",
                private("/tmp/x/private"),
            ),
            ("unix:path=/tmp/a%20b/private", private("/tmp/a b/private")),
            (
                "unix:path=/run/systemd/private",
                private("/run/systemd/private"),
            ),
            (
                "unix:path=/run/dbus/system_bus_socket",
                bus("unix:path=/run/dbus/system_bus_socket"),
            ),
            ("unix:abstract=private", bus("unix:abstract=private")),
            (
                "tcp:host=127.0.0.1,port=4000",
                bus("tcp:host=127.0.0.1,port=4000"),
            ),
            (
                "unix:path=/x/private;unix:path=/y/private",
                bus("unix:path=/x/private;unix:path=/y/private"),
            ),
        ];
        for (address, want) in cases {
            assert_eq!(Target::parse(address), want, "{address}");
        }
    }

    #[test]
    fn discovery_order() {
        // The flag wins over everything.
        assert_eq!(
            Target::resolve(
                Some("/a/private"),
                Some("/b/private"),
                true,
                Some("unix:path=/c")
            ),
            private("/a/private")
        );
        // Then UNITD_ADDRESS.
        assert_eq!(
            Target::resolve(None, Some("unix:path=/b/bus"), true, None),
            bus("unix:path=/b/bus")
        );
        // An empty flag or variable counts as unset.
        assert_eq!(
            Target::resolve(Some(""), Some(" "), true, None),
            private(PRIVATE_SOCKET)
        );
        // Then the private socket if it exists.
        assert_eq!(
            Target::resolve(None, None, true, Some("unix:path=/c")),
            private(PRIVATE_SOCKET)
        );
        // Then the system bus.
        assert_eq!(
            Target::resolve(None, None, false, Some("unix:path=/c")),
            bus("unix:path=/c")
        );
        assert_eq!(
            Target::resolve(None, None, false, None),
            bus(DEFAULT_SYSTEM_BUS)
        );
    }

    #[test]
    fn display_is_an_address() {
        assert_eq!(
            private("/run/unitd/private").to_string(),
            "unix:path=/run/unitd/private"
        );
        assert!(private("/x").is_p2p());
        assert!(!bus("unix:path=/y").is_p2p());
    }
}
