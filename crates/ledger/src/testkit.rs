//! Building chains of Fabric blocks for tests, benches and tools: the one place that turns
//! "transaction ID, validation code, writes" into real endorser-transaction envelopes (channel
//! header, transaction, chaincode action with a KV read/write set) and blocks, and that derives
//! the commit input back from stored blocks for replays.

use std::collections::BTreeMap;

use cambium_primitives::{
    ChaincodeResponse, KvMetadataEntry, KvMetadataWrite, KvWrite, NsRwSet, TxRwSet,
};
use cambium_wire::peer;
use cambium_wire::tx::{self, ChaincodeActionFields, ChaincodeIdFields, ChannelHeaderFields};
use cambium_wire::Message;

use crate::block::{Block, BlockCommit};
use crate::error::{LedgerError, Result};
use crate::types::{KeyWrite, StoredBlock, Timestamp, TxOutcome, TxValidationCode, WriteKind};

/// The channel the test envelopes name.
pub const TEST_CHANNEL: &str = "testchannel";

/// One transaction to put in a test block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestTx {
    /// The transaction ID written into the channel header.
    pub tx_id: String,
    /// The validation code the validator is taken to have decided.
    pub code: TxValidationCode,
    /// The writes carried in the envelope's read/write set (applied only when valid).
    pub writes: Vec<KeyWrite>,
    /// The channel header's timestamp, in seconds.
    pub timestamp_seconds: i64,
}

impl TestTx {
    /// A valid transaction with these writes.
    pub fn valid(tx_id: impl Into<String>, writes: Vec<KeyWrite>) -> Self {
        Self::invalid(tx_id, TxValidationCode::Valid, writes)
    }

    /// A transaction the validator decided with `code`; unless valid, its writes stay in the
    /// envelope only.
    pub fn invalid(
        tx_id: impl Into<String>,
        code: TxValidationCode,
        writes: Vec<KeyWrite>,
    ) -> Self {
        TestTx {
            tx_id: tx_id.into(),
            code,
            writes,
            timestamp_seconds: 1_700_000_000,
        }
    }
}

/// Makes consecutive blocks that chain by header hash.
#[derive(Clone, Debug, Default)]
pub struct ChainBuilder {
    next: u64,
    previous_hash: Vec<u8>,
}

impl ChainBuilder {
    /// A builder whose first block is the genesis block.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder continuing after `tip`.
    pub fn after(tip: &StoredBlock) -> Self {
        ChainBuilder {
            next: tip.number + 1,
            previous_hash: tip.hash.to_vec(),
        }
    }

    /// The number of the next block.
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// The next block holding `txs`, with the outcomes a validator would hand the ledger: for
    /// each valid transaction, the writes of its read/write set.
    pub fn block(&mut self, txs: &[TestTx]) -> BlockCommit {
        let mut data = Vec::with_capacity(txs.len());
        let mut outcomes = Vec::with_capacity(txs.len());
        for tx in txs {
            let rwset = rwset_of(&tx.writes);
            data.push(envelope_with_rwset(&tx.tx_id, tx.timestamp_seconds, &rwset));
            outcomes.push(TxOutcome::from_rwset(tx.code, &rwset));
        }
        let block = Block::new(self.next, std::mem::take(&mut self.previous_hash), data);
        self.previous_hash = block.header_hash().to_vec();
        self.next += 1;
        BlockCommit { block, outcomes }
    }
}

/// The read/write set carrying `writes`, grouped by namespace in first-seen order; within a
/// namespace, puts and deletes keep their order, metadata writes follow.
pub fn rwset_of(writes: &[KeyWrite]) -> TxRwSet {
    let mut order: Vec<String> = Vec::new();
    let mut by_ns: BTreeMap<String, NsRwSet> = BTreeMap::new();
    for w in writes {
        let ns = by_ns.entry(w.namespace.clone()).or_insert_with(|| {
            order.push(w.namespace.clone());
            NsRwSet::new(w.namespace.clone())
        });
        match &w.kind {
            WriteKind::Put(value) => ns.writes.push(KvWrite {
                key: w.key.clone(),
                is_delete: false,
                value: value.clone(),
            }),
            WriteKind::Delete => ns.writes.push(KvWrite {
                key: w.key.clone(),
                is_delete: true,
                value: Vec::new(),
            }),
            WriteKind::Metadata(entries) => ns.metadata_writes.push(KvMetadataWrite {
                key: w.key.clone(),
                entries: entries
                    .iter()
                    .map(|(name, value)| KvMetadataEntry {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            }),
        }
    }
    TxRwSet {
        ns: order
            .into_iter()
            .map(|n| by_ns.remove(&n).expect("namespace recorded"))
            .collect(),
    }
}

/// An endorser-transaction envelope carrying `writes` in its read/write set.
pub fn envelope(tx_id: &str, timestamp_seconds: i64, writes: &[KeyWrite]) -> Vec<u8> {
    envelope_with_rwset(tx_id, timestamp_seconds, &rwset_of(writes))
}

fn envelope_with_rwset(tx_id: &str, timestamp_seconds: i64, rwset: &TxRwSet) -> Vec<u8> {
    let chaincode = rwset.ns.first().map_or("basic", |ns| ns.namespace.as_str());
    let channel_header = ChannelHeaderFields {
        header_type: 3,
        timestamp: Some(Timestamp {
            seconds: timestamp_seconds,
            nanos: 0,
        }),
        channel_id: TEST_CHANNEL.to_string(),
        tx_id: tx_id.to_string(),
        extension: tx::chaincode_header_extension_bytes(chaincode),
        ..ChannelHeaderFields::default()
    }
    .encode();
    let creator =
        cambium_wire::encode_serialized_identity(&cambium_primitives::SerializedIdentity {
            msp_id: "Org1MSP".to_string(),
            id_bytes: b"-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n".to_vec(),
        });
    let signature_header = tx::signature_header_bytes(&creator, tx_id.as_bytes());
    let action = ChaincodeActionFields {
        results: cambium_wire::encode_tx_rwset(rwset),
        events: Vec::new(),
        response: Some(ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: Vec::new(),
        }),
        chaincode_id: Some(ChaincodeIdFields {
            name: chaincode.to_string(),
            version: "1.0".to_string(),
        }),
    }
    .encode();
    let prp = tx::proposal_response_payload_bytes(&tx::sha256(tx_id.as_bytes()), &action);
    let transaction = peer::Transaction {
        actions: vec![peer::TransactionAction {
            header: signature_header.clone(),
            payload: peer::ChaincodeActionPayload {
                chaincode_proposal_payload: Vec::new(),
                action: Some(peer::ChaincodeEndorsedAction {
                    proposal_response_payload: prp,
                    endorsements: Vec::new(),
                }),
            }
            .encode_to_vec(),
        }],
    }
    .encode_to_vec();
    let payload = tx::payload_bytes(&channel_header, &signature_header, &transaction);
    tx::envelope_bytes(&payload, b"test-signature")
}

/// The commit input of a stored block, derived from its own bytes the way a replaying peer
/// would: the validation codes from `TRANSACTIONS_FILTER`, and for each valid transaction the
/// writes of its read/write set.
pub fn outcomes_from_block(bytes: &[u8]) -> Result<(Block, Vec<TxOutcome>)> {
    let block = Block::decode(bytes)?;
    let filter = block.transactions_filter();
    let decode = |what: &'static str| {
        move |e: cambium_wire::WireError| LedgerError::Decode {
            what,
            message: e.to_string(),
        }
    };
    let mut outcomes = Vec::with_capacity(block.data.len());
    for (i, env) in block.data.iter().enumerate() {
        let byte = filter.get(i).copied().ok_or_else(|| LedgerError::Decode {
            what: "TRANSACTIONS_FILTER",
            message: format!("no code for transaction {i}"),
        })?;
        let code = TxValidationCode::from_u8(byte).ok_or_else(|| LedgerError::Decode {
            what: "TRANSACTIONS_FILTER",
            message: format!("{byte} is not a validation code"),
        })?;
        if !code.is_valid() {
            outcomes.push(TxOutcome::invalid(code));
            continue;
        }
        let view = tx::parse_envelope(env).map_err(decode("common.Envelope"))?;
        let actions = tx::parse_transaction(&view.data).map_err(decode("protos.Transaction"))?;
        let mut rwset = TxRwSet::default();
        for a in actions {
            rwset
                .ns
                .extend(a.action.rwset().map_err(decode("rwset.TxReadWriteSet"))?.ns);
        }
        outcomes.push(TxOutcome::from_rwset(code, &rwset));
    }
    Ok((block, outcomes))
}
