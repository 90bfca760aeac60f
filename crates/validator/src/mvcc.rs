//! Multi-version concurrency control: the checks that depend on transaction order.
//!
//! A transaction is valid only if every key it read still has the version it read, and every
//! range it scanned would return the same keys at the same versions, counting the writes of
//! the *earlier valid transactions of the same block* (Fabric's `validation` package of the
//! KV ledger). A key written earlier in the block always conflicts, because its new version
//! `(block, tx)` cannot have been read by a transaction simulated before the block existed.

use std::collections::BTreeMap;
use std::ops::Bound;

use cambium_ledger::StateReader;
use cambium_primitives::{
    KvRead, NsRwSet, RangeQueryInfo, RangeQueryReads, TxRwSet, TxValidationCode as Code, Version,
};

use crate::check::Rejection;

/// Keys written by the valid transactions so far in the block: the new version, or `None`
/// when the key was deleted.
#[derive(Debug, Default)]
pub(crate) struct BlockUpdates {
    keys: BTreeMap<(String, String), Option<Version>>,
}

impl BlockUpdates {
    /// Records the writes of a valid transaction at `version`.
    pub(crate) fn record(&mut self, rwset: &TxRwSet, version: Version) {
        for ns in &rwset.ns {
            for w in &ns.writes {
                let value = if w.is_delete { None } else { Some(version) };
                self.keys
                    .insert((ns.namespace.clone(), w.key.clone()), value);
            }
            for m in &ns.metadata_writes {
                // A metadata write gives the key a new version but keeps it (or its absence).
                let entry = self
                    .keys
                    .entry((ns.namespace.clone(), m.key.clone()))
                    .or_insert(Some(version));
                if entry.is_some() {
                    *entry = Some(version);
                }
            }
        }
    }

    fn contains(&self, namespace: &str, key: &str) -> bool {
        self.keys
            .contains_key(&(namespace.to_owned(), key.to_owned()))
    }

    /// The updates of `namespace` with keys in `[start, end)` (`end` `None`: unbounded).
    fn in_range<'a>(
        &'a self,
        namespace: &'a str,
        start: &str,
        end: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, Option<Version>)> + 'a {
        let from = (namespace.to_owned(), start.to_owned());
        self.keys
            .range((Bound::Included(from), Bound::Unbounded))
            .take_while(move |((ns, key), _)| {
                ns == namespace && end.is_none_or(|end| key.as_str() < end)
            })
            .map(|((_, key), version)| (key.as_str(), *version))
    }
}

/// How the range queries of a namespace are re-validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeCheck {
    /// Fabric's rule: the range must return the same keys at the same versions, so a key
    /// inserted since is a phantom.
    Phantom,
    /// A migration's rule: every key the scan returned must still have the version it read
    /// (changed or deleted is a conflict), but keys inserted since are allowed. A migration
    /// converts the records that exist when it is simulated; records written later by the
    /// previous version (in flight, or served by a canary) are the new version's to read, as
    /// are those written within the upgrade's grace window. Without this, a migration that
    /// scans its namespace could never commit while clients keep creating keys.
    ReturnedKeys,
}

/// Checks the reads and range queries of `rwset`, namespace by namespace, against committed
/// state plus `updates`, with the range rule of each namespace chosen by `range_check`.
pub(crate) fn check_reads_with(
    state: &dyn StateReader,
    updates: &BlockUpdates,
    rwset: &TxRwSet,
    range_check: &dyn Fn(&str) -> RangeCheck,
) -> cambium_ledger::Result<Result<(), Rejection>> {
    for ns in &rwset.ns {
        for read in &ns.reads {
            if let Some(reason) = read_conflict(state, updates, &ns.namespace, read)? {
                return Ok(Err(Rejection {
                    code: Code::MvccReadConflict,
                    reason,
                }));
            }
        }
        let conflict = match range_check(&ns.namespace) {
            RangeCheck::Phantom => phantom(state, updates, ns)?.map(|reason| Rejection {
                code: Code::PhantomReadConflict,
                reason,
            }),
            RangeCheck::ReturnedKeys => {
                returned_keys_changed(state, updates, ns)?.map(|reason| Rejection {
                    code: Code::MvccReadConflict,
                    reason,
                })
            }
        };
        if let Some(rejection) = conflict {
            return Ok(Err(rejection));
        }
    }
    Ok(Ok(()))
}

/// The first key returned by one of `ns`'s range queries that has changed since (see
/// [`RangeCheck::ReturnedKeys`]). A Merkle summary cannot be checked key by key and conflicts.
fn returned_keys_changed(
    state: &dyn StateReader,
    updates: &BlockUpdates,
    ns: &NsRwSet,
) -> cambium_ledger::Result<Option<String>> {
    for query in &ns.range_queries {
        let reads: &[KvRead] = match &query.reads {
            None => &[],
            Some(RangeQueryReads::Raw(reads)) => reads,
            Some(RangeQueryReads::MerkleSummary { .. }) => {
                return Ok(Some(format!(
                    "the range query ['{}', '{}') of '{}' is recorded as a Merkle summary, \
                     which Cambium does not re-validate; endorse with raw range reads",
                    query.start_key, query.end_key, ns.namespace
                )))
            }
        };
        for read in reads {
            if let Some(reason) = read_conflict(state, updates, &ns.namespace, read)? {
                return Ok(Some(format!("in a range scan: {reason}")));
            }
        }
    }
    Ok(None)
}

fn show(version: Option<Version>) -> String {
    version.map_or_else(
        || "absent".to_owned(),
        |v| format!("version ({}, {})", v.block_num, v.tx_num),
    )
}

fn read_conflict(
    state: &dyn StateReader,
    updates: &BlockUpdates,
    namespace: &str,
    read: &KvRead,
) -> cambium_ledger::Result<Option<String>> {
    if updates.contains(namespace, &read.key) {
        return Ok(Some(format!(
            "key '{}' of '{namespace}' was written by an earlier transaction of this block",
            read.key
        )));
    }
    let committed = state.get_state(namespace, &read.key)?.map(|v| v.version);
    if committed != read.version {
        return Ok(Some(format!(
            "key '{}' of '{namespace}' was read at {} but is now {}",
            read.key,
            show(read.version),
            show(committed)
        )));
    }
    Ok(None)
}

fn phantom(
    state: &dyn StateReader,
    updates: &BlockUpdates,
    ns: &NsRwSet,
) -> cambium_ledger::Result<Option<String>> {
    for query in &ns.range_queries {
        if let Some(reason) = range_conflict(state, updates, &ns.namespace, query)? {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// Re-runs one range query over committed state plus the block's updates and compares the
/// keys and versions with what the transaction recorded.
fn range_conflict(
    state: &dyn StateReader,
    updates: &BlockUpdates,
    namespace: &str,
    query: &RangeQueryInfo,
) -> cambium_ledger::Result<Option<String>> {
    let reads: &[KvRead] = match &query.reads {
        None => &[],
        Some(RangeQueryReads::Raw(reads)) => reads,
        Some(RangeQueryReads::MerkleSummary { .. }) => {
            return Ok(Some(format!(
                "the range query ['{}', '{}') of '{namespace}' is recorded as a Merkle summary, \
                 which Cambium does not re-validate; endorse with raw range reads",
                query.start_key, query.end_key
            )))
        }
    };
    // A query that stopped early saw the range only up to (and including) its last key.
    let end = match reads.last() {
        Some(last) if !query.itr_exhausted => Some(format!("{}\u{0}", last.key)),
        _ if query.end_key.is_empty() => None,
        _ => Some(query.end_key.clone()),
    };
    let page = state.get_state_range(
        namespace,
        &query.start_key,
        end.as_deref().unwrap_or(""),
        0,
        None,
    )?;
    let mut now: BTreeMap<&str, Version> = page
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.version))
        .collect();
    for (key, version) in updates.in_range(namespace, &query.start_key, end.as_deref()) {
        match version {
            Some(v) => now.insert(key, v),
            None => now.remove(key),
        };
    }
    let range = format!(
        "['{}', '{}') of '{namespace}'",
        query.start_key, query.end_key
    );
    if now.len() != reads.len() {
        return Ok(Some(format!(
            "the range query {range} read {} key(s) but now returns {}",
            reads.len(),
            now.len()
        )));
    }
    for (read, (key, version)) in reads.iter().zip(&now) {
        if read.key != *key || read.version != Some(*version) {
            return Ok(Some(format!(
                "the range query {range} read '{}' at {} but now returns '{key}' at {}",
                read.key,
                show(read.version),
                show(Some(*version))
            )));
        }
    }
    Ok(None)
}
