//! Reading transactions out of blocks: validation codes from `TRANSACTIONS_FILTER`, chaincode
//! events, and the filtered blocks the peer's `DeliverFiltered` sends.
//!
//! The rules follow Fabric's peer deliver service: empty or undecodable envelopes are skipped,
//! as are payloads without a header; a payload or channel header that cannot be decoded is an
//! error. Events are taken from every action that has one with a non-empty chaincode ID.

use cambium_primitives::{ChaincodeEvent, HeaderType, TxValidationCode};
use prost::bytes::Bytes;
use prost::Message;

use crate::error::{Result, WireError};
use crate::tx::ChannelHeaderFields;
use crate::{common, peer};

/// The block's `TRANSACTIONS_FILTER` metadata: one validation code byte per transaction (empty
/// until the peer has validated the block).
pub fn transactions_filter(block: &common::Block) -> &[u8] {
    block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(common::BlockMetadataIndex::TransactionsFilter as usize)
        })
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The raw validation code of transaction `index`; `NOT_VALIDATED` (254) if the filter does not
/// cover it.
pub fn validation_code_at(filter: &[u8], index: usize) -> u8 {
    filter
        .get(index)
        .copied()
        .unwrap_or(TxValidationCode::NotValidated.as_u8())
}

/// One transaction of a block, as block events and commit status need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockTransaction {
    /// Position in `BlockData.data`.
    pub index: usize,
    /// The channel from the channel header.
    pub channel_id: String,
    /// The transaction ID from the channel header.
    pub tx_id: String,
    /// `ChannelHeader.type` as carried.
    pub header_type: i32,
    /// The code from `TRANSACTIONS_FILTER` (see [`validation_code_at`]).
    pub validation_code: u8,
    /// For endorser transactions, the chaincode actions' events (with payloads), in order;
    /// `None` for other header types.
    pub events: Option<Vec<ChaincodeEvent>>,
}

impl BlockTransaction {
    /// The validation code, if Fabric defines the stored byte.
    pub fn known_validation_code(&self) -> Option<TxValidationCode> {
        TxValidationCode::from_u8(self.validation_code)
    }
}

fn decode<M: Message + Default>(bytes: &[u8], message: &'static str) -> Result<M> {
    M::decode(bytes).map_err(WireError::decode(message))
}

/// Decodes `M` from `bytes` without copying: its `Bytes` fields share `bytes`' buffer.
fn view<M: Message + Default>(bytes: Bytes, message: &'static str) -> Result<M> {
    M::decode(bytes).map_err(WireError::decode(message))
}

/// Views of the messages between a block and its transactions' events, declaring only the
/// fields read here. Decoded from `Bytes`, their byte fields are slices of the block's buffer
/// and the fields they leave out (a migration's megabyte of read/write set, endorsements) are
/// skipped, not copied: a filtered block of a large transaction costs what a small one does.
/// Field numbers are Fabric's (`common.proto`, `transaction.proto`, `proposal_response.proto`,
/// `proposal.proto`), as in the generated messages.
mod views {
    use prost::bytes::Bytes;

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Block {
        #[prost(message, optional, tag = "1")]
        pub header: Option<BlockHeader>,
        #[prost(message, optional, tag = "2")]
        pub data: Option<BlockData>,
        #[prost(message, optional, tag = "3")]
        pub metadata: Option<BlockMetadata>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct BlockHeader {
        #[prost(uint64, tag = "1")]
        pub number: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct BlockData {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        pub data: Vec<Bytes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct BlockMetadata {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        pub metadata: Vec<Bytes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Envelope {
        #[prost(bytes = "bytes", tag = "1")]
        pub payload: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Payload {
        #[prost(message, optional, tag = "1")]
        pub header: Option<Header>,
        #[prost(bytes = "bytes", tag = "2")]
        pub data: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Header {
        #[prost(bytes = "bytes", tag = "1")]
        pub channel_header: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Transaction {
        #[prost(message, repeated, tag = "1")]
        pub actions: Vec<TransactionAction>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct TransactionAction {
        #[prost(bytes = "bytes", tag = "2")]
        pub payload: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ChaincodeActionPayload {
        #[prost(message, optional, tag = "2")]
        pub action: Option<ChaincodeEndorsedAction>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ChaincodeEndorsedAction {
        #[prost(bytes = "bytes", tag = "1")]
        pub proposal_response_payload: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ProposalResponsePayload {
        #[prost(bytes = "bytes", tag = "2")]
        pub extension: Bytes,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ChaincodeAction {
        #[prost(bytes = "bytes", tag = "2")]
        pub events: Bytes,
    }
}

/// The events of an endorser transaction's actions, skipping actions without an endorsed
/// action and events without a chaincode ID.
fn action_events(data: Bytes) -> Result<Vec<ChaincodeEvent>> {
    let transaction: views::Transaction = view(data, "protos.Transaction")?;
    let mut events = Vec::new();
    for action in transaction.actions {
        let payload: views::ChaincodeActionPayload =
            view(action.payload, "protos.ChaincodeActionPayload")?;
        let Some(endorsed) = payload.action else {
            continue;
        };
        let prp: views::ProposalResponsePayload = view(
            endorsed.proposal_response_payload,
            "protos.ProposalResponsePayload",
        )?;
        let chaincode_action: views::ChaincodeAction =
            view(prp.extension, "protos.ChaincodeAction")?;
        let event: peer::ChaincodeEvent =
            decode(&chaincode_action.events, "protos.ChaincodeEvent")?;
        if !event.chaincode_id.is_empty() {
            events.push(event.into());
        }
    }
    Ok(events)
}

fn block_transaction(
    index: usize,
    envelope: Bytes,
    filter: &[u8],
) -> Result<Option<BlockTransaction>> {
    if envelope.is_empty() {
        return Ok(None);
    }
    let Ok(envelope) = views::Envelope::decode(envelope) else {
        return Ok(None);
    };
    let payload: views::Payload = view(envelope.payload, "common.Payload")?;
    let Some(header) = payload.header else {
        return Ok(None);
    };
    let channel_header = ChannelHeaderFields::decode(&header.channel_header)?;
    let events = if channel_header.known_header_type() == Some(HeaderType::EndorserTransaction) {
        Some(action_events(payload.data)?)
    } else {
        None
    };
    Ok(Some(BlockTransaction {
        index,
        channel_id: channel_header.channel_id,
        tx_id: channel_header.tx_id,
        header_type: channel_header.header_type,
        validation_code: validation_code_at(filter, index),
        events,
    }))
}

/// The transactions of `number`'s envelopes, each with its code from `filter`.
fn transactions_of(
    number: u64,
    envelopes: impl Iterator<Item = Bytes>,
    filter: &[u8],
) -> Result<Vec<BlockTransaction>> {
    let mut transactions = Vec::new();
    for (index, envelope) in envelopes.enumerate() {
        let tx =
            block_transaction(index, envelope, filter).map_err(|source| WireError::InBlock {
                block: number,
                index,
                source: Box::new(source),
            })?;
        transactions.extend(tx);
    }
    Ok(transactions)
}

/// The block's transactions with their validation codes and events.
pub fn block_transactions(block: &common::Block) -> Result<Vec<BlockTransaction>> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    transactions_of(
        number,
        data.iter().map(|e| Bytes::copy_from_slice(e)),
        transactions_filter(block),
    )
}

/// A block's number and transactions, read from its stored `common.Block` bytes without
/// copying the envelopes (see [`block_transactions`]); for block events, which read every
/// block once per listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlockTransactions {
    /// `BlockHeader.number`.
    pub number: u64,
    /// The transactions, as [`block_transactions`] gives them.
    pub transactions: Vec<BlockTransaction>,
}

impl StoredBlockTransactions {
    /// Reads `bytes`, a `common.Block` encoding.
    pub fn decode(bytes: Vec<u8>) -> Result<StoredBlockTransactions> {
        let block: views::Block = view(Bytes::from(bytes), "common.Block")?;
        let number = block.header.map_or(0, |h| h.number);
        let filter = block
            .metadata
            .and_then(|m| {
                m.metadata
                    .into_iter()
                    .nth(common::BlockMetadataIndex::TransactionsFilter as usize)
            })
            .unwrap_or_default();
        let envelopes = block.data.map(|d| d.data).unwrap_or_default();
        Ok(StoredBlockTransactions {
            number,
            transactions: transactions_of(number, envelopes.into_iter(), &filter)?,
        })
    }

    /// The `FilteredBlock` that `DeliverFiltered` sends (see [`filtered_block`]).
    pub fn into_filtered_block(self) -> peer::FilteredBlock {
        filtered(self.number, self.transactions)
    }

    /// The events of `chaincode_name` (see [`chaincode_events`]).
    pub fn chaincode_events(&self, chaincode_name: &str) -> Vec<(usize, ChaincodeEvent)> {
        events_of(&self.transactions, chaincode_name)
    }
}

/// The `FilteredBlock` that `DeliverFiltered` sends for `block`: per transaction its ID, type,
/// validation code and, for endorser transactions, its chaincode events without payloads.
pub fn filtered_block(block: &common::Block) -> Result<peer::FilteredBlock> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    Ok(filtered(number, block_transactions(block)?))
}

fn filtered(number: u64, transactions: Vec<BlockTransaction>) -> peer::FilteredBlock {
    let channel_id = transactions
        .last()
        .map(|t| t.channel_id.clone())
        .unwrap_or_default();
    peer::FilteredBlock {
        channel_id,
        number,
        filtered_transactions: transactions
            .into_iter()
            .map(|t| peer::FilteredTransaction {
                txid: t.tx_id,
                r#type: t.header_type,
                tx_validation_code: i32::from(t.validation_code),
                data: t.events.map(|events| {
                    peer::filtered_transaction::Data::TransactionActions(
                        peer::FilteredTransactionActions {
                            chaincode_actions: events
                                .into_iter()
                                .map(|e| peer::FilteredChaincodeAction {
                                    chaincode_event: Some(peer::ChaincodeEvent {
                                        chaincode_id: e.chaincode_id,
                                        tx_id: e.tx_id,
                                        event_name: e.event_name,
                                        payload: Vec::new(),
                                    }),
                                })
                                .collect(),
                        },
                    )
                }),
            })
            .collect(),
    }
}

/// The events the Gateway's `ChaincodeEvents` sends for `block`: events of `chaincode_name`
/// from VALID transactions whose chaincode ID, event name and transaction ID are all set, in
/// block order, each with the index of its transaction.
pub fn chaincode_events(
    block: &common::Block,
    chaincode_name: &str,
) -> Result<Vec<(usize, ChaincodeEvent)>> {
    Ok(events_of(&block_transactions(block)?, chaincode_name))
}

fn events_of<'a>(
    transactions: impl IntoIterator<Item = &'a BlockTransaction>,
    chaincode_name: &str,
) -> Vec<(usize, ChaincodeEvent)> {
    transactions
        .into_iter()
        .filter(|t| t.validation_code == TxValidationCode::Valid.as_u8())
        .flat_map(|t| t.events.iter().flatten().map(move |e| (t.index, e)))
        .filter(|(_, e)| {
            e.chaincode_id == chaincode_name && !e.event_name.is_empty() && !e.tx_id.is_empty()
        })
        .map(|(index, e)| (index, e.clone()))
        .collect()
}
