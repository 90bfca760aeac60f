//! The peer's operations endpoint: health checks over its channels, and the wrappers that
//! record Cambium's metrics on the Endorser and Gateway services.
//!
//! Per joined channel three checks are registered (see [`register_channel_checks`]):
//! `ledger:<channel>` (the ledger answers a read), `committer:<channel>` (not
//! [`CommitterState::Stalled`]) and `orderer:<channel>` (the last attempt to reach an orderer
//! did not fail). Metrics: the committer records heights, transactions by validation code and
//! block commit latency; [`MeteredEndorser`] the proposal latency and contract-version
//! invocations; [`MeteredGateway`] Gateway calls by method and gRPC code; Deliver the blocks
//! it sends; [`EndorsementMetrics`], the endorser's observer, every simulated proposal by the
//! contract version the rollout routed it to (`cambium_contract_endorsements_total` by result
//! and `cambium_contract_endorsement_duration_seconds`), whichever path it came by (the
//! Endorser service, the local Gateway, a gateway of this process).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cambium_endorser::{
    EndorsementObserver, EndorsementOutcome, EndorsementRecorder, EndorserService,
};
use cambium_ledger::{BlockReader, SnapshotSource};
use cambium_ops::{ContractVersionMetrics, EndorsementResult, HealthRegistry, Metrics};
use cambium_wire::peer::endorser_server::Endorser as EndorserRpc;
use cambium_wire::peer::{ProposalResponse, SignedProposal};
use cambium_wire::Message;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use crate::channel::{ChannelState, CommitterState};

/// Registers the health checks of one joined channel.
pub(crate) fn register_channel_checks(health: &HealthRegistry, channel: &Arc<ChannelState>) {
    let id = channel.id.clone();
    let ledger = Arc::clone(channel);
    health.register_fn(&format!("ledger:{id}"), move || {
        ledger
            .ledger
            .snapshot()
            .and_then(|s| s.height())
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "the ledger of channel '{}' cannot be read: {e}; check the disk under the peer's data folder",
                    ledger.id
                )
            })
    });
    let committer = Arc::clone(channel);
    health.register_fn(&format!("committer:{id}"), move || {
        let status = committer.status();
        match status.state {
            CommitterState::Stalled { reason } => Err(format!(
                "the committer of channel '{}' is stalled at height {}: {reason}",
                status.channel_id, status.height
            )),
            CommitterState::Stopped => Err(format!(
                "the committer of channel '{}' has stopped; the peer is shutting down",
                status.channel_id
            )),
            _ => Ok(()),
        }
    });
    let orderer = Arc::clone(channel);
    health.register_fn(&format!("orderer:{id}"), move || {
        let status = orderer.status();
        match status.state {
            CommitterState::Connecting {
                orderer,
                last_error: Some(error),
            } => Err(format!(
                "channel '{}' cannot receive blocks from the orderers (next try: {orderer}): {error}; check that the orderers run and are reachable",
                status.channel_id
            )),
            _ => Ok(()),
        }
    });
}

/// `protos.Endorser` that records each proposal's latency and outcome, and the contract
/// version of every endorsed invocation.
pub(crate) struct MeteredEndorser {
    inner: EndorserService,
    metrics: Arc<Metrics>,
}

impl MeteredEndorser {
    pub(crate) fn new(inner: EndorserService, metrics: Arc<Metrics>) -> Self {
        MeteredEndorser { inner, metrics }
    }
}

/// The version of the contract that produced an endorsed response, from its chaincode action.
fn endorsed_version(response: &ProposalResponse) -> Option<String> {
    response.endorsement.as_ref()?;
    cambium_wire::tx::parse_proposal_response_payload(&response.payload)
        .ok()?
        .action
        .chaincode_id
        .map(|id| id.version)
}

#[tonic::async_trait]
impl EndorserRpc for MeteredEndorser {
    async fn process_proposal(
        &self,
        request: Request<SignedProposal>,
    ) -> Result<Response<ProposalResponse>, Status> {
        let started = Instant::now();
        let (channel, contract) =
            match cambium_wire::tx::parse_signed_proposal(&request.get_ref().encode_to_vec()) {
                Ok(view) => (
                    view.channel_header.channel_id,
                    view.chaincode_name.unwrap_or_default(),
                ),
                Err(_) => (String::new(), String::new()),
            };
        let result = self.inner.process_proposal(request).await;
        let outcome = match &result {
            Ok(response) => {
                let response = response.get_ref();
                let status = response.response.as_ref().map_or(0, |r| r.status);
                match endorsed_version(response) {
                    Some(version) if status < 400 => {
                        self.metrics
                            .record_invocation(&channel, &contract, &version);
                        "success"
                    }
                    _ => "failure",
                }
            }
            Err(_) => "error",
        };
        self.metrics.observe_endorsement(
            &channel,
            &contract,
            outcome,
            started.elapsed().as_secs_f64(),
        );
        result
    }
}

/// The endorser's observer: hands it, per contract version, a recorder onto the peer's
/// [`Metrics`] (the endorser caches it, so no labels are built per proposal).
pub(crate) struct EndorsementMetrics {
    metrics: Arc<Metrics>,
}

impl EndorsementMetrics {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        EndorsementMetrics { metrics }
    }
}

impl EndorsementObserver for EndorsementMetrics {
    fn recorder(
        &self,
        channel: &str,
        contract: &str,
        version: &str,
    ) -> Arc<dyn EndorsementRecorder> {
        Arc::new(VersionRecorder(
            self.metrics.contract_version(channel, contract, version),
        ))
    }
}

struct VersionRecorder(ContractVersionMetrics);

/// The metric's `result` for an endorsement outcome.
fn result_of(outcome: EndorsementOutcome) -> EndorsementResult {
    match outcome {
        EndorsementOutcome::Ok => EndorsementResult::Ok,
        EndorsementOutcome::ContractError => EndorsementResult::ContractError,
        EndorsementOutcome::Failed => EndorsementResult::Failed,
    }
}

impl EndorsementRecorder for VersionRecorder {
    fn record(&self, outcome: EndorsementOutcome, simulation: Duration) {
        self.0.record(result_of(outcome), simulation.as_secs_f64());
    }
}

/// gRPC's name of a status code, as `grpc-status` names appear in Fabric's metrics.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A gRPC service (the Gateway) whose calls are counted by method and status code. The code
/// is read from the response headers: tonic sends a failed unary call as a trailers-only
/// response, so `grpc-status` is there; a response without it started successfully.
#[derive(Clone)]
pub(crate) struct MeteredGateway<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> MeteredGateway<S> {
    pub(crate) fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        MeteredGateway { inner, metrics }
    }
}

impl<S: NamedService> NamedService for MeteredGateway<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower_service::Service<http::Request<tonic::body::Body>> for MeteredGateway<S>
where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Send,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = cambium_gateway::BoxFuture<'static, Result<http::Response<B>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let metrics = Arc::clone(&self.metrics);
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map_or(tonic::Code::Ok, tonic::Code::from_i32);
            metrics.record_gateway_request(&method, code_name(code));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endorsement_outcomes_are_recorded_per_version_with_their_result() {
        let metrics = Arc::new(Metrics::new());
        let observer = EndorsementMetrics::new(Arc::clone(&metrics));
        let v1 = observer.recorder("ch", "kv", "1.0");
        let v2 = observer.recorder("ch", "kv", "2.0");
        let ms = Duration::from_millis(1);
        v1.record(EndorsementOutcome::Ok, ms);
        v2.record(EndorsementOutcome::Ok, ms);
        v2.record(EndorsementOutcome::ContractError, ms);
        v2.record(EndorsementOutcome::Failed, ms);
        v2.record(EndorsementOutcome::Failed, ms);
        let text = metrics.encode();
        for (version, result, count) in [
            ("1.0", "ok", 1),
            ("1.0", "contract_error", 0),
            ("1.0", "failed", 0),
            ("2.0", "ok", 1),
            ("2.0", "contract_error", 1),
            ("2.0", "failed", 2),
        ] {
            let line = format!(
                "cambium_contract_endorsements_total{{channel=\"ch\",contract=\"kv\",version=\"{version}\",result=\"{result}\"}} {count}"
            );
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(text.lines().any(|l| l
            == "cambium_contract_endorsement_duration_seconds_count{channel=\"ch\",contract=\"kv\",version=\"2.0\"} 4"));
    }

    #[test]
    fn grpc_codes_have_their_wire_names() {
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(code_name(tonic::Code::from_i32(9)), "FAILED_PRECONDITION");
        assert_eq!(code_name(tonic::Code::from_i32(14)), "UNAVAILABLE");
    }
}
