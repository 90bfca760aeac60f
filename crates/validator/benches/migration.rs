//! Criterion bench: the block that carries a definition commit with an atomic migration, as
//! `cambium bench upgrade` produces it: one transaction whose read/write set scans the
//! contract's namespace in pages of 256 (range queries with raw reads) and rewrites every
//! record, beside `_lifecycle`'s definition keys. Validated (MVCC of the migration's range
//! scans over a real ledger: redb plus the in-memory overlay) and committed. Run with
//! `cargo bench -p cambium-validator --features bench --bench migration -- --quick`.

use std::hint::black_box;

use cambium_cryptogen::Role;
use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{Block, BlockWriter, KeyWrite, Ledger, SnapshotSource, StateReader};
use cambium_msp::policy::parse;
use cambium_msp::SigningIdentity;
use cambium_primitives::{KvRead, KvWrite, NsRwSet, RangeQueryInfo, RangeQueryReads, TxRwSet};
use cambium_validator::{validate_block, EndorsementPolicy, PolicyTable, ValidationOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

mod support;

use support::{endorsed_transaction, identity, two_org_channel, Call};

const CONTRACT: &str = "assets";
/// Records the migration rewrites (the bench upgrade's migrations see 2.5–4.7k).
const RECORDS: usize = 4_000;
/// Records per seeding block: the load creates them over many blocks, so most are in redb
/// and the newest in the overlay.
const PER_BLOCK: usize = 100;
/// The contract's range page.
const PAGE: usize = 256;

fn record_key(i: usize) -> String {
    // Spread like the load's random IDs rather than in creation order.
    format!(
        "asset/{:016x}",
        (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// A ledger whose namespace holds `RECORDS` v1 records, created `PER_BLOCK` to a block.
fn seeded_ledger(dir: &std::path::Path) -> Ledger {
    let ledger = Ledger::open(dir).expect("ledger opens");
    let mut chain = ChainBuilder::new();
    for chunk in 0..RECORDS / PER_BLOCK {
        let txs: Vec<TestTx> = (0..PER_BLOCK)
            .map(|t| {
                let i = chunk * PER_BLOCK + t;
                TestTx::valid(
                    format!("seed-{i}"),
                    vec![KeyWrite::put(
                        CONTRACT,
                        record_key(i),
                        format!("Owner{i},{i}").into_bytes(),
                    )],
                )
            })
            .collect();
        ledger.commit_block(&chain.block(&txs)).expect("commit");
    }
    ledger
}

/// The migration's read/write set against `ledger`: paged scans of the namespace and a
/// rewrite of every record, plus the definition keys in `_lifecycle`.
fn migration_rwset(ledger: &Ledger) -> TxRwSet {
    let snapshot = ledger.snapshot().expect("snapshot");
    let page = snapshot
        .get_state_range(CONTRACT, "asset/", "asset0", 0, None)
        .expect("scan");
    assert_eq!(page.entries.len(), RECORDS);
    let mut ns = NsRwSet::new(CONTRACT);
    let chunks: Vec<_> = page.entries.chunks(PAGE).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let start = if i == 0 {
            "asset/".to_owned()
        } else {
            chunk[0].key.clone()
        };
        ns.range_queries.push(RangeQueryInfo {
            start_key: start,
            end_key: "asset0".to_owned(),
            itr_exhausted: last,
            reads: Some(RangeQueryReads::Raw(
                chunk
                    .iter()
                    .map(|e| KvRead {
                        key: e.key.clone(),
                        version: Some(e.value.version),
                    })
                    .collect(),
            )),
        });
    }
    ns.writes = page
        .entries
        .iter()
        .map(|e| {
            let mut value = vec![0xFE];
            value.extend_from_slice(b"USD");
            value.extend_from_slice(&e.value.value);
            KvWrite {
                key: e.key.clone(),
                is_delete: false,
                value,
            }
        })
        .collect();
    let mut lifecycle = NsRwSet::new("_lifecycle");
    lifecycle.writes = ["EndorsementInfo", "ValidationInfo", "Collections"]
        .iter()
        .map(|field| KvWrite {
            key: format!("namespaces/fields/{CONTRACT}/{field}"),
            is_delete: false,
            value: vec![1; 40],
        })
        .chain(std::iter::once(KvWrite {
            key: format!("namespaces/metadata/{CONTRACT}"),
            is_delete: false,
            value: vec![2; 60],
        }))
        .collect();
    TxRwSet {
        ns: vec![lifecycle, ns],
    }
}

/// One endorsed transaction carrying `rwset`, as an admin client and two peers build it.
fn transaction(
    client: &SigningIdentity,
    endorsers: &[&SigningIdentity],
    rwset: &TxRwSet,
) -> Vec<u8> {
    endorsed_transaction(
        client,
        endorsers,
        Call {
            chaincode: ("_lifecycle", "syscc"),
            args: vec![b"CommitChaincodeDefinition".to_vec(), vec![0; 64]],
            nonce: vec![9; 24],
        },
        rwset,
    )
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, channel) = two_org_channel(&dir.path().join("crypto"));
    let both = || {
        EndorsementPolicy::Signature(parse("AND('Org1MSP.peer', 'Org2MSP.peer')").expect("policy"))
    };
    let policies = PolicyTable::new()
        .with(CONTRACT, both())
        .with("_lifecycle", both());
    let admin = identity(&net, "Org1MSP", Role::Admin);
    let peer1 = identity(&net, "Org1MSP", Role::Peer);
    let peer2 = identity(&net, "Org2MSP", Role::Peer);
    let options = ValidationOptions::at(peer1.certificate().not_before() + 3600).with_threads(1);

    let ledger_dir = dir.path().join("ledger");
    let ledger = seeded_ledger(&ledger_dir);
    let rwset = migration_rwset(&ledger);
    let envelope = transaction(&admin, &[&peer1, &peer2], &rwset);
    let tip = ledger.snapshot().expect("snapshot");
    let height = cambium_ledger::BlockReader::height(&tip).expect("height");
    let previous = cambium_ledger::BlockReader::block(&tip, height - 1)
        .expect("read")
        .expect("tip block");
    drop(tip);
    let block = Block::new(height, previous.hash.to_vec(), vec![envelope]);
    let snapshot = ledger.snapshot().expect("snapshot");
    let check = validate_block(&block, &channel, &policies, &snapshot, &options).expect("valid");
    assert!(
        check.transactions[0].code.is_valid(),
        "{:?}",
        check.transactions[0].reason
    );

    let mut group = c.benchmark_group("migration_block");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.bench_function(format!("validate_{RECORDS}_records"), |b| {
        b.iter(|| {
            black_box(
                validate_block(&block, &channel, &policies, &snapshot, &options)
                    .expect("validates"),
            )
        })
    });
    drop(snapshot);
    let mut round = 0;
    group.bench_function(format!("validate_and_commit_{RECORDS}_records"), |b| {
        b.iter_batched(
            || {
                round += 1;
                let dir = ledger_dir.with_file_name(format!("ledger-{round}"));
                let ledger = seeded_ledger(&dir);
                (ledger, dir)
            },
            |(ledger, dir)| {
                let snapshot = ledger.snapshot().expect("snapshot");
                let validation = validate_block(&block, &channel, &policies, &snapshot, &options)
                    .expect("validates");
                drop(snapshot);
                ledger
                    .commit_block(&validation.into_commit(block.clone()))
                    .expect("commits");
                (ledger, dir)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
