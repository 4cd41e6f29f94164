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

    /// Whether the request never left this process: the connection to the endpoint was refused. Only then is
    /// a change known not to have been applied.
    pub fn is_unsent(&self) -> bool {
        // etcd_client's error gives no source; its gRPC status and transport error do.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = match self {
            RegistryError::Kv(etcd_client::Error::GRpcStatus(s)) => Some(s),
            RegistryError::Kv(etcd_client::Error::TransportError(t)) => Some(t),
            RegistryError::Kv(etcd_client::Error::IoError(io)) => Some(io),
            _ => None,
        };
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return true;
                }
            }
            cause = c.source();
        }
        false
    }
}
