//! Real TLS handshakes over loopback between [`Stream::accept`] and [`Stream::connect`], with certificates from a
//! throwaway CA: what verifies, what is refused and how a bad file is reported.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use flotilla_tests::pki::Pki;
use kvstore_tls::{client_config, server_config, server_name, Stream, TlsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one connection with `server`, echoes one line's worth of bytes, and reports the handshake's outcome.
async fn echo_once(
    server: Arc<kvstore_tls::ServerConfig>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut s = Stream::accept(tcp, Some(&server)).await?;
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await?;
        s.write_all(&buf).await?;
        s.flush().await
    });
    (addr, task)
}

async fn roundtrip(
    addr: std::net::SocketAddr,
    client: &Arc<kvstore_tls::ClientConfig>,
    host: &str,
) -> std::io::Result<Vec<u8>> {
    let mut s = Stream::connect(addr, Some((client, server_name(host).unwrap()))).await?;
    s.write_all(b"hello").await?;
    s.flush().await?;
    let mut buf = vec![0u8; 5];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

#[tokio::test]
async fn a_client_trusting_the_ca_talks_to_the_server_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let other = Pki::new(dir.path(), "other");
    let leaf = pki.issue("server", &["127.0.0.1", "localhost"]);
    let server = server_config(&leaf.cert, &leaf.key, None, None, &[b"h2"]).unwrap();

    let trusting = client_config(Some(&pki.ca()), None, false, &[b"h2"]).unwrap();
    let (addr, task) = echo_once(server.clone()).await;
    assert_eq!(
        roundtrip(addr, &trusting, "127.0.0.1").await.unwrap(),
        b"hello"
    );
    task.await.unwrap().unwrap();

    // Another CA's client does not accept the certificate.
    let stranger = client_config(Some(&other.ca()), None, false, &[]).unwrap();
    let (addr, task) = echo_once(server.clone()).await;
    let err = roundtrip(addr, &stranger, "127.0.0.1").await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(task.await.unwrap().is_err());

    // The right CA, the wrong name: the certificate is for 127.0.0.1 and localhost only.
    let (addr, task) = echo_once(server.clone()).await;
    let err = roundtrip(addr, &trusting, "127.0.0.2").await.unwrap_err();
    assert!(err.to_string().contains("not valid for name"), "{err}");
    assert!(task.await.unwrap().is_err());

    // --insecure-skip-tls-verify accepts it anyway.
    let skipping = client_config(None, None, true, &[]).unwrap();
    let (addr, task) = echo_once(server).await;
    assert_eq!(
        roundtrip(addr, &skipping, "127.0.0.2").await.unwrap(),
        b"hello"
    );
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn client_cert_auth_requires_a_certificate_from_the_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let other = Pki::new(dir.path(), "other");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let server = server_config(&leaf.cert, &leaf.key, Some(&pki.ca()), None, &[]).unwrap();

    let ours = pki.issue("client", &["127.0.0.1"]);
    let with_cert =
        client_config(Some(&pki.ca()), Some((&ours.cert, &ours.key)), false, &[]).unwrap();
    let (addr, task) = echo_once(server.clone()).await;
    assert_eq!(
        roundtrip(addr, &with_cert, "127.0.0.1").await.unwrap(),
        b"hello"
    );
    task.await.unwrap().unwrap();

    // No certificate: the server ends the handshake.
    let without = client_config(Some(&pki.ca()), None, false, &[]).unwrap();
    let (addr, task) = echo_once(server.clone()).await;
    let _ = roundtrip(addr, &without, "127.0.0.1").await.unwrap_err();
    let err = task.await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("peer sent no certificates"),
        "{err}"
    );

    // A certificate from another CA: refused too.
    let theirs = other.issue("client", &["127.0.0.1"]);
    let foreign = client_config(
        Some(&pki.ca()),
        Some((&theirs.cert, &theirs.key)),
        false,
        &[],
    )
    .unwrap();
    let (addr, task) = echo_once(server).await;
    let _ = roundtrip(addr, &foreign, "127.0.0.1").await.unwrap_err();
    let err = task.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[test]
fn bad_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let missing = dir.path().join("nope.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();

    let err = server_config(&missing, &leaf.key, None, None, &[]).unwrap_err();
    assert!(
        matches!(&err, TlsError::File { path, .. } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("No such file"), "{err}");

    let err = server_config(&garbage, &leaf.key, None, None, &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(&garbage.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    // A certificate file where the key should be.
    let err = server_config(&leaf.cert, &leaf.cert, None, None, &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&leaf.cert.display().to_string()),
        "{err}"
    );

    // Another certificate's key.
    let second = pki.issue("second", &["127.0.0.1"]);
    let err = server_config(&leaf.cert, &second.key, None, None, &[]).unwrap_err();
    assert!(
        err.to_string().contains("is the key the certificate's?"),
        "{err}"
    );

    let err = client_config(Some(&garbage), None, false, &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(&garbage.display().to_string()),
        "{err}"
    );
}

/// etcd reads its certificate files again for new connections; so does [`server_config`]'s: replacing the
/// files rotates the certificate without a restart, and a replacement that does not load yet (half-copied)
/// leaves the previous certificate in use.
#[tokio::test]
async fn replaced_certificate_files_are_served_to_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = Pki::new(dir.path(), "old");
    let new_ca = Pki::new(dir.path(), "new");
    let old = old_ca.issue("server", &["127.0.0.1"]);
    let new = new_ca.issue("server", &["127.0.0.1"]);
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live-key.pem"));
    std::fs::copy(&old.cert, &cert).unwrap();
    std::fs::copy(&old.key, &key).unwrap();
    let server = server_config(&cert, &key, None, None, &[]).unwrap();
    let (trusts_old, trusts_new) = (old_ca.ca(), new_ca.ca());
    // A fresh client each time: a client that resumes an earlier session is not shown a certificate at all.
    let serves = |ca: std::path::PathBuf| {
        let server = server.clone();
        async move {
            let client = client_config(Some(&ca), None, false, &[]).unwrap();
            let (addr, task) = echo_once(server).await;
            let ok = roundtrip(addr, &client, "127.0.0.1").await.is_ok();
            let _ = task.await;
            ok
        }
    };
    assert!(serves(trusts_old.clone()).await);
    assert!(!serves(trusts_new.clone()).await);

    // Modification times move in clock ticks: leave one between each change.
    let tick = || std::thread::sleep(std::time::Duration::from_millis(20));
    tick();
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\ntruncat").unwrap();
    assert!(
        serves(trusts_old.clone()).await,
        "a half-written file keeps the old certificate"
    );
    tick();
    std::fs::copy(&new.cert, &cert).unwrap();
    assert!(
        serves(trusts_old.clone()).await,
        "the new certificate with the old key does not load"
    );
    tick();
    std::fs::copy(&new.key, &key).unwrap();
    assert!(
        serves(trusts_new).await,
        "the rotated certificate is served"
    );
    assert!(!serves(trusts_old).await);
}

/// Whether a server that requires a certificate from `ca` accepts `client`'s. The server is new each time, so no
/// connection resumes an earlier session (a resumed session shows no certificate).
async fn accepts_client(
    leaf: &flotilla_tests::pki::Leaf,
    ca: &std::path::Path,
    client: &Arc<kvstore_tls::ClientConfig>,
) -> bool {
    let server = server_config(&leaf.cert, &leaf.key, Some(ca), None, &[]).unwrap();
    let (addr, task) = echo_once(server).await;
    let _ = roundtrip(addr, client, "127.0.0.1").await;
    task.await.unwrap().is_ok()
}

/// The certificate a client presents follows its files as well (etcd loads it for each handshake): a member
/// keeps one client configuration for dialing its peers, and a rotated peer certificate reaches them without a
/// restart; a replacement that does not load yet leaves the previous one in use.
#[tokio::test]
async fn a_client_presents_its_replaced_certificate_on_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let other = Pki::new(dir.path(), "other");
    let server = pki.issue("server", &["127.0.0.1"]);
    let ours = pki.issue("client", &["127.0.0.1"]);
    let theirs = other.issue("client", &["127.0.0.1"]);
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live-key.pem"));
    std::fs::copy(&ours.cert, &cert).unwrap();
    std::fs::copy(&ours.key, &key).unwrap();
    let client = client_config(Some(&pki.ca()), Some((&cert, &key)), false, &[]).unwrap();
    assert!(accepts_client(&server, &pki.ca(), &client).await);

    let tick = || std::thread::sleep(std::time::Duration::from_millis(20));
    tick();
    std::fs::copy(&theirs.cert, &cert).unwrap();
    assert!(
        accepts_client(&server, &pki.ca(), &client).await,
        "a new certificate with the old key does not load: the old pair is still presented"
    );
    tick();
    std::fs::copy(&theirs.key, &key).unwrap();
    assert!(
        !accepts_client(&server, &pki.ca(), &client).await,
        "the replaced certificate (another CA's) is presented"
    );
    tick();
    std::fs::copy(&ours.cert, &cert).unwrap();
    std::fs::copy(&ours.key, &key).unwrap();
    assert!(accepts_client(&server, &pki.ca(), &client).await);
}

/// etcd's `--client-crl-file`: a certificate the CA's revocation list names is refused; replacing the file
/// changes who is refused without a restart, and a replacement that does not parse keeps the list in force.
#[tokio::test]
async fn revoked_client_certificates_are_refused_and_the_list_follows_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let alice = pki.issue("alice", &["127.0.0.1"]);
    let bob = pki.issue("bob", &["127.0.0.1"]);
    let crl = dir.path().join("crl.pem");
    pki.revoke(&[&bob], &crl);
    let server = server_config(&leaf.cert, &leaf.key, Some(&pki.ca()), Some(&crl), &[]).unwrap();
    let as_alice =
        client_config(Some(&pki.ca()), Some((&alice.cert, &alice.key)), false, &[]).unwrap();
    let as_bob = client_config(Some(&pki.ca()), Some((&bob.cert, &bob.key)), false, &[]).unwrap();
    // Whether the server let `client` in.
    let admitted = |client: Arc<kvstore_tls::ClientConfig>| {
        let server = server.clone();
        async move {
            let (addr, task) = echo_once(server).await;
            let talked = roundtrip(addr, &client, "127.0.0.1").await.is_ok();
            match task.await.unwrap() {
                Ok(()) => {
                    assert!(talked);
                    true
                }
                Err(e) => {
                    assert!(e.to_string().contains("Revoked"), "{e}");
                    false
                }
            }
        }
    };
    assert!(admitted(as_alice.clone()).await);
    assert!(!admitted(as_bob.clone()).await);

    // The operator revokes alice instead (and reinstates bob): the next handshakes follow the new file.
    std::thread::sleep(std::time::Duration::from_millis(20));
    pki.revoke(&[&alice], &crl);
    assert!(!admitted(as_alice.clone()).await);
    assert!(admitted(as_bob.clone()).await);

    // A half-written replacement: the last good list stays in force.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&crl, "-----BEGIN X509 CRL-----\ntruncated").unwrap();
    assert!(!admitted(as_alice).await);
    assert!(admitted(as_bob).await);

    // At start, a list that does not parse is an error naming the file; so is a list without a client CA.
    let err = server_config(&leaf.cert, &leaf.key, Some(&pki.ca()), Some(&crl), &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(&crl.display().to_string()),
        "{err}"
    );
    let err = server_config(&leaf.cert, &leaf.key, None, Some(&crl), &[]).unwrap_err();
    assert!(err.to_string().contains("client CA"), "{err}");
}
