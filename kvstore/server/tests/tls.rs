//! TLS on kvstore's client and peer URLs, seen from stock etcdctl 3.4 and from members of the cluster: the
//! flags are etcd's (`--cert-file`, `--key-file`, `--client-cert-auth`, `--trusted-ca-file` and the `--peer-`
//! twins), certificates come from a throwaway CA made by the test or, with `--auto-tls`/`--peer-auto-tls`, from
//! the member itself.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::{add_learner, join_command, Cluster, MemberAddr};
use common::{etcdctl, refused_within, stdout, KvStore};
use flotilla_tests::pki::{Leaf, Pki};

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn server_flags(leaf: &Leaf) -> Vec<String> {
    vec![
        format!("--cert-file={}", path(&leaf.cert)),
        format!("--key-file={}", path(&leaf.key)),
    ]
}

#[test]
fn etcdctl_uses_an_https_client_url_with_the_servers_ca_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1", "localhost"]);
    let flags = server_flags(&leaf);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = KvStore::start_serving("https", &flags);
    let ep = format!("https://127.0.0.1:{}", s.client_port);
    let ca = format!("--cacert={}", path(&pki.ca()));

    let out = etcdctl(&ep, &[&ca, "put", "tls-key", "over-tls"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&etcdctl(
            &ep,
            &[&ca, "get", "tls-key", "--print-value-only"]
        )),
        "over-tls\n"
    );
    let status = stdout(&etcdctl(&ep, &[&ca, "endpoint", "status", "-w", "table"]));
    assert!(status.contains(&ep) && status.contains("true"), "{status}");
    // The HTTP endpoints on the client port are behind the same TLS (etcdctl's own health check reads them).
    let health = etcdctl(&ep, &[&ca, "endpoint", "health"]);
    assert!(health.status.success(), "{health:?}");

    // A client that does not trust the CA gets no connection (Go: "certificate signed by unknown authority").
    let out = etcdctl(
        &ep,
        &[
            "--dial-timeout=1s",
            "--command-timeout=2s",
            "put",
            "tls-key",
            "x",
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    let other = Pki::new(dir.path(), "other");
    let out = etcdctl(
        &ep,
        &[
            &format!("--cacert={}", path(&other.ca())),
            "--dial-timeout=1s",
            "--command-timeout=2s",
            "put",
            "tls-key",
            "x",
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    // Plain gRPC on the TLS port gets nowhere either.
    let out = etcdctl(
        &format!("http://127.0.0.1:{}", s.client_port),
        &[
            "--dial-timeout=1s",
            "--command-timeout=2s",
            "put",
            "tls-key",
            "x",
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&etcdctl(
            &ep,
            &[&ca, "get", "tls-key", "--print-value-only"]
        )),
        "over-tls\n",
        "refused clients changed nothing"
    );
}

#[test]
fn client_cert_auth_admits_only_certificates_from_the_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let mut flags = server_flags(&leaf);
    flags.push("--client-cert-auth".into());
    flags.push(format!("--trusted-ca-file={}", path(&pki.ca())));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = KvStore::start_serving("https", &flags);
    let ep = format!("https://127.0.0.1:{}", s.client_port);
    let ca = format!("--cacert={}", path(&pki.ca()));
    let quick = ["--dial-timeout=1s", "--command-timeout=2s"];

    let client = pki.issue("client", &["127.0.0.1"]);
    let (cert, key) = (
        format!("--cert={}", path(&client.cert)),
        format!("--key={}", path(&client.key)),
    );
    let out = etcdctl(&ep, &[&ca, &cert, &key, "put", "k", "v"]);
    assert!(out.status.success(), "{out:?}");

    let out = etcdctl(&ep, &[&ca, quick[0], quick[1], "get", "k"]);
    assert!(!out.status.success(), "no client certificate: {out:?}");
    let foreign = Pki::new(dir.path(), "other").issue("client", &["127.0.0.1"]);
    let out = etcdctl(
        &ep,
        &[
            &ca,
            &format!("--cert={}", path(&foreign.cert)),
            &format!("--key={}", path(&foreign.key)),
            quick[0],
            quick[1],
            "get",
            "k",
        ],
    );
    assert!(!out.status.success(), "another CA's certificate: {out:?}");
    assert_eq!(
        stdout(&etcdctl(
            &ep,
            &[&ca, &cert, &key, "get", "k", "--print-value-only"]
        )),
        "v\n"
    );
}

/// etcd's `--client-crl-file`: stock etcdctl with a revoked certificate is refused, and revoking another
/// certificate by replacing the file takes effect on the next connection, without a restart.
#[test]
fn a_revoked_client_certificate_is_refused_and_revocations_apply_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let (alice, bob) = (
        pki.issue("alice", &["127.0.0.1"]),
        pki.issue("bob", &["127.0.0.1"]),
    );
    let crl = dir.path().join("crl.pem");
    pki.revoke(&[&bob], &crl);
    let mut flags = server_flags(&leaf);
    flags.push("--client-cert-auth".into());
    flags.push(format!("--trusted-ca-file={}", path(&pki.ca())));
    flags.push(format!("--client-crl-file={}", path(&crl)));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = KvStore::start_serving("https", &flags);
    let ep = format!("https://127.0.0.1:{}", s.client_port);
    let ca = format!("--cacert={}", path(&pki.ca()));
    let put_as = |who: &Leaf, value: &str| {
        etcdctl(
            &ep,
            &[
                &ca,
                &format!("--cert={}", path(&who.cert)),
                &format!("--key={}", path(&who.key)),
                "--dial-timeout=1s",
                "--command-timeout=2s",
                "put",
                "k",
                value,
            ],
        )
        .status
        .success()
    };
    assert!(put_as(&alice, "alice"), "alice's certificate is good");
    assert!(!put_as(&bob, "bob"), "bob's certificate is revoked");
    pki.revoke(&[&alice], &crl);
    assert!(
        !put_as(&alice, "alice-again"),
        "alice revoked by the new list"
    );
    assert!(put_as(&bob, "bob"), "bob is no longer on the list");
}

/// Three members with TLS between them (`--peer-client-cert-auth`): they form the cluster and replicate; a
/// fourth member whose certificate comes from another CA is added to the membership but cannot join: the
/// members refuse its certificate (it trusts theirs, so the refusal is theirs alone).
#[test]
fn members_replicate_over_peer_tls_and_a_member_from_another_ca_cannot_join() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(pki_dir.path(), "cluster");
    let leaf = pki.issue("peer", &["127.0.0.1"]);
    let flags = [
        format!("--peer-cert-file={}", path(&leaf.cert)),
        format!("--peer-key-file={}", path(&leaf.key)),
        "--peer-client-cert-auth".to_string(),
        format!("--peer-trusted-ca-file={}", path(&pki.ca())),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let addrs = (0..3)
        .map(|i| MemberAddr {
            peer_scheme: "https",
            ..MemberAddr::local(&format!("m{i}"))
        })
        .collect();
    let c = Cluster::start_at(addrs, &flags);
    let all = c.endpoints().join(",");
    for i in 0..20 {
        let out = etcdctl(&c.endpoints()[i % 3], &["put", &format!("k{i}"), "v"]);
        assert!(out.status.success(), "{out:?}");
    }
    for ep in c.endpoints() {
        let out = etcdctl(
            &ep,
            &["get", "k19", "--consistency=s", "--print-value-only"],
        );
        assert_eq!(stdout(&out), "v\n", "on {ep}");
    }
    let list = stdout(&etcdctl(&all, &["member", "list"]));
    assert_eq!(list.matches(", https://127.0.0.1:").count(), 3, "{list}");

    let d = MemberAddr {
        peer_scheme: "https",
        ..MemberAddr::local("d")
    };
    let initial = add_learner(&all, &d);
    let other = Pki::new(pki_dir.path(), "other");
    let wrong = other.issue("peer", &["127.0.0.1"]);
    let child = join_command(c.tmp.path(), &d, &initial)
        .arg(format!("--peer-cert-file={}", path(&wrong.cert)))
        .arg(format!("--peer-key-file={}", path(&wrong.key)))
        .arg(format!("--peer-trusted-ca-file={}", path(&pki.ca())))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = refused_within(
        child,
        Duration::from_secs(30),
        "the member with a foreign certificate",
    );
    assert!(err.contains("no member answered"), "{err}");
    let refused = (0..3).any(|i| c.log(i).contains("TLS handshake failed"));
    assert!(refused, "{}", c.log(0));
    // The cluster kept serving.
    let out = etcdctl(&all, &["put", "after", "v"]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn auto_tls_serves_a_self_signed_certificate_that_survives_a_restart() {
    let mut s = KvStore::start_serving("https", &["--auto-tls"]);
    let ep = format!("https://127.0.0.1:{}", s.client_port);
    // As with etcd's, the certificate is signed by no CA: etcdctl connects only when told not to verify it (etcd's
    // security guide gives both flags: etcdctl 3.4 ignores the second alone).
    let skip = ["--insecure-transport=false", "--insecure-skip-tls-verify"];
    let out = etcdctl(
        &ep,
        &["--dial-timeout=1s", "--command-timeout=2s", "put", "k", "v"],
    );
    assert!(!out.status.success(), "{out:?}");
    let out = etcdctl(&ep, &[skip[0], skip[1], "put", "k", "v"]);
    assert!(out.status.success(), "{out:?}");
    let cert_file = s.data_dir.join("fixtures/client/cert.pem");
    let cert = std::fs::read(&cert_file).unwrap();

    // A restarted member serves the certificate it made the first time.
    let (dir, ports) = (s.data_dir.clone(), s.ports);
    s.kill9();
    let again = KvStore::start_in_with(&dir, ports, "https", &["--auto-tls"]);
    assert_eq!(std::fs::read(&cert_file).unwrap(), cert);
    let out = etcdctl(&ep, &[skip[0], skip[1], "get", "k", "--print-value-only"]);
    assert_eq!(stdout(&out), "v\n", "{out:?}");
    drop(again);
}

#[test]
fn members_with_peer_auto_tls_form_a_cluster_over_https() {
    let addrs = (0..3)
        .map(|i| MemberAddr {
            peer_scheme: "https",
            ..MemberAddr::local(&format!("m{i}"))
        })
        .collect();
    // Each member makes its own certificate; none can verify another's, and etcd's members skip doing so.
    let c = Cluster::start_at(addrs, &["--peer-auto-tls"]);
    for i in 0..9 {
        let out = etcdctl(&c.endpoints()[i % 3], &["put", &format!("k{i}"), "v"]);
        assert!(out.status.success(), "{out:?}");
    }
    for ep in c.endpoints() {
        let out = etcdctl(&ep, &["get", "k8", "--consistency=s", "--print-value-only"]);
        assert_eq!(stdout(&out), "v\n", "on {ep}");
    }
    let list = stdout(&etcdctl(&c.endpoints().join(","), &["member", "list"]));
    assert_eq!(list.matches(", https://127.0.0.1:").count(), 3, "{list}");
}

#[test]
fn tls_flag_mistakes_are_refused_at_start_naming_the_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let second = pki.issue("second", &["127.0.0.1"]);
    let missing = dir.path().join("missing.pem");
    let run = |args: &[String]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kvstore"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let https = "--listen-client-urls=https://127.0.0.1:1".to_string();
    let err = run(std::slice::from_ref(&https));
    assert!(
        err.contains("--listen-client-urls: https://127.0.0.1:1: TLS key/cert (--cert-file, --key-file) must be provided"),
        "{err}"
    );
    let err = run(&[
        https.clone(),
        format!("--cert-file={}", path(&missing)),
        format!("--key-file={}", path(&leaf.key)),
    ]);
    assert!(
        err.contains(&format!("--cert-file: {}: No such file", missing.display())),
        "{err}"
    );
    let err = run(&[
        https.clone(),
        format!("--cert-file={}", path(&leaf.cert)),
        format!("--key-file={}", path(&leaf.cert)),
    ]);
    assert!(
        err.contains(&format!("--key-file: {}:", leaf.cert.display())),
        "{err}"
    );
    let err = run(&[
        https,
        format!("--cert-file={}", path(&leaf.cert)),
        format!("--key-file={}", path(&second.key)),
    ]);
    assert!(err.contains("is the key the certificate's?"), "{err}");
    let err = run(&[
        "--listen-peer-urls=https://127.0.0.1:1".into(),
        "--initial-advertise-peer-urls=https://127.0.0.1:1".into(),
    ]);
    assert!(err.contains("--listen-peer-urls: https://127.0.0.1:1: TLS key/cert (--peer-cert-file, --peer-key-file)"), "{err}");
    // Nothing was created for a member that never started.
    assert!(!dir.path().join("data").exists());
}

/// `--discovery https://...` (CoreOS' public discovery was https): the discovery store's certificate is checked
/// against the system's CAs, which `SSL_CERT_FILE` can replace; a member that cannot verify it exits saying so.
#[test]
fn discovery_over_https_checks_the_stores_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let leaf = pki.issue("server", &["127.0.0.1"]);
    let flags = server_flags(&leaf);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let seed = KvStore::start_serving("https", &flags);
    let ep = format!("https://127.0.0.1:{}", seed.client_port);
    let ca = format!("--cacert={}", path(&pki.ca()));
    let out = etcdctl(&ep, &[&ca, "put", "/discovery/tls/_config/size", "1"]);
    assert!(out.status.success(), "{out:?}");
    let url = format!("{ep}/discovery/tls");
    let member = |name: &str, trusted: Option<&Path>| {
        let m = MemberAddr::local(name);
        let mut cmd = m.command(dir.path());
        cmd.arg(format!("--discovery={url}"))
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        if let Some(ca) = trusted {
            cmd.env("SSL_CERT_FILE", ca);
        }
        (m, cmd)
    };

    let (_, mut untrusting) = member("untrusting", None);
    let out = untrusting.output().unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--discovery") && err.contains("UnknownIssuer"),
        "{err}"
    );

    let (m, mut trusting) = member("m0", Some(&pki.ca()));
    let mut child = trusting
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let list = loop {
        let out = etcdctl(&m.endpoint(), &["member", "list"]);
        if out.status.success() {
            break stdout(&out);
        }
        assert!(
            Instant::now() < deadline,
            "the discovered member never served: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(list.contains(&format!(", m0, {}", m.peer_url())), "{list}");
}

/// Leases through a follower of a cluster whose client URLs are https with client-cert-auth: the follower renews
/// them with the leader over the peer URL (as etcd does), so a key kept alive through the follower outlives its
/// TTL, and time-to-live through the follower reports the leader's countdown.
#[test]
fn leases_are_kept_alive_through_a_follower_when_client_urls_are_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "cluster");
    let member = pki.issue("member", &["127.0.0.1"]);
    let client = pki.issue("client", &["127.0.0.1"]);
    let mut flags = server_flags(&member);
    flags.push("--client-cert-auth".into());
    flags.push(format!("--trusted-ca-file={}", path(&pki.ca())));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let addrs = (0..3)
        .map(|i| MemberAddr {
            client_scheme: "https",
            ..MemberAddr::local(&format!("m{i}"))
        })
        .collect();
    let c = Cluster::start_at(addrs, &flags);
    let leader = c.wait_leader(Duration::from_secs(10));
    let ep = format!("https://{}", c.endpoints()[(leader + 1) % 3]);
    let tls = [
        format!("--cacert={}", path(&pki.ca())),
        format!("--cert={}", path(&client.cert)),
        format!("--key={}", path(&client.key)),
    ];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = tls.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        etcdctl(&ep, &all)
    };
    let granted = stdout(&run(&["lease", "grant", "3"]));
    let id = granted
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{granted}"))
        .to_string();
    let out = run(&["put", "--lease", &id, "kept", "alive"]);
    assert!(out.status.success(), "{out:?}");
    for _ in 0..6 {
        let out = run(&["lease", "keep-alive", "--once", &id]);
        assert!(
            stdout(&out).contains("keepalived with TTL(3)"),
            "{out:?}\n{}",
            c.log((leader + 1) % 3)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(
        stdout(&run(&["get", "kept", "--print-value-only"])),
        "alive\n"
    );
    let ttl = stdout(&run(&["lease", "timetolive", &id]));
    assert!(ttl.contains("granted with TTL(3s), remaining("), "{ttl}");
}
