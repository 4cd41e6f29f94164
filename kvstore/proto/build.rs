//! Compiles the etcd-compatible `.proto` files with protoc (Debian's `protobuf-compiler`).
//!
//! With the `json` feature it also generates serde impls for etcd's packages with `pbjson-build`, from the
//! descriptor set protoc wrote: the protobuf JSON mapping (64-bit integers as strings, bytes as base64, enums by
//! name, zero values left out) with the `.proto` field names kept (`create_revision`, `ID`, `TTL`), which is
//! what etcd's grpc-gateway emits (`OrigName: true`). Unknown fields are ignored on input, as there.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/kv.proto",
        "proto/auth.proto",
        "proto/rpc.proto",
        "proto/internal.proto",
        "proto/v3lock.proto",
        "proto/v3election.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let descriptors = PathBuf::from(std::env::var("OUT_DIR")?).join("descriptors.bin");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(&descriptors)
        .compile_protos(&protos, &["proto"])?;
    #[cfg(feature = "json")]
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptors)?)?
        .preserve_proto_field_names()
        .ignore_unknown_fields()
        .build(&[
            ".etcdserverpb",
            ".mvccpb",
            ".authpb",
            ".v3lockpb",
            ".v3electionpb",
        ])?;
    Ok(())
}
