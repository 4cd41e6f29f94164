//! The fleetctl binary against a scripted fleet API served on a real unix socket and a real TCP port: flags
//! and environment, both transports, request shapes, list output, journal streaming, status, exit codes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A canned reply.
#[derive(Clone)]
enum Body {
    Json(u16, String),
    /// A 200 `text/plain` body sent as chunks, a little apart.
    Chunks(Vec<String>),
}

/// One request as the server saw it: `METHOD target`, content type, body.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

struct Api {
    socket: PathBuf,
    port: u16,
    seen: Seen,
    _dir: tempfile::TempDir,
}

fn handle(mut stream: impl Read + Write, routes: &HashMap<String, Body>, seen: &Seen) {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let key = format!(
        "{} {}",
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default()
    );
    let (mut length, mut ctype) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "content-type" => ctype = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    seen.lock().expect("lock").push((
        key.clone(),
        ctype,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let reply = routes.get(&key).cloned().unwrap_or_else(|| {
        Body::Json(
            404,
            r#"{"error":{"code":404,"message":"unit does not exist"}}"#.to_string(),
        )
    });
    match reply {
        Body::Json(status, text) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
        Body::Chunks(chunks) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            for c in chunks {
                let _ = write!(stream, "{:x}\r\n{c}\r\n", c.len());
                let _ = stream.flush();
                thread::sleep(Duration::from_millis(20));
            }
            let _ = write!(stream, "0\r\n\r\n");
        }
    }
    let _ = stream.flush();
}

/// Serves `routes` (keyed `METHOD target`; `{port}` in a reply is replaced by the TCP port) on both.
fn serve(routes: &[(&str, Body)]) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("fleet.sock");
    let unix = UnixListener::bind(&socket).expect("bind unix");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let port = tcp.local_addr().expect("addr").port();
    let routes: Arc<HashMap<String, Body>> = Arc::new(
        routes
            .iter()
            .map(|(k, b)| {
                let b = match b {
                    Body::Json(s, t) => Body::Json(*s, t.replace("{port}", &port.to_string())),
                    other => other.clone(),
                };
                (k.to_string(), b)
            })
            .collect(),
    );
    let seen: Seen = Arc::default();
    let (r, s) = (routes.clone(), seen.clone());
    thread::spawn(move || {
        for conn in unix.incoming().flatten() {
            let (r, s) = (r.clone(), s.clone());
            thread::spawn(move || handle(conn, &r, &s));
        }
    });
    let (r, s) = (routes, seen.clone());
    thread::spawn(move || {
        for conn in tcp.incoming().flatten() {
            let (r, s) = (r.clone(), s.clone());
            thread::spawn(move || handle(conn, &r, &s));
        }
    });
    Api {
        socket,
        port,
        seen,
        _dir: dir,
    }
}

fn fleetctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetctl"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FLEETCTL_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    cmd.output().expect("fleetctl runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const M1: &str = "113f16a7e28a4c2a9ba2a3d4f3e5b6c7";

fn cluster_routes() -> Vec<(&'static str, Body)> {
    let machines = format!(
        r#"{{"machines":[{{"id":"{M1}","primaryIP":"172.17.8.103","metadata":{{"ping":"pong","foo":"bar"}},"api":"http://127.0.0.1:{{port}}"}},{{"id":"9e3e3a2b5c9d4f0e8a7b6c5d4e3f2a1b"}}]}}"#
    );
    let unit = format!(
        r#"{{"name":"hello.service","options":[{{"section":"Unit","name":"Description","value":"Hello World"}},{{"section":"Service","name":"ExecStart","value":"/bin/hello"}}],"desiredState":"launched","currentState":"launched","machineID":"{M1}"}}"#
    );
    let states = format!(
        r#"{{"states":[{{"name":"hello.service","hash":"e55c0ae6b7a7b32e8d1a0f0e3b9a5a8f2f5d4c3b","machineID":"{M1}","systemdLoadState":"loaded","systemdActiveState":"active","systemdSubState":"running"}}]}}"#
    );
    vec![
        ("GET /fleet/v1/machines?alt=json", Body::Json(200, machines)),
        (
            "GET /fleet/v1/units/hello.service?alt=json",
            Body::Json(200, unit),
        ),
        (
            "GET /fleet/v1/state?alt=json",
            Body::Json(200, states.clone()),
        ),
        (
            "GET /fleet/v1/state?alt=json&unitName=hello.service",
            Body::Json(200, states),
        ),
        (
            "PUT /fleet/v1/units/hello.service?alt=json",
            Body::Json(204, String::new()),
        ),
        (
            "GET /fleet/v1/journal/hello.service?lines=10&follow=false&output=short",
            Body::Chunks(vec!["line one\n".into(), "line two\n".into()]),
        ),
        (
            "GET /fleet/v1/journal/hello.service?lines=2&follow=true&output=cat",
            Body::Chunks(vec!["a\n".into(), "b\n".into(), "c\n".into()]),
        ),
    ]
}

#[test]
fn list_machines_over_tcp() {
    let api = serve(&cluster_routes());
    let endpoint = format!("http://127.0.0.1:{}", api.port);
    let out = fleetctl(&["--endpoint", &endpoint, "list-machines"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "MACHINE\t\tIP\t\tMETADATA\n\
         113f16a7...\t172.17.8.103\tfoo=bar,ping=pong\n\
         9e3e3a2b...\t-\t\t-\n"
    );
}

#[test]
fn list_units_over_a_unix_socket_named_in_the_environment() {
    let api = serve(&cluster_routes());
    let endpoint = format!("unix://{}", api.socket.display());
    let out = fleetctl(
        &["list-units", "--full"],
        &[("FLEETCTL_ENDPOINT", &endpoint)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("UNIT\t\tMACHINE\t\t\t\t\t\tACTIVE\tSUB\nhello.service\t{M1}/172.17.8.103\tactive\trunning\n")
    );
    let seen = api.seen.lock().expect("lock");
    assert!(seen
        .iter()
        .any(|(k, _, _)| k == "GET /fleet/v1/state?alt=json"));
}

#[test]
fn start_no_block_puts_the_desired_state() {
    let mut routes = cluster_routes();
    // Loaded, so start has something to do.
    routes[1] = (
        "GET /fleet/v1/units/hello.service?alt=json",
        Body::Json(
            200,
            r#"{"name":"hello.service","options":[{"section":"Service","name":"ExecStart","value":"/bin/hello"}],"desiredState":"loaded","currentState":"loaded"}"#.into(),
        ),
    );
    let api = serve(&routes);
    let endpoint = format!("unix://{}", api.socket.display());
    let out = fleetctl(
        &["--endpoint", &endpoint, "start", "--no-block", "hello"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Triggered unit hello.service start\n");
    let seen = api.seen.lock().expect("lock");
    let put = seen
        .iter()
        .find(|(k, _, _)| k.starts_with("PUT "))
        .expect("a PUT");
    assert_eq!(put.1, "application/json");
    assert_eq!(
        put.2,
        r#"{"name":"hello.service","desiredState":"launched"}"#
    );
}

#[test]
fn journal_streams_from_the_units_machine() {
    let api = serve(&cluster_routes());
    let endpoint = format!("unix://{}", api.socket.display());
    let out = fleetctl(
        &[
            "--endpoint",
            &endpoint,
            "journal",
            "-f",
            "--lines",
            "2",
            "--output=cat",
            "hello",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a\nb\nc\n");
}

#[test]
fn status_shows_the_state_and_the_journal() {
    let api = serve(&cluster_routes());
    let endpoint = format!("http://127.0.0.1:{}", api.port);
    let out = fleetctl(&["--endpoint", &endpoint, "status", "hello.service"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "● hello.service - Hello World\n   Loaded: loaded\n   Active: active (running)\n  Machine: 113f16a7.../172.17.8.103\n     Hash: e55c0ae\n\nline one\nline two\n"
    );
}

#[test]
fn errors_and_exit_codes() {
    let api = serve(&cluster_routes());
    let endpoint = format!("unix://{}", api.socket.display());
    let out = fleetctl(&["--endpoint", &endpoint, "cat", "nope"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "Unit nope.service not found\n");
    let out = fleetctl(&["bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "fleetctl: unknown subcommand: \"bogus\"\nRun 'fleetctl help' for usage.\n"
    );
    let out = fleetctl(&["list-units", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = fleetctl(&["--driver", "nope", "list-units"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Unable to initialize client: unrecognized driver \"nope\"\n"
    );
    let out = fleetctl(
        &["--endpoint", "unix:///nonexistent.sock", "list-unit-files"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error retrieving list of units from repository: Get http://domain-sock/fleet/v1/units?alt=json: dial unix /nonexistent.sock: connect: no such file or directory\n"
    );
    let out = fleetctl(&[], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("NAME:\n\tfleetctl - "));
    let out = fleetctl(&["version"], &[]);
    assert_eq!(
        text(&out.stdout),
        format!("fleetctl version {}\n", env!("CARGO_PKG_VERSION"))
    );
}
