//! Byte-level transaction helpers, like Fabric's `protoutil`.
//!
//! Every view keeps the exact bytes it was decoded from (Rule 0 of Fabric compatibility): hashes
//! and signatures must be computed over `proposal_bytes`, `Envelope.payload`,
//! `Header.channel_header` and `Header.signature_header` as received, never over a
//! re-encoding. Builders produce the bytes a client or node would sign; the signature itself is
//! supplied by the caller (signing lives in `cambium-msp`).

use std::collections::BTreeMap;

use cambium_primitives::{HeaderType, SerializedIdentity, Timestamp};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::convert::{decode_serialized_identity, timestamp_from_wire, timestamp_to_wire};
use crate::error::{Result, WireError};
use crate::{common, peer};

/// Fabric's nonce length in bytes.
pub const NONCE_SIZE: usize = 24;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Fabric's transaction ID: lowercase hex of SHA-256(`nonce` ‖ `creator`), where `creator` is
/// the serialized identity bytes from the signature header.
pub fn compute_tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(nonce);
    hasher.update(creator);
    hex::encode(hasher.finalize())
}

/// The fields of a `common.ChannelHeader`, decoded or to be encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelHeaderFields {
    /// `ChannelHeader.type` as received; see [`ChannelHeaderFields::known_header_type`].
    pub header_type: i32,
    /// Message format version; 0 from current clients.
    pub version: i32,
    /// Creation time chosen by the sender.
    pub timestamp: Option<Timestamp>,
    /// The channel; empty for channel-less proposals (e.g. install).
    pub channel_id: String,
    /// The transaction ID.
    pub tx_id: String,
    /// Always 0 in Fabric today.
    pub epoch: u64,
    /// Type-specific bytes; a `ChaincodeHeaderExtension` for endorser transactions.
    pub extension: Vec<u8>,
    /// Hash of the client's TLS certificate, if it bound the message to its TLS session.
    pub tls_cert_hash: Vec<u8>,
}

impl ChannelHeaderFields {
    /// The header type, if Fabric defines the received value.
    pub fn known_header_type(&self) -> Option<HeaderType> {
        HeaderType::from_i32(self.header_type)
    }

    /// The chaincode named by the extension (`protos.ChaincodeHeaderExtension`) of an
    /// endorser transaction's header; `None` if the extension is empty or names none.
    pub fn chaincode_name(&self) -> Result<Option<String>> {
        if self.extension.is_empty() {
            return Ok(None);
        }
        let extension = peer::ChaincodeHeaderExtension::decode(self.extension.as_slice())
            .map_err(WireError::decode("protos.ChaincodeHeaderExtension"))?;
        Ok(extension.chaincode_id.map(|id| id.name))
    }

    /// The bytes of the `common.ChannelHeader`.
    pub fn encode(&self) -> Vec<u8> {
        common::ChannelHeader {
            r#type: self.header_type,
            version: self.version,
            timestamp: self.timestamp.map(timestamp_to_wire),
            channel_id: self.channel_id.clone(),
            tx_id: self.tx_id.clone(),
            epoch: self.epoch,
            extension: self.extension.clone(),
            tls_cert_hash: self.tls_cert_hash.clone(),
        }
        .encode_to_vec()
    }

    /// Decodes `common.ChannelHeader` bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let ch = common::ChannelHeader::decode(bytes)
            .map_err(WireError::decode("common.ChannelHeader"))?;
        Ok(ChannelHeaderFields {
            header_type: ch.r#type,
            version: ch.version,
            timestamp: ch.timestamp.map(timestamp_from_wire),
            channel_id: ch.channel_id,
            tx_id: ch.tx_id,
            epoch: ch.epoch,
            extension: ch.extension,
            tls_cert_hash: ch.tls_cert_hash,
        })
    }
}

/// The bytes of `common.SignatureHeader{creator, nonce}`.
pub fn signature_header_bytes(creator: &[u8], nonce: &[u8]) -> Vec<u8> {
    common::SignatureHeader {
        creator: creator.to_vec(),
        nonce: nonce.to_vec(),
    }
    .encode_to_vec()
}

/// The bytes of `protos.ChaincodeHeaderExtension{chaincode_id{name}}`.
pub fn chaincode_header_extension_bytes(chaincode_name: &str) -> Vec<u8> {
    peer::ChaincodeHeaderExtension {
        chaincode_id: Some(peer::ChaincodeId {
            name: chaincode_name.to_string(),
            ..Default::default()
        }),
    }
    .encode_to_vec()
}

/// The bytes of `common.Payload{header{channel_header, signature_header}, data}`: what a
/// sender signs (over its SHA-256, by ECDSA) to make an envelope.
pub fn payload_bytes(channel_header: &[u8], signature_header: &[u8], data: &[u8]) -> Vec<u8> {
    common::Payload {
        header: Some(common::Header {
            channel_header: channel_header.to_vec(),
            signature_header: signature_header.to_vec(),
        }),
        data: data.to_vec(),
    }
    .encode_to_vec()
}

/// The bytes of `common.Envelope{payload, signature}`.
pub fn envelope_bytes(payload: &[u8], signature: &[u8]) -> Vec<u8> {
    common::Envelope {
        payload: payload.to_vec(),
        signature: signature.to_vec(),
    }
    .encode_to_vec()
}

/// The bytes of `protos.SignedProposal{proposal_bytes, signature}`.
pub fn signed_proposal_bytes(proposal_bytes: &[u8], signature: &[u8]) -> Vec<u8> {
    peer::SignedProposal {
        proposal_bytes: proposal_bytes.to_vec(),
        signature: signature.to_vec(),
    }
    .encode_to_vec()
}

/// The bytes of `protos.ChaincodeInvocationSpec` for a call of `chaincode_name` with `args`,
/// shaped as Fabric's Gateway clients build it (type NODE, chaincode ID with name only).
pub fn chaincode_invocation_spec_bytes(chaincode_name: &str, args: &[Vec<u8>]) -> Vec<u8> {
    peer::ChaincodeInvocationSpec {
        chaincode_spec: Some(peer::ChaincodeSpec {
            r#type: peer::chaincode_spec::Type::Node as i32,
            chaincode_id: Some(peer::ChaincodeId {
                name: chaincode_name.to_string(),
                ..Default::default()
            }),
            input: Some(peer::ChaincodeInput {
                args: args.to_vec(),
                ..Default::default()
            }),
            timeout: 0,
        }),
    }
    .encode_to_vec()
}

/// The bytes of `protos.ChaincodeProposalPayload{input, TransientMap}`.
pub fn chaincode_proposal_payload_bytes(
    input: &[u8],
    transient: &BTreeMap<String, Vec<u8>>,
) -> Vec<u8> {
    peer::ChaincodeProposalPayload {
        input: input.to_vec(),
        transient_map: transient.clone(),
    }
    .encode_to_vec()
}

/// What a client puts into a chaincode proposal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalParts {
    /// The channel; empty for channel-less calls such as `_lifecycle` install.
    pub channel_id: String,
    /// The chaincode to call.
    pub chaincode_name: String,
    /// The arguments; `args[0]` is the function name.
    pub args: Vec<Vec<u8>>,
    /// Private inputs that never reach the ledger.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The serialized identity of the caller (`msp.SerializedIdentity` bytes).
    pub creator: Vec<u8>,
    /// A fresh random nonce, [`NONCE_SIZE`] bytes in Fabric.
    pub nonce: Vec<u8>,
    /// The proposal's time, chosen by the caller.
    pub timestamp: Timestamp,
}

/// A proposal ready to be signed: sign SHA-256(`proposal_bytes`), then wrap both with
/// [`signed_proposal_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsignedProposal {
    /// The transaction ID derived from the nonce and creator.
    pub tx_id: String,
    /// The bytes of `protos.Proposal`.
    pub proposal_bytes: Vec<u8>,
}

/// Builds an ENDORSER_TRANSACTION proposal exactly as Fabric's Gateway client does.
pub fn build_proposal(parts: &ProposalParts) -> UnsignedProposal {
    let tx_id = compute_tx_id(&parts.nonce, &parts.creator);
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::EndorserTransaction.as_i32(),
        version: 0,
        timestamp: Some(parts.timestamp),
        channel_id: parts.channel_id.clone(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: chaincode_header_extension_bytes(&parts.chaincode_name),
        tls_cert_hash: Vec::new(),
    }
    .encode();
    let signature_header = signature_header_bytes(&parts.creator, &parts.nonce);
    let input = chaincode_invocation_spec_bytes(&parts.chaincode_name, &parts.args);
    let proposal = peer::Proposal {
        header: common::Header {
            channel_header,
            signature_header,
        }
        .encode_to_vec(),
        payload: chaincode_proposal_payload_bytes(&input, &parts.transient),
        extension: Vec::new(),
    };
    UnsignedProposal {
        tx_id,
        proposal_bytes: proposal.encode_to_vec(),
    }
}

/// A decoded `protos.SignedProposal`, with every signed part kept as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalView {
    /// `SignedProposal.proposal_bytes`: what the creator signed.
    pub proposal_bytes: Vec<u8>,
    /// `SignedProposal.signature`.
    pub signature: Vec<u8>,
    /// `Header.channel_header` bytes.
    pub channel_header_bytes: Vec<u8>,
    /// `Header.signature_header` bytes.
    pub signature_header_bytes: Vec<u8>,
    /// The decoded channel header (type, channel, tx ID, timestamp, epoch, extension).
    pub channel_header: ChannelHeaderFields,
    /// The chaincode named by the header extension, if the extension names one.
    pub chaincode_name: Option<String>,
    /// `SignatureHeader.creator` bytes (a serialized identity).
    pub creator_bytes: Vec<u8>,
    /// The decoded creator, or `None` if `creator_bytes` is empty.
    pub creator: Option<SerializedIdentity>,
    /// `SignatureHeader.nonce`.
    pub nonce: Vec<u8>,
    /// `Proposal.payload` bytes (a `ChaincodeProposalPayload`).
    pub payload_bytes: Vec<u8>,
    /// `ChaincodeProposalPayload.input` bytes (a `ChaincodeInvocationSpec`).
    pub input_bytes: Vec<u8>,
    /// The chaincode name in the invocation spec (informational; the header extension rules).
    pub spec_chaincode_name: String,
    /// The call's arguments; `args[0]` is the function name.
    pub args: Vec<Vec<u8>>,
    /// Whether the call is marked as the chaincode's init call.
    pub is_init: bool,
    /// The transient data, which never reaches the ledger.
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl ProposalView {
    /// The transaction ID the nonce and creator imply (compare with `channel_header.tx_id`).
    pub fn expected_tx_id(&self) -> String {
        compute_tx_id(&self.nonce, &self.creator_bytes)
    }

    /// The bytes of `ChaincodeProposalPayload{input}` with the transient map removed: what goes
    /// into the transaction and into the proposal hash.
    pub fn payload_without_transient(&self) -> Vec<u8> {
        chaincode_proposal_payload_bytes(&self.input_bytes, &BTreeMap::new())
    }

    /// Fabric's proposal hash: SHA-256(channel_header ‖ signature_header ‖
    /// ChaincodeProposalPayload{input} re-encoded without its transient map).
    pub fn proposal_hash(&self) -> [u8; 32] {
        proposal_hash(
            &self.channel_header_bytes,
            &self.signature_header_bytes,
            &self.payload_without_transient(),
        )
    }
}

/// SHA-256(`channel_header` ‖ `signature_header` ‖ `payload_without_transient`): the
/// `ProposalResponsePayload.proposal_hash` a validator recomputes from a transaction.
pub fn proposal_hash(
    channel_header: &[u8],
    signature_header: &[u8],
    payload_without_transient: &[u8],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(channel_header);
    hasher.update(signature_header);
    hasher.update(payload_without_transient);
    hasher.finalize().into()
}

fn decode_creator(bytes: &[u8]) -> Result<Option<SerializedIdentity>> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        decode_serialized_identity(bytes).map(Some)
    }
}

/// Decodes a `protos.SignedProposal` down to the chaincode arguments, keeping every signed
/// part as received. Empty parts decode to empty values; checking what must be present is the
/// endorser's job.
pub fn parse_signed_proposal(bytes: &[u8]) -> Result<ProposalView> {
    let signed =
        peer::SignedProposal::decode(bytes).map_err(WireError::decode("protos.SignedProposal"))?;
    let proposal = peer::Proposal::decode(signed.proposal_bytes.as_slice())
        .map_err(WireError::decode("protos.Proposal"))?;
    let header = common::Header::decode(proposal.header.as_slice())
        .map_err(WireError::decode("common.Header"))?;
    let channel_header = ChannelHeaderFields::decode(&header.channel_header)?;
    let signature_header = common::SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(WireError::decode("common.SignatureHeader"))?;
    let chaincode_name = channel_header.chaincode_name()?;
    let payload = peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice())
        .map_err(WireError::decode("protos.ChaincodeProposalPayload"))?;
    let spec = peer::ChaincodeInvocationSpec::decode(payload.input.as_slice())
        .map_err(WireError::decode("protos.ChaincodeInvocationSpec"))?
        .chaincode_spec
        .unwrap_or_default();
    let input = spec.input.unwrap_or_default();
    Ok(ProposalView {
        creator: decode_creator(&signature_header.creator)?,
        proposal_bytes: signed.proposal_bytes,
        signature: signed.signature,
        channel_header_bytes: header.channel_header,
        signature_header_bytes: header.signature_header,
        channel_header,
        chaincode_name,
        creator_bytes: signature_header.creator,
        nonce: signature_header.nonce,
        payload_bytes: proposal.payload,
        input_bytes: payload.input,
        spec_chaincode_name: spec.chaincode_id.map(|id| id.name).unwrap_or_default(),
        args: input.args,
        is_init: input.is_init,
        transient: payload.transient_map,
    })
}

/// A decoded `common.Envelope`, with every signed part kept as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeView {
    /// `Envelope.payload`: what the creator signed.
    pub payload_bytes: Vec<u8>,
    /// `Envelope.signature`.
    pub signature: Vec<u8>,
    /// `Header.channel_header` bytes.
    pub channel_header_bytes: Vec<u8>,
    /// `Header.signature_header` bytes.
    pub signature_header_bytes: Vec<u8>,
    /// The decoded channel header.
    pub channel_header: ChannelHeaderFields,
    /// `SignatureHeader.creator` bytes.
    pub creator_bytes: Vec<u8>,
    /// The decoded creator, or `None` if `creator_bytes` is empty.
    pub creator: Option<SerializedIdentity>,
    /// `SignatureHeader.nonce` (empty for Deliver requests).
    pub nonce: Vec<u8>,
    /// `Payload.data`: a `Transaction`, `SeekInfo`, `ConfigEnvelope`… by header type.
    pub data: Vec<u8>,
}

/// Decodes a `common.Envelope` and its payload header. Fails if the payload has no header.
pub fn parse_envelope(bytes: &[u8]) -> Result<EnvelopeView> {
    let envelope = common::Envelope::decode(bytes).map_err(WireError::decode("common.Envelope"))?;
    let payload = common::Payload::decode(envelope.payload.as_slice())
        .map_err(WireError::decode("common.Payload"))?;
    let header = payload.header.ok_or(WireError::MissingField {
        message: "common.Payload",
        field: "header",
    })?;
    let channel_header = ChannelHeaderFields::decode(&header.channel_header)?;
    let signature_header = common::SignatureHeader::decode(header.signature_header.as_slice())
        .map_err(WireError::decode("common.SignatureHeader"))?;
    Ok(EnvelopeView {
        creator: decode_creator(&signature_header.creator)?,
        payload_bytes: envelope.payload,
        signature: envelope.signature,
        channel_header_bytes: header.channel_header,
        signature_header_bytes: header.signature_header,
        channel_header,
        creator_bytes: signature_header.creator,
        nonce: signature_header.nonce,
        data: payload.data,
    })
}

mod endorsed;

pub use endorsed::{
    endorsement_message, endorser_transaction_payload, parse_proposal_response,
    parse_proposal_response_payload, parse_transaction, proposal_response_bytes,
    proposal_response_payload_bytes, ChaincodeActionFields, ChaincodeIdFields, EndorsedActionView,
    ProposalResponsePayloadView, ProposalResponseView,
};
