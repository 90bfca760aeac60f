//! The `protos.Endorser` gRPC service over an [`Endorser`], so gateways and other peers can
//! request endorsements.

use std::sync::Arc;

use cambium_wire::peer::endorser_server::{Endorser as EndorserRpc, EndorserServer};
use cambium_wire::peer::{ProposalResponse, SignedProposal};
use cambium_wire::Message;
use tonic::{Request, Response, Status};

use crate::endorser::Endorser;
use crate::error::EndorserError;

/// Serves `ProcessProposal` with an [`Endorser`]. Simulation runs on tokio's blocking pool,
/// so contract execution never stalls the runtime's worker threads.
#[derive(Clone, Debug)]
pub struct EndorserService {
    endorser: Arc<Endorser>,
}

impl EndorserService {
    /// A service endorsing with `endorser`.
    pub fn new(endorser: Arc<Endorser>) -> Self {
        EndorserService { endorser }
    }

    /// The tonic server to add to a `tonic::transport::Server`.
    pub fn into_server(self) -> EndorserServer<Self> {
        EndorserServer::new(self)
    }
}

/// The gRPC status for an [`EndorserError`]: Fabric returns plain Go errors from its filters,
/// which gRPC reports as `Unknown`; lost tasks are `Internal`.
pub fn error_status(error: &EndorserError) -> Status {
    match error {
        EndorserError::IdentityExpired { .. } => Status::unknown(error.to_string()),
        EndorserError::Signer { .. } | EndorserError::Task { .. } => {
            Status::internal(error.to_string())
        }
    }
}

#[tonic::async_trait]
impl EndorserRpc for EndorserService {
    async fn process_proposal(
        &self,
        request: Request<SignedProposal>,
    ) -> Result<Response<ProposalResponse>, Status> {
        // Both fields are bytes, so re-encoding keeps the signed proposal bytes exactly.
        let bytes = request.into_inner().encode_to_vec();
        let endorser = Arc::clone(&self.endorser);
        let outcome = tokio::task::spawn_blocking(move || endorser.process_proposal(&bytes))
            .await
            .map_err(|e| {
                error_status(&EndorserError::Task {
                    reason: e.to_string(),
                })
            })?;
        let response = outcome.map_err(|e| error_status(&e))?;
        let message = ProposalResponse::decode(response.to_bytes().as_slice())
            .map_err(|e| Status::internal(format!("cannot re-read the proposal response: {e}")))?;
        Ok(Response::new(message))
    }
}
