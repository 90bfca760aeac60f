//! The seams: block reader and writer, state reader and writer, and snapshots.
//!
//! Every implementation ([`crate::Ledger`] on disk, [`crate::MemLedger`] in memory) passes the
//! same conformance suite ([`crate::conformance`]).

use sha2::{Digest, Sha256};

use crate::block::BlockCommit;
use crate::composite::partial_composite_range;
use crate::error::Result;
use crate::types::{HistoryEntry, RangePage, StoredBlock, TxLocation, VersionedValue};

/// Reads committed blocks.
pub trait BlockReader {
    /// The number of committed blocks (the next block's number).
    fn height(&self) -> Result<u64>;

    /// Block `number`, or `None` at or above the height.
    fn block(&self, number: u64) -> Result<Option<StoredBlock>>;

    /// The block whose header hash is `hash`.
    fn block_by_hash(&self, hash: &[u8]) -> Result<Option<StoredBlock>>;

    /// Where the transaction `tx_id` was committed (its first occurrence) and its code.
    fn transaction(&self, tx_id: &str) -> Result<Option<TxLocation>>;

    /// The block holding the transaction `tx_id`.
    fn block_by_tx_id(&self, tx_id: &str) -> Result<Option<StoredBlock>> {
        match self.transaction(tx_id)? {
            Some(loc) => self.block(loc.block_num),
            None => Ok(None),
        }
    }

    /// Blocks from `start` up to the height at the time of each step, in order.
    fn blocks_from(&self, start: u64) -> BlockIter<'_, Self>
    where
        Self: Sized,
    {
        BlockIter {
            reader: self,
            next: start,
        }
    }
}

/// Iterator over blocks from a height, made by [`BlockReader::blocks_from`].
#[derive(Debug)]
pub struct BlockIter<'a, R> {
    reader: &'a R,
    next: u64,
}

impl<R: BlockReader> Iterator for BlockIter<'_, R> {
    type Item = Result<StoredBlock>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.block(self.next) {
            Ok(Some(b)) => {
                self.next += 1;
                Some(Ok(b))
            }
            Ok(None) => None,
            Err(e) => {
                // Stop after reporting the error once.
                self.next = u64::MAX;
                Some(Err(e))
            }
        }
    }
}

/// Commits validated blocks: the block store and the state change together or not at all.
///
/// This is also the state writer: Fabric's state only ever changes by committing a block, so
/// the writes of a block's valid transactions go in with it (see [`BlockCommit`]).
pub trait BlockWriter {
    /// Writes `commit.block` with its validation codes in `TRANSACTIONS_FILTER`, applies the
    /// writes of its valid transactions at version `(block, tx)` and updates the indexes and
    /// the savepoint. Returns the block as stored.
    fn commit_block(&self, commit: &BlockCommit) -> Result<StoredBlock>;
}

/// Reads world state and history at one consistent height.
pub trait StateReader {
    /// The last block whose writes this view includes, `None` for an empty ledger.
    fn savepoint(&self) -> Result<Option<u64>>;

    /// The value of `key` in `namespace`.
    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>>;

    /// Keys of `namespace` in `[start, end)` in byte order (`end` empty: no upper bound), at
    /// most `limit` of them (0: no limit), starting at `bookmark` when one is given (the
    /// `bookmark` of the previous page). Composite keys (starting with `\x00`) sort first, so
    /// a Fabric-style simple-key scan starts at `"\x01"` rather than `""`.
    fn get_state_range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
        bookmark: Option<&str>,
    ) -> Result<RangePage>;

    /// Composite keys of `namespace` that start with `object_type` and `attributes`, paged
    /// like [`StateReader::get_state_range`].
    fn get_state_by_partial_composite_key(
        &self,
        namespace: &str,
        object_type: &str,
        attributes: &[&str],
        limit: usize,
        bookmark: Option<&str>,
    ) -> Result<RangePage> {
        let (start, end) = partial_composite_range(object_type, attributes)?;
        self.get_state_range(namespace, &start, &end, limit, bookmark)
    }

    /// The transactions that wrote `key` (puts and deletes), newest first, with the value each
    /// wrote read back from the block store.
    fn get_history_for_key(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>>;

    /// Calls `f` for every key of every namespace, in `(namespace, key)` order.
    fn for_each_state(
        &self,
        f: &mut dyn FnMut(&str, &str, &VersionedValue) -> Result<()>,
    ) -> Result<()>;

    /// SHA-256 over every `(namespace, key, value, version, metadata)` in order: two ledgers
    /// hold the same state exactly when their digests are equal.
    fn state_digest(&self) -> Result<[u8; 32]> {
        let mut h = Sha256::new();
        self.for_each_state(&mut |ns, key, v| {
            for part in [ns.as_bytes(), key.as_bytes(), &v.value] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part);
            }
            h.update(v.version.block_num.to_be_bytes());
            h.update(v.version.tx_num.to_be_bytes());
            h.update((v.metadata.len() as u64).to_be_bytes());
            for (name, value) in &v.metadata {
                h.update((name.len() as u64).to_be_bytes());
                h.update(name.as_bytes());
                h.update((value.len() as u64).to_be_bytes());
                h.update(value);
            }
            Ok(())
        })?;
        Ok(h.finalize().into())
    }
}

/// Hands out read-only views fixed at the height they were taken, unaffected by later
/// commits (what the endorser simulates against while blocks keep committing).
pub trait SnapshotSource {
    /// The snapshot type.
    type Snapshot: StateReader + BlockReader + Send;

    /// A view of everything committed so far.
    fn snapshot(&self) -> Result<Self::Snapshot>;
}
