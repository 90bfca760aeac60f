//! Plain data the ledger takes in and hands out: values, writes, outcomes, pages.
//!
//! Versions, validation codes and timestamps are `cambium-primitives` types.

use std::collections::BTreeMap;

pub use cambium_primitives::{Timestamp, TxValidationCode, Version};

/// A block number (height of the block in the chain, genesis is 0).
pub type BlockNumber = u64;

/// Key-level metadata (Fabric's `KVMetadataWrite` entries, e.g. `VALIDATION_PARAMETER`).
pub type KeyMetadata = BTreeMap<String, Vec<u8>>;

/// A value in the state database with the version that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    /// The value bytes.
    pub value: Vec<u8>,
    /// `(block, tx)` of the last write of the value or of its metadata.
    pub version: Version,
    /// Key-level metadata; empty when the key has none.
    pub metadata: KeyMetadata,
}

/// What one write does to one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// Set the value; existing metadata is kept.
    Put(Vec<u8>),
    /// Remove the key with its metadata.
    Delete,
    /// Replace the key's metadata, keeping the value (an empty map clears it). A metadata
    /// write to a key that does not exist is ignored, as in Fabric.
    Metadata(KeyMetadata),
}

/// One write of a valid transaction, as the validator decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyWrite {
    /// The namespace (contract name); must not contain a NUL byte.
    pub namespace: String,
    /// The key; may be a composite key (starts with `\x00`).
    pub key: String,
    /// What happens to the key.
    pub kind: WriteKind,
}

impl KeyWrite {
    /// A write setting `key` in `namespace` to `value`.
    pub fn put(
        namespace: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> Self {
        KeyWrite {
            namespace: namespace.into(),
            key: key.into(),
            kind: WriteKind::Put(value.into()),
        }
    }

    /// A write deleting `key` in `namespace`.
    pub fn delete(namespace: impl Into<String>, key: impl Into<String>) -> Self {
        KeyWrite {
            namespace: namespace.into(),
            key: key.into(),
            kind: WriteKind::Delete,
        }
    }

    /// A write replacing the metadata of `key` in `namespace`.
    pub fn metadata(
        namespace: impl Into<String>,
        key: impl Into<String>,
        metadata: KeyMetadata,
    ) -> Self {
        KeyWrite {
            namespace: namespace.into(),
            key: key.into(),
            kind: WriteKind::Metadata(metadata),
        }
    }
}

/// What the validator decided for one transaction of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// The validation code written into `TRANSACTIONS_FILTER`.
    pub code: TxValidationCode,
    /// The writes to apply at version `(block, tx)`; must be empty unless `code` is `VALID`.
    pub writes: Vec<KeyWrite>,
}

impl TxOutcome {
    /// A valid transaction with these writes.
    pub fn valid(writes: Vec<KeyWrite>) -> Self {
        TxOutcome {
            code: TxValidationCode::Valid,
            writes,
        }
    }

    /// The outcome of a transaction the validator decided with `code`: for a valid one, the
    /// writes of `rwset` in Fabric's order (per namespace its writes, then its metadata
    /// writes); for an invalid one, nothing.
    pub fn from_rwset(code: TxValidationCode, rwset: &cambium_primitives::TxRwSet) -> Self {
        if !code.is_valid() {
            return TxOutcome::invalid(code);
        }
        let mut writes = Vec::new();
        for ns in &rwset.ns {
            for w in &ns.writes {
                writes.push(if w.is_delete {
                    KeyWrite::delete(&ns.namespace, &w.key)
                } else {
                    KeyWrite::put(&ns.namespace, &w.key, w.value.clone())
                });
            }
            for m in &ns.metadata_writes {
                let entries = m
                    .entries
                    .iter()
                    .map(|e| (e.name.clone(), e.value.clone()))
                    .collect();
                writes.push(KeyWrite::metadata(&ns.namespace, &m.key, entries));
            }
        }
        TxOutcome::valid(writes)
    }

    /// An invalid transaction (no writes).
    pub fn invalid(code: TxValidationCode) -> Self {
        TxOutcome {
            code,
            writes: Vec::new(),
        }
    }
}

/// Where a transaction was committed, found by its ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// The transaction ID.
    pub tx_id: String,
    /// The block that holds it.
    pub block_num: u64,
    /// Its index inside the block.
    pub tx_num: u64,
    /// Its validation code.
    pub code: TxValidationCode,
}

/// One change of a key, as returned by a history query (Fabric's `KeyModification`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The writing transaction's `(block, tx)`.
    pub version: Version,
    /// The writing transaction's ID.
    pub tx_id: String,
    /// The value written, `None` for a delete.
    pub value: Option<Vec<u8>>,
    /// The transaction's timestamp, if its header carried one.
    pub timestamp: Option<Timestamp>,
}

/// One key with its value, as returned by a range scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// The key.
    pub key: String,
    /// Its value and version.
    pub value: VersionedValue,
}

/// One page of a range scan.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RangePage {
    /// The keys of the page in ascending byte order.
    pub entries: Vec<StateEntry>,
    /// The key to pass as `bookmark` for the next page, or `None` when the range is exhausted.
    pub bookmark: Option<String>,
}

/// A committed block as the block store hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    /// The block number.
    pub number: u64,
    /// SHA-256 of the block header's DER encoding (what the next block's `previous_hash` holds).
    pub hash: [u8; 32],
    /// The exact `common.Block` bytes as stored, `TRANSACTIONS_FILTER` included.
    pub bytes: Vec<u8>,
}
