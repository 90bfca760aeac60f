//! Signed packages through the client code the CLI uses, on a running development network (a
//! channel without the `PackageSigners` requirement): deploy sends the package's owner
//! signatures with each approval and `contract history` names them; a package whose code was
//! changed under its signatures is refused before anything is submitted.

use cambium_lifecycle::package_signing;
use cambium_node::admin::Admin;
use cambium_node::blocks::read_blocks;
use cambium_node::connect::connect;
use cambium_node::deploy::{self, DeployOptions};
use cambium_node::history::contract_history;
use cambium_node::{ConnectionProfile, Ports};

use crate::support::{asset_transfer_package, up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_sends_owner_signatures_and_refuses_a_tampered_package() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let admin1 = profile.signing_identity("Org1", "Admin").unwrap();
    let admin2 = profile.signing_identity("Org2", "Admin").unwrap();
    let unsigned = asset_transfer_package();
    let signed =
        package_signing::sign(&package_signing::sign(&unsigned, &admin1).unwrap(), &admin2)
            .unwrap();

    // Code swapped under the owners' signatures: refused before any install or approval.
    let mut parts = package_signing::read_parts(&signed).unwrap();
    parts.code = package_signing::read_parts(
        &cambium_vm::package::write_package(b"\0asm\x01\0\0\0", "x").unwrap(),
    )
    .unwrap()
    .code;
    let tampered = package_signing::write_parts(&parts).unwrap();
    let options = DeployOptions {
        name: "basic".into(),
        ..DeployOptions::default()
    };
    let err = deploy::deploy(&profile, &tampered, &options, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("made for a different package"), "{err}");
    let admin = Admin::new(profile.clone(), "Org1", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    assert_eq!(admin.committed_sequence(&peer, "basic").await.unwrap(), 0);
    assert!(
        admin.query_installed(&peer).await.unwrap().is_empty(),
        "nothing was installed"
    );

    // This channel does not require signatures, and a signed package deploys with them.
    let checked = admin.package_signatures(&peer, &signed).await.unwrap();
    assert_eq!(checked.map(|s| s.signatures.len()), Some(2));
    let report = deploy::deploy(&profile, &signed, &options, &|_| {})
        .await
        .expect("deploy succeeds");
    assert_eq!(report.definition.sequence, 1);

    let reader = profile.signing_identity("Org1", "User1").unwrap();
    let (_, node) = profile.peer_of("Org1", None).unwrap();
    let blocks = read_blocks(
        connect(node, None).await.unwrap(),
        &node.url,
        &reader,
        profile.channel().unwrap(),
        0,
        |_| {},
    )
    .await
    .unwrap();
    let approvals: Vec<String> = contract_history(&blocks, "basic")
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "approve")
        .map(|e| e.detail)
        .collect();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    for detail in &approvals {
        assert!(
            detail.contains(
                "signed by Org1MSP (Admin@org1.example.com), Org2MSP (Admin@org2.example.com)"
            ),
            "{detail}"
        );
    }
}
