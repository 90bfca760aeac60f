//! `cambium contract rollout watch` against a development network: a canary whose
//! transactions conflict is aborted by the brake, from the peers' real `/metrics`.

use std::time::Duration;

use cambium_node::admin::Admin;
use cambium_node::client::{self, CommitWatcher};
use cambium_node::connect::connect;
use cambium_node::deploy::{self, DeployOptions};
use cambium_node::upgrade::RolloutState;
use cambium_node::watch::{self, WatchEnd, WatchOptions};
use cambium_node::{ConnectionProfile, Ports};

use crate::support::{asset_transfer_package, canary_for_org1, serve_peer_metrics, submit, up};

/// Two transfers of the same asset by Org1's User1, both endorsed before either is ordered:
/// exactly one commits VALID, the other MVCC_READ_CONFLICT. Returns both codes.
async fn conflicting_pair(profile: &ConnectionProfile, contract: &str, asset: &str) -> Vec<i32> {
    let signer = profile.signing_identity("Org1", "User1").unwrap();
    let channel_id = profile.channel().unwrap();
    let mut envelopes = Vec::new();
    for owner in ["Ann", "Bob"] {
        let proposal = client::signed_proposal(
            &signer,
            channel_id,
            contract,
            vec![b"TransferAsset".to_vec(), asset.into(), owner.into()],
        )
        .unwrap();
        let mut responses = Vec::new();
        for (name, node) in &profile.peers {
            let response =
                client::process_proposal(connect(node, None).await.unwrap(), &node.url, &proposal)
                    .await
                    .unwrap();
            client::response_payload(&response, name, "TransferAsset").unwrap();
            responses.push((name.clone(), response));
        }
        let envelope = client::endorsed_envelope(&signer, &proposal, &responses).unwrap();
        envelopes.push((proposal.tx_id, envelope));
    }
    let (_, peer) = profile.peer_of("Org1", None).unwrap();
    let mut watcher = CommitWatcher::open(
        connect(peer, None).await.unwrap(),
        &peer.url,
        &signer,
        channel_id,
    )
    .await
    .unwrap();
    let (_, orderer) = profile.orderer().unwrap();
    for (_, envelope) in &envelopes {
        client::broadcast(
            connect(orderer, None).await.unwrap(),
            &orderer.url,
            envelope.clone(),
        )
        .await
        .unwrap();
    }
    let mut codes = Vec::new();
    for (tx_id, _) in &envelopes {
        codes.push(
            watcher
                .wait(tx_id, Duration::from_secs(20))
                .await
                .unwrap()
                .0,
        );
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brake_aborts_a_canary_whose_transactions_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let package = asset_transfer_package();
    deploy::deploy(
        &profile,
        &package,
        &DeployOptions {
            name: "w".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .unwrap();
    let (code, _) = submit(
        &profile,
        "w",
        &["CreateAsset", "hot", "red", "1", "Zed", "5"],
    )
    .await;
    assert_eq!(code, 0);
    canary_for_org1(&profile, &package, "w").await;

    // Each peer's own metrics, on an operations endpoint as `cambium peer start` serves them.
    let servers = serve_peer_metrics(&network).await;
    let admin = Admin::new(profile.clone(), "Org2", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    let options = WatchOptions {
        metrics: servers.iter().map(|s| s.url()).collect(),
        interval: Duration::from_millis(200),
        max_error_rate: 0.25,
        min_transactions: 2,
        timeout: Some(Duration::from_secs(60)),
    };
    let brake = {
        let (admin, peer, options) = (admin.clone(), peer.clone(), options.clone());
        tokio::spawn(async move { watch::watch(&admin, &peer, "w", &options, &|_| {}).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let codes = conflicting_pair(&profile, "w", "hot").await;
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [0, 11],
        "one VALID, one MVCC_READ_CONFLICT: {codes:?}"
    );

    let end = brake.await.unwrap().expect("the watch runs");
    match &end {
        WatchEnd::Aborted {
            error_rate, window, ..
        } => {
            assert!((error_rate - 0.5).abs() < 1e-9, "{end:?}");
            assert_eq!(window.total(), 4, "2 transactions seen on each of 2 peers");
        }
        other => panic!("expected the brake to abort, got {other:?}"),
    }
    let status = admin.query_rollout(&peer, "w").await.unwrap();
    assert_eq!(status.plan.unwrap().state, RolloutState::Aborted);
    let again = watch::watch(&admin, &peer, "w", &options, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        again,
        WatchEnd::Ended {
            state: "ABORTED".into()
        },
        "a finished rollout has nothing to watch"
    );
    for s in servers {
        s.shutdown().await;
    }
    network.stop().await;
}
