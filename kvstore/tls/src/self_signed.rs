//! etcd's `--auto-tls` and `--peer-auto-tls`: a self-signed certificate for one listener kind, made on the first
//! start and kept in the data directory (`<data-dir>/fixtures/client` and `fixtures/peer`, etcd's layout), so a
//! restarted member presents the same certificate. Clients cannot verify it against any CA: etcdctl 3.4 needs
//! `--insecure-transport=false --insecure-skip-tls-verify`, and members that generated theirs skip verifying each other — the connection is
//! encrypted, not authenticated, which is what etcd's auto TLS offers too.
//!
//! Why `rcgen`: it builds the certificate and its ECDSA P-256 key (etcd's choice) on the `ring` provider rustls
//! already uses, without a system OpenSSL.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};

use crate::config::{file_error, TlsError};

/// How long a generated certificate is valid: one year, as etcd 3.4's.
const VALIDITY: time::Duration = time::Duration::days(365);

/// The certificate and key files of a self-signed pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The pair in `dir` (`cert.pem`, `key.pem`): the one already there, or a new one for `hosts` (IP addresses or
/// DNS names, as the listen URLs give them). The directory is made private (0700) and the key file is 0600; each
/// file is written under a temporary name and renamed, so a crash leaves either no file or a whole one.
pub fn ensure(dir: &Path, hosts: &[String]) -> Result<SelfSigned, TlsError> {
    let pair = SelfSigned {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if pair.cert.is_file() && pair.key.is_file() {
        return Ok(pair);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| file_error(dir, e))?;
    let (cert_pem, key_pem) = generate(hosts).map_err(|e| TlsError::Invalid {
        what: format!("self-signed certificate for {}", hosts.join(", ")),
        reason: e.to_string(),
    })?;
    // The key first: a cert.pem never stands beside a key that is not its own.
    write_new(&pair.key, key_pem.as_bytes(), 0o600)?;
    write_new(&pair.cert, cert_pem.as_bytes(), 0o644)?;
    tracing::info!(cert = %pair.cert.display(), hosts = ?hosts, "generated a self-signed certificate (auto TLS)");
    Ok(pair)
}

/// A certificate for `hosts`, usable by servers and, for members dialing each other, by clients.
fn generate(hosts: &[String]) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(hosts.to_vec())?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, "kvstore");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + VALIDITY;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `path` whole: into `<path>.tmp` (synced), then renamed over it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("pem.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_the_pair() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("fixtures/client");
        let first = ensure(&fixtures, &["127.0.0.1".into(), "localhost".into()]).unwrap();
        let cert = fs::read(&first.cert).unwrap();
        let key = fs::read(&first.key).unwrap();
        // The pair loads as a server identity, and the key is private.
        crate::server_config(&first.cert, &first.key, None, None, &[]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&first.key), 0o600);
        assert_eq!(mode(&fixtures), 0o700);
        // A restart presents the same certificate.
        let again = ensure(&fixtures, &["127.0.0.1".into()]).unwrap();
        assert_eq!(again, first);
        assert_eq!(fs::read(&again.cert).unwrap(), cert);
        assert_eq!(fs::read(&again.key).unwrap(), key);
        // Without its certificate the pair is made again, not half-reused.
        fs::remove_file(&first.cert).unwrap();
        ensure(&fixtures, &["127.0.0.1".into()]).unwrap();
        assert_ne!(fs::read(&first.key).unwrap(), key);
    }
}
