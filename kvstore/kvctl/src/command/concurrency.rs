//! `lock` and `elect`, etcdctl's commands on etcd's Lock and Election services. Each holds a session — a lease
//! kept alive while kvctl runs (`lock --ttl`, 10 s by default; 60 s for `elect`, as etcdctl's sessions) — until
//! it is interrupted (SIGINT, SIGTERM), the command it runs exits, or the session is lost.

use clap::Args;
use kvstore_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, RangeRequest, RangeResponse,
};
use kvstore_proto::v3electionpb::{CampaignRequest, LeaderKey, LeaderRequest, ResignRequest};
use kvstore_proto::v3lockpb::{LockRequest, UnlockRequest};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use super::lease::next_keep_alive;
use super::{emit, Context};
use crate::client::{Client, RpcError};
use crate::error::{ExitCode, Failure};

/// `kvctl lock <lockname> [exec-command arg1 arg2 ...]`.
#[derive(Args, Debug)]
pub struct LockArgs {
    /// The lock's name.
    name: Option<String>,
    /// A command to run while the lock is held (ETCD_LOCK_KEY and ETCD_LOCK_REV in its environment); the lock
    /// is released when it exits.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
    /// Timeout for session.
    #[arg(long, default_value_t = 10)]
    ttl: i64,
}

/// `kvctl elect <election-name> [proposal]`.
#[derive(Args, Debug)]
pub struct ElectArgs {
    /// The election's name.
    name: Option<String>,
    /// The value to lead with.
    proposal: Option<String>,
    /// Observation mode: print every leader and value change.
    #[arg(short = 'l', long)]
    listen: bool,
}

/// etcdctl's session TTL for `elect` (concurrency's default).
const ELECT_TTL: i64 = 60;

/// A lease kept alive in the background; `lost` fires when keeping it alive fails.
struct Session {
    id: i64,
    lost: oneshot::Receiver<()>,
    keeper: tokio::task::JoinHandle<()>,
}

impl Session {
    async fn open(client: &Client, ttl: i64) -> Result<Session, Failure> {
        let grant = LeaseGrantRequest { ttl, id: 0 };
        let id = client
            .call(client.lease().lease_grant(grant))
            .await
            .map_err(Failure::from)?
            .id;
        let (tx, rx) = mpsc::channel(1);
        let (lost_tx, lost) = oneshot::channel();
        let mut lease = client.lease();
        let keeper = tokio::spawn(async move {
            let requests = ReceiverStream::new(rx);
            if tx.send(LeaseKeepAliveRequest { id }).await.is_ok() {
                if let Ok(resp) = lease.lease_keep_alive(requests).await {
                    let mut answers = resp.into_inner();
                    while let Ok(Some(r)) = answers.message().await {
                        if r.ttl <= 0 {
                            break;
                        }
                        tokio::time::sleep(next_keep_alive(r.ttl)).await;
                        if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = lost_tx.send(());
        });
        Ok(Session { id, lost, keeper })
    }

    /// Stops keeping the lease alive and revokes it.
    async fn close(self, client: &Client) {
        self.keeper.abort();
        let _ = client
            .call(
                client
                    .lease()
                    .lease_revoke(LeaseRevokeRequest { id: self.id }),
            )
            .await;
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for a lock or a campaign, unless interrupted first ("context canceled", as etcdctl's).
async fn until_interrupted<T>(
    acquire: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::select! {
        r = acquire => r,
        () = interrupted() => Err(failed("context canceled")),
    }
}

fn failed(message: impl Into<String>) -> Failure {
    Failure::new(ExitCode::Error, message)
}

/// Prints `key` as `get` prints it (etcdctl shows the lock or leader key and its value).
async fn print_key(ctx: &Context, client: &Client, key: &[u8], lost: &str) -> Result<(), Failure> {
    let req = RangeRequest {
        key: key.to_vec(),
        ..Default::default()
    };
    let got = client.call(client.kv().range(req)).await?;
    if got.kvs.is_empty() {
        return Err(failed(lost));
    }
    emit(&ctx.printer.get(&got)?)
}

pub async fn lock(ctx: &Context, args: &LockArgs) -> anyhow::Result<()> {
    let Some(name) = &args.name else {
        return Err(Failure::bad_args(
            "lock takes a lock name argument and an optional command to execute.",
        )
        .into());
    };
    let client = ctx.connect().await?;
    let mut session = Session::open(&client, args.ttl).await?;
    let req = LockRequest {
        name: name.clone().into_bytes(),
        lease: session.id,
    };
    let mut locks = client.lock();
    let held = until_interrupted(async {
        let held = locks.lock(req).await.map_err(RpcError::Status)?;
        Ok(held.into_inner())
    });
    let held = match held.await {
        Ok(h) => h,
        Err(e) => {
            session.close(&client).await;
            return Err(e.into());
        }
    };
    let unlock = UnlockRequest {
        key: held.key.clone(),
    };
    if let Some((program, rest)) = args.command.split_first() {
        let rev = held.header.map(|h| h.revision).unwrap_or_default();
        let status = tokio::process::Command::new(program)
            .args(rest)
            .env("ETCD_LOCK_KEY", String::from_utf8_lossy(&held.key).as_ref())
            .env("ETCD_LOCK_REV", rev.to_string())
            .status()
            .await;
        let unlocked = client.call(client.lock().unlock(unlock)).await;
        session.close(&client).await;
        let status = status.map_err(|e| failed(format!("exec: \"{program}\": {e}")))?;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exit status {code}"),
                None => "signal: killed".to_string(),
            };
            return Err(failed(how).into());
        }
        unlocked.map_err(Failure::from)?;
        return Ok(());
    }
    print_key(ctx, &client, &held.key, "lock lost on init").await?;
    tokio::select! {
        () = interrupted() => {
            let unlocked = client.call(client.lock().unlock(unlock)).await;
            session.close(&client).await;
            unlocked.map_err(Failure::from)?;
            Ok(())
        }
        _ = &mut session.lost => Err(failed("session expired").into()),
    }
}

pub async fn elect(ctx: &Context, args: &ElectArgs) -> anyhow::Result<()> {
    let (name, proposal) = match (&args.name, &args.proposal) {
        (Some(n), p) => (n.clone().into_bytes(), p.clone()),
        (None, _) => {
            return Err(Failure::bad_args(
                "elect takes one election name argument and an optional proposal argument.",
            )
            .into())
        }
    };
    let client = ctx.connect().await?;
    match (proposal, args.listen) {
        (None, false) => Err(Failure::bad_args("no proposal argument but -l not set").into()),
        (Some(_), true) => Err(Failure::bad_args("proposal given but -l is set").into()),
        (None, true) => observe(ctx, &client, name).await,
        (Some(value), false) => campaign(ctx, &client, name, value).await,
    }
}

async fn campaign(
    ctx: &Context,
    client: &Client,
    name: Vec<u8>,
    value: String,
) -> anyhow::Result<()> {
    let mut session = Session::open(client, ELECT_TTL).await?;
    let req = CampaignRequest {
        name,
        lease: session.id,
        value: value.into_bytes(),
    };
    let mut elections = client.election();
    let won = until_interrupted(async {
        let won = elections.campaign(req).await.map_err(RpcError::Status)?;
        won.into_inner()
            .leader
            .ok_or_else(|| failed("campaign answered without a leader key"))
    });
    let leader: LeaderKey = match won.await {
        Ok(l) => l,
        Err(e) => {
            session.close(client).await;
            return Err(e.into());
        }
    };
    print_key(ctx, client, &leader.key, "elect: leader key lost").await?;
    tokio::select! {
        () = interrupted() => {}
        _ = &mut session.lost => return Err(failed("elect: session expired").into()),
    }
    let resigned = client
        .call(client.election().resign(ResignRequest {
            leader: Some(leader),
        }))
        .await;
    session.close(client).await;
    resigned.map_err(Failure::from)?;
    Ok(())
}

async fn observe(ctx: &Context, client: &Client, name: Vec<u8>) -> anyhow::Result<()> {
    let mut elections = client.election();
    let watching = async {
        let mut changes = elections
            .observe(LeaderRequest { name })
            .await
            .map_err(|s| Failure::from(RpcError::Status(s)))?
            .into_inner();
        while let Ok(Some(change)) = changes.message().await {
            let shown = RangeResponse {
                header: change.header,
                count: 1,
                kvs: change.kv.into_iter().collect(),
                more: false,
            };
            emit(&ctx.printer.get(&shown)?)?;
        }
        Err::<(), Failure>(failed("elect: observer lost"))
    };
    tokio::select! {
        r = watching => r.map_err(Into::into),
        () = interrupted() => Ok(()),
    }
}
