//! `cambium contract upgrade` end to end on a development network: the example upgrade pair
//! (asset-ledger v1 → v2), the interface check refusing a breaking package, a dry run that
//! changes nothing (and, once approved, shows the migration's writes), the upgrade with its
//! migration, and a canary rollout stepped to abort and promote.

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

    // Once both orgs approved, a dry run endorses the commit: its read/write set holds the
    // migration's rewrite of the two v1 records. Still nothing commits.
    for org in ["Org1", "Org2"] {
        let admin = Admin::new(profile.clone(), org, None).unwrap();
        let peer = admin.peer_name(None).unwrap();
        admin.install(&peer, &v2).await.expect("installs");
        admin
            .approve(&peer, &dry.definition, Some(&dry.package_id))
            .await
            .expect("approves");
    }
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
    let found = dry.dry_run.expect("dry-run findings");
    assert!(found.approvals.values().all(|a| *a), "{found:?}");
    assert_eq!(found.refused, None);
    assert_eq!(found.endorsed_by.len(), 2);
    let migrated = &found.rwset["assets"];
    assert_eq!(
        (migrated.writes, migrated.range_queries),
        (2, 1),
        "{found:?}"
    );
    assert!(found.rwset["_lifecycle"].writes > 0, "{found:?}");
    // The size the orderer will judge, against the channel's limit (99 MB in this network).
    assert!(
        found.transaction_bytes > 1_000 && found.absolute_max_bytes == 99 * 1024 * 1024,
        "{found:?}"
    );
    assert_eq!(found.too_large(), None);
    // And what the migration cost, as the peer reports it.
    assert!(
        found.message.contains("2 written") && found.message.contains(" fuel"),
        "{found:?}"
    );
    assert_eq!(committed(&profile, "assets").await, 1);
    let (status, payload) = query(&profile, "assets", &["ReadAsset", "a1"]).await;
    assert_eq!((status, payload.as_slice()), (200, &b"Tomoko,300"[..]));

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

    // The migration ran in the commit: v1's records are JSON with the new field.
    let (status, payload) = query(&profile, "assets", &["ReadAsset", "a2"]).await;
    assert_eq!(status, 200);
    assert_eq!(
        payload,
        br#"{"currency":"USD","id":"a2","owner":"Tomoko","value":300}"#
    );
    assert_eq!(
        done.already_installed.len(),
        2,
        "installed before the dry run"
    );

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

/// Endorses `args` on `contract` at `org`'s peer as that org's User1 (no commit); returns the
/// response status and the contract version the endorser ran (`chaincode_id.version`).
async fn endorsed_version(
    profile: &ConnectionProfile,
    org: &str,
    contract: &str,
    args: &[&str],
) -> (i32, String) {
    use cambium_node::client;
    use cambium_wire::{peer, Message};
    let signer = profile.signing_identity(org, "User1").expect("User1");
    let proposal = client::signed_proposal(
        &signer,
        profile.channel().expect("a channel"),
        contract,
        args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    )
    .expect("a proposal");
    let (_, node) = profile.peer_of(org, None).expect("the org's peer");
    let response = client::process_proposal(
        cambium_node::connect::connect(node, None)
            .await
            .expect("connects"),
        &node.url,
        &proposal,
    )
    .await
    .expect("the peer answers");
    let status = response.response.as_ref().map_or(0, |r| r.status);
    let version = peer::ProposalResponsePayload::decode(response.payload.as_slice())
        .ok()
        .and_then(|p| peer::ChaincodeAction::decode(p.extension.as_slice()).ok())
        .and_then(|a| a.chaincode_id)
        .map(|id| id.version)
        .unwrap_or_default();
    (status, version)
}

async fn versions(profile: &ConnectionProfile) -> (String, String) {
    let (s1, v1) = endorsed_version(profile, "Org1", "assets", &["ListAssets"]).await;
    let (s2, v2) = endorsed_version(profile, "Org2", "assets", &["ListAssets"]).await;
    assert_eq!((s1, s2), (200, 200));
    (v1, v2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_for_org1_is_advanced_paused_aborted_and_promoted() {
    use cambium_node::upgrade::{plan_from_flags, rollout, RolloutState, RolloutStep};

    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let v1 = package("asset-ledger-v1", "assets_1");
    let v2 = package("asset-ledger-v2", "assets_2");
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
    let admin = Admin::new(profile.clone(), "Org1", None).unwrap();
    let peer = admin.peer_name(None).unwrap();

    // A step with no rollout in progress is refused by _lifecycle.
    let e = rollout(&admin, &peer, "assets", &RolloutStep::Abort)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("AbortRollout"), "{e}");

    // A selector naming an org that is not on the channel is refused before anything changes.
    let e = upgrade::upgrade(
        &profile,
        &v2,
        &UpgradeOptions {
            plan: plan_from_flags(None, &["org=Org9MSP".into()]).unwrap(),
            ..options("assets")
        },
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("org=Org9MSP") && e.contains("Org1MSP, Org2MSP"),
        "{e}"
    );
    assert_eq!(committed(&profile, "assets").await, 1);

    // Canary: Org1's clients get v2, everybody else stays on v1.
    let done = upgrade::upgrade(
        &profile,
        &v2,
        &UpgradeOptions {
            version: Some("2.0".into()),
            plan: plan_from_flags(Some("0%"), &["org=Org1MSP".into()]).unwrap(),
            ..options("assets")
        },
        &|_| {},
    )
    .await
    .expect("the canary upgrade commits");
    assert_eq!(done.definition.sequence, 2);
    assert_eq!(versions(&profile).await, ("2.0".into(), "1.0".into()));

    let status = rollout(&admin, &peer, "assets", &RolloutStep::Status)
        .await
        .expect("QueryRollout answers");
    assert!(status.commit.is_none());
    let s = &status.status;
    assert_eq!(
        (
            s.sequence,
            s.version.as_str(),
            s.previous_sequence,
            s.previous_version.as_str()
        ),
        (2, "2.0", 1, "1.0")
    );
    let plan = s.plan.as_ref().expect("a plan");
    assert_eq!(
        (plan.orgs.as_slice(), plan.state),
        (&["Org1MSP".to_owned()][..], RolloutState::Active)
    );

    // Advance, pause (advancing while paused is refused), resume.
    let advanced = rollout(&admin, &peer, "assets", &RolloutStep::Advance(50))
        .await
        .expect("advance commits");
    assert!(advanced.commit.is_some());
    assert_eq!(advanced.status.plan.as_ref().unwrap().weight_percent, 50);
    let paused = rollout(&admin, &peer, "assets", &RolloutStep::Pause)
        .await
        .expect("pause commits");
    assert_eq!(
        paused.status.plan.as_ref().unwrap().state,
        RolloutState::Paused
    );
    assert!(rollout(&admin, &peer, "assets", &RolloutStep::Advance(60))
        .await
        .is_err());
    let e = rollout(&admin, &peer, "assets", &RolloutStep::Advance(101))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside 0-100%"), "{e}");
    let resumed = rollout(&admin, &peer, "assets", &RolloutStep::Resume)
        .await
        .expect("resume commits");
    assert_eq!(
        resumed.status.plan.as_ref().unwrap().state,
        RolloutState::Active
    );

    // Abort: from the next block every transaction is back on v1.
    let aborted = rollout(&admin, &peer, "assets", &RolloutStep::Abort)
        .await
        .expect("abort commits");
    assert_eq!(
        aborted.status.plan.as_ref().unwrap().state,
        RolloutState::Aborted
    );
    assert_eq!(versions(&profile).await, ("1.0".into(), "1.0".into()));

    // Roll out again and promote: everybody on v2.
    let again = upgrade::upgrade(
        &profile,
        &v2,
        &UpgradeOptions {
            version: Some("2.1".into()),
            plan: plan_from_flags(Some("10%"), &[]).unwrap(),
            ..options("assets")
        },
        &|_| {},
    )
    .await
    .expect("the second rollout commits");
    assert_eq!(again.definition.sequence, 3);
    let promoted = rollout(&admin, &peer, "assets", &RolloutStep::Promote)
        .await
        .expect("promote commits");
    let plan = promoted.status.plan.as_ref().unwrap();
    assert_eq!(
        (plan.state, plan.weight_percent),
        (RolloutState::Complete, 100)
    );
    assert_eq!(versions(&profile).await, ("2.1".into(), "2.1".into()));

    network.stop().await;
}
