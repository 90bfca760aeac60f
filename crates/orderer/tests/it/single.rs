//! One orderer: Broadcast, Deliver, signatures and every refusal.

use std::time::Duration;

use cambium_orderer::block_signatures;
use cambium_primitives::SeekPosition;
use cambium_wire::common::Status;

use crate::net::{
    broadcast, deliver, listeners, start, start_configured, tx, tx_id, TestNet, CHANNEL,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_orderer_orders_signs_and_refuses() {
    let net = TestNet::new();
    let (listener, addr) = listeners(1).await.pop().unwrap();
    let settings = net.settings(std::slice::from_ref(&addr), Duration::from_millis(20));
    let node = start(&net, 0, listener, &addr, settings).await;
    let user = net.org1_user();

    // 25 envelopes with MaxMessageCount 10: blocks of 10, 10 and 5 (the last cut by timeout).
    let envelopes: Vec<Vec<u8>> = (0..25).map(|_| tx(&user, CHANNEL, 1024)).collect();
    let ids: Vec<String> = envelopes.iter().map(|e| tx_id(e)).collect();
    let replies = broadcast(&node.addr, envelopes).await.unwrap();
    assert_eq!(replies.len(), 25);
    for r in &replies {
        assert_eq!(r.status, Status::Success as i32, "{}", r.info);
    }

    let (blocks, status) = deliver(
        &node.addr,
        &user,
        CHANNEL,
        SeekPosition::Oldest,
        SeekPosition::Newest,
    )
    .await;
    assert_eq!(status, Status::Success as i32);
    assert_eq!(blocks[0].number, 0);
    let delivered: Vec<String> = blocks[1..]
        .iter()
        .flat_map(|b| b.data.iter().map(|e| tx_id(e)))
        .collect();
    assert_eq!(delivered, ids, "every envelope once, in broadcast order");
    assert!(blocks[1..].iter().all(|b| b.data.len() <= 10));
    for pair in blocks.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].header_hash().to_vec());
        assert_eq!(pair[1].number, pair[0].number + 1);
    }
    // Each block carries the orderer's signature over value ‖ signature header ‖ header bytes.
    for b in &blocks[1..] {
        let sigs = block_signatures(b).unwrap();
        assert_eq!(sigs.last_config, 0);
        assert_eq!(sigs.signed.len(), 1);
        assert_eq!(sigs.signed[0].identity.msp_id, "OrdererMSP");
        let id = net.msps.validate(&sigs.signed[0].identity, 0).ok();
        let cert = net
            .msps
            .deserialize_identity(&sigs.signed[0].identity)
            .unwrap();
        cert.verify(&sigs.signed[0].data, &sigs.signed[0].signature)
            .unwrap();
        assert!(id.is_some() || cert.subject().contains("orderer0"));
        let mut tampered = sigs.signed[0].data.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cert.verify(&tampered, &sigs.signed[0].signature).is_err());
    }

    // Refusals, each with Fabric's status and a message that says what to do.
    let outsider = net.org2_user();
    let r = broadcast(&node.addr, vec![tx(&outsider, CHANNEL, 100)])
        .await
        .unwrap();
    assert_eq!(r[0].status, Status::Forbidden as i32);
    assert!(r[0].info.contains("Writers"), "{}", r[0].info);

    let r = broadcast(&node.addr, vec![tx(&user, CHANNEL, 70 * 1024)])
        .await
        .unwrap();
    assert_eq!(r[0].status, Status::BadRequest as i32);
    assert!(r[0].info.contains("AbsoluteMaxBytes"), "{}", r[0].info);
    assert!(
        r[0].info
            .contains("cambium channel update --absolute-max-bytes"),
        "the refusal says how to raise the limit: {}",
        r[0].info
    );

    let r = broadcast(&node.addr, vec![tx(&user, "nochannel", 100)])
        .await
        .unwrap();
    assert_eq!(r[0].status, Status::NotFound as i32);
    assert!(r[0].info.contains("nochannel"), "{}", r[0].info);

    let mut forged = tx(&user, CHANNEL, 100);
    let n = forged.len();
    forged[n - 10] ^= 0x55; // inside the signature
    let r = broadcast(&node.addr, vec![forged]).await.unwrap();
    assert_ne!(
        r[0].status,
        Status::Success as i32,
        "a forged signature is refused"
    );

    let (blocks, status) = deliver(
        &node.addr,
        &outsider,
        CHANNEL,
        SeekPosition::Oldest,
        SeekPosition::Newest,
    )
    .await;
    assert!(blocks.is_empty());
    assert_eq!(status, Status::Forbidden as i32);
    let (_, status) = deliver(
        &node.addr,
        &user,
        "nochannel",
        SeekPosition::Oldest,
        SeekPosition::Newest,
    )
    .await;
    assert_eq!(status, Status::NotFound as i32);
    let (_, status) = deliver(
        &node.addr,
        &user,
        CHANNEL,
        SeekPosition::Specified(99),
        SeekPosition::Specified(99),
    )
    .await;
    assert_eq!(status, Status::NotFound as i32);

    // A Deliver that waits for the next block receives it once it is cut.
    let height = node.node.channel(CHANNEL).unwrap().height;
    let waiter = {
        let addr = node.addr.clone();
        let user = net.org1_user();
        tokio::spawn(async move {
            deliver(
                &addr,
                &user,
                CHANNEL,
                SeekPosition::NextCommit,
                SeekPosition::Specified(height),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = broadcast(&node.addr, vec![tx(&user, CHANNEL, 10)])
        .await
        .unwrap();
    assert_eq!(r[0].status, Status::Success as i32);
    let (blocks, status) = waiter.await.unwrap();
    assert_eq!(status, Status::Success as i32);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].number, height);

    node.server.stop().await;
    node.node.shutdown().await;
}

/// The blocks after genesis, as a member of Org1 reads them.
async fn ordered_blocks(net: &TestNet, addr: &str) -> Vec<cambium_ledger::Block> {
    let (blocks, status) = deliver(
        addr,
        &net.org1_user(),
        CHANNEL,
        SeekPosition::Oldest,
        SeekPosition::Newest,
    )
    .await;
    assert_eq!(status, Status::Success as i32);
    blocks.into_iter().skip(1).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_orderer_cuts_at_once_unless_told_to_wait_for_the_batch() {
    // BatchTimeout of an hour: whatever is ordered within the test was cut for another reason.
    let hour = Duration::from_secs(3600);

    // Default: nothing is in flight, so a lone envelope is cut into a block at once.
    let net = TestNet::new();
    let (listener, addr) = listeners(1).await.pop().unwrap();
    let settings = net.settings(std::slice::from_ref(&addr), hour);
    let node = start_configured(&net, 0, listener, &addr, settings, None, true).await;
    let envelope = tx(&net.org1_user(), CHANNEL, 100);
    let id = tx_id(&envelope);
    let replies = tokio::time::timeout(
        Duration::from_secs(60),
        broadcast(&node.addr, vec![envelope]),
    )
    .await
    .expect("an idle orderer held a lone envelope for BatchTimeout")
    .unwrap();
    assert_eq!(
        replies[0].status,
        Status::Success as i32,
        "{}",
        replies[0].info
    );
    // Two more back to back on one stream: the second arrives within a few milliseconds of
    // the block before it, and is cut once that block is IDLE_CUT_GAP old, not after the hour.
    let pair: Vec<Vec<u8>> = (0..2).map(|_| tx(&net.org1_user(), CHANNEL, 100)).collect();
    let replies = tokio::time::timeout(Duration::from_secs(60), broadcast(&node.addr, pair))
        .await
        .expect("an idle orderer held an envelope for BatchTimeout after cutting a block")
        .unwrap();
    assert!(replies.iter().all(|r| r.status == Status::Success as i32));
    let blocks = ordered_blocks(&net, &node.addr).await;
    assert_eq!(blocks.iter().map(|b| b.data.len()).sum::<usize>(), 3);
    assert_eq!(blocks[0].data.len(), 1);
    assert_eq!(
        blocks[0].data.iter().map(|e| tx_id(e)).collect::<Vec<_>>(),
        [id]
    );

    // `cutWhenIdle: false`: Fabric's rules alone. Ten envelopes (MaxMessageCount) make one
    // block, cut by count; the first is not cut alone although the orderer was idle.
    let net = TestNet::new();
    let (listener, addr) = listeners(1).await.pop().unwrap();
    let settings = net.settings(std::slice::from_ref(&addr), hour);
    let node = start_configured(&net, 0, listener, &addr, settings, None, false).await;
    let user = net.org1_user();
    let envelopes: Vec<Vec<u8>> = (0..10).map(|_| tx(&user, CHANNEL, 100)).collect();
    let replies = tokio::time::timeout(Duration::from_secs(60), broadcast(&node.addr, envelopes))
        .await
        .expect("ten envelopes fill a block")
        .unwrap();
    assert!(replies.iter().all(|r| r.status == Status::Success as i32));
    let blocks = ordered_blocks(&net, &node.addr).await;
    assert_eq!(
        blocks.iter().map(|b| b.data.len()).collect::<Vec<_>>(),
        [10]
    );
}
