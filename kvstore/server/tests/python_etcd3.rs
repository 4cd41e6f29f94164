//! python-etcd3 (0.12), unchanged, against a real kvstore process. The README's test command provides it in a
//! venv and points `FLOTILLA_PYTHON` at that interpreter.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::KvStore;

const SCRIPT: &str = r#"
import sys, time, etcd3
c = etcd3.client(host='127.0.0.1', port=int(sys.argv[1]))
c.put('/py/a', '1')
assert c.get('/py/a')[0] == b'1'
assert [m.key for v, m in c.get_prefix('/py/')] == [b'/py/a']
events = []
def cb(resp):
    for e in resp.events:
        events.append((type(e).__name__, e.key))
c.add_watch_prefix_callback('/py/', cb)
time.sleep(0.3)
c.put('/py/b', '2')
c.delete('/py/b')
deadline = time.time() + 5
while len(events) < 2 and time.time() < deadline:
    time.sleep(0.05)
assert events == [('PutEvent', b'/py/b'), ('DeleteEvent', b'/py/b')], events
lease = c.lease(5)
c.put('/py/l', 'x', lease=lease)
assert lease.keys == [b'/py/l'], lease.keys
assert 0 < lease.remaining_ttl <= 5
lease.refresh()
ok, _ = c.transaction(compare=[c.transactions.value('/py/a') == '1'],
                      success=[c.transactions.put('/py/a', '2')], failure=[])
assert ok and c.get('/py/a')[0] == b'2'
assert [m.name for m in c.members] == ['test']
lease.revoke()
assert c.get('/py/l') == (None, None)
print('python-etcd3 OK')
"#;

/// The interpreter with python-etcd3 installed.
fn python() -> String {
    let python = std::env::var("FLOTILLA_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import etcd3"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{python} cannot import etcd3: run ./scripts/test.sh, which installs python-etcd3 and sets FLOTILLA_PYTHON"
    );
    python
}

#[test]
fn python_etcd3_put_get_watch_lease_txn() {
    let python = python();
    let s = KvStore::start();
    let out = Command::new(&python)
        .args(["-c", SCRIPT, &s.client_port.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python-etcd3 script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("python-etcd3 OK"));
}

/// python-etcd3's TLS options (gRPC's C core underneath) against an https client URL with client-cert-auth.
#[test]
fn python_etcd3_over_tls_with_a_client_certificate() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let pki = flotilla_tests::pki::Pki::new(dir.path(), "cluster");
    let server = pki.issue("server", &["127.0.0.1"]);
    let client = pki.issue("client", &["127.0.0.1"]);
    let flag = |name: &str, p: &std::path::Path| format!("--{name}={}", p.display());
    let s = KvStore::start_serving(
        "https",
        &[
            &flag("cert-file", &server.cert),
            &flag("key-file", &server.key),
            "--client-cert-auth",
            &flag("trusted-ca-file", &pki.ca()),
        ],
    );
    let script = r#"
import sys, etcd3
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = etcd3.client(host='127.0.0.1', port=port, ca_cert=ca, cert_cert=cert, cert_key=key)
c.put('/py/tls', 'secret')
assert c.get('/py/tls')[0] == b'secret'
print('python-etcd3 TLS OK')
"#;
    let out = Command::new(&python)
        .args(["-c", script, &s.client_port.to_string()])
        .arg(pki.ca())
        .arg(&client.cert)
        .arg(&client.key)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("python-etcd3 TLS OK"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
