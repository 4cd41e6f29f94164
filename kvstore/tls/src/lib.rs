//! TLS for kvstore's connections, as etcd's flags describe them: what `--cert-file`/`--key-file`,
//! `--client-cert-auth`/`--trusted-ca-file` (and their `--peer-*` twins) and etcdctl's `--cacert`/`--cert`/
//! `--key`/`--insecure-skip-tls-verify` turn into, and a connection that is plain TCP or TLS over it.
//!
//! Owns: reading PEM files into rustls configurations with errors that name the file ([`config`]), a
//! certificate (served, or presented when dialing) that is read again when its files change, so certificates rotate without a restart ([`reload`]),
//! self-signed certificates for etcd's `--auto-tls`/`--peer-auto-tls` ([`self_signed`]), revocation lists
//! (`--client-crl-file`/`--peer-crl-file`, read again when they change: [`crl`]), and
//! [`Stream`], the one connection type the client listener, the peer transport and kvctl use for both schemes.
//! It does not decide *when* TLS is used: a URL's `https://` scheme does, in the server's config and in kvctl.
//!
//! Why these crates: `rustls` is a memory-safe TLS 1.2/1.3 implementation that needs no system OpenSSL (one less
//! install step on a fresh machine), with the `ring` provider only (`aws-lc-rs` would need cmake and another C
//! build). `tokio-rustls` is its async adapter, the one tonic itself uses. `rustls-native-certs` reads the
//! system's CA bundle, which etcdctl (Go's crypto/x509) trusts when no `--cacert` is given.

pub mod config;
pub mod crl;
pub mod reload;
pub mod self_signed;
mod stream;

pub use config::{client_config, server_config, server_name, TlsError};
pub use rustls::pki_types::ServerName;
pub use rustls::{ClientConfig, ServerConfig};
pub use stream::{ReadHalf, Stream, WriteHalf};

/// ALPN protocols of the client port: gRPC is HTTP/2, and the same port serves etcd's HTTP/1 endpoints.
pub const ALPN_CLIENT_PORT: &[&[u8]] = &[b"h2", b"http/1.1"];
