//! How talking to unitd fails: [`ClientError`], and [`RemoteError`] for the D-Bus error replies unitd sends
//! (systemd's `org.freedesktop.systemd1.*` names, listed in [`names`]).

use std::fmt;
use std::path::PathBuf;

use zbus::DBusError;

/// The D-Bus error names unitd replies with (systemd's, see `unitd/DBUS.md`).
pub mod names {
    /// The unit is not loaded (GetUnit) or has no unit file (StartUnit, LoadUnit).
    pub const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
    /// The unit file could not be loaded.
    pub const LOAD_FAILED: &str = "org.freedesktop.systemd1.LoadFailed";
    /// The unit is masked.
    pub const UNIT_MASKED: &str = "org.freedesktop.systemd1.UnitMasked";
    /// The job type does not apply to the unit (reload of a unit without ExecReload=).
    pub const JOB_TYPE_NOT_APPLICABLE: &str = "org.freedesktop.systemd1.JobTypeNotApplicable";
    /// The transaction would stop a unit a `fail`-mode job depends on.
    pub const TRANSACTION_IS_DESTRUCTIVE: &str =
        "org.freedesktop.systemd1.TransactionIsDestructive";
    /// The ordering dependencies of the transaction form a cycle.
    pub const TRANSACTION_ORDER_IS_CYCLIC: &str =
        "org.freedesktop.systemd1.TransactionOrderIsCyclic";
    /// No job with that id or path.
    pub const NO_SUCH_JOB: &str = "org.freedesktop.systemd1.NoSuchJob";
    /// Isolate and similar requests the unit does not allow.
    pub const ONLY_BY_DEPENDENCY: &str = "org.freedesktop.systemd1.OnlyByDependency";
    /// The unit may not be isolated.
    pub const NO_ISOLATION: &str = "org.freedesktop.systemd1.NoIsolation";
    /// A bad argument (a job mode unitd does not support).
    pub const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
    /// The caller may not do this.
    pub const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
    /// The operation is not supported.
    pub const NOT_SUPPORTED: &str = "org.freedesktop.DBus.Error.NotSupported";
    /// The object (a unit that is not loaded) does not exist.
    pub const UNKNOWN_OBJECT: &str = "org.freedesktop.DBus.Error.UnknownObject";
}

/// Everything that can go wrong between a client and unitd.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The private socket could not be opened.
    #[error("failed to connect to unitd at {}: {source}", path.display())]
    ConnectPrivate {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The D-Bus handshake on the private socket failed.
    #[error("failed to set up a D-Bus connection to unitd at {}: {source}", path.display())]
    Handshake {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: zbus::Error,
    },
    /// The message bus could not be reached.
    #[error("failed to connect to the bus at {address}: {source}")]
    ConnectBus {
        /// The D-Bus address tried.
        address: String,
        /// Why.
        #[source]
        source: zbus::Error,
    },
    /// A call failed: a D-Bus error reply from unitd, or the connection broke.
    #[error("{}", describe(.0))]
    DBus(#[from] zbus::Error),
    /// unitd did not answer again after `Reexecute` (see [`crate::reexec`]).
    #[error("unitd did not come back within {}s after re-executing", timeout.as_secs())]
    NotBack {
        /// How long the client waited.
        timeout: std::time::Duration,
    },
    /// The connection ended while a job was still queued.
    #[error("connection to unitd closed while waiting for job {job}")]
    Disconnected {
        /// The job's object path.
        job: String,
    },
}

impl From<zbus::fdo::Error> for ClientError {
    fn from(e: zbus::fdo::Error) -> Self {
        ClientError::DBus(zbus::Error::FDO(Box::new(e)))
    }
}

/// `pub type Result` for this crate.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A D-Bus error reply: its name and human-readable message (systemd puts the sentence systemctl prints there,
/// e.g. `Unit foo.service not found.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
    pub name: String,
    /// The message; empty when the reply had none.
    pub message: String,
}

impl RemoteError {
    /// The error reply inside a zbus error, if it is one.
    pub fn from_zbus(err: &zbus::Error) -> Option<RemoteError> {
        match err {
            zbus::Error::MethodError(name, message, _) => Some(RemoteError {
                name: name.to_string(),
                message: message.clone().unwrap_or_default(),
            }),
            zbus::Error::FDO(e) => Some(RemoteError {
                name: e.name().to_string(),
                message: e.description().unwrap_or_default().to_string(),
            }),
            _ => None,
        }
    }

    /// Whether this is the error `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.name)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// A zbus error as a sentence: the message of an error reply, zbus's own text otherwise.
fn describe(err: &zbus::Error) -> String {
    match RemoteError::from_zbus(err) {
        Some(remote) => remote.to_string(),
        None => err.to_string(),
    }
}

impl ClientError {
    /// The D-Bus error reply behind this error, if there is one.
    pub fn remote(&self) -> Option<RemoteError> {
        match self {
            ClientError::DBus(e) => RemoteError::from_zbus(e),
            _ => None,
        }
    }

    /// Whether unitd replied with the error `name`.
    pub fn is_remote(&self, name: &str) -> bool {
        self.remote().is_some_and(|r| r.is(name))
    }

    /// Whether the connection went away (what `Reexecute` does to its caller).
    pub fn is_disconnect(&self) -> bool {
        match self {
            ClientError::Disconnected { .. } => true,
            ClientError::DBus(zbus::Error::InputOutput(_)) => true,
            ClientError::DBus(zbus::Error::FDO(e)) => matches!(
                **e,
                zbus::fdo::Error::NoReply(_) | zbus::fdo::Error::Disconnected(_)
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdo_errors_are_remote_errors() {
        let err = ClientError::DBus(zbus::Error::FDO(Box::new(zbus::fdo::Error::InvalidArgs(
            "bad mode".into(),
        ))));
        let remote = err.remote().expect("remote");
        assert_eq!(remote.name, names::INVALID_ARGS);
        assert_eq!(remote.message, "bad mode");
        assert_eq!(err.to_string(), "bad mode");
        assert!(err.is_remote(names::INVALID_ARGS));
        assert!(!err.is_disconnect());
    }

    #[test]
    fn io_errors_are_disconnects() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        let err = ClientError::DBus(zbus::Error::InputOutput(std::sync::Arc::new(io)));
        assert!(err.is_disconnect());
        assert!(err.remote().is_none());
    }
}
