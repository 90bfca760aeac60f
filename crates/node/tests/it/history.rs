//! `cambium contract history` and `cambium contract replay` against a running network: the
//! lifecycle events of a deployed contract as the blocks record them, and a shadow replay of
//! its transactions against the same package (no difference) and another one (every difference
//! named).

use std::path::Path;

use cambium_node::blocks::read_blocks;
use cambium_node::connect::connect;
use cambium_node::deploy::{self, DeployOptions};
use cambium_node::history::contract_history;
use cambium_node::replay::replay;
use cambium_node::{ConnectionProfile, Ports};
use cambium_vm::{Vm, VmConfig};

use crate::support::{asset_transfer_package, contract_wasm, submit, up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_approvals_and_commit_and_replay_compares_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let package = asset_transfer_package();
    deploy::deploy(
        &profile,
        &package,
        &DeployOptions {
            name: "basic".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .expect("deploy succeeds");
    for args in [
        &["CreateAsset", "h1", "blue", "5", "Ana", "100"][..],
        &["CreateAsset", "h2", "red", "2", "Bo", "50"],
        &["TransferAsset", "h1", "Cy"],
    ] {
        let (code, _) = submit(&profile, "basic", args).await;
        assert_eq!(code, 0, "{args:?} commits VALID");
    }

    let admin = cambium_node::admin::Admin::new(profile.clone(), "Org1", None).unwrap();
    for (word, reason) in [("freeze", "audit"), ("unfreeze", "audit done")] {
        let act = cambium_node::governance::parse_act(word).unwrap();
        cambium_node::governance::act(&admin, "basic", act, reason, &|_| {})
            .await
            .unwrap_or_else(|e| panic!("{word}: {e}"));
    }

    let signer = profile.signing_identity("Org1", "User1").unwrap();
    let channel_id = profile.channel().unwrap().to_owned();
    let (_, peer) = profile.peer_of("Org1", None).unwrap();
    let mut seen = Vec::new();
    let blocks = read_blocks(
        connect(peer, None).await.unwrap(),
        &peer.url,
        &signer,
        &channel_id,
        0,
        |n| seen.push(n),
    )
    .await
    .expect("a channel reader gets every block");
    assert_eq!(
        seen,
        (0..blocks.len() as u64).collect::<Vec<_>>(),
        "in order, from 0"
    );

    let history = contract_history(&blocks, "basic").unwrap();
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.action.as_str(), e.signer_msp.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("approve", "Org1MSP"),
            ("approve", "Org2MSP"),
            ("commit", "Org1MSP"),
            ("freeze", "Org1MSP"),
            ("unfreeze", "Org1MSP")
        ],
        "{history:#?}"
    );
    assert!(history.iter().all(|e| e.valid));
    assert!(history[..3].iter().all(|e| e.sequence == Some(1)));
    assert_eq!(history[3].detail, "audit");
    assert!(
        history[0].signer.starts_with("Admin@"),
        "{:?}",
        history[0].signer
    );
    assert!(
        history[0].detail.contains("package basic"),
        "{:?}",
        history[0].detail
    );
    assert_eq!(
        history[2].endorsers.len(),
        2,
        "both orgs endorsed the commit"
    );
    assert!(contract_history(&blocks, "other").unwrap().is_empty());

    let vm = Vm::new(VmConfig {
        pooling_instances: None,
        ..VmConfig::default()
    })
    .unwrap();
    let same = vm
        .install(&cambium_vm::package::read_package(&package).unwrap().wasm)
        .unwrap();
    let report = replay(&blocks, &channel_id, "basic", 10, &vm, &same).unwrap();
    assert_eq!(report.found, 3);
    assert_eq!(report.transactions.len(), 3);
    assert_eq!(report.differing(), 0, "{report:#?}");
    let last_two = replay(&blocks, &channel_id, "basic", 2, &vm, &same).unwrap();
    assert_eq!(last_two.transactions[0].function, "CreateAsset");
    assert_eq!(last_two.transactions[1].function, "TransferAsset");

    let other = vm.install(&contract_wasm(Path::new("kv"))).unwrap();
    let report = replay(&blocks, &channel_id, "basic", 10, &vm, &other).unwrap();
    assert_eq!(report.differing(), 3, "{report:#?}");
    let first = &report.transactions[0];
    assert_eq!(first.original_status, 200);
    assert!(first.replayed_status >= 400);
    assert!(
        first
            .differences
            .iter()
            .any(|d| d.contains("no longer writes basic/h1")),
        "{first:#?}"
    );
    network.stop().await;
}
