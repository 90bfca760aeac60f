//! Criterion bench: [`LifecyclePolicies::new`], which a committer runs once per block, over
//! a ledger holding 10 and 100 committed contract definitions (each with two orgs'
//! approvals), and a policy lookup afterwards; then the same with every contract in a canary
//! rollout (sequence 2 with a 30 % plan over sequence 1), and the routed, versioned policy
//! decision the validator makes per transaction. Run with
//! `cargo bench -p cambium-validator --features bench --bench lifecycle -- --quick`.

use std::hint::black_box;

use cambium_ledger::{
    Block, BlockCommit, BlockWriter, KeyWrite, MemLedger, SnapshotSource, TxOutcome,
};
use cambium_lifecycle::rollout::{write_status, RolloutPlan, RolloutStatus};
use cambium_lifecycle::state::write_definition;
use cambium_lifecycle::upgrade::write_previous;
use cambium_lifecycle::Creator;
use cambium_lifecycle::{
    approval_key, Approval, Definition, LedgerSimulation, PackageSource, NAMESPACE,
};
use cambium_validator::{EndorsementPolicies, LifecyclePolicies, TxOrigin, VersionedPolicy};
use criterion::{criterion_group, criterion_main, Criterion};

/// A ledger whose one block commits `count` definitions and their approvals; with
/// `rollout`, each at sequence 2 carrying a 30 % plan over sequence 1.
fn ledger_with(count: usize) -> MemLedger {
    ledger_of(count, false)
}

fn ledger_of(count: usize, rollout: bool) -> MemLedger {
    let ledger = MemLedger::new();
    let empty = MemLedger::new();
    let snapshot = empty.snapshot().expect("snapshot");
    let mut sim = LedgerSimulation::new(&snapshot);
    let mut writes = Vec::new();
    for i in 0..count {
        let name = format!("contract{i:04}");
        let plan = RolloutPlan {
            weight_percent: 30,
            ..Default::default()
        };
        let definition = if rollout {
            Definition::new(2, "2.0").with_rollout(Some(plan.clone()))
        } else {
            Definition::new(1, "1.0")
        };
        write_definition(&mut sim, &name, &definition);
        if rollout {
            write_previous(&mut sim, &name, &Definition::new(1, "1.0"));
            write_status(
                &mut sim,
                &RolloutStatus {
                    name: name.clone(),
                    sequence: 2,
                    version: "2.0".into(),
                    previous_sequence: 1,
                    previous_version: "1.0".into(),
                    plan: Some(plan),
                },
            );
        }
        for org in ["Org1MSP", "Org2MSP"] {
            let approval = Approval {
                definition: definition.clone(),
                source: PackageSource::Local(format!("{name}:00")),
            };
            writes.push(KeyWrite::put(
                NAMESPACE,
                approval_key(org, &name, definition.sequence),
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
    let ledger = ledger_of(100, true);
    let snapshot = ledger.snapshot().expect("snapshot");
    c.bench_function("lifecycle_policies_new/100_definitions_in_rollout", |b| {
        b.iter(|| black_box(LifecyclePolicies::new(&snapshot)))
    });
    let policies = LifecyclePolicies::new(&snapshot);
    let ids: Vec<String> = (0..64).map(|i| format!("{i:064x}")).collect();
    let ous: Vec<String> = Vec::new();
    let mut i = 0usize;
    c.bench_function("versioned_policy/routed_by_a_30_percent_rollout", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            let origin = TxOrigin {
                tx_id: &ids[i],
                creator: Creator {
                    msp_id: "Org1MSP",
                    identity: b"a serialized identity",
                    ous: &ous,
                },
            };
            let decided = policies
                .versioned_policy("contract0001", "2.0", &origin, 100, 5)
                .expect("lookup");
            black_box(matches!(decided, VersionedPolicy::Policy(_)))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
