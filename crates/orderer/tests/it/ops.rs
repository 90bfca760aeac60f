//! The orderer's operations endpoint (/healthz, /metrics, /version) and stopping a node so
//! that its data folder reopens at once in the same runtime.

use std::sync::Arc;
use std::time::Duration;

use cambium_orderer::{NodeConfig, OrdererNode};
use cambium_primitives::{HeaderType, SeekInfo, SeekPosition};
use cambium_wire::common::{self, Status};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::deliver_response;
use cambium_wire::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{broadcast, envelope, listeners, metric, start, tx, TestNet, CHANNEL};

/// A plain HTTP/1.1 GET; returns the status code and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn serve_ops(node: &OrdererNode) -> cambium_orderer::cambium_ops::OpsServer {
    let ops = Arc::new(cambium_orderer::config::operations(node, None));
    cambium_orderer::cambium_ops::serve(
        &cambium_orderer::cambium_ops::OpsConfig::new("127.0.0.1:0"),
        ops,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_broadcasts_and_follow_raft_and_height() {
    let net = TestNet::new();
    let (listener, addr) = listeners(1).await.pop().unwrap();
    let settings = net.settings(std::slice::from_ref(&addr), Duration::from_millis(20));
    let node = start(&net, 0, listener, &addr, settings).await;
    let ops = serve_ops(&node.node).await;
    let user = net.org1_user();

    let mut envelopes: Vec<Vec<u8>> = (0..3).map(|_| tx(&user, CHANNEL, 100)).collect();
    envelopes.push(tx(&user, "nosuchchannel", 100));
    // Org2's user is not in Writers.
    envelopes.push(tx(&net.org2_user(), CHANNEL, 100));
    let replies = broadcast(&node.addr, envelopes).await.unwrap();
    let statuses: Vec<i32> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Success as i32,
            Status::Success as i32,
            Status::Success as i32,
            Status::NotFound as i32,
            Status::Forbidden as i32
        ]
    );

    let (code, body) = get(ops.local_addr(), "/metrics").await;
    assert_eq!(code, 200);
    let broadcast = |channel: &str, status: &str| {
        metric(
            &body,
            &format!("cambium_broadcast_processed_total{{channel=\"{channel}\",type=\"ENDORSER_TRANSACTION\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(broadcast(CHANNEL, "SUCCESS"), Some(3.0), "{body}");
    assert_eq!(broadcast(CHANNEL, "FORBIDDEN"), Some(1.0), "{body}");
    assert_eq!(broadcast("nosuchchannel", "NOT_FOUND"), Some(1.0), "{body}");
    let channel = |name: &str| metric(&body, &format!("{name}{{channel=\"{CHANNEL}\"}}"));
    let info = node.node.channel(CHANNEL).unwrap();
    assert_eq!(channel("cambium_ledger_height"), Some(info.height as f64));
    assert!(info.height >= 2, "the 3 envelopes are in a block");
    assert_eq!(channel("cambium_raft_is_leader"), Some(1.0));
    assert_eq!(channel("cambium_raft_leader_id"), Some(1.0));
    assert!(channel("cambium_raft_term").unwrap() >= 1.0);
    // The applied index follows the block's apply (membership, blank entry, then the block).
    let mut body = body;
    for _ in 0..100 {
        if metric(
            &body,
            &format!("cambium_raft_commit_index{{channel=\"{CHANNEL}\"}}"),
        ) >= Some(2.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        body = get(ops.local_addr(), "/metrics").await.1;
    }
    assert!(
        metric(
            &body,
            &format!("cambium_raft_commit_index{{channel=\"{CHANNEL}\"}}")
        ) >= Some(2.0),
        "{body}"
    );

    let (code, body) = get(ops.local_addr(), "/healthz").await;
    assert_eq!((code, body.contains("\"OK\"")), (200, true), "{body}");
    let (code, body) = get(ops.local_addr(), "/version").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"Version\""), "{body}");

    ops.shutdown().await;
    node.server.stop().await;
    node.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_naming_the_channel_without_a_raft_leader() {
    let net = TestNet::new();
    // Two consenters, only the first runs: no majority, so no leader.
    let mut ls = listeners(2).await;
    let addrs: Vec<String> = ls.iter().map(|(_, a)| a.clone()).collect();
    let (listener, addr) = ls.remove(0);
    let settings = net.settings(&addrs, Duration::from_millis(20));
    let node = start(&net, 0, listener, &addr, settings).await;
    let ops = serve_ops(&node.node).await;
    // Past the first election timeout, the node still has no leader.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (code, body) = get(ops.local_addr(), "/healthz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"component\":\"raft\""), "{body}");
    assert!(
        body.contains(&format!("channel '{CHANNEL}' has no Raft leader")),
        "{body}"
    );
    assert!(!body.contains("\"component\":\"store\""), "{body}");
    let (_, metrics) = get(ops.local_addr(), "/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            &format!("cambium_raft_leader_id{{channel=\"{CHANNEL}\"}}")
        ),
        Some(0.0)
    );
    ops.shutdown().await;
    node.server.stop().await;
    node.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_deliver_streams_and_the_node_reopens_in_the_same_runtime() {
    let net = TestNet::new();
    let (listener, addr) = listeners(1).await.pop().unwrap();
    let settings = net.settings(std::slice::from_ref(&addr), Duration::from_millis(20));
    let first = start(&net, 0, listener, &addr, settings.clone()).await;
    let user = net.org1_user();

    // A Deliver stream waiting for blocks that do not exist yet.
    let seek = cambium_wire::encode_seek_info(&SeekInfo::new(
        SeekPosition::Specified(1),
        SeekPosition::Specified(u64::MAX),
    ));
    let request = envelope(&user, CHANNEL, HeaderType::DeliverSeekInfo, seek);
    let mut client = AtomicBroadcastClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut stream = client
        .deliver(tokio_stream::iter([common::Envelope::decode(
            request.as_slice(),
        )
        .unwrap()]))
        .await
        .unwrap()
        .into_inner();
    // The stream is open and waiting.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.message())
            .await
            .is_err()
    );

    // Stopping the node (before its listener) ends the waiting stream.
    first.node.shutdown().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the Deliver stream ends when the node stops");
    if let Ok(Some(msg)) = ended {
        assert_eq!(
            msg.r#type,
            Some(deliver_response::Type::Status(
                Status::ServiceUnavailable as i32
            ))
        );
    }
    first.server.stop().await;

    // The same data folder opens at once, in the same runtime, and orders again.
    let (listener, addr) = {
        let l = tokio::net::TcpListener::bind(&addr).await.unwrap();
        (l, addr)
    };
    let node = OrdererNode::new(
        NodeConfig {
            data_dir: net.data_dir(0),
            advertised_address: addr.clone(),
            cut_when_idle: true,
        },
        net.orderer_identity(0),
    );
    let server = node.serve(listener).unwrap();
    node.join_channel(&net.genesis(), settings)
        .await
        .expect("the stores of the stopped node are closed");
    let replies = broadcast(&addr, vec![tx(&user, CHANNEL, 100)])
        .await
        .unwrap();
    assert_eq!(
        replies[0].status,
        Status::Success as i32,
        "{}",
        replies[0].info
    );
    server.stop().await;
    node.shutdown().await;
}
