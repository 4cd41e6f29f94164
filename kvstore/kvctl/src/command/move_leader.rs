//! `move-leader <transferee-member-id>`: Maintenance.MoveLeader, sent to the leader — found, as etcdctl finds it,
//! by asking each endpoint for its status.

use clap::Args;
use kvstore_proto::etcdserverpb::{MoveLeaderRequest, StatusRequest};

use super::{emit, Context};
use crate::error::{parse_go_hex_u64, Failure};

/// `move-leader <transferee-member-id>`.
#[derive(Args, Clone, Debug)]
pub struct MoveLeaderArgs {
    /// The member to hand leadership to, in hex as `member list` prints it.
    pub args: Vec<String>,
}

/// Runs `move-leader`.
pub async fn run(ctx: &Context, a: &MoveLeaderArgs) -> anyhow::Result<()> {
    let [arg] = a.args.as_slice() else {
        return Err(Failure::bad_args("move-leader command needs 1 argument").into());
    };
    let target = parse_go_hex_u64(arg).map_err(Failure::bad_args)?;
    let mut leader = None;
    for ep in &ctx.client.endpoints {
        let client = ctx.client.connect_to(ep).await.map_err(Failure::error)?;
        let status = client
            .call(client.maintenance().status(StatusRequest {}))
            .await
            .map_err(Failure::from)?;
        let me = status.header.as_ref().map_or(0, |h| h.member_id);
        if me != 0 && me == status.leader {
            leader = Some((client, me));
            break;
        }
    }
    let Some((client, from)) = leader else {
        return Err(Failure::bad_args(format!(
            "no leader endpoint given at [{}]",
            ctx.client.endpoints.join(" ")
        ))
        .into());
    };
    client
        .call(
            client
                .maintenance()
                .move_leader(MoveLeaderRequest { target_id: target }),
        )
        .await
        .map_err(Failure::from)?;
    emit(format!("Leadership transferred from {from:x} to {target:x}\n").as_bytes())?;
    Ok(())
}
