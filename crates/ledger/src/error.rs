//! The ledger's one error type and its `Result` alias.

use std::path::PathBuf;

/// Everything that can go wrong while opening, committing to or reading a ledger.
///
/// Each message says what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An operating-system I/O call failed.
    #[error("I/O error while {action} {}: {source}; check the disk (space, permissions) and retry", path.display())]
    Io {
        /// What the ledger was doing, e.g. "appending a block to".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The embedded key-value store (redb) failed.
    #[error("state database error while {action}: {message}; the last committed block is unchanged, retry or reopen the ledger")]
    Store {
        /// What the ledger was doing.
        action: &'static str,
        /// The store's own message.
        message: String,
    },

    /// A block file holds a damaged record that is not a torn write at the tail.
    #[error("block file {} is corrupt at offset {offset}: {reason}; the ledger cannot start. Restore this file from a backup or another peer (or delete the ledger directory and resync from the orderer)", path.display())]
    Corrupt {
        /// The damaged block file.
        path: PathBuf,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What exactly is wrong.
        reason: String,
    },

    /// The chain of header hashes is broken on disk.
    #[error("block {number} in {} at offset {offset} does not link to block {}: its previous hash is {found} but block {} hashes to {expected}; the block files were mixed or tampered with. Restore the ledger from a backup or resync it from the orderer", path.display(), number.wrapping_sub(1), number.wrapping_sub(1))]
    BrokenChain {
        /// The block whose previous hash does not match.
        number: u64,
        /// The block file holding it.
        path: PathBuf,
        /// Byte offset of its record.
        offset: u64,
        /// Hex of the header hash of the block before.
        expected: String,
        /// Hex of the previous hash the block carries.
        found: String,
    },

    /// The index and the block files disagree in a way that recovery cannot fix.
    #[error("ledger index and block files disagree: {0}; restore the ledger directory from a backup or resync it from the orderer")]
    Inconsistent(String),

    /// A block offered for commit does not fit on top of the ledger.
    #[error("block rejected: {0}")]
    InvalidBlock(String),

    /// Bytes that should hold a Fabric message could not be decoded.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        message: String,
    },

    /// A namespace or key cannot be stored.
    #[error("invalid key: {0}")]
    InvalidKey(String),

    /// A range request is malformed.
    #[error("invalid range request: {0}")]
    InvalidRange(String),

    /// Another process (or another `Ledger` in this one) has the ledger open.
    #[error("ledger {} is already open in another process (a running peer or orderer?); stop it first, or inspect a copy of the directory", .0.display())]
    Locked(PathBuf),

    /// A read-only open was pointed at a directory without a ledger's index.
    #[error("{} is not a ledger directory (it has no {}); pass the directory a peer keeps a channel's ledger in", .0.display(), crate::INDEX_FILE)]
    NotALedger(PathBuf),

    /// A read-only open found a ledger that only a recovering open can read: its state
    /// database was not closed cleanly, or blocks lie above the state's savepoint.
    #[error("ledger {} cannot be read without recovering it first: {reason}; open it normally once (its peer does on start), which recovers it in place", .dir.display())]
    NeedsRecovery {
        /// The ledger directory.
        dir: PathBuf,
        /// What was found.
        reason: String,
    },

    /// An earlier commit failed half-way and the ledger refuses further writes.
    #[error(
        "the ledger stopped accepting commits after an earlier failure ({0}); reopen it to recover"
    )]
    Poisoned(String),
}

/// `Result` with [`LedgerError`].
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl LedgerError {
    /// Wraps an I/O error with what was being done and to which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LedgerError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Wraps a store error with what was being done.
    pub(crate) fn store(action: &'static str, err: impl std::fmt::Display) -> Self {
        LedgerError::Store {
            action,
            message: err.to_string(),
        }
    }
}
