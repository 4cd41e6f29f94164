//! Job objects at `/org/freedesktop/systemd1/job/<id>`: `org.freedesktop.systemd1.Job`.

use zbus::{interface, OwnedObjectPath};

use super::error::BusError;
use super::BusCtx;
use crate::manager::Request;

pub struct JobIface {
    pub ctx: BusCtx,
    pub id: u32,
    pub unit: String,
}

#[interface(name = "org.freedesktop.systemd1.Job")]
impl JobIface {
    async fn cancel(&self) -> Result<(), BusError> {
        let id = self.id;
        self.ctx
            .call(|reply| Request::CancelJob { id, reply })
            .await
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> u32 {
        self.id
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn unit(&self) -> (String, OwnedObjectPath) {
        (
            self.unit.clone(),
            unitd_client::unit_object_path(&self.unit),
        )
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn job_type(&self) -> String {
        self.ctx
            .shared
            .read()
            .ok()
            .and_then(|s| s.jobs.get(&self.id).map(|j| j.job_type.clone()))
            .unwrap_or_default()
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn state(&self) -> String {
        self.ctx
            .shared
            .read()
            .ok()
            .and_then(|s| s.jobs.get(&self.id).map(|j| j.state.clone()))
            .unwrap_or_default()
    }
}

/// `org.freedesktop.DBus.Hello` on the private socket, so that sd-bus clients that greet a bus (busctl with
/// `--address`) also work peer-to-peer, as they do on systemd's /run/systemd/private.
pub struct HelloIface;

#[interface(name = "org.freedesktop.DBus")]
impl HelloIface {
    fn hello(&self) -> String {
        ":1.1".to_string()
    }

    fn add_match(&self, _rule: String) {}

    fn remove_match(&self, _rule: String) {}

    fn get_name_owner(&self, name: String) -> Result<String, BusError> {
        if name == "org.freedesktop.systemd1" || name == "org.freedesktop.DBus" {
            Ok(":1.0".to_string())
        } else {
            Err(BusError::new(
                "org.freedesktop.DBus.Error.NameHasNoOwner",
                format!("Could not get owner of name '{name}'"),
            ))
        }
    }
}
