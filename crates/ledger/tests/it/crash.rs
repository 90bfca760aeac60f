//! The crash test: a child process commits random blocks and is killed with SIGKILL at random
//! moments; after each kill the ledger reopens with every acknowledged block, a chain that
//! verifies, and a state equal to a replay of the blocks from zero.
//!
//! The child is this test binary re-executed on [`crash_child`] with `CRASH_DIR_ENV` set.
//! `CAMBIUM_LEDGER_CRASH_ITERATIONS` sets the number of kills (default 50).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cambium_ledger::testkit::{outcomes_from_block, ChainBuilder};
use cambium_ledger::{
    BlockCommit, BlockReader, BlockWriter, Ledger, LedgerError, LedgerOptions, MemLedger,
    ReadOnlyLedger, StateReader,
};

use crate::gen::{random_block, Rng};

/// Where the child commits; its presence makes [`crash_child`] run as the child.
const CRASH_DIR_ENV: &str = "CAMBIUM_LEDGER_CRASH_CHILD_DIR";
const CRASH_SEED_ENV: &str = "CAMBIUM_LEDGER_CRASH_CHILD_SEED";
const ITERATIONS_ENV: &str = "CAMBIUM_LEDGER_CRASH_ITERATIONS";

fn child_options() -> LedgerOptions {
    LedgerOptions {
        // Small files and lazy state syncs, so that kills land across file roll-overs and
        // leave blocks above the savepoint to replay.
        max_block_file_len: 256 * 1024,
        sync_state_every: 3,
        // The parent verifies everything when it reopens; the child starts fast.
        verify_on_open: false,
        ..LedgerOptions::default()
    }
}

/// Opens the ledger at `dir` and commits random blocks, printing `ACK n` after each commit
/// returns, until `limit` blocks (or forever).
fn commit_loop(dir: &std::path::Path, seed: u64, limit: Option<u64>) -> Ledger {
    let ledger = Ledger::open_with(dir, child_options()).expect("child opens the ledger");
    let height = ledger.height().unwrap();
    let mut chain = match height.checked_sub(1) {
        Some(tip) => ChainBuilder::after(&ledger.block(tip).unwrap().unwrap()),
        None => ChainBuilder::new(),
    };
    let mut rng = Rng::new(seed);
    let mut out = std::io::stdout().lock();
    let mut committed = 0;
    while limit.is_none_or(|l| committed < l) {
        let block = random_block(&mut chain, &mut rng, 40);
        let stored = ledger.commit_block(&block).expect("child commits");
        writeln!(out, "ACK {}", stored.number).unwrap();
        out.flush().unwrap();
        committed += 1;
    }
    ledger
}

/// The child entry point. Run by the test harness without the environment variable, it
/// commits a bounded run and checks it, so it is a test of the loop itself.
#[test]
fn crash_child() {
    if let Ok(dir) = std::env::var(CRASH_DIR_ENV) {
        let seed = std::env::var(CRASH_SEED_ENV).map_or(1, |s| s.parse().unwrap());
        commit_loop(std::path::Path::new(&dir), seed, None);
        unreachable!("the child loop runs until it is killed");
    }
    let dir = tempfile::tempdir().unwrap();
    let ledger = commit_loop(dir.path(), 7, Some(10));
    assert_eq!(ledger.height().unwrap(), 10);
    assert_eq!(ledger.verify_chain().unwrap(), 10);
}

/// Starts this test binary as the committing child on `dir` (see [`crash_child`]); the
/// receiver gets each block number it acknowledges, until its output ends.
fn spawn_child(
    dir: &std::path::Path,
    seed: u64,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<u64>,
    std::thread::JoinHandle<()>,
) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_ENV, dir)
        .env(CRASH_SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                if tx.send(n.trim().parse().unwrap()).is_err() {
                    break;
                }
            }
        }
    });
    (child, rx, reader)
}

/// Re-commits the stored blocks from `model`'s height to `ledger`'s into `model`, deriving
/// each commit from the stored bytes alone, and checks the bytes agree.
fn replay_into(model: &MemLedger, ledger: &Ledger) {
    for n in model.height().unwrap()..ledger.height().unwrap() {
        let stored = ledger.block(n).unwrap().expect("block below the height");
        let (block, outcomes) = outcomes_from_block(&stored.bytes).expect("stored block decodes");
        let replayed = model
            .commit_block(&BlockCommit { block, outcomes })
            .expect("stored block replays");
        assert_eq!(
            replayed, stored,
            "block {n} replays to the same bytes and hash"
        );
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_an_acknowledged_block() {
    let iterations: u64 =
        std::env::var(ITERATIONS_ENV).map_or(50, |s| s.parse().expect("a number"));
    let dir = tempfile::tempdir().unwrap();
    let model = MemLedger::new();
    let mut rng = Rng::new(0xc0ffee);
    let mut max_acked: Option<u64> = None;
    let started = Instant::now();
    for i in 0..iterations {
        let (mut child, rx, reader) = spawn_child(dir.path(), i + 1);
        // Wait until the child is committing, then let it run for a random while.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child acknowledges a block");
        max_acked = max_acked.max(Some(first));
        std::thread::sleep(Duration::from_micros(rng.below(150_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        for n in rx.try_iter() {
            max_acked = max_acked.max(Some(n));
        }

        let ledger =
            Ledger::open(dir.path()).unwrap_or_else(|e| panic!("reopen after kill {i}: {e}"));
        let height = ledger.height().unwrap();
        let acked = max_acked.expect("at least one block was acknowledged");
        assert!(
            height > acked,
            "kill {i}: block {acked} was acknowledged but the height is {height}"
        );
        assert_eq!(
            ledger.verify_chain().unwrap(),
            height,
            "kill {i}: the chain verifies"
        );
        replay_into(&model, &ledger);
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap(),
            "kill {i}: state equals a replay of blocks 0..{height}"
        );
        assert!(
            indexes_agree(&ledger, &model),
            "kill {i}: indexes agree with the replay"
        );
    }
    eprintln!(
        "crash test: {iterations} kills, {} blocks, {:?}",
        model.height().unwrap(),
        started.elapsed()
    );
}

/// The last block is found by its hash, and its transactions by ID as in the replay.
fn indexes_agree(ledger: &Ledger, model: &MemLedger) -> bool {
    let tip = ledger.height().unwrap() - 1;
    let block = ledger.block(tip).unwrap().unwrap();
    let by_hash = ledger.block_by_hash(&block.hash).unwrap();
    let (decoded, _) = outcomes_from_block(&block.bytes).unwrap();
    let txs_agree = decoded.data.iter().all(|env| {
        let id = cambium_wire::tx::parse_envelope(env)
            .unwrap()
            .channel_header
            .tx_id;
        ledger.transaction(&id).unwrap() == model.transaction(&id).unwrap()
    });
    by_hash.as_ref() == Some(&block) && txs_agree
}

#[test]
fn a_killed_ledger_is_not_read_without_recovery_and_reads_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx, reader) = spawn_child(dir.path(), 1);
    let acked = loop {
        let n = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child acknowledges blocks");
        if n >= 5 {
            break n;
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();

    let err = ReadOnlyLedger::open(dir.path()).unwrap_err();
    assert!(matches!(err, LedgerError::NeedsRecovery { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("open it normally once"), "{text}");

    let (height, tip) = {
        let ledger = Ledger::open(dir.path()).unwrap();
        let height = ledger.height().unwrap();
        (height, ledger.block(height - 1).unwrap().unwrap())
    };
    assert!(
        height > acked,
        "block {acked} was acknowledged; height {height}"
    );
    let read_only = ReadOnlyLedger::open(dir.path()).unwrap();
    assert_eq!(read_only.view().height().unwrap(), height);
    assert_eq!(read_only.view().block(height - 1).unwrap(), Some(tip));
}
