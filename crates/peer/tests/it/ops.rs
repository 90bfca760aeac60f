//! The peer's operations endpoint: `/metrics` after a committed transaction shows the height,
//! the VALID counter and the endorsed contract version; a stalled committer or unreachable
//! orderers make `/healthz` answer 503 with the reason.

use std::time::Duration;

use cambium_cryptogen::Role;
use cambium_orderer::client::{signed_envelope, HeaderType};
use cambium_peer::Peer;

use crate::support::{
    broadcast, committed, endorse, http_get, plugins, proposal, signer, start_orderer, Net, CHANNEL,
};

/// The value of the sample named exactly `series` in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_commit_show_the_height_and_valid_transactions() {
    let net = Net::new().await;
    let mut config = net.peer_config("Org1MSP", "peer1");
    config.operations = Some(cambium_peer::cambium_ops::OpsConfig::new("127.0.0.1:0"));
    let p1 = Peer::start_with(config, plugins()).await.unwrap();
    p1.join_channel(&net.genesis).await.unwrap();
    let p2 = net.peer("Org2MSP", "peer2").await;
    let ops = p1.operations_addr().expect("operations endpoint");

    let client = net.client("Org1MSP");
    let (signed, tx_id) = proposal(&client, &["put", "a", "1"]);
    let envelope = endorse(&client, &signed, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[envelope]).await;
    assert!(committed(&p1, &tx_id).await.code.is_valid());

    let (status, text) = http_get(ops, "/metrics").await;
    assert_eq!(status, 200);
    let value =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(value("cambium_ledger_height{channel=\"mychannel\"}"), 2.0);
    assert_eq!(
        value("cambium_ledger_transactions_total{channel=\"mychannel\",validation_code=\"VALID\"}"),
        1.0
    );
    assert_eq!(
        value("cambium_ledger_block_commit_seconds_count{channel=\"mychannel\"}"),
        1.0
    );
    assert_eq!(
        value("cambium_contract_invocations_total{channel=\"mychannel\",contract=\"kv\",version=\"1.0\"}"),
        1.0
    );
    assert_eq!(
        value("cambium_endorser_proposal_seconds_count{channel=\"mychannel\",contract=\"kv\",status=\"success\"}"),
        1.0
    );

    let (status, body) = http_get(ops, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let components = p1.node().health().components();
    for c in [
        "ledger:mychannel",
        "committer:mychannel",
        "orderer:mychannel",
    ] {
        assert!(components.iter().any(|x| x == c), "{c} in {components:?}");
    }

    p1.shutdown().await;
    p2.shutdown().await;
    net.orderer.stop().await;
}

/// Polls `/healthz` until it answers 503, returning the body.
async fn unhealthy(ops: std::net::SocketAddr) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(ops, "/healthz").await;
        if status == 503 {
            return serde_json::from_str(&body).expect("JSON");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still healthy: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_committer_makes_healthz_503_with_the_reason() {
    let net = Net::new().await;
    // An orderer for the channel that signs blocks with a peer's key: its blocks stall the
    // committer.
    let rogue = start_orderer(
        &net.dev.dir.path().join("rogue"),
        &net.genesis,
        signer(&net.dev, "Org1MSP", Role::Peer),
    )
    .await;
    let mut config = net.peer_config("Org1MSP", "peer1");
    config.orderer.endpoints = vec![rogue.addr.clone()];
    config.limits.reconnect_max_backoff_ms = 200;
    config.operations = Some(cambium_peer::cambium_ops::OpsConfig::new("127.0.0.1:0"));
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();
    let ops = peer.operations_addr().unwrap();

    let client = net.client("Org1MSP");
    let junk = signed_envelope(&client, CHANNEL, HeaderType::EndorserTransaction, b"x").unwrap();
    broadcast(&rogue.addr, &[junk]).await;

    let report = unhealthy(ops).await;
    assert_eq!(report["status"], "Service Unavailable");
    let failed = report["failed_checks"].as_array().unwrap();
    let committer = failed
        .iter()
        .find(|c| c["component"] == "committer:mychannel")
        .unwrap_or_else(|| panic!("the committer check fails: {report}"));
    let reason = committer["reason"].as_str().unwrap();
    assert!(reason.contains("stalled at height 1"), "{reason}");
    assert!(
        reason.contains("/Channel/Orderer/BlockValidation"),
        "{reason}"
    );

    peer.shutdown().await;
    rogue.stop().await;
    net.orderer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_orderers_make_healthz_503() {
    let net = Net::new().await;
    // A port nothing listens on.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let mut config = net.peer_config("Org1MSP", "peer1");
    config.orderer.endpoints = vec![dead_addr.clone()];
    config.limits.reconnect_max_backoff_ms = 200;
    config.operations = Some(cambium_peer::cambium_ops::OpsConfig::new("127.0.0.1:0"));
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();

    let report = unhealthy(peer.operations_addr().unwrap()).await;
    let failed = report["failed_checks"].as_array().unwrap();
    let orderer = failed
        .iter()
        .find(|c| c["component"] == "orderer:mychannel")
        .unwrap_or_else(|| panic!("the orderer check fails: {report}"));
    assert!(
        orderer["reason"].as_str().unwrap().contains(&dead_addr),
        "{report}"
    );
    assert!(
        failed.iter().all(|c| c["component"] != "ledger:mychannel"),
        "the ledger is fine: {report}"
    );

    peer.shutdown().await;
    net.orderer.stop().await;
}
