//! Joining a channel without a running peer (`cambium peer channel join`): the ledger holds
//! block 0, and the started peer catches up from the orderer.

use cambium_gateway::PeerContext;
use cambium_orderer::client::{signed_envelope, HeaderType};
use cambium_peer::{join_offline, Peer, PeerNodeError};

use crate::support::{broadcast, committed, plugins, Net, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_join_catches_up_once_the_peer_starts() {
    let net = Net::new().await;
    let client = net.client("Org1MSP");
    let envelope =
        signed_envelope(&client, CHANNEL, HeaderType::EndorserTransaction, b"early").unwrap();
    let tx_id = cambium_wire::tx::parse_envelope(&envelope)
        .unwrap()
        .channel_header
        .tx_id;
    broadcast(&net.orderer.addr, &[envelope]).await;

    let config = net.peer_config("Org1MSP", "peer1");
    assert_eq!(join_offline(&config, &net.genesis).unwrap(), CHANNEL);
    assert!(matches!(
        join_offline(&config, &net.genesis),
        Err(PeerNodeError::AlreadyJoined(_))
    ));
    let not_genesis = net.orderer.node.block(CHANNEL, 1).unwrap().unwrap();
    let err = join_offline(&config, &not_genesis).unwrap_err().to_string();
    assert!(err.contains("genesis"), "{err}");

    let peer = Peer::start_with(config, plugins()).await.unwrap();
    assert_eq!(peer.node().channel_ids(), [CHANNEL]);
    assert_eq!(committed(&peer, &tx_id).await.block_number, 1);
    assert!(peer.node().height(CHANNEL).unwrap() >= 2);
    peer.shutdown().await;
    net.orderer.stop().await;
}
