//! Criterion bench: [`LifecyclePolicies::new`], which a committer runs once per block, over
//! a ledger holding 10 and 100 committed contract definitions (each with two orgs'
//! approvals), and a policy lookup afterwards. Run with
//! `cargo bench -p cambium-validator --features bench --bench lifecycle -- --quick`.

use std::hint::black_box;

use cambium_ledger::{
    Block, BlockCommit, BlockWriter, KeyWrite, MemLedger, SnapshotSource, TxOutcome,
};
use cambium_lifecycle::state::write_definition;
use cambium_lifecycle::{
    approval_key, Approval, Definition, LedgerSimulation, PackageSource, NAMESPACE,
};
use cambium_validator::{EndorsementPolicies, LifecyclePolicies};
use criterion::{criterion_group, criterion_main, Criterion};

/// A ledger whose one block commits `count` definitions and their approvals.
fn ledger_with(count: usize) -> MemLedger {
    let ledger = MemLedger::new();
    let empty = MemLedger::new();
    let snapshot = empty.snapshot().expect("snapshot");
    let mut sim = LedgerSimulation::new(&snapshot);
    let mut writes = Vec::new();
    for i in 0..count {
        let name = format!("contract{i:04}");
        let definition = Definition::new(1, "1.0");
        write_definition(&mut sim, &name, &definition);
        for org in ["Org1MSP", "Org2MSP"] {
            let approval = Approval {
                definition: definition.clone(),
                source: PackageSource::Local(format!("{name}:00")),
            };
            writes.push(KeyWrite::put(
                NAMESPACE,
                approval_key(org, &name, 1),
                approval.encode(),
            ));
        }
    }
    for w in sim.into_ns_rwset().writes {
        writes.push(KeyWrite::put(NAMESPACE, w.key, w.value));
    }
    let block = Block::new(0, Vec::new(), vec![b"tx".to_vec()]);
    ledger
        .commit_block(&BlockCommit {
            block,
            outcomes: vec![TxOutcome::valid(writes)],
        })
        .expect("commit");
    ledger
}

fn bench(c: &mut Criterion) {
    for count in [10, 100] {
        let ledger = ledger_with(count);
        let snapshot = ledger.snapshot().expect("snapshot");
        c.bench_function(
            &format!("lifecycle_policies_new/{count}_definitions"),
            |b| b.iter(|| black_box(LifecyclePolicies::new(&snapshot))),
        );
        let policies = LifecyclePolicies::new(&snapshot);
        assert!(policies
            .endorsement_policy("contract0000")
            .expect("lookup")
            .is_some());
        c.bench_function(
            &format!("lifecycle_policy_lookup/{count}_definitions"),
            |b| b.iter(|| black_box(policies.endorsement_policy("contract0001").expect("lookup"))),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
