//! The leader's side of [`crate::peer::forward`]: a request a follower forwarded runs through the same service
//! handler a client's would, marked as handed over so that it is not handed on again.

use std::sync::Arc;

use kvstore_proto::etcdserverpb::cluster_server::Cluster;
use kvstore_proto::etcdserverpb::lease_server::Lease;
use kvstore_proto::etcdserverpb::maintenance_server::Maintenance;
use kvstore_proto::etcdserverpb::LeaseKeepAliveRequest;
use prost::Message;
use tonic::Status;

use super::cluster::ClusterService;
use super::lease::{keep_alive_reply, renew_here, LeaseService};
use super::maintenance::MaintenanceService;
use super::{handed_over, Ctx};
use crate::peer::forward::{Handler, Kind};

/// The handler the peer listener answers forwarded requests with.
pub fn handler(ctx: Arc<Ctx>) -> Handler {
    Arc::new(move |kind, body| {
        let ctx = ctx.clone();
        Box::pin(async move { answer(ctx, kind, body).await })
    })
}

fn decode<T: Message + Default>(body: &[u8]) -> Result<T, Status> {
    T::decode(body).map_err(|e| Status::invalid_argument(format!("forwarded request: {e}")))
}

async fn answer(ctx: Arc<Ctx>, kind: Kind, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    Ok(match kind {
        Kind::LeaseKeepAlive => {
            // Renewed here only: a member that lost the lead meanwhile answers NotLeader, not forward again.
            let req: LeaseKeepAliveRequest = decode(&body)?;
            keep_alive_reply(&ctx, req.id, renew_here(&ctx, req.id))?.encode_to_vec()
        }
        Kind::LeaseTimeToLive => LeaseService::new(ctx)
            .lease_time_to_live(handed_over(decode(&body)?))
            .await?
            .into_inner()
            .encode_to_vec(),
        Kind::MemberAdd => ClusterService(ctx)
            .member_add(handed_over(decode(&body)?))
            .await?
            .into_inner()
            .encode_to_vec(),
        Kind::MemberRemove => ClusterService(ctx)
            .member_remove(handed_over(decode(&body)?))
            .await?
            .into_inner()
            .encode_to_vec(),
        Kind::MemberPromote => ClusterService(ctx)
            .member_promote(handed_over(decode(&body)?))
            .await?
            .into_inner()
            .encode_to_vec(),
        // Answered from this member's own store, whoever leads.
        Kind::HashKv => MaintenanceService(ctx)
            .hash_kv(tonic::Request::new(decode(&body)?))
            .await?
            .into_inner()
            .encode_to_vec(),
    })
}
