//! Submit: ordering through the pooled Broadcast streams, refusals and orderer failover.

use cambium_wire::common::Envelope;
use cambium_wire::gateway::{EndorseRequest, SubmitRequest};
use cambium_wire::status::gateway_error_details;
use tonic::Code;

use crate::support::{
    commit_status_request, dead_address, material, proposal, submit, with_endpoints, Net,
    NetOptions, CHANNEL,
};

async fn prepared(net: &Net, args: &[&str]) -> (String, Envelope) {
    let (tx_id, signed) = proposal("kv", args);
    let envelope = net
        .client
        .clone()
        .endorse(EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: CHANNEL.into(),
            proposed_transaction: Some(signed),
            endorsing_organizations: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .prepared_transaction
        .unwrap();
    (tx_id, envelope)
}

fn submit_request(tx_id: &str, envelope: Envelope) -> SubmitRequest {
    SubmitRequest {
        transaction_id: tx_id.into(),
        channel_id: CHANNEL.into(),
        prepared_transaction: Some(envelope),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_orders_and_refuses() {
    let net = Net::start().await;
    let mut client = net.client.clone();

    // Unsigned and missing envelopes never reach the orderer.
    let (tx_id, envelope) = prepared(&net, &["put", "a", "1"]).await;
    let err = client
        .submit(submit_request(&tx_id, envelope.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "prepared transaction must be signed");
    let err = client.submit(SubmitRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Signed by someone other than the creator: the orderer refuses, the gateway says Aborted
    // with the orderer's status and info.
    let mut forged = envelope.clone();
    forged.signature = material().org2_client.sign(&forged.payload).unwrap();
    let err = client
        .submit(submit_request(&tx_id, forged))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(
        err.message()
            .starts_with("received unsuccessful response from orderer: status="),
        "{err:?}"
    );
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].address, net.orderer_addr);
    assert_eq!(details[0].msp_id, "OrdererMSP");

    // Properly signed: accepted and committed VALID.
    let mut signed = envelope;
    signed.signature = material().org1_client.sign(&signed.payload).unwrap();
    client.submit(submit_request(&tx_id, signed)).await.unwrap();
    let status = client
        .commit_status(commit_status_request(
            &material().org1_client,
            CHANNEL,
            &tx_id,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.result, 0);
    assert!(status.block_number >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_share_a_few_streams() {
    let net = Net::start().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let mut client = net.client.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("key{i}");
            submit(&mut client, "kv", &["put", &key, "v"]).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    let streams = net.gateway.open_broadcast_streams(&net.orderer_addr).await;
    assert!(
        (1..=4).contains(&streams),
        "64 submitters used {streams} Broadcast streams"
    );
    let mut client = net.client.clone();
    for tx_id in ids {
        let status = client
            .commit_status(commit_status_request(
                &material().org1_client,
                CHANNEL,
                &tx_id,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.result, 0, "{tx_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderer_failover() {
    let dead = dead_address().await;
    let net = Net::start_with(NetOptions {
        extra_orderers_first: vec![dead.clone()],
        ..NetOptions::default()
    })
    .await;
    let mut client = net.client.clone();
    // Submissions rotate over the orderers, so some start at the dead one and fail over.
    for i in 0..4 {
        let key = format!("f{i}");
        let tx_id = submit(&mut client, "kv", &["put", &key, "v"]).await;
        let status = client
            .commit_status(commit_status_request(
                &material().org1_client,
                CHANNEL,
                &tx_id,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.result, 0);
    }

    // Every orderer unreachable: Unavailable with one detail per orderer.
    let (tx_id, mut envelope) = prepared(&net, &["put", "z", "1"]).await;
    envelope.signature = material().org1_client.sign(&envelope.payload).unwrap();
    let other_dead = dead_address().await;
    net.set_config(with_endpoints(
        &material().config,
        "127.0.0.1:1",
        std::slice::from_ref(&net.org2_addr),
        &[dead.clone(), other_dead.clone()],
    ));
    let err = client
        .submit(submit_request(&tx_id, envelope))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(
        err.message(),
        "no orderers could be reached, see attached details for more info"
    );
    let details = gateway_error_details(&err).unwrap();
    let mut addresses: Vec<&str> = details.iter().map(|d| d.address.as_str()).collect();
    addresses.sort_unstable();
    let mut expected = vec![dead.as_str(), other_dead.as_str()];
    expected.sort_unstable();
    assert_eq!(addresses, expected, "{details:?}");
    assert!(details
        .iter()
        .all(|d| d.msp_id == "OrdererMSP" && !d.message.is_empty()));
}
