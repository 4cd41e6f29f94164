//! `compaction REV [--physical]`: KV.Compact.

use clap::Args;
use kvstore_proto::etcdserverpb::CompactionRequest;

use super::{emit, Context};
use crate::error::{parse_go_int, Failure};

/// `compaction [options] <revision>`.
#[derive(Args, Clone, Debug)]
pub struct CompactionArgs {
    /// The revision to compact up to.
    pub revision: Option<String>,
    /// 'true' to wait for compaction to physically remove all old revisions.
    #[arg(long)]
    pub physical: bool,
}

/// Runs `compaction`.
pub async fn run(ctx: &Context, args: &CompactionArgs) -> anyhow::Result<()> {
    let rev = args
        .revision
        .as_deref()
        .ok_or_else(|| Failure::bad_args("compaction command needs 1 argument"))?;
    // etcdctl reports an unparsable revision with exit 1, not 128.
    let revision = parse_go_int(rev, 10).map_err(Failure::error)?;
    let client = ctx.connect().await?;
    client
        .call(client.kv().compact(CompactionRequest {
            revision,
            physical: args.physical,
        }))
        .await
        .map_err(Failure::from)?;
    emit(format!("compacted revision {revision}\n").as_bytes())?;
    Ok(())
}
