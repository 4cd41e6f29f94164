//! Certificate revocation lists: etcd's `--client-crl-file` and `--peer-crl-file`. A client certificate whose
//! serial number the CA's list names is refused in the handshake; certificates the list does not cover are
//! judged by the CA alone, as etcd judges them (it checks only the presented certificate's serial).
//!
//! etcd reads the file on every connection, so an operator revokes a certificate by replacing the file, without a
//! restart. Here every handshake compares the file's modification time with the list in use (one `stat`) and
//! builds the verifier again when it changed; a file that does not parse is logged and the previous list stays
//! in force (revocations never silently lapse).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::config::{file_error, TlsError};

/// Every CRL in the file: PEM (`BEGIN X509 CRL`), or one DER-encoded list, as Go's `x509.ParseCRL` takes.
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let pem: Result<Vec<_>, _> = CertificateRevocationListDer::pem_slice_iter(&bytes).collect();
    let crls = match pem {
        Ok(crls) if !crls.is_empty() => crls,
        // Not PEM: a DER list starts with a SEQUENCE tag.
        _ if bytes.first() == Some(&0x30) => vec![CertificateRevocationListDer::from(bytes)],
        _ => {
            return Err(file_error(
                path,
                "no certificate revocation list in it (PEM BEGIN X509 CRL, or DER)",
            ))
        }
    };
    Ok(crls)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Client certificates must chain to `roots` and not be on the lists in `crl`, read again when it changes.
#[derive(Debug)]
pub(crate) struct RevokingVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    crl: PathBuf,
    /// The CA subjects offered to clients; they come from `roots`, which do not change.
    hints: Vec<DistinguishedName>,
    current: Mutex<(Option<SystemTime>, Arc<dyn ClientCertVerifier>)>,
}

impl RevokingVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        crl: &Path,
    ) -> Result<RevokingVerifier, TlsError> {
        let stamp = modified(crl);
        let verifier = build(&roots, &provider, crl)?;
        Ok(RevokingVerifier {
            hints: verifier.root_hint_subjects().to_vec(),
            roots,
            provider,
            crl: crl.to_path_buf(),
            current: Mutex::new((stamp, verifier)),
        })
    }

    /// The verifier for the list on disk now.
    fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        let stamp = modified(&self.crl);
        let mut current = self.lock();
        if stamp != current.0 {
            match build(&self.roots, &self.provider, &self.crl) {
                Ok(v) => {
                    tracing::info!(file = %self.crl.display(), "certificate revocation list reloaded");
                    *current = (stamp, v);
                }
                Err(e) => {
                    // Keep the list in force; try again when the file changes next.
                    tracing::warn!(error = %e, "certificate revocation list not reloaded; the previous one stays in force");
                    current.0 = stamp;
                }
            }
        }
        current.1.clone()
    }

    /// The verifier in force, without looking at the file (for the handshake's signature checks, which do not
    /// depend on the list).
    fn in_force(&self) -> Arc<dyn ClientCertVerifier> {
        self.lock().1.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<SystemTime>, Arc<dyn ClientCertVerifier>)> {
        // The pair is replaced whole, so a panic elsewhere cannot have left it half-written.
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn build(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    crl: &Path,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(load_crls(crl)?)
        .only_check_end_entity_revocation()
        .allow_unknown_revocation_status()
        .build()
        .map_err(|e| {
            file_error(
                crl,
                format!("cannot check client certificates with it: {e}"),
            )
        })
}

impl ClientCertVerifier for RevokingVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifier()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.in_force().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.in_force().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.in_force().supported_verify_schemes()
    }
}
