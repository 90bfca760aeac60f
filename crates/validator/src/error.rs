//! The error type of block validation.
//!
//! A transaction that breaks a rule is not an error: it gets a [`TxValidationCode`] and the
//! block goes on. An error means the validator could not *decide*, because something it
//! depends on failed (the ledger could not be read, a policy source failed). The caller must
//! not commit the block then; it retries once the cause is fixed, exactly as Fabric's
//! committer stops on a ledger failure instead of guessing.
//!
//! [`TxValidationCode`]: cambium_primitives::TxValidationCode

/// Why a block could not be validated.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    /// The committed state or the transaction index could not be read.
    #[error(
        "transaction {index} of block {block}: the ledger could not be read: {source}; \
         fix the ledger (see the cause) and validate the block again"
    )]
    Ledger {
        /// The block being validated.
        block: u64,
        /// The transaction being validated.
        index: usize,
        /// What the ledger reported.
        #[source]
        source: cambium_ledger::LedgerError,
    },
    /// The source of endorsement policies failed for a namespace.
    #[error(
        "transaction {index} of block {block}: the endorsement policy of '{namespace}' could \
         not be looked up: {problem}; fix the policy source and validate the block again"
    )]
    PolicyLookup {
        /// The block being validated.
        block: u64,
        /// The transaction being validated.
        index: usize,
        /// The namespace whose policy was asked for.
        namespace: String,
        /// What went wrong.
        problem: String,
    },
    /// The block's number does not follow the snapshot it is validated against.
    #[error(
        "block {block} cannot be validated against a state whose last block is {savepoint}; \
         validate block {expected} first (blocks are validated in order, each against the \
         state the blocks before it left)"
    )]
    OutOfOrder {
        /// The block's number.
        block: u64,
        /// The last block included in the state, as text (`none` for an empty ledger).
        savepoint: String,
        /// The block that must be validated next.
        expected: u64,
    },
}

/// Result alias for [`ValidatorError`].
pub type Result<T, E = ValidatorError> = std::result::Result<T, E>;
