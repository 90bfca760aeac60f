//! Tests of `cambium ledger …`.

use std::path::Path;

use cambium_ledger::composite::composite_key;
use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{BlockReader, BlockWriter, KeyWrite, Ledger, TxValidationCode};

use crate::support::cambium;

/// Runs `cambium ledger inspect DIR ARGS…`, expecting success; returns stdout.
fn inspect_ok(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["ledger", "inspect", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = cambium(&all);
    assert!(
        out.status.success(),
        "cambium {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `cambium ledger inspect DIR ARGS…`, expecting failure; returns stderr.
fn inspect_err(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["ledger", "inspect", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = cambium(&all);
    assert!(!out.status.success(), "cambium {all:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// A ledger of three blocks: asset1 created, updated (and a rejected tx), then deleted.
fn sample_ledger(dir: &Path) {
    let ledger = Ledger::open(dir).unwrap();
    let mut chain = ChainBuilder::new();
    let index = composite_key("color~name", &["blue", "asset1"]).unwrap();
    let blocks = [
        vec![TestTx::valid(
            "tx-create",
            vec![
                KeyWrite::put("basic", "asset1", b"{\"color\":\"blue\"}".to_vec()),
                KeyWrite::put("basic", index.clone(), vec![0]),
            ],
        )],
        vec![
            TestTx::valid(
                "tx-update",
                vec![KeyWrite::put(
                    "basic",
                    "asset1",
                    b"{\"color\":\"red\"}".to_vec(),
                )],
            ),
            TestTx::invalid(
                "tx-conflict",
                TxValidationCode::MvccReadConflict,
                vec![KeyWrite::put("basic", "asset1", b"lost".to_vec())],
            ),
        ],
        vec![TestTx::valid(
            "tx-delete",
            vec![KeyWrite::delete("basic", "asset1")],
        )],
    ];
    for txs in blocks {
        ledger.commit_block(&chain.block(&txs)).unwrap();
    }
}

#[test]
fn shows_height_and_tip() {
    let dir = tempfile::tempdir().unwrap();
    sample_ledger(dir.path());
    let out = inspect_ok(dir.path(), &[]);
    assert!(out.contains("height: 3"), "{out}");
    assert!(out.contains("last block: 2"), "{out}");
}

#[test]
fn shows_a_block_decoded() {
    let dir = tempfile::tempdir().unwrap();
    sample_ledger(dir.path());
    let out = inspect_ok(dir.path(), &["--block", "1"]);
    for expected in [
        "block 1",
        "transactions:  2",
        "tx 0: tx-update",
        "type:       ENDORSER_TRANSACTION",
        "validation: VALID",
        "tx 1: tx-conflict",
        "MVCC_READ_CONFLICT",
        "write (not applied) basic/asset1: put \"lost\"",
        "creator:    Org1MSP",
        "write basic/asset1: put \"{\"color\":\"red\"}\"",
        "metadata[2] TRANSACTIONS_FILTER: 2 bytes",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let err = inspect_err(dir.path(), &["--block", "9"]);
    assert!(
        err.contains("no block 9") && err.contains("height is 3"),
        "{err}"
    );
}

#[test]
fn shows_a_transaction_by_id() {
    let dir = tempfile::tempdir().unwrap();
    sample_ledger(dir.path());
    let out = inspect_ok(dir.path(), &["--tx", "tx-conflict"]);
    assert!(
        out.contains("block: 1") && out.contains("index: 1"),
        "{out}"
    );
    assert!(out.contains("validation: MVCC_READ_CONFLICT"), "{out}");
    let err = inspect_err(dir.path(), &["--tx", "nope"]);
    assert!(err.contains("no transaction with ID nope"), "{err}");
}

#[test]
fn shows_a_key_with_its_history() {
    let dir = tempfile::tempdir().unwrap();
    sample_ledger(dir.path());
    let out = inspect_ok(dir.path(), &["--key", "basic", "asset1"]);
    assert!(out.contains("value:    (none"), "deleted key: {out}");
    let history: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("block "))
        .collect();
    assert_eq!(history.len(), 3, "{out}");
    assert!(
        history[0].contains("tx-delete") && history[0].ends_with("delete"),
        "{out}"
    );
    assert!(
        history[1].contains("tx-update") && history[1].contains("red"),
        "{out}"
    );
    assert!(
        history[2].contains("tx-create") && history[2].contains("blue"),
        "{out}"
    );

    let out = inspect_ok(
        dir.path(),
        &["--key", "basic", "\\x00color~name\\x00blue\\x00asset1\\x00"],
    );
    assert!(out.contains("value:    \"\\x00\""), "composite key: {out}");
    assert!(out.contains("version:  block 0 tx 0"), "{out}");
}

#[test]
fn refuses_a_directory_that_is_not_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let err = inspect_err(dir.path(), &[]);
    assert!(err.contains("is not a ledger directory"), "{err}");
}

#[test]
fn a_ledger_that_needs_recovery_is_read_only_with_recover() {
    let dir = tempfile::tempdir().unwrap();
    sample_ledger(dir.path());
    // The index as a clean close at height 3 left it, restored after a fourth block: the
    // block files are ahead of the state, as after a crash.
    let index = dir.path().join(cambium_ledger::INDEX_FILE);
    let at_three = std::fs::read(&index).unwrap();
    {
        let ledger = Ledger::open(dir.path()).unwrap();
        let mut chain = ChainBuilder::after(&ledger.block(2).unwrap().unwrap());
        let tx = TestTx::valid(
            "tx-late",
            vec![KeyWrite::put("basic", "asset2", b"late".to_vec())],
        );
        ledger.commit_block(&chain.block(&[tx])).unwrap();
    }
    std::fs::write(&index, &at_three).unwrap();

    let err = inspect_err(dir.path(), &[]);
    assert!(
        err.contains("cannot be read without recovering it first"),
        "{err}"
    );
    assert!(err.contains("blocks 3..=3"), "{err}");
    assert!(err.contains("pass --recover"), "{err}");
    assert_eq!(
        std::fs::read(&index).unwrap(),
        at_three,
        "refusing wrote nothing"
    );

    let out = inspect_ok(dir.path(), &["--recover", "--key", "basic", "asset2"]);
    assert!(out.contains("late"), "{out}");
    let out = inspect_ok(dir.path(), &[]);
    assert!(out.contains("height: 4"), "recovered for good: {out}");
}
