//! A private message bus for one test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_for;

/// A private message bus (`dbus-daemon --session`) for a test; killed on drop.
pub struct DbusDaemon {
    child: Child,
    /// Its D-Bus address (`unix:path=…/bus`), for unitd's `--bus-address` and the clients.
    pub address: String,
}

impl DbusDaemon {
    /// Starts a bus with its socket in `dir`; panics if dbus-daemon is missing or does not come up.
    pub fn start(dir: &Path) -> DbusDaemon {
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon is required (apt-get install dbus)");
        let bus = DbusDaemon { child, address };
        assert!(
            wait_for(Duration::from_secs(10), || socket.exists()),
            "dbus-daemon did not come up"
        );
        bus
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
