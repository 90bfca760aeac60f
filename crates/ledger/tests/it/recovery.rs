//! Opening a ledger whose files were damaged: torn tails are cut off with a warning, real
//! corruption and broken chains stop start-up with the file, the offset and what to do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{
    inspect, BlockReader, BlockWriter, KeyWrite, Ledger, LedgerError, ReadOnlyLedger, StateReader,
    BLOCKS_DIR, INDEX_FILE,
};

/// Record header: magic, length, CRC (the block-file format documented in the crate).
const HEADER: usize = 12;

fn block_file(dir: &Path) -> PathBuf {
    dir.join(BLOCKS_DIR).join("blockfile_000000")
}

/// A ledger with `n` blocks of two transactions each; returns its state digest.
fn ledger_with_blocks(dir: &Path, n: u64, salt: &str) -> [u8; 32] {
    let ledger = Ledger::open(dir).unwrap();
    let mut chain = ChainBuilder::new();
    for i in 0..n {
        let txs = [
            TestTx::valid(
                format!("{salt}-{i}-a"),
                vec![KeyWrite::put("ns", format!("k{i}"), salt.as_bytes())],
            ),
            TestTx::valid(
                format!("{salt}-{i}-b"),
                vec![KeyWrite::put(
                    "ns",
                    "shared",
                    format!("{salt}{i}").into_bytes(),
                )],
            ),
        ];
        ledger.commit_block(&chain.block(&txs)).unwrap();
    }
    ledger.state_digest().unwrap()
}

/// Offsets of the records in a block file, from their length fields.
fn record_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at < data.len() {
        offsets.push(at);
        let len = u32::from_be_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
        at += HEADER + len;
    }
    offsets
}

/// Captures what `tracing` logs while `f` runs.
fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn torn_tails_are_truncated_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let digest = ledger_with_blocks(dir.path(), 3, "x");
    let path = block_file(dir.path());
    let whole = std::fs::read(&path).unwrap();
    let offsets = record_offsets(&whole);
    let last_record = whole[offsets[2]..].to_vec();
    for torn in [
        last_record[..5].to_vec(),                     // header cut short
        last_record[..last_record.len() / 2].to_vec(), // payload cut short
        vec![0u8; 700],                                // extended but never written
        {
            // a whole-length record whose payload never fully reached the disk
            let mut r = last_record.clone();
            let n = r.len();
            r[n - 3..].fill(0);
            r
        },
    ] {
        let mut data = whole.clone();
        data.extend_from_slice(&torn);
        std::fs::write(&path, &data).unwrap();
        let (ledger, logs) = logs_of(|| Ledger::open(dir.path()).unwrap());
        assert!(
            logs.contains("WARN") && logs.contains("torn write"),
            "no warning logged: {logs}"
        );
        assert!(
            logs.contains("blockfile_000000"),
            "the warning names the file: {logs}"
        );
        assert_eq!(ledger.height().unwrap(), 3);
        assert_eq!(ledger.state_digest().unwrap(), digest);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "cut back to the last whole record"
        );
        drop(ledger);
    }
    // After a repair, the ledger keeps committing on the same chain.
    let ledger = Ledger::open(dir.path()).unwrap();
    let mut chain = ChainBuilder::after(&ledger.block(2).unwrap().unwrap());
    ledger
        .commit_block(&chain.block(&[TestTx::valid(
            "after",
            vec![KeyWrite::put("ns", "z", b"1".to_vec())],
        )]))
        .unwrap();
    assert_eq!(ledger.verify_chain().unwrap(), 4);
}

#[test]
fn a_checksum_error_mid_file_stops_start_up_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_blocks(dir.path(), 3, "x");
    let path = block_file(dir.path());
    let mut data = std::fs::read(&path).unwrap();
    let offsets = record_offsets(&data);
    data[offsets[1] + HEADER + 40] ^= 0x5a;
    std::fs::write(&path, &data).unwrap();
    let err = Ledger::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, LedgerError::Corrupt { offset, .. } if offset == offsets[1] as u64),
        "{msg}"
    );
    assert!(msg.contains("blockfile_000000"), "{msg}");
    assert!(msg.contains(&format!("offset {}", offsets[1])), "{msg}");
    assert!(msg.contains("Restore"), "says what to do: {msg}");
}

#[test]
fn a_block_whose_previous_hash_does_not_match_stops_start_up() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ledger_with_blocks(a.path(), 3, "a");
    ledger_with_blocks(b.path(), 3, "b");
    // Block 0 of one chain followed by blocks 1 and 2 of another: every checksum is fine.
    let da = std::fs::read(block_file(a.path())).unwrap();
    let db = std::fs::read(block_file(b.path())).unwrap();
    let (oa, ob) = (record_offsets(&da), record_offsets(&db));
    let spliced = [&da[..oa[1]], &db[ob[1]..]].concat();
    std::fs::write(block_file(a.path()), &spliced).unwrap();
    let err = Ledger::open(a.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, LedgerError::BrokenChain { number: 1, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("blockfile_000000") && msg.contains(&format!("offset {}", oa[1])),
        "{msg}"
    );
    assert!(msg.contains("resync"), "says what to do: {msg}");
}

#[test]
fn block_files_shorter_than_the_index_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_blocks(dir.path(), 3, "x");
    let path = block_file(dir.path());
    let data = std::fs::read(&path).unwrap();
    let offsets = record_offsets(&data);
    std::fs::write(&path, &data[..offsets[2]]).unwrap();
    let err = Ledger::open(dir.path()).unwrap_err();
    assert!(matches!(err, LedgerError::Inconsistent(_)), "{err}");
    assert!(err.to_string().contains("block 2"), "{err}");
}

#[test]
fn a_lost_index_is_rebuilt_from_the_block_files() {
    let dir = tempfile::tempdir().unwrap();
    let digest = ledger_with_blocks(dir.path(), 4, "x");
    std::fs::remove_file(dir.path().join(INDEX_FILE)).unwrap();
    let ledger = Ledger::open(dir.path()).unwrap();
    assert_eq!(ledger.height().unwrap(), 4);
    assert_eq!(ledger.state_digest().unwrap(), digest);
    assert_eq!(ledger.transaction("x-2-b").unwrap().unwrap().block_num, 2);
    assert_eq!(ledger.get_history_for_key("ns", "shared").unwrap().len(), 4);
    assert_eq!(ledger.verify_chain().unwrap(), 4);
}

#[test]
fn a_ledger_open_elsewhere_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_blocks(dir.path(), 2, "locked");
    let running = Ledger::open(dir.path()).unwrap();
    // A second opener (`cambium ledger inspect` beside a running peer) must not touch it.
    let err = Ledger::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, LedgerError::Locked(ref p) if p == dir.path()),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("already open in another process"), "{text}");
    assert!(text.contains("stop it first"), "{text}");
    assert_eq!(running.height().unwrap(), 2);
    drop(running);
    assert_eq!(Ledger::open(dir.path()).unwrap().height().unwrap(), 2);
}

/// Every file under `dir` with its bytes, by path.
fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn a_cleanly_closed_ledger_is_read_without_writing_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    let digest = ledger_with_blocks(dir.path(), 3, "ro");
    let (tip, shared, tx) = {
        let ledger = Ledger::open(dir.path()).unwrap();
        (
            ledger.block(2).unwrap().unwrap(),
            ledger.get_state("ns", "shared").unwrap(),
            inspect::transaction(&ledger, "ro-1-b").unwrap(),
        )
    };
    let before = files_under(dir.path());

    let read_only = ReadOnlyLedger::open(dir.path()).unwrap();
    let view = read_only.view();
    assert_eq!(view.height().unwrap(), 3);
    assert_eq!(view.block(2).unwrap().as_ref(), Some(&tip));
    assert_eq!(view.block_by_hash(&tip.hash).unwrap().as_ref(), Some(&tip));
    assert_eq!(view.get_state("ns", "shared").unwrap(), shared);
    assert_eq!(view.get_state("ns", "k1").unwrap().unwrap().value, b"ro");
    assert_eq!(view.state_digest().unwrap(), digest);
    assert_eq!(inspect::transaction(view, "ro-1-b").unwrap(), tx);
    assert!(view.block(3).unwrap().is_none());
    // A second reader may look at the same time; a writer may not.
    let second = ReadOnlyLedger::open(dir.path()).unwrap();
    assert_eq!(second.view().height().unwrap(), 3);
    assert!(matches!(
        Ledger::open(dir.path()).unwrap_err(),
        LedgerError::Locked(_)
    ));
    drop((read_only, second));

    assert_eq!(
        files_under(dir.path()),
        before,
        "reading changed, added or removed a file"
    );
    assert_eq!(Ledger::open(dir.path()).unwrap().height().unwrap(), 3);
}

#[test]
fn a_ledger_open_in_a_peer_is_not_read_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_blocks(dir.path(), 2, "busy");
    let running = Ledger::open(dir.path()).unwrap();
    let err = ReadOnlyLedger::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, LedgerError::Locked(ref p) if p == dir.path()),
        "{err:?}"
    );
    assert!(err.to_string().contains("stop it first"), "{err}");
    assert_eq!(running.height().unwrap(), 2);
}

#[test]
fn a_read_only_open_of_a_folder_that_is_not_a_ledger_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = ReadOnlyLedger::open(dir.path()).unwrap_err();
    assert!(matches!(err, LedgerError::NotALedger(_)), "{err:?}");
    assert!(
        err.to_string().contains("is not a ledger directory"),
        "{err}"
    );
    assert!(err.to_string().contains(INDEX_FILE), "{err}");
    assert!(files_under(dir.path()).is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn blocks_above_the_state_are_not_read_without_recovery() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_blocks(dir.path(), 2, "behind");
    // The state database as it was at height 2 (a clean close), restored after block 2 was
    // committed: the block files hold a block its state lacks.
    let index = dir.path().join(INDEX_FILE);
    let at_two = std::fs::read(&index).unwrap();
    {
        let ledger = Ledger::open(dir.path()).unwrap();
        let mut chain = ChainBuilder::after(&ledger.block(1).unwrap().unwrap());
        let tx = TestTx::valid(
            "behind-2",
            vec![KeyWrite::put("ns", "late", b"v".as_slice())],
        );
        ledger.commit_block(&chain.block(&[tx])).unwrap();
    }
    std::fs::write(&index, at_two).unwrap();

    let err = ReadOnlyLedger::open(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LedgerError::NeedsRecovery { .. }), "{err:?}");
    assert!(
        text.contains("blocks 2..=2 are in its block files but not yet in its state database"),
        "{text}"
    );
    let ledger = Ledger::open(dir.path()).unwrap();
    assert_eq!(ledger.height().unwrap(), 3);
    assert!(ledger.get_state("ns", "late").unwrap().is_some());
}
