//! Criterion benches: the chosen store (redb) beside the rejected one (fjall) on the ledger's
//! access pattern, then the real `Ledger` end to end.
//!
//! Run with `cargo bench -p cambium-ledger --features bench -- --quick`.

use std::hint::black_box;

use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{
    BlockWriter, KeyWrite, Ledger, LedgerOptions, SnapshotSource, StateReader, TxValidationCode,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Transactions per block, as the issue asks.
const TXS_PER_BLOCK: usize = 500;
/// Distinct keys the writes land on.
const KEY_SPACE: u64 = 200_000;
/// Keys preloaded for the read benches.
const PRELOAD: u64 = 20_000;

/// A deterministic pseudo-random sequence (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn key(n: u64) -> String {
    format!("asset{n:08}")
}

/// One block's worth of raw index entries: 500 transactions with one or two state writes,
/// a history entry per write and a tx-ID entry per transaction.
struct RawBlock {
    state: Vec<(Vec<u8>, Vec<u8>)>,
    history: Vec<Vec<u8>>,
    txids: Vec<(Vec<u8>, Vec<u8>)>,
}

fn raw_block(block: u64, rng: &mut Rng) -> RawBlock {
    let mut b = RawBlock {
        state: Vec::new(),
        history: Vec::new(),
        txids: Vec::new(),
    };
    for tx in 0..TXS_PER_BLOCK as u64 {
        for _ in 0..1 + (tx % 2) {
            let k = format!("basic\0{}", key(rng.next() % KEY_SPACE)).into_bytes();
            let mut v = vec![0u8; 16];
            v[..8].copy_from_slice(&block.to_be_bytes());
            v[8..].copy_from_slice(&tx.to_be_bytes());
            v.extend_from_slice(&[7u8; 64]);
            let mut h = k.clone();
            h.extend_from_slice(&v[..16]);
            b.history.push(h);
            b.state.push((k, v));
        }
        b.txids
            .push((format!("{:064x}", rng.next()).into_bytes(), vec![1u8; 17]));
    }
    // Both stores get their inserts in key order, as the ledger's commit does.
    b.state.sort();
    b.history.sort();
    b.txids.sort();
    b
}

fn writes_per_block() -> u64 {
    (0..TXS_PER_BLOCK as u64).map(|tx| 1 + tx % 2).sum()
}

mod redb_store {
    use super::RawBlock;
    use redb::{ReadableDatabase, TableDefinition};

    pub(crate) const STATE: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("state");
    const HISTORY: TableDefinition<'static, &[u8], ()> = TableDefinition::new("history");
    const TXIDS: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("txids");
    const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");

    pub(crate) fn commit(db: &redb::Database, n: u64, b: &RawBlock, sync: bool) {
        let mut txn = db.begin_write().unwrap();
        let durability = if sync {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability).unwrap();
        {
            let mut state = txn.open_table(STATE).unwrap();
            for (k, v) in &b.state {
                state.insert(k.as_slice(), v.as_slice()).unwrap();
            }
            let mut history = txn.open_table(HISTORY).unwrap();
            for h in &b.history {
                history.insert(h.as_slice(), ()).unwrap();
            }
            let mut txids = txn.open_table(TXIDS).unwrap();
            for (k, v) in &b.txids {
                txids.insert(k.as_slice(), v.as_slice()).unwrap();
            }
            txn.open_table(META)
                .unwrap()
                .insert("savepoint", n)
                .unwrap();
        }
        txn.commit().unwrap();
    }

    pub(crate) fn get(db: &redb::Database, k: &[u8]) -> usize {
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(STATE).unwrap();
        let v = t.get(k).unwrap().unwrap();
        v.value().len()
    }

    pub(crate) fn scan(db: &redb::Database, from: &[u8], n: usize) -> usize {
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(STATE).unwrap();
        t.range(from..)
            .unwrap()
            .take(n)
            .map(|e| e.unwrap().1.value().len())
            .sum()
    }
}

mod fjall_store {
    use super::RawBlock;
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

    pub(crate) struct Store {
        pub(crate) db: Database,
        pub(crate) state: Keyspace,
        history: Keyspace,
        txids: Keyspace,
        meta: Keyspace,
    }

    pub(crate) fn open(path: &std::path::Path) -> Store {
        let db = Database::builder(path).open().unwrap();
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default).unwrap();
        Store {
            state: ks("state"),
            history: ks("history"),
            txids: ks("txids"),
            meta: ks("meta"),
            db,
        }
    }

    pub(crate) fn commit(s: &Store, n: u64, b: &RawBlock, sync: bool) {
        let mut batch =
            s.db.batch()
                .durability(sync.then_some(PersistMode::SyncData));
        for (k, v) in &b.state {
            batch.insert(&s.state, k.as_slice(), v.as_slice());
        }
        for h in &b.history {
            batch.insert(&s.history, h.as_slice(), &[][..]);
        }
        for (k, v) in &b.txids {
            batch.insert(&s.txids, k.as_slice(), v.as_slice());
        }
        batch.insert(&s.meta, "savepoint", n.to_be_bytes().as_slice());
        batch.commit().unwrap();
    }

    pub(crate) fn get(s: &Store, k: &[u8]) -> usize {
        s.state.get(k).unwrap().unwrap().len()
    }

    pub(crate) fn scan(s: &Store, from: &[u8], n: usize) -> usize {
        s.state
            .range(from..)
            .take(n)
            .map(|g| g.value().unwrap().len())
            .sum()
    }
}

fn stores(c: &mut Criterion) {
    let writes = writes_per_block();
    let hot = format!("basic\0{}", key(PRELOAD / 2)).into_bytes();
    let from = format!("basic\0{}", key(1000)).into_bytes();

    // redb
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("bench.redb")).unwrap();
    let mut rng = Rng(42);
    preload(|n, b| redb_store::commit(&db, n, b, true));
    let fdir = tempfile::tempdir().unwrap();
    let fj = fjall_store::open(fdir.path());
    preload(|n, b| fjall_store::commit(&fj, n, b, true));
    let n = std::cell::Cell::new(1_000u64);
    let mut g = c.benchmark_group("store_commit_block_500tx");
    g.throughput(Throughput::Elements(writes));
    for sync in [true, false] {
        let mode = if sync { "fsync" } else { "no_fsync" };
        g.bench_function(format!("redb_{mode}"), |bench| {
            bench.iter_batched(
                || raw_block(n.get(), &mut rng),
                |b| {
                    n.set(n.get() + 1);
                    redb_store::commit(&db, n.get(), &b, sync)
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function(format!("fjall_{mode}"), |bench| {
            bench.iter_batched(
                || raw_block(n.get(), &mut rng),
                |b| {
                    n.set(n.get() + 1);
                    fjall_store::commit(&fj, n.get(), &b, sync)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("store_point_read_hot");
    g.bench_function("redb", |b| b.iter(|| redb_store::get(&db, black_box(&hot))));
    g.bench_function("fjall", |b| {
        b.iter(|| fjall_store::get(&fj, black_box(&hot)))
    });
    g.finish();

    let mut g = c.benchmark_group("store_range_scan_1000");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("redb", |b| {
        b.iter(|| assert!(redb_store::scan(&db, black_box(&from), 1000) > 0))
    });
    g.bench_function("fjall", |b| {
        b.iter(|| assert!(fjall_store::scan(&fj, black_box(&from), 1000) > 0))
    });
    g.finish();
}

/// Writes every preload key once, in blocks of 1,000, so reads find a populated store.
fn preload(mut commit: impl FnMut(u64, &RawBlock)) {
    for chunk in 0..PRELOAD / 1000 {
        let state = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i| (format!("basic\0{}", key(i)).into_bytes(), vec![3u8; 80]))
            .collect();
        commit(
            chunk,
            &RawBlock {
                state,
                history: Vec::new(),
                txids: Vec::new(),
            },
        );
    }
}

fn ledger_block(chain: &mut ChainBuilder, rng: &mut Rng) -> cambium_ledger::BlockCommit {
    let txs: Vec<TestTx> = (0..TXS_PER_BLOCK as u64)
        .map(|tx| {
            let writes = (0..1 + tx % 2)
                .map(|_| KeyWrite::put("basic", key(rng.next() % KEY_SPACE), vec![7u8; 64]))
                .collect();
            TestTx::valid(format!("{:064x}", rng.next()), writes)
        })
        .collect();
    chain.block(&txs)
}

/// A ledger in `dir` with keys `0..PRELOAD` written, and the chain to extend it.
fn preloaded_ledger(dir: &std::path::Path, options: LedgerOptions) -> (Ledger, ChainBuilder) {
    let ledger = Ledger::open_with(dir, options).unwrap();
    let mut chain = ChainBuilder::new();
    // Preload keys 0..PRELOAD in blocks of 500 transactions with two writes.
    for chunk in 0..PRELOAD / 1000 {
        let txs: Vec<TestTx> = (0..500u64)
            .map(|t| {
                let i = chunk * 1000 + t * 2;
                TestTx::valid(
                    format!("pre-{i}"),
                    vec![
                        KeyWrite::put("basic", key(i), vec![3u8; 80]),
                        KeyWrite::put("basic", key(i + 1), vec![3u8; 80]),
                    ],
                )
            })
            .collect();
        ledger.commit_block(&chain.block(&txs)).unwrap();
    }
    (ledger, chain)
}

fn ledger(c: &mut Criterion) {
    // The default (overlay flushed in the background every 16 blocks) last, so that the read
    // benches below run on it; the others are the alternatives it was chosen over.
    let defaults = LedgerOptions::default();
    let configs = [
        (
            "flush_each_block",
            LedgerOptions {
                flush_every_blocks: 1,
                flush_in_background: false,
                ..defaults.clone()
            },
        ),
        (
            "overlay16_at_commit",
            LedgerOptions {
                flush_in_background: false,
                ..defaults.clone()
            },
        ),
        (
            "overlay32_background",
            LedgerOptions {
                flush_every_blocks: 32,
                ..defaults.clone()
            },
        ),
        ("redb", defaults),
    ];
    let mut g = c.benchmark_group("ledger_commit_block_500tx");
    g.throughput(Throughput::Elements(writes_per_block()));
    g.sample_size(20);
    let mut last = None;
    for (name, options) in configs {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, mut chain) = preloaded_ledger(dir.path(), options);
        let mut rng = Rng(7);
        g.bench_function(name, |b| {
            b.iter_batched(
                || ledger_block(&mut chain, &mut rng),
                |block| ledger.commit_block(&block).unwrap(),
                BatchSize::PerIteration,
            )
        });
        last = Some((ledger, dir));
    }
    g.finish();
    let (ledger, _dir) = last.expect("at least one configuration");

    let snapshot = ledger.snapshot().unwrap();
    let hot = key(PRELOAD / 2);
    let mut g = c.benchmark_group("ledger_reads");
    g.bench_function("point_read_hot_key", |b| {
        b.iter(|| {
            snapshot
                .get_state("basic", black_box(&hot))
                .unwrap()
                .unwrap()
        })
    });
    g.bench_function("range_scan_1000", |b| {
        b.iter(|| {
            let page = snapshot
                .get_state_range("basic", black_box(&key(1000)), "", 1000, None)
                .unwrap();
            assert_eq!(page.entries.len(), 1000);
        })
    });
    g.finish();
}

/// Blocks the orderer's block writer fsyncs as one group in the `grouped` configuration below.
const ORDERER_GROUP: usize = 8;

/// An orderer's block store: 500 not-yet-validated transactions of ~1 KiB per block, written
/// as the orderer's block writer writes them — the default (an fsync per block, tx-ID index)
/// against the orderer's options (one fsync per group of 8 blocks, no tx-ID index). Each
/// iteration commits a group of 8 blocks.
fn orderer_store(c: &mut Criterion) {
    let mut g = c.benchmark_group("orderer_block_store_8x500tx");
    g.throughput(Throughput::Elements((ORDERER_GROUP * TXS_PER_BLOCK) as u64));
    g.sample_size(10);
    let grouped = LedgerOptions {
        sync_each_block: false,
        index_tx_ids: false,
        ..LedgerOptions::default()
    };
    for (name, options, sync_per_group) in [
        (
            "fsync_each_block_txid_index",
            LedgerOptions::default(),
            false,
        ),
        ("fsync_per_group_no_txid_index", grouped, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), options).unwrap();
        let mut chain = ChainBuilder::new();
        let mut n = 0u64;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (0..ORDERER_GROUP)
                        .map(|_| {
                            let txs: Vec<TestTx> = (0..TXS_PER_BLOCK)
                                .map(|_| {
                                    n += 1;
                                    TestTx::invalid(
                                        format!("tx-{n:016}"),
                                        TxValidationCode::NotValidated,
                                        vec![KeyWrite::put("basic", key(n), vec![7u8; 900])],
                                    )
                                })
                                .collect();
                            chain.block(&txs)
                        })
                        .collect::<Vec<_>>()
                },
                |blocks| {
                    for block in &blocks {
                        ledger.commit_block(block).unwrap();
                    }
                    if sync_per_group {
                        ledger.sync_blocks().unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, stores, ledger, orderer_store);
criterion_main!(benches);
