//! The Gateway service mounted on the peer's server: Evaluate through the local endorser and
//! CommitStatus through the peer's commit hub, over gRPC.

use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::{CommitStatusRequest, EvaluateRequest, SignedCommitStatusRequest};
use cambium_wire::peer::SignedProposal;
use cambium_wire::tx::parse_signed_proposal;
use cambium_wire::{encode_serialized_identity, Message};

use crate::support::{broadcast, committed, connect, endorse, proposal, Net, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_evaluates_and_reports_commit_status() {
    let net = Net::new().await;
    let p1 = net.peer("Org1MSP", "peer1").await;
    let p2 = net.peer("Org2MSP", "peer2").await;
    let client = net.client("Org1MSP");

    let (signed, tx_id) = proposal(&client, &["put", "g", "42"]);
    let envelope = endorse(&client, &signed, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[envelope]).await;
    committed(&p1, &tx_id).await;

    let mut gateway = GatewayClient::new(connect(&p1.local_addr().to_string()).await);

    let (query, query_id) = proposal(&client, &["get", "g"]);
    let view = parse_signed_proposal(&query).unwrap();
    let evaluated = gateway
        .evaluate(EvaluateRequest {
            transaction_id: query_id,
            channel_id: CHANNEL.to_owned(),
            proposed_transaction: Some(SignedProposal {
                proposal_bytes: view.proposal_bytes,
                signature: view.signature,
            }),
            target_organizations: Vec::new(),
        })
        .await
        .expect("Evaluate answers")
        .into_inner();
    assert_eq!(evaluated.result.expect("a result").payload, b"42");

    let request = CommitStatusRequest {
        transaction_id: tx_id,
        channel_id: CHANNEL.to_owned(),
        identity: encode_serialized_identity(&client.serialized()),
    }
    .encode_to_vec();
    let signature = client.sign(&request).unwrap();
    let status = gateway
        .commit_status(SignedCommitStatusRequest { request, signature })
        .await
        .expect("CommitStatus answers")
        .into_inner();
    assert_eq!(status.result, 0, "VALID");
    assert_eq!(status.block_number, 1);

    // A call the Gateway refuses is counted with its code.
    let refused = gateway
        .evaluate(EvaluateRequest {
            transaction_id: "t".to_owned(),
            channel_id: CHANNEL.to_owned(),
            proposed_transaction: None,
            target_organizations: Vec::new(),
        })
        .await
        .unwrap_err();
    let code = format!("{:?}", refused.code());

    // The peer counts Gateway calls by method and gRPC code.
    let metrics = p1.node().metrics().encode();
    for line in [
        "cambium_gateway_requests_total{method=\"Evaluate\",code=\"OK\"} 1",
        "cambium_gateway_requests_total{method=\"CommitStatus\",code=\"OK\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.lines().any(|l| l
            .starts_with("cambium_gateway_requests_total{method=\"Evaluate\",code=\"")
            && !l.contains("\"OK\"")
            && l.ends_with(" 1")),
        "the refused Evaluate ({code}) in\n{metrics}"
    );

    p1.shutdown().await;
    p2.shutdown().await;
    net.orderer.stop().await;
}
