//! A valid CONFIG transaction changes the channel configuration from the next block on:
//! here Org2's `Readers` narrows to its admins, so an Org2 client loses Deliver access, and a
//! restarted peer comes back with the updated configuration.
//!
//! The blocks come from a small scripted orderer (the in-process orderer does not order
//! config updates yet), signed with the real orderer identity.

use std::time::Duration;

use cambium_channel::ChannelConfig;
use cambium_cryptogen::Role;
use cambium_gateway::PeerContext;
use cambium_ledger::Block;
use cambium_msp::policy::parse;
use cambium_peer::Peer;
use cambium_primitives::{HeaderType, Policy, SeekInfo, SeekPosition};
use cambium_wire::common::{self, Status};
use cambium_wire::orderer::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use cambium_wire::orderer::{deliver_response, BroadcastResponse, DeliverResponse};
use cambium_wire::tx::{
    envelope_bytes, payload_bytes, signature_header_bytes, ChannelHeaderFields,
};
use cambium_wire::{encode_serialized_identity, Message};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::support::{
    connect, deliver, plugins, seek_envelope, signer, timestamp_now, Net, CHANNEL,
};

/// Serves the blocks it is given over Deliver, from the requested start.
#[derive(Clone)]
struct ScriptedOrderer {
    blocks: watch::Receiver<Vec<Vec<u8>>>,
}

#[tonic::async_trait]
impl AtomicBroadcast for ScriptedOrderer {
    type BroadcastStream = ReceiverStream<Result<BroadcastResponse, tonic::Status>>;
    type DeliverStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;

    async fn broadcast(
        &self,
        _request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        Err(tonic::Status::unimplemented(
            "this test orderer only delivers",
        ))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let first = incoming.next().await.expect("a request").expect("readable");
        let view = cambium_wire::tx::parse_envelope(&first.encode_to_vec()).unwrap();
        let seek = cambium_wire::decode_seek_info(&view.data).unwrap();
        let SeekPosition::Specified(mut next) = seek.start else {
            panic!("the committer seeks a block number: {seek:?}");
        };
        let mut blocks = self.blocks.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let block = blocks.borrow_and_update().get(next as usize).cloned();
                match block {
                    Some(bytes) => {
                        let block = common::Block::decode(bytes.as_slice()).unwrap();
                        let message = DeliverResponse {
                            r#type: Some(deliver_response::Type::Block(block)),
                        };
                        if tx.send(Ok(message)).await.is_err() {
                            return;
                        }
                        next += 1;
                    }
                    None => {
                        if blocks.changed().await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
}

/// A CONFIG envelope carrying `config`, signed by `signer`.
fn config_envelope(config: &ChannelConfig, signer: &cambium_msp::SigningIdentity) -> Vec<u8> {
    let creator = encode_serialized_identity(&signer.serialized());
    let nonce = vec![5u8; 24];
    let header = ChannelHeaderFields {
        header_type: HeaderType::Config.as_i32(),
        version: 1,
        timestamp: Some(timestamp_now()),
        channel_id: CHANNEL.to_owned(),
        tx_id: cambium_wire::tx::compute_tx_id(&nonce, &creator),
        ..Default::default()
    }
    .encode();
    let data = cambium_wire::config::encode_config_envelope(&config.config_envelope());
    let payload = payload_bytes(&header, &signature_header_bytes(&creator, &nonce), &data);
    envelope_bytes(&payload, &signer.sign(&payload).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_block_changes_deliver_access_from_the_next_block() {
    let net = Net::new().await;
    let orderer_signer = signer(&net.dev, "OrdererMSP", Role::Orderer);
    let genesis = Block::decode(&net.genesis).unwrap();
    let (blocks_tx, blocks_rx) = watch::channel(vec![net.genesis.clone()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scripted = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AtomicBroadcastServer::new(ScriptedOrderer {
                blocks: blocks_rx,
            }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let mut config = net.peer_config("Org1MSP", "peer1");
    config.orderer.endpoints = vec![scripted];
    let peer = Peer::start_with(config.clone(), plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();
    let addr = peer.local_addr().to_string();
    let org1 = net.client("Org1MSP");
    let org2 = net.client("Org2MSP");
    let read = |who: &cambium_msp::SigningIdentity, addr: &str| {
        let request = seek_envelope(
            who,
            CHANNEL,
            &SeekInfo::new(SeekPosition::Oldest, SeekPosition::Oldest),
            timestamp_now(),
        );
        let addr = addr.to_owned();
        async move {
            deliver(
                connect(&addr).await,
                false,
                request,
                Duration::from_secs(10),
            )
            .await
            .status
        }
    };
    assert_eq!(read(&org2, &addr).await, Some(Status::Success as i32));

    // Block 1: Org2's Readers becomes its admins only.
    let mut spec = net.dev.channel.to_spec().unwrap();
    let org2_spec = spec
        .application
        .organizations
        .values_mut()
        .find(|o| o.msp_id() == "Org2MSP")
        .expect("Org2 is in the channel");
    org2_spec.policies.insert(
        "Readers".to_owned(),
        Policy::Signature(parse("OR('Org2MSP.admin')").unwrap()),
    );
    let built = ChannelConfig::from_spec(&spec).unwrap();
    let updated = ChannelConfig::new(CHANNEL, 1, built.channel_group().clone()).unwrap();
    let mut block = Block::new(
        1,
        genesis.header_hash().to_vec(),
        vec![config_envelope(&updated, &org1)],
    );
    cambium_orderer::sign_block(&mut block, 1, &orderer_signer).unwrap();
    blocks_tx.send_modify(|b| b.push(block.encode()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while peer.node().height(CHANNEL).unwrap() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "block 1 not committed: {:?}",
            peer.node().committer_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(peer.node().channel_config(CHANNEL).unwrap().sequence(), 1);
    assert_eq!(read(&org2, &addr).await, Some(Status::Forbidden as i32));
    assert_eq!(read(&org1, &addr).await, Some(Status::Success as i32));
    peer.shutdown().await;

    // A restart takes the configuration from the last config block, not the genesis block.
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    let addr = peer.local_addr().to_string();
    assert_eq!(peer.node().channel_config(CHANNEL).unwrap().sequence(), 1);
    assert_eq!(read(&org2, &addr).await, Some(Status::Forbidden as i32));
    peer.shutdown().await;
    net.orderer.stop().await;
}
