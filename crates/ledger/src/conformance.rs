//! The conformance suite every ledger implementation must pass.
//!
//! Each check takes a fresh, empty ledger and panics with a message on failure. Run the whole
//! suite for an implementation with [`crate::conformance_tests!`], which makes one `#[test]`
//! per check.

use std::any::Any;

use crate::block::{Block, BlockCommit};
use crate::composite::composite_key;
use crate::hash::block_header_hash;
use crate::testkit::{ChainBuilder, TestTx};
use crate::traits::{BlockReader, BlockWriter, SnapshotSource, StateReader};
use crate::types::{KeyMetadata, KeyWrite, TxOutcome, TxValidationCode, Version};

/// What an implementation must provide to be checked.
pub trait LedgerUnderTest: BlockReader + BlockWriter + StateReader + SnapshotSource {}
impl<T: BlockReader + BlockWriter + StateReader + SnapshotSource> LedgerUnderTest for T {}

/// A fresh ledger, with whatever must live as long as it (e.g. its temporary directory).
pub struct Subject<L> {
    /// The ledger under test.
    pub ledger: L,
    _guard: Option<Box<dyn Any>>,
}

impl<L> Subject<L> {
    /// A ledger that needs nothing else kept alive.
    pub fn new(ledger: L) -> Self {
        Subject {
            ledger,
            _guard: None,
        }
    }

    /// A ledger whose `guard` (e.g. a temporary directory) must outlive it.
    pub fn with_guard(ledger: L, guard: impl Any) -> Self {
        Subject {
            ledger,
            _guard: Some(Box::new(guard)),
        }
    }
}

/// Makes one `#[test]` per conformance check; `$make` is an expression of type
/// `fn() -> Subject<L>` (a closure without captures or a function path).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            empty_ledger, commits_chain_and_reads_blocks_back, rejects_blocks_that_do_not_fit,
            versions_puts_and_deletes, invalid_transactions_change_nothing, metadata_rules,
            range_scans_in_order_with_paging, composite_key_scans, history_newest_first,
            snapshots_do_not_move, duplicate_tx_ids_keep_the_first, blocks_stream_from_any_height);
    };
    (@each $make:expr; $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check($make());
            }
        )*
    };
}

fn commit<L: LedgerUnderTest>(l: &L, c: &BlockCommit) {
    l.commit_block(c)
        .unwrap_or_else(|e| panic!("commit of block {} failed: {e}", c.block.number));
}

fn put(ns: &str, key: &str, value: &str) -> KeyWrite {
    KeyWrite::put(ns, key, value.as_bytes())
}

/// An empty ledger has height 0, no blocks, no state and no savepoint.
pub fn empty_ledger<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    assert_eq!(l.height().unwrap(), 0);
    assert_eq!(l.block(0).unwrap(), None);
    assert_eq!(l.savepoint().unwrap(), None);
    assert_eq!(l.get_state("ns", "k").unwrap(), None);
    assert_eq!(l.transaction("nope").unwrap(), None);
    assert!(l
        .get_state_range("ns", "", "", 0, None)
        .unwrap()
        .entries
        .is_empty());
    assert!(l.get_history_for_key("ns", "k").unwrap().is_empty());
    assert_eq!(
        l.state_digest().unwrap(),
        crate::MemLedger::new().state_digest().unwrap()
    );
}

/// Committed blocks read back by number, hash and tx ID, with the filter written and the
/// header hashes chaining by Fabric's rule.
pub fn commits_chain_and_reads_blocks_back<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    let b0 = chain.block(&[TestTx::valid("tx0", vec![put("ns", "a", "1")])]);
    let b1 = chain.block(&[
        TestTx::valid("tx1", vec![put("ns", "b", "2")]),
        TestTx::invalid(
            "tx2",
            TxValidationCode::MvccReadConflict,
            vec![put("ns", "c", "3")],
        ),
    ]);
    let stored0 = l.commit_block(&b0).unwrap();
    let stored1 = l.commit_block(&b1).unwrap();
    assert_eq!(l.height().unwrap(), 2);
    assert_eq!(l.savepoint().unwrap(), Some(1));
    assert_eq!(stored0.hash, block_header_hash(0, &[], &b0.block.data_hash));
    let decoded1 = Block::decode(&stored1.bytes).unwrap();
    assert_eq!(
        decoded1.previous_hash,
        stored0.hash.to_vec(),
        "block 1 links to block 0"
    );
    assert_eq!(decoded1.transactions_filter(), &[0u8, 11][..]);
    assert_eq!(
        decoded1.data, b1.block.data,
        "envelopes are stored byte for byte"
    );
    assert_eq!(decoded1.metadata.len(), crate::METADATA_SLOTS);
    assert_eq!(l.block(1).unwrap().as_ref(), Some(&stored1));
    assert_eq!(l.block(0).unwrap().as_ref(), Some(&stored0));
    assert_eq!(l.block(2).unwrap(), None);
    assert_eq!(
        l.block_by_hash(&stored1.hash).unwrap().as_ref(),
        Some(&stored1)
    );
    assert_eq!(l.block_by_hash(&[0u8; 32]).unwrap(), None);
    let tx2 = l.transaction("tx2").unwrap().expect("tx2 indexed");
    assert_eq!(
        (tx2.block_num, tx2.tx_num, tx2.code),
        (1, 1, TxValidationCode::MvccReadConflict)
    );
    assert_eq!(l.block_by_tx_id("tx0").unwrap().as_ref(), Some(&stored0));
}

/// A block with the wrong number, previous hash or data hash, or with outcomes that do not
/// match, is refused and leaves the ledger as it was.
pub fn rejects_blocks_that_do_not_fit<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[TestTx::valid("t0", vec![put("ns", "a", "1")])]),
    );
    let digest = l.state_digest().unwrap();
    let good = chain.block(&[TestTx::valid("t1", vec![put("ns", "a", "2")])]);

    let mut wrong_number = good.clone();
    wrong_number.block.number = 5;
    let mut wrong_prev = good.clone();
    wrong_prev.block.previous_hash = vec![9; 32];
    let mut wrong_data = good.clone();
    wrong_data.block.data[0].push(0);
    let mut wrong_count = good.clone();
    wrong_count.outcomes.push(TxOutcome::valid(vec![]));
    let mut invalid_with_writes = good.clone();
    invalid_with_writes.outcomes[0].code = TxValidationCode::MvccReadConflict;
    let mut bad_namespace = good.clone();
    bad_namespace.outcomes[0].writes[0].namespace = "a\0b".into();
    for (name, bad) in [
        ("wrong number", wrong_number),
        ("wrong previous hash", wrong_prev),
        ("wrong data hash", wrong_data),
        ("wrong outcome count", wrong_count),
        ("invalid tx with writes", invalid_with_writes),
        ("namespace with NUL", bad_namespace),
    ] {
        assert!(l.commit_block(&bad).is_err(), "{name} was accepted");
        assert_eq!(l.height().unwrap(), 1, "{name} changed the height");
        assert_eq!(l.state_digest().unwrap(), digest, "{name} changed state");
    }
    commit(l, &good);
    assert_eq!(l.get_state("ns", "a").unwrap().unwrap().value, b"2");
}

/// Puts set value and version `(block, tx)`; a later put moves the version; deletes remove.
pub fn versions_puts_and_deletes<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::valid("t0", vec![put("ns", "a", "1"), put("ns", "b", "1")]),
            TestTx::valid("t1", vec![put("ns", "a", "2"), put("other", "a", "x")]),
        ]),
    );
    let a = l.get_state("ns", "a").unwrap().unwrap();
    assert_eq!(
        (a.value.as_slice(), a.version),
        (&b"2"[..], Version::new(0, 1))
    );
    assert_eq!(
        l.get_state("ns", "b").unwrap().unwrap().version,
        Version::new(0, 0)
    );
    assert_eq!(l.get_state("other", "a").unwrap().unwrap().value, b"x");
    commit(
        l,
        &chain.block(&[TestTx::valid(
            "t2",
            vec![KeyWrite::delete("ns", "a"), put("ns", "c", "")],
        )]),
    );
    assert_eq!(l.get_state("ns", "a").unwrap(), None);
    let c = l.get_state("ns", "c").unwrap().unwrap();
    assert_eq!(
        (c.value.len(), c.version),
        (0, Version::new(1, 0)),
        "empty values are values"
    );
    assert_eq!(
        l.get_state("ns", "b").unwrap().unwrap().version,
        Version::new(0, 0)
    );
}

/// An invalid transaction is indexed with its code but writes nothing.
pub fn invalid_transactions_change_nothing<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::invalid(
                "bad",
                TxValidationCode::EndorsementPolicyFailure,
                vec![put("ns", "k", "v")],
            ),
            TestTx::valid("good", vec![put("ns", "j", "v")]),
        ]),
    );
    assert_eq!(l.get_state("ns", "k").unwrap(), None);
    assert!(l.get_history_for_key("ns", "k").unwrap().is_empty());
    assert_eq!(
        l.transaction("bad").unwrap().unwrap().code,
        TxValidationCode::EndorsementPolicyFailure
    );
    assert_eq!(
        l.get_state("ns", "j").unwrap().unwrap().version,
        Version::new(0, 1)
    );
}

/// Metadata writes keep the value, puts keep the metadata, deletes clear both, and a metadata
/// write to a missing key is ignored.
pub fn metadata_rules<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let md: KeyMetadata = [("VALIDATION_PARAMETER".to_string(), b"policy".to_vec())].into();
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::valid("t0", vec![put("ns", "k", "v1")]),
            TestTx::valid(
                "t1",
                vec![
                    KeyWrite::metadata("ns", "k", md.clone()),
                    KeyWrite::metadata("ns", "ghost", md.clone()),
                ],
            ),
        ]),
    );
    let k = l.get_state("ns", "k").unwrap().unwrap();
    assert_eq!(
        (k.value.as_slice(), &k.metadata, k.version),
        (&b"v1"[..], &md, Version::new(0, 1))
    );
    assert_eq!(l.get_state("ns", "ghost").unwrap(), None);
    commit(
        l,
        &chain.block(&[TestTx::valid("t2", vec![put("ns", "k", "v2")])]),
    );
    let k = l.get_state("ns", "k").unwrap().unwrap();
    assert_eq!(
        (k.value.as_slice(), &k.metadata),
        (&b"v2"[..], &md),
        "a put keeps metadata"
    );
    assert_eq!(
        l.get_history_for_key("ns", "k").unwrap().len(),
        2,
        "metadata writes are not history"
    );
    commit(
        l,
        &chain.block(&[
            TestTx::valid("t3", vec![KeyWrite::delete("ns", "k")]),
            TestTx::valid("t4", vec![put("ns", "k", "v3")]),
        ]),
    );
    let k = l.get_state("ns", "k").unwrap().unwrap();
    assert!(k.metadata.is_empty(), "a delete clears metadata");
}

/// Range scans return keys in byte order within the namespace, honour `end`, `limit` and
/// `bookmark`, and paging visits every key exactly once.
pub fn range_scans_in_order_with_paging<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let keys = ["a", "b", "b1", "c", "d", "e\u{e9}", "z"];
    let writes: Vec<KeyWrite> = keys.iter().rev().map(|k| put("ns", k, k)).collect();
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::valid("t0", writes),
            TestTx::valid(
                "t1",
                vec![
                    put("nr", "a", "x"),
                    put("nt", "a", "x"),
                    put("ns", "\u{0}comp\u{0}", "x"),
                ],
            ),
        ]),
    );
    let all = l.get_state_range("ns", "\u{1}", "", 0, None).unwrap();
    let got: Vec<&str> = all.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        got, keys,
        "byte order, namespace only, composite keys excluded from \\x01"
    );
    assert_eq!(all.bookmark, None);
    let with_composite = l.get_state_range("ns", "", "", 0, None).unwrap();
    assert_eq!(with_composite.entries.len(), keys.len() + 1);
    let mid = l.get_state_range("ns", "b", "d", 0, None).unwrap();
    let got: Vec<&str> = mid.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(got, ["b", "b1", "c"], "end is exclusive");
    for limit in 1..=keys.len() + 1 {
        let mut seen = Vec::new();
        let mut bookmark: Option<String> = None;
        loop {
            let page = l
                .get_state_range("ns", "\u{1}", "", limit, bookmark.as_deref())
                .unwrap();
            assert!(page.entries.len() <= limit);
            seen.extend(page.entries.into_iter().map(|e| e.key));
            match page.bookmark {
                Some(b) => bookmark = Some(b),
                None => break,
            }
        }
        assert_eq!(seen, keys, "paging with limit {limit}");
    }
    assert!(
        l.get_state_range("ns", "d", "b", 0, None).is_err(),
        "start after end"
    );
    assert!(
        l.get_state_range("ns", "b", "d", 0, Some("a")).is_err(),
        "bookmark before start"
    );
}

/// Partial composite key queries return exactly the keys with that prefix.
pub fn composite_key_scans<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let ck = |attrs: &[&str]| composite_key("color~name", attrs).unwrap();
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[TestTx::valid(
            "t0",
            vec![
                KeyWrite::put("ns", ck(&["blue", "a1"]), b"1".to_vec()),
                KeyWrite::put("ns", ck(&["blue", "a2"]), b"2".to_vec()),
                KeyWrite::put("ns", ck(&["bluegreen", "a3"]), b"3".to_vec()),
                KeyWrite::put("ns", ck(&["red", "a4"]), b"4".to_vec()),
                KeyWrite::put(
                    "ns",
                    composite_key("other", &["blue"]).unwrap(),
                    b"5".to_vec(),
                ),
                put("ns", "plain", "6"),
            ],
        )]),
    );
    let blue = l
        .get_state_by_partial_composite_key("ns", "color~name", &["blue"], 0, None)
        .unwrap();
    let got: Vec<String> = blue.entries.into_iter().map(|e| e.key).collect();
    assert_eq!(got, [ck(&["blue", "a1"]), ck(&["blue", "a2"])]);
    let all = l
        .get_state_by_partial_composite_key("ns", "color~name", &[], 0, None)
        .unwrap();
    assert_eq!(all.entries.len(), 4);
    let page = l
        .get_state_by_partial_composite_key("ns", "color~name", &[], 3, None)
        .unwrap();
    assert_eq!(page.bookmark, Some(ck(&["red", "a4"])));
}

/// History lists puts and deletes of a key newest first, with tx IDs, values and timestamps.
pub fn history_newest_first<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::valid(
                "t0",
                vec![put("ns", "k", "v0"), put("ns", "k\u{0}x", "other")],
            ),
            TestTx::valid("t1", vec![put("ns", "k", "v1")]),
        ]),
    );
    commit(
        l,
        &chain.block(&[TestTx::valid("t2", vec![put("ns", "j", "j")])]),
    );
    let mut t3 = TestTx::valid("t3", vec![KeyWrite::delete("ns", "k")]);
    t3.timestamp_seconds = 1_800_000_000;
    commit(
        l,
        &chain.block(&[
            t3,
            TestTx::valid("t4", vec![put("ns", "k", "v4"), put("ns", "k", "v4b")]),
        ]),
    );
    let h = l.get_history_for_key("ns", "k").unwrap();
    let got: Vec<(Version, &str, Option<&[u8]>)> = h
        .iter()
        .map(|e| (e.version, e.tx_id.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Version::new(2, 1), "t4", Some(&b"v4b"[..])),
            (Version::new(2, 0), "t3", None),
            (Version::new(0, 1), "t1", Some(&b"v1"[..])),
            (Version::new(0, 0), "t0", Some(&b"v0"[..])),
        ]
    );
    assert_eq!(h[1].timestamp.map(|t| t.seconds), Some(1_800_000_000));
    assert_eq!(l.get_history_for_key("ns", "k\u{0}x").unwrap().len(), 1);
    assert!(l.get_history_for_key("other", "k").unwrap().is_empty());
}

/// A snapshot keeps answering at its height while later blocks commit.
pub fn snapshots_do_not_move<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[TestTx::valid(
            "t0",
            vec![put("ns", "a", "1"), put("ns", "b", "1")],
        )]),
    );
    let snap = l.snapshot().unwrap();
    let digest = snap.state_digest().unwrap();
    commit(
        l,
        &chain.block(&[TestTx::valid(
            "t1",
            vec![
                put("ns", "a", "2"),
                KeyWrite::delete("ns", "b"),
                put("ns", "c", "2"),
            ],
        )]),
    );
    assert_eq!(snap.height().unwrap(), 1);
    assert_eq!(snap.savepoint().unwrap(), Some(0));
    assert_eq!(snap.get_state("ns", "a").unwrap().unwrap().value, b"1");
    assert!(snap.get_state("ns", "b").unwrap().is_some());
    assert_eq!(
        snap.get_state_range("ns", "", "", 0, None)
            .unwrap()
            .entries
            .len(),
        2
    );
    assert_eq!(snap.get_history_for_key("ns", "a").unwrap().len(), 1);
    assert_eq!(snap.block(1).unwrap(), None);
    assert_eq!(snap.transaction("t1").unwrap(), None);
    assert_eq!(snap.state_digest().unwrap(), digest);
    let now = l.snapshot().unwrap();
    assert_eq!(now.get_state("ns", "a").unwrap().unwrap().value, b"2");
    assert_ne!(now.state_digest().unwrap(), digest);
}

/// When a tx ID repeats, the index keeps its first occurrence.
pub fn duplicate_tx_ids_keep_the_first<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    commit(
        l,
        &chain.block(&[
            TestTx::valid("dup", vec![put("ns", "a", "1")]),
            TestTx::invalid("dup", TxValidationCode::DuplicateTxid, vec![]),
        ]),
    );
    commit(
        l,
        &chain.block(&[TestTx::invalid(
            "dup",
            TxValidationCode::DuplicateTxid,
            vec![],
        )]),
    );
    let loc = l.transaction("dup").unwrap().unwrap();
    assert_eq!(
        (loc.block_num, loc.tx_num, loc.code),
        (0, 0, TxValidationCode::Valid)
    );
}

/// `blocks_from` streams from any height to the tip, and is empty past it.
pub fn blocks_stream_from_any_height<L: LedgerUnderTest>(s: Subject<L>) {
    let l = &s.ledger;
    let mut chain = ChainBuilder::new();
    for i in 0..5 {
        commit(
            l,
            &chain.block(&[TestTx::valid(format!("t{i}"), vec![put("ns", "k", "v")])]),
        );
    }
    for start in 0..=6u64 {
        let numbers: Vec<u64> = l.blocks_from(start).map(|b| b.unwrap().number).collect();
        let expected: Vec<u64> = (start..5).collect();
        assert_eq!(numbers, expected, "from {start}");
    }
    let empty = chain.block(&[]);
    let stored = l.commit_block(&empty).unwrap();
    assert!(
        Block::decode(&stored.bytes).unwrap().data.is_empty(),
        "a block may be empty"
    );
}
