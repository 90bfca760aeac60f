//! The peer's Deliver service: seek positions, behaviours and every refusal status, full and
//! filtered blocks, and several requests on one stream.

use std::time::Duration;

use cambium_cryptogen::Role;
use cambium_primitives::{SeekBehavior, SeekInfo, SeekPosition, Timestamp};
use cambium_wire::common::Status;
use cambium_wire::peer::deliver_client::DeliverClient;
use cambium_wire::peer::deliver_response::Type;

use crate::support::{
    blocks, broadcast, committed, connect, deliver, endorse, proposal, seek_envelope, signer,
    timestamp_now, Net, CHANNEL,
};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_follows_fabric_seek_semantics_and_checks() {
    let net = Net::new().await;
    let p1 = net.peer("Org1MSP", "peer1").await;
    let p2 = net.peer("Org2MSP", "peer2").await;
    let reader = net.client("Org2MSP");
    let writer = net.client("Org1MSP");
    let addr = p1.local_addr().to_string();
    let seek = |start, stop| SeekInfo::new(start, stop);
    let ask = |who: &cambium_msp::SigningIdentity, channel: &str, info: SeekInfo| {
        seek_envelope(who, channel, &info, timestamp_now())
    };

    // Wait for the next block with DeliverFiltered before it exists.
    let waiting = {
        let request = ask(
            &reader,
            CHANNEL,
            seek(
                SeekPosition::NextCommit,
                SeekPosition::Specified((1 << 53) - 1),
            ),
        );
        let channel = connect(&addr).await;
        tokio::spawn(async move { deliver(channel, true, request, Duration::from_secs(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (signed, tx_id) = proposal(&writer, &["put", "k", "v"]);
    let envelope = endorse(&writer, &signed, &[&p1, &p2]).await;
    broadcast(&net.orderer.addr, &[envelope]).await;
    committed(&p1, &tx_id).await;
    let filtered = waiting.await.unwrap();
    assert_eq!(
        filtered.numbers,
        [1],
        "the block committed after the request"
    );
    assert_eq!(
        filtered.status, None,
        "the stream stays open for later blocks"
    );
    let Some(Type::FilteredBlock(fb)) = &filtered.messages[0].r#type else {
        panic!("a filtered block: {:?}", filtered.messages[0]);
    };
    assert_eq!(fb.channel_id, CHANNEL);
    assert_eq!(fb.filtered_transactions.len(), 1);
    assert_eq!(fb.filtered_transactions[0].txid, tx_id);
    assert_eq!(fb.filtered_transactions[0].tx_validation_code, 0);

    // Oldest..Newest: every block, then SUCCESS.
    let all = deliver(
        connect(&addr).await,
        false,
        ask(
            &reader,
            CHANNEL,
            seek(SeekPosition::Oldest, SeekPosition::Newest),
        ),
        WAIT,
    )
    .await;
    assert_eq!(all.numbers, [0, 1]);
    assert_eq!(all.status, Some(Status::Success as i32));
    let full = blocks(&all);
    assert_eq!(full[1].previous_hash, full[0].header_hash().to_vec());
    assert_eq!(full[1].transactions_filter(), [0]);

    let check =
        |info: SeekInfo, who: &cambium_msp::SigningIdentity, channel: &str, ts: Timestamp| {
            let request = seek_envelope(who, channel, &info, ts);
            let addr = addr.clone();
            async move { deliver(connect(&addr).await, false, request, WAIT).await }
        };
    let now = timestamp_now();
    // A start beyond the height: NOT_FOUND.
    let d = check(
        seek(SeekPosition::Specified(9), SeekPosition::Specified(9)),
        &reader,
        CHANNEL,
        now,
    )
    .await;
    assert_eq!(
        (d.numbers.len(), d.status),
        (0, Some(Status::NotFound as i32))
    );
    // A stop below the start: BAD_REQUEST.
    let d = check(
        seek(SeekPosition::Specified(1), SeekPosition::Specified(0)),
        &reader,
        CHANNEL,
        now,
    )
    .await;
    assert_eq!(d.status, Some(Status::BadRequest as i32));
    // FAIL_IF_NOT_READY for a block not yet committed: NOT_FOUND after the ready ones.
    let mut info = seek(SeekPosition::Specified(1), SeekPosition::Specified(5));
    info.behavior = SeekBehavior::FailIfNotReady;
    let d = check(info, &reader, CHANNEL, now).await;
    assert_eq!(
        (d.numbers, d.status),
        (vec![1], Some(Status::NotFound as i32))
    );
    // Newest alone.
    let d = check(
        seek(SeekPosition::Newest, SeekPosition::Newest),
        &reader,
        CHANNEL,
        now,
    )
    .await;
    assert_eq!(
        (d.numbers, d.status),
        (vec![1], Some(Status::Success as i32))
    );
    // An unknown channel: NOT_FOUND.
    let d = check(
        seek(SeekPosition::Oldest, SeekPosition::Newest),
        &reader,
        "nochannel",
        now,
    )
    .await;
    assert_eq!(d.status, Some(Status::NotFound as i32));
    // A timestamp 20 minutes old: BAD_REQUEST.
    let old = Timestamp {
        seconds: now.seconds - 20 * 60,
        nanos: 0,
    };
    let d = check(
        seek(SeekPosition::Oldest, SeekPosition::Newest),
        &reader,
        CHANNEL,
        old,
    )
    .await;
    assert_eq!(d.status, Some(Status::BadRequest as i32));
    // An identity outside the channel's application Readers: FORBIDDEN, no blocks.
    let outsider = signer(&net.dev, "OrdererMSP", Role::Orderer);
    let d = check(
        seek(SeekPosition::Oldest, SeekPosition::Newest),
        &outsider,
        CHANNEL,
        now,
    )
    .await;
    assert_eq!(
        (d.numbers.len(), d.status),
        (0, Some(Status::Forbidden as i32))
    );

    // Two requests on one stream: SUCCESS after the first, then the second is served.
    let mut client = DeliverClient::new(connect(&addr).await);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(ask(
        &reader,
        CHANNEL,
        seek(SeekPosition::Oldest, SeekPosition::Oldest),
    ))
    .await
    .unwrap();
    let mut stream = client
        .deliver_with_private_data(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Type::BlockAndPrivateData(b) = next(&mut stream).await else {
        panic!("block 0 with its (empty) private data");
    };
    assert_eq!(b.block.unwrap().header.unwrap().number, 0);
    assert!(b.private_data_map.is_empty());
    assert_eq!(
        next(&mut stream).await,
        Type::Status(Status::Success as i32)
    );
    tx.send(ask(
        &reader,
        CHANNEL,
        seek(SeekPosition::Specified(1), SeekPosition::Specified(1)),
    ))
    .await
    .unwrap();
    let Type::BlockAndPrivateData(b) = next(&mut stream).await else {
        panic!("block 1");
    };
    assert_eq!(b.block.unwrap().header.unwrap().number, 1);
    assert_eq!(
        next(&mut stream).await,
        Type::Status(Status::Success as i32)
    );

    p1.shutdown().await;
    p2.shutdown().await;
    net.orderer.stop().await;
}

async fn next(stream: &mut tonic::Streaming<cambium_wire::peer::DeliverResponse>) -> Type {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("an answer in time")
        .expect("stream ok")
        .expect("the stream stays open")
        .r#type
        .expect("a message type")
}
