//! TLS to the KV store, from fleet's settings `etcd_cafile`, `etcd_certfile` and `etcd_keyfile` (fleetctl's
//! `--ca-file`, `--cert-file`, `--key-file`): used for `https://` endpoints. The CA file is trusted instead of
//! the system's CAs; the certificate and key identify fleet to a KV store with client-cert-auth.

use std::path::{Path, PathBuf};

use etcd_client::{Certificate, Identity, TlsOptions};

use crate::error::RegistryError;

/// The TLS files for the KV connection; all empty means the system's CAs and no client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvTls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, RegistryError> {
    let bytes = std::fs::read(path).map_err(|e| RegistryError::Tls {
        setting,
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(RegistryError::Tls {
            setting,
            path: path.display().to_string(),
            reason: "not a PEM file".into(),
        });
    }
    Ok(bytes)
}

/// The TLS options, and which endpoints they are for: `https://` ones, and scheme-less ones when TLS files
/// were given (etcd-client then dials them with TLS); never `http://` ones.
pub(crate) struct TlsFor {
    options: TlsOptions,
    files_given: bool,
}

impl TlsFor {
    pub(crate) fn for_url(&self, url: &str) -> Option<TlsOptions> {
        let tls = url.starts_with("https://") || (!url.contains("://") && self.files_given);
        tls.then(|| self.options.clone())
    }
}

/// A certificate without its key, or a key without its certificate.
fn unpaired(setting: &'static str, path: &Path) -> RegistryError {
    RegistryError::Tls {
        setting,
        path: path.display().to_string(),
        reason: "etcd_certfile and etcd_keyfile go together".into(),
    }
}

impl KvTls {
    /// The client's TLS options (files read now, so a bad one is reported before connecting).
    pub(crate) fn options(&self) -> Result<TlsFor, RegistryError> {
        let mut options = TlsOptions::new();
        options = match &self.ca_file {
            Some(ca) => options.ca_certificate(Certificate::from_pem(read("etcd_cafile", ca)?)),
            None => options.with_native_roots(),
        };
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                options = options.identity(Identity::from_pem(
                    read("etcd_certfile", cert)?,
                    read("etcd_keyfile", key)?,
                ));
            }
            (None, None) => {}
            (Some(alone), None) => return Err(unpaired("etcd_certfile", alone)),
            (None, Some(alone)) => return Err(unpaired("etcd_keyfile", alone)),
        }
        Ok(TlsFor {
            options,
            files_given: self.ca_file.is_some() || self.cert_file.is_some(),
        })
    }
}
