//! The peer's server with TLS on, using the generated TLS certificates: server-only TLS as
//! Caliper connects, mutual TLS when client certificates are required, and a committer
//! that keeps committing while TLS is on.

use std::time::Duration;

use cambium_cryptogen::Role;
use cambium_orderer::client::{signed_envelope, HeaderType};
use cambium_peer::Peer;
use cambium_primitives::{SeekInfo, SeekPosition};
use cambium_wire::common::Status;

use crate::support::{
    broadcast, committed, connect_tls, deliver, identity_files, plugins, seek_envelope,
    timestamp_now, Net, CHANNEL,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_over_tls_and_mutual_tls() {
    let net = Net::new().await;
    let node = identity_files(&net.dev, "Org1MSP", Role::Peer).clone();
    let user = identity_files(&net.dev, "Org1MSP", Role::Client).clone();
    let org1_tls_ca = net.dev.crypto.org("Org1MSP").unwrap().tls_ca.cert.clone();

    let mut config = net.peer_config("Org1MSP", "peer-tls");
    config.tls.enabled = true;
    config.tls.cert = Some(node.tls_cert.clone());
    config.tls.key = Some(node.tls_key.clone());
    config.tls.client_root_cas = vec![org1_tls_ca.clone()];
    // The in-process test orderer serves plain gRPC.
    config.orderer.tls = Some(false);
    let peer = Peer::start_with(config.clone(), plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();
    let addr = peer.local_addr().to_string();

    // The committer works with TLS on.
    let client = net.client("Org1MSP");
    let junk = signed_envelope(&client, CHANNEL, HeaderType::EndorserTransaction, b"x").unwrap();
    let tx_id = cambium_wire::tx::parse_envelope(&junk)
        .unwrap()
        .channel_header
        .tx_id;
    broadcast(&net.orderer.addr, &[junk]).await;
    assert_eq!(committed(&peer, &tx_id).await.block_number, 1);

    let request = || {
        seek_envelope(
            &client,
            CHANNEL,
            &SeekInfo::new(SeekPosition::Oldest, SeekPosition::Newest),
            timestamp_now(),
        )
    };
    let wait = Duration::from_secs(10);
    // Server-only TLS, trusting the org's TLS CA.
    let channel = connect_tls(&addr, &org1_tls_ca, None)
        .await
        .expect("TLS handshake");
    let d = deliver(channel, false, request(), wait).await;
    assert_eq!(
        (d.numbers, d.status),
        (vec![0, 1], Some(Status::Success as i32))
    );
    // Plain gRPC to a TLS port fails.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut client = cambium_wire::peer::deliver_client::DeliverClient::new(channel);
        let answer = tokio::time::timeout(wait, client.deliver(tokio_stream::iter([request()])))
            .await
            .expect("fails in time");
        assert!(
            answer.is_err(),
            "plain HTTP/2 must not reach a TLS listener"
        );
    }
    peer.shutdown().await;

    // Mutual TLS required: the restarted peer refuses a client without a certificate.
    config.tls.client_auth_required = true;
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    let addr = peer.local_addr().to_string();
    let refused = match connect_tls(&addr, &org1_tls_ca, None).await {
        Err(_) => true,
        Ok(channel) => {
            let mut client = cambium_wire::peer::deliver_client::DeliverClient::new(channel);
            tokio::time::timeout(wait, client.deliver(tokio_stream::iter([request()])))
                .await
                .expect("answers in time")
                .is_err()
        }
    };
    assert!(refused, "a client without a certificate is refused");
    let channel = connect_tls(&addr, &org1_tls_ca, Some(&user))
        .await
        .expect("mutual TLS handshake");
    let d = deliver(channel, false, request(), wait).await;
    assert_eq!(
        (d.numbers, d.status),
        (vec![0, 1], Some(Status::Success as i32))
    );

    peer.shutdown().await;
    net.orderer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committer_pulls_from_a_mutual_tls_orderer_trusting_the_channel_tls_cas() {
    let net = Net::new().await;
    let crypto = &net.dev.crypto;
    let orderer_node = identity_files(&net.dev, "OrdererMSP", Role::Orderer).clone();
    let orderer_tls_ca = crypto.org("OrdererMSP").unwrap().tls_ca.cert.clone();
    let org1_tls_ca = crypto.org("Org1MSP").unwrap().tls_ca.cert.clone();
    let tls = cambium_orderer::NodeTls {
        identity: cambium_tls::TlsIdentity::load(&orderer_node.tls_cert, &orderer_node.tls_key)
            .unwrap(),
        client_roots: cambium_tls::TlsRoots::load(&[org1_tls_ca.clone(), orderer_tls_ca.clone()])
            .unwrap(),
        client_auth_required: true,
    };
    let orderer = crate::support::start_orderer_with_tls(
        &net.dev.dir.path().join("tls-orderer"),
        &net.genesis,
        crate::support::signer(&net.dev, "OrdererMSP", Role::Orderer),
        Some(tls),
    )
    .await;

    // TLS on; the orderer's TLS CA comes from the channel configuration (no tlsRootCas).
    let node = identity_files(&net.dev, "Org1MSP", Role::Peer).clone();
    let mut config = net.peer_config("Org1MSP", "peer-mtls");
    config.orderer.endpoints = vec![orderer.addr.clone()];
    config.tls.enabled = true;
    config.tls.cert = Some(node.tls_cert.clone());
    config.tls.key = Some(node.tls_key.clone());
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();

    let user = identity_files(&net.dev, "Org1MSP", Role::Client).clone();
    let client_tls = cambium_orderer::client::tls_config(
        &[orderer_tls_ca],
        Some((&user.tls_cert, &user.tls_key)),
    )
    .unwrap();
    let client = net.client("Org1MSP");
    let junk = signed_envelope(&client, CHANNEL, HeaderType::EndorserTransaction, b"y").unwrap();
    let tx_id = cambium_wire::tx::parse_envelope(&junk)
        .unwrap()
        .channel_header
        .tx_id;
    let replies = cambium_orderer::client::broadcast_tls(&orderer.addr, Some(&client_tls), &[junk])
        .await
        .unwrap();
    assert_eq!(replies[0].0, 200, "{}", replies[0].1);
    assert_eq!(committed(&peer, &tx_id).await.block_number, 1);

    peer.shutdown().await;
    orderer.stop().await;
    net.orderer.stop().await;
}
