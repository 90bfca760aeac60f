//! Fabric's block hashes (header hash over DER, data hash over the concatenated envelopes).
//!
//! They are part of Fabric's wire format and live in `cambium-wire`; this module re-exports
//! them so ledger users keep one import path.

pub use cambium_wire::hash::{block_data_hash, block_header_bytes, block_header_hash};
