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
/// when the key was deleted. Kept per namespace and borrowed from the transactions' read/write
/// sets, so recording a transaction copies no key and a lookup builds no owned
/// `(namespace, key)` pair (a migration writes and reads thousands of keys).
#[derive(Debug, Default)]
pub(crate) struct BlockUpdates<'a> {
    namespaces: BTreeMap<&'a str, BTreeMap<&'a str, Option<Version>>>,
}

impl<'a> BlockUpdates<'a> {
    /// Records the writes of a valid transaction at `version`.
    pub(crate) fn record(&mut self, rwset: &'a TxRwSet, version: Version) {
        for ns in &rwset.ns {
            if ns.writes.is_empty() && ns.metadata_writes.is_empty() {
                continue;
            }
            let keys = self.namespaces.entry(ns.namespace.as_str()).or_default();
            for w in &ns.writes {
                let value = if w.is_delete { None } else { Some(version) };
                keys.insert(w.key.as_str(), value);
            }
            for m in &ns.metadata_writes {
                // A metadata write gives the key a new version but keeps it (or its absence).
                let entry = keys.entry(m.key.as_str()).or_insert(Some(version));
                if entry.is_some() {
                    *entry = Some(version);
                }
            }
        }
    }

    fn contains(&self, namespace: &str, key: &str) -> bool {
        self.namespaces
            .get(namespace)
            .is_some_and(|keys| keys.contains_key(key))
    }

    /// Whether no earlier transaction of the block wrote `namespace`.
    fn untouched(&self, namespace: &str) -> bool {
        !self.namespaces.contains_key(namespace)
    }

    /// The updates of `namespace` with keys in `[start, end)` (`end` `None`: unbounded).
    fn in_range<'s>(
        &'s self,
        namespace: &str,
        start: &'s str,
        end: Option<&'s str>,
    ) -> impl Iterator<Item = (&'s str, Option<Version>)> + 's {
        self.namespaces
            .get(namespace)
            .into_iter()
            .flat_map(move |keys| {
                keys.range::<&str, _>((Bound::Included(start), Bound::Unbounded))
                    .take_while(move |(key, _)| end.is_none_or(|end| **key < end))
                    .map(|(key, version)| (*key, *version))
            })
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
    updates: &BlockUpdates<'_>,
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
///
/// A migration's scans return thousands of keys, so each query's keys are checked against one
/// ordered scan of committed state over the span they cover (from the first key returned to
/// just past the last) rather than one point read each: every point read searches each
/// overlay layer and then redb from the top. The outcome, and the first conflict reported,
/// are those of checking the keys one by one in the order returned.
fn returned_keys_changed(
    state: &dyn StateReader,
    updates: &BlockUpdates<'_>,
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
        if let Some(reason) = returned_reads_changed(state, updates, &ns.namespace, reads)? {
            return Ok(Some(format!("in a range scan: {reason}")));
        }
    }
    Ok(None)
}

/// Below this many keys a query's reads are checked by point reads: a scan costs more to
/// start than a few lookups.
const SCAN_FROM_READS: usize = 8;

/// The first of `reads` whose key was written earlier in the block or whose committed version
/// differs from the one read. Keys in strictly ascending order (as a range query returns them)
/// are compared with one scan of committed state; any other order falls back to point reads.
fn returned_reads_changed(
    state: &dyn StateReader,
    updates: &BlockUpdates<'_>,
    namespace: &str,
    reads: &[KvRead],
) -> cambium_ledger::Result<Option<String>> {
    let ascending = reads.windows(2).all(|w| w[0].key < w[1].key);
    let (Some(first), Some(last)) = (reads.first(), reads.last()) else {
        return Ok(None);
    };
    if !ascending || reads.len() < SCAN_FROM_READS {
        for read in reads {
            if let Some(reason) = read_conflict(state, updates, namespace, read)? {
                return Ok(Some(reason));
            }
        }
        return Ok(None);
    }
    let end = format!("{}\u{0}", last.key);
    let page = state.get_state_range(namespace, &first.key, &end, 0, None)?;
    let mut committed = page.entries.iter().peekable();
    let check_updates = !updates.untouched(namespace);
    for read in reads {
        if check_updates && updates.contains(namespace, &read.key) {
            return Ok(Some(written_earlier(namespace, &read.key)));
        }
        while committed.next_if(|e| e.key < read.key).is_some() {}
        let now = committed
            .next_if(|e| e.key == read.key)
            .map(|e| e.value.version);
        if now != read.version {
            return Ok(Some(changed(namespace, read, now)));
        }
    }
    Ok(None)
}

fn written_earlier(namespace: &str, key: &str) -> String {
    format!("key '{key}' of '{namespace}' was written by an earlier transaction of this block")
}

fn changed(namespace: &str, read: &KvRead, now: Option<Version>) -> String {
    format!(
        "key '{}' of '{namespace}' was read at {} but is now {}",
        read.key,
        show(read.version),
        show(now)
    )
}

fn show(version: Option<Version>) -> String {
    version.map_or_else(
        || "absent".to_owned(),
        |v| format!("version ({}, {})", v.block_num, v.tx_num),
    )
}

fn read_conflict(
    state: &dyn StateReader,
    updates: &BlockUpdates<'_>,
    namespace: &str,
    read: &KvRead,
) -> cambium_ledger::Result<Option<String>> {
    if updates.contains(namespace, &read.key) {
        return Ok(Some(written_earlier(namespace, &read.key)));
    }
    let committed = state.get_state(namespace, &read.key)?.map(|v| v.version);
    if committed != read.version {
        return Ok(Some(changed(namespace, read, committed)));
    }
    Ok(None)
}

fn phantom(
    state: &dyn StateReader,
    updates: &BlockUpdates<'_>,
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
    updates: &BlockUpdates<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_ledger::testkit::{ChainBuilder, TestTx};
    use cambium_ledger::{BlockWriter, KeyWrite, MemLedger, SnapshotSource};
    use cambium_primitives::KvWrite;

    const NS: &str = "assets";

    /// Keys `k00`..`k39` written one block each (so their versions differ).
    fn ledger() -> MemLedger {
        let ledger = MemLedger::new();
        let mut chain = ChainBuilder::new();
        for i in 0..40 {
            let tx = TestTx::valid(
                format!("tx{i}"),
                vec![KeyWrite::put(NS, format!("k{i:02}"), b"v".to_vec())],
            );
            ledger.commit_block(&chain.block(&[tx])).unwrap();
        }
        ledger
    }

    fn reads(state: &dyn StateReader, keys: &[&str]) -> Vec<KvRead> {
        keys.iter()
            .map(|k| KvRead {
                key: (*k).to_owned(),
                version: state.get_state(NS, k).unwrap().map(|v| v.version),
            })
            .collect()
    }

    /// The rule the scan must reproduce: each read checked on its own, in order.
    fn one_by_one(
        state: &dyn StateReader,
        updates: &BlockUpdates<'_>,
        reads: &[KvRead],
    ) -> Option<String> {
        reads
            .iter()
            .find_map(|r| read_conflict(state, updates, NS, r).unwrap())
    }

    fn check(state: &dyn StateReader, updates: &BlockUpdates<'_>, reads: &[KvRead]) {
        assert_eq!(
            returned_reads_changed(state, updates, NS, reads).unwrap(),
            one_by_one(state, updates, reads),
            "{reads:?}"
        );
    }

    #[test]
    fn the_scan_finds_exactly_the_conflicts_point_reads_find() {
        let ledger = ledger();
        let snapshot = ledger.snapshot().unwrap();
        let keys: Vec<String> = (0..40).step_by(2).map(|i| format!("k{i:02}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let fresh = reads(&snapshot, &keys);
        let none = BlockUpdates::default();
        // Unchanged, with keys between them (inserted since) that were not returned: valid.
        check(&snapshot, &none, &fresh);
        assert_eq!(
            returned_reads_changed(&snapshot, &none, NS, &fresh).unwrap(),
            None
        );

        // A returned key now at another version, one now absent, one read as absent but
        // present: each conflicts, and the first in order is the one reported.
        let mut stale = fresh.clone();
        stale[5].version = Some(Version::new(0, 0));
        stale[9].version = Some(Version::new(1, 0));
        check(&snapshot, &none, &stale);
        assert!(returned_reads_changed(&snapshot, &none, NS, &stale)
            .unwrap()
            .unwrap()
            .contains("'k10'"));
        let mut gone = fresh.clone();
        gone.push(KvRead {
            key: "k99".into(),
            version: Some(Version::new(3, 0)),
        });
        check(&snapshot, &none, &gone);
        let mut absent = fresh.clone();
        absent[3].version = None;
        check(&snapshot, &none, &absent);

        // A key written earlier in the block conflicts even at the version read.
        let mut updates = BlockUpdates::default();
        let mut ns = NsRwSet::new(NS);
        ns.writes = vec![KvWrite {
            key: "k20".into(),
            is_delete: false,
            value: b"w".to_vec(),
        }];
        let written = TxRwSet { ns: vec![ns] };
        updates.record(&written, Version::new(41, 0));
        check(&snapshot, &updates, &fresh);
        assert!(returned_reads_changed(&snapshot, &updates, NS, &fresh)
            .unwrap()
            .unwrap()
            .contains("earlier transaction"));

        // Out of order (not what a scan returns): checked key by key, same answer.
        let mut shuffled = stale.clone();
        shuffled.reverse();
        check(&snapshot, &none, &shuffled);
        // Short lists and empty ones.
        check(&snapshot, &none, &stale[..3]);
        check(&snapshot, &none, &[]);
    }

    #[test]
    fn block_updates_answer_by_namespace_and_range() {
        let mut updates = BlockUpdates::default();
        let write = |key: &str, is_delete: bool| KvWrite {
            key: key.into(),
            is_delete,
            value: Vec::new(),
        };
        let mut a = NsRwSet::new("a");
        a.writes = vec![write("k1", false), write("k3", true)];
        let mut b = NsRwSet::new("b");
        b.writes = vec![write("k2", false)];
        let written = TxRwSet { ns: vec![a, b] };
        updates.record(&written, Version::new(5, 1));
        assert!(updates.contains("a", "k1") && updates.contains("a", "k3"));
        assert!(!updates.contains("a", "k2") && !updates.contains("c", "k1"));
        assert!(updates.untouched("c") && !updates.untouched("b"));
        let range: Vec<_> = updates.in_range("a", "k0", Some("k9")).collect();
        assert_eq!(range, [("k1", Some(Version::new(5, 1))), ("k3", None)]);
        assert_eq!(updates.in_range("a", "k2", None).count(), 1);
        assert_eq!(updates.in_range("b", "k0", Some("k2")).count(), 0);
    }
}
