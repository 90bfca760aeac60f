//! `cambium up` end to end: start on free ports, deploy asset-transfer, a transaction, restart
//! with the same state; and the errors a user meets first.

use std::net::TcpListener;

use cambium_node::admin::Admin;
use cambium_node::bench::BenchOptions;
use cambium_node::deploy::{self, DeployOptions, Source, Step};
use cambium_node::invoke::{self, Call};
use cambium_node::watch::http_get;
use cambium_node::{ConnectionProfile, DevNetwork, NodeError, Ports, UpOptions};

use crate::support::{asset_transfer_package, query, submit, up};

/// A runtime of its own for each life of the network: dropping it ends every task the nodes
/// spawned (as the end of a `cambium up` process does), so the next life can open the stores.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn up_deploy_transact_restart_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let package = asset_transfer_package();
    let (profile, admin_key) = runtime().block_on(first_life(&dir, &package));
    runtime().block_on(second_life(&dir, &profile, &admin_key));
}

async fn first_life(dir: &std::path::Path, package: &[u8]) -> (ConnectionProfile, Vec<u8>) {
    let network = up(dir, Some(Ports::free().unwrap())).await;
    assert!(network.created());
    let profile = ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
    assert!(profile
        .peers
        .values()
        .all(|p| p.url.starts_with("grpcs://")));
    let admin_key = std::fs::read(&network.network().peer_orgs()[0].admin().key).unwrap();

    let steps = std::sync::Mutex::new(Vec::new());
    let report = deploy::deploy(
        &profile,
        package,
        &DeployOptions {
            name: "basic".into(),
            ..DeployOptions::default()
        },
        &|s: &Step| steps.lock().unwrap().push(s.clone()),
    )
    .await
    .expect("deploy succeeds");
    assert_eq!(report.definition.sequence, 1);
    assert_eq!(report.installed.len(), 2);
    assert_eq!(report.approved, ["Org1", "Org2"]);
    assert!(steps.lock().unwrap().contains(&Step::Committed));

    let (code, _) = submit(
        &profile,
        "basic",
        &["CreateAsset", "asset-it-1", "green", "3", "Ana", "700"],
    )
    .await;
    assert_eq!(code, 0, "CreateAsset commits VALID");
    let (status, payload) = query(&profile, "basic", &["ReadAsset", "asset-it-1"]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&payload).contains("Ana"));
    operations_endpoints_serve(&network).await;
    contract_calls_through_the_gateway(&profile).await;

    // Deploying again reuses the installed package and moves to the next sequence.
    let again = deploy::deploy(
        &profile,
        package,
        &DeployOptions {
            name: "basic".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .expect("a second deploy succeeds");
    assert_eq!(again.definition.sequence, 2);
    assert_eq!(again.already_installed.len(), 2);

    network.stop().await;
    (profile, admin_key)
}

/// `cambium contract invoke` and `query`: a user's call through the Gateway, its result,
/// transient data reaching the contract, and refusals that say why.
async fn contract_calls_through_the_gateway(profile: &ConnectionProfile) {
    let call = |args: &[&str]| Call {
        contract: "basic".into(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        org: "Org2".into(),
        user: "User1".into(),
        ..Call::default()
    };
    let invoked = invoke::invoke(
        profile,
        &call(&["CreateAsset", "asset-call", "teal", "2", "Kai", "90"]),
    )
    .await
    .expect("CreateAsset commits");
    assert!(invoked.block > 0);
    assert_eq!(invoked.tx_id.len(), 64);
    assert_eq!(invoked.output.status, 200);
    let owner = invoke::invoke(profile, &call(&["TransferAsset", "asset-call", "Lea"]))
        .await
        .expect("TransferAsset commits");
    assert_eq!(
        owner.output.payload, "Kai",
        "the contract returns the old owner"
    );
    assert!(owner.block > invoked.block);
    let read = invoke::query(profile, &call(&["ReadAsset", "asset-call"]))
        .await
        .expect("ReadAsset answers");
    assert!(read.payload.contains("\"Owner\":\"Lea\""), "{read:?}");

    let err = invoke::invoke(
        profile,
        &call(&["CreateAsset", "asset-call", "teal", "2", "Kai", "90"]),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("the asset asset-call already exists"), "{err}");
    let err = invoke::query(profile, &call(&["ReadAsset", "no-such-asset"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the asset no-such-asset does not exist"),
        "{err}"
    );

    // With transient data the gateway endorses on its own organisation only (as Fabric's
    // does), which cannot satisfy asset-transfer's AND policy, so it refuses before sending
    // anything; naming the organisations gets both endorsements.
    let mut private = call(&["CreateAsset", "asset-private", "red", "1", "Ana", "5"]);
    private
        .transient
        .insert("note".into(), b"not on the ledger".to_vec());
    let err = invoke::invoke(profile, &private)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("retry specifying endorsing organization(s) to protect transient data"),
        "{err}"
    );
    private.orgs = vec!["Org1".into(), "Org2MSP".into()];
    let committed = invoke::invoke(profile, &private)
        .await
        .expect("endorsed by both organisations, it commits");
    assert!(committed.block > owner.block);
    private.orgs = vec!["Org9".into()];
    let err = invoke::invoke(profile, &private)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("'Org9' is not in this network"), "{err}");

    // Transient data reaches the contract (testbed's whoami echoes it) and stays out of the
    // proposal the client signs into the ledger.
    let testbed = cambium_vm::package::write_package(
        &crate::support::contract_wasm(std::path::Path::new("testbed")),
        "testbed_1",
    )
    .unwrap();
    deploy::deploy(
        profile,
        &testbed,
        &DeployOptions {
            name: "testbed".into(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await
    .expect("testbed deploys");
    let mut whoami = call(&["whoami"]);
    whoami.contract = "testbed".into();
    whoami.transient.insert("secret".into(), b"42".to_vec());
    let me = invoke::query(profile, &whoami)
        .await
        .expect("whoami answers");
    assert!(me.payload.contains("|Org2MSP|"), "{me:?}");
    assert!(me.payload.ends_with("|secret=42"), "{me:?}");
}

/// Every node serves its operations endpoint: health, and on the peers the per-version
/// contract metrics the rollout brake reads.
async fn operations_endpoints_serve(network: &DevNetwork) {
    let ports = network.network().state.ports;
    let peers = network.network().peer_operations_urls();
    assert_eq!(
        peers,
        [
            format!("http://127.0.0.1:{}", ports.org1_ops),
            format!("http://127.0.0.1:{}", ports.org2_ops)
        ]
    );
    let orderer = format!("http://127.0.0.1:{}", ports.orderer_ops);
    let summary = network.summary();
    for url in peers.iter().chain([&orderer]) {
        assert!(summary.contains(url.as_str()), "{summary}");
        let health = http_get(url, "/healthz").await.expect("healthz answers");
        assert!(health.contains("OK"), "{url}: {health}");
    }
    for url in &peers {
        let metrics = http_get(url, "/metrics").await.expect("metrics answer");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("cambium_contract_endorsements_total{")
                    && l.contains("contract=\"basic\"")),
            "{url} has no endorsement metrics of basic:\n{metrics}"
        );
    }
    let metrics = http_get(&orderer, "/metrics")
        .await
        .expect("metrics answer");
    assert!(metrics.contains("cambium_raft_"), "{metrics}");
    // Prometheus is told the same endpoints.
    let mut scraped: Vec<String> = cambium_node::monitoring::read_targets(&network.network().root)
        .unwrap()
        .into_iter()
        .map(|(_, _, address)| format!("http://{address}"))
        .collect();
    scraped.sort();
    let mut all: Vec<String> = peers.iter().cloned().chain([orderer]).collect();
    all.sort();
    assert_eq!(scraped, all);
}

async fn second_life(dir: &std::path::Path, profile: &ConnectionProfile, admin_key: &[u8]) {
    let resumed = up(dir, None).await;
    assert!(!resumed.created());
    assert_eq!(
        std::fs::read(&resumed.network().peer_orgs()[0].admin().key).unwrap(),
        admin_key,
        "a restart never regenerates keys"
    );
    let (status, payload) = query(profile, "basic", &["ReadAsset", "asset-it-1"]).await;
    assert_eq!(status, 200, "state survives the restart");
    assert!(String::from_utf8_lossy(&payload).contains("Ana"));
    let admin = Admin::new(profile.clone(), "Org2", None).unwrap();
    let peer = admin.peer_name(None).unwrap();
    assert_eq!(admin.committed_sequence(&peer, "basic").await.unwrap(), 2);
    let (code, _) = submit(
        profile,
        "basic",
        &["CreateAsset", "asset-it-2", "red", "1", "Bo", "10"],
    )
    .await;
    assert_eq!(code, 0, "the resumed network accepts transactions");
    resumed.stop().await;
}

#[tokio::test]
async fn a_taken_port_is_named_with_the_flag_that_moves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let holder = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let held = holder.local_addr().unwrap().port();
    let free = Ports::free().unwrap();
    for (ports, flag) in [
        (
            Ports {
                org2_peer: held,
                ..free
            },
            "--org2-peer-port",
        ),
        (
            Ports {
                org1_ops: held,
                ..free
            },
            "--org1-ops-port",
        ),
    ] {
        let err = DevNetwork::start(&UpOptions {
            data_dir: tmp.path().join("data"),
            ports: Some(ports),
            cut_when_idle: true,
            log: None,
        })
        .await
        .unwrap_err();
        assert!(
            matches!(err, NodeError::PortInUse { flag: f, .. } if f == flag),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("port {held} is in use; pass {flag} PORT")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_folder_that_is_not_a_network_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("mine.txt"), "keep").unwrap();
    let err = DevNetwork::start(&UpOptions {
        data_dir: tmp.path().to_owned(),
        ports: Some(Ports::free().unwrap()),
        cut_when_idle: true,
        log: None,
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("is not a Cambium network"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("mine.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn unknown_org_and_missing_package_say_what_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let network = cambium_node::Network::create(tmp.path(), Ports::free().unwrap(), true).unwrap();
    let profile = ConnectionProfile::for_network(&network).unwrap();
    let err = Admin::new(profile, "Org3", None).unwrap_err().to_string();
    assert_eq!(
        err,
        "organization 'Org3' is not in this network; known: Org1, Org2"
    );
    let err = Source::of(&tmp.path().join("missing-contract"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing-contract does not exist"), "{err}");
}

#[tokio::test]
async fn bench_options_out_of_range_are_refused_before_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    let network = cambium_node::Network::create(tmp.path(), Ports::free().unwrap(), true).unwrap();
    let profile = ConnectionProfile::for_network(&network).unwrap();
    let refused = |options: BenchOptions| {
        let profile = profile.clone();
        async move {
            cambium_node::bench::run(&profile, &options)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let base = BenchOptions {
        clients: 4,
        ..BenchOptions::default()
    };
    let err = refused(BenchOptions {
        clients: 0,
        ..base.clone()
    })
    .await;
    assert!(err.contains("--clients must be at least 1"), "{err}");
    let err = refused(BenchOptions {
        read_percent: 101,
        ..base.clone()
    })
    .await;
    assert!(err.contains("--read-percent must be 0 to 100"), "{err}");
    for connections in [0, 5] {
        let err = refused(BenchOptions {
            connections: Some(connections),
            ..base.clone()
        })
        .await;
        assert!(
            err.contains(&format!(
                "--connections must be 1 to the number of clients (4), got {connections}"
            )),
            "{err}"
        );
    }
}
