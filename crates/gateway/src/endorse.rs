//! Calling endorsers: the local one in-process and other peers over
//! `protos.Endorser/ProcessProposal`, and sorting their answers into Fabric's gateway outcomes.
//!
//! Fabric's gateway classifies each answer (its `responseStatus`): a status in `[200, 400)` is
//! an endorsement; `500` without a payload is the peer failing, so another peer may be tried;
//! any other status is the contract's error, reported as `chaincode response <status>,
//! <message>` and not retried. A proposal the endorser refuses in its pre-checks (signature,
//! ACL, duplicate transaction ID, unknown channel) is FailedPrecondition and not retried. The
//! Cambium endorser answers pre-check refusals and peer failures both as `500` without a
//! payload, so the message decides: the endorser's simulation and ledger failures start with
//! the prefixes in [`PEER_FAILURE_PREFIXES`].

use std::sync::Arc;
use std::time::Duration;

use cambium_endorser::Endorser;
use cambium_primitives::{ChaincodeResponse, Endorsement};
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::{ProposalResponse, SignedProposal};
use cambium_wire::tx::parse_proposal_response;
use cambium_wire::Message;
use tonic::Code;

use crate::connect::{Connections, MAX_MESSAGE_SIZE};

/// Messages of the endorser's `500` responses that mean the peer failed (so another peer may
/// succeed), not that the proposal is unacceptable.
pub const PEER_FAILURE_PREFIXES: &[&str] = &[
    "error in simulation",
    "cannot read the ledger",
    "endorsing with plugin failed",
];

/// Where an endorser is.
#[derive(Clone, Debug)]
pub(crate) enum Location {
    /// The hosting peer's endorser, called in-process.
    Local(Arc<Endorser>),
    /// Another peer, reached over gRPC and trusting these TLS roots (PEM).
    Remote { tls_roots: Vec<Vec<u8>> },
}

/// One endorsing peer.
#[derive(Clone, Debug)]
pub(crate) struct EndorserTarget {
    /// The peer's organisation.
    pub(crate) msp_id: String,
    /// The peer's address, as error details report it.
    pub(crate) address: String,
    /// How to reach it.
    pub(crate) location: Location,
}

/// An endorser's successful answer.
#[derive(Clone, Debug)]
pub(crate) struct Endorsed {
    /// The contract's response.
    pub(crate) response: ChaincodeResponse,
    /// The proposal response payload bytes the endorser signed.
    pub(crate) payload: Vec<u8>,
    /// The endorsement; `None` only from an evaluation that did not need one.
    pub(crate) endorsement: Option<Endorsement>,
}

/// Why an endorser did not endorse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The gRPC code Fabric's gateway would use for this failure.
    pub(crate) code: Code,
    /// What the peer (or the connection) said.
    pub(crate) message: String,
    /// Whether another peer might do better.
    pub(crate) retry: bool,
}

/// Sorts a proposal response into an endorsement or a [`Failure`].
pub(crate) fn classify(
    response: ChaincodeResponse,
    payload: Vec<u8>,
    endorsement: Option<Endorsement>,
) -> Result<Endorsed, Failure> {
    let status = response.status;
    if (200..400).contains(&status) {
        return Ok(Endorsed {
            response,
            payload,
            endorsement,
        });
    }
    if status == 500 && payload.is_empty() {
        let peer_failed = PEER_FAILURE_PREFIXES
            .iter()
            .any(|p| response.message.starts_with(p));
        return Err(Failure {
            code: if peer_failed {
                Code::Aborted
            } else {
                Code::FailedPrecondition
            },
            message: response.message,
            retry: peer_failed,
        });
    }
    Err(Failure {
        code: Code::Unknown,
        message: format!("chaincode response {status}, {}", response.message),
        retry: false,
    })
}

/// Sends `signed_proposal` to `target` and classifies the answer; the call fails with
/// DeadlineExceeded (retryable) after `timeout`.
pub(crate) async fn process(
    target: &EndorserTarget,
    connections: &Connections,
    signed_proposal: Arc<Vec<u8>>,
    timeout: Duration,
) -> Result<Endorsed, Failure> {
    let call = async {
        match &target.location {
            Location::Local(endorser) => process_local(Arc::clone(endorser), signed_proposal).await,
            Location::Remote { tls_roots } => match crate::colocated::lookup(&target.address) {
                Some(service) => process_colocated(service, &signed_proposal).await,
                None => {
                    process_remote(&target.address, tls_roots, connections, &signed_proposal).await
                }
            },
        }
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure {
            code: Code::DeadlineExceeded,
            message: format!(
                "no answer within the endorsement timeout of {} ms",
                timeout.as_millis()
            ),
            retry: true,
        }),
    }
}

async fn process_local(
    endorser: Arc<Endorser>,
    signed_proposal: Arc<Vec<u8>>,
) -> Result<Endorsed, Failure> {
    let outcome = tokio::task::spawn_blocking(move || endorser.process_proposal(&signed_proposal))
        .await
        .map_err(|e| Failure {
            code: Code::Aborted,
            message: format!("the endorsement task did not finish: {e}"),
            retry: true,
        })?;
    match outcome {
        Ok(r) => classify(r.response, r.payload, r.endorsement),
        // Fabric's in-process endorser returns these together with a response: the proposal
        // is unacceptable, and no other peer would accept it either.
        Err(e) => Err(Failure {
            code: Code::FailedPrecondition,
            message: e.to_string(),
            retry: false,
        }),
    }
}

/// Decodes the signed proposal for an Endorser call.
fn signed_proposal_message(signed_proposal: &[u8]) -> Result<SignedProposal, Failure> {
    SignedProposal::decode(signed_proposal).map_err(|e| Failure {
        code: Code::InvalidArgument,
        message: format!("the signed proposal does not decode: {e}"),
        retry: false,
    })
}

/// Sorts an Endorser call's outcome exactly as for a peer reached over gRPC.
fn endorser_answer(
    reply: Result<tonic::Response<ProposalResponse>, tonic::Status>,
) -> Result<Endorsed, Failure> {
    let reply = reply
        .map_err(|status| Failure {
            code: status.code(),
            message: status.message().to_owned(),
            retry: true,
        })?
        .into_inner();
    let view = parse_proposal_response(&reply.encode_to_vec()).map_err(|e| Failure {
        code: Code::Aborted,
        message: format!("the peer's proposal response does not decode: {e}"),
        retry: true,
    })?;
    classify(view.response, view.payload, view.endorsement)
}

/// Calls another peer's Endorser service that runs in this process (see
/// [`crate::colocated`]).
async fn process_colocated(
    service: crate::colocated::SharedEndorserService,
    signed_proposal: &[u8],
) -> Result<Endorsed, Failure> {
    let request = signed_proposal_message(signed_proposal)?;
    endorser_answer(service.process_proposal(tonic::Request::new(request)).await)
}

async fn process_remote(
    address: &str,
    tls_roots: &[Vec<u8>],
    connections: &Connections,
    signed_proposal: &[u8],
) -> Result<Endorsed, Failure> {
    let channel = connections
        .channel(address, tls_roots)
        .map_err(|e| Failure {
            code: Code::Unavailable,
            message: e.to_string(),
            retry: true,
        })?;
    let request = signed_proposal_message(signed_proposal)?;
    let mut client = EndorserClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    endorser_answer(client.process_proposal(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: i32, message: &str) -> ChaincodeResponse {
        ChaincodeResponse {
            status,
            message: message.into(),
            payload: Vec::new(),
        }
    }

    #[test]
    fn fabric_response_classes() {
        assert!(classify(response(200, ""), vec![1], None).is_ok());
        assert!(classify(response(302, ""), vec![1], None).is_ok());

        let err = classify(response(500, "boom"), vec![1], None).unwrap_err();
        assert_eq!(
            err,
            Failure {
                code: Code::Unknown,
                message: "chaincode response 500, boom".into(),
                retry: false
            }
        );
        let err = classify(response(404, "no such asset"), Vec::new(), None).unwrap_err();
        assert_eq!(err.code, Code::Unknown);
        assert_eq!(err.message, "chaincode response 404, no such asset");
        let err = classify(response(199, "odd"), Vec::new(), None).unwrap_err();
        assert_eq!(err.code, Code::Unknown);

        let err = classify(
            response(500, "error in simulation: out of fuel"),
            Vec::new(),
            None,
        )
        .unwrap_err();
        assert_eq!((err.code, err.retry), (Code::Aborted, true));
        let err = classify(
            response(500, "error validating proposal: access denied"),
            Vec::new(),
            None,
        )
        .unwrap_err();
        assert_eq!((err.code, err.retry), (Code::FailedPrecondition, false));
        let err = classify(
            response(500, "duplicate transaction found [x]"),
            Vec::new(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.code, Code::FailedPrecondition);
    }
}
