//! Block store, versioned state database and indexes of a Cambium channel.
//!
//! - **Block store**: append-only block files of Fabric `common.Block` bytes, each record with a
//!   length and a CRC-32, indexed by number, header hash and transaction ID. Header and data
//!   hashes follow Fabric's rules ([`hash`]).
//! - **State database**: namespaced keys with value, version `(block, tx)` and metadata; point
//!   reads, paged range scans, composite keys ([`composite`]) and a history index, all readable
//!   at a consistent snapshot while blocks commit.
//! - **Atomic commit**: a block is durable in the block store before state, history, indexes
//!   and the savepoint change together in one redb transaction; opening replays blocks above
//!   the savepoint and cuts torn writes off the tail ([`Ledger`]).
//! - **Seams**: [`BlockReader`], [`BlockWriter`], [`StateReader`] and [`SnapshotSource`], with
//!   an in-memory implementation ([`MemLedger`]) and one [`conformance`] suite for both.
//!   [`BlockWriter::commit_block`] is also the state writer: state changes only with a block.
//! - **Tools**: [`testkit`] builds chains of real endorser-transaction blocks and derives the
//!   commit input back from stored blocks; [`inspect`] renders blocks, transactions and keys
//!   for `cambium ledger inspect`.
//!
//! # Why redb
//!
//! The state database is [redb](https://docs.rs/redb) 4.x: one file, copy-on-write B-trees
//! with checksummed commits, and MVCC read transactions that are exactly the "consistent
//! snapshot while a block commits" the endorser needs. fjall 3.x (an LSM tree) was measured
//! with the same criterion bench (`benches/ledger.rs`, feature `bench`) on the ledger's access
//! pattern — one block of 500 transactions = 750 state writes + 750 history entries + 500
//! tx-ID entries, keys sorted — on this 2-core machine while other builds ran (load 4–6, so
//! figures swing between runs; ranges are medians of two `--quick` runs):
//!
//! | per block / read          | redb (chosen)  | fjall          |
//! |---------------------------|----------------|----------------|
//! | commit, fsync each block  | 62–69 ms       | 10–16 ms       |
//! | commit, no fsync          | 24–25 ms       | 13–18 ms       |
//! | point read of a hot key   | 1.1–2.0 µs     | 1.1–2.1 µs     |
//! | range scan of 1,000 keys  | 89–102 µs      | 346–613 µs     |
//!
//! fjall writes faster; redb scans 3.5–7× faster, keeps one file instead of an LSM directory
//! with background compaction threads competing for two cores, and its read transactions give
//! snapshots for free. The write gap matters less than it looks because the ledger does not
//! fsync the state per block: a block is durable in its block file before it is acknowledged,
//! state commits are atomic but synced every [`LedgerOptions::sync_state_every`] blocks, and
//! opening replays what a crash lost — so the per-block cost is the "no fsync" row plus one
//! block-file `fdatasync`. End to end, [`Ledger`] commits such a block in 26–47 ms (16k–28k
//! key writes/s) under that load: below the 50k/s target. redb's cost is B-tree write
//! amplification on random keys (every touched leaf is rewritten per commit); an LSM store for
//! the history and tx-ID indexes is the next step if the target must be met on this hardware.

mod block;
mod blockfile;
mod codec;
pub mod composite;
pub mod conformance;
mod error;
mod fabric;
pub mod hash;
pub mod inspect;
mod memory;
mod store;
pub mod testkit;
mod traits;
mod types;

pub use block::{Block, BlockCommit, METADATA_SLOTS, TRANSACTIONS_FILTER};
pub use error::{LedgerError, Result};
pub use memory::{MemLedger, MemSnapshot};
pub use store::{Ledger, LedgerOptions, LedgerSnapshot, BLOCKS_DIR, INDEX_FILE};
pub use traits::{BlockIter, BlockReader, BlockWriter, SnapshotSource, StateReader};
pub use types::{
    BlockNumber, HistoryEntry, KeyMetadata, KeyWrite, RangePage, StateEntry, StoredBlock,
    Timestamp, TxLocation, TxOutcome, TxValidationCode, Version, VersionedValue, WriteKind,
};
