//! The seam between fleetctl's verbs and the cluster: [`Driver`], with fleet's two implementations —
//! [`ApiDriver`] (fleetd's HTTP API, the default) and [`EtcdDriver`] (the registry in the KV store, `--driver
//! etcd`) — and [`AnyDriver`], the one chosen on the command line. Tests use the in-memory `fake` beside it.
//!
//! Every driver speaks in fleet's API entities ([`ApiUnit`], [`ApiUnitState`], [`ApiMachine`]), as fleet's own
//! client did, so the verbs (and their output) cannot tell which driver they run on.

mod api;
mod etcd;
#[cfg(test)]
pub(crate) mod fake;

use std::future::Future;

use fleet_model::schema::{ApiMachine, ApiUnit, ApiUnitState};
use fleet_model::{Requirements, TargetState, UnitFile};
use fleet_registry::RegistryError;

pub use api::ApiDriver;
pub use etcd::EtcdDriver;

use crate::http::HttpError;

/// What fleetctl asks of the cluster.
pub trait Driver: Send + Sync {
    /// Every unit, sorted by name.
    fn units(&self) -> impl Future<Output = Result<Vec<ApiUnit>, DriverError>> + Send;
    /// One unit; `None` when there is no such unit.
    fn unit(&self, name: &str)
        -> impl Future<Output = Result<Option<ApiUnit>, DriverError>> + Send;
    /// The states agents published, sorted by (unit, machine); only those of `unit` if given.
    fn unit_states(
        &self,
        unit: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ApiUnitState>, DriverError>> + Send;
    /// The machines of the cluster, sorted by ID.
    fn machines(&self) -> impl Future<Output = Result<Vec<ApiMachine>, DriverError>> + Send;
    /// Adds a unit that is not in the registry yet.
    fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Replaces the contents of an existing unit and sets its desired state (fleet's `PUT` with options and a
    /// different hash: agents reload the unit, and restart it if it runs).
    fn replace_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Sets what the user wants of a unit.
    fn set_desired_state(
        &self,
        name: &str,
        desired: TargetState,
    ) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// Removes a unit; [`DriverError::is_not_found`] when there is none.
    fn destroy_unit(&self, name: &str) -> impl Future<Output = Result<(), DriverError>> + Send;
}

/// Why a driver call failed. The texts are what fleet's client printed inside its messages.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// No HTTP answer at all.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// fleetd answered with an error status (Go's `googleapi.Error` text).
    #[error("{}", googleapi_message(*.code, .message, .body))]
    Api {
        code: u16,
        message: String,
        body: String,
    },
    /// fleetd answered something that is not the JSON it should be.
    #[error("unable to decode the response of {what}: {reason}")]
    Decode { what: String, reason: String },
    /// The KV store (etcd driver).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A request the etcd driver refuses as fleetd's API would.
    #[error("{0}")]
    Refused(String),
}

impl DriverError {
    /// Whether the unit (or whatever was asked for) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            DriverError::Api { code: 404, .. }
                | DriverError::Registry(RegistryError::NoSuchUnit(_))
        )
    }
}

/// Go's `googleapi.Error.Error()`.
fn googleapi_message(code: u16, message: &str, body: &str) -> String {
    if message.is_empty() {
        format!("googleapi: got HTTP response code {code} with body: {body}")
    } else {
        format!("googleapi: Error {code}: {message}")
    }
}

/// A unit's contents, from the options the API carries.
pub fn unit_file(u: &ApiUnit) -> UnitFile {
    UnitFile::from_options(u.options.clone())
}

/// fleet's `suToGlobal`: whether `[X-Fleet] Global=` (its last value) is truthy.
pub fn is_global(u: &ApiUnit) -> bool {
    Requirements::from_unit(&u.name, &unit_file(u)).global
}

/// A unit's desired state, if it is one of fleet's three.
pub fn desired(u: &ApiUnit) -> Option<TargetState> {
    u.desired_state.parse().ok()
}

/// The driver chosen with `--driver` (an enum over the two backends, so the verbs are compiled once).
pub enum AnyDriver {
    Api(ApiDriver),
    Etcd(Box<EtcdDriver>),
}

macro_rules! dispatch {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            AnyDriver::Api($d) => $call.await,
            AnyDriver::Etcd($d) => $call.await,
        }
    };
}

impl Driver for AnyDriver {
    async fn units(&self) -> Result<Vec<ApiUnit>, DriverError> {
        dispatch!(self, d => d.units())
    }
    async fn unit(&self, name: &str) -> Result<Option<ApiUnit>, DriverError> {
        dispatch!(self, d => d.unit(name))
    }
    async fn unit_states(&self, unit: Option<&str>) -> Result<Vec<ApiUnitState>, DriverError> {
        dispatch!(self, d => d.unit_states(unit))
    }
    async fn machines(&self) -> Result<Vec<ApiMachine>, DriverError> {
        dispatch!(self, d => d.machines())
    }
    async fn create_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        dispatch!(self, d => d.create_unit(name, unit, desired))
    }
    async fn replace_unit(
        &self,
        name: &str,
        unit: &UnitFile,
        desired: TargetState,
    ) -> Result<(), DriverError> {
        dispatch!(self, d => d.replace_unit(name, unit, desired))
    }
    async fn set_desired_state(&self, name: &str, desired: TargetState) -> Result<(), DriverError> {
        dispatch!(self, d => d.set_desired_state(name, desired))
    }
    async fn destroy_unit(&self, name: &str) -> Result<(), DriverError> {
        dispatch!(self, d => d.destroy_unit(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_like_fleets_go_client() {
        let e = DriverError::Api {
            code: 400,
            message: "cannot activate template \"web@.service\"".into(),
            body: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "googleapi: Error 400: cannot activate template \"web@.service\""
        );
        let e = DriverError::Api {
            code: 500,
            message: String::new(),
            body: "{\"error\":{\"code\":500,\"message\":\"\"}}".into(),
        };
        assert_eq!(
            e.to_string(),
            "googleapi: got HTTP response code 500 with body: {\"error\":{\"code\":500,\"message\":\"\"}}"
        );
        assert!(DriverError::Api {
            code: 404,
            message: "unit does not exist".into(),
            body: String::new()
        }
        .is_not_found());
        assert!(DriverError::Registry(RegistryError::NoSuchUnit("a".into())).is_not_found());
        assert!(!DriverError::Refused("x".into()).is_not_found());
    }

    #[test]
    fn global_units_are_read_from_their_options() {
        let u = |text: &str| ApiUnit {
            name: "g.service".into(),
            options: UnitFile::parse(text).expect("valid").options().to_vec(),
            ..ApiUnit::default()
        };
        assert!(is_global(&u("[X-Fleet]\nGlobal=true\n")));
        assert!(!is_global(&u("[X-Fleet]\nGlobal=true\nGlobal=no\n")));
        assert!(!is_global(&u("[Service]\nExecStart=/bin/true\n")));
    }
}
