//! Per-version endorsement metrics on the peer's real `/metrics`: proposals that the
//! contract answers, that it refuses with an error status and that fail in the VM, sent on
//! the Endorser service and through the Gateway's local endorser, are counted under kv 1.0
//! with their result, and their simulation times in the histogram.

use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::EvaluateRequest;
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::SignedProposal;
use cambium_wire::tx::parse_signed_proposal;

use crate::support::{connect, http_get, plugins, proposal, Net, CHANNEL};

/// The value of the sample named exactly `series` in an exposition, 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn endorsements(text: &str, result: &str) -> f64 {
    value(
        text,
        &format!("cambium_contract_endorsements_total{{channel=\"{CHANNEL}\",contract=\"kv\",version=\"1.0\",result=\"{result}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorsements_are_counted_per_version_and_result_on_metrics() {
    let net = Net::new().await;
    let mut config = net.peer_config("Org1MSP", "peer1");
    config.operations = Some(cambium_peer::cambium_ops::OpsConfig::new("127.0.0.1:0"));
    let peer = cambium_peer::Peer::start_with(config, plugins())
        .await
        .unwrap();
    peer.join_channel(&net.genesis).await.unwrap();
    let ops = peer.operations_addr().expect("operations endpoint");
    let client = net.client("Org1MSP");

    let long_key = "k".repeat(cambium_vm::limits::MAX_KEY_BYTES + 1);
    let calls: Vec<(Vec<&str>, i32)> = vec![
        (vec!["put", "a", "1"], 200),
        (vec!["put", "b", "2"], 200),
        (vec!["incr", "c"], 200),
        (vec!["get", "missing"], 404),
        (vec!["put_many", "p", "100000", "v"], 400),
        (vec!["put", &long_key, "v"], 500),
        (vec!["put", &long_key, "w"], 500),
    ];
    let mut rpc = EndorserClient::new(connect(&peer.local_addr().to_string()).await);
    for (args, status) in &calls {
        let (signed, _) = proposal(&client, args);
        let view = parse_signed_proposal(&signed).unwrap();
        let response = rpc
            .process_proposal(SignedProposal {
                proposal_bytes: view.proposal_bytes,
                signature: view.signature,
            })
            .await
            .expect("ProcessProposal answers")
            .into_inner();
        let answer = response.response.expect("a response");
        assert_eq!(answer.status, *status, "{args:?}: {}", answer.message);
    }
    // Through the Gateway: the peer's own endorser is called directly, not over gRPC.
    let mut gateway = GatewayClient::new(connect(&peer.local_addr().to_string()).await);
    for (args, ok) in [(["incr", "x"], true), (["get", "nothing"], false)] {
        let (signed, tx_id) = proposal(&client, &args);
        let view = parse_signed_proposal(&signed).unwrap();
        let evaluated = gateway
            .evaluate(EvaluateRequest {
                transaction_id: tx_id,
                channel_id: CHANNEL.to_owned(),
                proposed_transaction: Some(SignedProposal {
                    proposal_bytes: view.proposal_bytes,
                    signature: view.signature,
                }),
                target_organizations: Vec::new(),
            })
            .await;
        assert_eq!(evaluated.is_ok(), ok, "{args:?}: {evaluated:?}");
    }

    let (status, text) = http_get(ops, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(endorsements(&text, "ok"), 4.0, "{text}");
    assert_eq!(endorsements(&text, "contract_error"), 3.0, "{text}");
    assert_eq!(endorsements(&text, "failed"), 2.0, "{text}");
    assert_eq!(
        value(
            &text,
            &format!("cambium_contract_endorsement_duration_seconds_count{{channel=\"{CHANNEL}\",contract=\"kv\",version=\"1.0\"}}")
        ),
        9.0,
        "{text}"
    );
    let sum = value(
        &text,
        &format!("cambium_contract_endorsement_duration_seconds_sum{{channel=\"{CHANNEL}\",contract=\"kv\",version=\"1.0\"}}"),
    );
    assert!(sum > 0.0 && sum < 60.0, "simulation time {sum}");
    peer.shutdown().await;
    net.orderer.stop().await;
}
