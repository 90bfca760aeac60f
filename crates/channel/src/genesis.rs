//! Genesis blocks, built as Fabric's `configtxgen -outputBlock` builds them, and the way back
//! from a config block to a [`ChannelConfig`].
//!
//! The block is number 0 with an empty previous hash and one unsigned envelope: its payload
//! has a CONFIG channel header (message version 1, epoch 0) and a signature header with no
//! creator, and its data is `ConfigEnvelope{config{sequence, channel_group}}`. The header's data
//! hash is SHA-256 over the envelope bytes; metadata has Fabric's 5 slots, `LAST_CONFIG` = 0 and
//! an unsigned `OrdererBlockMetadata{last_config 0}` in `SIGNATURES`.
//!
//! Fabric draws the nonce at random. Cambium derives it from the channel ID, the timestamp and
//! the config bytes instead, so the same config and timestamp always give the same block bytes
//! (and so the same transaction ID and block hash on every machine).

use cambium_primitives::{HeaderType, Timestamp};
use cambium_wire::config as wc;
use cambium_wire::tx::{self, ChannelHeaderFields, NONCE_SIZE};
use sha2::{Digest, Sha256};

use crate::config::ChannelConfig;
use crate::error::{ChannelError, Result};

/// `ChannelHeader.version` Fabric writes in config envelopes (`msgVersion`).
pub const CONFIG_MESSAGE_VERSION: i32 = 1;
/// Index of the `SIGNATURES` metadata slot.
pub const SIGNATURES_SLOT: usize = 0;
/// Index of the `LAST_CONFIG` metadata slot.
pub const LAST_CONFIG_SLOT: usize = 1;
/// How many metadata slots every Fabric block has.
pub const METADATA_SLOTS: usize = 5;

/// The nonce of a genesis envelope: the first 24 bytes of SHA-256 over a domain tag, the
/// channel ID, the timestamp and the config envelope bytes.
fn genesis_nonce(channel_id: &str, timestamp: Timestamp, config: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"cambium genesis nonce\0");
    h.update((channel_id.len() as u64).to_be_bytes());
    h.update(channel_id.as_bytes());
    h.update(timestamp.seconds.to_be_bytes());
    h.update(timestamp.nanos.to_be_bytes());
    h.update(config);
    h.finalize()[..NONCE_SIZE].to_vec()
}

/// The unsigned CONFIG envelope (a block's single data entry) carrying `config`.
pub fn config_envelope(config: &ChannelConfig, timestamp: Timestamp) -> Vec<u8> {
    let data = wc::encode_config_envelope(&config.config_envelope());
    let nonce = genesis_nonce(config.channel_id(), timestamp, &data);
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::Config.as_i32(),
        version: CONFIG_MESSAGE_VERSION,
        timestamp: Some(timestamp),
        channel_id: config.channel_id().to_owned(),
        tx_id: tx::compute_tx_id(&nonce, &[]),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: Vec::new(),
    }
    .encode();
    let signature_header = tx::signature_header_bytes(&[], &nonce);
    let payload = tx::payload_bytes(&channel_header, &signature_header, &data);
    tx::envelope_bytes(&payload, &[])
}

/// The genesis block of `config` as `common.Block` bytes. `timestamp` goes in the channel
/// header (Fabric uses the creation time, whole seconds); the same config and timestamp
/// always give the same bytes.
pub fn genesis_block(config: &ChannelConfig, timestamp: Timestamp) -> Vec<u8> {
    let data = vec![config_envelope(config, timestamp)];
    let mut metadata = vec![Vec::new(); METADATA_SLOTS];
    metadata[SIGNATURES_SLOT] = wc::unsigned_orderer_block_metadata(0);
    metadata[LAST_CONFIG_SLOT] = wc::last_config_metadata(0);
    wc::encode_block(&wc::BlockParts {
        number: 0,
        previous_hash: Vec::new(),
        data_hash: cambium_wire::hash::block_data_hash(&data).to_vec(),
        data,
        metadata,
    })
}

/// What a config block says about itself besides the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigBlockInfo {
    /// The block number.
    pub number: u64,
    /// SHA-256 of the block header (what the next block's previous hash must be).
    pub header_hash: [u8; 32],
    /// The transaction ID of the config envelope.
    pub tx_id: String,
    /// The channel header timestamp.
    pub timestamp: Option<Timestamp>,
    /// The `LAST_CONFIG` index, if the slot is set.
    pub last_config: Option<u64>,
}

/// Decodes a config envelope (`common.Envelope` whose header type is CONFIG).
fn parse_config_envelope(bytes: &[u8]) -> Result<(ChannelConfig, String, Option<Timestamp>)> {
    let view = tx::parse_envelope(bytes).map_err(ChannelError::wire("the config envelope"))?;
    if view.channel_header.known_header_type() != Some(HeaderType::Config) {
        return Err(ChannelError::NotConfigBlock {
            problem: format!(
                "its envelope has header type {}, not CONFIG (1); pass a genesis or config block",
                view.channel_header.header_type
            ),
        });
    }
    let config =
        ChannelConfig::from_config_envelope_bytes(&view.channel_header.channel_id, &view.data)?;
    Ok((
        config,
        view.channel_header.tx_id,
        view.channel_header.timestamp,
    ))
}

impl ChannelConfig {
    /// The config inside a CONFIG envelope (`common.Envelope` bytes, a config block's data
    /// entry); the channel ID comes from its channel header.
    pub fn from_config_envelope(bytes: &[u8]) -> Result<ChannelConfig> {
        parse_config_envelope(bytes).map(|(c, _, _)| c)
    }

    /// The config inside a config block (`common.Block` bytes): a genesis block or a later
    /// config block.
    pub fn from_config_block(bytes: &[u8]) -> Result<ChannelConfig> {
        inspect_config_block(bytes).map(|(c, _)| c)
    }
}

/// Decodes a config block: its config and what the block says about itself. The block must
/// hold exactly one envelope, of type CONFIG, and its data hash must match its data.
pub fn inspect_config_block(bytes: &[u8]) -> Result<(ChannelConfig, ConfigBlockInfo)> {
    let block = wc::decode_block(bytes).map_err(|e| ChannelError::NotConfigBlock {
        problem: format!("the bytes are not a Fabric block ({e})"),
    })?;
    if block.data.len() != 1 {
        return Err(ChannelError::NotConfigBlock {
            problem: format!(
                "block {} holds {} envelopes; a config block holds exactly one",
                block.number,
                block.data.len()
            ),
        });
    }
    if block.data_hash != cambium_wire::hash::block_data_hash(&block.data) {
        return Err(ChannelError::NotConfigBlock {
            problem: format!(
                "block {}'s data hash does not match its data; the file is corrupt or was altered",
                block.number
            ),
        });
    }
    let (config, tx_id, timestamp) = parse_config_envelope(&block.data[0])?;
    let last_config = match block.metadata.get(LAST_CONFIG_SLOT) {
        // Index 0 encodes as an empty slot (protobuf omits zero values), as in Fabric.
        Some(slot) => Some(
            wc::decode_last_config_index(slot, false)
                .map_err(ChannelError::wire("the LAST_CONFIG metadata"))?,
        ),
        None => None,
    };
    let info = ConfigBlockInfo {
        number: block.number,
        header_hash: cambium_wire::hash::block_header_hash(
            block.number,
            &block.previous_hash,
            &block.data_hash,
        ),
        tx_id,
        timestamp,
        last_config,
    };
    Ok((config, info))
}
