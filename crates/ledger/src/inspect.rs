//! Human-readable views of a ledger for `cambium ledger inspect`: blocks decoded down to each
//! transaction's header and writes, transactions, keys with their history.
//!
//! Keys and values are shown printable: bytes outside printable ASCII are escaped as `\xNN`
//! (so composite keys read `\x00type\x00attr\x00`), long values are cut with their length.

use std::fmt;

use cambium_primitives::HeaderType;
use cambium_wire::tx;

use crate::block::{hex, Block, METADATA_SLOTS};
use crate::error::Result;
use crate::traits::{BlockReader, StateReader};
use crate::types::{
    HistoryEntry, KeyWrite, Timestamp, TxLocation, TxOutcome, TxValidationCode, VersionedValue,
    WriteKind,
};

/// Values longer than this are shown cut, with their length.
const MAX_SHOWN: usize = 64;

/// Bytes as text: printable ASCII as is, everything else `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Reads `\xNN` (and `\\`) escapes in a key typed on a command line, the inverse of [`escape`]
/// for UTF-8 keys.
pub fn unescape(text: &str) -> std::result::Result<String, String> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            let hexpair = text
                .get(i + 2..i + 4)
                .ok_or_else(|| format!("incomplete escape at byte {i} of {text:?}; write \\xNN"))?;
            let b = u8::from_str_radix(hexpair, 16).map_err(|_| {
                format!("bad escape \\x{hexpair} in {text:?}; write two hex digits")
            })?;
            out.push(b);
            i += 4;
        } else if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not unescape to UTF-8"))
}

fn show_value(v: &[u8]) -> String {
    if v.len() <= MAX_SHOWN {
        format!("\"{}\"", escape(v))
    } else {
        format!("\"{}…\" ({} bytes)", escape(&v[..MAX_SHOWN]), v.len())
    }
}

fn show_time(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => format!("{}.{:09}s since the epoch", t.seconds, t.nanos),
        None => "-".to_string(),
    }
}

/// One transaction of a block, decoded as far as it goes.
#[derive(Clone, Debug)]
pub struct TxView {
    /// Index in the block.
    pub index: usize,
    /// The transaction ID ("" if the envelope does not decode).
    pub tx_id: String,
    /// The header type's name, e.g. `ENDORSER_TRANSACTION`.
    pub header_type: String,
    /// The channel named in the header.
    pub channel_id: String,
    /// The header timestamp.
    pub timestamp: Option<Timestamp>,
    /// The creator's MSP ID.
    pub creator_msp: Option<String>,
    /// The validation code from `TRANSACTIONS_FILTER`.
    pub code: Option<TxValidationCode>,
    /// The chaincode that ran, for endorser transactions.
    pub chaincode: Option<String>,
    /// The writes of the read/write set (applied only if valid).
    pub writes: Vec<KeyWrite>,
    /// Why the envelope could not be decoded further, if it could not.
    pub problem: Option<String>,
}

impl TxView {
    fn decode(index: usize, envelope: &[u8], code: Option<TxValidationCode>) -> Self {
        let mut view = TxView {
            index,
            tx_id: String::new(),
            header_type: "-".into(),
            channel_id: String::new(),
            timestamp: None,
            creator_msp: None,
            code,
            chaincode: None,
            writes: Vec::new(),
            problem: None,
        };
        let env = match tx::parse_envelope(envelope) {
            Ok(env) => env,
            Err(e) => {
                view.problem = Some(e.to_string());
                return view;
            }
        };
        let ch = &env.channel_header;
        view.tx_id = ch.tx_id.clone();
        view.channel_id = ch.channel_id.clone();
        view.timestamp = ch.timestamp;
        view.header_type = ch.known_header_type().map_or_else(
            || format!("UNKNOWN({})", ch.header_type),
            |t| t.name().to_string(),
        );
        view.creator_msp = env.creator.as_ref().map(|c| c.msp_id.clone());
        if ch.known_header_type() == Some(HeaderType::EndorserTransaction) {
            match tx::parse_transaction(&env.data) {
                Ok(actions) => {
                    for a in actions {
                        view.chaincode = a
                            .action
                            .chaincode_id
                            .as_ref()
                            .map(|c| format!("{} {}", c.name, c.version));
                        match a.action.rwset() {
                            Ok(rw) => view
                                .writes
                                .extend(TxOutcome::from_rwset(TxValidationCode::Valid, &rw).writes),
                            Err(e) => view.problem = Some(e.to_string()),
                        }
                    }
                }
                Err(e) => view.problem = Some(e.to_string()),
            }
        }
        view
    }
}

impl fmt::Display for TxView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.map_or_else(|| "-".to_string(), |c| c.to_string());
        writeln!(
            f,
            "  tx {}: {}",
            self.index,
            if self.tx_id.is_empty() {
                "-"
            } else {
                &self.tx_id
            }
        )?;
        writeln!(f, "    type:       {}", self.header_type)?;
        writeln!(f, "    validation: {code}")?;
        writeln!(f, "    channel:    {}", self.channel_id)?;
        writeln!(f, "    timestamp:  {}", show_time(self.timestamp))?;
        writeln!(
            f,
            "    creator:    {}",
            self.creator_msp.as_deref().unwrap_or("-")
        )?;
        if let Some(cc) = &self.chaincode {
            writeln!(f, "    chaincode:  {cc}")?;
        }
        if let Some(p) = &self.problem {
            writeln!(f, "    undecodable: {p}")?;
        }
        let applied = self.code.is_some_and(TxValidationCode::is_valid);
        let label = if applied {
            "write"
        } else {
            "write (not applied)"
        };
        for w in &self.writes {
            let what = match &w.kind {
                WriteKind::Put(v) => format!("put {}", show_value(v)),
                WriteKind::Delete => "delete".to_string(),
                WriteKind::Metadata(m) => format!("metadata {{{}}}", show_metadata(m)),
            };
            writeln!(
                f,
                "    {label} {}/{}: {what}",
                w.namespace,
                escape(w.key.as_bytes())
            )?;
        }
        Ok(())
    }
}

fn show_metadata(m: &crate::KeyMetadata) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}: {}", show_value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A block decoded for display.
#[derive(Clone, Debug)]
pub struct BlockView {
    /// The block number.
    pub number: u64,
    /// The header hash.
    pub hash: [u8; 32],
    /// The decoded block.
    pub block: Block,
    /// Its transactions.
    pub txs: Vec<TxView>,
}

impl BlockView {
    /// Decodes a stored block.
    pub fn new(stored: &crate::StoredBlock) -> Result<Self> {
        let block = Block::decode(&stored.bytes)?;
        let filter = block.transactions_filter();
        let txs = block
            .data
            .iter()
            .enumerate()
            .map(|(i, env)| {
                TxView::decode(
                    i,
                    env,
                    filter.get(i).and_then(|b| TxValidationCode::from_u8(*b)),
                )
            })
            .collect();
        Ok(BlockView {
            number: stored.number,
            hash: stored.hash,
            block,
            txs,
        })
    }
}

impl fmt::Display for BlockView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "block {}", self.number)?;
        writeln!(f, "  hash:          {}", hex(&self.hash))?;
        writeln!(f, "  previous hash: {}", hex(&self.block.previous_hash))?;
        writeln!(f, "  data hash:     {}", hex(&self.block.data_hash))?;
        writeln!(f, "  transactions:  {}", self.block.data.len())?;
        let names = [
            "SIGNATURES",
            "LAST_CONFIG",
            "TRANSACTIONS_FILTER",
            "ORDERER",
            "COMMIT_HASH",
        ];
        for (i, m) in self.block.metadata.iter().enumerate().take(METADATA_SLOTS) {
            writeln!(f, "  metadata[{i}] {}: {} bytes", names[i], m.len())?;
        }
        for tx in &self.txs {
            write!(f, "{tx}")?;
        }
        Ok(())
    }
}

/// The overview `cambium ledger inspect DIR` prints.
pub fn summary<L: BlockReader + StateReader>(ledger: &L) -> Result<String> {
    let height = ledger.height()?;
    let mut out = format!("height: {height}\n");
    match height.checked_sub(1) {
        Some(tip) => {
            let block = ledger.block(tip)?.expect("the tip is below the height");
            out.push_str(&format!(
                "last block: {tip}\nlast block hash: {}\n",
                hex(&block.hash)
            ));
        }
        None => out.push_str("last block: none (empty ledger)\n"),
    }
    Ok(out)
}

/// A transaction by ID, with its block position, code and decoded content.
pub fn transaction<L: BlockReader>(ledger: &L, tx_id: &str) -> Result<Option<String>> {
    let Some(TxLocation {
        block_num,
        tx_num,
        code,
        ..
    }) = ledger.transaction(tx_id)?
    else {
        return Ok(None);
    };
    let block = ledger.block(block_num)?.expect("indexed block exists");
    let view = BlockView::new(&block)?;
    let mut out = format!(
        "transaction {tx_id}\n  block: {block_num}\n  index: {tx_num}\n  validation: {code}\n"
    );
    if let Some(tx) = view.txs.get(tx_num as usize) {
        out.push_str(&tx.to_string());
    }
    Ok(Some(out))
}

/// A key's current value and its history, newest first.
pub fn key<L: StateReader>(ledger: &L, namespace: &str, key: &str) -> Result<String> {
    let mut out = format!("key {namespace}/{}\n", escape(key.as_bytes()));
    match ledger.get_state(namespace, key)? {
        Some(VersionedValue {
            value,
            version,
            metadata,
        }) => {
            out.push_str(&format!("  value:    {}\n", show_value(&value)));
            out.push_str(&format!(
                "  version:  block {} tx {}\n",
                version.block_num, version.tx_num
            ));
            if !metadata.is_empty() {
                out.push_str(&format!("  metadata: {{{}}}\n", show_metadata(&metadata)));
            }
        }
        None => out.push_str("  value:    (none: never written or deleted)\n"),
    }
    let history = ledger.get_history_for_key(namespace, key)?;
    out.push_str(&format!(
        "  history ({} writes, newest first):\n",
        history.len()
    ));
    for HistoryEntry {
        version,
        tx_id,
        value,
        timestamp,
    } in history
    {
        let what = value.map_or_else(
            || "delete".to_string(),
            |v| format!("put {}", show_value(&v)),
        );
        out.push_str(&format!(
            "    block {} tx {} {tx_id} at {}: {what}\n",
            version.block_num,
            version.tx_num,
            show_time(timestamp)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for s in [
            "plain",
            "\u{0}color\u{0}blue\u{0}",
            "back\\slash",
            "caf\u{e9}",
        ] {
            assert_eq!(unescape(&escape(s.as_bytes())).unwrap(), s);
        }
        assert_eq!(escape(b"\x00a\\"), "\\x00a\\x5c");
        assert!(unescape("\\x4").is_err());
        assert!(unescape("\\xzz").is_err());
    }
}
