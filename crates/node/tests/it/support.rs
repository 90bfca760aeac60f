//! Helpers: the asset-transfer package, a started network, and a transaction sent the way a
//! Fabric client sends one without the gateway (endorse on every peer, broadcast, wait).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cambium_node::client::{self, CommitWatcher};
use cambium_node::connect::connect;
use cambium_node::{ConnectionProfile, DevNetwork, Ports, UpOptions};

/// How long a test network may take to accept transactions.
pub(crate) const READY: Duration = Duration::from_secs(30);

/// Cargo's target directory, found from this test binary's path (`<target>/<profile>/deps/…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The module of the contract in `contracts/<name>`, built for wasm32.
pub(crate) fn contract_wasm(name: &Path) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts")
        .join(name);
    let wasm = cambium_vm::toolchain::build(&dir, &target_dir().join("contract-wasm"))
        .unwrap_or_else(|e| panic!("cannot build {} for wasm32: {e}", name.display()));
    std::fs::read(wasm).expect("the built module is readable")
}

/// The asset-transfer contract built for wasm32 and packaged as `basic_1.0`.
pub(crate) fn asset_transfer_package() -> Vec<u8> {
    let wasm = contract_wasm(Path::new("asset-transfer"));
    cambium_vm::package::write_package(&wasm, "basic_1.0").expect("packages")
}

/// Starts (or resumes) the network in `dir` and waits until it is ready.
pub(crate) async fn up(dir: &Path, ports: Option<Ports>) -> DevNetwork {
    let network = DevNetwork::start(&UpOptions {
        data_dir: dir.to_owned(),
        ports,
        cut_when_idle: true,
        log: None,
    })
    .await
    .expect("the network starts");
    network
        .wait_ready(READY)
        .await
        .expect("the network gets ready");
    network
}

/// Calls `contract` with `args` as Org1's User1, endorsed by every peer, and waits for the
/// commit; returns the validation code and the contract's response payload.
pub(crate) async fn submit(
    profile: &ConnectionProfile,
    contract: &str,
    args: &[&str],
) -> (i32, Vec<u8>) {
    let signer = profile.signing_identity("Org1", "User1").expect("User1");
    let channel_id = profile.channel().expect("a channel");
    let proposal = client::signed_proposal(
        &signer,
        channel_id,
        contract,
        args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    )
    .expect("a proposal");
    let mut responses = Vec::new();
    for (name, node) in &profile.peers {
        let channel = connect(node, None).await.expect("the peer answers");
        let response = client::process_proposal(channel, &node.url, &proposal)
            .await
            .expect("the peer endorses");
        client::response_payload(&response, name, args[0]).expect("status 200");
        responses.push((name.clone(), response));
    }
    let payload = responses[0].1.response.clone().unwrap_or_default().payload;
    let envelope = client::endorsed_envelope(&signer, &proposal, &responses).expect("envelope");
    let (_, peer) = profile.peer_of("Org1", None).expect("Org1's peer");
    let mut watcher = CommitWatcher::open(
        connect(peer, None).await.expect("the peer answers"),
        &peer.url,
        &signer,
        channel_id,
    )
    .await
    .expect("DeliverFiltered opens");
    let (_, orderer) = profile.orderer().expect("an orderer");
    client::broadcast(
        connect(orderer, None).await.expect("the orderer answers"),
        &orderer.url,
        envelope,
    )
    .await
    .expect("the orderer accepts");
    let (code, _) = watcher
        .wait(&proposal.tx_id, Duration::from_secs(20))
        .await
        .expect("the transaction commits");
    (code, payload)
}

/// Evaluates `contract` `args` on Org1's peer as User1; returns status and payload.
pub(crate) async fn query(
    profile: &ConnectionProfile,
    contract: &str,
    args: &[&str],
) -> (i32, Vec<u8>) {
    let signer = profile.signing_identity("Org1", "User1").expect("User1");
    let proposal = client::signed_proposal(
        &signer,
        profile.channel().expect("a channel"),
        contract,
        args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    )
    .expect("a proposal");
    let (_, peer) = profile.peer_of("Org1", None).expect("Org1's peer");
    let response = client::process_proposal(
        connect(peer, None).await.expect("connects"),
        &peer.url,
        &proposal,
    )
    .await
    .expect("the peer answers");
    let r = response.response.unwrap_or_default();
    (r.status, r.payload)
}

/// Commits `package`'s code again as version 2.0 of `name` with a canary for Org1's clients
/// (Org2's stay on the deployed version).
pub(crate) async fn canary_for_org1(profile: &ConnectionProfile, package: &[u8], name: &str) {
    use cambium_node::upgrade::{self, RolloutPlan, UpgradeOptions};
    let wasm = cambium_vm::package::read_package(package).unwrap().wasm;
    let v2 = cambium_vm::package::write_package(&wasm, &format!("{name}_2")).unwrap();
    upgrade::upgrade(
        profile,
        &v2,
        &UpgradeOptions {
            name: name.into(),
            version: Some("2.0".into()),
            plan: Some(RolloutPlan {
                orgs: vec!["Org1MSP".into()],
                ..RolloutPlan::default()
            }),
            ..UpgradeOptions::default()
        },
        &|_| {},
    )
    .await
    .expect("a canary for Org1's clients");
}

/// Each peer's own metrics on an operations endpoint, as `cambium peer start` serves them.
pub(crate) async fn serve_peer_metrics(network: &DevNetwork) -> Vec<cambium_ops::OpsServer> {
    use cambium_ops::{Operations, OpsConfig};
    let mut servers = Vec::new();
    for (_, peer) in network.peers() {
        let ops = Operations {
            metrics: std::sync::Arc::clone(peer.node().metrics()),
            ..Operations::new()
        };
        servers.push(
            cambium_ops::serve(&OpsConfig::new("127.0.0.1:0"), std::sync::Arc::new(ops))
                .await
                .unwrap(),
        );
    }
    servers
}
