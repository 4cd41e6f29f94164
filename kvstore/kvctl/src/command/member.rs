//! `member list`: Cluster.MemberList. (Adding, removing and promoting members is not kvctl's job yet.)

use clap::Subcommand;
use kvstore_proto::etcdserverpb::MemberListRequest;

use super::{emit, Context};
use crate::error::Failure;

/// `member <subcommand>`.
#[derive(Subcommand, Clone, Debug)]
pub enum MemberCommand {
    /// Lists all members in the cluster.
    List,
}

/// Runs a `member` subcommand.
pub async fn run(ctx: &Context, cmd: &MemberCommand) -> anyhow::Result<()> {
    match cmd {
        MemberCommand::List => {
            let client = ctx.connect().await?;
            let resp = client
                .call(client.cluster().member_list(MemberListRequest {
                    linearizable: false,
                }))
                .await
                .map_err(Failure::from)?;
            emit(&ctx.printer.member_list(&resp)?)?;
            Ok(())
        }
    }
}
