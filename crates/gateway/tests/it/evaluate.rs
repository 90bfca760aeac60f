//! Evaluate: local and remote evaluation, Fabric's error codes and details.

use cambium_wire::gateway::EvaluateRequest;
use cambium_wire::status::gateway_error_details;
use tonic::Code;

use crate::support::{material, proposal, proposal_on, submit, Net, CHANNEL};

fn request(signed: cambium_wire::peer::SignedProposal, orgs: &[&str]) -> EvaluateRequest {
    EvaluateRequest {
        transaction_id: String::new(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed),
        target_organizations: orgs.iter().map(|o| (*o).to_owned()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_results_and_errors() {
    let mut net = Net::start().await;
    let mut client = net.client.clone();

    // A write through submit, then reads on the local peer and on Org2's peer.
    let tx = submit(&mut client, "kv", &["put", "colour", "blue"]).await;
    let status = client
        .commit_status(crate::support::commit_status_request(
            &material().org1_client,
            CHANNEL,
            &tx,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.result, 0);
    for orgs in [&[][..], &["Org2MSP"][..]] {
        let (_, signed) = proposal("kv", &["get", "colour"]);
        let result = client
            .evaluate(request(signed, orgs))
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        assert_eq!(result.status, 200);
        assert_eq!(result.payload, b"blue", "evaluated on {orgs:?}");
    }

    // The contract's error: Unknown, with the chaincode response as the detail.
    let (_, signed) = proposal("kv", &["get", "missing"]);
    let err = client.evaluate(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    assert_eq!(
        err.message(),
        "evaluate call to endorser returned error: chaincode response 404, key 'missing' does not exist"
    );
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].msp_id, "Org1MSP");
    assert_eq!(details[0].address, "127.0.0.1:1");
    assert_eq!(
        details[0].message,
        "chaincode response 404, key 'missing' does not exist"
    );

    // A proposal the endorser refuses in its pre-checks: FailedPrecondition, not retried.
    let (_, mut signed) = proposal("kv", &["get", "colour"]);
    let last = signed.signature.len() - 3;
    signed.signature[last] ^= 0x40;
    let err = client.evaluate(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1);
    assert!(
        details[0].message.starts_with("error validating proposal"),
        "{details:?}"
    );

    // Malformed requests.
    let err = client
        .evaluate(EvaluateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let (_, signed) = proposal_on(
        &material().org1_client,
        "nochannel",
        "kv",
        &["get", "k"],
        &[],
    );
    let err = client.evaluate(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("nochannel"), "{err:?}");

    // Org2's peer down: evaluating there fails with Aborted and the peer's detail.
    net.stop_org2().await;
    let (_, signed) = proposal("kv", &["get", "colour"]);
    let err = client
        .evaluate(request(signed, &["Org2MSP"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(
        err.message(),
        "failed to evaluate transaction, see attached details for more info"
    );
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].address, net.org2_addr);
    assert_eq!(details[0].msp_id, "Org2MSP");
    assert!(!details[0].message.is_empty());
}
