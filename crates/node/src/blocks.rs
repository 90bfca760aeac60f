//! Reading a channel's committed blocks from a peer's `Deliver` service, as tools that look back
//! over the ledger need them (`cambium contract history`, `cambium contract replay`).
//!
//! The request is Fabric's: a `SeekInfo` signed by the caller, here from a given block to the
//! newest one with `FAIL_IF_NOT_READY`, so the stream ends once the peer has sent its height.
//! The peer checks the channel's `Readers` policy, so any client identity of the channel works.

use std::time::Duration;

use cambium_msp::SigningIdentity;
use cambium_primitives::{
    HeaderType, SeekBehavior, SeekInfo, SeekPosition, SerializedIdentity, Timestamp,
    TxValidationCode,
};
use cambium_wire::common;
use cambium_wire::peer::deliver_client::DeliverClient;
use cambium_wire::peer::{self, deliver_response};
use cambium_wire::tx::{self, ChaincodeActionFields};
use cambium_wire::Message;
use tonic::transport::Channel;

use crate::client::{deliver_envelope, DeliverRequests};
use crate::connect::{status_text, MAX_MESSAGE_BYTES};
use crate::error::{NodeError, Result};

/// A channel block, as Deliver sends it.
pub use cambium_wire::common::Block;

/// How long reading the blocks may take before the peer is considered stuck.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// The blocks of `channel_id` from number `start` up to the peer's newest block, in order.
///
/// `progress` is called with each block number as it arrives, for a progress display.
pub async fn read_blocks(
    channel: Channel,
    endpoint: &str,
    signer: &SigningIdentity,
    channel_id: &str,
    start: u64,
    progress: impl FnMut(u64),
) -> Result<Vec<common::Block>> {
    read_range(
        channel,
        endpoint,
        signer,
        channel_id,
        SeekPosition::Specified(start),
        SeekPosition::Newest,
        progress,
    )
    .await
}

/// The blocks of `channel_id` from `start` to `stop` (inclusive), in order; a block the peer
/// does not have yet is an error, not a wait.
pub async fn read_range(
    channel: Channel,
    endpoint: &str,
    signer: &SigningIdentity,
    channel_id: &str,
    start: SeekPosition,
    stop: SeekPosition,
    mut progress: impl FnMut(u64),
) -> Result<Vec<common::Block>> {
    let mut seek = SeekInfo::new(start, stop);
    seek.behavior = SeekBehavior::FailIfNotReady;
    let envelope = deliver_envelope(signer, channel_id, &seek)?;
    let mut client = DeliverClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (requests, sender) = DeliverRequests::open();
    sender
        .send(envelope)
        .await
        .map_err(|_| NodeError::Rejected("the Deliver request could not be queued".into()))?;
    let rpc_error = |s: tonic::Status| NodeError::Rpc {
        endpoint: endpoint.to_owned(),
        call: "Deliver",
        message: status_text(&s),
    };
    let work = async {
        let mut stream = client
            .deliver(requests)
            .await
            .map_err(rpc_error)?
            .into_inner();
        let mut blocks = Vec::new();
        loop {
            let message = stream.message().await.map_err(rpc_error)?.ok_or_else(|| {
                NodeError::Rejected(format!("{endpoint} ended Deliver before its final status"))
            })?;
            match message.r#type {
                Some(deliver_response::Type::Block(block)) => {
                    let number = block.header.as_ref().map_or(0, |h| h.number);
                    progress(number);
                    blocks.push(block);
                }
                Some(deliver_response::Type::Status(status)) => {
                    if status == common::Status::Success as i32 {
                        return Ok(blocks);
                    }
                    let name = common::Status::try_from(status)
                        .map(|s| s.as_str_name().to_owned())
                        .unwrap_or_else(|_| status.to_string());
                    return Err(NodeError::Rejected(format!(
                        "{endpoint} refused to deliver blocks of channel '{channel_id}' from \
                         {}: {name} (is the identity a reader of the channel, and does the \
                         channel have that many blocks?)",
                        position(&start)
                    )));
                }
                _ => {}
            }
        }
    };
    drop(sender);
    tokio::time::timeout(READ_TIMEOUT, work)
        .await
        .map_err(|_| NodeError::Timeout {
            what: format!("blocks of channel '{channel_id}' from {endpoint}"),
            seconds: READ_TIMEOUT.as_secs_f64(),
        })?
}

fn position(p: &SeekPosition) -> String {
    match p {
        SeekPosition::Oldest => "the oldest block".to_owned(),
        SeekPosition::Newest => "the newest block".to_owned(),
        SeekPosition::Specified(n) => format!("block {n}"),
        other => format!("{other:?}"),
    }
}

/// One endorser transaction of a block, decoded as far as the tools need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndorserTx {
    /// The block number.
    pub block: u64,
    /// Position in the block.
    pub index: u64,
    /// The transaction ID.
    pub tx_id: String,
    /// The proposal's timestamp (as signed by the client).
    pub timestamp: Timestamp,
    /// The client that signed the proposal and the transaction.
    pub creator: SerializedIdentity,
    /// The validation code the peers wrote into the block.
    pub validation_code: u8,
    /// The chaincode the client called.
    pub chaincode: String,
    /// The call's arguments; `args[0]` is the function name.
    pub args: Vec<Vec<u8>>,
    /// What the endorsers' simulation produced (response, read/write set, event, version).
    pub action: ChaincodeActionFields,
    /// The MSP IDs of the endorsers, in the order the transaction carries them.
    pub endorsers: Vec<String>,
}

impl EndorserTx {
    /// Whether the peers committed it as valid.
    pub fn is_valid(&self) -> bool {
        self.validation_code == TxValidationCode::Valid as u8
    }

    /// The function called (the first argument), lossily as text.
    pub fn function(&self) -> String {
        self.args
            .first()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default()
    }

    /// The name of its validation code, e.g. `MVCC_READ_CONFLICT`.
    pub fn validation_name(&self) -> String {
        crate::client::validation_code_name(i32::from(self.validation_code))
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: &'static str) -> Result<M> {
    M::decode(bytes).map_err(|e| NodeError::Rejected(format!("cannot decode {what}: {e}")))
}

/// The endorser transactions of `block` (config and other transactions are skipped), with the
/// validation codes of its `TRANSACTIONS_FILTER`.
pub fn endorser_transactions(block: &common::Block) -> Result<Vec<EndorserTx>> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let filter = cambium_wire::block::transactions_filter(block);
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (index, bytes) in data.iter().enumerate() {
        let in_block =
            |e: NodeError| NodeError::Rejected(format!("block {number}, transaction {index}: {e}"));
        let Ok(envelope) = tx::parse_envelope(bytes) else {
            continue;
        };
        if envelope.channel_header.known_header_type() != Some(HeaderType::EndorserTransaction) {
            continue;
        }
        let Some(creator) = envelope.creator.clone() else {
            continue;
        };
        let validation_code = cambium_wire::block::validation_code_at(filter, index);
        let actions = match tx::parse_transaction(&envelope.data) {
            Ok(actions) => actions,
            // A malformed transaction is in the block only as an invalid one; nothing ran.
            Err(_) => continue,
        };
        let Some(action) = actions.into_iter().next() else {
            continue;
        };
        let cpp: peer::ChaincodeProposalPayload = decode(
            &action.chaincode_proposal_payload,
            "protos.ChaincodeProposalPayload",
        )
        .map_err(in_block)?;
        let spec: peer::ChaincodeInvocationSpec =
            decode(&cpp.input, "protos.ChaincodeInvocationSpec").map_err(in_block)?;
        let spec = spec.chaincode_spec.unwrap_or_default();
        let chaincode = spec.chaincode_id.map(|c| c.name).unwrap_or_default();
        let args = spec.input.map(|i| i.args).unwrap_or_default();
        let endorsers = action
            .endorsements
            .iter()
            .map(|e| {
                cambium_wire::decode_serialized_identity(&e.endorser)
                    .map(|id| id.msp_id)
                    .unwrap_or_else(|_| "(undecodable endorser)".to_owned())
            })
            .collect();
        out.push(EndorserTx {
            block: number,
            index: index as u64,
            tx_id: envelope.channel_header.tx_id.clone(),
            timestamp: envelope.channel_header.timestamp.unwrap_or_default(),
            creator,
            validation_code,
            chaincode,
            args,
            action: action.action,
            endorsers,
        });
    }
    Ok(out)
}
