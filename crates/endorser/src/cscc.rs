//! `cscc`, Fabric's configuration system chaincode, for the queries Fabric's peer answers:
//! `GetChannels` (the channels this peer joined, `protos.ChannelQueryResponse`) and
//! `GetConfigBlock` (`args[1]` names the channel; the channel's latest config block as
//! `common.Block` bytes, found through the last block's `LAST_CONFIG` index).
//!
//! ACLs as Fabric's defaults: `cscc/GetChannels` needs a member of the peer's local MSP,
//! `cscc/GetConfigBlock` the named channel's `/Channel/Application/Readers`. Joining
//! channels through `cscc` (`JoinChain`) is not offered: Cambium peers join channels through
//! their configuration.

use cambium_ledger::Block;
use cambium_primitives::ChaincodeResponse;
use cambium_wire::config::decode_last_config_index;
use cambium_wire::{peer, Message};

use crate::endorser::LedgerView;

/// The name proposals use for the configuration system chaincode.
pub const CSCC: &str = "cscc";

/// The channel policy `cscc/GetConfigBlock` requires.
pub const GET_CONFIG_BLOCK_POLICY: &str = "/Channel/Application/Readers";

/// `GetChannels`.
pub const GET_CHANNELS: &str = "GetChannels";

/// `GetConfigBlock`.
pub const GET_CONFIG_BLOCK: &str = "GetConfigBlock";

/// The `GetChannels` answer for `channel_ids`.
pub fn channels(channel_ids: &[String]) -> ChaincodeResponse {
    ChaincodeResponse::ok(
        peer::ChannelQueryResponse {
            channels: channel_ids
                .iter()
                .map(|id| peer::ChannelInfo {
                    channel_id: id.clone(),
                })
                .collect(),
        }
        .encode_to_vec(),
    )
}

/// The latest config block of the channel whose ledger is `ledger`, as stored.
pub fn config_block(ledger: &dyn LedgerView, channel_id: &str) -> ChaincodeResponse {
    match find_config_block(ledger) {
        Ok(bytes) => ChaincodeResponse::ok(bytes),
        Err(e) => ChaincodeResponse::error(format!(
            "Failed to get config block for channel {channel_id}: {e}"
        )),
    }
}

fn find_config_block(ledger: &dyn LedgerView) -> Result<Vec<u8>, String> {
    let height = ledger.height().map_err(|e| e.to_string())?;
    let last = height.checked_sub(1).ok_or(
        "the channel's ledger has no blocks yet; wait until the peer has the genesis block",
    )?;
    let stored = ledger
        .block(last)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block {last} is missing from the ledger"))?;
    let block = Block::decode(&stored.bytes).map_err(|e| e.to_string())?;
    // Fabric 2.x reads the index from the orderer's signature metadata, and older blocks
    // carry it in the LAST_CONFIG slot; a block with neither points at the genesis block.
    let from_signatures = block
        .metadata
        .first()
        .and_then(|slot| decode_last_config_index(slot, true).ok());
    let from_last_config = block
        .metadata
        .get(1)
        .and_then(|slot| decode_last_config_index(slot, false).ok());
    let index = from_signatures
        .filter(|i| *i > 0)
        .or(from_last_config)
        .unwrap_or(0);
    ledger
        .block(index)
        .map_err(|e| e.to_string())?
        .map(|b| b.bytes)
        .ok_or_else(|| format!("config block {index} is missing from the ledger"))
}
