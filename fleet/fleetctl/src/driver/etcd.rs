//! [`EtcdDriver`]: fleet's registry read and written directly in the KV store (`--driver etcd`), through
//! `fleet-registry`. Units are shown as fleet's API shows them, with the same derived `currentState`.
//!
//! Lists read the whole registry at one revision ([`fleet_registry::Registry::cluster`]); a single unit is one
//! narrow read ([`fleet_registry::Registry::unit`]), which is what the waiters poll.

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_model::schema::{ApiMachine, ApiUnit, ApiUnitState};
use fleet_model::{TargetState, UnitFile};
use fleet_registry::api_view::{api_machine, api_unit, api_unit_state};
use fleet_registry::Registry;

use super::{Driver, DriverError};
use crate::names::is_template;

/// fleet's registry in the KV store.
pub struct EtcdDriver {
    registry: Registry,
}

impl EtcdDriver {
    /// Connects to the KV store at `endpoints`, fleet's keys under `prefix`.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        request_timeout: Duration,
        tls: &fleet_registry::KvTls,
    ) -> Result<EtcdDriver, DriverError> {
        Ok(EtcdDriver {
            registry: Registry::connect_tls(endpoints, prefix, request_timeout, tls).await?,
        })
    }
}

impl Driver for EtcdDriver {
    async fn units(&self) -> Result<Vec<ApiUnit>, DriverError> {
        let cluster = self.registry.cluster().await?;
        Ok(cluster
            .units
            .values()
            .map(|u| api_unit(u, cluster.states.get(&u.name)))
            .collect())
    }

    async fn unit(&self, name: &str) -> Result<Option<ApiUnit>, DriverError> {
        Ok(self
            .registry
            .unit(name)
            .await?
            .map(|(unit, states)| api_unit(&unit, Some(&states))))
    }

    async fn unit_states(&self, unit: Option<&str>) -> Result<Vec<ApiUnitState>, DriverError> {
        let states = match unit {
            Some(name) => {
                let per_machine = self
                    .registry
                    .unit(name)
                    .await?
                    .map(|(_, s)| s)
                    .unwrap_or_default();
                BTreeMap::from([(name.to_string(), per_machine)])
            }
            None => self.registry.cluster().await?.states,
        };
        Ok(states
            .iter()
            .flat_map(|(name, per_machine)| {
                per_machine
                    .iter()
                    .map(move |(machine, s)| api_unit_state(name, machine, s))
            })
            .collect())
    }

    async fn machines(&self) -> Result<Vec<ApiMachine>, DriverError> {
        let cluster = self.registry.cluster().await?;
        Ok(cluster.machines.values().map(api_machine).collect())
    }

    async fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        Ok(self.registry.create_unit(name, unit, desired).await?)
    }

    async fn replace_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        // Two writes: lower the target first when going down (so agents never start the new contents only to
        // stop them), raise it last when going up or staying.
        if desired == TargetState::Inactive {
            self.registry.set_target_state(name, desired).await?;
            self.registry.replace_unit(name, unit).await?;
        } else {
            self.registry.replace_unit(name, unit).await?;
            self.registry.set_target_state(name, desired).await?;
        }
        Ok(())
    }

    async fn set_desired_state(&self, name: &str, desired: TargetState) -> Result<(), DriverError> {
        if is_template(name) && desired != TargetState::Inactive {
            return Err(DriverError::Refused(format!(
                "cannot activate template {name:?}"
            )));
        }
        Ok(self.registry.set_target_state(name, desired).await?)
    }

    async fn destroy_unit(&self, name: &str) -> Result<(), DriverError> {
        Ok(self.registry.destroy_unit(name).await?)
    }
}
