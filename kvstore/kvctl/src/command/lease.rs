//! `lease grant|revoke|timetolive|list|keep-alive`: the Lease service. IDs are hex, as etcdctl's.
//!
//! Exit codes follow etcdctl 3.4 exactly, including its oddities: `timetolive`, `list` and `keep-alive` report
//! request errors with exit 2 (`ExitBadConnection`), `grant` and `revoke` with 1.

use std::time::Duration;

use clap::{Args, Subcommand};
use kvstore_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{emit, Context};
use crate::error::{parse_go_int, ExitCode, Failure};
use crate::printer::{lease_hex, Format};

/// `lease <subcommand>`.
#[derive(Subcommand, Clone, Debug)]
pub enum LeaseCommand {
    /// Creates leases.
    Grant(GrantArgs),
    /// Revokes leases.
    Revoke(IdArgs),
    /// Get lease information.
    Timetolive(TimeToLiveArgs),
    /// List all active leases.
    List,
    /// Keeps leases alive (renew).
    KeepAlive(KeepAliveArgs),
}

/// `lease grant <ttl>`.
#[derive(Args, Clone, Debug)]
pub struct GrantArgs {
    /// Time to live, in seconds.
    pub ttl: Option<String>,
}

/// A lease ID argument.
#[derive(Args, Clone, Debug)]
pub struct IdArgs {
    /// Lease ID in hex.
    pub id: Option<String>,
}

/// `lease timetolive <leaseID> [options]`.
#[derive(Args, Clone, Debug)]
pub struct TimeToLiveArgs {
    /// Lease ID in hex.
    pub id: Option<String>,
    /// Get keys attached to this lease.
    #[arg(long)]
    pub keys: bool,
}

/// `lease keep-alive [options] <leaseID>`.
#[derive(Args, Clone, Debug)]
pub struct KeepAliveArgs {
    /// Lease ID in hex.
    pub id: Option<String>,
    /// Resets the keep-alive time to its original value and exits immediately.
    #[arg(long)]
    pub once: bool,
}

/// Parses a hex lease ID with etcdctl's message.
pub fn lease_from_arg(arg: &str) -> Result<i64, Failure> {
    parse_go_int(arg, 16)
        .map_err(|e| Failure::bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

fn required(id: &Option<String>, message: &str) -> Result<i64, Failure> {
    lease_from_arg(id.as_deref().ok_or_else(|| Failure::bad_args(message))?)
}

/// Runs a `lease` subcommand.
pub async fn run(ctx: &Context, cmd: &LeaseCommand) -> anyhow::Result<()> {
    match cmd {
        LeaseCommand::Grant(a) => grant(ctx, a).await,
        LeaseCommand::Revoke(a) => revoke(ctx, a).await,
        LeaseCommand::Timetolive(a) => time_to_live(ctx, a).await,
        LeaseCommand::List => list(ctx).await,
        LeaseCommand::KeepAlive(a) => keep_alive(ctx, a).await,
    }
}

async fn grant(ctx: &Context, args: &GrantArgs) -> anyhow::Result<()> {
    let ttl = args
        .ttl
        .as_deref()
        .ok_or_else(|| Failure::bad_args("lease grant command needs TTL argument"))?;
    let ttl = parse_go_int(ttl, 10).map_err(|e| Failure::bad_args(format!("bad TTL ({e})")))?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.lease().lease_grant(LeaseGrantRequest { ttl, id: 0 }))
        .await
        .map_err(|e| Failure::error(format!("failed to grant lease ({e})")))?;
    emit(&ctx.printer.grant(&resp)?)?;
    Ok(())
}

async fn revoke(ctx: &Context, args: &IdArgs) -> anyhow::Result<()> {
    let id = required(&args.id, "lease revoke command needs 1 argument")?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.lease().lease_revoke(LeaseRevokeRequest { id }))
        .await
        .map_err(|e| Failure::error(format!("failed to revoke lease ({e})")))?;
    emit(&ctx.printer.revoke(id, &resp)?)?;
    Ok(())
}

async fn time_to_live(ctx: &Context, args: &TimeToLiveArgs) -> anyhow::Result<()> {
    let id = required(
        &args.id,
        "lease timetolive command needs lease ID as argument",
    )?;
    let client = ctx.connect().await?;
    let resp = client
        .call(client.lease().lease_time_to_live(LeaseTimeToLiveRequest {
            id,
            keys: args.keys,
        }))
        .await
        .map_err(|e| Failure::new(ExitCode::BadConnection, e.to_string()))?;
    emit(&ctx.printer.time_to_live(&resp, args.keys)?)?;
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let client = ctx.connect().await?;
    let resp = client
        .call(client.lease().lease_leases(LeaseLeasesRequest {}))
        .await
        .map_err(|e| Failure::new(ExitCode::BadConnection, e.to_string()))?;
    emit(&ctx.printer.leases(&resp)?)?;
    Ok(())
}

/// How long to wait before the next keep-alive: a third of the TTL, as clientv3, but at least its 500ms tick.
pub fn next_keep_alive(ttl: i64) -> Duration {
    Duration::from_millis((ttl.max(0) as u64).saturating_mul(1000) / 3)
        .max(Duration::from_millis(500))
}

async fn keep_alive(ctx: &Context, args: &KeepAliveArgs) -> anyhow::Result<()> {
    let id = required(
        &args.id,
        "lease keep-alive command needs lease ID as argument",
    )?;
    let client = ctx.connect().await?;
    let (tx, rx) = mpsc::channel(4);
    let bad = |m: String| Failure::new(ExitCode::BadConnection, m);
    tx.send(LeaseKeepAliveRequest { id })
        .await
        .map_err(|_| bad("keep-alive stream closed".into()))?;
    let mut lease = client.lease();
    let mut stream = client
        .call(lease.lease_keep_alive(ReceiverStream::new(rx)))
        .await
        .map_err(|e| bad(e.to_string()))?;
    loop {
        let resp = match tokio::time::timeout(ctx.client.command_timeout, stream.message()).await {
            Err(_) => return Err(bad("context deadline exceeded".into()).into()),
            Ok(Err(status)) => {
                return Err(bad(crate::client::RpcError::Status(status).to_string()).into())
            }
            Ok(Ok(None)) => None,
            Ok(Ok(Some(r))) => Some(r),
        };
        let resp = match resp {
            Some(r) if r.ttl > 0 => r,
            _ if args.once => {
                return Err(bad("etcdserver: requested lease not found".into()).into())
            }
            _ => {
                if ctx.printer.format == Format::Simple {
                    emit(format!("lease {} expired or revoked.\n", lease_hex(id)).as_bytes())?;
                }
                return Ok(());
            }
        };
        emit(&ctx.printer.keep_alive(&resp)?)?;
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(next_keep_alive(resp.ttl)).await;
        tx.send(LeaseKeepAliveRequest { id })
            .await
            .map_err(|_| bad("keep-alive stream closed".into()))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_hex() {
        assert_eq!(
            lease_from_arg("694d5d3f8b0e6c1b").ok(),
            Some(0x694d5d3f8b0e6c1b)
        );
        let e = lease_from_arg("nothex").expect_err("bad");
        assert_eq!(e.code, ExitCode::BadArgs);
        assert_eq!(
            e.message.as_deref(),
            Some(
                r#"bad lease ID arg (strconv.ParseInt: parsing "nothex": invalid syntax), expecting ID in Hex"#
            )
        );
    }

    #[test]
    fn keep_alive_interval() {
        assert_eq!(next_keep_alive(3), Duration::from_secs(1));
        assert_eq!(next_keep_alive(1), Duration::from_millis(500));
        assert_eq!(next_keep_alive(60), Duration::from_secs(20));
    }
}
