//! Registry errors.

/// What a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The KV store refused or could not be reached.
    #[error("KV store: {0}")]
    Kv(#[from] etcd_client::Error),
    /// A stored value that does not decode (written by something else, or corrupted).
    #[error("bad value at {key}: {reason}")]
    BadValue { key: String, reason: String },
    /// The unit is not in the registry.
    #[error("unit {0} does not exist")]
    NoSuchUnit(String),
    /// The unit is already in the registry (create).
    #[error("unit {0} already exists")]
    UnitExists(String),
    /// The machine is not registered.
    #[error("machine {0} does not exist")]
    NoSuchMachine(String),
    /// Someone else changed the same keys first; read again and retry.
    #[error("lost a race on {0}; read again")]
    Conflict(String),
    /// A TLS file for the KV connection (`etcd_cafile`, `etcd_certfile`, `etcd_keyfile`) that cannot be used.
    #[error("{setting} {path}: {reason}")]
    Tls {
        setting: &'static str,
        path: String,
        reason: String,
    },
}

impl RegistryError {
    /// Whether the KV store could not be reached at all (as opposed to a refusal).
    pub fn is_unavailable(&self) -> bool {
        use tonic::Code;
        match self {
            RegistryError::Kv(etcd_client::Error::GRpcStatus(s)) => matches!(
                s.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
            ),
            RegistryError::Kv(
                etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_),
            ) => true,
            _ => false,
        }
    }
}
