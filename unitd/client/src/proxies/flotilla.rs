//! `io.flotilla.unitd1.Manager` at `/org/freedesktop/systemd1`: what unitd has beyond systemd's API.

use zbus::proxy;

/// unitd's directories.
#[proxy(
    interface = "io.flotilla.unitd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub trait FlotillaManager {
    /// unitd's state directory; the journal lives in `StateDirectory/journal`.
    #[zbus(property(emits_changed_signal = "const"), name = "StateDirectory")]
    fn state_directory(&self) -> zbus::Result<String>;

    /// unitd's runtime directory (its private socket is `RuntimeDirectory/private`).
    #[zbus(property(emits_changed_signal = "const"), name = "RuntimeDirectory")]
    fn runtime_directory(&self) -> zbus::Result<String>;
}
