//! The ledger's contact with Fabric's messages, all through `cambium-wire`: block encoding and
//! decoding, and the channel header of each envelope (transaction ID and timestamp).

use cambium_wire::common;
use cambium_wire::tx::ChannelHeaderFields;
use cambium_wire::Message;

use crate::block::Block;
use crate::error::{LedgerError, Result};
use crate::types::Timestamp;

/// What the ledger reads from an envelope's channel header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TxHeader {
    pub(crate) tx_id: String,
    pub(crate) timestamp: Option<Timestamp>,
}

/// Decodes `common.Block` bytes into plain data.
pub(crate) fn decode_block(bytes: &[u8]) -> Result<Block> {
    let parts = cambium_wire::config::decode_block(bytes).map_err(|e| LedgerError::Decode {
        what: "common.Block",
        message: e.to_string(),
    })?;
    Ok(Block {
        number: parts.number,
        previous_hash: parts.previous_hash,
        data_hash: parts.data_hash,
        data: parts.data,
        metadata: parts.metadata,
    })
}

/// Encodes plain block data as `common.Block` bytes, carrying envelopes and metadata as given.
pub(crate) fn encode_block(block: &Block) -> Vec<u8> {
    cambium_wire::config::encode_block_fields(
        block.number,
        &block.previous_hash,
        &block.data_hash,
        &block.data,
        &block.metadata,
    )
}

/// The transaction ID and timestamp of an envelope, or `None` if it does not decode that far
/// (such a transaction is not indexed by ID).
pub(crate) fn channel_header(envelope: &[u8]) -> Option<TxHeader> {
    let envelope = common::Envelope::decode(envelope).ok()?;
    let payload = common::Payload::decode(envelope.payload.as_slice()).ok()?;
    let header = ChannelHeaderFields::decode(&payload.header?.channel_header).ok()?;
    Some(TxHeader {
        tx_id: header.tx_id,
        timestamp: header.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_byte_for_byte() {
        let mut block = Block::new(
            300,
            vec![1; 32],
            vec![b"env-a".to_vec(), Vec::new(), b"env-c".to_vec()],
        );
        block.metadata[2] = vec![0, 11, 0];
        let bytes = encode_block(&block);
        let back = decode_block(&bytes).unwrap();
        assert_eq!(back, block);
        assert_eq!(encode_block(&back), bytes);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(decode_block(&[0xff, 0xff, 0xff]).is_err());
        assert_eq!(channel_header(b"not an envelope"), None);
    }

    #[test]
    fn reads_tx_id_and_timestamp_from_a_real_envelope() {
        let env = crate::testkit::envelope("abc123", 1_700_000_123, &[]);
        let h = channel_header(&env).unwrap();
        assert_eq!(h.tx_id, "abc123");
        assert_eq!(h.timestamp.map(|t| t.seconds), Some(1_700_000_123));
    }
}
