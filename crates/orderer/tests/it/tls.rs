//! Orderers over TLS: three in-process orderers with mutual TLS between them, clients with
//! server-only TLS, and Raft RPCs from certificates outside the orderer organisations refused.

use std::time::Duration;

use cambium_orderer::client::{broadcast_tls, deliver_tls};
use cambium_orderer::cluster::{self, ClusterReply, ClusterRequest, RaftRpc};
use cambium_orderer::ChannelSettings;
use cambium_primitives::SeekPosition;
use cambium_tls::{client_tls_config, ClientTlsConfig, TlsIdentity};
use cambium_wire::common::Status;
use openraft::raft::VoteRequest;
use openraft::Vote;

use crate::cluster::wait_leader;
use crate::net::{listeners, metric, start_with_tls, tx, Running, TestNet, CHANNEL};

async fn tls_cluster(net: &TestNet) -> (Vec<Option<Running>>, Vec<String>) {
    let bound = listeners(3).await;
    let addrs: Vec<String> = bound.iter().map(|(_, a)| a.clone()).collect();
    let settings = tls_settings(net, &addrs);
    let mut nodes = Vec::new();
    for (i, (listener, addr)) in bound.into_iter().enumerate() {
        let tls = Some(net.node_tls(i));
        nodes.push(Some(
            start_with_tls(net, i, listener, &addr, settings.clone(), tls).await,
        ));
    }
    (nodes, addrs)
}

/// The channel settings of [`tls_cluster`].
fn tls_settings(net: &TestNet, addrs: &[String]) -> ChannelSettings {
    let mut settings = net.settings(addrs, Duration::from_millis(10));
    settings.orderer_tls_roots = net.orderer_tls_roots();
    settings
}

/// Waits (at most 5 s) until every running orderer holds the same chain of at least
/// `min_height` blocks; returns its block hashes.
async fn wait_same_chain(nodes: &[Option<Running>], min_height: usize) -> Vec<[u8; 32]> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let chains: Vec<_> = nodes
            .iter()
            .flatten()
            .map(|n| n.node.block_hashes(CHANNEL, 0).unwrap())
            .collect();
        if chains.iter().all(|c| *c == chains[0]) && chains[0].len() >= min_height {
            return chains[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orderers disagree: {:?}",
            chains.iter().map(Vec::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Server-only TLS trusting the orderer organisation's TLS CA, as a client application uses.
fn client_tls(net: &TestNet) -> ClientTlsConfig {
    client_tls_config(&net.orderer_tls_roots(), None, None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orderers_over_mutual_tls_order_and_agree() {
    let net = TestNet::new();
    let (nodes, addrs) = tls_cluster(&net).await;
    let leader = wait_leader(&nodes, Duration::from_secs(5))
        .await
        .expect("a leader is elected over mutual TLS");
    let follower = (leader + 1) % 3;
    let tls = client_tls(&net);
    let user = net.org1_user();

    // Through the leader, and through a follower that forwards over mutual TLS.
    for addr in [&addrs[leader], &addrs[follower]] {
        let envelopes: Vec<Vec<u8>> = (0..5).map(|_| tx(&user, CHANNEL, 256)).collect();
        let replies = broadcast_tls(addr, Some(&tls), &envelopes).await.unwrap();
        assert_eq!(replies.len(), 5);
        for (status, info) in replies {
            assert_eq!(status, Status::Success as i32, "{info}");
        }
    }

    // Deliver over TLS sees the ten transactions (the leader acknowledges after applying).
    let (blocks, status) = deliver_tls(
        &addrs[leader],
        Some(&tls),
        &user,
        CHANNEL,
        SeekPosition::Oldest,
        SeekPosition::Newest,
    )
    .await
    .unwrap();
    assert_eq!(status, Status::Success as i32);
    let txs: usize = blocks.iter().skip(1).map(|b| b.data.len()).sum();
    assert_eq!(txs, 10);

    // Every orderer holds the same chain.
    let chain = wait_same_chain(&nodes, blocks.len()).await;
    assert_eq!(chain.len(), blocks.len());

    // A plaintext client cannot use the TLS listener.
    assert!(
        cambium_orderer::client::broadcast(&addrs[leader], &[tx(&user, CHANNEL, 16)])
            .await
            .is_err()
    );

    for n in nodes.into_iter().flatten() {
        n.server.stop().await;
        n.node.shutdown().await;
    }
}

/// Sends `rpc` on the cluster transport presenting `identity`.
async fn send_as(
    net: &TestNet,
    addr: &str,
    identity: Option<&TlsIdentity>,
    rpc: RaftRpc,
) -> Result<ClusterReply, String> {
    let tls = client_tls_config(&net.orderer_tls_roots(), identity, None).unwrap();
    let channel = cambium_tls::endpoint(addr, Some(&tls))
        .unwrap()
        .connect()
        .await
        .map_err(|e| format!("handshake: {e:?}"))?;
    let request = ClusterRequest {
        channel: CHANNEL.into(),
        rpc,
    };
    cluster::send(channel, addr, &request, Duration::from_secs(5)).await
}

/// Sends a harmless Vote (term 0, never granted) presenting `identity`.
async fn vote_as(
    net: &TestNet,
    addr: &str,
    identity: Option<&TlsIdentity>,
) -> Result<ClusterReply, String> {
    let rpc = RaftRpc::Vote(VoteRequest::new(Vote::new(0, 99), None));
    send_as(net, addr, identity, rpc).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_rpcs_from_outside_the_orderer_organisations_are_refused() {
    let net = TestNet::new();
    let (nodes, addrs) = tls_cluster(&net).await;
    wait_leader(&nodes, Duration::from_secs(5))
        .await
        .expect("a leader is elected");
    let target = &addrs[0];

    // Another orderer of the channel's orderer organisation is heard.
    let orderer = net.node_tls_identity("OrdererMSP", 1);
    let reply = vote_as(&net, target, Some(&orderer)).await.unwrap();
    assert!(matches!(reply, ClusterReply::Vote(_)), "{reply:?}");

    // A peer's certificate passes the handshake (Org1's TLS CA is trusted for clients) but
    // is not from an orderer organisation: refused.
    let peer = net.node_tls_identity("Org1MSP", 0);
    let err = vote_as(&net, target, Some(&peer)).await.unwrap_err();
    assert!(err.contains("not issued by a trusted CA"), "{err}");
    assert!(err.contains("orderer organisations"), "{err}");

    // No client certificate at all: refused.
    let err = vote_as(&net, target, None).await.unwrap_err();
    assert!(err.contains("no TLS client certificate"), "{err}");

    // Pulling blocks (how a node catches up from a snapshot) is for the channel's orderers
    // only: the peer's certificate gets no block, another orderer's gets the chain.
    let pull = || RaftRpc::Blocks { from: 0, to: 10 };
    let err = send_as(&net, target, Some(&peer), pull())
        .await
        .unwrap_err();
    assert!(err.contains("orderer organisations"), "{err}");
    match send_as(&net, target, Some(&orderer), pull()).await.unwrap() {
        ClusterReply::Blocks(blocks) => assert_eq!(blocks.len(), 1, "the genesis block"),
        other => panic!("expected blocks, got {other:?}"),
    }

    // A certificate from an unrelated network's orderer CA fails the handshake (with TLS 1.3
    // the client learns it on its first call), before any Raft code sees the request.
    let foreign = TestNet::new();
    let intruder = foreign.node_tls_identity("OrdererMSP", 1);
    let err = vote_as(&net, target, Some(&intruder)).await.unwrap_err();
    assert!(!err.contains("refused for channel"), "{err}");

    for n in nodes.into_iter().flatten() {
        n.server.stop().await;
        n.node.shutdown().await;
    }
}

/// The value of `name{channel="..."}` in `node`'s metrics.
fn raft_metric(node: &cambium_orderer::OrdererNode, name: &str) -> u64 {
    let body = node.metrics().encode();
    metric(&body, &format!("{name}{{channel=\"{CHANNEL}\"}}")).unwrap_or(0.0) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_purged_log_catches_up_from_a_snapshot_over_mutual_tls() {
    let net = TestNet::new();
    let bound = listeners(3).await;
    let addrs: Vec<String> = bound.iter().map(|(_, a)| a.clone()).collect();
    let mut settings = tls_settings(&net, &addrs);
    // A snapshot every few blocks, so the log the stopped follower needs is purged soon.
    settings.snapshot_interval_bytes = 16 * 1024;
    let mut nodes = Vec::new();
    for (i, (listener, addr)) in bound.into_iter().enumerate() {
        let tls = Some(net.node_tls(i));
        nodes.push(Some(
            start_with_tls(&net, i, listener, &addr, settings.clone(), tls).await,
        ));
    }
    let leader = wait_leader(&nodes, Duration::from_secs(5))
        .await
        .expect("a leader is elected");
    let follower = (leader + 1) % 3;
    let tls = client_tls(&net);
    let user = std::sync::Arc::new(net.org1_user());
    let submit = |addr: String, count: usize| {
        let (tls, user) = (tls.clone(), user.clone());
        async move {
            let envelopes: Vec<Vec<u8>> = (0..count).map(|_| tx(&user, CHANNEL, 512)).collect();
            for (status, info) in broadcast_tls(&addr, Some(&tls), &envelopes).await.unwrap() {
                assert_eq!(status, Status::Success as i32, "{info}");
            }
        }
    };
    submit(addrs[leader].clone(), 10).await;

    // The follower stops; the others go on long enough to purge what it would need.
    let stopped = nodes[follower].take().unwrap();
    let behind_at = raft_metric(
        &nodes[leader].as_ref().unwrap().node,
        "cambium_raft_commit_index",
    );
    stopped.server.stop().await;
    stopped.node.shutdown().await;
    drop(stopped.node);
    let leader_node = nodes[leader].as_ref().unwrap().node.clone();
    for _ in 0..60 {
        submit(addrs[leader].clone(), 10).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while raft_metric(&leader_node, "cambium_raft_purged_index") <= behind_at {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leader never purged its log past index {behind_at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Back, it cannot catch up from the log: it installs the snapshot and pulls the blocks
    // below it from the others, over mutual TLS, then follows the log again.
    let listener = tokio::net::TcpListener::bind(&addrs[follower])
        .await
        .unwrap();
    let restarted = start_with_tls(
        &net,
        follower,
        listener,
        &addrs[follower],
        settings.clone(),
        Some(net.node_tls(follower)),
    )
    .await;
    let target = leader_node.block_hashes(CHANNEL, 0).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mine = restarted.node.block_hashes(CHANNEL, 0).unwrap();
        if mine.len() >= target.len() {
            assert_eq!(mine[..target.len()], target[..], "the same chain");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted follower is stuck at height {} of {}",
            mine.len(),
            target.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let installed = raft_metric(&restarted.node, "cambium_raft_snapshot_index");
        if installed > behind_at {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the follower caught up without a snapshot: its snapshot is at {installed}, it had stopped at {behind_at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // And it takes part again: a broadcast through it commits everywhere.
    submit(addrs[follower].clone(), 5).await;
    nodes[follower] = Some(restarted);
    wait_same_chain(&nodes, target.len() + 1).await;
    for n in nodes.into_iter().flatten() {
        n.server.stop().await;
        n.node.shutdown().await;
    }
}
