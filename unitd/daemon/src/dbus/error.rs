//! D-Bus errors with systemd's error names (`org.freedesktop.systemd1.NoSuchUnit`, …).

use zbus::message::{Header, Message};
use zbus::names::ErrorName;

use crate::manager::ManagerError;

/// An error reply: a D-Bus error name and a human-readable message.
#[derive(Debug)]
pub struct BusError {
    name: &'static str,
    message: String,
}

impl BusError {
    pub fn new(name: &'static str, message: impl Into<String>) -> BusError {
        BusError {
            name,
            message: message.into(),
        }
    }

    pub fn invalid_args(message: impl Into<String>) -> BusError {
        BusError::new("org.freedesktop.DBus.Error.InvalidArgs", message)
    }

    /// The manager task is gone (unitd is shutting down).
    pub fn gone() -> BusError {
        BusError::new(
            "org.freedesktop.DBus.Error.Failed",
            "unitd is shutting down",
        )
    }
}

impl From<ManagerError> for BusError {
    fn from(e: ManagerError) -> BusError {
        BusError::new(e.dbus_name(), e.to_string())
    }
}

impl From<zbus::Error> for BusError {
    fn from(e: zbus::Error) -> BusError {
        BusError::new("org.freedesktop.DBus.Error.Failed", e.to_string())
    }
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl zbus::DBusError for BusError {
    fn create_reply(&self, header: &Header<'_>) -> zbus::Result<Message> {
        Message::error(header, self.name).build(&(self.message.as_str(),))
    }

    fn name(&self) -> ErrorName<'_> {
        ErrorName::from_static_str_unchecked(self.name)
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}
