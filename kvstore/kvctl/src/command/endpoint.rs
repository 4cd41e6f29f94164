//! `endpoint health|status|hashkv [--cluster]`: each endpoint is asked on its own connection (not the fallback
//! list). Health is a linearizable KV.Range of the key `health`, as etcdctl's (permission denied still counts as
//! healthy); status is Maintenance.Status; hashkv is Maintenance.HashKV (members with the same history print the
//! same hash: how operators compare them).

use std::time::Instant;

use clap::{Args, Subcommand};
use kvstore_proto::etcdserverpb::{HashKvRequest, MemberListRequest, RangeRequest, StatusRequest};

use super::{emit, emit_err, Context};
use crate::client::{go_duration_string, Client, ClientConfig, RpcError};
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

/// Asks each endpoint on its own connection with `ask`. One that fails is reported on stderr as etcdctl reports
/// it ("Failed to get the `what` of endpoint EP (error)") and left out; the answers come back with the last
/// error.
async fn ask_each<T, F, Fut>(
    ctx: &Context,
    endpoints: Vec<String>,
    what: &str,
    ask: F,
) -> (Vec<(String, T)>, Option<String>)
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, RpcError>>,
{
    let mut answers = Vec::new();
    let mut last_error = None;
    for ep in endpoints {
        let result = match ctx.client.connect_to(&ep).await {
            Ok(client) => ask(client).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(resp) => answers.push((ep, resp)),
            Err(e) => {
                emit_err(format!("Failed to get the {what} of endpoint {ep} ({e})\n").as_bytes());
                last_error = Some(e);
            }
        }
    }
    (answers, last_error)
}

/// As etcdctl: the endpoints that answered are printed, and the last failure ends the command with its error.
async fn hashkv(ctx: &Context, endpoints: Vec<String>, rev: i64) -> anyhow::Result<()> {
    let (answers, last_error) = ask_each(ctx, endpoints, "hash", |client| async move {
        client
            .call(
                client
                    .maintenance()
                    .hash_kv(HashKvRequest { revision: rev }),
            )
            .await
    })
    .await;
    let list: Vec<EpHashKv> = answers
        .into_iter()
        .map(|(ep, resp)| EpHashKv { ep, resp })
        .collect();
    emit(&ctx.printer.endpoint_hashkv(&list)?)?;
    match last_error {
        Some(e) => Err(Failure::error(e).into()),
        None => Ok(()),
    }
}

/// As etcdctl: the endpoints that answered are printed; any failure exits 1 without another message.
async fn status(ctx: &Context, endpoints: Vec<String>) -> anyhow::Result<()> {
    let (answers, last_error) = ask_each(ctx, endpoints, "status", |client| async move {
        client
            .call(client.maintenance().status(StatusRequest {}))
            .await
    })
    .await;
    let list: Vec<EpStatus> = answers
        .into_iter()
        .map(|(ep, resp)| EpStatus { ep, resp })
        .collect();
    emit(&ctx.printer.endpoint_status(&list)?)?;
    if last_error.is_some() {
        return Err(Failure::silent(ExitCode::Error).into());
    }
    Ok(())
}
