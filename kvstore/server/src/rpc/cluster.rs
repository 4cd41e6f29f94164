//! `etcdserverpb.Cluster`: the member list and runtime membership changes. Adds, removals and promotions are
//! raft conf changes ([`crate::node::MemberChange`]); peer URL updates are ordinary entries. Each is checked here
//! for a quick answer and again when applied.
//!
//! Adds, removals and promotions are decided on the leader, which knows which members answer
//! ([`crate::reconfig`]): a follower hands such a request to the leader over the peer URL
//! ([`crate::peer::forward`]) and relays the answer.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kvstore_proto::etcdserverpb::{
    cluster_server::Cluster, MemberAddRequest, MemberAddResponse, MemberListRequest,
    MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
};
use kvstore_proto::internal::raft_request::Request as Raft;
use tonic::{Request, Response, Status};

use super::{unexpected, Ctx};
use crate::apply::Response as Applied;
use crate::error::EtcdError;
use crate::node::{MemberChange, MemberChangeKind};
use crate::peer::forward::Kind;
use crate::state::MemberInfo;

pub struct ClusterService(pub Arc<Ctx>);

const SERVICE: &str = "etcdserverpb.Cluster";

/// Peer URLs must be `http[s]://HOST:PORT` (etcd: "etcdserver: invalid peer URL").
fn check_peer_urls(urls: &[String]) -> Result<(), EtcdError> {
    if urls.is_empty() {
        return Err(EtcdError::InvalidArgument(
            "member peer URLs are required".into(),
        ));
    }
    for u in urls {
        crate::config::host_port(u)
            .map_err(|e| EtcdError::InvalidArgument(format!("invalid peer URL {e}")))?;
    }
    Ok(())
}

fn members_of(res: Applied) -> Result<(Option<MemberInfo>, Vec<MemberInfo>), EtcdError> {
    match res {
        Applied::Members(m, all) => Ok((m, all)),
        _ => Err(unexpected()),
    }
}

impl ClusterService {
    async fn change(
        &self,
        kind: MemberChangeKind,
        member: MemberInfo,
    ) -> Result<(Option<MemberInfo>, Vec<MemberInfo>), EtcdError> {
        members_of(
            self.0
                .node
                .change_members(MemberChange { kind, member })
                .await?,
        )
    }

    fn existing(&self, id: u64) -> Result<MemberInfo, EtcdError> {
        self.0
            .state
            .membership()
            .get(id)
            .cloned()
            .ok_or(EtcdError::MemberNotFound)
    }
}

fn protos(ms: &[MemberInfo]) -> Vec<kvstore_proto::etcdserverpb::Member> {
    ms.iter().map(MemberInfo::to_proto).collect()
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        r: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        if let Some(answer) = self.0.relay(Kind::MemberAdd, &r).await {
            return answer;
        }
        let r = r.into_inner();
        self.0
            .unary(SERVICE, "MemberAdd", async {
                check_peer_urls(&r.peer_ur_ls)?;
                // etcd mixes the time into a new member's id, so a member re-added at the same URLs gets a new one.
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let member = MemberInfo {
                    id: crate::config::member_id(&r.peer_ur_ls, &now.to_string()),
                    name: String::new(),
                    peer_urls: r.peer_ur_ls.clone(),
                    client_urls: Vec::new(),
                    is_learner: r.is_learner,
                };
                self.0.state.membership().check_add(&member)?;
                let kind = if r.is_learner {
                    MemberChangeKind::AddLearner
                } else {
                    MemberChangeKind::Add
                };
                let (added, all) = self.change(kind, member).await?;
                Ok(MemberAddResponse {
                    header: Some(self.0.state.header()),
                    member: added.map(|m| m.to_proto()),
                    members: protos(&all),
                })
            })
            .await
    }

    async fn member_remove(
        &self,
        r: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        if let Some(answer) = self.0.relay(Kind::MemberRemove, &r).await {
            return answer;
        }
        let id = r.into_inner().id;
        self.0
            .unary(SERVICE, "MemberRemove", async {
                let member = self.existing(id)?;
                let (_, all) = self.change(MemberChangeKind::Remove, member).await?;
                Ok(MemberRemoveResponse {
                    header: Some(self.0.state.header()),
                    members: protos(&all),
                })
            })
            .await
    }

    async fn member_update(
        &self,
        r: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let r = r.into_inner();
        self.0
            .unary(SERVICE, "MemberUpdate", async {
                check_peer_urls(&r.peer_ur_ls)?;
                self.existing(r.id)?;
                self.0.state.membership().check_urls(r.id, &r.peer_ur_ls)?;
                let (_, all) = members_of(self.0.node.propose(Raft::MemberUpdate(r)).await?)?;
                Ok(MemberUpdateResponse {
                    header: Some(self.0.state.header()),
                    members: protos(&all),
                })
            })
            .await
    }

    async fn member_list(
        &self,
        _r: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        self.0
            .unary(SERVICE, "MemberList", async {
                Ok(MemberListResponse {
                    header: Some(self.0.state.header()),
                    members: protos(&self.0.state.members()),
                })
            })
            .await
    }

    async fn member_promote(
        &self,
        r: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        if let Some(answer) = self.0.relay(Kind::MemberPromote, &r).await {
            return answer;
        }
        let id = r.into_inner().id;
        self.0
            .unary(SERVICE, "MemberPromote", async {
                let member = self.existing(id)?;
                if !member.is_learner {
                    return Err(EtcdError::NotLearner);
                }
                let (_, all) = self.change(MemberChangeKind::Promote, member).await?;
                Ok(MemberPromoteResponse {
                    header: Some(self.0.state.header()),
                    members: protos(&all),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_must_be_http_or_https_host_port() {
        assert!(check_peer_urls(&["http://127.0.0.1:2380".into()]).is_ok());
        assert!(check_peer_urls(&["https://a:1".into()]).is_ok());
        for bad in [
            "127.0.0.1:2380",
            "http://127.0.0.1",
            "unix://a:1",
            "http://:1",
        ] {
            assert!(check_peer_urls(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_peer_urls(&[]).is_err());
    }
}
