//! A certificate that follows its files: etcd loads `--cert-file`/`--key-file` (and the peer pair a member
//! presents when it dials) again for new connections, so an operator rotates a certificate by replacing the
//! files, without restarting the member. Here every handshake, on the serving side or the dialing side,
//! compares the two files' modification times with the pair in use (two `stat`s) and reads them again when
//! either changed; a pair that does not load (half-written, or a key that is not the certificate's) is
//! logged and the previous one stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use crate::config::{key_mismatch, load_certs, load_key, TlsError};

/// The certificate and key files, and the pair last loaded from them.
#[derive(Debug)]
pub(crate) struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    /// The files' modification times when they were read.
    stamps: (Option<SystemTime>, Option<SystemTime>),
    pair: Arc<CertifiedKey>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    CertifiedKey::from_der(chain, key_der, provider)
        .map(Arc::new)
        .map_err(|e| key_mismatch(cert, key, e))
}

impl ReloadingCert {
    /// Loads the pair now: a bad file at start is an error, not a log line.
    pub(crate) fn new(
        cert: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingCert, TlsError> {
        let stamps = (modified(cert), modified(key));
        let pair = load_pair(cert, key, &provider)?;
        Ok(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            loaded: Mutex::new(Loaded { stamps, pair }),
        })
    }

    /// The pair to present, read again first if the files changed since they were last read.
    fn current(&self) -> Option<Arc<CertifiedKey>> {
        let mut loaded = self.loaded.lock().ok()?;
        let stamps = (modified(&self.cert), modified(&self.key));
        if stamps != loaded.stamps {
            match load_pair(&self.cert, &self.key, &self.provider) {
                Ok(pair) => {
                    tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                    loaded.pair = pair;
                    loaded.stamps = stamps;
                }
                Err(e) => {
                    // Keep serving the old pair; try again on the next handshake (the files may be mid-copy).
                    tracing::warn!(error = %e, "TLS certificate changed but does not load; still using the previous one");
                }
            }
        }
        Some(loaded.pair.clone())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

impl ResolvesClientCert for ReloadingCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}
