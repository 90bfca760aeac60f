//! The VM's view of the ledger: [`LedgerState`] answers a simulation's reads from one ledger
//! snapshot, and [`to_tx_rwset`] turns the VM's read/write set into the ledger's
//! [`TxRwSet`], sorted the way Fabric's endorsers sort it.

use std::sync::Arc;

use cambium_ledger::{LedgerError, StateReader};
use cambium_primitives::{
    KvRead, KvWrite, NsRwSet, RangeQueryInfo, RangeQueryReads, TxRwSet, Version,
};
use cambium_vm::{KeyModification, ReadWriteSet, StateError, StateView, Timestamp, VersionedValue};

/// A [`StateView`] over any [`StateReader`], typically a ledger snapshot, so that every read
/// of one simulation sees the same committed height.
/// `R` may be unsized, e.g. `dyn` [`crate::LedgerView`].
#[derive(Debug)]
pub struct LedgerState<R: ?Sized> {
    reader: Arc<R>,
}

impl<R> LedgerState<R> {
    /// Wraps `reader`; every call reads through it.
    pub fn new(reader: R) -> Self {
        LedgerState {
            reader: Arc::new(reader),
        }
    }
}

impl<R: ?Sized> LedgerState<R> {
    /// Wraps a shared reader.
    pub fn from_arc(reader: Arc<R>) -> Self {
        LedgerState { reader }
    }

    /// The wrapped reader.
    pub fn reader(&self) -> &R {
        &self.reader
    }
}

fn state_error(what: &str, namespace: &str, key: &str) -> impl FnOnce(LedgerError) -> StateError {
    let context = format!("{what} of '{key}' in namespace '{namespace}'");
    move |e| StateError {
        message: format!("ledger {context} failed: {e}"),
    }
}

fn vm_version(v: Version) -> cambium_vm::Version {
    cambium_vm::Version {
        block_num: v.block_num,
        tx_num: v.tx_num,
    }
}

fn vm_value(v: cambium_ledger::VersionedValue) -> VersionedValue {
    VersionedValue {
        value: v.value,
        version: vm_version(v.version),
    }
}

impl<R: StateReader + Send + Sync + ?Sized> StateView for LedgerState<R> {
    fn get(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .reader
            .get_state(namespace, key)
            .map_err(state_error("read", namespace, key))?
            .map(vm_value))
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        // The ledger reads 0 as "no limit"; the VM means "nothing".
        if limit == 0 || (!end.is_empty() && end <= start) {
            return Ok(Vec::new());
        }
        let page = self
            .reader
            .get_state_range(namespace, start, end, limit, None)
            .map_err(state_error("range scan", namespace, start))?;
        Ok(page
            .entries
            .into_iter()
            .take(limit)
            .map(|e| (e.key, vm_value(e.value)))
            .collect())
    }

    fn history(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, StateError> {
        let entries = self
            .reader
            .get_history_for_key(namespace, key)
            .map_err(state_error("history", namespace, key))?;
        Ok(entries
            .into_iter()
            .take(limit)
            .map(|h| KeyModification {
                tx_id: h.tx_id,
                is_delete: h.value.is_none(),
                value: h.value.unwrap_or_default(),
                timestamp: h
                    .timestamp
                    .map(|t| Timestamp {
                        seconds: t.seconds,
                        nanos: t.nanos,
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }
}

fn ledger_version(v: cambium_vm::Version) -> Version {
    Version::new(v.block_num, v.tx_num)
}

fn ledger_read(r: &cambium_vm::KvRead) -> KvRead {
    KvRead {
        key: r.key.clone(),
        version: r.version.map(ledger_version),
    }
}

/// The ledger's form of a simulation's read/write set: one namespace per contract touched
/// (the contract name), point reads with the versions seen, range queries with their raw
/// reads, writes and deletes; sorted with [`TxRwSet::sort`] so endorsers agree byte for byte.
pub fn to_tx_rwset(rwset: &ReadWriteSet) -> TxRwSet {
    let mut out = TxRwSet {
        ns: rwset
            .namespaces
            .iter()
            .map(|ns| NsRwSet {
                namespace: ns.namespace.clone(),
                reads: ns.reads.iter().map(ledger_read).collect(),
                writes: ns
                    .writes
                    .iter()
                    .map(|w| KvWrite {
                        key: w.key.clone(),
                        is_delete: w.is_delete,
                        value: if w.is_delete {
                            Vec::new()
                        } else {
                            w.value.clone()
                        },
                    })
                    .collect(),
                range_queries: ns
                    .range_queries
                    .iter()
                    .map(|q| RangeQueryInfo {
                        start_key: q.start_key.clone(),
                        end_key: q.end_key.clone(),
                        itr_exhausted: q.itr_exhausted,
                        reads: Some(RangeQueryReads::Raw(
                            q.reads.iter().map(ledger_read).collect(),
                        )),
                    })
                    .collect(),
                ..NsRwSet::default()
            })
            .collect(),
    };
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_vm::{KvWrite as VmWrite, NsReadWriteSet};

    #[test]
    fn conversion_keeps_versions_and_sorts() {
        let vm = ReadWriteSet {
            namespaces: vec![
                NsReadWriteSet {
                    namespace: "zeta".into(),
                    reads: vec![cambium_vm::KvRead {
                        key: "k".into(),
                        version: Some(cambium_vm::Version {
                            block_num: 3,
                            tx_num: 1,
                        }),
                    }],
                    range_queries: vec![cambium_vm::RangeQueryInfo {
                        start_key: "a".into(),
                        end_key: "".into(),
                        itr_exhausted: true,
                        reads: vec![cambium_vm::KvRead {
                            key: "a1".into(),
                            version: None,
                        }],
                    }],
                    writes: vec![
                        VmWrite {
                            key: "b".into(),
                            is_delete: false,
                            value: b"2".to_vec(),
                        },
                        VmWrite {
                            key: "a".into(),
                            is_delete: true,
                            value: Vec::new(),
                        },
                    ],
                },
                NsReadWriteSet {
                    namespace: "alpha".into(),
                    ..Default::default()
                },
            ],
        };
        let rw = to_tx_rwset(&vm);
        assert_eq!(rw.ns[0].namespace, "alpha");
        let zeta = &rw.ns[1];
        assert_eq!(zeta.reads[0].version, Some(Version::new(3, 1)));
        assert_eq!(
            zeta.writes
                .iter()
                .map(|w| w.key.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(zeta.writes[0].is_delete);
        assert_eq!(
            zeta.range_queries[0].reads,
            Some(RangeQueryReads::Raw(vec![KvRead {
                key: "a1".into(),
                version: None
            }]))
        );
    }
}
