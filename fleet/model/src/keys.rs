//! Where fleet's data lives in the KV store. Everything is under one prefix (fleet's `etcd_key_prefix`,
//! default `/_coreos.com/fleet/`), so one range read at one revision is a consistent snapshot of the cluster
//! and one watch sees every change:
//!
//! | key                                   | value                                   | lease       |
//! |---------------------------------------|-----------------------------------------|-------------|
//! | `unit/<sha1>`                         | canonical unit text (content-addressed) | —           |
//! | `job/<name>/object`                   | `{"name","hash"}`                       | —           |
//! | `job/<name>/target-state`             | `inactive`, `loaded` or `launched`      | —           |
//! | `job/<name>/target`                   | machine ID the engine placed it on      | —           |
//! | `job/<name>/unschedulable`            | why the engine cannot place it          | —           |
//! | `machines/<id>/object`                | [`crate::MachineState`] JSON            | agent's     |
//! | `machines/<id>/metadata`              | dynamic metadata JSON `{"k":"v"}`       | —           |
//! | `state/<name>/<machine>`              | [`crate::UnitState`] JSON               | agent's     |
//! | `engine/leader`                       | machine ID of the active engine         | engine's    |

/// The key layout under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// fleet's default `etcd_key_prefix`.
    pub const DEFAULT_PREFIX: &'static str = "/_coreos.com/fleet/";

    /// The layout under `prefix` (a trailing `/` is added when missing).
    pub fn new(prefix: &str) -> Keys {
        let mut prefix = prefix.to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Keys { prefix }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn units_dir(&self) -> String {
        format!("{}unit/", self.prefix)
    }
    pub fn unit(&self, hash: &str) -> String {
        format!("{}unit/{hash}", self.prefix)
    }
    pub fn jobs_dir(&self) -> String {
        format!("{}job/", self.prefix)
    }
    pub fn job_dir(&self, name: &str) -> String {
        format!("{}job/{name}/", self.prefix)
    }
    pub fn job_object(&self, name: &str) -> String {
        format!("{}job/{name}/object", self.prefix)
    }
    pub fn job_target_state(&self, name: &str) -> String {
        format!("{}job/{name}/target-state", self.prefix)
    }
    pub fn job_target(&self, name: &str) -> String {
        format!("{}job/{name}/target", self.prefix)
    }
    pub fn job_unschedulable(&self, name: &str) -> String {
        format!("{}job/{name}/unschedulable", self.prefix)
    }
    pub fn machines_dir(&self) -> String {
        format!("{}machines/", self.prefix)
    }
    pub fn machine_object(&self, id: &str) -> String {
        format!("{}machines/{id}/object", self.prefix)
    }
    pub fn machine_metadata(&self, id: &str) -> String {
        format!("{}machines/{id}/metadata", self.prefix)
    }
    pub fn states_dir(&self) -> String {
        format!("{}state/", self.prefix)
    }
    pub fn unit_states_dir(&self, name: &str) -> String {
        format!("{}state/{name}/", self.prefix)
    }
    pub fn unit_state(&self, name: &str, machine: &str) -> String {
        format!("{}state/{name}/{machine}", self.prefix)
    }
    pub fn engine_leader(&self) -> String {
        format!("{}engine/leader", self.prefix)
    }

    /// Splits a key under `job/` into (unit name, field), e.g. `("web@1.service", "target")`.
    pub fn parse_job_key<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str)> {
        key.strip_prefix(self.prefix.as_str())?
            .strip_prefix("job/")?
            .rsplit_once('/')
    }

    /// Splits a key under `machines/` into (machine ID, field).
    pub fn parse_machine_key<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str)> {
        key.strip_prefix(self.prefix.as_str())?
            .strip_prefix("machines/")?
            .split_once('/')
    }

    /// Splits a key under `state/` into (unit name, machine ID).
    pub fn parse_state_key<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str)> {
        key.strip_prefix(self.prefix.as_str())?
            .strip_prefix("state/")?
            .rsplit_once('/')
    }

    /// The hash in a key under `unit/`.
    pub fn parse_unit_key<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.prefix.as_str())?
            .strip_prefix("unit/")
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(Keys::DEFAULT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let k = Keys::new("/fleet");
        assert_eq!(k.prefix(), "/fleet/");
        assert_eq!(
            k.job_target("web@1.service"),
            "/fleet/job/web@1.service/target"
        );
        assert_eq!(
            k.parse_job_key(&k.job_target("web@1.service")),
            Some(("web@1.service", "target"))
        );
        assert_eq!(
            k.parse_job_key(&k.job_target_state("a.service")),
            Some(("a.service", "target-state"))
        );
        assert_eq!(
            k.parse_machine_key(&k.machine_object("m1")),
            Some(("m1", "object"))
        );
        assert_eq!(
            k.parse_state_key(&k.unit_state("a.service", "m1")),
            Some(("a.service", "m1"))
        );
        assert_eq!(k.parse_unit_key(&k.unit("abc")), Some("abc"));
        assert_eq!(k.parse_job_key("/other/job/a/target"), None);
        assert_eq!(
            Keys::default().engine_leader(),
            "/_coreos.com/fleet/engine/leader"
        );
    }
}
