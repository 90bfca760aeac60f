//! Property tests: random blocks in, reads out, against a model written independently of the
//! ledger's own commit code.

use std::collections::BTreeMap;

use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{
    BlockReader, BlockWriter, KeyMetadata, KeyWrite, Ledger, LedgerOptions, MemLedger, StateReader,
    TxValidationCode, Version, WriteKind,
};
use proptest::prelude::*;

/// Each key's writes, oldest first: version and value (`None` for a delete).
type History = BTreeMap<(String, String), Vec<(Version, Option<Vec<u8>>)>>;

/// The model: Fabric's commit rules, spelled out directly.
#[derive(Default)]
struct Model {
    state: BTreeMap<(String, String), (Vec<u8>, Version, KeyMetadata)>,
    history: History,
    txids: BTreeMap<String, (u64, u64, TxValidationCode)>,
}

impl Model {
    fn apply(&mut self, block: u64, txs: &[TestTx]) {
        for (t, tx) in txs.iter().enumerate() {
            let v = Version::new(block, t as u64);
            self.txids
                .entry(tx.tx_id.clone())
                .or_insert((block, t as u64, tx.code));
            if !tx.code.is_valid() {
                continue;
            }
            // A read/write set holds, per namespace, value writes then metadata writes.
            let mut ordered: Vec<&KeyWrite> = Vec::new();
            let mut namespaces: Vec<&str> = Vec::new();
            for w in &tx.writes {
                if !namespaces.contains(&w.namespace.as_str()) {
                    namespaces.push(&w.namespace);
                }
            }
            for ns in namespaces {
                let of_ns = tx.writes.iter().filter(|w| w.namespace == ns);
                ordered.extend(
                    of_ns
                        .clone()
                        .filter(|w| !matches!(w.kind, WriteKind::Metadata(_))),
                );
                ordered.extend(of_ns.filter(|w| matches!(w.kind, WriteKind::Metadata(_))));
            }
            for w in ordered {
                let k = (w.namespace.clone(), w.key.clone());
                match &w.kind {
                    WriteKind::Put(value) => {
                        let md = self.state.get(&k).map(|e| e.2.clone()).unwrap_or_default();
                        self.state.insert(k.clone(), (value.clone(), v, md));
                        push_history(&mut self.history, k, v, Some(value.clone()));
                    }
                    WriteKind::Delete => {
                        self.state.remove(&k);
                        push_history(&mut self.history, k, v, None);
                    }
                    WriteKind::Metadata(md) => {
                        if let Some(e) = self.state.get_mut(&k) {
                            e.1 = v;
                            e.2 = md.clone();
                        }
                    }
                }
            }
        }
    }
}

fn push_history(h: &mut History, k: (String, String), v: Version, value: Option<Vec<u8>>) {
    let list = h.entry(k).or_default();
    match list.last_mut() {
        Some(last) if last.0 == v => last.1 = value,
        _ => list.push((v, value)),
    }
}

const KEYS: [&str; 8] = [
    "a",
    "b",
    "b\u{0}x",
    "c",
    "\u{0}t\u{0}1\u{0}",
    "\u{0}t\u{0}2\u{0}",
    "zz",
    "\u{e9}",
];

fn write() -> impl Strategy<Value = KeyWrite> {
    let ns = prop::sample::select(vec!["n1", "n2"]);
    let key = prop::sample::select(KEYS.to_vec());
    let kind = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..12).prop_map(WriteKind::Put),
        1 => Just(WriteKind::Delete),
        1 => prop::collection::btree_map("[A-Z]{1,3}", prop::collection::vec(any::<u8>(), 0..4), 0..2).prop_map(WriteKind::Metadata),
    ];
    (ns, key, kind).prop_map(|(ns, key, kind)| KeyWrite {
        namespace: ns.to_string(),
        key: key.to_string(),
        kind,
    })
}

fn tx() -> impl Strategy<Value = (u8, bool, Vec<KeyWrite>)> {
    (
        0u8..6,
        prop::bool::weighted(0.2),
        prop::collection::vec(write(), 0..4),
    )
}

fn blocks() -> impl Strategy<Value = Vec<Vec<(u8, bool, Vec<KeyWrite>)>>> {
    prop::collection::vec(prop::collection::vec(tx(), 0..6), 1..8)
}

fn to_txs(block: u64, spec: &[(u8, bool, Vec<KeyWrite>)]) -> Vec<TestTx> {
    spec.iter()
        .enumerate()
        .map(|(i, (id, invalid, writes))| {
            // Small ID space: repeats across and within blocks happen.
            let id = if *id == 0 {
                format!("b{block}t{i}")
            } else {
                format!("id{id}")
            };
            if *invalid {
                TestTx::invalid(id, TxValidationCode::MvccReadConflict, writes.clone())
            } else {
                TestTx::valid(id, writes.clone())
            }
        })
        .collect()
}

fn check_against_model<L: BlockReader + StateReader>(
    l: &L,
    m: &Model,
    height: u64,
    page: usize,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(l.height().unwrap(), height);
    for ns in ["n1", "n2"] {
        for key in KEYS {
            let k = (ns.to_string(), key.to_string());
            let got = l
                .get_state(ns, key)
                .unwrap()
                .map(|v| (v.value, v.version, v.metadata));
            prop_assert_eq!(&got, &m.state.get(&k).cloned(), "{}/{:?}", ns, key);
            let hist: Vec<(Version, Option<Vec<u8>>)> = l
                .get_history_for_key(ns, key)
                .unwrap()
                .into_iter()
                .map(|e| (e.version, e.value))
                .collect();
            let mut expected = m.history.get(&k).cloned().unwrap_or_default();
            expected.reverse();
            prop_assert_eq!(hist, expected, "history of {}/{:?}", ns, key);
        }
        // Paged full scan equals the model's keys of the namespace in byte order.
        let mut seen = Vec::new();
        let mut bookmark: Option<String> = None;
        loop {
            let p = l
                .get_state_range(ns, "", "", page, bookmark.as_deref())
                .unwrap();
            seen.extend(p.entries.into_iter().map(|e| (e.key, e.value.value)));
            match p.bookmark {
                Some(b) => bookmark = Some(b),
                None => break,
            }
        }
        let expected: Vec<(String, Vec<u8>)> = m
            .state
            .iter()
            .filter(|((n, _), _)| n == ns)
            .map(|((_, k), v)| (k.clone(), v.0.clone()))
            .collect();
        prop_assert_eq!(seen, expected);
        let bounded: Vec<String> = l
            .get_state_range(ns, "b", "zz", 0, None)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.key)
            .collect();
        let expected: Vec<String> = m
            .state
            .keys()
            .filter(|(n, k)| n == ns && k.as_str() >= "b" && k.as_str() < "zz")
            .map(|(_, k)| k.clone())
            .collect();
        prop_assert_eq!(bounded, expected);
    }
    for (id, (b, t, code)) in &m.txids {
        let loc = l.transaction(id).unwrap().expect("indexed");
        prop_assert_eq!((loc.block_num, loc.tx_num, loc.code), (*b, *t, *code));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn both_ledgers_agree_with_the_model(spec in blocks(), page in 1usize..4, flush in 1u64..5) {
        let dir = tempfile::tempdir().unwrap();
        // `flush` 1 reads redb alone; larger values read blocks from the overlay too.
        let options = LedgerOptions {
            max_block_file_len: 1024,
            sync_state_every: 2,
            flush_every_blocks: flush,
            ..LedgerOptions::default()
        };
        let durable = Ledger::open_with(dir.path(), options.clone()).unwrap();
        let memory = MemLedger::new();
        let mut model = Model::default();
        let mut chain = ChainBuilder::new();
        for (n, block_spec) in spec.iter().enumerate() {
            let txs = to_txs(n as u64, block_spec);
            let commit = chain.block(&txs);
            let a = durable.commit_block(&commit).unwrap();
            let b = memory.commit_block(&commit).unwrap();
            prop_assert_eq!(&a, &b);
            model.apply(n as u64, &txs);
        }
        let height = spec.len() as u64;
        check_against_model(&durable, &model, height, page)?;
        check_against_model(&memory, &model, height, page)?;
        prop_assert_eq!(durable.state_digest().unwrap(), memory.state_digest().unwrap());
        drop(durable);
        let reopened = Ledger::open_with(dir.path(), options).unwrap();
        check_against_model(&reopened, &model, height, page)?;
    }
}
