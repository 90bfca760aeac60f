//! A block whose orderer signature does not satisfy `/Channel/Orderer/BlockValidation` is not
//! committed: the committer stalls at the last good block, says why, and moves on when
//! another orderer delivers a properly signed block.

use std::time::Duration;

use cambium_cryptogen::Role;
use cambium_gateway::PeerContext;
use cambium_orderer::client::{signed_envelope, HeaderType};
use cambium_peer::{CommitterState, Peer};

use crate::support::{broadcast, committed, plugins, signer, start_orderer, Net, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_signed_by_a_non_orderer_is_not_committed() {
    let net = Net::new().await;
    // A rogue orderer for the same channel that signs blocks with a peer's key.
    let rogue = start_orderer(
        &net.dev.dir.path().join("rogue"),
        &net.genesis,
        signer(&net.dev, "Org1MSP", Role::Peer),
    )
    .await;
    let mut config = net.peer_config("Org1MSP", "peer1");
    config.orderer.endpoints = vec![rogue.addr.clone(), net.orderer.addr.clone()];
    config.limits.reconnect_max_backoff_ms = 200;
    let peer = Peer::start_with(config, plugins()).await.unwrap();
    peer.join_channel(&net.genesis).await.unwrap();

    let client = net.client("Org1MSP");
    let junk = |tag: &[u8]| {
        signed_envelope(&client, CHANNEL, HeaderType::EndorserTransaction, tag).unwrap()
    };
    broadcast(&rogue.addr, &[junk(b"from the rogue")]).await;

    // The committer refuses block 1 from the rogue and reports why.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let reason = loop {
        let status = peer.node().committer_status();
        if let CommitterState::Stalled { reason } = &status[0].state {
            break reason.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stalled: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        reason.contains("/Channel/Orderer/BlockValidation"),
        "{reason}"
    );
    assert_eq!(
        peer.node().height(CHANNEL).unwrap(),
        1,
        "only the genesis block"
    );

    // The real orderer's block 1 passes; the rogue's never lands.
    let real = junk(b"from the real orderer");
    let tx_id = cambium_wire::tx::parse_envelope(&real)
        .unwrap()
        .channel_header
        .tx_id;
    broadcast(&net.orderer.addr, &[real]).await;
    let done = committed(&peer, &tx_id).await;
    assert_eq!(done.block_number, 1);
    assert!(
        !done.code.is_valid(),
        "junk data is not a valid transaction"
    );
    let stored = peer.node().ledger(CHANNEL).unwrap();
    let snapshot = cambium_ledger::SnapshotSource::snapshot(stored.as_ref()).unwrap();
    let block = cambium_ledger::BlockReader::block(&snapshot, 1)
        .unwrap()
        .unwrap();
    let expected = net.orderer.node.block(CHANNEL, 1).unwrap().unwrap();
    let expected = cambium_ledger::Block::decode(&expected).unwrap();
    assert_eq!(
        block.hash,
        expected.header_hash(),
        "the real orderer's block"
    );

    peer.shutdown().await;
    rogue.stop().await;
    net.orderer.stop().await;
}
