//! Reads at a consistent snapshot while blocks commit on another thread.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cambium_ledger::testkit::ChainBuilder;
use cambium_ledger::{
    BlockReader, BlockWriter, Ledger, LedgerOptions, MemLedger, SnapshotSource, StateReader,
};

use crate::gen::{random_block, Rng};

#[test]
fn snapshots_taken_during_commits_are_consistent() {
    snapshots_are_consistent(LedgerOptions::default());
}

/// With state written into redb every block, and every third block (snapshots span flushes
/// and overlays of every length).
#[test]
fn snapshots_are_consistent_across_state_flushes() {
    for flush_every_blocks in [1, 3] {
        snapshots_are_consistent(LedgerOptions {
            flush_every_blocks,
            ..LedgerOptions::default()
        });
    }
}

fn snapshots_are_consistent(options: LedgerOptions) {
    // The expected state digest at every height, from the in-memory ledger.
    let mut chain = ChainBuilder::new();
    let mut rng = Rng::new(99);
    let blocks: Vec<_> = (0..30)
        .map(|_| random_block(&mut chain, &mut rng, 30))
        .collect();
    let model = MemLedger::new();
    let mut digests = BTreeMap::new();
    digests.insert(0u64, model.state_digest().unwrap());
    for b in &blocks {
        model.commit_block(b).unwrap();
        digests.insert(model.height().unwrap(), model.state_digest().unwrap());
    }

    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open_with(dir.path(), options).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (ledger, done, digests) = (ledger.clone(), done.clone(), digests.clone());
        std::thread::spawn(move || {
            let mut checked = 0;
            while !done.load(Ordering::SeqCst) || checked == 0 {
                let snap = ledger.snapshot().unwrap();
                let height = snap.height().unwrap();
                assert_eq!(
                    snap.state_digest().unwrap(),
                    digests[&height],
                    "snapshot at height {height}"
                );
                if let Some(tip) = height.checked_sub(1) {
                    assert!(snap.block(tip).unwrap().is_some());
                }
                assert_eq!(snap.block(height).unwrap(), None);
                checked += 1;
            }
            checked
        })
    };
    for b in &blocks {
        ledger.commit_block(b).unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let checked = reader.join().unwrap();
    assert!(checked > 0);
    assert_eq!(ledger.state_digest().unwrap(), digests[&30]);
}
