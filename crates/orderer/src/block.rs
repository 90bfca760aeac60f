//! Block assembly and the orderer's block signature, as Fabric's block writer makes them.
//!
//! Metadata slot `SIGNATURES` holds `Metadata{value = OrdererBlockMetadata{last_config,
//! consenter_metadata}, signatures = [MetadataSignature{signature_header, signature}]}` where the
//! signature covers `value ‖ signature_header ‖ BlockHeaderBytes`; slot `LAST_CONFIG` holds
//! `Metadata{value = LastConfig{index}}`. The leader signs; followers store the block as
//! replicated, so every node's chain is byte-identical.

use cambium_ledger::hash::block_header_bytes;
use cambium_ledger::Block;
use cambium_msp::policy::SignedData;
use cambium_msp::SigningIdentity;
use cambium_primitives::SerializedIdentity;
use cambium_wire::{common, Message};
use rand::RngCore;

use crate::error::{OrdererError, Result};

const SIGNATURES: usize = common::BlockMetadataIndex::Signatures as usize;
const LAST_CONFIG: usize = common::BlockMetadataIndex::LastConfig as usize;

/// Builds block `number` on top of `previous_hash` holding `envelopes`, and signs it with
/// `signer` recording `last_config` as the last config block.
pub fn assemble_block(
    number: u64,
    previous_hash: Vec<u8>,
    envelopes: Vec<Vec<u8>>,
    last_config: u64,
    signer: &SigningIdentity,
) -> Result<Block> {
    let mut block = Block::new(number, previous_hash, envelopes);
    sign_block(&mut block, last_config, signer)?;
    Ok(block)
}

/// Writes the `SIGNATURES` and `LAST_CONFIG` metadata slots of `block`.
pub fn sign_block(block: &mut Block, last_config: u64, signer: &SigningIdentity) -> Result<()> {
    let value = common::OrdererBlockMetadata {
        last_config: Some(common::LastConfig { index: last_config }),
        consenter_metadata: Vec::new(),
    }
    .encode_to_vec();
    let mut nonce = vec![0u8; cambium_wire::tx::NONCE_SIZE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let signature_header = cambium_wire::tx::signature_header_bytes(&creator, &nonce);
    let message = signed_message(block, &value, &signature_header);
    let signature = signer.sign(&message)?;
    let slot = common::Metadata {
        value,
        signatures: vec![common::MetadataSignature {
            signature_header,
            signature,
            identifier_header: Vec::new(),
        }],
    };
    block.metadata.resize(
        cambium_ledger::METADATA_SLOTS.max(block.metadata.len()),
        Vec::new(),
    );
    block.metadata[SIGNATURES] = slot.encode_to_vec();
    block.metadata[LAST_CONFIG] = common::Metadata {
        value: common::LastConfig { index: last_config }.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec();
    Ok(())
}

fn signed_message(block: &Block, value: &[u8], signature_header: &[u8]) -> Vec<u8> {
    let header = block_header_bytes(block.number, &block.previous_hash, &block.data_hash);
    let mut message = Vec::with_capacity(value.len() + signature_header.len() + header.len());
    message.extend_from_slice(value);
    message.extend_from_slice(signature_header);
    message.extend_from_slice(&header);
    message
}

/// What a block's `SIGNATURES` slot says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSignatures {
    /// The last config block index recorded by the orderer.
    pub last_config: u64,
    /// One entry per signature, ready for policy evaluation (Fabric's `BlockValidation` policy).
    pub signed: Vec<SignedData>,
}

/// Decodes the `SIGNATURES` slot of `block` into signed data over the exact signed bytes.
pub fn block_signatures(block: &Block) -> Result<BlockSignatures> {
    let bytes = block.metadata.get(SIGNATURES).cloned().unwrap_or_default();
    let slot = common::Metadata::decode(bytes.as_slice()).map_err(|e| {
        OrdererError::Config(format!("block {} SIGNATURES metadata: {e}", block.number))
    })?;
    let meta = common::OrdererBlockMetadata::decode(slot.value.as_slice()).map_err(|e| {
        OrdererError::Config(format!("block {} OrdererBlockMetadata: {e}", block.number))
    })?;
    let mut signed = Vec::with_capacity(slot.signatures.len());
    for sig in slot.signatures {
        let header =
            common::SignatureHeader::decode(sig.signature_header.as_slice()).map_err(|e| {
                OrdererError::Config(format!("block {} signature header: {e}", block.number))
            })?;
        let identity: SerializedIdentity =
            cambium_wire::decode_serialized_identity(&header.creator)?;
        signed.push(SignedData {
            data: signed_message(block, &slot.value, &sig.signature_header),
            identity,
            signature: sig.signature,
        });
    }
    Ok(BlockSignatures {
        last_config: meta.last_config.map_or(0, |l| l.index),
        signed,
    })
}
