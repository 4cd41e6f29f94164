//! The CoreOS discovery bootstrap (`--discovery URL`): members of a new cluster meet under a prefix in a
//! running kvstore or etcd, as seed cloud-configs expect.
//!
//! `URL` is `http[s]://HOST:PORT/PREFIX` (https: verified against the system's CAs, which `SSL_CERT_FILE`
//! can point elsewhere, as etcd's discovery client does). `PREFIX/_config/size` holds the cluster size N. Each member registers
//! `PREFIX/<member id>` = `name=peerURL` (created only if absent, so a restart re-registers harmlessly) and waits
//! until N members have; the first N by creation revision form the cluster, and the result is their
//! `--initial-cluster`. A member that registered too late is told the cluster is full. Unlike etcd's v2
//! discovery service this speaks the v3 API, since that is what kvstore serves.

use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, GetOptions, SortOrder, SortTarget, Txn, TxnOp};

use crate::config::member_id;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{0}: expected http://HOST:PORT/PREFIX or https://HOST:PORT/PREFIX")]
    BadUrl(String),
    #[error("{0}: {1}")]
    Client(String, etcd_client::Error),
    #[error("{0} is not set: write the cluster size there first")]
    NoSize(String),
    #[error("{key} = {value:?} is not a cluster size")]
    BadSize { key: String, value: String },
    #[error("the cluster is full: {size} members registered before this one ({registered})")]
    Full { size: usize, registered: String },
    #[error("timed out after {0:?} waiting for {1} members to register")]
    Timeout(Duration, usize),
}

/// How long a member waits for the rest of the cluster to register.
const WAIT: Duration = Duration::from_secs(300);

/// Splits `http[s]://host:port/prefix` into the endpoint and the key prefix (without a trailing slash).
pub fn split_url(url: &str) -> Result<(String, String), DiscoveryError> {
    let (scheme, rest) = url
        .strip_prefix("http://")
        .map(|r| ("http", r))
        .or_else(|| url.strip_prefix("https://").map(|r| ("https", r)))
        .ok_or_else(|| DiscoveryError::BadUrl(url.into()))?;
    let (host, path) = rest
        .split_once('/')
        .ok_or_else(|| DiscoveryError::BadUrl(url.into()))?;
    let prefix = format!("/{}", path.trim_matches('/'));
    if host.is_empty() || prefix == "/" {
        return Err(DiscoveryError::BadUrl(url.into()));
    }
    Ok((format!("{scheme}://{host}"), prefix))
}

/// Registers this member and waits for the cluster; returns the `--initial-cluster` value.
pub async fn discover(
    url: &str,
    name: &str,
    peer_urls: &[String],
    token: &str,
) -> Result<String, DiscoveryError> {
    let (endpoint, prefix) = split_url(url)?;
    let ctx = |e| DiscoveryError::Client(endpoint.clone(), e);
    let options = endpoint.starts_with("https://").then(|| {
        etcd_client::ConnectOptions::new()
            .with_tls(etcd_client::TlsOptions::new().with_native_roots())
    });
    let mut client = Client::connect([endpoint.as_str()], options)
        .await
        .map_err(ctx)?;
    let size_key = format!("{prefix}/_config/size");
    let resp = client.get(size_key.as_str(), None).await.map_err(ctx)?;
    let raw = resp
        .kvs()
        .first()
        .map(|kv| String::from_utf8_lossy(kv.value()).trim().to_string())
        .ok_or_else(|| DiscoveryError::NoSize(size_key.clone()))?;
    let size: usize = match raw.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(DiscoveryError::BadSize {
                key: size_key,
                value: raw,
            })
        }
    };
    let id = member_id(peer_urls, token);
    let me = format!("{prefix}/{id:016x}");
    let value = peer_urls
        .iter()
        .map(|u| format!("{name}={u}"))
        .collect::<Vec<_>>()
        .join(",");
    client
        .txn(
            Txn::new()
                .when([Compare::create_revision(me.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(me.as_str(), value.as_str(), None)]),
        )
        .await
        .map_err(ctx)?;
    tracing::info!(%me, size, "registered with discovery; waiting for the cluster");
    let deadline = Instant::now() + WAIT;
    let members_prefix = format!("{prefix}/");
    let config_prefix = format!("{prefix}/_config/");
    loop {
        let opts = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend);
        let resp = client
            .get(members_prefix.as_str(), Some(opts))
            .await
            .map_err(ctx)?;
        let registered: Vec<(String, String)> = resp
            .kvs()
            .iter()
            .filter(|kv| !kv.key().starts_with(config_prefix.as_bytes()))
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    String::from_utf8_lossy(kv.value()).into_owned(),
                )
            })
            .collect();
        if registered.len() >= size {
            let first = &registered[..size];
            if !first.iter().any(|(k, _)| *k == me) {
                return Err(DiscoveryError::Full {
                    size,
                    registered: first
                        .iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                });
            }
            return Ok(first
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(","));
        }
        if Instant::now() > deadline {
            return Err(DiscoveryError::Timeout(WAIT, size));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_endpoint_and_prefix() {
        assert_eq!(
            split_url("http://127.0.0.1:2379/discovery/abc/").unwrap(),
            ("http://127.0.0.1:2379".into(), "/discovery/abc".into())
        );
        assert_eq!(
            split_url("https://disco.example:443/abc").unwrap(),
            ("https://disco.example:443".into(), "/abc".into())
        );
        assert!(split_url("127.0.0.1:2379/x").is_err());
        assert!(split_url("http://127.0.0.1:2379").is_err());
        assert!(split_url("http://127.0.0.1:2379/").is_err());
    }
}
