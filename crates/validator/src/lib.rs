//! Deterministic block validation, as Fabric's committer validates blocks.
//!
//! [`validate_block`] decides a [`TxValidationCode`] for every transaction of a block and,
//! for the valid ones, the writes to apply at version `(block, tx)`. The result
//! ([`BlockValidation`]) gives the `TRANSACTIONS_FILTER` bytes and the ledger's
//! [`cambium_ledger::BlockCommit`].
//!
//! - First, in parallel: decoding, headers, the channel, the creator's identity and
//!   signature, the transaction ID, the endorsed action (one action, proposal hash, chaincode
//!   ID and version, event), the read/write set, and the endorsement policy of every written
//!   namespace over the de-duplicated, MSP-validated endorsements.
//! - Then sequentially, in block order: duplicate transaction IDs (in the ledger, or earlier
//!   in the block: the first valid one wins) and MVCC (reads and range queries against the
//!   committed state plus the writes of earlier valid transactions of the block).
//!
//! **The validator never executes contract code.** It reads signatures, policies, versions
//! and nothing else, and does not depend on `cambium-vm`.
//!
//! # Determinism
//!
//! The same block and committed state give the same codes and writes on every peer, with any
//! number of threads: per-transaction checks share nothing, results are collected by index,
//! maps are `BTreeMap`s, and no clock is read. Certificate validity periods are checked at
//! [`ValidationOptions::identity_time`], which the caller derives from the block.
//! Fabric itself does not check expiry when it validates a block (its MSP validates chains
//! at the certificate's own `NotBefore`, because every peer validates at a different moment);
//! it rejects expired creators when the orderer accepts a transaction. Cambium's MSP does
//! check validity windows, so the time must be deterministic: a committer passes a time
//! taken from the block (for example the timestamp of the block's config or of the orderer's
//! metadata, agreed by consensus), never `now`.
//!
//! # Codes, and where Cambium differs from Fabric 2.5
//!
//! - Empty envelope bytes: `NIL_ENVELOPE`; bytes that are not an envelope:
//!   `INVALID_OTHER_REASON` (as Fabric); payload: `BAD_PAYLOAD`; missing header, signature
//!   header, nonce or creator: `BAD_COMMON_HEADER`; undecodable channel header or an epoch other
//!   than 0: `BAD_CHANNEL_HEADER`.
//! - A header type other than ENDORSER_TRANSACTION and CONFIG: `UNKNOWN_TX_TYPE` (Fabric gives
//!   `BAD_COMMON_HEADER` or `UNSUPPORTED_TX_PAYLOAD` depending on the type).
//! - Another channel: `TARGET_CHAIN_NOT_FOUND`, checked before the creator's signature
//!   (Fabric finds no MSPs for an unknown channel and says `BAD_CREATOR_SIGNATURE`).
//! - A namespace without a contract definition, or an endorsement policy not satisfied:
//!   `ENDORSEMENT_POLICY_FAILURE`. A transaction that writes nothing is checked against the
//!   policy of the chaincode it invokes. Writes to `lscc`, `qscc` or `cscc`:
//!   `ILLEGAL_WRITESET`. Key-level (state-based) endorsement policies are not evaluated yet.
//! - `_lifecycle`: a write to an org's approval key (`approvals/<MSPID>/…`) must be endorsed
//!   by a peer of that org (Fabric keeps approvals in the org's implicit collection, whose
//!   endorsement policy is the org itself); any other `_lifecycle` write (a committed
//!   definition) needs `/Channel/Application/LifecycleEndorsement`. With
//!   [`LifecyclePolicies`], contract policies come from the committed definitions.
//! - Signed packages (`cambium_lifecycle::package_signing`): on a channel with the
//!   Application policy `PackageSigners`, an approval written with a local package must record
//!   owner signatures (field 1003) that satisfy it, and a definition commit is valid only if
//!   the approvals it read (matching the definition, with a local package) do so under the
//!   channel's policy at that block; signers are validated by the channel's MSPs at
//!   [`ValidationOptions::identity_time`]. Otherwise `ENDORSEMENT_POLICY_FAILURE`.
//! - Canary rollouts: the invoked contract's endorsed version
//!   (`ChaincodeAction.chaincode_id.version`) must be the one the rollout in force at the
//!   block assigns to the transaction (by tx ID and creator, `cambium_lifecycle::assign`),
//!   or either of the two versions within the grace window after the last switch (commit,
//!   step, promote, abort); otherwise `CHAINCODE_VERSION_CONFLICT`. A transaction that
//!   writes only a rollout key (`cambium/rollout/<name>`, a rollout step) must read it, must
//!   write a legal step from the committed rollout, and must satisfy the channel's
//!   `RolloutAbort` policy (an abort) or `RolloutPromote` (any other step), evaluated over the
//!   endorsers *and* the transaction's creator, so that `MAJORITY Endorsement` is met by
//!   peers and `ANY Admins` by the submitting admin; otherwise
//!   `ENDORSEMENT_POLICY_FAILURE`.
//! - Range queries recorded as Merkle summaries are `PHANTOM_READ_CONFLICT` (Cambium's
//!   endorser records raw reads); private-data collections are not validated.
//! - CONFIG transactions are checked structurally: headers, the creator's signature (the
//!   orderer's), alone in the block, and a `ConfigEnvelope` that builds into a complete
//!   [`cambium_channel::ChannelConfig`] (MSPs, policies, values); valid ones are marked
//!   [`TxResult::is_config`]. Checking the update against the current config's modification
//!   policies (Fabric's config-update validation) and the sequence is not done yet.
//! - The genesis block (block 0, whose CONFIG envelope has no creator or signature) is not
//!   for this validator: a peer joins a channel by taking it as it is, as Fabric does.
//!
//! [`TxValidationCode`]: cambium_primitives::TxValidationCode

mod check;
pub mod context;
pub mod error;
mod mvcc;
mod validate;

pub use context::{
    approval_policy, rollout_step_policy, write_policies, ChannelContext, CommittedLedger,
    EndorsementPolicies, EndorsementPolicy, LifecyclePolicies, PolicySourceError, PolicyTable,
    StaticChannel, TxOrigin, VersionedPolicy, WritePolicy, DEFAULT_ENDORSEMENT_POLICY,
    LIFECYCLE_ENDORSEMENT_POLICY, LIFECYCLE_NAMESPACE,
};
pub use error::{Result, ValidatorError};
pub use validate::{validate_block, BlockValidation, TxResult, ValidationOptions};
