//! `cambium contract upgrade` end to end on a development network: the example upgrade pair
//! (asset-ledger v1 → v2), the interface check refusing a breaking package, a dry run that
//! changes nothing, and the upgrade itself.

use std::path::Path;

use cambium_node::admin::Admin;
use cambium_node::deploy::{self, DeployOptions, Step};
use cambium_node::upgrade::{self, CompatCheck, UpgradeOptions};
use cambium_node::{ConnectionProfile, Ports};

use crate::support::{contract_wasm, query, submit, up};

fn package(contract: &str, label: &str) -> Vec<u8> {
    cambium_vm::package::write_package(&contract_wasm(Path::new(contract)), label)
        .expect("packages")
}

async fn committed(profile: &ConnectionProfile, name: &str) -> i64 {
    let admin = Admin::new(profile.clone(), "Org1", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    admin.committed_sequence(&peer, name).await.unwrap()
}

fn options(name: &str) -> UpgradeOptions {
    UpgradeOptions {
        name: name.to_owned(),
        ..UpgradeOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_checks_the_interface_dry_runs_and_commits_the_next_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let v1 = package("asset-ledger-v1", "assets_1");
    let v2 = package("asset-ledger-v2", "assets_2");
    let kv = package("kv", "assets_kv");

    // An upgrade needs a committed first version.
    let e = upgrade::upgrade(&profile, &v2, &options("assets"), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no committed definition"), "{e}");
    assert!(e.contains("cambium contract deploy"), "{e}");

    deploy::deploy(
        &profile,
        &v1,
        &DeployOptions {
            name: "assets".into(),
            version: Some("1.0".into()),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .expect("v1 deploys");
    for id in ["a1", "a2"] {
        let (code, _) = submit(&profile, "assets", &["CreateAsset", id, "Tomoko", "300"]).await;
        assert_eq!(code, 0, "CreateAsset {id} commits VALID");
    }

    // A package that drops v1's functions is refused, naming each one and the flag.
    let e = upgrade::upgrade(&profile, &kv, &options("assets"), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "function CreateAsset is removed",
        "function ListAssets is removed",
        "--allow-breaking",
    ] {
        assert!(e.contains(part), "{part} missing in: {e}");
    }
    // The same check guards a redeploy.
    let e = deploy::deploy(
        &profile,
        &kv,
        &DeployOptions {
            name: "assets".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("--allow-breaking"), "{e}");
    assert_eq!(committed(&profile, "assets").await, 1, "nothing committed");

    // A dry run reports without installing, approving or committing anything.
    let dry = upgrade::upgrade(
        &profile,
        &v2,
        &UpgradeOptions {
            dry_run: true,
            version: Some("2.0".into()),
            ..options("assets")
        },
        &|_| {},
    )
    .await
    .expect("the dry run reports");
    assert!(dry.commit.is_none());
    assert!(dry.installed.is_empty() && dry.approved.is_empty());
    let found = dry.dry_run.expect("dry-run findings");
    assert_eq!(
        found.approvals.values().filter(|a| **a).count(),
        0,
        "nobody approved sequence 2 yet: {found:?}"
    );
    assert!(
        found.refused.is_some(),
        "a commit without approvals is refused: {found:?}"
    );
    assert_eq!(committed(&profile, "assets").await, 1);
    let admin = Admin::new(profile.clone(), "Org1", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    let installed = admin.query_installed(&peer).await.unwrap();
    assert!(
        !installed.iter().any(|p| p.package_id == dry.package_id),
        "the dry run installed nothing"
    );

    // The upgrade: compatible (v2 adds SetCurrency and migrates the schema), next sequence.
    let steps = std::sync::Mutex::new(Vec::new());
    let done = upgrade::upgrade(
        &profile,
        &v2,
        &UpgradeOptions {
            version: Some("2.0".into()),
            ..options("assets")
        },
        &|s: &Step| steps.lock().unwrap().push(s.clone()),
    )
    .await
    .expect("the upgrade commits");
    assert_eq!(done.definition.sequence, 2);
    assert_eq!(done.previous.version, "1.0");
    assert_eq!(done.approved, ["Org1", "Org2"]);
    assert!(done.commit.is_some());
    let CompatCheck::Compared {
        report, sequence, ..
    } = &done.compat
    else {
        panic!("compared with the committed package: {:?}", done.compat);
    };
    assert_eq!(*sequence, 1);
    assert!(!report.is_breaking(), "{report}");
    assert_eq!(report.added.len(), 1);
    let steps = steps.into_inner().unwrap();
    assert_eq!(steps.first(), Some(&Step::Sequence(2)));
    assert!(steps.contains(&Step::Checked { breaking: false }));
    assert_eq!(steps.last(), Some(&Step::Committed));
    assert_eq!(committed(&profile, "assets").await, 2);

    // v2 serves: new records are JSON with the new field.
    let (code, _) = submit(&profile, "assets", &["CreateAsset", "b1", "Ana", "7"]).await;
    assert_eq!(code, 0);
    let (status, payload) = query(&profile, "assets", &["ReadAsset", "b1"]).await;
    assert_eq!(status, 200);
    assert_eq!(
        payload,
        br#"{"currency":"USD","id":"b1","owner":"Ana","value":7}"#
    );

    network.stop().await;
}
