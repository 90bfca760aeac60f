//! [`GatewayService`]: Fabric's `gateway.Gateway` over a [`PeerContext`].
//!
//! Status codes and messages follow Fabric's gateway (fabric-compat §1): InvalidArgument for
//! malformed requests and unsigned envelopes; FailedPrecondition when no endorser or orderer
//! serves the request, for transient-data protection and for proposals the endorser refuses in
//! its pre-checks; Unknown for a contract error on Evaluate; Aborted (with one
//! `gateway.ErrorDetail` per failing node) when endorsements cannot be collected or an
//! orderer refuses; Unavailable when no orderer is reachable; PermissionDenied when the
//! caller is not a channel reader; DeadlineExceeded when the endorsement timeout expires.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cambium_channel::ChannelConfig;
use cambium_msp::policy::SignedData;
use cambium_wire::common::Envelope;
use cambium_wire::gateway::gateway_server::{Gateway, GatewayServer};
use cambium_wire::gateway::{
    ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse, EndorseRequest,
    EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse, SignedChaincodeEventsRequest,
    SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use cambium_wire::status::gateway_status;
use cambium_wire::tx::{
    endorser_transaction_payload, parse_envelope, parse_proposal_response_payload,
    parse_signed_proposal, ProposalView,
};
use cambium_wire::{decode_serialized_identity, Message};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Request, Response, Status};

use crate::broadcast::{Broadcaster, OrdererTarget, SubmitError, UNREACHABLE_CODE};
use crate::connect::{Connections, MAX_MESSAGE_SIZE};
use crate::endorse::{process, Endorsed, EndorserTarget, Failure, Location};
use crate::events::{self, EventStream};
use crate::options::GatewayOptions;
use crate::plan::{smallest_plan, Requirement};
use crate::{PeerContext, PeerError};

/// The channel policy Fabric's default ACLs use for `gateway/CommitStatus` and
/// `gateway/ChaincodeEvents`.
pub const READERS_POLICY: &str = "/Channel/Application/Readers";

/// How many times an endorsement whose peers disagree is started again before the gateway
/// gives up (pauses of 10, 20 and 40 ms: long enough for a peer one block behind to catch up).
const MISMATCH_RESTARTS: u32 = 3;

/// Fabric's gateway service for the peer behind a [`PeerContext`].
#[derive(Clone)]
pub struct GatewayService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayService")
            .field("local_msp_id", &self.inner.peer.local_msp_id())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) peer: Arc<dyn PeerContext>,
    options: GatewayOptions,
    connections: Arc<Connections>,
    broadcaster: Broadcaster,
    limit: Arc<Semaphore>,
}

/// One organisation's endorsement in a plan.
struct OrgEndorsement {
    endorsed: Endorsed,
    address: String,
}

/// Why an organisation gave no endorsement.
enum OrgFailure {
    /// Every peer of the organisation failed (each has a detail); another plan may do.
    Exhausted(Vec<ErrorDetail>),
    /// The contract or the endorser refused; no other peer would do better.
    Fatal(Vec<ErrorDetail>),
}

fn detail(target: &EndorserTarget, message: impl Into<String>) -> ErrorDetail {
    ErrorDetail {
        address: target.address.clone(),
        msp_id: target.msp_id.clone(),
        message: message.into(),
    }
}

fn invalid_argument(message: impl Into<String>) -> Status {
    gateway_status(Code::InvalidArgument, message, &[])
}

/// The status for a peer failure, with `not_found` as the code for an unknown channel.
fn peer_status(error: &PeerError, not_found: Code) -> Status {
    let code = match error {
        PeerError::ChannelNotFound(_) => not_found,
        PeerError::Ledger(_) => Code::Aborted,
        PeerError::ShuttingDown => Code::Unavailable,
    };
    gateway_status(code, error.to_string(), &[])
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The PEM TLS roots (and intermediates) the channel lists for `msp_id`.
fn tls_roots(config: &ChannelConfig, msp_id: &str) -> Vec<Vec<u8>> {
    config
        .msp_configs()
        .iter()
        .filter(|m| m.name == msp_id)
        .flat_map(|m| m.tls_root_certs.iter().chain(&m.tls_intermediate_certs))
        .cloned()
        .collect()
}

/// Checks that `signature` over `request` is by `identity`, and that the identity satisfies
/// the channel's policy for `resource` (an ACL override or [`READERS_POLICY`]).
fn check_reader(
    config: &ChannelConfig,
    resource: &str,
    request: &[u8],
    identity: &[u8],
    signature: &[u8],
) -> Result<(), Status> {
    let policy = config
        .acls()
        .get(resource)
        .cloned()
        .unwrap_or_else(|| READERS_POLICY.to_owned());
    let denied = |why: String| {
        gateway_status(
            Code::PermissionDenied,
            format!(
                "access denied: channel [{}]: failed evaluating policy {policy} (ACL {resource}): {why}",
                config.channel_id()
            ),
            &[],
        )
    };
    let identity = decode_serialized_identity(identity)
        .map_err(|e| denied(format!("the request's identity does not decode: {e}")))?;
    let signed = SignedData {
        data: request.to_vec(),
        identity,
        signature: signature.to_vec(),
    };
    config
        .evaluate(&policy, &[signed], unix_now())
        .map_err(|e| denied(e.to_string()))
}

impl GatewayService {
    /// A gateway for the peer behind `peer`.
    pub fn new(peer: Arc<dyn PeerContext>, options: GatewayOptions) -> GatewayService {
        let connections = Arc::new(Connections::new(options.clone()));
        let broadcaster = Broadcaster::new(
            Arc::clone(&connections),
            options.broadcast_streams,
            options.broadcast_timeout,
        );
        let limit = Arc::new(Semaphore::new(options.concurrency_limit));
        GatewayService {
            inner: Arc::new(Inner {
                peer,
                options,
                connections,
                broadcaster,
                limit,
            }),
        }
    }

    /// The tonic server to add to a `tonic::transport::Server`, accepting Fabric's 100 MB
    /// messages.
    pub fn into_server(self) -> GatewayServer<GatewayService> {
        GatewayServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// How many Broadcast streams are open to the orderer at `address`.
    pub async fn open_broadcast_streams(&self, address: &str) -> usize {
        self.inner.broadcaster.open_streams(address).await
    }

    /// A slot of the concurrency limit, or Fabric's immediate refusal.
    fn permit(&self, method: &str) -> Result<OwnedSemaphorePermit, Status> {
        Arc::clone(&self.inner.limit)
            .try_acquire_owned()
            .map_err(|_| {
                Status::unknown(format!(
                    "too many requests for /gateway.Gateway/{method}, exceeding concurrency limit ({})",
                    self.inner.options.concurrency_limit
                ))
            })
    }

    fn channel_config(
        &self,
        channel_id: &str,
        not_found: Code,
    ) -> Result<Arc<ChannelConfig>, Status> {
        self.inner
            .peer
            .channel_config(channel_id)
            .map_err(|e| peer_status(&e, not_found))
    }

    /// The peers of `msp_id`: the local endorser first for the local organisation, then the
    /// organisation's anchor peers (other than this peer).
    fn org_targets(&self, config: &ChannelConfig, msp_id: &str) -> Vec<EndorserTarget> {
        let local = self.inner.peer.local_msp_id() == msp_id;
        let mut targets = Vec::new();
        if local {
            targets.push(EndorserTarget {
                msp_id: msp_id.to_owned(),
                address: self.inner.options.local_address.clone(),
                location: Location::Local(self.inner.peer.endorser()),
            });
        }
        let roots = tls_roots(config, msp_id);
        for anchor in config.anchor_peers(msp_id) {
            let address = format!("{}:{}", anchor.host, anchor.port);
            if local && address == self.inner.options.local_address {
                continue;
            }
            targets.push(EndorserTarget {
                msp_id: msp_id.to_owned(),
                address,
                location: Location::Remote {
                    tls_roots: roots.clone(),
                },
            });
        }
        targets
    }

    /// Parses the proposal of an Evaluate or Endorse request, keeping its exact bytes.
    fn proposal(
        &self,
        proposal: Option<cambium_wire::peer::SignedProposal>,
        rpc: &str,
    ) -> Result<(Arc<Vec<u8>>, ProposalView), Status> {
        let proposal = proposal.ok_or_else(|| {
            invalid_argument(format!("an {rpc} request requires a proposed transaction"))
        })?;
        // Both fields are bytes, so re-encoding gives back exactly the bytes the client sent.
        let bytes = proposal.encode_to_vec();
        let view = parse_signed_proposal(&bytes)
            .map_err(|e| invalid_argument(format!("failed to unpack transaction proposal: {e}")))?;
        if view
            .chaincode_name
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        {
            return Err(invalid_argument(
                "failed to unpack transaction proposal: the proposal's header names no chaincode",
            ));
        }
        Ok((Arc::new(bytes), view))
    }

    async fn do_evaluate(&self, request: EvaluateRequest) -> Result<EvaluateResponse, Status> {
        let (bytes, view) = self.proposal(request.proposed_transaction, "evaluate")?;
        let channel_id = view.channel_header.channel_id.clone();
        let chaincode = view.chaincode_name.clone().unwrap_or_default();
        let config = self.channel_config(&channel_id, Code::FailedPrecondition)?;
        let local = self.inner.peer.local_msp_id().to_owned();
        let orgs: Vec<String> = if !request.target_organizations.is_empty() {
            request.target_organizations.clone()
        } else if !view.transient.is_empty() {
            vec![local]
        } else {
            let mut orgs = vec![local.clone()];
            orgs.extend(
                config
                    .application_orgs()
                    .into_iter()
                    .map(|o| o.msp_id)
                    .filter(|m| *m != local),
            );
            orgs
        };
        let targets: Vec<EndorserTarget> = orgs
            .iter()
            .flat_map(|org| self.org_targets(&config, org))
            .collect();
        if targets.is_empty() {
            return Err(gateway_status(
                Code::FailedPrecondition,
                format!(
                    "no peers available to evaluate chaincode {chaincode} in channel {channel_id}"
                ),
                &[],
            ));
        }
        let timeout = self.inner.options.endorsement_timeout;
        let mut details = Vec::new();
        for target in &targets {
            match process(target, &self.inner.connections, Arc::clone(&bytes), timeout).await {
                Ok(endorsed) => {
                    let mut result = endorsed.response;
                    // Fabric returns the payload the endorsement covers, from the PRP.
                    if let Ok(prp) = parse_proposal_response_payload(&endorsed.payload) {
                        if let Some(response) = prp.action.response {
                            result.payload = response.payload;
                        }
                    }
                    return Ok(EvaluateResponse {
                        result: Some((&result).into()),
                    });
                }
                Err(Failure {
                    code,
                    message,
                    retry: false,
                }) => {
                    return Err(gateway_status(
                        code,
                        format!("evaluate call to endorser returned error: {message}"),
                        &[detail(target, message.clone())],
                    ));
                }
                Err(failure) => {
                    tracing::debug!(peer = %target.address, message = %failure.message, "evaluation failed; trying another peer");
                    details.push(detail(target, failure.message));
                }
            }
        }
        Err(gateway_status(
            Code::Aborted,
            "failed to evaluate transaction, see attached details for more info",
            &details,
        ))
    }

    /// Tries the peers of one organisation in turn until one endorses.
    async fn endorse_org(
        &self,
        targets: Vec<EndorserTarget>,
        bytes: Arc<Vec<u8>>,
    ) -> Result<OrgEndorsement, OrgFailure> {
        let timeout = self.inner.options.endorsement_timeout;
        let mut details = Vec::new();
        for target in &targets {
            match process(target, &self.inner.connections, Arc::clone(&bytes), timeout).await {
                Ok(endorsed) if endorsed.endorsement.is_some() => {
                    return Ok(OrgEndorsement {
                        endorsed,
                        address: target.address.clone(),
                    })
                }
                Ok(_) => details.push(detail(
                    target,
                    "the peer answered success without an endorsement",
                )),
                Err(failure) if failure.retry => {
                    tracing::debug!(peer = %target.address, message = %failure.message, "endorsement failed; trying another peer");
                    details.push(detail(target, failure.message));
                }
                Err(failure) => {
                    details.push(detail(target, failure.message));
                    return Err(OrgFailure::Fatal(details));
                }
            }
        }
        Err(OrgFailure::Exhausted(details))
    }

    async fn collect_endorsements(
        &self,
        request: &EndorseRequest,
        bytes: Arc<Vec<u8>>,
        view: &ProposalView,
    ) -> Result<(Vec<u8>, Vec<cambium_primitives::Endorsement>), Status> {
        let channel_id = view.channel_header.channel_id.as_str();
        let chaincode = view.chaincode_name.clone().unwrap_or_default();
        let config = self.channel_config(channel_id, Code::FailedPrecondition)?;
        let local = self.inner.peer.local_msp_id().to_owned();
        let explicit: Vec<String> = request.endorsing_organizations.clone();
        let requirement = if explicit.is_empty() {
            let policy = self
                .inner
                .peer
                .endorsement_policy(channel_id, &chaincode)
                .map_err(|e| peer_status(&e, Code::FailedPrecondition))?;
            match policy {
                Some(policy) => Some(
                    Requirement::from_endorsement_policy(&policy, config.policy_group()).map_err(
                        |e| gateway_status(Code::FailedPrecondition, e.to_string(), &[]),
                    )?,
                ),
                // No committed definition: the local endorser says what is missing.
                None => Some(Requirement::Org(local.clone())),
            }
        } else {
            None
        };
        let transient_only_local = explicit.is_empty() && !view.transient.is_empty();
        let targets_of: BTreeMap<String, Vec<EndorserTarget>> = config
            .application_orgs()
            .into_iter()
            .map(|o| o.msp_id)
            .chain(std::iter::once(local.clone()))
            .chain(explicit.iter().cloned())
            .map(|msp| {
                let targets = self.org_targets(&config, &msp);
                (msp, targets)
            })
            .collect();
        let available: BTreeSet<String> = targets_of
            .iter()
            .filter(|(msp, targets)| {
                !targets.is_empty() && (!transient_only_local || **msp == local)
            })
            .map(|(msp, _)| msp.clone())
            .collect();

        let mut collected: BTreeMap<String, OrgEndorsement> = BTreeMap::new();
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut details: Vec<ErrorDetail> = Vec::new();
        let mut reference: Option<Vec<u8>> = None;
        let mut restarts = 0u32;
        loop {
            let plan: Vec<String> = match &requirement {
                None => {
                    if let Some(missing) = explicit.iter().find(|o| failed.contains(*o)) {
                        tracing::debug!(org = %missing, "a requested endorsing organisation failed");
                        return Err(not_enough(&details));
                    }
                    explicit.clone()
                }
                Some(requirement) => {
                    let usable: BTreeSet<String> = available.difference(&failed).cloned().collect();
                    match smallest_plan(requirement, &usable, &local) {
                        Some(plan) => plan,
                        None if details.is_empty() && transient_only_local => {
                            return Err(gateway_status(
                                Code::FailedPrecondition,
                                "no endorsers found in the gateway's organization; retry specifying endorsing organization(s) to protect transient data",
                                &[],
                            ))
                        }
                        None if details.is_empty() => {
                            return Err(gateway_status(
                                Code::FailedPrecondition,
                                format!(
                                    "no combination of peers can be derived which satisfy the endorsement policy of chaincode {chaincode} in channel {channel_id}; add anchor peers for the organizations the policy names"
                                ),
                                &[],
                            ))
                        }
                        None => return Err(not_enough(&details)),
                    }
                }
            };
            let mut pending: Vec<String> = plan
                .iter()
                .filter(|o| !collected.contains_key(*o))
                .cloned()
                .collect();
            if pending.is_empty() {
                let reference = reference.unwrap_or_default();
                let endorsements = plan
                    .iter()
                    .filter_map(|o| collected.get(o))
                    .filter_map(|e| e.endorsed.endorsement.clone())
                    .collect();
                return Ok((reference, endorsements));
            }
            // The first endorsement is collected alone, so a contract error costs one call.
            let batch: Vec<String> = if reference.is_none() {
                vec![pending.remove(0)]
            } else {
                std::mem::take(&mut pending)
            };
            let calls = batch.iter().map(|org| {
                let targets = targets_of.get(org).cloned().unwrap_or_default();
                let bytes = Arc::clone(&bytes);
                async move {
                    if targets.is_empty() {
                        return Err(OrgFailure::Exhausted(vec![ErrorDetail {
                            address: String::new(),
                            msp_id: org.clone(),
                            message: format!(
                                "no peers of organization {org} are known to this gateway; add anchor peers for it to the channel"
                            ),
                        }]));
                    }
                    self.endorse_org(targets, bytes).await
                }
            });
            let outcomes = join_all(calls).await;
            let mut fatal = false;
            let mut mismatched = Vec::new();
            for (org, outcome) in batch.into_iter().zip(outcomes) {
                match outcome {
                    Ok(endorsement) => {
                        let payload = &endorsement.endorsed.payload;
                        match &reference {
                            None => reference = Some(payload.clone()),
                            Some(expected) if expected != payload => {
                                details.push(ErrorDetail {
                                    address: endorsement.address.clone(),
                                    msp_id: org.clone(),
                                    message: "ProposalResponsePayloads do not match".to_owned(),
                                });
                                mismatched.push(org);
                                continue;
                            }
                            Some(_) => {}
                        }
                        collected.insert(org, endorsement);
                    }
                    Err(OrgFailure::Exhausted(more)) => {
                        details.extend(more);
                        failed.insert(org);
                    }
                    Err(OrgFailure::Fatal(more)) => {
                        details.extend(more);
                        fatal = true;
                    }
                }
            }
            if fatal {
                return Err(gateway_status(
                    Code::Aborted,
                    "failed to endorse transaction, see attached details for more info",
                    &details,
                ));
            }
            if !mismatched.is_empty() {
                // Peers that simulate at different heights can disagree (a block that changes
                // state, a definition or a rollout step has reached one and not yet the other);
                // they agree again a moment later, so the whole set is endorsed afresh.
                if restarts < MISMATCH_RESTARTS {
                    restarts += 1;
                    tracing::debug!(restarts, "endorsements disagree; endorsing again");
                    collected.clear();
                    reference = None;
                    details.clear();
                    tokio::time::sleep(Duration::from_millis(5 << restarts)).await;
                    continue;
                }
                failed.extend(mismatched);
            }
        }
    }

    async fn do_endorse(&self, request: EndorseRequest) -> Result<EndorseResponse, Status> {
        let (bytes, view) = self.proposal(request.proposed_transaction.clone(), "endorse")?;
        let timeout = self.inner.options.endorsement_timeout;
        let (prp, endorsements) =
            match tokio::time::timeout(timeout, self.collect_endorsements(&request, bytes, &view))
                .await
            {
                Ok(outcome) => outcome?,
                Err(_) => {
                    return Err(gateway_status(
                        Code::DeadlineExceeded,
                        "endorsement timeout expired while collecting endorsements",
                        &[],
                    ))
                }
            };
        let payload = endorser_transaction_payload(&view, &prp, &endorsements);
        Ok(EndorseResponse {
            prepared_transaction: Some(Envelope {
                payload,
                signature: Vec::new(),
            }),
        })
    }

    async fn do_submit(&self, request: SubmitRequest) -> Result<SubmitResponse, Status> {
        let envelope = request
            .prepared_transaction
            .ok_or_else(|| invalid_argument("a submit request requires a prepared transaction"))?;
        if envelope.signature.is_empty() {
            return Err(invalid_argument("prepared transaction must be signed"));
        }
        let channel_id = if request.channel_id.is_empty() {
            parse_envelope(&envelope.encode_to_vec())
                .map(|v| v.channel_header.channel_id)
                .map_err(|e| {
                    invalid_argument(format!("failed to unpack the prepared transaction: {e}"))
                })?
        } else {
            request.channel_id
        };
        let config = self.channel_config(&channel_id, Code::FailedPrecondition)?;
        let orderers: Vec<OrdererTarget> = config
            .orderer_endpoints()
            .into_iter()
            .map(|e| {
                let msp_id = e.msp_id.unwrap_or_default();
                let tls_roots = if msp_id.is_empty() {
                    config
                        .orderer_orgs()
                        .iter()
                        .flat_map(|o| tls_roots(&config, &o.msp_id))
                        .collect()
                } else {
                    tls_roots(&config, &msp_id)
                };
                OrdererTarget {
                    address: e.address,
                    msp_id,
                    tls_roots,
                }
            })
            .collect();
        if orderers.is_empty() {
            return Err(gateway_status(
                Code::FailedPrecondition,
                format!("no orderer nodes available for channel {channel_id}; add orderer endpoints to the channel configuration"),
                &[],
            ));
        }
        match self.inner.broadcaster.submit(&orderers, envelope).await {
            Ok(()) => Ok(SubmitResponse {}),
            Err(SubmitError::Rejected { detail, .. }) => Err(gateway_status(
                Code::Aborted,
                detail.message.clone(),
                &[detail],
            )),
            Err(SubmitError::Unreachable(details)) => Err(gateway_status(
                UNREACHABLE_CODE,
                "no orderers could be reached, see attached details for more info",
                &details,
            )),
        }
    }

    async fn do_commit_status(
        &self,
        request: SignedCommitStatusRequest,
    ) -> Result<CommitStatusResponse, Status> {
        let inner = CommitStatusRequest::decode(request.request.as_slice()).map_err(|e| {
            invalid_argument(format!("failed to unpack the commit status request: {e}"))
        })?;
        if inner.channel_id.is_empty() || inner.transaction_id.is_empty() {
            return Err(invalid_argument(
                "a commit status request needs a channel ID and a transaction ID",
            ));
        }
        let config = self.channel_config(&inner.channel_id, Code::NotFound)?;
        check_reader(
            &config,
            "gateway/CommitStatus",
            &request.request,
            &inner.identity,
            &request.signature,
        )?;
        let committed = self
            .inner
            .peer
            .commit_status(&inner.channel_id, &inner.transaction_id)
            .await
            .map_err(|e| peer_status(&e, Code::NotFound))?;
        Ok(CommitStatusResponse {
            result: i32::from(committed.code.as_u8()),
            block_number: committed.block_number,
        })
    }

    async fn do_chaincode_events(
        &self,
        request: SignedChaincodeEventsRequest,
        permit: OwnedSemaphorePermit,
    ) -> Result<EventStream, Status> {
        let inner =
            cambium_wire::gateway::ChaincodeEventsRequest::decode(request.request.as_slice())
                .map_err(|e| {
                    invalid_argument(format!(
                        "failed to unpack the chaincode events request: {e}"
                    ))
                })?;
        if inner.chaincode_id.is_empty() {
            return Err(invalid_argument(
                "a chaincode events request needs a chaincode ID",
            ));
        }
        let config = self.channel_config(&inner.channel_id, Code::NotFound)?;
        check_reader(
            &config,
            "gateway/ChaincodeEvents",
            &request.request,
            &inner.identity,
            &request.signature,
        )?;
        events::stream(Arc::clone(&self.inner.peer), inner, permit).await
    }
}

fn not_enough(details: &[ErrorDetail]) -> Status {
    gateway_status(
        Code::Aborted,
        "failed to collect enough transaction endorsements, see attached details for more info",
        details,
    )
}

/// Runs `futures` concurrently and returns their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn endorse(
        &self,
        request: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        let _permit = self.permit("Endorse")?;
        self.do_endorse(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let _permit = self.permit("Submit")?;
        self.do_submit(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let _permit = self.permit("CommitStatus")?;
        self.do_commit_status(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let _permit = self.permit("Evaluate")?;
        self.do_evaluate(request.into_inner())
            .await
            .map(Response::new)
    }

    type ChaincodeEventsStream = EventStream;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        let permit = self.permit("ChaincodeEvents")?;
        self.do_chaincode_events(request.into_inner(), permit)
            .await
            .map(Response::new)
    }
}

/// The response type of one `ChaincodeEvents` message (re-exported for callers' type
/// annotations).
pub type ChaincodeEventsItem = Result<ChaincodeEventsResponse, Status>;
