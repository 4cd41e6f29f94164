//! # unitd-client
//!
//! The client side of unitd's D-Bus API (see `unitd/DBUS.md`): systemd's `org.freedesktop.systemd1` names and
//! signatures, plus unitd's own `io.flotilla.unitd1.Manager`. `unitctl` and the fleet agent reach unitd only
//! through this crate, never through the daemon's code.
//!
//! Layout:
//! - [`proxies`]: zbus `#[proxy]` definitions, one file per interface (`Manager`, `Unit`, `Service`, `Job`,
//!   `io.flotilla.unitd1.Manager`), the wire structs of their array results, and constructors that turn property
//!   caching off (a CLI reads each property once; caching would subscribe to `PropertiesChanged` through the bus
//!   daemon, which a peer-to-peer connection does not have).
//! - [`path`]: `sd_bus_path_encode` escaping of unit names into object paths.
//! - [`address`]: where unitd is ([`Target`]) and [`connect`].
//! - [`jobs`]: enqueueing a job and waiting for its `JobRemoved` ([`JobWaiter`], [`start_and_wait`] and friends).
//! - [`reexec`]: `Reexecute` and waiting until the new unitd answers ([`reexecute`]).
//! - [`error`]: [`ClientError`] and the D-Bus error names unitd replies with.
//!
//! ## Finding unitd
//!
//! [`connect`] takes the `--address` value and otherwise looks at the environment, in this order:
//!
//! 1. the explicit address (`--address`), else
//! 2. `UNITD_ADDRESS`, else
//! 3. unitd's private socket `/run/unitd/private` if it exists, else
//! 4. the system bus: `DBUS_SYSTEM_BUS_ADDRESS`, else `unix:path=/run/dbus/system_bus_socket`.
//!
//! An explicit address (1 or 2) is read as follows, and this is the whole rule for choosing between a
//! peer-to-peer connection and a message-bus connection:
//!
//! - a bare filesystem path (`/run/unitd/private`, `./private`) is the path of unitd's private socket:
//!   connected peer-to-peer (no `Hello`, no bus daemon);
//! - a D-Bus address `unix:path=DIR/private` (the socket file is named `private`, as unitd's
//!   `RUNTIME_DIR/private` and systemd's `/run/systemd/private` are) is likewise connected peer-to-peer;
//! - any other D-Bus address (`unix:path=/run/dbus/system_bus_socket`, `tcp:host=…`) is a message bus, connected
//!   the way busctl's `--address` is (with `Hello`), and unitd is the name `org.freedesktop.systemd1` on it.
//!
//! A p2p connection has no bus daemon: signals (`JobRemoved`) arrive without a sender and `AddMatch` is never sent;
//! there [`JobWaiter`] matches `JobRemoved` by path, interface and member only, the way systemctl does on
//! `/run/systemd/private` (on a bus it also matches the sender `org.freedesktop.systemd1`).
//!
//! Why this rule rather than probing: a p2p connection to a bus daemon (or a bus connection to unitd's socket,
//! whose `Hello` unitd answers but whose `AddMatch` it need not) fails late and confusingly, so the choice is
//! made from the address alone, before connecting, and is the same for every client.

pub mod address;
pub mod error;
pub mod jobs;
pub mod path;
pub mod proxies;
pub mod reexec;

pub use address::{connect, connect_to, Target};
pub use error::{ClientError, RemoteError, Result};
pub use jobs::{
    reload_and_wait, restart_and_wait, run_and_wait, start_and_wait, stop_and_wait, JobMode,
    JobOutcome, JobResult, JobWaiter, UnitAction,
};
pub use path::{unit_name_from_object_path, unit_object_path};
pub use proxies::{
    ExecCommand, FlotillaManagerProxy, JobListEntry, JobProxy, ManagerProxy, ServiceProxy,
    UnitFileChange, UnitFileEntry, UnitListEntry, UnitProxy,
};
pub use reexec::reexecute;

/// Re-exported so users name the same zbus types this crate uses.
pub use zbus;
pub use zbus::{Connection, OwnedObjectPath};
