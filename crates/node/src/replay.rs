//! `cambium contract replay NAME --package NEW --last N`: shadow replay of a contract's recent
//! transactions against a new package, to see before an upgrade which results would change.
//!
//! The replay needs no peer state and no access to a peer's files: everything comes from the
//! blocks. Every valid transaction's writes are indexed by key and version, which gives the
//! world state *as of* any point of the chain. Each of the last N valid transactions of the
//! contract is then executed again, with its own arguments, creator, transaction ID and
//! timestamp, against the state just before it in commit order, which is exactly the state its
//! read set was validated against. The new package's response and write set are compared with
//! the ones the ledger recorded.
//!
//! Limits, reported rather than hidden: transient data never reaches the ledger, so a
//! transaction that used it is replayed without it; calls into other contracts cannot be
//! resolved (only the new package is loaded), so they fail and show up as differences.

use std::collections::BTreeMap;
use std::sync::Arc;

use cambium_primitives::TxRwSet;
use cambium_vm::{
    Call, CallOutcome, Contract, Creator, Env, KeyModification, StateError, StateView, Timestamp,
    Version, VersionedValue, Vm,
};
use cambium_wire::common;
use serde::Serialize;

use crate::blocks::{endorser_transactions, EndorserTx};
use crate::error::{NodeError, Result};

/// One change of a key: who wrote what, at which version.
#[derive(Clone, Debug)]
struct Change {
    version: Version,
    /// `None` for a delete.
    value: Option<Vec<u8>>,
    tx_id: String,
    timestamp: Timestamp,
}

/// Every write of every valid transaction, by namespace and key, in commit order.
#[derive(Debug, Default)]
pub struct LedgerIndex {
    keys: BTreeMap<String, BTreeMap<String, Vec<Change>>>,
}

impl LedgerIndex {
    /// Indexes the writes of the valid transactions in `txs` (which must be in commit order).
    pub fn build(txs: &[EndorserTx]) -> Result<LedgerIndex> {
        let mut index = LedgerIndex::default();
        for tx in txs.iter().filter(|t| t.is_valid()) {
            let rwset = recorded_rwset(tx)?;
            let version = Version {
                block_num: tx.block,
                tx_num: tx.index,
            };
            let timestamp = Timestamp {
                seconds: tx.timestamp.seconds,
                nanos: tx.timestamp.nanos,
            };
            for ns in &rwset.ns {
                let keys = index.keys.entry(ns.namespace.clone()).or_default();
                for write in &ns.writes {
                    keys.entry(write.key.clone()).or_default().push(Change {
                        version,
                        value: (!write.is_delete).then(|| write.value.clone()),
                        tx_id: tx.tx_id.clone(),
                        timestamp,
                    });
                }
            }
        }
        Ok(index)
    }

    /// The state just before the transaction at `point` (block, index) commits.
    pub fn as_of(self: &Arc<Self>, point: Version) -> AsOf {
        AsOf {
            index: Arc::clone(self),
            point,
        }
    }
}

/// A read-only view of the state as of a point in the chain (see [`LedgerIndex::as_of`]).
#[derive(Clone, Debug)]
pub struct AsOf {
    index: Arc<LedgerIndex>,
    point: Version,
}

impl AsOf {
    fn latest<'a>(&self, changes: &'a [Change]) -> Option<&'a Change> {
        changes.iter().rev().find(|c| c.version < self.point)
    }
}

impl StateView for AsOf {
    fn get(
        &self,
        namespace: &str,
        key: &str,
    ) -> std::result::Result<Option<VersionedValue>, StateError> {
        let found = self
            .index
            .keys
            .get(namespace)
            .and_then(|keys| keys.get(key))
            .and_then(|changes| self.latest(changes));
        Ok(found.and_then(|c| {
            c.value.as_ref().map(|value| VersionedValue {
                value: value.clone(),
                version: c.version,
            })
        }))
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> std::result::Result<Vec<(String, VersionedValue)>, StateError> {
        let Some(keys) = self.index.keys.get(namespace) else {
            return Ok(Vec::new());
        };
        let range = keys
            .range::<str, _>((
                std::ops::Bound::Included(start),
                if end.is_empty() {
                    std::ops::Bound::Unbounded
                } else {
                    std::ops::Bound::Excluded(end)
                },
            ))
            .filter_map(|(key, changes)| {
                let change = self.latest(changes)?;
                let value = change.value.as_ref()?;
                Some((
                    key.clone(),
                    VersionedValue {
                        value: value.clone(),
                        version: change.version,
                    },
                ))
            })
            .take(limit)
            .collect();
        Ok(range)
    }

    fn history(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> std::result::Result<Vec<KeyModification>, StateError> {
        let Some(changes) = self.index.keys.get(namespace).and_then(|k| k.get(key)) else {
            return Ok(Vec::new());
        };
        Ok(changes
            .iter()
            .rev()
            .filter(|c| c.version < self.point)
            .take(limit)
            .map(|c| KeyModification {
                tx_id: c.tx_id.clone(),
                value: c.value.clone().unwrap_or_default(),
                is_delete: c.value.is_none(),
                timestamp: c.timestamp,
            })
            .collect())
    }
}

fn recorded_rwset(tx: &EndorserTx) -> Result<TxRwSet> {
    tx.action.rwset().map_err(|e| {
        NodeError::Rejected(format!(
            "block {} transaction {} ({}): its read/write set does not decode: {e}",
            tx.block, tx.index, tx.tx_id
        ))
    })
}

/// What one replayed transaction did differently, if anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayedTx {
    /// The block that carries the original.
    pub block: u64,
    /// The transaction ID.
    pub tx_id: String,
    /// The function called.
    pub function: String,
    /// The contract version that endorsed the original.
    pub original_version: String,
    /// The original response status.
    pub original_status: i32,
    /// The replayed response status.
    pub replayed_status: i32,
    /// Fuel the replay used.
    pub fuel_used: u64,
    /// Each difference, in words; empty when the replay matched.
    pub differences: Vec<String>,
}

impl ReplayedTx {
    /// Whether the new package gave the same response and write set.
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// The contract.
    pub contract: String,
    /// Valid transactions of the contract found in the blocks.
    pub found: usize,
    /// The replayed transactions, oldest first.
    pub transactions: Vec<ReplayedTx>,
}

impl ReplayReport {
    /// How many replayed transactions differ.
    pub fn differing(&self) -> usize {
        self.transactions.iter().filter(|t| !t.matches()).count()
    }
}

/// Replays the last `last` valid transactions of contract `name` in `blocks` (all blocks of
/// channel `channel_id` from the genesis block, in order) with `contract` on `vm`.
pub fn replay(
    blocks: &[common::Block],
    channel_id: &str,
    name: &str,
    last: usize,
    vm: &Vm,
    contract: &Contract,
) -> Result<ReplayReport> {
    let mut txs = Vec::new();
    for block in blocks {
        txs.extend(endorser_transactions(block)?);
    }
    let index = Arc::new(LedgerIndex::build(&txs)?);
    let ours: Vec<&EndorserTx> = txs
        .iter()
        .filter(|t| t.is_valid() && t.chaincode == name)
        .collect();
    let found = ours.len();
    let start = found.saturating_sub(last);
    let transactions = ours[start..]
        .iter()
        .map(|tx| replay_one(tx, &index, channel_id, name, vm, contract))
        .collect::<Result<Vec<_>>>()?;
    Ok(ReplayReport {
        contract: name.to_owned(),
        found,
        transactions,
    })
}

fn replay_one(
    tx: &EndorserTx,
    index: &Arc<LedgerIndex>,
    channel_id: &str,
    name: &str,
    vm: &Vm,
    contract: &Contract,
) -> Result<ReplayedTx> {
    let call = Call {
        channel_id: channel_id.to_owned(),
        tx_id: tx.tx_id.clone(),
        timestamp: Timestamp {
            seconds: tx.timestamp.seconds,
            nanos: tx.timestamp.nanos,
        },
        contract: name.to_owned(),
        args: tx.args.clone(),
        creator: Creator {
            msp_id: tx.creator.msp_id.clone(),
            cert: tx.creator.id_bytes.clone(),
            attributes: BTreeMap::new(),
        },
        transient: BTreeMap::new(),
    };
    let state = index.as_of(Version {
        block_num: tx.block,
        tx_num: tx.index,
    });
    let env = Env::new(Arc::new(state));
    let original = tx.action.response.clone().unwrap_or_default();
    let recorded = recorded_rwset(tx)?;
    let mut differences = Vec::new();
    let (replayed_status, fuel_used) = match vm.execute(contract, &call, &env) {
        Ok(outcome) => {
            compare(&original, &recorded, &outcome, &mut differences);
            (outcome.response.status, outcome.fuel_used)
        }
        Err(e) => {
            differences.push(format!("the new package failed to run: {e}"));
            (500, 0)
        }
    };
    Ok(ReplayedTx {
        block: tx.block,
        tx_id: tx.tx_id.clone(),
        function: tx.function(),
        original_version: tx
            .action
            .chaincode_id
            .as_ref()
            .map(|c| c.version.clone())
            .unwrap_or_default(),
        original_status: original.status,
        replayed_status,
        fuel_used,
        differences,
    })
}

/// Puts into `out` every way `outcome` differs from the recorded response and writes.
fn compare(
    original: &cambium_primitives::ChaincodeResponse,
    recorded: &TxRwSet,
    outcome: &CallOutcome,
    out: &mut Vec<String>,
) {
    let new = &outcome.response;
    if new.status != original.status {
        out.push(format!(
            "status {} instead of {}{}",
            new.status,
            original.status,
            if new.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", new.message)
            }
        ));
    } else if new.message != original.message {
        out.push(format!(
            "message '{}' instead of '{}'",
            new.message, original.message
        ));
    }
    if new.payload != original.payload {
        out.push(format!(
            "payload {} instead of {}",
            preview(&new.payload),
            preview(&original.payload)
        ));
    }
    let mut before: BTreeMap<(String, String), Option<Vec<u8>>> = BTreeMap::new();
    for ns in &recorded.ns {
        for w in &ns.writes {
            before.insert(
                (ns.namespace.clone(), w.key.clone()),
                (!w.is_delete).then(|| w.value.clone()),
            );
        }
    }
    let mut after: BTreeMap<(String, String), Option<Vec<u8>>> = BTreeMap::new();
    for ns in &outcome.rwset.namespaces {
        for w in &ns.writes {
            after.insert(
                (ns.namespace.clone(), w.key.clone()),
                (!w.is_delete).then(|| w.value.clone()),
            );
        }
    }
    for (key, old) in &before {
        let what = format!("{}/{}", key.0, key.1);
        match after.get(key) {
            None => out.push(format!("no longer writes {what}")),
            Some(new) if new != old => out.push(format!(
                "writes {what} = {} instead of {}",
                describe(new.as_deref()),
                describe(old.as_deref())
            )),
            Some(_) => {}
        }
    }
    for (key, new) in &after {
        if !before.contains_key(key) {
            out.push(format!(
                "also writes {}/{} = {}",
                key.0,
                key.1,
                describe(new.as_deref())
            ));
        }
    }
}

fn describe(value: Option<&[u8]>) -> String {
    match value {
        None => "(deleted)".to_owned(),
        Some(v) => preview(v),
    }
}

/// A short, readable rendering of bytes: text when it is UTF-8, else hex; long values cut.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => format!("'{s}'"),
        Err(_) => format!("0x{}", hex_string(bytes)),
    };
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}… ({} bytes)", bytes.len())
    } else {
        text
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use cambium_primitives::{KvWrite, NsRwSet, SerializedIdentity, TxValidationCode};
    use cambium_vm::{NsReadWriteSet, ReadWriteSet, Response};
    use cambium_wire::tx::ChaincodeActionFields;

    use super::*;

    /// A transaction at (block, index) writing `writes` (`None` = delete) in namespace `ns`.
    fn tx(
        block: u64,
        index: u64,
        code: TxValidationCode,
        writes: &[(&str, Option<&str>)],
    ) -> EndorserTx {
        let mut ns = NsRwSet::new("basic");
        ns.writes = writes
            .iter()
            .map(|(k, v)| KvWrite {
                key: (*k).to_owned(),
                is_delete: v.is_none(),
                value: v.map(|v| v.as_bytes().to_vec()).unwrap_or_default(),
            })
            .collect();
        EndorserTx {
            block,
            index,
            tx_id: format!("tx-{block}-{index}"),
            timestamp: cambium_primitives::Timestamp {
                seconds: 1_000 + block as i64,
                nanos: 0,
            },
            creator: SerializedIdentity {
                msp_id: "Org1MSP".into(),
                id_bytes: Vec::new(),
            },
            validation_code: code as u8,
            chaincode: "basic".into(),
            args: vec![b"Put".to_vec()],
            action: ChaincodeActionFields {
                results: cambium_wire::encode_tx_rwset(&TxRwSet { ns: vec![ns] }),
                ..ChaincodeActionFields::default()
            },
            endorsers: vec!["Org1MSP".into()],
        }
    }

    fn value(view: &AsOf, key: &str) -> Option<String> {
        view.get("basic", key)
            .unwrap()
            .map(|v| String::from_utf8(v.value).unwrap())
    }

    fn at(block: u64, tx: u64) -> Version {
        Version {
            block_num: block,
            tx_num: tx,
        }
    }

    #[test]
    fn state_as_of_a_point_sees_only_earlier_valid_writes() {
        let txs = vec![
            tx(
                1,
                0,
                TxValidationCode::Valid,
                &[("a", Some("1")), ("b", Some("x"))],
            ),
            tx(
                1,
                1,
                TxValidationCode::MvccReadConflict,
                &[("a", Some("lost"))],
            ),
            tx(
                2,
                0,
                TxValidationCode::Valid,
                &[("a", Some("2")), ("b", None)],
            ),
            tx(3, 0, TxValidationCode::Valid, &[("c", Some("3"))]),
        ];
        let index = Arc::new(LedgerIndex::build(&txs).unwrap());
        let before_1 = index.as_of(at(1, 0));
        assert_eq!(
            value(&before_1, "a"),
            None,
            "nothing exists before the first write"
        );
        let before_2 = index.as_of(at(2, 0));
        assert_eq!(
            value(&before_2, "a").as_deref(),
            Some("1"),
            "the invalid write is ignored"
        );
        assert_eq!(value(&before_2, "b").as_deref(), Some("x"));
        let before_3 = index.as_of(at(3, 0));
        assert_eq!(value(&before_3, "a").as_deref(), Some("2"));
        assert_eq!(value(&before_3, "b"), None, "the delete is seen");
        assert_eq!(
            before_3.get("basic", "a").unwrap().unwrap().version,
            at(2, 0),
            "versions are the writer's position"
        );

        let range: Vec<String> = index
            .as_of(at(9, 0))
            .range("basic", "a", "", 10)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(range, ["a", "c"], "deleted keys are not in ranges");
        let bounded = index.as_of(at(9, 0)).range("basic", "a", "c", 10).unwrap();
        assert_eq!(bounded.len(), 1, "the end key is exclusive");

        let history = index.as_of(at(3, 0)).history("basic", "b", 10).unwrap();
        assert_eq!(history.len(), 2);
        assert!(history[0].is_delete, "newest first");
        assert_eq!(history[1].value, b"x");
    }

    fn outcome(status: i32, payload: &str, writes: &[(&str, Option<&str>)]) -> CallOutcome {
        CallOutcome {
            response: Response {
                status,
                message: String::new(),
                payload: payload.as_bytes().to_vec(),
            },
            rwset: ReadWriteSet {
                namespaces: vec![NsReadWriteSet {
                    namespace: "basic".into(),
                    writes: writes
                        .iter()
                        .map(|(k, v)| cambium_vm::KvWrite {
                            key: (*k).to_owned(),
                            is_delete: v.is_none(),
                            value: v.map(|v| v.as_bytes().to_vec()).unwrap_or_default(),
                        })
                        .collect(),
                    ..NsReadWriteSet::default()
                }],
            },
            event: None,
            fuel_used: 1,
        }
    }

    #[test]
    fn compare_names_each_difference() {
        let recorded = tx(
            1,
            0,
            TxValidationCode::Valid,
            &[("a", Some("1")), ("b", Some("x"))],
        );
        let rwset = recorded.action.rwset().unwrap();
        let original = cambium_primitives::ChaincodeResponse {
            status: 200,
            message: String::new(),
            payload: b"ok".to_vec(),
        };
        let mut same = Vec::new();
        compare(
            &original,
            &rwset,
            &outcome(200, "ok", &[("a", Some("1")), ("b", Some("x"))]),
            &mut same,
        );
        assert!(same.is_empty(), "identical outcomes match: {same:?}");

        let mut diffs = Vec::new();
        compare(
            &original,
            &rwset,
            &outcome(500, "no", &[("a", Some("2")), ("c", None)]),
            &mut diffs,
        );
        assert_eq!(
            diffs,
            [
                "status 500 instead of 200",
                "payload 'no' instead of 'ok'",
                "writes basic/a = '2' instead of '1'",
                "no longer writes basic/b",
                "also writes basic/c = (deleted)",
            ]
        );
    }
}
