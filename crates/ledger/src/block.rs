//! Blocks as plain data, the commit input, and the checks and preparation every
//! implementation runs before it stores a block.

use crate::codec::{check_namespace, TxRecord};
use crate::error::{LedgerError, Result};
use crate::fabric;
use crate::hash::{block_data_hash, block_header_hash};
use crate::types::{TxOutcome, Version, WriteKind};

/// Index of the `TRANSACTIONS_FILTER` slot in `BlockMetadata.metadata`.
pub const TRANSACTIONS_FILTER: usize = 2;
/// Number of metadata slots every Fabric block carries.
pub const METADATA_SLOTS: usize = 5;

/// A Fabric `common.Block` as plain data.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Block {
    /// `header.number`.
    pub number: u64,
    /// `header.previous_hash`: the header hash of the block before (empty for genesis).
    pub previous_hash: Vec<u8>,
    /// `header.data_hash`: SHA-256 of the concatenated `data`.
    pub data_hash: Vec<u8>,
    /// `data.data`: serialised envelopes, exactly as ordered.
    pub data: Vec<Vec<u8>>,
    /// `metadata.metadata`: the metadata slots, exactly as received.
    pub metadata: Vec<Vec<u8>>,
}

impl Block {
    /// A block on top of `previous_hash` holding `data`, with its data hash computed and five
    /// empty metadata slots (what an orderer cuts before it signs).
    pub fn new(number: u64, previous_hash: Vec<u8>, data: Vec<Vec<u8>>) -> Self {
        Block {
            number,
            previous_hash,
            data_hash: block_data_hash(&data).to_vec(),
            data,
            metadata: vec![Vec::new(); METADATA_SLOTS],
        }
    }

    /// Decodes `common.Block` bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        fabric::decode_block(bytes)
    }

    /// Encodes as `common.Block` bytes.
    pub fn encode(&self) -> Vec<u8> {
        fabric::encode_block(self)
    }

    /// The header hash (what the next block's `previous_hash` must be).
    pub fn header_hash(&self) -> [u8; 32] {
        block_header_hash(self.number, &self.previous_hash, &self.data_hash)
    }

    /// The validation codes in `TRANSACTIONS_FILTER` (empty if the slot is unset).
    pub fn transactions_filter(&self) -> &[u8] {
        self.metadata
            .get(TRANSACTIONS_FILTER)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// The commit input: a block and what the validator decided for each of its transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockCommit {
    /// The block as ordered; its `TRANSACTIONS_FILTER` slot is overwritten from `outcomes`.
    pub block: Block,
    /// One outcome per entry of `block.data`, in order.
    pub outcomes: Vec<TxOutcome>,
}

/// A block checked and ready to store, shared by every implementation.
#[derive(Debug)]
pub(crate) struct PreparedBlock {
    pub(crate) number: u64,
    pub(crate) hash: [u8; 32],
    /// The final `common.Block` bytes (filter written).
    pub(crate) bytes: Vec<u8>,
    pub(crate) txs: Vec<TxRecord>,
}

/// Checks that `commit` extends a ledger of `height` whose last header hash is `tip_hash`,
/// writes the filter and extracts transaction IDs and timestamps.
pub(crate) fn prepare(
    commit: &BlockCommit,
    height: u64,
    tip_hash: Option<[u8; 32]>,
) -> Result<PreparedBlock> {
    let block = &commit.block;
    if block.number != height {
        return Err(LedgerError::InvalidBlock(format!(
            "block number {} is not the next block; the ledger height is {height}, so commit block {height}",
            block.number
        )));
    }
    if let Some(tip) = tip_hash {
        if block.previous_hash != tip {
            return Err(LedgerError::InvalidBlock(format!(
                "block {} has previous hash {} but block {} hashes to {}; fetch the block again from the orderer",
                block.number,
                hex(&block.previous_hash),
                height - 1,
                hex(&tip)
            )));
        }
    }
    let data_hash = block_data_hash(&block.data);
    if block.data_hash != data_hash {
        return Err(LedgerError::InvalidBlock(format!(
            "block {} has data hash {} but its data hashes to {}; the block was altered in transit",
            block.number,
            hex(&block.data_hash),
            hex(&data_hash)
        )));
    }
    if commit.outcomes.len() != block.data.len() {
        return Err(LedgerError::InvalidBlock(format!(
            "block {} has {} transactions but {} outcomes were given; give one outcome per transaction",
            block.number,
            block.data.len(),
            commit.outcomes.len()
        )));
    }
    let mut txs = Vec::with_capacity(block.data.len());
    for (i, (envelope, outcome)) in block.data.iter().zip(&commit.outcomes).enumerate() {
        if !outcome.code.is_valid() && !outcome.writes.is_empty() {
            return Err(LedgerError::InvalidBlock(format!(
                "transaction {i} of block {} is {} but carries writes; only VALID transactions write",
                block.number, outcome.code
            )));
        }
        for w in &outcome.writes {
            check_namespace(&w.namespace)?;
        }
        let header = fabric::channel_header(envelope);
        txs.push(TxRecord {
            tx_id: header.as_ref().map(|h| h.tx_id.clone()).unwrap_or_default(),
            timestamp: header.and_then(|h| h.timestamp),
            code: outcome.code,
            writes: outcome.writes.clone(),
        });
    }
    let mut stored = block.clone();
    if stored.metadata.len() < METADATA_SLOTS {
        stored.metadata.resize(METADATA_SLOTS, Vec::new());
    }
    stored.metadata[TRANSACTIONS_FILTER] = commit.outcomes.iter().map(|o| o.code.as_u8()).collect();
    Ok(PreparedBlock {
        number: block.number,
        hash: block.header_hash(),
        bytes: stored.encode(),
        txs,
    })
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The state operations a commit needs from a store, so every implementation applies writes
/// with the same rules.
pub(crate) trait ApplyTarget {
    fn get(&mut self, namespace: &str, key: &str) -> Result<Option<crate::VersionedValue>>;
    fn put(&mut self, namespace: &str, key: &str, value: crate::VersionedValue) -> Result<()>;
    fn delete(&mut self, namespace: &str, key: &str) -> Result<()>;
    /// Sets the value and version of a key, keeping whatever metadata it has. A store may
    /// override this to avoid reading the key first.
    fn put_keep_metadata(
        &mut self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        version: Version,
    ) -> Result<()> {
        let metadata = self
            .get(namespace, key)?
            .map(|old| old.metadata)
            .unwrap_or_default();
        self.put(
            namespace,
            key,
            crate::VersionedValue {
                value,
                version,
                metadata,
            },
        )
    }
    fn add_history(&mut self, namespace: &str, key: &str, version: Version) -> Result<()>;
    /// A put as [`apply`] makes it: [`ApplyTarget::put_keep_metadata`], then
    /// [`ApplyTarget::add_history`]. A store may override this to find the key once for both.
    fn put_with_history(
        &mut self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        version: Version,
    ) -> Result<()> {
        self.put_keep_metadata(namespace, key, value, version)?;
        self.add_history(namespace, key, version)
    }
    /// Indexes `tx_id` unless it is already indexed (the first occurrence wins).
    fn index_tx(
        &mut self,
        tx_id: &str,
        block_num: u64,
        tx_num: u64,
        code: crate::TxValidationCode,
    ) -> Result<()>;
}

/// Applies the transactions `txs` of block `number` in order: puts keep metadata, metadata writes
/// keep the value (and are ignored for a missing key), deletes remove both; puts and deletes
/// enter the history.
pub(crate) fn apply(number: u64, txs: &[TxRecord], target: &mut impl ApplyTarget) -> Result<()> {
    for (tx_num, tx) in txs.iter().enumerate() {
        let version = Version::new(number, tx_num as u64);
        if !tx.tx_id.is_empty() {
            target.index_tx(&tx.tx_id, number, tx_num as u64, tx.code)?;
        }
        for w in &tx.writes {
            match &w.kind {
                WriteKind::Put(value) => {
                    target.put_with_history(&w.namespace, &w.key, value.clone(), version)?;
                }
                WriteKind::Delete => {
                    target.delete(&w.namespace, &w.key)?;
                    target.add_history(&w.namespace, &w.key, version)?;
                }
                WriteKind::Metadata(metadata) => {
                    if let Some(old) = target.get(&w.namespace, &w.key)? {
                        target.put(
                            &w.namespace,
                            &w.key,
                            crate::VersionedValue {
                                value: old.value,
                                version,
                                metadata: metadata.clone(),
                            },
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The value a transaction left for `key`: its last put or delete of that key.
pub(crate) fn value_written(tx: &TxRecord, namespace: &str, key: &str) -> Option<Option<Vec<u8>>> {
    tx.writes
        .iter()
        .rev()
        .filter(|w| w.namespace == namespace && w.key == key)
        .find_map(|w| match &w.kind {
            WriteKind::Put(v) => Some(Some(v.clone())),
            WriteKind::Delete => Some(None),
            WriteKind::Metadata(_) => None,
        })
}
