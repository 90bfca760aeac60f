//! The conformance suite, run once per implementation.

mod memory {
    use cambium_ledger::conformance::Subject;
    use cambium_ledger::MemLedger;

    fn make() -> Subject<MemLedger> {
        Subject::new(MemLedger::new())
    }

    cambium_ledger::conformance_tests!(make);
}

mod durable {
    use cambium_ledger::conformance::Subject;
    use cambium_ledger::{Ledger, LedgerOptions};

    fn make() -> Subject<Ledger> {
        let dir = tempfile::tempdir().expect("temporary directory");
        // Small block files so that the suite crosses file boundaries.
        let options = LedgerOptions {
            max_block_file_len: 2048,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_with(dir.path(), options).expect("open ledger");
        Subject::with_guard(ledger, dir)
    }

    cambium_ledger::conformance_tests!(make);
}

/// The durable ledger with its state written into redb at every block (no overlay reads).
mod durable_flush_each_block {
    use cambium_ledger::conformance::Subject;
    use cambium_ledger::{Ledger, LedgerOptions};

    fn make() -> Subject<Ledger> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = LedgerOptions {
            max_block_file_len: 2048,
            flush_every_blocks: 1,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_with(dir.path(), options).expect("open ledger");
        Subject::with_guard(ledger, dir)
    }

    cambium_ledger::conformance_tests!(make);
}

/// The durable ledger flushing every two blocks, so reads mix the overlay and redb.
mod durable_flush_every_2 {
    use cambium_ledger::conformance::Subject;
    use cambium_ledger::{Ledger, LedgerOptions};

    fn make() -> Subject<Ledger> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = LedgerOptions {
            max_block_file_len: 2048,
            flush_every_blocks: 2,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_with(dir.path(), options).expect("open ledger");
        Subject::with_guard(ledger, dir)
    }

    cambium_ledger::conformance_tests!(make);
}
