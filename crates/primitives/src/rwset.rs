//! Read/write sets: what a simulated transaction read and wrote, per namespace.
//!
//! These mirror Fabric's `rwset.TxReadWriteSet` and `kvrwset.KVRWSet` without the protobuf
//! nesting (Fabric carries each namespace's `KVRWSet` as bytes inside `NsReadWriteSet`).
//! Order is preserved exactly as built or received: Fabric's endorsers sort namespaces, reads
//! and writes by key so that every endorser produces identical bytes, and [`TxRwSet::sort`]
//! does the same here.

/// The version of a key: the block and the transaction within it that last wrote the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Number of the block that holds the writing transaction.
    pub block_num: u64,
    /// Index of the writing transaction within that block.
    pub tx_num: u64,
}

impl Version {
    /// The version `(block_num, tx_num)`.
    pub fn new(block_num: u64, tx_num: u64) -> Self {
        Version { block_num, tx_num }
    }
}

/// A key read and the version it had; `None` means the key did not exist.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvRead {
    /// The key within its namespace.
    pub key: String,
    /// The committed version seen, or `None` for a missing key.
    pub version: Option<Version>,
}

/// A key written, or deleted when `is_delete` is set (then `value` is empty).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvWrite {
    /// The key within its namespace.
    pub key: String,
    /// Whether the key is deleted.
    pub is_delete: bool,
    /// The new value.
    pub value: Vec<u8>,
}

/// One named metadata value of a key (e.g. a key-level endorsement policy).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvMetadataEntry {
    /// The metadata name, e.g. `VALIDATION_PARAMETER`.
    pub name: String,
    /// The metadata value.
    pub value: Vec<u8>,
}

/// The metadata written for one key; an empty `entries` removes all metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvMetadataWrite {
    /// The key within its namespace.
    pub key: String,
    /// The entries, in the order they were written.
    pub entries: Vec<KvMetadataEntry>,
}

/// What a range query observed, for phantom-read detection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RangeQueryReads {
    /// Every key the iterator returned, with its version.
    Raw(Vec<KvRead>),
    /// A Merkle summary of the reads, used by Fabric for very large ranges.
    MerkleSummary {
        /// The tree's fan-out.
        max_degree: u32,
        /// The level the hashes belong to.
        max_level: u32,
        /// The hashes at `max_level`.
        max_level_hashes: Vec<Vec<u8>>,
    },
}

/// A range query `[start_key, end_key)` and what it read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RangeQueryInfo {
    /// The first key of the range (inclusive).
    pub start_key: String,
    /// The end of the range (exclusive); empty for an open end.
    pub end_key: String,
    /// Whether the caller read the iterator to its end.
    pub itr_exhausted: bool,
    /// The reads, or `None` if none were recorded.
    pub reads: Option<RangeQueryReads>,
}

/// A private collection's hashed read/write set, kept as the bytes received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CollectionHashedRwSet {
    /// The collection's name.
    pub collection_name: String,
    /// The serialized `kvrwset.HashedRWSet`.
    pub hashed_rwset: Vec<u8>,
    /// The hash of the collection's private rwset.
    pub pvt_rwset_hash: Vec<u8>,
}

/// The reads and writes of one namespace (one contract, or a system namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NsRwSet {
    /// The namespace, usually the contract name.
    pub namespace: String,
    /// Keys read.
    pub reads: Vec<KvRead>,
    /// Keys written or deleted.
    pub writes: Vec<KvWrite>,
    /// Range queries executed.
    pub range_queries: Vec<RangeQueryInfo>,
    /// Key metadata written.
    pub metadata_writes: Vec<KvMetadataWrite>,
    /// Hashed rwsets of private collections.
    pub collection_hashed_rwsets: Vec<CollectionHashedRwSet>,
}

impl NsRwSet {
    /// An empty rwset for `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        NsRwSet {
            namespace: namespace.into(),
            ..NsRwSet::default()
        }
    }

    /// Whether the namespace writes anything (keys or key metadata).
    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty() || !self.metadata_writes.is_empty()
    }
}

/// A transaction's read/write set: one entry per namespace it touched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TxRwSet {
    /// The namespaces, in order.
    pub ns: Vec<NsRwSet>,
}

impl TxRwSet {
    /// Sorts namespaces by name, and reads, writes and metadata writes by key, as Fabric's
    /// rwset builder does, so that every endorser encodes byte-identical results. Range
    /// queries keep their execution order, as in Fabric.
    pub fn sort(&mut self) {
        self.ns.sort_by(|a, b| a.namespace.cmp(&b.namespace));
        for ns in &mut self.ns {
            ns.reads.sort_by(|a, b| a.key.cmp(&b.key));
            ns.writes.sort_by(|a, b| a.key.cmp(&b.key));
            ns.metadata_writes.sort_by(|a, b| a.key.cmp(&b.key));
            ns.collection_hashed_rwsets
                .sort_by(|a, b| a.collection_name.cmp(&b.collection_name));
        }
    }

    /// The namespace's rwset, if the transaction touched it.
    pub fn namespace(&self, namespace: &str) -> Option<&NsRwSet> {
        self.ns.iter().find(|ns| ns.namespace == namespace)
    }

    /// The first namespace that appears more than once, if any (Fabric marks such a
    /// transaction `ILLEGAL_WRITESET`).
    pub fn repeated_namespace(&self) -> Option<&str> {
        let mut names: Vec<&str> = self.ns.iter().map(|ns| ns.namespace.as_str()).collect();
        names.sort_unstable();
        names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: &str) -> KvWrite {
        KvWrite {
            key: key.into(),
            is_delete: false,
            value: key.as_bytes().to_vec(),
        }
    }

    #[test]
    fn sort_orders_namespaces_reads_and_writes() {
        let mut b = NsRwSet::new("b");
        b.writes = vec![write("z"), write("a")];
        b.reads = vec![
            KvRead {
                key: "y".into(),
                version: None,
            },
            KvRead {
                key: "c".into(),
                version: Some(Version::new(1, 0)),
            },
        ];
        let mut rw = TxRwSet {
            ns: vec![b, NsRwSet::new("a")],
        };
        rw.sort();
        assert_eq!(rw.ns[0].namespace, "a");
        let b = rw.namespace("b").expect("namespace b");
        assert_eq!(
            b.writes.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
            ["a", "z"]
        );
        assert_eq!(
            b.reads.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["c", "y"]
        );
        assert!(b.has_writes());
        assert!(!rw.ns[0].has_writes());
    }

    #[test]
    fn repeated_namespace_is_found() {
        let rw = TxRwSet {
            ns: vec![NsRwSet::new("a"), NsRwSet::new("b")],
        };
        assert_eq!(rw.repeated_namespace(), None);
        let rw = TxRwSet {
            ns: vec![NsRwSet::new("b"), NsRwSet::new("a"), NsRwSet::new("b")],
        };
        assert_eq!(rw.repeated_namespace(), Some("b"));
    }

    #[test]
    fn versions_order_by_block_then_tx() {
        assert!(Version::new(1, 9) < Version::new(2, 0));
        assert!(Version::new(2, 0) < Version::new(2, 1));
    }
}
