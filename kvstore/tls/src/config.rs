//! PEM files to rustls configurations.
//!
//! Server side ([`server_config`]): a certificate chain and its key; with a client CA, clients must present a
//! certificate it signed (etcd's `--client-cert-auth` with `--trusted-ca-file`, Go's RequireAndVerifyClientCert).
//! Client side ([`client_config`]): the CAs to trust (the given file, else the system bundle, as Go does), an
//! optional client certificate, or no verification at all (`--insecure-skip-tls-verify`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// A TLS setting that cannot be used, with the file or setting it came from.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file that is missing, unreadable or not what it should hold.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// The pieces do not fit together (e.g. a key that is not the certificate's).
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

/// The ring provider. rustls 0.23.48 deprecates it for lacking post-quantum key exchange; the clients kvstore
/// serves (etcdctl 3.4, Go before 1.24) do not offer one either, and the alternative, aws-lc-rs, would add a
/// second C build that needs cmake.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Every certificate in a PEM file; an empty one is an error.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, pem_reason(e)))?;
    if certs.is_empty() {
        return Err(file_error(
            path,
            "no PEM certificate (BEGIN CERTIFICATE) in it",
        ));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, pem_reason(e)))
}

fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "no PEM item of the expected kind in it".into(),
        other => format!("not valid PEM: {other:?}"),
    }
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| file_error(ca, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// A server configuration from `cert` (chain, leaf first) and `key`, read again when they change (see
/// [`crate::reload`]); with `client_ca`, clients must present a certificate that CA signed, and with `crl` too,
/// one that the revocation lists in that file do not name (see [`crate::crl`]). `alpn` lists the protocols
/// offered, most preferred first.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    crl: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let resolver = crate::reload::ReloadingCert::new(cert, key, provider.clone())?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", e))?;
    let builder = match (client_ca, crl) {
        (Some(ca), None) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider)
                    .build()
                    .map_err(|e| file_error(ca, format!("cannot verify clients with it: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        (Some(ca), Some(crl)) => builder.with_client_cert_verifier(Arc::new(
            crate::crl::RevokingVerifier::new(Arc::new(roots(ca)?), provider, crl)?,
        )),
        (None, Some(crl)) => {
            return Err(invalid(
                crl.display().to_string(),
                "a revocation list is checked against client certificates, which are only asked for with a \
                 client CA",
            ))
        }
        (None, None) => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    if crl.is_some() {
        // A resumed session skips the client certificate's verification: with revocations in force, every
        // connection is verified in full (etcd checks its list on every connection too).
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// A client configuration: trust `ca` (else the system's CA bundle), present `identity` (certificate and key
/// files, read again when they change: see [`crate::reload`]) when given, or verify nothing with
/// `insecure_skip_verify`.
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    insecure_skip_verify: bool,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", e))?;
    let builder = if insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
    } else {
        let roots = match ca {
            Some(ca) => roots(ca)?,
            None => system_roots(),
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match identity {
        Some((cert, key)) => builder.with_client_cert_resolver(Arc::new(
            crate::reload::ReloadingCert::new(cert, key, provider.clone())?,
        )),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The system's trusted CAs; certificates that do not parse are skipped, as Go skips them.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (_added, _skipped) = roots.add_parsable_certificates(found.certs);
    roots
}

/// The name a server's certificate must carry for `host` (a DNS name or an IP address, brackets allowed).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| invalid(format!("host {host:?}"), e))
}

/// A certificate and key that do not belong together (or that rustls refuses as a pair).
pub(crate) fn key_mismatch(cert: &Path, key: &Path, e: rustls::Error) -> TlsError {
    invalid(
        format!("{} with {}", cert.display(), key.display()),
        format!("{e} (is the key the certificate's?)"),
    )
}

fn invalid(what: impl Into<String>, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Invalid {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// `--insecure-skip-tls-verify`: any certificate is accepted; signatures are still checked, so the handshake
/// itself is sound (only the identity is unverified).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
