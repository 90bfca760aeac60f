//! ChaincodeEvents: start positions, resuming after a transaction, ACL and errors.

use std::time::Duration;

use cambium_msp::SigningIdentity;
use cambium_wire::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, SignedChaincodeEventsRequest,
};
use cambium_wire::orderer::seek_position::Type as Seek;
use cambium_wire::orderer::{SeekNextCommit, SeekOldest, SeekPosition, SeekSpecified};
use cambium_wire::{encode_serialized_identity, Message};
use tonic::{Code, Streaming};

use crate::support::{material, submit_committed, Net, CHANNEL};

fn events_request(
    signer: &SigningIdentity,
    channel: &str,
    start: Option<Seek>,
    after: &str,
) -> SignedChaincodeEventsRequest {
    let request = ChaincodeEventsRequest {
        channel_id: channel.into(),
        chaincode_id: "basic".into(),
        identity: encode_serialized_identity(&signer.serialized()),
        start_position: start.map(|t| SeekPosition { r#type: Some(t) }),
        after_transaction_id: after.into(),
    }
    .encode_to_vec();
    SignedChaincodeEventsRequest {
        signature: signer.sign(&request).unwrap(),
        request,
    }
}

async fn next(stream: &mut Streaming<ChaincodeEventsResponse>) -> ChaincodeEventsResponse {
    tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("an event in time")
        .expect("the stream is healthy")
        .expect("the stream goes on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaincode_events_from_each_start() {
    let net = Net::start().await;
    let mut client = net.client.clone();
    let m = material();

    // Listening from the next commit, before anything is submitted.
    let mut live = client
        .chaincode_events(events_request(
            &m.org1_client,
            CHANNEL,
            Some(Seek::NextCommit(SeekNextCommit {})),
            "",
        ))
        .await
        .unwrap()
        .into_inner();

    submit_committed(
        &mut client,
        "basic",
        &["CreateAsset", "a1", "blue", "5", "Tom", "100"],
    )
    .await;
    let first = submit_committed(&mut client, "basic", &["TransferAsset", "a1", "Ann"]).await;
    let second = submit_committed(&mut client, "basic", &["TransferAsset", "a1", "Bob"]).await;

    // CreateAsset sets no event: only the transfers arrive, in order, with payloads.
    let mut seen = Vec::new();
    let mut first_block = None;
    while seen.len() < 2 {
        let response = next(&mut live).await;
        for event in response.events {
            assert_eq!(event.chaincode_id, "basic");
            assert_eq!(event.event_name, "TransferAsset");
            assert!(!event.payload.is_empty());
            if event.tx_id == first {
                first_block = Some(response.block_number);
            }
            seen.push(event.tx_id);
        }
    }
    assert_eq!(seen, [first.clone(), second.clone()]);
    let first_block = first_block.unwrap();

    // Resuming after the first transfer, from its block: only the second.
    let mut resumed = client
        .chaincode_events(events_request(
            &m.org1_client,
            CHANNEL,
            Some(Seek::Specified(SeekSpecified {
                number: first_block,
            })),
            &first,
        ))
        .await
        .unwrap()
        .into_inner();
    let response = next(&mut resumed).await;
    let ids: Vec<&str> = response.events.iter().map(|e| e.tx_id.as_str()).collect();
    assert_eq!(ids, [second.as_str()]);

    // From a block number without a transaction: both again.
    let mut replay = client
        .chaincode_events(events_request(
            &m.org1_client,
            CHANNEL,
            Some(Seek::Specified(SeekSpecified { number: 0 })),
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    let mut replayed = Vec::new();
    while replayed.len() < 2 {
        replayed.extend(next(&mut replay).await.events.into_iter().map(|e| e.tx_id));
    }
    assert_eq!(replayed, [first.clone(), second]);

    // Refusals.
    let err = client
        .chaincode_events(events_request(
            &m.org1_client,
            CHANNEL,
            Some(Seek::Oldest(SeekOldest {})),
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = client
        .chaincode_events(events_request(&m.org1_client, "nochannel", None, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .chaincode_events(events_request(&m.orderer, CHANNEL, None, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let mut forged = events_request(&m.org1_client, CHANNEL, None, "");
    forged.signature = m.org2_client.sign(&forged.request).unwrap();
    let err = client.chaincode_events(forged).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}
