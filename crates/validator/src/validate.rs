//! Validating a whole block: the parallel per-transaction checks, then the sequential,
//! order-dependent ones (duplicate transaction IDs, MVCC), then the result per transaction.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use cambium_ledger::{Block, BlockCommit, KeyWrite, TxOutcome, TRANSACTIONS_FILTER};
use cambium_primitives::{TxRwSet, TxValidationCode as Code, Version};

use crate::check::{check_transaction, CheckEnv, Checked, Kind, Rejection};
use crate::context::{ChannelContext, CommittedLedger, EndorsementPolicies};
use crate::error::{Result, ValidatorError};
use crate::mvcc::{check_reads_with, BlockUpdates, RangeCheck};

/// How to validate a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Unix seconds at which creators and endorsers must be inside their certificates'
    /// validity periods. Every peer must pass the same value for the same block (take it from
    /// the block, never from a clock); see the crate documentation.
    pub identity_time: i64,
    /// Threads for the signature and policy checks; 0 uses every available core. The result
    /// never depends on it.
    pub threads: usize,
}

impl ValidationOptions {
    /// Options checking identities at `identity_time` (unix seconds), on every core.
    pub fn at(identity_time: i64) -> ValidationOptions {
        ValidationOptions {
            identity_time,
            threads: 0,
        }
    }

    /// The same options with `threads` threads (0: every core).
    pub fn with_threads(self, threads: usize) -> ValidationOptions {
        ValidationOptions { threads, ..self }
    }
}

/// The validator's decision on one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    /// The transaction's index in the block.
    pub index: usize,
    /// The transaction ID from its channel header, if the header could be decoded.
    pub tx_id: Option<String>,
    /// The validation code written into `TRANSACTIONS_FILTER`.
    pub code: Code,
    /// Why the transaction is invalid, in words (`None` when valid). For logs and operators;
    /// it never reaches the ledger.
    pub reason: Option<String>,
    /// For a valid endorser transaction, its writes in Fabric's order, to apply at version
    /// `(block, index)`; empty otherwise.
    pub writes: Vec<KeyWrite>,
    /// Whether this is a valid CONFIG transaction: the caller applies the new channel config.
    pub is_config: bool,
    /// For an endorser transaction, the contract and the version that its chaincode action
    /// says endorsed it (valid or not), for per-version metrics.
    pub chaincode: Option<(String, String)>,
}

/// The validator's decision on a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockValidation {
    /// The block's number.
    pub block_number: u64,
    /// One result per entry of the block's data, in order.
    pub transactions: Vec<TxResult>,
}

impl BlockValidation {
    /// The validation codes, in transaction order.
    pub fn codes(&self) -> Vec<Code> {
        self.transactions.iter().map(|t| t.code).collect()
    }

    /// The `TRANSACTIONS_FILTER` metadata bytes: one code byte per transaction.
    pub fn transactions_filter(&self) -> Vec<u8> {
        self.transactions.iter().map(|t| t.code.as_u8()).collect()
    }

    /// What the ledger commits for each transaction.
    pub fn outcomes(&self) -> Vec<TxOutcome> {
        self.transactions
            .iter()
            .map(|t| TxOutcome {
                code: t.code,
                writes: t.writes.clone(),
            })
            .collect()
    }

    /// The commit input for `block` (the block these results were computed for), with its
    /// `TRANSACTIONS_FILTER` slot filled in.
    pub fn into_commit(self, mut block: Block) -> BlockCommit {
        let filter = self.transactions_filter();
        if block.metadata.len() <= TRANSACTIONS_FILTER {
            block.metadata.resize(TRANSACTIONS_FILTER + 1, Vec::new());
        }
        block.metadata[TRANSACTIONS_FILTER] = filter;
        BlockCommit {
            block,
            outcomes: self
                .transactions
                .into_iter()
                .map(|t| TxOutcome {
                    code: t.code,
                    writes: t.writes,
                })
                .collect(),
        }
    }
}

/// Validates `block` against the channel, the contracts' endorsement policies and the
/// committed `ledger` as it stands after block `block.number - 1`.
///
/// Per transaction, in Fabric's order: the envelope decodes, headers are well formed and name
/// this channel, the creator is valid in a channel MSP and signed the payload, the transaction
/// ID is SHA-256(nonce ‖ creator), the ID is not in the ledger, the single endorsed action
/// matches the proposal and the invoked chaincode, the read/write set decodes and repeats no
/// namespace, the endorsement policy of every written namespace is satisfied, the ID did not
/// occur earlier in the block, and every read and range query still holds (MVCC). The
/// signature and policy checks run on `options.threads` threads; everything that depends on
/// order runs afterwards on the calling thread, so results never depend on thread timing.
///
/// Errors only when a decision cannot be made (the ledger or the policy source failed); the
/// block must not be committed then.
pub fn validate_block(
    block: &Block,
    channel: &dyn ChannelContext,
    policies: &dyn EndorsementPolicies,
    ledger: &dyn CommittedLedger,
    options: &ValidationOptions,
) -> Result<BlockValidation> {
    let ledger_error = |index: usize| {
        move |source| ValidatorError::Ledger {
            block: block.number,
            index,
            source,
        }
    };
    let savepoint = ledger.state().savepoint().map_err(ledger_error(0))?;
    if savepoint != block.number.checked_sub(1) {
        return Err(ValidatorError::OutOfOrder {
            block: block.number,
            savepoint: savepoint.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            expected: savepoint.map_or(0, |s| s + 1),
        });
    }
    let env = CheckEnv {
        block: block.number,
        tx_count: block.data.len(),
        channel,
        policies,
        identity_time: options.identity_time,
    };
    let checked = in_parallel(block.data.len(), options.threads, |i| {
        check_transaction(&env, i, &block.data[i])
    })
    .into_iter()
    .collect::<Result<Vec<Checked>>>()?;

    // Decided in block order, with the block's updates borrowed from the checked read/write
    // sets; the valid transactions' writes are copied out afterwards (moving them out of the
    // decoded sets instead measured slower in the `migration` bench's commit).
    let mut seen = BTreeSet::new();
    let mut updates = BlockUpdates::default();
    let mut decisions = Vec::with_capacity(checked.len());
    for (index, checked) in checked.iter().enumerate() {
        let version = Version::new(block.number, index as u64);
        let decided = decide(&env, ledger, &mut seen, &mut updates, version, checked)
            .map_err(ledger_error(index))?;
        decisions.push(decided);
    }
    drop(updates);
    let mut transactions = Vec::with_capacity(checked.len());
    for (index, (checked, decided)) in checked.into_iter().zip(decisions).enumerate() {
        let (code, reason, writes) = match decided {
            Ok(()) => {
                let writes = match (checked.kind, &checked.rwset) {
                    (Kind::Endorser, Some(rwset)) => {
                        TxOutcome::from_rwset(Code::Valid, rwset).writes
                    }
                    _ => Vec::new(),
                };
                (Code::Valid, None, writes)
            }
            Err(r) => (r.code, Some(r.reason), Vec::new()),
        };
        transactions.push(TxResult {
            index,
            tx_id: checked.tx_id,
            code,
            reason,
            writes,
            is_config: checked.kind == Kind::Config && code == Code::Valid,
            chaincode: checked.chaincode,
        });
    }
    Ok(BlockValidation {
        block_number: block.number,
        transactions,
    })
}

/// The order-dependent part for one transaction: valid (a valid endorser transaction's writes
/// are recorded in `updates`), or why it is invalid.
fn decide<'a>(
    env: &CheckEnv<'_>,
    ledger: &dyn CommittedLedger,
    seen: &mut BTreeSet<&'a str>,
    updates: &mut BlockUpdates<'a>,
    version: Version,
    checked: &'a Checked,
) -> cambium_ledger::Result<std::result::Result<(), Rejection>> {
    if let Err(r) = &checked.early {
        return Ok(Err(r.clone()));
    }
    if checked.kind != Kind::Endorser {
        return Ok(Ok(()));
    }
    let tx_id = checked.tx_id.as_deref().unwrap_or_default();
    if ledger.contains_tx_id(tx_id)? {
        return Ok(Err(Rejection {
            code: Code::DuplicateTxid,
            reason: format!("transaction '{tx_id}' is already in the ledger"),
        }));
    }
    if let Err(r) = &checked.late {
        return Ok(Err(r.clone()));
    }
    if !seen.insert(tx_id) {
        return Ok(Err(Rejection {
            code: Code::DuplicateTxid,
            reason: format!("transaction '{tx_id}' occurs earlier in this block"),
        }));
    }
    let Some(rwset) = &checked.rwset else {
        // Every check passed, so the read/write set was decoded.
        return Ok(Err(Rejection {
            code: Code::InvalidOtherReason,
            reason: "internal: a checked transaction has no read/write set".to_owned(),
        }));
    };
    let migrated = migrated_namespaces(rwset);
    let range_check = |ns: &str| {
        if migrated.contains(ns) {
            RangeCheck::ReturnedKeys
        } else {
            RangeCheck::Phantom
        }
    };
    if let Err(r) = check_reads_with(ledger.state(), updates, rwset, &range_check)? {
        return Ok(Err(r));
    }
    if let Err(r) = check_upgrade_policies(ledger.state(), rwset) {
        return Ok(Err(r));
    }
    if let Err(r) = check_committed_packages(env, ledger.state(), rwset) {
        return Ok(Err(r));
    }
    updates.record(rwset, version);
    Ok(Ok(()))
}

/// A `_lifecycle` write set as state: the definition a commit writes, read back with the
/// lifecycle's own decoder.
struct Written<'a>(&'a cambium_primitives::NsRwSet);

impl cambium_lifecycle::StateGet for Written<'_> {
    fn get(&mut self, key: &str) -> cambium_lifecycle::Result<Option<Vec<u8>>> {
        Ok(self
            .0
            .writes
            .iter()
            .rev()
            .find(|w| w.key == key)
            .filter(|w| !w.is_delete)
            .map(|w| w.value.clone()))
    }
}

/// The upgrade policies ([`cambium_lifecycle::upgrade_policy`]) of every definition commit in
/// `rwset`: the committed definition's policy, and a changed new one, must be satisfied by
/// the orgs whose committed approvals of the new sequence match it exactly. The approvals are
/// those whose keys the commit read: its reads passed MVCC just before, so the committed
/// values are the ones the endorsers saw. Runs in the order-dependent phase because it reads
/// committed state. A failure is `ENDORSEMENT_POLICY_FAILURE`.
fn check_upgrade_policies(
    state: &dyn cambium_ledger::StateReader,
    rwset: &TxRwSet,
) -> std::result::Result<(), Rejection> {
    use cambium_lifecycle::{committed_definition, org_approval, CommittedState};
    let Some(lifecycle) = rwset.namespace(cambium_lifecycle::NAMESPACE) else {
        return Ok(());
    };
    let fail = |reason: String| Rejection {
        code: Code::EndorsementPolicyFailure,
        reason,
    };
    for write in &lifecycle.writes {
        let Some(name) = write
            .key
            .strip_prefix(cambium_lifecycle::state::METADATA_PREFIX)
        else {
            continue;
        };
        let old = committed_definition(&mut CommittedState(state), name)
            .map_err(|e| fail(format!("reading the committed definition of '{name}': {e}")))?;
        let policy_key = cambium_lifecycle::state::field_key(
            name,
            cambium_lifecycle::state::UPGRADE_POLICY_FIELD_NAME,
        );
        let new_has_policy = lifecycle.writes.iter().any(|w| w.key == policy_key);
        if !new_has_policy && old.as_ref().is_none_or(|o| o.upgrade_policy.is_none()) {
            // No upgrade policy before or after: nothing to check.
            continue;
        }
        let new = committed_definition(&mut Written(lifecycle), name)
            .map_err(|e| {
                fail(format!(
                    "the definition of '{name}' the transaction writes: {e}"
                ))
            })?
            .ok_or_else(|| {
                fail(format!(
                    "the transaction writes an empty definition of '{name}'"
                ))
            })?;
        let required = cambium_lifecycle::upgrade_policy::required(old.as_ref(), &new);
        if required.is_empty() {
            continue;
        }
        let mut approved = BTreeSet::new();
        for read in &lifecycle.reads {
            let Some(org) = cambium_lifecycle::approval_org(&read.key) else {
                continue;
            };
            if read.key != cambium_lifecycle::approval_key(org, name, new.sequence) {
                continue;
            }
            let approval = org_approval(&mut CommittedState(state), org, name, new.sequence)
                .map_err(|e| fail(format!("reading {org}'s approval of '{name}': {e}")))?;
            if approval.is_some_and(|a| a.definition.mismatches(&new).is_empty()) {
                approved.insert(org.to_owned());
            }
        }
        cambium_lifecycle::upgrade_policy::check(name, old.as_ref(), &new, &approved)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// On a channel that requires signed packages, every definition commit in `rwset`: the
/// approvals it read of the new sequence that match the definition with a local package must
/// record owner signatures that satisfy `Application/PackageSigners` as the channel has it
/// now (the policy in force at commit), evaluated with the channel's MSPs at the block's
/// identity time. Runs in the order-dependent phase because it reads committed approvals
/// (after MVCC, so they are the ones the endorsers saw). A failure is
/// `ENDORSEMENT_POLICY_FAILURE`.
fn check_committed_packages(
    env: &CheckEnv<'_>,
    state: &dyn cambium_ledger::StateReader,
    rwset: &TxRwSet,
) -> std::result::Result<(), Rejection> {
    use cambium_lifecycle::{committed_definition, org_approval, package_signing, CommittedState};
    let policies = env.channel.channel_policies();
    if package_signing::requirement(policies).is_none() {
        return Ok(());
    }
    let Some(lifecycle) = rwset.namespace(cambium_lifecycle::NAMESPACE) else {
        return Ok(());
    };
    let fail = |reason: String| Rejection {
        code: Code::EndorsementPolicyFailure,
        reason,
    };
    for write in &lifecycle.writes {
        let Some(name) = write
            .key
            .strip_prefix(cambium_lifecycle::state::METADATA_PREFIX)
        else {
            continue;
        };
        let new = committed_definition(&mut Written(lifecycle), name)
            .map_err(|e| {
                fail(format!(
                    "the definition of '{name}' the transaction writes: {e}"
                ))
            })?
            .ok_or_else(|| {
                fail(format!(
                    "the transaction writes an empty definition of '{name}'"
                ))
            })?;
        for read in &lifecycle.reads {
            let Some(org) = cambium_lifecycle::approval_org(&read.key) else {
                continue;
            };
            if read.key != cambium_lifecycle::approval_key(org, name, new.sequence) {
                continue;
            }
            let mut committed = CommittedState(state);
            let approval = org_approval(&mut committed, org, name, new.sequence)
                .map_err(|e| fail(format!("reading {org}'s approval of '{name}': {e}")))?;
            let Some(approval) = approval.filter(|a| a.definition.mismatches(&new).is_empty())
            else {
                continue;
            };
            let Some(package_id) = approval.source.package_id() else {
                continue;
            };
            let signatures = cambium_lifecycle::scc::approval_signatures(
                &mut committed,
                org,
                name,
                new.sequence,
            )
            .map_err(|e| fail(e.to_string()))?;
            package_signing::check_requirement(
                policies,
                Some(env.channel.msps()),
                env.identity_time,
                signatures.as_ref(),
                &format!("package '{package_id}' that {org} approved"),
            )
            .map_err(|e| {
                fail(format!(
                    "the commit of sequence {} of '{name}': {e}",
                    new.sequence
                ))
            })?;
        }
    }
    Ok(())
}

/// The contracts whose definition `rwset` commits (it writes `_lifecycle`'s
/// `namespaces/metadata/<name>`): their namespaces hold the commit's migration, whose range
/// scans are re-validated with [`RangeCheck::ReturnedKeys`]. Only a `_lifecycle` commit can
/// write those keys (the namespace's writes need `LifecycleEndorsement`).
fn migrated_namespaces(rwset: &TxRwSet) -> BTreeSet<&str> {
    rwset
        .namespace(cambium_lifecycle::NAMESPACE)
        .map(|ns| {
            ns.writes
                .iter()
                .filter_map(|w| {
                    w.key
                        .strip_prefix(cambium_lifecycle::state::METADATA_PREFIX)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The cores this process may use, asked once: `available_parallelism` reads the cgroup's CPU
/// quota from files on every call, which cost more than validating a small block.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f(0..n)` on up to `threads` threads (0: one per core), results in index order. The calling
/// thread takes a share too, so a block split two ways starts one thread, not two.
fn in_parallel<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = if threads == 0 { cores() } else { threads }.min(n);
    if threads <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return done;
            }
            done.push((i, f(i)));
        }
    };
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        for (i, result) in mine {
            slots[i] = Some(result);
        }
        for handle in handles {
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, result) in done {
                slots[i] = Some(result);
            }
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every index is taken by exactly one worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_results_keep_index_order_for_any_thread_count() {
        let expected: Vec<usize> = (0..257).map(|i| i * i).collect();
        for threads in [0, 1, 2, 3, 8, 300] {
            assert_eq!(in_parallel(257, threads, |i| i * i), expected, "{threads}");
        }
        assert!(in_parallel(0, 4, |i| i).is_empty());
    }
}
