//! The read/write set a call produces, shaped like Fabric's `KVRWSet`, and its builder.
//!
//! Namespaces, reads and writes are sorted by key (range queries keep execution order), so two
//! endorsers simulating the same call produce byte-identical sets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::Version;

/// A key read, with the version seen (none if the key did not exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvRead {
    /// The key.
    pub key: String,
    /// The committed version read, if the key existed.
    pub version: Option<Version>,
}

/// A key written or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWrite {
    /// The key.
    pub key: String,
    /// Whether this deletes the key.
    pub is_delete: bool,
    /// The new value (empty for a delete).
    pub value: Vec<u8>,
}

/// A range query and what it returned, for phantom-read checks (Fabric's `RangeQueryInfo` with
/// raw reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQueryInfo {
    /// Inclusive start key.
    pub start_key: String,
    /// Exclusive end key (empty: unbounded).
    pub end_key: String,
    /// Whether the query reached the end of the range (false: it stopped at its limit).
    pub itr_exhausted: bool,
    /// The keys returned, with versions.
    pub reads: Vec<KvRead>,
}

/// The reads and writes of one namespace (one contract).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NsReadWriteSet {
    /// The namespace (contract name).
    pub namespace: String,
    /// Point reads, sorted by key.
    pub reads: Vec<KvRead>,
    /// Range queries, in execution order.
    pub range_queries: Vec<RangeQueryInfo>,
    /// Writes, sorted by key (the last write of a key wins).
    pub writes: Vec<KvWrite>,
}

/// A transaction's read/write set across namespaces, sorted by namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReadWriteSet {
    /// One entry per namespace touched.
    pub namespaces: Vec<NsReadWriteSet>,
}

impl ReadWriteSet {
    /// A canonical byte encoding (JSON) for comparisons and hashing in tests and tools; the
    /// protobuf form belongs to `cambium-wire`.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The entry for `namespace`, if any.
    pub fn namespace(&self, namespace: &str) -> Option<&NsReadWriteSet> {
        self.namespaces.iter().find(|n| n.namespace == namespace)
    }
}

#[derive(Debug, Default)]
struct NsBuilder {
    reads: BTreeMap<String, Option<Version>>,
    range_queries: Vec<RangeQueryInfo>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

/// Collects reads and writes during a call.
#[derive(Debug, Default)]
pub(crate) struct RwSetBuilder {
    namespaces: BTreeMap<String, NsBuilder>,
    write_count: usize,
}

impl RwSetBuilder {
    fn ns(&mut self, namespace: &str) -> &mut NsBuilder {
        self.namespaces.entry(namespace.to_string()).or_default()
    }

    /// Records a point read; the first version seen for a key is kept.
    pub(crate) fn read(&mut self, namespace: &str, key: &str, version: Option<Version>) {
        self.ns(namespace)
            .reads
            .entry(key.to_string())
            .or_insert(version);
    }

    /// Records a write (`None` deletes); returns the number of distinct keys written so far.
    pub(crate) fn write(&mut self, namespace: &str, key: &str, value: Option<Vec<u8>>) -> usize {
        let fresh = self
            .ns(namespace)
            .writes
            .insert(key.to_string(), value)
            .is_none();
        if fresh {
            self.write_count += 1;
        }
        self.write_count
    }

    /// Whether writing `key` would add a new distinct key.
    pub(crate) fn is_new_write(&self, namespace: &str, key: &str) -> bool {
        self.namespaces
            .get(namespace)
            .is_none_or(|ns| !ns.writes.contains_key(key))
    }

    /// The number of distinct keys written.
    pub(crate) fn write_count(&self) -> usize {
        self.write_count
    }

    /// Records a range query.
    pub(crate) fn range(&mut self, namespace: &str, info: RangeQueryInfo) {
        self.ns(namespace).range_queries.push(info);
    }

    /// The finished, sorted set.
    pub(crate) fn build(self) -> ReadWriteSet {
        ReadWriteSet {
            namespaces: self
                .namespaces
                .into_iter()
                .map(|(namespace, ns)| NsReadWriteSet {
                    namespace,
                    reads: ns
                        .reads
                        .into_iter()
                        .map(|(key, version)| KvRead { key, version })
                        .collect(),
                    range_queries: ns.range_queries,
                    writes: ns
                        .writes
                        .into_iter()
                        .map(|(key, value)| match value {
                            Some(value) => KvWrite {
                                key,
                                is_delete: false,
                                value,
                            },
                            None => KvWrite {
                                key,
                                is_delete: true,
                                value: Vec::new(),
                            },
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sorted_sets_with_first_read_and_last_write() {
        let mut b = RwSetBuilder::default();
        let v1 = Some(Version {
            block_num: 1,
            tx_num: 2,
        });
        b.write("z", "k2", Some(b"a".to_vec()));
        b.write("z", "k1", Some(b"b".to_vec()));
        b.write("z", "k2", None);
        b.read("a", "r", v1);
        b.read("a", "r", None);
        assert_eq!(b.write_count(), 2);
        let set = b.build();
        assert_eq!(
            set.namespaces
                .iter()
                .map(|n| n.namespace.as_str())
                .collect::<Vec<_>>(),
            ["a", "z"]
        );
        assert_eq!(
            set.namespace("a").unwrap().reads,
            vec![KvRead {
                key: "r".into(),
                version: v1
            }]
        );
        let writes = &set.namespace("z").unwrap().writes;
        assert_eq!(
            writes[0],
            KvWrite {
                key: "k1".into(),
                is_delete: false,
                value: b"b".to_vec()
            }
        );
        assert_eq!(
            writes[1],
            KvWrite {
                key: "k2".into(),
                is_delete: true,
                value: Vec::new()
            }
        );
    }
}
