//! The ledger's own byte encodings: state keys and values, history keys, index entries and the
//! per-transaction commit section stored beside each block.
//!
//! Every integer is fixed-width big-endian so that encoded keys sort like the values they
//! encode. Every encoding has a round-trip property test.

use crate::error::{LedgerError, Result};
use crate::types::{
    KeyMetadata, KeyWrite, Timestamp, TxValidationCode, Version, VersionedValue, WriteKind,
};

/// Appends big-endian integers and length-prefixed byte strings.
#[derive(Default)]
pub(crate) struct Enc {
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).expect("a ledger item is below 4 GiB"));
        self.buf.extend_from_slice(v);
        self
    }
    pub(crate) fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
}

/// Reads what [`Enc`] wrote, failing cleanly on truncated or malformed input.
pub(crate) struct Dec<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Dec { data, what }
    }
    fn err(&self, message: &str) -> LedgerError {
        LedgerError::Decode {
            what: self.what,
            message: message.to_string(),
        }
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.data.len() < n {
            return Err(self.err("truncated"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    pub(crate) fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a string is not UTF-8"))
    }
    pub(crate) fn finish(&self) -> Result<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(self.err("trailing bytes"))
        }
    }
}

/// Checks that a namespace can be stored: non-empty and without NUL.
pub(crate) fn check_namespace(namespace: &str) -> Result<()> {
    if namespace.is_empty() || namespace.contains('\0') {
        return Err(LedgerError::InvalidKey(format!(
            "namespace {namespace:?} must be non-empty and contain no NUL byte"
        )));
    }
    Ok(())
}

/// The state-table key of `key` in `namespace`: namespace, NUL, key. Namespaces hold no NUL, so
/// keys of one namespace are contiguous and sorted by key bytes.
pub(crate) fn state_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(namespace.len() + 1 + key.len());
    out.extend_from_slice(namespace.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The namespace and key of a state-table key.
pub(crate) fn split_state_key(raw: &[u8]) -> Result<(String, String)> {
    let bad = || LedgerError::Decode {
        what: "state key",
        message: "no namespace separator or not UTF-8".into(),
    };
    let pos = raw.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let ns = std::str::from_utf8(&raw[..pos]).map_err(|_| bad())?;
    let key = std::str::from_utf8(&raw[pos + 1..]).map_err(|_| bad())?;
    Ok((ns.to_string(), key.to_string()))
}

fn encode_metadata(enc: &mut Enc, metadata: &KeyMetadata) {
    enc.u32(metadata.len() as u32);
    for (name, value) in metadata {
        enc.bytes(name.as_bytes()).bytes(value);
    }
}

fn decode_metadata(dec: &mut Dec<'_>) -> Result<KeyMetadata> {
    let n = dec.u32()?;
    let mut metadata = KeyMetadata::new();
    for _ in 0..n {
        let name = dec.string()?;
        let value = dec.bytes()?.to_vec();
        metadata.insert(name, value);
    }
    Ok(metadata)
}

/// Encodes a state value: version, value, metadata, then `head`, the version of the key's
/// newest history entry (the start of its history chain, see [`history_log_key`]).
pub(crate) fn encode_state(v: &VersionedValue, head: Version) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.u64(v.version.block_num)
        .u64(v.version.tx_num)
        .bytes(&v.value);
    encode_metadata(&mut enc, &v.metadata);
    enc.u64(head.block_num).u64(head.tx_num);
    enc.buf
}

/// Decodes [`encode_state`] into the value and the key's history head.
pub(crate) fn decode_state(raw: &[u8]) -> Result<(VersionedValue, Version)> {
    let mut dec = Dec::new(raw, "state value");
    let version = Version::new(dec.u64()?, dec.u64()?);
    let value = dec.bytes()?.to_vec();
    let metadata = decode_metadata(&mut dec)?;
    let head = Version::new(dec.u64()?, dec.u64()?);
    dec.finish()?;
    let v = VersionedValue {
        value,
        version,
        metadata,
    };
    Ok((v, head))
}

/// Decodes the value part of [`encode_state`].
pub(crate) fn decode_value(raw: &[u8]) -> Result<VersionedValue> {
    decode_state(raw).map(|(v, _)| v)
}

/// Encodes a version as 16 bytes (a history head or a link of the history chain).
pub(crate) fn encode_version(v: Version) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&v.block_num.to_be_bytes());
    out[8..].copy_from_slice(&v.tx_num.to_be_bytes());
    out
}

/// Decodes [`encode_version`].
pub(crate) fn decode_version(raw: &[u8]) -> Result<Version> {
    let mut dec = Dec::new(raw, "history link");
    let v = Version::new(dec.u64()?, dec.u64()?);
    dec.finish()?;
    Ok(v)
}

/// A history-log key: the writing `(block, tx)` first, then the key's [`history_prefix`].
/// Keys of one block sort after every earlier block's, so a commit appends to the log instead
/// of touching one B-tree leaf per written key. The entry's value links to the key's previous
/// history entry, so one key's history is a chain that starts at its head.
pub(crate) fn history_log_key(namespace: &str, key: &str, version: Version) -> Vec<u8> {
    let prefix = history_prefix(namespace, key);
    let mut enc = Enc {
        buf: Vec::with_capacity(16 + prefix.len()),
    };
    enc.u64(version.block_num).u64(version.tx_num).raw(&prefix);
    enc.buf
}

/// The length-prefixed part of a history key that names one key.
pub(crate) fn history_prefix(namespace: &str, key: &str) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.bytes(namespace.as_bytes()).bytes(key.as_bytes());
    enc.buf
}

/// Where a block's record lives, and what the index knows about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockLoc {
    /// Number of the block file.
    pub(crate) file: u32,
    /// Offset of the record header in that file.
    pub(crate) offset: u64,
    /// Length of the whole record, header included.
    pub(crate) len: u64,
    /// The block's header hash.
    pub(crate) hash: [u8; 32],
}

impl BlockLoc {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut enc = Enc::default();
        enc.u32(self.file)
            .u64(self.offset)
            .u64(self.len)
            .raw(&self.hash);
        enc.buf
    }

    pub(crate) fn decode(raw: &[u8]) -> Result<Self> {
        let mut dec = Dec::new(raw, "block location");
        let loc = BlockLoc {
            file: dec.u32()?,
            offset: dec.u64()?,
            len: dec.u64()?,
            hash: dec.take(32)?.try_into().expect("32 bytes"),
        };
        dec.finish()?;
        Ok(loc)
    }
}

/// Reads a validation-code byte.
fn code(dec: &mut Dec<'_>) -> Result<TxValidationCode> {
    let b = dec.u8()?;
    TxValidationCode::from_u8(b).ok_or_else(|| LedgerError::Decode {
        what: dec.what,
        message: format!("{b} is not a Fabric validation code"),
    })
}

/// Encodes a tx-ID index entry.
pub(crate) fn encode_tx_loc(block_num: u64, tx_num: u64, code: TxValidationCode) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.u64(block_num).u64(tx_num).u8(code.as_u8());
    enc.buf
}

/// Decodes [`encode_tx_loc`].
pub(crate) fn decode_tx_loc(raw: &[u8]) -> Result<(u64, u64, TxValidationCode)> {
    let mut dec = Dec::new(raw, "transaction index entry");
    let out = (dec.u64()?, dec.u64()?, code(&mut dec)?);
    dec.finish()?;
    Ok(out)
}

/// What the ledger stores about one transaction beside the block bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TxRecord {
    /// The transaction ID from the channel header, empty when the envelope had none.
    pub(crate) tx_id: String,
    /// The channel header's timestamp.
    pub(crate) timestamp: Option<Timestamp>,
    /// The validation code.
    pub(crate) code: TxValidationCode,
    /// The writes applied (empty unless valid).
    pub(crate) writes: Vec<KeyWrite>,
}

const KIND_PUT: u8 = 0;
const KIND_DELETE: u8 = 1;
const KIND_METADATA: u8 = 2;

/// Encodes the commit section of a block record: one [`TxRecord`] per transaction.
pub(crate) fn encode_tx_records(txs: &[TxRecord]) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.u32(txs.len() as u32);
    for tx in txs {
        enc.bytes(tx.tx_id.as_bytes()).u8(tx.code.as_u8());
        match tx.timestamp {
            Some(ts) => enc.u8(1).i64(ts.seconds).i32(ts.nanos),
            None => enc.u8(0),
        };
        enc.u32(tx.writes.len() as u32);
        for w in &tx.writes {
            enc.bytes(w.namespace.as_bytes()).bytes(w.key.as_bytes());
            match &w.kind {
                WriteKind::Put(v) => enc.u8(KIND_PUT).bytes(v),
                WriteKind::Delete => enc.u8(KIND_DELETE),
                WriteKind::Metadata(m) => {
                    enc.u8(KIND_METADATA);
                    encode_metadata(&mut enc, m);
                    &mut enc
                }
            };
        }
    }
    enc.buf
}

/// Decodes [`encode_tx_records`].
pub(crate) fn decode_tx_records(raw: &[u8]) -> Result<Vec<TxRecord>> {
    let mut dec = Dec::new(raw, "commit section of a block record");
    let n = dec.u32()?;
    let mut txs = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let tx_id = dec.string()?;
        let code = code(&mut dec)?;
        let timestamp = match dec.u8()? {
            0 => None,
            _ => Some(Timestamp {
                seconds: dec.i64()?,
                nanos: dec.i32()?,
            }),
        };
        let nw = dec.u32()?;
        let mut writes = Vec::with_capacity(nw.min(1 << 16) as usize);
        for _ in 0..nw {
            let namespace = dec.string()?;
            let key = dec.string()?;
            let kind = match dec.u8()? {
                KIND_PUT => WriteKind::Put(dec.bytes()?.to_vec()),
                KIND_DELETE => WriteKind::Delete,
                KIND_METADATA => WriteKind::Metadata(decode_metadata(&mut dec)?),
                other => {
                    return Err(LedgerError::Decode {
                        what: "commit section of a block record",
                        message: format!("unknown write kind {other}"),
                    })
                }
            };
            writes.push(KeyWrite {
                namespace,
                key,
                kind,
            });
        }
        txs.push(TxRecord {
            tx_id,
            timestamp,
            code,
            writes,
        });
    }
    dec.finish()?;
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn metadata() -> impl Strategy<Value = KeyMetadata> {
        prop::collection::btree_map(".{0,8}", prop::collection::vec(any::<u8>(), 0..8), 0..3)
    }

    fn write() -> impl Strategy<Value = KeyWrite> {
        let kind = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..16).prop_map(WriteKind::Put),
            Just(WriteKind::Delete),
            metadata().prop_map(WriteKind::Metadata),
        ];
        ("[a-z]{1,6}", ".{0,10}", kind).prop_map(|(namespace, key, kind)| KeyWrite {
            namespace,
            key,
            kind,
        })
    }

    fn tx_record() -> impl Strategy<Value = TxRecord> {
        (
            "[0-9a-f]{0,16}",
            prop::option::of((any::<i64>(), any::<i32>())),
            prop::sample::select(TxValidationCode::ALL),
            prop::collection::vec(write(), 0..4),
        )
            .prop_map(|(tx_id, ts, code, writes)| TxRecord {
                tx_id,
                timestamp: ts.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                code,
                writes,
            })
    }

    proptest! {
        #[test]
        fn value_round_trips(value in prop::collection::vec(any::<u8>(), 0..64), b in any::<u64>(), t in any::<u64>(), metadata in metadata(), hb in any::<u64>(), ht in any::<u64>()) {
            let v = VersionedValue { value, version: Version::new(b, t), metadata };
            let head = Version::new(hb, ht);
            let raw = encode_state(&v, head);
            prop_assert_eq!(decode_value(&raw).unwrap(), v.clone());
            prop_assert_eq!(decode_state(&raw).unwrap(), (v, head));
            prop_assert_eq!(decode_version(&encode_version(head)).unwrap(), head);
            prop_assert!(decode_state(&raw[..raw.len() - 1]).is_err());
        }

        #[test]
        fn tx_records_round_trip(txs in prop::collection::vec(tx_record(), 0..5)) {
            prop_assert_eq!(decode_tx_records(&encode_tx_records(&txs)).unwrap(), txs);
        }

        #[test]
        fn truncated_tx_records_fail_cleanly(txs in prop::collection::vec(tx_record(), 1..3), cut in any::<prop::sample::Index>()) {
            let raw = encode_tx_records(&txs);
            let cut = cut.index(raw.len());
            prop_assert!(decode_tx_records(&raw[..cut]).is_err());
        }

        #[test]
        fn state_keys_round_trip_and_sort_by_key(ns in "[a-z_]{1,6}", a in ".{0,8}", b in ".{0,8}") {
            let (ka, kb) = (state_key(&ns, &a), state_key(&ns, &b));
            prop_assert_eq!(split_state_key(&ka).unwrap(), (ns.clone(), a.clone()));
            prop_assert_eq!(ka.cmp(&kb), a.as_bytes().cmp(b.as_bytes()));
        }

        #[test]
        fn history_log_keys_sort_by_version_first(ns in "[a-z]{1,4}", k1 in ".{0,8}", k2 in ".{0,8}", v1 in (any::<u64>(), any::<u64>()), v2 in (any::<u64>(), any::<u64>())) {
            let (a, b) = (Version::new(v1.0, v1.1), Version::new(v2.0, v2.1));
            let (ha, hb) = (history_log_key(&ns, &k1, a), history_log_key(&ns, &k2, b));
            prop_assert!(ha.ends_with(&history_prefix(&ns, &k1)));
            prop_assert_eq!(&ha[..16], &encode_version(a)[..]);
            if a != b {
                prop_assert_eq!(ha.cmp(&hb), a.cmp(&b));
            }
        }

        #[test]
        fn index_entries_round_trip(file in any::<u32>(), offset in any::<u64>(), len in any::<u64>(), hash in any::<[u8; 32]>(), b in any::<u64>(), t in any::<u64>(), code in prop::sample::select(TxValidationCode::ALL)) {
            let loc = BlockLoc { file, offset, len, hash };
            prop_assert_eq!(BlockLoc::decode(&loc.encode()).unwrap(), loc);
            prop_assert_eq!(decode_tx_loc(&encode_tx_loc(b, t, code)).unwrap(), (b, t, code));
        }
    }

    #[test]
    fn history_prefix_of_one_key_is_not_a_prefix_of_another() {
        // "a" vs "a\0b": with a NUL separator the first would be a prefix of the second.
        let a = history_prefix("ns", "a");
        let ab = history_prefix("ns", "a\u{0}b");
        assert!(!ab.starts_with(&a));
        assert_ne!(
            history_log_key("ns", "a", Version::new(1, 0)),
            history_log_key("ns", "a\u{0}b", Version::new(1, 0))
        );
    }
}
