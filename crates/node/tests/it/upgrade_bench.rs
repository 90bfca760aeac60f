//! `cambium bench upgrade` on a development network, short: the whole script (upgrade with
//! migration and canary, advance, abort, roll out again, promote) under a few clients, with no
//! failed transaction, the new version serving, and every peer ending with the same state.

use std::path::Path;
use std::time::Duration;

use cambium_node::upgrade_bench::{self, UpgradeBenchOptions};
use cambium_node::{ConnectionProfile, Ports};

use crate::support::{contract_wasm, up};

fn package(contract: &str, label: &str) -> Vec<u8> {
    cambium_vm::package::write_package(&contract_wasm(Path::new(contract)), label)
        .expect("packages")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_upgrade_under_load_fails_no_transaction_and_peers_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let options = UpgradeBenchOptions {
        clients: 4,
        phase: Duration::from_millis(1500),
        v1: package("asset-ledger-v1", "ub_1"),
        v2: package("asset-ledger-v2", "ub_2"),
        v2_again: package("asset-ledger-v2", "ub_2b"),
        seed: 20,
        canary: 50,
        name: "ub".into(),
    };
    let report = upgrade_bench::run(&profile, &options, &|_| {})
        .await
        .expect("the script runs");
    assert_eq!(report.failed, 0, "{report:#?}");
    assert_eq!(report.valid, report.submitted);
    assert!(report.valid > 0);
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert!(
        report.steps.windows(2).all(|w| w[0].block < w[1].block),
        "each step commits after the previous one: {:?}",
        report.steps
    );
    assert!(report.blocks_to_serve.is_some(), "{report:#?}");
    assert!(
        report.blocks_to_first_new_version_tx.is_some(),
        "{report:#?}"
    );
    // Every step is judged on transactions proposed after its commit was known, and none
    // of them ran another version than the rollout assigns (the peers switch at the block).
    for step in &report.steps {
        assert!(step.judged > 0, "{step:?}");
        assert_eq!(step.misserved, 0, "{step:?}");
    }
    assert_eq!(report.lifecycle_transactions.get("VALID").copied(), Some(9));
    assert_eq!(report.state_digests.len(), 2);
    assert!(report.state_digests_equal, "{:?}", report.state_digests);
    network.stop().await;
}

#[tokio::test]
async fn a_canary_outside_1_to_99_is_refused_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let options = UpgradeBenchOptions {
        clients: 1,
        phase: Duration::from_millis(100),
        v1: Vec::new(),
        v2: Vec::new(),
        v2_again: Vec::new(),
        seed: 0,
        canary: 100,
        name: "ub".into(),
    };
    let err = upgrade_bench::run(&profile, &options, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("between 1 and 99"), "{err}");
    network.stop().await;
}
