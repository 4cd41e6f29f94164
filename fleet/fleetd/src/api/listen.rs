//! Where the API listens: `unix:///var/run/fleet.sock` (fleetctl's default endpoint) and/or
//! `tcp://IP:PORT` / `http://IP:PORT` ([`parse_listen`], then [`bind`]). fleet got its listeners from systemd
//! socket activation only; Flotilla's fleetd binds them itself, from these URLs.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

/// A parsed listen URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A unix socket at this absolute path.
    Unix(PathBuf),
    /// A TCP address (an IP literal and a port).
    Tcp(SocketAddr),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            ListenAddr::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// A listen URL that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error("listen URL {0:?} is not unix:///PATH, tcp://IP:PORT or http://IP:PORT")]
    Unsupported(String),
    #[error("listen URL {0:?}: the socket path must be absolute")]
    RelativePath(String),
    #[error("listen URL {url:?}: {reason}")]
    BadAddress { url: String, reason: String },
}

/// Parses `unix:///path`, `tcp://IP:PORT` or `http://IP:PORT` (a trailing `/` allowed; IPv6 as `[::1]:PORT`).
pub fn parse_listen(url: &str) -> Result<ListenAddr, ListenError> {
    let url = url.trim();
    if let Some(path) = url.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(ListenError::RelativePath(url.to_string()));
        }
        return Ok(ListenAddr::Unix(PathBuf::from(path)));
    }
    let hostport = url
        .strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ListenError::Unsupported(url.to_string()))?;
    let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
    hostport
        .parse()
        .map(ListenAddr::Tcp)
        .map_err(|e: std::net::AddrParseError| ListenError::BadAddress {
            url: url.to_string(),
            reason: format!("{e} (expected IP:PORT)"),
        })
}

/// A bound listener, ready for [`super::serve`]; see [`bind`].
#[derive(Debug)]
pub enum ApiListener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Binds `addr`. For a unix socket the parent directory is created, and a socket file left behind by a
/// previous fleetd is removed — but only if nothing answers on it (a live fleetd keeps its socket) and it is a
/// socket (any other file is left alone and refused). Errors name the address.
pub async fn bind(addr: &ListenAddr) -> io::Result<ApiListener> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("binding {addr}: {e}"));
    match addr {
        ListenAddr::Tcp(a) => TcpListener::bind(a)
            .await
            .map(ApiListener::Tcp)
            .map_err(context),
        ListenAddr::Unix(path) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(context)?;
            }
            remove_stale_socket(path).await.map_err(context)?;
            UnixListener::bind(path)
                .map(ApiListener::Unix)
                .map_err(context)
        }
    }
}

impl ApiListener {
    /// Where it listens (the actual port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            ApiListener::Tcp(l) => l.local_addr().map(ListenAddr::Tcp),
            ApiListener::Unix(l) => l
                .local_addr()?
                .as_pathname()
                .map(|p| ListenAddr::Unix(p.to_path_buf()))
                .ok_or_else(|| io::Error::other("unnamed unix socket")),
        }
    }
}

async fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket",
        ));
    }
    if tokio::net::UnixStream::connect(path).await.is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process is serving on this socket",
        ));
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_urls() {
        assert_eq!(
            parse_listen("unix:///var/run/fleet.sock"),
            Ok(ListenAddr::Unix("/var/run/fleet.sock".into()))
        );
        let tcp = |s: &str| Ok(ListenAddr::Tcp(s.parse().expect("addr")));
        assert_eq!(
            parse_listen("tcp://127.0.0.1:49153"),
            tcp("127.0.0.1:49153")
        );
        assert_eq!(
            parse_listen("http://127.0.0.1:49153/"),
            tcp("127.0.0.1:49153")
        );
        assert_eq!(parse_listen("http://[::1]:80"), tcp("[::1]:80"));
        assert_eq!(
            parse_listen("unix://fleet.sock"),
            Err(ListenError::RelativePath("unix://fleet.sock".into()))
        );
        assert!(matches!(
            parse_listen("https://127.0.0.1:1"),
            Err(ListenError::Unsupported(_))
        ));
        assert!(matches!(
            parse_listen("tcp://localhost:1"),
            Err(ListenError::BadAddress { .. })
        ));
        assert_eq!(
            parse_listen("tcp://127.0.0.1:80").expect("ok").to_string(),
            "tcp://127.0.0.1:80"
        );
    }

    #[tokio::test]
    async fn unix_bind_replaces_a_dead_socket_but_not_a_live_one_or_a_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("run/fleet/fleet.sock");
        let addr = ListenAddr::Unix(path.clone());
        let live = bind(&addr).await.expect("bind in a new directory");
        let err = bind(&addr).await.expect_err("live socket");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("fleet.sock"), "{err}");
        drop(live); // the file stays behind, like after a crash
        assert!(path.exists());
        bind(&addr).await.expect("stale socket replaced");

        let file = tmp.path().join("not-a-socket");
        std::fs::write(&file, "x").expect("write");
        let err = bind(&ListenAddr::Unix(file.clone()))
            .await
            .expect_err("regular file");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&file).expect("kept"), "x");
    }
}
