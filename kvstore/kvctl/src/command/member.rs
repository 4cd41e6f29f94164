//! `member list|add|remove|update|promote`: the Cluster service, with etcdctl 3.4's arguments, messages and exit
//! codes.

use clap::{Args, Subcommand};
use kvstore_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest, ResponseHeader,
};

use super::{emit, Context};
use crate::error::{parse_go_hex_u64, Failure};

/// `member <subcommand>`.
#[derive(Subcommand, Clone, Debug)]
pub enum MemberCommand {
    /// Lists all members in the cluster.
    List,
    /// Adds a member into the cluster.
    Add(AddArgs),
    /// Removes a member from the cluster.
    Remove(IdArgs),
    /// Updates a member in the cluster.
    Update(UpdateArgs),
    /// Promotes a non-voting member in the cluster.
    Promote(IdArgs),
}

/// `member add <memberName> --peer-urls=URLs [--learner]`.
#[derive(Args, Clone, Debug)]
pub struct AddArgs {
    /// The new member's name (arguments beyond it are refused, as etcdctl does).
    pub args: Vec<String>,
    /// Comma separated peer URLs for the new member.
    #[arg(long = "peer-urls", default_value = "")]
    pub peer_urls: String,
    /// Indicates if the new member is raft learner.
    #[arg(long)]
    pub learner: bool,
}

/// `member remove|promote <memberID>`.
#[derive(Args, Clone, Debug)]
pub struct IdArgs {
    /// The member ID, in hex as `member list` prints it.
    pub args: Vec<String>,
}

/// `member update <memberID> --peer-urls=URLs`.
#[derive(Args, Clone, Debug)]
pub struct UpdateArgs {
    /// The member ID, in hex as `member list` prints it.
    pub args: Vec<String>,
    /// Comma separated peer URLs for the updated member.
    #[arg(long = "peer-urls", default_value = "")]
    pub peer_urls: String,
}

/// The new member's name from `member add`'s arguments; a stray URL gets etcdctl's hint.
pub fn member_name(args: &[String]) -> Result<&str, Failure> {
    match args {
        [] => Err(Failure::bad_args("member name not provided")),
        [name] => Ok(name),
        _ => {
            let mut why = String::from("too many arguments");
            if let Some(url) = args.iter().find(|a| a.to_lowercase().starts_with("http")) {
                why.push_str(&format!(", did you mean --peer-urls={url}"));
            }
            Err(Failure::bad_args(why))
        }
    }
}

/// `--peer-urls` split on commas; at least one is required.
pub fn peer_urls(flag: &str) -> Result<Vec<String>, Failure> {
    if flag.is_empty() {
        return Err(Failure::bad_args("member peer urls not provided"));
    }
    Ok(flag.split(',').map(str::to_string).collect())
}

/// The member ID argument: hex, as etcdctl's `strconv.ParseUint(arg, 16, 64)` reads it.
pub fn member_id(args: &[String]) -> Result<u64, Failure> {
    let [arg] = args else {
        return Err(Failure::bad_args("member ID is not provided"));
    };
    parse_go_hex_u64(arg)
        .map_err(|e| Failure::bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))
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
        }
        MemberCommand::Add(a) => {
            let name = member_name(&a.args)?;
            let urls = peer_urls(&a.peer_urls)?;
            let client = ctx.connect().await?;
            let resp = client
                .call(client.cluster().member_add(MemberAddRequest {
                    peer_ur_ls: urls,
                    is_learner: a.learner,
                }))
                .await
                .map_err(Failure::from)?;
            emit(&ctx.printer.member_add(&resp, name)?)?;
        }
        MemberCommand::Remove(a) => {
            let id = member_id(&a.args)?;
            let client = ctx.connect().await?;
            let r = client
                .call(client.cluster().member_remove(MemberRemoveRequest { id }))
                .await
                .map_err(Failure::from)?;
            changed(ctx, id, "removed from", r.header, r.members)?;
        }
        MemberCommand::Update(a) => {
            let id = member_id(&a.args)?;
            let peer_ur_ls = peer_urls(&a.peer_urls)?;
            let client = ctx.connect().await?;
            let r = client
                .call(
                    client
                        .cluster()
                        .member_update(MemberUpdateRequest { id, peer_ur_ls }),
                )
                .await
                .map_err(Failure::from)?;
            changed(ctx, id, "updated in", r.header, r.members)?;
        }
        MemberCommand::Promote(a) => {
            let id = member_id(&a.args)?;
            let client = ctx.connect().await?;
            let r = client
                .call(client.cluster().member_promote(MemberPromoteRequest { id }))
                .await
                .map_err(Failure::from)?;
            changed(ctx, id, "promoted in", r.header, r.members)?;
        }
    }
    Ok(())
}

/// Prints etcdctl's line for a change to member `id` (`verb`: "removed from", "updated in", "promoted in").
fn changed(
    ctx: &Context,
    id: u64,
    verb: &str,
    header: Option<ResponseHeader>,
    members: Vec<Member>,
) -> Result<(), Failure> {
    emit(
        &ctx.printer
            .member_changed(id, verb, header.as_ref(), &members)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn member_ids_are_hex_with_etcdctls_messages() {
        assert_eq!(
            member_id(&strings(&["8e9e05c52164694d"])).unwrap(),
            0x8e9e05c52164694d
        );
        let e = member_id(&strings(&["zz"])).unwrap_err().to_string();
        assert_eq!(
            e,
            "bad member ID arg (strconv.ParseUint: parsing \"zz\": invalid syntax), expecting ID in Hex"
        );
        let e = member_id(&strings(&["1ffffffffffffffff"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("value out of range"), "{e}");
        assert!(member_id(&strings(&["+1"])).is_err());
        assert_eq!(
            member_id(&[]).unwrap_err().to_string(),
            "member ID is not provided"
        );
    }

    #[test]
    fn member_add_arguments_are_checked_like_etcdctl() {
        assert_eq!(member_name(&strings(&["infra4"])).unwrap(), "infra4");
        assert_eq!(
            member_name(&[]).unwrap_err().to_string(),
            "member name not provided"
        );
        assert_eq!(
            member_name(&strings(&["infra4", "http://10.0.0.4:2380"]))
                .unwrap_err()
                .to_string(),
            "too many arguments, did you mean --peer-urls=http://10.0.0.4:2380"
        );
        assert_eq!(
            peer_urls("").unwrap_err().to_string(),
            "member peer urls not provided"
        );
        assert_eq!(
            peer_urls("http://a:2380,http://b:2380").unwrap(),
            strings(&["http://a:2380", "http://b:2380"])
        );
    }
}
