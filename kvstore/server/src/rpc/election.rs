//! `v3electionpb.Election`: etcd's election service, on the algorithm of etcd's `concurrency.Election`. A
//! candidate's key is `name/<lease id in hex>` on its lease, holding its value; the candidate whose key was
//! created first leads. Campaign waits until every older key is gone; the leader can change its value
//! (Proclaim) or step down (Resign), both only while its key is still the one it created.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use kvstore_proto::etcdserverpb::{
    request_op::Request as Op, DeleteRangeRequest, PutRequest, RequestOp, ResponseHeader,
    TxnRequest,
};
use kvstore_proto::mvccpb::{event::EventType, KeyValue};
use kvstore_proto::prefix_range_end;
use kvstore_proto::v3electionpb::{
    election_server::Election, CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest,
    LeaderResponse, ProclaimRequest, ProclaimResponse, ResignRequest, ResignResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::local::{created_at, DeleteOnDrop, Local};
use super::lock::{enqueue, queue_key, queue_prefix, still_queued};

pub struct ElectionService(pub Local);

/// etcd's messages for these failures (plain errors there, so gRPC code Unknown).
const NOT_LEADER: &str = "election: not leader";
const NO_LEADER: &str = "election: no leader";
const SESSION_EXPIRED: &str = "election: session expired";
const MISSING_LEADER: &str = "\"leader\" field must be provided";

impl ElectionService {
    /// Runs `then` if `leader` still holds its key (created at its revision); whether it did, and the header.
    async fn if_leading(
        &self,
        leader: &LeaderKey,
        then: Op,
    ) -> Result<(bool, Option<ResponseHeader>), Status> {
        let t = TxnRequest {
            compare: vec![created_at(&leader.key, leader.rev)],
            success: vec![RequestOp {
                request: Some(then),
            }],
            failure: vec![],
        };
        let resp = self.0.txn(t).await?;
        Ok((resp.succeeded, resp.header))
    }

    async fn proclaim_value(
        &self,
        leader: &LeaderKey,
        value: Vec<u8>,
    ) -> Result<Option<ResponseHeader>, Status> {
        let put = Op::RequestPut(PutRequest {
            key: leader.key.clone(),
            value,
            lease: leader.lease,
            ..Default::default()
        });
        match self.if_leading(leader, put).await? {
            (true, header) => Ok(header),
            (false, _) => Err(Status::unknown(NOT_LEADER)),
        }
    }
}

type LeaderStream = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        req: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        let req = req.into_inner();
        let local = &self.0;
        let lease = local.session_lease(req.lease).await?;
        let prefix = queue_prefix(&req.name);
        let key = queue_key(&prefix, lease);
        let q = enqueue(local, &prefix, &key, lease, &req.value).await?;
        let guard = DeleteOnDrop::new(local, key.clone());
        let leader = LeaderKey {
            name: req.name,
            key,
            rev: q.rev,
            lease,
        };
        // A candidate that campaigns again with another value proclaims it.
        if q.existing.is_some_and(|kv| kv.value != req.value) {
            self.proclaim_value(&leader, req.value).await?;
        }
        local.wait_deletes(&prefix, q.rev - 1).await?;
        still_queued(local, &leader.key, SESSION_EXPIRED).await?;
        guard.disarm();
        Ok(Response::new(CampaignResponse {
            header: q.header,
            leader: Some(leader),
        }))
    }

    async fn proclaim(
        &self,
        req: Request<ProclaimRequest>,
    ) -> Result<Response<ProclaimResponse>, Status> {
        let req = req.into_inner();
        let leader = req.leader.ok_or_else(|| Status::unknown(MISSING_LEADER))?;
        let header = self.proclaim_value(&leader, req.value).await?;
        Ok(Response::new(ProclaimResponse { header }))
    }

    async fn leader(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<LeaderResponse>, Status> {
        let (header, kv) = self
            .0
            .first_created(&queue_prefix(&req.into_inner().name))
            .await?;
        let kv = kv.ok_or_else(|| Status::unknown(NO_LEADER))?;
        Ok(Response::new(LeaderResponse {
            header,
            kv: Some(kv),
        }))
    }

    type ObserveStream = LeaderStream;

    async fn observe(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        let prefix = queue_prefix(&req.into_inner().name);
        let (tx, rx) = mpsc::channel(16);
        let local = self.0.clone();
        tokio::spawn(async move {
            let closed = tx.clone();
            tokio::select! {
                res = observe(&local, &prefix, &tx) => {
                    if let Err(e) = res {
                        let _ = tx.send(Err(e)).await;
                    }
                }
                () = closed.closed() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn resign(
        &self,
        req: Request<ResignRequest>,
    ) -> Result<Response<ResignResponse>, Status> {
        let leader = req
            .into_inner()
            .leader
            .ok_or_else(|| Status::unknown(MISSING_LEADER))?;
        let delete = Op::RequestDeleteRange(DeleteRangeRequest {
            key: leader.key.clone(),
            ..Default::default()
        });
        // Not leading (any more) is no error: there is nothing to give up.
        let (_, header) = self.if_leading(&leader, delete).await?;
        Ok(Response::new(ResignResponse { header }))
    }
}

/// Sends the leader of the election under `prefix`, then every change of its value, then the next leader once
/// it is gone, and so on (etcd's `Election.Observe`). Returns `Ok` when the receiver is gone.
async fn observe(
    local: &Local,
    prefix: &[u8],
    tx: &mpsc::Sender<Result<LeaderResponse, Status>>,
) -> Result<(), Status> {
    loop {
        let (header, kv) = local.first_created(prefix).await?;
        let (header, kv) = match kv {
            Some(kv) => (header, kv),
            None => {
                let from = header.as_ref().map(|h| h.revision).unwrap_or_default();
                first_put(local, prefix, from).await?
            }
        };
        let from = header.as_ref().map(|h| h.revision).unwrap_or_default() + 1;
        let key = kv.key.clone();
        if tx
            .send(Ok(LeaderResponse {
                header,
                kv: Some(kv),
            }))
            .await
            .is_err()
        {
            return Ok(());
        }
        let mut changes = local.watch(key, Vec::new(), from);
        'leader: while let Some(resp) = changes.next().await {
            let resp = resp?;
            for ev in resp.events {
                if ev.r#type == EventType::Delete as i32 {
                    break 'leader;
                }
                let update = LeaderResponse {
                    header: resp.header,
                    kv: ev.kv,
                };
                if tx.send(Ok(update)).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Waits for the first key put under `prefix` from revision `from`: the election's first leader. The header's
/// revision is that put's (a batch may hold more).
async fn first_put(
    local: &Local,
    prefix: &[u8],
    from: i64,
) -> Result<(Option<ResponseHeader>, KeyValue), Status> {
    let mut events = local.watch(prefix.to_vec(), prefix_range_end(prefix), from);
    while let Some(resp) = events.next().await {
        let resp = resp?;
        for ev in resp.events {
            if ev.r#type != EventType::Put as i32 {
                continue;
            }
            if let Some(kv) = ev.kv {
                let mut header = resp.header.unwrap_or_default();
                header.revision = kv.mod_revision;
                return Ok((Some(header), kv));
            }
        }
    }
    Err(Status::unavailable("watch ended"))
}
