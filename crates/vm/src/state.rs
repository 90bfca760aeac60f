//! The state seam: what the VM reads during a call, and an in-memory implementation.
//!
//! [`StateView`] is deliberately small so the ledger's snapshot can implement it with an
//! adapter: point reads with versions, ordered range reads with a limit, and key history.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rwset::ReadWriteSet;

/// The version of a key: the block and transaction that last wrote it (MVCC compares these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Block number.
    pub block_num: u64,
    /// Transaction number within the block.
    pub tx_num: u64,
}

/// A value with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedValue {
    /// The value bytes.
    pub value: Vec<u8>,
    /// The version that wrote it.
    pub version: Version,
}

/// A transaction timestamp (from the proposal's channel header, never the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch (saturating).
    pub fn unix_nanos(&self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }
}

/// One change of a key, as Fabric's `KeyModification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyModification {
    /// The transaction that made the change.
    pub tx_id: String,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// Whether the change was a delete.
    pub is_delete: bool,
    /// The transaction's timestamp.
    pub timestamp: Timestamp,
}

/// A failure of the state backend (I/O, corruption); not a contract outcome.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct StateError {
    /// What failed, for the operator.
    pub message: String,
}

/// Committed state as one call sees it. Implementations must be deterministic: the same
/// snapshot gives the same answers on every peer.
pub trait StateView: Send + Sync {
    /// The value and version of `key` in `namespace`, if present.
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError>;

    /// Up to `limit` entries with `start <= key < end` in key order (an empty `end` means no
    /// upper bound).
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError>;

    /// Up to `limit` changes of `key`, newest first.
    fn history(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, StateError>;
}

/// In-memory state with history, for tests, tools and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct MemState {
    values: BTreeMap<String, BTreeMap<String, VersionedValue>>,
    history: BTreeMap<String, BTreeMap<String, Vec<KeyModification>>>,
}

impl MemState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key directly (no history entry).
    pub fn put(&mut self, namespace: &str, key: &str, value: &[u8], version: Version) {
        self.values
            .entry(namespace.to_string())
            .or_default()
            .insert(
                key.to_string(),
                VersionedValue {
                    value: value.to_vec(),
                    version,
                },
            );
    }

    /// Commits a transaction's writes at `version`, recording history as a ledger would.
    pub fn apply(
        &mut self,
        rwset: &ReadWriteSet,
        version: Version,
        tx_id: &str,
        timestamp: Timestamp,
    ) {
        for ns in &rwset.namespaces {
            for write in &ns.writes {
                let values = self.values.entry(ns.namespace.clone()).or_default();
                if write.is_delete {
                    values.remove(&write.key);
                } else {
                    values.insert(
                        write.key.clone(),
                        VersionedValue {
                            value: write.value.clone(),
                            version,
                        },
                    );
                }
                self.history
                    .entry(ns.namespace.clone())
                    .or_default()
                    .entry(write.key.clone())
                    .or_default()
                    .push(KeyModification {
                        tx_id: tx_id.to_string(),
                        value: write.value.clone(),
                        is_delete: write.is_delete,
                        timestamp,
                    });
            }
        }
    }
}

impl StateView for MemState {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .values
            .get(namespace)
            .and_then(|ns| ns.get(key))
            .cloned())
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let Some(ns) = self.values.get(namespace) else {
            return Ok(Vec::new());
        };
        if !end.is_empty() && end <= start {
            return Ok(Vec::new());
        }
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        Ok(ns
            .range::<str, _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn history(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, StateError> {
        Ok(self
            .history
            .get(namespace)
            .and_then(|ns| ns.get(key))
            .map(|changes| changes.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_ordered_bounded_and_limited() {
        let mut s = MemState::new();
        let v = Version {
            block_num: 1,
            tx_num: 0,
        };
        for k in ["b", "a", "d", "c"] {
            s.put("ns", k, k.as_bytes(), v);
        }
        let keys = |start, end, limit| -> Vec<String> {
            s.range("ns", start, end, limit)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys("", "", 10), ["a", "b", "c", "d"]);
        assert_eq!(keys("b", "d", 10), ["b", "c"]);
        assert_eq!(keys("a", "", 2), ["a", "b"]);
        assert!(keys("d", "b", 10).is_empty());
        assert!(s.range("other", "", "", 10).unwrap().is_empty());
        assert_eq!(s.get("ns", "c").unwrap().unwrap().value, b"c");
    }
}
