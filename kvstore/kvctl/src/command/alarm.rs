//! `alarm list`, `alarm disarm` (Maintenance.Alarm) and `defrag` (Maintenance.Defragment on every endpoint): the
//! commands that get a member out of the NOSPACE alarm.

use clap::Subcommand;
use kvstore_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmMember, AlarmRequest, AlarmType, DefragmentRequest,
};

use super::{emit, emit_err, Context};
use crate::error::{ExitCode, Failure};

/// `alarm <subcommand>`.
#[derive(Subcommand, Clone, Debug)]
pub enum AlarmCommand {
    /// Lists all alarms.
    List,
    /// Disarms all alarms.
    Disarm,
}

/// An alarm as etcdctl prints it (Go's text form of an `AlarmMember`).
fn line(a: &AlarmMember) -> String {
    let kind = AlarmType::try_from(a.alarm).map_or("UNKNOWN", |k| k.as_str_name());
    format!("memberID:{} alarm:{kind} \n", a.member_id)
}

/// Runs `alarm list` or `alarm disarm`. Disarming lists the alarms, then disarms each, as etcd's client does.
pub async fn run(ctx: &Context, c: &AlarmCommand) -> anyhow::Result<()> {
    let client = ctx.connect().await?;
    let get = AlarmRequest {
        action: AlarmAction::Get as i32,
        member_id: 0,
        alarm: AlarmType::None as i32,
    };
    let listed = client
        .call(client.maintenance().alarm(get))
        .await
        .map_err(Failure::from)?;
    let shown = match c {
        AlarmCommand::List => listed.alarms,
        AlarmCommand::Disarm => {
            let mut disarmed = Vec::new();
            for a in listed.alarms {
                let off = AlarmRequest {
                    action: AlarmAction::Deactivate as i32,
                    member_id: a.member_id,
                    alarm: a.alarm,
                };
                let resp = client
                    .call(client.maintenance().alarm(off))
                    .await
                    .map_err(Failure::from)?;
                disarmed.extend(resp.alarms);
            }
            disarmed
        }
    };
    let text: String = shown.iter().map(line).collect();
    emit(text.as_bytes())?;
    Ok(())
}

/// Runs `defrag` on each endpoint; a failure on one is reported and makes the exit status 1.
pub async fn defrag(ctx: &Context) -> anyhow::Result<()> {
    let mut failed = false;
    for ep in &ctx.client.endpoints {
        let result = match ctx.client.connect_to(ep).await {
            Ok(client) => client
                .call(client.maintenance().defragment(DefragmentRequest {}))
                .await
                .map(|_| ())
                .map_err(|e| Failure::from(e).to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => emit(format!("Finished defragmenting etcd member[{ep}]\n").as_bytes())?,
            Err(e) => {
                failed = true;
                emit_err(format!("Failed to defragment etcd member[{ep}] ({e})\n").as_bytes());
            }
        }
    }
    if failed {
        return Err(Failure::silent(ExitCode::Error).into());
    }
    Ok(())
}
