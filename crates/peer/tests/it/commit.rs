//! Transactions end to end: endorse on two peers, broadcast, commit VALID everywhere; an MVCC
//! conflict; a restarted peer resumes from its data folder and catches up.

use cambium_gateway::PeerContext;
use cambium_ledger::{SnapshotSource, StateReader};
use cambium_primitives::TxValidationCode;
use futures_util::StreamExt;

use crate::support::{broadcast, committed, endorse, proposal, Net, CHANNEL};

fn value(peer: &cambium_peer::PeerHandle, key: &str) -> Option<Vec<u8>> {
    let ledger = peer.node().ledger(CHANNEL).expect("joined");
    ledger
        .snapshot()
        .unwrap()
        .get_state("kv", key)
        .unwrap()
        .map(|v| v.value)
}

fn digest(peer: &cambium_peer::PeerHandle) -> [u8; 32] {
    let ledger = peer.node().ledger(CHANNEL).expect("joined");
    ledger.snapshot().unwrap().state_digest().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_on_every_peer_and_conflicts_are_marked() {
    let net = Net::new().await;
    let p1 = net.peer("Org1MSP", "peer1").await;
    let p2 = net.peer("Org2MSP", "peer2").await;
    let client = net.client("Org1MSP");

    // One put, endorsed by both organisations, VALID on both peers in block 1.
    let (signed, tx_id) = proposal(&client, &["put", "a", "1"]);
    let envelope = endorse(&client, &signed, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[envelope]).await;
    for peer in [&p1, &p2] {
        let done = committed(peer, &tx_id).await;
        assert_eq!(done.code, TxValidationCode::Valid);
        assert_eq!(done.block_number, 1);
        assert_eq!(value(peer, "a").as_deref(), Some(&b"1"[..]));
    }
    // Asking again after the commit answers from the ledger.
    assert_eq!(committed(&p1, &tx_id).await.block_number, 1);

    // Two increments of one counter endorsed against the same state: one wins.
    let (s1, t1) = proposal(&client, &["incr", "c"]);
    let (s2, t2) = proposal(&client, &["incr", "c"]);
    let e1 = endorse(&client, &s1, &[&p1, &p2]).await;
    let e2 = endorse(&client, &s2, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[e1, e2]).await;
    for peer in [&p1, &p2] {
        let mut codes = vec![
            committed(peer, &t1).await.code,
            committed(peer, &t2).await.code,
        ];
        codes.sort_by_key(|c| c.as_u8());
        assert_eq!(
            codes,
            [TxValidationCode::Valid, TxValidationCode::MvccReadConflict]
        );
        assert_eq!(value(peer, "c").as_deref(), Some(&b"1"[..]));
    }
    assert_eq!(digest(&p1), digest(&p2), "both peers hold the same state");

    // The hub streams stored blocks from any height, then live ones.
    let height = p1.node().height(CHANNEL).unwrap();
    assert!(height >= 3, "genesis + at least two blocks, got {height}");
    let mut blocks = p1.node().committed_blocks(CHANNEL, 1).unwrap();
    for expected in 1..height {
        let block = blocks.next().await.unwrap().unwrap();
        assert_eq!(block.number, expected);
    }
    let (s3, t3) = proposal(&client, &["put", "live", "x"]);
    let e3 = endorse(&client, &s3, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[e3]).await;
    let live = tokio::time::timeout(crate::support::COMMIT_WAIT, blocks.next())
        .await
        .expect("the live block arrives")
        .unwrap()
        .unwrap();
    assert_eq!(live.number, height);
    assert_eq!(committed(&p1, &t3).await.block_number, height);

    // What the Gateway reads through PeerContext.
    assert_eq!(p1.node().local_msp_id(), "Org1MSP");
    assert!(p1
        .node()
        .endorsement_policy(CHANNEL, "kv")
        .unwrap()
        .is_some());
    assert!(p1
        .node()
        .endorsement_policy(CHANNEL, "nope")
        .unwrap()
        .is_none());
    assert_eq!(
        p1.node().channel_config(CHANNEL).unwrap().channel_id(),
        CHANNEL
    );
    assert!(matches!(
        p1.node().height("other"),
        Err(cambium_gateway::PeerError::ChannelNotFound(_))
    ));
    // A transaction that never commits keeps its waiter only while someone waits.
    let pending = p1.node().commit_status(CHANNEL, "never");
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), pending)
            .await
            .is_err()
    );

    p1.shutdown().await;
    p2.shutdown().await;
    net.orderer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_resumes_from_its_data_folder_and_catches_up() {
    let net = Net::new().await;
    let p1 = net.peer("Org1MSP", "peer1").await;
    let p2 = net.peer("Org2MSP", "peer2").await;
    let client = net.client("Org1MSP");

    let (s1, t1) = proposal(&client, &["put", "before", "1"]);
    let e1 = endorse(&client, &s1, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[e1]).await;
    assert_eq!(committed(&p1, &t1).await.code, TxValidationCode::Valid);

    // Endorse while both run, then stop peer 1 and order the transaction without it.
    let (s2, t2) = proposal(&client, &["put", "after", "2"]);
    let e2 = endorse(&client, &s2, &[&p1, &p2]).await;
    p1.shutdown().await;
    broadcast(&net.orderer.addr, &[e2]).await;
    assert_eq!(committed(&p2, &t2).await.code, TxValidationCode::Valid);

    // The same data folder: the channel comes back without a join and catches up.
    let p1 = cambium_peer::Peer::start_with(
        net.peer_config("Org1MSP", "peer1"),
        crate::support::plugins(),
    )
    .await
    .expect("peer restarts");
    assert_eq!(p1.node().channel_ids(), [CHANNEL]);
    assert!(matches!(
        p1.join_channel(&net.genesis).await,
        Err(cambium_peer::PeerNodeError::AlreadyJoined(_))
    ));
    let done = committed(&p1, &t2).await;
    assert_eq!(done.code, TxValidationCode::Valid);
    assert_eq!(value(&p1, "after").as_deref(), Some(&b"2"[..]));
    assert_eq!(digest(&p1), digest(&p2));

    p1.shutdown().await;
    p2.shutdown().await;
    net.orderer.stop().await;
}
