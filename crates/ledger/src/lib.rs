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
