//! `etcdserverpb.Watch`: one bidirectional stream per call, served by [`crate::watch::WatchStream`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use kvstore_proto::etcdserverpb::{watch_server::Watch, WatchRequest, WatchResponse};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Ctx;
use crate::watch::WatchStream;

pub struct WatchService(pub Arc<Ctx>);

/// Responses buffered per stream before the stream stops reading the broadcast (and later catches up).
const OUT_BUFFER: usize = 256;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        self.0.refuse_learner()?;
        Ok(Response::new(Box::pin(serve(&self.0, req.into_inner()))))
    }
}

/// Serves one watch stream (gRPC's, or the JSON gateway's) on a task of its own; its responses come out of the
/// returned stream.
pub fn serve<S>(ctx: &Ctx, inbound: S) -> ReceiverStream<Result<WatchResponse, Status>>
where
    S: Stream<Item = Result<WatchRequest, Status>> + Send + Unpin + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(OUT_BUFFER);
    let stream = WatchStream::new(
        ctx.hub.clone(),
        ctx.db.clone(),
        ctx.state.clone(),
        tx,
        ctx.progress_interval,
    );
    tokio::spawn(stream.run(inbound));
    ReceiverStream::new(rx)
}
