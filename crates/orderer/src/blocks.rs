//! A channel's chain as readers see it: the durable block store plus the blocks Raft has
//! committed that are still on their way into it.
//!
//! A block is durable once its Raft entry is committed: the Raft log is fsynced before an entry
//! counts towards a quorum. Writing the block store is therefore taken off the path between
//! commit and acknowledgement: applying an entry puts the block in memory ([`Blocks::push`]),
//! where Deliver and the cutter see it at once, and a writer thread appends it to the block
//! store. The writer writes the blocks queued meanwhile without an fsync, makes them durable
//! with one fsync once enough have gathered (or enough time passed, or someone flushes), and
//! only then advances the state machine's applied mark (see [`crate::raft::ChainStateMachine`]).
//! After a crash, which may lose the blocks written since the last fsync, the applied mark is
//! at or below the last durable block,
//! so openraft re-applies every later committed entry from the Raft log and the missing blocks
//! are derived again. That needs the Raft log to keep every
//! entry above the block store's height, which holds because the log is purged only below a
//! snapshot, and a snapshot is taken at the applied mark ([`crate::raft::ChainMark`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cambium_ledger::{BlockReader, Ledger};

use crate::error::{OrdererError, Result};

/// A committed block not yet in the block store.
struct Unwritten {
    bytes: Arc<Vec<u8>>,
    hash: [u8; 32],
}

struct View {
    /// Height of the chain including unwritten blocks.
    height: u64,
    /// Header hash of block `height - 1`.
    tip: Option<[u8; 32]>,
    /// Blocks above the block store's height, by number.
    unwritten: BTreeMap<u64, Unwritten>,
    /// Why the block writer stopped, if it did.
    failure: Option<String>,
}

/// A block as [`Blocks::block`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainBlock {
    /// Encoded `common.Block`.
    pub(crate) bytes: Arc<Vec<u8>>,
    /// Header hash.
    pub(crate) hash: [u8; 32],
}

/// The chain of one channel: the block store and, above its height, the committed blocks
/// still queued for it.
pub(crate) struct Blocks {
    ledger: Arc<Ledger>,
    view: Mutex<View>,
    /// Test hook standing in for a crash between writing blocks to the block store and the
    /// fsync that makes them durable: while set, the writer writes each group of blocks and
    /// then stops short of the fsync, the mark and everything after, as a process killed
    /// there would.
    #[cfg(test)]
    pub(crate) crash_before_sync: std::sync::atomic::AtomicBool,
}

impl Blocks {
    /// The chain over `ledger`, with nothing queued.
    pub(crate) fn new(ledger: Arc<Ledger>) -> Result<Blocks> {
        let height = ledger.height()?;
        let tip = match height {
            0 => None,
            h => ledger.block(h - 1)?.map(|b| b.hash),
        };
        Ok(Blocks {
            ledger,
            view: Mutex::new(View {
                height,
                tip,
                unwritten: BTreeMap::new(),
                failure: None,
            }),
            #[cfg(test)]
            crash_before_sync: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().expect("chain view lock")
    }

    /// The block store underneath.
    pub(crate) fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The chain height, counting committed blocks not yet in the block store.
    pub(crate) fn height(&self) -> u64 {
        self.view().height
    }

    /// The height and the header hash of the last block.
    pub(crate) fn tip(&self) -> (u64, Option<[u8; 32]>) {
        let view = self.view();
        (view.height, view.tip)
    }

    /// Block `number`, from memory if it is not in the block store yet.
    pub(crate) fn block(&self, number: u64) -> Result<Option<ChainBlock>> {
        {
            let view = self.view();
            if number >= view.height {
                return Ok(None);
            }
            if let Some(u) = view.unwritten.get(&number) {
                return Ok(Some(ChainBlock {
                    bytes: u.bytes.clone(),
                    hash: u.hash,
                }));
            }
        }
        // Below the first unwritten block: in the block store (a block leaves memory only
        // once it is there).
        Ok(self.ledger.block(number)?.map(|b| ChainBlock {
            bytes: Arc::new(b.bytes),
            hash: b.hash,
        }))
    }

    /// Adds committed block `number` on top of the chain; the caller checked that it extends
    /// the tip.
    pub(crate) fn push(&self, number: u64, bytes: Arc<Vec<u8>>, hash: [u8; 32]) {
        let mut view = self.view();
        debug_assert_eq!(number, view.height, "blocks are pushed in order");
        view.unwritten.insert(number, Unwritten { bytes, hash });
        view.height = number + 1;
        view.tip = Some(hash);
    }

    /// Block `number` is now durable in the block store: readers find it there.
    pub(crate) fn written(&self, number: u64) {
        self.view().unwritten.remove(&number);
    }

    /// How many committed blocks wait for the block store (or for its fsync).
    pub(crate) fn unwritten(&self) -> usize {
        self.view().unwritten.len()
    }

    /// Records that the block writer failed; the chain refuses new blocks from then on.
    pub(crate) fn fail(&self, why: String) {
        self.view().failure.get_or_insert(why);
    }

    /// Why the block writer failed, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.view().failure.clone()
    }

    /// Checks that the block store answers and the writer has not failed.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(why) = self.failure() {
            return Err(OrdererError::Config(format!(
                "writing the block store failed: {why}; restart the orderer, it re-derives the missing blocks from its Raft log"
            )));
        }
        self.ledger.height()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_ledger::{Block, BlockCommit, BlockWriter, TxOutcome, TxValidationCode};

    fn commit(ledger: &Ledger, block: Block) {
        let outcomes = vec![TxOutcome::invalid(TxValidationCode::NotValidated); block.data.len()];
        ledger
            .commit_block(&BlockCommit { block, outcomes })
            .unwrap();
    }

    #[test]
    fn unwritten_blocks_are_read_from_memory_until_written() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(dir.path()).unwrap());
        let genesis = Block::new(0, Vec::new(), vec![b"genesis".to_vec()]);
        let genesis_hash = genesis.header_hash();
        commit(&ledger, genesis);
        let blocks = Blocks::new(ledger.clone()).unwrap();
        assert_eq!(blocks.tip(), (1, Some(genesis_hash)));

        let mut one = Block::new(1, genesis_hash.to_vec(), vec![b"tx".to_vec()]);
        assert!(crate::raft::set_unvalidated_filter(&mut one));
        assert!(!crate::raft::set_unvalidated_filter(&mut one));
        let hash = one.header_hash();
        let bytes = Arc::new(one.encode());
        blocks.push(1, bytes.clone(), hash);
        assert_eq!(blocks.tip(), (2, Some(hash)));
        assert_eq!(blocks.unwritten(), 1);
        assert_eq!(blocks.block(1).unwrap().unwrap().bytes, bytes);
        assert!(blocks.block(2).unwrap().is_none());
        assert_eq!(ledger.height().unwrap(), 1);

        commit(&ledger, one);
        blocks.written(1);
        assert_eq!(blocks.unwritten(), 0);
        let read = blocks.block(1).unwrap().unwrap();
        // The block store holds the very bytes readers got from memory.
        assert_eq!((read.bytes, read.hash), (bytes, hash));
        assert_eq!(blocks.block(0).unwrap().unwrap().hash, genesis_hash);

        assert!(blocks.check().is_ok());
        blocks.fail("disk full".into());
        let err = blocks.check().unwrap_err().to_string();
        assert!(err.contains("disk full"), "{err}");
    }
}
