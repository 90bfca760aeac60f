//! CommitStatus: waiting for the commit, validation codes, the Readers ACL, and the
//! concurrency limit.

use std::time::Duration;

use cambium_gateway::GatewayOptions;
use cambium_wire::gateway::{
    EndorseRequest, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use tonic::Code;

use crate::support::{commit_status_request, material, proposal, Net, NetOptions, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_status_waits_and_reports_codes() {
    let net = Net::start().await;
    let mut client = net.client.clone();
    let m = material();

    // Two increments of one counter endorsed on the same state: exactly one is valid.
    let mut prepared = Vec::new();
    for _ in 0..2 {
        let (tx_id, signed) = proposal("kv", &["incr", "counter"]);
        let mut envelope = client
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
        envelope.signature = m.org1_client.sign(&envelope.payload).unwrap();
        prepared.push((tx_id, envelope));
    }
    // The status calls start before anything is submitted, and wait for the commits.
    let waiters: Vec<_> = prepared
        .iter()
        .map(|(tx_id, _)| {
            let mut client = client.clone();
            let request = commit_status_request(&m.org1_client, CHANNEL, tx_id);
            tokio::spawn(async move { client.commit_status(request).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        waiters.iter().all(|w| !w.is_finished()),
        "CommitStatus waits for the commit"
    );
    for (tx_id, envelope) in &prepared {
        client
            .submit(SubmitRequest {
                transaction_id: tx_id.clone(),
                channel_id: CHANNEL.into(),
                prepared_transaction: Some(envelope.clone()),
            })
            .await
            .unwrap();
    }
    let mut codes = Vec::new();
    for waiter in waiters {
        let status = waiter.await.unwrap().unwrap().into_inner();
        assert!(status.block_number >= 1 && status.block_number < net.height());
        codes.push(status.result);
    }
    codes.sort_unstable();
    assert_eq!(codes, [0, 11], "one VALID, one MVCC_READ_CONFLICT");

    // Asked again after the commit: answered at once.
    let status = client
        .commit_status(commit_status_request(
            &m.org1_client,
            CHANNEL,
            &prepared[0].0,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(status.result == 0 || status.result == 11);

    // Not a channel reader (the orderer org), or a signature by someone else: PermissionDenied.
    let err = client
        .commit_status(commit_status_request(&m.orderer, CHANNEL, &prepared[0].0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("/Channel/Application/Readers"),
        "{err:?}"
    );
    let mut forged = commit_status_request(&m.org1_client, CHANNEL, &prepared[0].0);
    forged.signature = m.org2_client.sign(&forged.request).unwrap();
    let err = client.commit_status(forged).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Unknown channel, malformed request.
    let err = client
        .commit_status(commit_status_request(&m.org1_client, "nochannel", "tx"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .commit_status(SignedCommitStatusRequest {
            request: vec![0xff, 0xff],
            signature: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_call_beyond_the_limit_fails_at_once() {
    let net = Net::start_with(NetOptions {
        gateway: GatewayOptions {
            concurrency_limit: 1,
            local_address: "127.0.0.1:1".into(),
            ..GatewayOptions::default()
        },
        ..NetOptions::default()
    })
    .await;
    let mut client = net.client.clone();
    // A CommitStatus for a transaction that never commits holds the only slot.
    let waiting = {
        let mut client = client.clone();
        let request = commit_status_request(&material().org1_client, CHANNEL, "never-committed");
        tokio::spawn(async move { client.commit_status(request).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, signed) = proposal("basic", &["AssetExists", "a"]);
    let evaluate = EvaluateRequest {
        transaction_id: String::new(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed),
        target_organizations: Vec::new(),
    };
    let err = client.evaluate(evaluate.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    assert_eq!(
        err.message(),
        "too many requests for /gateway.Gateway/Evaluate, exceeding concurrency limit (1)"
    );
    // When the waiting call goes away, its slot is free again.
    waiting.abort();
    let mut freed = false;
    for _ in 0..100 {
        if client.evaluate(evaluate.clone()).await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the slot is released when the client cancels");
}
