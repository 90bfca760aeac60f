//! Criterion bench: validating a block of 500 endorsed transactions, each signed by an Org1
//! client and endorsed by a peer of Org1 and of Org2 under `AND('Org1MSP.peer',
//! 'Org2MSP.peer')`, each writing one new key. Run with
//! `cargo bench -p cambium-validator --features bench -- --quick`.

use std::hint::black_box;

use cambium_cryptogen::Role;
use cambium_ledger::{Block, MemLedger, SnapshotSource};
use cambium_msp::policy::parse;
use cambium_msp::SigningIdentity;
use cambium_primitives::{KvWrite, NsRwSet, TxRwSet};
use cambium_validator::{validate_block, EndorsementPolicy, PolicyTable, ValidationOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

mod support;

use support::{endorsed_transaction, identity, two_org_channel, Call};

const TXS: usize = 500;

/// One endorsed transaction writing `key`, as a Gateway client and two peers build it.
fn transaction(
    client: &SigningIdentity,
    endorsers: &[&SigningIdentity],
    nonce: usize,
    key: &str,
) -> Vec<u8> {
    let mut nonce_bytes = vec![0u8; 24];
    nonce_bytes[..8].copy_from_slice(&(nonce as u64).to_be_bytes());
    let mut ns = NsRwSet::new("basic");
    ns.writes = vec![KvWrite {
        key: key.to_owned(),
        is_delete: false,
        value: vec![7; 100],
    }];
    endorsed_transaction(
        client,
        endorsers,
        Call {
            chaincode: ("basic", "1.0"),
            args: vec![b"Create".to_vec(), key.as_bytes().to_vec()],
            nonce: nonce_bytes,
        },
        &TxRwSet { ns: vec![ns] },
    )
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, channel) = two_org_channel(dir.path());
    let policies = PolicyTable::new().with(
        "basic",
        EndorsementPolicy::Signature(parse("AND('Org1MSP.peer', 'Org2MSP.peer')").expect("policy")),
    );
    let client = identity(&net, "Org1MSP", Role::Client);
    let peer1 = identity(&net, "Org1MSP", Role::Peer);
    let peer2 = identity(&net, "Org2MSP", Role::Peer);
    let options = ValidationOptions::at(peer1.certificate().not_before() + 3600);
    let data: Vec<Vec<u8>> = (0..TXS)
        .map(|i| transaction(&client, &[&peer1, &peer2], i, &format!("asset{i:05}")))
        .collect();
    let block = Block::new(0, Vec::new(), data);
    let ledger = MemLedger::new();
    let snapshot = ledger.snapshot().expect("snapshot");

    let check = validate_block(&block, &channel, &policies, &snapshot, &options).expect("valid");
    assert!(check.transactions.iter().all(|t| t.code.is_valid()));

    let mut group = c.benchmark_group("validate_block");
    group.throughput(Throughput::Elements(TXS as u64));
    group.sample_size(10);
    for threads in [1, 0] {
        let name = if threads == 1 {
            "500tx_2endorsements_1thread".to_owned()
        } else {
            "500tx_2endorsements_all_cores".to_owned()
        };
        let options = options.with_threads(threads);
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    validate_block(&block, &channel, &policies, &snapshot, &options)
                        .expect("validates"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
