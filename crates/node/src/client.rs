//! What a Fabric client does on the wire, shared by the contract admin commands and the
//! gateway load generator: signed proposals, transactions built from endorsements, Broadcast to
//! an orderer, and waiting on a peer's `DeliverFiltered` for a transaction's validation code.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_msp::SigningIdentity;
use cambium_primitives::{Endorsement, HeaderType, SeekInfo, SeekPosition, Timestamp};
use cambium_wire::common::{self, Envelope};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::peer::deliver_client::DeliverClient;
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::{self, deliver_response};
use cambium_wire::tx::{self, ProposalParts};
use rand::RngCore;
use tonic::transport::Channel;

use crate::connect::{status_text, MAX_MESSAGE_BYTES};
use crate::error::{NodeError, Result};

/// Gateway clients' "never stop" block number for Deliver (2^53 − 1).
pub const NEVER: u64 = (1 << 53) - 1;

/// A signed proposal with the parts a client needs afterwards.
#[derive(Clone, Debug)]
pub struct SignedProposal {
    /// The transaction ID.
    pub tx_id: String,
    /// The `protos.SignedProposal` message.
    pub message: peer::SignedProposal,
    /// Its decoded view (header bytes as signed), to build the transaction from.
    pub view: tx::ProposalView,
}

/// The current time as a protobuf timestamp.
pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// A fresh random nonce of Fabric's size.
pub fn nonce() -> Vec<u8> {
    let mut nonce = vec![0u8; tx::NONCE_SIZE];
    rand::thread_rng().fill_bytes(&mut nonce);
    nonce
}

/// A proposal to call `chaincode` with `args` on `channel_id` (empty for channel-less calls),
/// signed by `signer` as Fabric's clients sign it.
pub fn signed_proposal(
    signer: &SigningIdentity,
    channel_id: &str,
    chaincode: &str,
    args: Vec<Vec<u8>>,
) -> Result<SignedProposal> {
    signed_proposal_with_transient(signer, channel_id, chaincode, args, BTreeMap::new())
}

/// [`signed_proposal`] with a transient map: private inputs the contract reads that stay out
/// of the transaction (Fabric leaves them out of the proposal hash and the ledger).
pub fn signed_proposal_with_transient(
    signer: &SigningIdentity,
    channel_id: &str,
    chaincode: &str,
    args: Vec<Vec<u8>>,
    transient: BTreeMap<String, Vec<u8>>,
) -> Result<SignedProposal> {
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let unsigned = tx::build_proposal(&ProposalParts {
        channel_id: channel_id.to_owned(),
        chaincode_name: chaincode.to_owned(),
        args,
        transient,
        creator,
        nonce: nonce(),
        timestamp: now(),
    });
    let signature = signer.sign(&unsigned.proposal_bytes)?;
    let bytes = tx::signed_proposal_bytes(&unsigned.proposal_bytes, &signature);
    let view = tx::parse_signed_proposal(&bytes)?;
    Ok(SignedProposal {
        tx_id: unsigned.tx_id,
        message: peer::SignedProposal {
            proposal_bytes: unsigned.proposal_bytes,
            signature,
        },
        view,
    })
}

/// Sends `proposal` to a peer's Endorser; returns its `ProposalResponse`, whatever the status.
pub async fn process_proposal(
    channel: Channel,
    endpoint: &str,
    proposal: &SignedProposal,
) -> Result<peer::ProposalResponse> {
    let mut client = EndorserClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    client
        .process_proposal(proposal.message.clone())
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| NodeError::Rpc {
            endpoint: endpoint.to_owned(),
            call: "ProcessProposal",
            message: status_text(&s),
        })
}

/// The payload of a successful (status 200..400) response, or the peer's own message.
pub fn response_payload(
    response: &peer::ProposalResponse,
    endpoint: &str,
    function: &str,
) -> Result<Vec<u8>> {
    let r = response.response.clone().unwrap_or_default();
    if (200..400).contains(&r.status) {
        Ok(r.payload)
    } else {
        Err(NodeError::Rejected(format!(
            "{endpoint} answered {function} with status {}: {}",
            r.status,
            if r.message.is_empty() {
                "(no message)"
            } else {
                &r.message
            }
        )))
    }
}

/// The signed transaction envelope built from `proposal` and the endorsed `responses` (which
/// must carry identical proposal response payloads).
pub fn endorsed_envelope(
    signer: &SigningIdentity,
    proposal: &SignedProposal,
    responses: &[(String, peer::ProposalResponse)],
) -> Result<Envelope> {
    let Some((_, first)) = responses.first() else {
        return Err(NodeError::Rejected(
            "no endorsements to build the transaction from".to_owned(),
        ));
    };
    let mut endorsements = Vec::with_capacity(responses.len());
    for (endpoint, response) in responses {
        if response.payload != first.payload {
            return Err(NodeError::Rejected(format!(
                "{endpoint} endorsed a different result than {}; the peers disagree (are they at the same height and running the same package?)",
                responses[0].0
            )));
        }
        let e = response
            .endorsement
            .clone()
            .ok_or_else(|| NodeError::Rejected(format!("{endpoint} returned no endorsement")))?;
        endorsements.push(Endorsement {
            endorser: e.endorser,
            signature: e.signature,
        });
    }
    let payload = tx::endorser_transaction_payload(&proposal.view, &first.payload, &endorsements);
    let signature = signer.sign(&payload)?;
    Ok(Envelope { payload, signature })
}

/// Broadcasts one envelope to an orderer and waits for its acknowledgement (accepted for
/// ordering, not yet committed).
pub async fn broadcast(channel: Channel, endpoint: &str, envelope: Envelope) -> Result<()> {
    let mut client = AtomicBroadcastClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let rpc = |s: tonic::Status| NodeError::Rpc {
        endpoint: endpoint.to_owned(),
        call: "Broadcast",
        message: status_text(&s),
    };
    let mut replies = client
        .broadcast(tokio_stream::iter([envelope]))
        .await
        .map_err(rpc)?
        .into_inner();
    let reply = replies.message().await.map_err(rpc)?.ok_or_else(|| {
        NodeError::Rejected(format!("{endpoint} closed Broadcast without an answer"))
    })?;
    if reply.status == common::Status::Success as i32 {
        Ok(())
    } else {
        Err(NodeError::Rejected(format!(
            "the orderer {endpoint} refused the transaction (status {}): {}",
            reply.status, reply.info
        )))
    }
}

/// A peer's `DeliverFiltered` stream from the newest block on, opened before a transaction is
/// broadcast so its commit cannot be missed.
pub struct CommitWatcher {
    stream: tonic::Streaming<peer::DeliverResponse>,
    endpoint: String,
}

impl CommitWatcher {
    /// Opens the stream on `channel_id` as `signer`.
    pub async fn open(
        channel: Channel,
        endpoint: &str,
        signer: &SigningIdentity,
        channel_id: &str,
    ) -> Result<CommitWatcher> {
        let seek = SeekInfo::new(SeekPosition::Newest, SeekPosition::Specified(NEVER));
        let envelope = deliver_envelope(signer, channel_id, &seek)?;
        let mut client = DeliverClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        // The stream stays open while we wait: the request side must not end early.
        let (requests, sender) = DeliverRequests::open();
        sender
            .send(envelope)
            .await
            .map_err(|_| NodeError::Rejected("the Deliver request could not be queued".into()))?;
        let stream = client
            .deliver_filtered(requests)
            .await
            .map_err(|s| NodeError::Rpc {
                endpoint: endpoint.to_owned(),
                call: "DeliverFiltered",
                message: status_text(&s),
            })?
            .into_inner();
        Ok(CommitWatcher {
            stream,
            endpoint: endpoint.to_owned(),
        })
    }

    /// Waits until `tx_id` appears in a block; returns its validation code and block number.
    pub async fn wait(&mut self, tx_id: &str, timeout: Duration) -> Result<(i32, u64)> {
        let endpoint = self.endpoint.clone();
        let work = async {
            loop {
                let message = self
                    .stream
                    .message()
                    .await
                    .map_err(|s| NodeError::Rpc {
                        endpoint: endpoint.clone(),
                        call: "DeliverFiltered",
                        message: status_text(&s),
                    })?
                    .ok_or_else(|| {
                        NodeError::Rejected(format!("{endpoint} ended DeliverFiltered early"))
                    })?;
                match message.r#type {
                    Some(deliver_response::Type::FilteredBlock(block)) => {
                        if let Some(found) =
                            block.filtered_transactions.iter().find(|t| t.txid == tx_id)
                        {
                            return Ok((found.tx_validation_code, block.number));
                        }
                    }
                    Some(deliver_response::Type::Status(status)) => {
                        return Err(NodeError::Rejected(format!(
                            "{endpoint} ended DeliverFiltered with status {status}"
                        )))
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| NodeError::Timeout {
                what: format!("transaction {tx_id} to commit on {}", self.endpoint),
                seconds: timeout.as_secs_f64(),
            })?
    }
}

/// A signed Deliver request for `seek` on `channel_id`, as Fabric's clients build it.
pub(crate) fn deliver_envelope(
    signer: &SigningIdentity,
    channel_id: &str,
    seek: &SeekInfo,
) -> Result<Envelope> {
    let seek = cambium_wire::encode_seek_info(seek);
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let nonce = nonce();
    let header = tx::ChannelHeaderFields {
        header_type: HeaderType::DeliverSeekInfo.as_i32(),
        timestamp: Some(now()),
        channel_id: channel_id.to_owned(),
        tx_id: tx::compute_tx_id(&nonce, &creator),
        ..Default::default()
    };
    let payload = tx::payload_bytes(
        &header.encode(),
        &tx::signature_header_bytes(&creator, &nonce),
        &seek,
    );
    let signature = signer.sign(&payload)?;
    Ok(Envelope { payload, signature })
}

/// The request side of a Deliver stream: the envelopes sent, then open until dropped (a
/// closed request side would end the stream early).
pub(crate) struct DeliverRequests {
    receiver: tokio::sync::mpsc::Receiver<Envelope>,
    _sender: tokio::sync::mpsc::Sender<Envelope>,
}

impl DeliverRequests {
    /// The request stream and a sender for its envelopes.
    pub(crate) fn open() -> (DeliverRequests, tokio::sync::mpsc::Sender<Envelope>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let requests = DeliverRequests {
            receiver,
            _sender: sender.clone(),
        };
        (requests, sender)
    }
}

impl tokio_stream::Stream for DeliverRequests {
    type Item = Envelope;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Envelope>> {
        self.receiver.poll_recv(cx)
    }
}

/// The name of a `TxValidationCode` value, e.g. `MVCC_READ_CONFLICT`.
pub fn validation_code_name(code: i32) -> String {
    peer::TxValidationCode::try_from(code)
        .map(|c| c.as_str_name().to_owned())
        .unwrap_or_else(|_| format!("CODE_{code}"))
}
