//! # kvstore-proto
//!
//! The etcd v3 API as Rust types: `mvccpb` (KeyValue, Event), `authpb`, `etcdserverpb` (requests, responses and
//! the KV, Watch, Lease, Cluster, Maintenance and Auth services, both server traits and clients), `v3lockpb` and
//! `v3electionpb` (etcd's Lock and Election services), plus kvstore's
//! own raft payload in [`internal`].
//!
//! The `.proto` files under `proto/` are written for Flotilla with etcd's package names, service names and field
//! numbers, so the bytes on the wire are what etcdctl, python-etcd3 and the `etcd-client` crate send and expect.
//! This crate is shared by the server and by every client (kvctl, the benchmark, fleet), so that clients never
//! depend on the server crate.
//!
//! With the `json` feature every etcd message also implements serde's `Serialize`/`Deserialize` in the protobuf
//! JSON mapping etcd's JSON gateway speaks (see `build.rs`); the server's gateway needs it, clients do not.
//!
//! Why tonic + prost: they are the maintained gRPC/protobuf stack for tokio, generate both the server traits and
//! the clients from the same files, and are what the `etcd-client` crate itself uses. Why pbjson: it generates the JSON mapping from
//! the same descriptors, so the JSON field names, 64-bit-as-string and base64 rules follow the `.proto` files
//! instead of a hand-written copy of them.

#![allow(clippy::all, missing_docs)]

/// etcd's `mvccpb` package: stored key-values and watch events.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

/// etcd's `authpb` package (only the types the RPC messages reference).
pub mod authpb {
    tonic::include_proto!("authpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

/// etcd's `etcdserverpb` package: requests, responses, services.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// etcd's `v3lockpb` package: the Lock service (distributed locks held by leased keys).
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.serde.rs"));
}

/// etcd's `v3electionpb` package: the Election service (leader election over leased keys).
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
    #[cfg(feature = "json")]
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.serde.rs"));
}

/// Protobuf package `kvstore.*`: kvstore's own messages (not part of etcd's API).
pub mod kvstore {
    /// kvstore's raft log payload.
    pub mod internal {
        tonic::include_proto!("kvstore.internal");
    }
}

pub use kvstore::internal;

/// Returns the end of the range that holds every key starting with `prefix`, as etcd clients compute it:
/// the prefix with its last byte below 0xff incremented and what follows dropped; `"\0"` (every key) when the
/// prefix is empty or all 0xff.
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::prefix_range_end;

    #[test]
    fn prefix_end_increments_last_byte_below_ff() {
        assert_eq!(prefix_range_end(b"foo"), b"fop".to_vec());
        assert_eq!(prefix_range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_range_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }
}
