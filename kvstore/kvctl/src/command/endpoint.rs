//! `endpoint health|status|hashkv [--cluster]`: each endpoint is asked on its own connection (not the fallback
//! list). Health is a linearizable KV.Range of the key `health`, as etcdctl's (permission denied still counts as
//! healthy); status is Maintenance.Status; hashkv is Maintenance.HashKV (members with the same history print the
//! same hash: how operators compare them).

use std::time::Instant;

use clap::{Args, Subcommand};
use kvstore_proto::etcdserverpb::{HashKvRequest, MemberListRequest, RangeRequest, StatusRequest};

use super::{emit, emit_err, Context};
use crate::client::{go_duration_string, ClientConfig, RpcError};
use crate::error::{ExitCode, Failure};
use crate::printer::{EpHashKv, EpHealth, EpStatus};

/// `endpoint <subcommand>`.
#[derive(Args, Clone, Debug)]
pub struct EndpointArgs {
    /// Use all endpoints from the cluster member list.
    #[arg(long, global = true)]
    pub cluster: bool,
    #[command(subcommand)]
    pub command: EndpointCommand,
}

/// The endpoint subcommands.
#[derive(Subcommand, Clone, Debug)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag.
    Health,
    /// Prints out the status of endpoints specified in `--endpoints` flag.
    Status,
    /// Prints the KV history hash for each endpoint in --endpoints.
    #[command(name = "hashkv")]
    HashKv {
        /// Maximum revision to hash (default: all revisions).
        #[arg(long, default_value_t = 0)]
        rev: i64,
    },
}

/// Runs an `endpoint` subcommand.
pub async fn run(ctx: &Context, args: &EndpointArgs) -> anyhow::Result<()> {
    let endpoints = if args.cluster {
        cluster_endpoints(ctx).await?
    } else {
        ctx.client.endpoints.clone()
    };
    match args.command {
        EndpointCommand::Health => health(ctx, endpoints).await,
        EndpointCommand::Status => status(ctx, endpoints).await,
        EndpointCommand::HashKv { rev } => hashkv(ctx, endpoints, rev).await,
    }
}

/// Every member's client URLs.
async fn cluster_endpoints(ctx: &Context) -> Result<Vec<String>, Failure> {
    let client = ctx
        .connect()
        .await
        .map_err(|e| Failure::error(e.to_string()))?;
    let resp = client
        .call(client.cluster().member_list(MemberListRequest {
            linearizable: false,
        }))
        .await
        .map_err(|e| {
            Failure::error(format!(
                "failed to fetch endpoints from etcd cluster member list: {e}"
            ))
        })?;
    Ok(resp
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

/// Probes one endpoint.
async fn probe(cfg: ClientConfig, ep: String) -> EpHealth {
    let client = match cfg.connect_to(&ep).await {
        Ok(c) => c,
        Err(e) => {
            return EpHealth {
                ep,
                health: false,
                took: String::new(),
                error: e.to_string(),
            }
        }
    };
    let start = Instant::now();
    let result = client
        .call(client.kv().range(RangeRequest {
            key: b"health".to_vec(),
            ..Default::default()
        }))
        .await;
    let took = go_duration_string(start.elapsed());
    let error = match result {
        Ok(_) => String::new(),
        Err(RpcError::Status(s)) if s.code() == tonic::Code::PermissionDenied => String::new(),
        Err(e) => e.to_string(),
    };
    EpHealth {
        ep,
        health: error.is_empty(),
        took,
        error,
    }
}

async fn health(ctx: &Context, endpoints: Vec<String>) -> anyhow::Result<()> {
    let handles: Vec<_> = endpoints
        .into_iter()
        .map(|ep| tokio::spawn(probe(ctx.client.clone(), ep)))
        .collect();
    let mut list = Vec::new();
    for h in handles {
        list.push(
            h.await
                .map_err(|e| Failure::error(format!("health probe failed: {e}")))?,
        );
    }
    let (out, err) = ctx.printer.endpoint_health(&list)?;
    emit(&out)?;
    emit_err(&err);
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(Failure::error("unhealthy cluster").into());
    }
    Ok(())
}

/// As etcdctl: the endpoints that answered are printed; one that did not is reported on stderr, and the last
/// such error ends the command with exit code 1.
async fn hashkv(ctx: &Context, endpoints: Vec<String>, rev: i64) -> anyhow::Result<()> {
    let mut list = Vec::new();
    let mut last_error = None;
    for ep in endpoints {
        let result = match ctx.client.connect_to(&ep).await {
            Ok(client) => client
                .call(
                    client
                        .maintenance()
                        .hash_kv(HashKvRequest { revision: rev }),
                )
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(resp) => list.push(EpHashKv { ep, resp }),
            Err(e) => {
                emit_err(format!("Failed to get the hash of endpoint {ep} ({e})\n").as_bytes());
                last_error = Some(e);
            }
        }
    }
    emit(&ctx.printer.endpoint_hashkv(&list)?)?;
    match last_error {
        Some(e) => Err(Failure::error(e).into()),
        None => Ok(()),
    }
}

async fn status(ctx: &Context, endpoints: Vec<String>) -> anyhow::Result<()> {
    let mut list = Vec::new();
    let mut failed = false;
    for ep in endpoints {
        let result = match ctx.client.connect_to(&ep).await {
            Ok(client) => client
                .call(client.maintenance().status(StatusRequest {}))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(resp) => list.push(EpStatus { ep, resp }),
            Err(e) => {
                failed = true;
                emit_err(format!("Failed to get the status of endpoint {ep} ({e})\n").as_bytes());
            }
        }
    }
    emit(&ctx.printer.endpoint_status(&list)?)?;
    if failed {
        return Err(Failure::silent(ExitCode::Error).into());
    }
    Ok(())
}
