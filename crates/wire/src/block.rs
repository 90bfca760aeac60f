//! Reading transactions out of blocks: validation codes from `TRANSACTIONS_FILTER`, chaincode
//! events, and the filtered blocks the peer's `DeliverFiltered` sends.
//!
//! The rules follow Fabric's peer deliver service: empty or undecodable envelopes are skipped,
//! as are payloads without a header; a payload or channel header that cannot be decoded is an
//! error. Events are taken from every action that has one with a non-empty chaincode ID.

use cambium_primitives::{ChaincodeEvent, HeaderType, TxValidationCode};
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

/// The events of an endorser transaction's actions, skipping actions without an endorsed
/// action and events without a chaincode ID.
fn action_events(data: &[u8]) -> Result<Vec<ChaincodeEvent>> {
    let transaction: peer::Transaction = decode(data, "protos.Transaction")?;
    let mut events = Vec::new();
    for action in transaction.actions {
        let payload: peer::ChaincodeActionPayload =
            decode(&action.payload, "protos.ChaincodeActionPayload")?;
        let Some(endorsed) = payload.action else {
            continue;
        };
        let prp: peer::ProposalResponsePayload = decode(
            &endorsed.proposal_response_payload,
            "protos.ProposalResponsePayload",
        )?;
        let chaincode_action: peer::ChaincodeAction =
            decode(&prp.extension, "protos.ChaincodeAction")?;
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
    envelope: &[u8],
    filter: &[u8],
) -> Result<Option<BlockTransaction>> {
    if envelope.is_empty() {
        return Ok(None);
    }
    let Ok(envelope) = common::Envelope::decode(envelope) else {
        return Ok(None);
    };
    let payload: common::Payload = decode(&envelope.payload, "common.Payload")?;
    let Some(header) = payload.header else {
        return Ok(None);
    };
    let channel_header = ChannelHeaderFields::decode(&header.channel_header)?;
    let events = if channel_header.known_header_type() == Some(HeaderType::EndorserTransaction) {
        Some(action_events(&payload.data)?)
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

/// The block's transactions with their validation codes and events.
pub fn block_transactions(block: &common::Block) -> Result<Vec<BlockTransaction>> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let filter = transactions_filter(block);
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    let mut transactions = Vec::with_capacity(data.len());
    for (index, envelope) in data.iter().enumerate() {
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

/// The `FilteredBlock` that `DeliverFiltered` sends for `block`: per transaction its ID, type,
/// validation code and, for endorser transactions, its chaincode events without payloads.
pub fn filtered_block(block: &common::Block) -> Result<peer::FilteredBlock> {
    let transactions = block_transactions(block)?;
    let channel_id = transactions
        .last()
        .map(|t| t.channel_id.clone())
        .unwrap_or_default();
    Ok(peer::FilteredBlock {
        channel_id,
        number: block.header.as_ref().map_or(0, |h| h.number),
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
    })
}

/// The events the Gateway's `ChaincodeEvents` sends for `block`: events of `chaincode_name`
/// from VALID transactions whose chaincode ID, event name and transaction ID are all set, in
/// block order, each with the index of its transaction.
pub fn chaincode_events(
    block: &common::Block,
    chaincode_name: &str,
) -> Result<Vec<(usize, ChaincodeEvent)>> {
    Ok(block_transactions(block)?
        .into_iter()
        .filter(|t| t.validation_code == TxValidationCode::Valid.as_u8())
        .flat_map(|t| {
            let index = t.index;
            t.events
                .unwrap_or_default()
                .into_iter()
                .map(move |e| (index, e))
        })
        .filter(|(_, e)| {
            e.chaincode_id == chaincode_name && !e.event_name.is_empty() && !e.tx_id.is_empty()
        })
        .collect())
}
