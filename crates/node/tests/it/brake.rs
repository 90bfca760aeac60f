//! The rollout brake's own checks and its use of endorsement metrics: bad flags are refused
//! before anything is sent, an endpoint nobody serves fails at once naming it, and a canary
//! whose contract answers errors (nothing committed invalid) is aborted from the peers' real
//! `/metrics`.

use std::time::Duration;

use cambium_node::admin::Admin;
use cambium_node::client;
use cambium_node::connect::connect;
use cambium_node::deploy::{self, DeployOptions};
use cambium_node::generate::{self, GenerateOptions};
use cambium_node::upgrade::RolloutState;
use cambium_node::watch::{self, WatchEnd, WatchOptions};
use cambium_node::{ConnectionProfile, Ports};

use crate::support::{asset_transfer_package, canary_for_org1, serve_peer_metrics, up};

fn options(metrics: Vec<String>) -> WatchOptions {
    WatchOptions {
        metrics,
        interval: Duration::from_millis(200),
        max_error_rate: 0.5,
        min_transactions: 4,
        timeout: Some(Duration::from_secs(60)),
    }
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_and_unreachable_endpoints_are_refused_before_anything_is_sent() {
    // Keys and a profile for a network that is not running: any call to a peer would fail
    // with a different error than the ones expected here.
    let tmp = tempfile::tempdir().unwrap();
    let deployment = generate::generate(
        &GenerateOptions {
            orgs: 2,
            orderers: 1,
            out: tmp.path().join("network"),
            base_port: closed_port(),
            ..GenerateOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let profile = ConnectionProfile::load(&deployment.profile).unwrap();
    let admin = Admin::new(profile, "Org1", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    let refused = |edit: &dyn Fn(&mut WatchOptions)| {
        let mut o = options(vec![unreachable.clone()]);
        edit(&mut o);
        let admin = admin.clone();
        let peer = peer.clone();
        async move {
            watch::watch(&admin, &peer, "basic", &o, &|_| {})
                .await
                .expect_err("refused")
                .to_string()
        }
    };

    let e = refused(&|o| o.max_error_rate = 1.5).await;
    assert_eq!(
        e,
        "--max-error-rate 1.5 must be between 0 and 1 (e.g. 0.05 for 5%)"
    );
    let e = refused(&|o| o.max_error_rate = -0.2).await;
    assert!(
        e.starts_with("--max-error-rate -0.2 must be between 0 and 1"),
        "{e}"
    );
    let e = refused(&|o| o.interval = Duration::ZERO).await;
    assert!(e.starts_with("--interval must be above 0 seconds"), "{e}");
    let e = refused(&|o| o.metrics = vec!["localhost:9443".into()]).await;
    assert!(
        e.starts_with(
            "--metrics localhost:9443: write the operations endpoint as http://HOST:PORT"
        ),
        "{e}"
    );
    let e = refused(&|_| {}).await;
    assert!(
        e.starts_with(&format!(
            "--metrics {unreachable}: cannot read the operations endpoint {unreachable}: cannot connect"
        )),
        "{e}"
    );
    assert!(
        e.contains("is the peer running with an operations listenAddress there?"),
        "{e}"
    );
    // The CLI's seconds flags.
    let e = watch::seconds_flag("--interval", 0.0)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--interval 0 must be a number of seconds above 0"),
        "{e}"
    );
}

/// Sends ReadAsset of an asset that does not exist, as Org1's User1 (so the canary, which
/// serves Org1's clients, runs it), to every peer; returns the statuses.
async fn read_missing(profile: &ConnectionProfile, contract: &str, asset: &str) -> Vec<i32> {
    let signer = profile.signing_identity("Org1", "User1").unwrap();
    let proposal = client::signed_proposal(
        &signer,
        profile.channel().unwrap(),
        contract,
        vec![b"ReadAsset".to_vec(), asset.into()],
    )
    .unwrap();
    let mut statuses = Vec::new();
    for node in profile.peers.values() {
        let response =
            client::process_proposal(connect(node, None).await.unwrap(), &node.url, &proposal)
                .await
                .unwrap();
        statuses.push(response.response.map_or(0, |r| r.status));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brake_aborts_a_canary_whose_contract_answers_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let network = up(&tmp.path().join("data"), Some(Ports::free().unwrap())).await;
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    let package = asset_transfer_package();
    deploy::deploy(
        &profile,
        &package,
        &DeployOptions {
            name: "e".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .unwrap();
    canary_for_org1(&profile, &package, "e").await;

    let servers = serve_peer_metrics(&network).await;
    let admin = Admin::new(profile.clone(), "Org2", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    let options = options(servers.iter().map(|s| s.url()).collect());
    let brake = {
        let (admin, peer, options) = (admin.clone(), peer.clone(), options.clone());
        tokio::spawn(async move { watch::watch(&admin, &peer, "e", &options, &|_| {}).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    for asset in ["a", "b"] {
        let statuses = read_missing(&profile, "e", asset).await;
        assert!(
            statuses.iter().all(|s| *s >= 400),
            "the contract refuses: {statuses:?}"
        );
    }

    let end = brake.await.unwrap().expect("the watch runs");
    match &end {
        WatchEnd::Aborted {
            error_rate, window, ..
        } => {
            assert_eq!(*error_rate, 1.0, "{end:?}");
            assert_eq!(window.contract_errors, 4, "2 proposals on each of 2 peers");
            assert_eq!((window.invalid, window.failed), (0, 0), "{end:?}");
        }
        other => panic!("expected the brake to abort, got {other:?}"),
    }
    let status = admin.query_rollout(&peer, "e").await.unwrap();
    assert_eq!(status.plan.unwrap().state, RolloutState::Aborted);
    for s in servers {
        s.shutdown().await;
    }
    network.stop().await;
}
