//! Endorsements and endorser transactions: what an endorser signs, the prepared transaction a
//! gateway hands back to the client, and what a validator decodes from a block.
//!
//! Shapes follow Fabric's `protoutil` (CreateProposalResponse, CreateSignedTx): the prepared
//! transaction reuses the proposal's header bytes unchanged and carries the proposal payload
//! without its transient map.

use cambium_primitives::{ChaincodeEvent, ChaincodeResponse, Endorsement, TxRwSet};
use prost::Message;

use super::{proposal_hash, ProposalView};
use crate::convert::{decode_chaincode_event, decode_tx_rwset};
use crate::error::{Result, WireError};
use crate::{common, peer};

/// A chaincode's name and the version string of the definition that ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChaincodeIdFields {
    /// The chaincode name.
    pub name: String,
    /// The definition's version; Fabric's validator rejects an empty one.
    pub version: String,
}

/// The fields of a `protos.ChaincodeAction`: the result of simulating a proposal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChaincodeActionFields {
    /// `rwset.TxReadWriteSet` bytes.
    pub results: Vec<u8>,
    /// `protos.ChaincodeEvent` bytes, or empty when the call set no event.
    pub events: Vec<u8>,
    /// The chaincode's response; a Gateway client reads its result from `response.payload`.
    pub response: Option<ChaincodeResponse>,
    /// The chaincode that ran, or `None` if the action does not say.
    pub chaincode_id: Option<ChaincodeIdFields>,
}

impl ChaincodeActionFields {
    /// The bytes of the `protos.ChaincodeAction`.
    pub fn encode(&self) -> Vec<u8> {
        peer::ChaincodeAction {
            results: self.results.clone(),
            events: self.events.clone(),
            response: self.response.as_ref().map(Into::into),
            chaincode_id: self.chaincode_id.as_ref().map(|id| peer::ChaincodeId {
                path: String::new(),
                name: id.name.clone(),
                version: id.version.clone(),
            }),
        }
        .encode_to_vec()
    }

    /// Decodes `protos.ChaincodeAction` bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let action = peer::ChaincodeAction::decode(bytes)
            .map_err(WireError::decode("protos.ChaincodeAction"))?;
        Ok(ChaincodeActionFields {
            results: action.results,
            events: action.events,
            response: action.response.map(Into::into),
            chaincode_id: action.chaincode_id.map(|id| ChaincodeIdFields {
                name: id.name,
                version: id.version,
            }),
        })
    }

    /// The decoded read/write set.
    pub fn rwset(&self) -> Result<TxRwSet> {
        decode_tx_rwset(&self.results)
    }

    /// The decoded event, or `None` if the call set none.
    pub fn event(&self) -> Result<Option<ChaincodeEvent>> {
        if self.events.is_empty() {
            Ok(None)
        } else {
            decode_chaincode_event(&self.events).map(Some)
        }
    }
}

/// The bytes of `protos.ProposalResponsePayload{proposal_hash, extension = chaincode_action}`:
/// what every endorser of a transaction signs, and must produce byte for byte alike.
pub fn proposal_response_payload_bytes(proposal_hash: &[u8], chaincode_action: &[u8]) -> Vec<u8> {
    peer::ProposalResponsePayload {
        proposal_hash: proposal_hash.to_vec(),
        extension: chaincode_action.to_vec(),
    }
    .encode_to_vec()
}

/// The bytes an endorser signs: `proposal_response_payload ‖ endorser`.
pub fn endorsement_message(proposal_response_payload: &[u8], endorser: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(proposal_response_payload.len() + endorser.len());
    message.extend_from_slice(proposal_response_payload);
    message.extend_from_slice(endorser);
    message
}

/// The bytes of a `protos.ProposalResponse` (version 1, no timestamp): `payload` is the
/// proposal response payload (empty for a 4xx response), `endorsement` is absent unless the
/// response was endorsed.
pub fn proposal_response_bytes(
    response: &ChaincodeResponse,
    payload: &[u8],
    endorsement: Option<&Endorsement>,
) -> Vec<u8> {
    peer::ProposalResponse {
        version: 1,
        timestamp: None,
        response: Some(response.into()),
        payload: payload.to_vec(),
        endorsement: endorsement.map(Into::into),
        interest: None,
    }
    .encode_to_vec()
}

/// A decoded `protos.ProposalResponse`, keeping the payload bytes that were signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalResponseView {
    /// The message version (1).
    pub version: i32,
    /// The chaincode's (or the peer's) response; default if absent.
    pub response: ChaincodeResponse,
    /// The proposal response payload bytes, as signed by the endorser.
    pub payload: Vec<u8>,
    /// The endorsement, present only for endorsed responses.
    pub endorsement: Option<Endorsement>,
}

/// Decodes a `protos.ProposalResponse`.
pub fn parse_proposal_response(bytes: &[u8]) -> Result<ProposalResponseView> {
    let response = peer::ProposalResponse::decode(bytes)
        .map_err(WireError::decode("protos.ProposalResponse"))?;
    Ok(ProposalResponseView {
        version: response.version,
        response: response.response.map(Into::into).unwrap_or_default(),
        payload: response.payload,
        endorsement: response.endorsement.map(Into::into),
    })
}

/// A decoded `protos.ProposalResponsePayload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalResponsePayloadView {
    /// The proposal hash the endorser computed.
    pub proposal_hash: Vec<u8>,
    /// The `ChaincodeAction` bytes.
    pub extension: Vec<u8>,
    /// The decoded chaincode action.
    pub action: ChaincodeActionFields,
}

/// Decodes a `protos.ProposalResponsePayload` and its chaincode action.
pub fn parse_proposal_response_payload(bytes: &[u8]) -> Result<ProposalResponsePayloadView> {
    let prp = peer::ProposalResponsePayload::decode(bytes)
        .map_err(WireError::decode("protos.ProposalResponsePayload"))?;
    Ok(ProposalResponsePayloadView {
        action: ChaincodeActionFields::decode(&prp.extension)?,
        proposal_hash: prp.proposal_hash,
        extension: prp.extension,
    })
}

/// The `common.Payload` bytes of the transaction built from an endorsed proposal, as Fabric's
/// gateway prepares it: the proposal's header bytes unchanged, and one action holding the
/// proposal payload without transient data, the proposal response payload and the
/// endorsements (duplicates by endorser removed, first kept). The client signs SHA-256 of these
/// bytes; wrap both with [`super::envelope_bytes`].
pub fn endorser_transaction_payload(
    proposal: &ProposalView,
    proposal_response_payload: &[u8],
    endorsements: &[Endorsement],
) -> Vec<u8> {
    let mut unique: Vec<&Endorsement> = Vec::with_capacity(endorsements.len());
    for e in endorsements {
        if !unique.iter().any(|u| u.endorser == e.endorser) {
            unique.push(e);
        }
    }
    let action_payload = peer::ChaincodeActionPayload {
        chaincode_proposal_payload: proposal.payload_without_transient(),
        action: Some(peer::ChaincodeEndorsedAction {
            proposal_response_payload: proposal_response_payload.to_vec(),
            endorsements: unique.into_iter().map(Into::into).collect(),
        }),
    };
    let transaction = peer::Transaction {
        actions: vec![peer::TransactionAction {
            header: proposal.signature_header_bytes.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    common::Payload {
        header: Some(common::Header {
            channel_header: proposal.channel_header_bytes.clone(),
            signature_header: proposal.signature_header_bytes.clone(),
        }),
        data: transaction.encode_to_vec(),
    }
    .encode_to_vec()
}

/// One action of an endorser transaction, decoded down to the chaincode action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndorsedActionView {
    /// `TransactionAction.header`: the proposal's signature header bytes.
    pub header_bytes: Vec<u8>,
    /// `ChaincodeActionPayload.chaincode_proposal_payload` bytes (no transient data).
    pub chaincode_proposal_payload: Vec<u8>,
    /// The proposal response payload bytes the endorsers signed.
    pub proposal_response_payload: Vec<u8>,
    /// The endorsements, as carried.
    pub endorsements: Vec<Endorsement>,
    /// `ProposalResponsePayload.proposal_hash`.
    pub proposal_hash: Vec<u8>,
    /// The decoded chaincode action.
    pub action: ChaincodeActionFields,
}

impl EndorsedActionView {
    /// The proposal hash recomputed from the transaction's bytes (Fabric's GetProposalHash2);
    /// a transaction whose [`EndorsedActionView::proposal_hash`] differs is
    /// `INVALID_ENDORSER_TRANSACTION`.
    pub fn expected_proposal_hash(&self, channel_header_bytes: &[u8]) -> [u8; 32] {
        proposal_hash(
            channel_header_bytes,
            &self.header_bytes,
            &self.chaincode_proposal_payload,
        )
    }
}

/// Decodes the `Payload.data` of an ENDORSER_TRANSACTION (`protos.Transaction`) into its
/// actions. Fabric accepts exactly one action; the caller decides what to do with more.
pub fn parse_transaction(data: &[u8]) -> Result<Vec<EndorsedActionView>> {
    let transaction =
        peer::Transaction::decode(data).map_err(WireError::decode("protos.Transaction"))?;
    transaction
        .actions
        .into_iter()
        .map(|action| {
            let payload = peer::ChaincodeActionPayload::decode(action.payload.as_slice())
                .map_err(WireError::decode("protos.ChaincodeActionPayload"))?;
            let endorsed = payload.action.ok_or(WireError::MissingField {
                message: "protos.ChaincodeActionPayload",
                field: "action",
            })?;
            let prp = parse_proposal_response_payload(&endorsed.proposal_response_payload)?;
            Ok(EndorsedActionView {
                header_bytes: action.header,
                chaincode_proposal_payload: payload.chaincode_proposal_payload,
                proposal_response_payload: endorsed.proposal_response_payload,
                endorsements: endorsed.endorsements.into_iter().map(Into::into).collect(),
                proposal_hash: prp.proposal_hash,
                action: prp.action,
            })
        })
        .collect()
}
