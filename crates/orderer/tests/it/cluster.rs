//! Three orderers in process: replication, forwarding, leader failover and catch-up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cambium_primitives::SeekPosition;
use cambium_wire::common::Status;

use crate::net::{broadcast, deliver, listeners, start, tx, tx_id, Running, TestNet, CHANNEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orderers_survive_leader_failover() {
    let net = Arc::new(TestNet::new());
    let bound = listeners(3).await;
    let addrs: Vec<String> = bound.iter().map(|(_, a)| a.clone()).collect();
    let settings = net.settings(&addrs, Duration::from_millis(10));
    let mut nodes: Vec<Option<Running>> = Vec::new();
    for (i, (listener, addr)) in bound.into_iter().enumerate() {
        nodes.push(Some(
            start(&net, i, listener, &addr, settings.clone()).await,
        ));
    }
    let leader = wait_leader(&nodes, Duration::from_secs(5))
        .await
        .expect("a leader is elected");
    let follower = (leader + 1) % 3;

    // A follower forwards to the leader; SUCCESS means committed.
    let user = net.org1_user();
    let r = broadcast(&addrs[follower], vec![tx(&user, CHANNEL, 1024)])
        .await
        .unwrap();
    assert_eq!(r[0].status, Status::Success as i32, "{}", r[0].info);

    // A steady stream of broadcasts, round-robin over the nodes, recording SUCCESS tx IDs.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let first_success_after: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut load = Vec::new();
    for w in 0..3usize {
        let (acked, stop, addrs, net) = (acked.clone(), stop.clone(), addrs.clone(), net.clone());
        let successes = first_success_after.clone();
        load.push(tokio::spawn(async move {
            let user = net.org1_user();
            let mut i = w;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let env = tx(&user, CHANNEL, 512);
                let id = tx_id(&env);
                if let Ok(r) = broadcast(&addrs[i % 3], vec![env]).await {
                    if r.first()
                        .is_some_and(|r| r.status == Status::Success as i32)
                    {
                        acked.lock().unwrap().push(id);
                        successes.lock().unwrap().push(Instant::now());
                    }
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Kill the leader.
    let killed = nodes[leader].take().unwrap();
    let killed_at = Instant::now();
    killed.server.stop().await;
    killed.node.shutdown().await;
    drop(killed.node);
    let new_leader = wait_leader(&nodes, Duration::from_secs(5))
        .await
        .expect("a new leader is elected");
    assert_ne!(new_leader, leader);
    // A new leader serves within 2 s: some broadcast succeeds after the kill within that time.
    let deadline = killed_at + Duration::from_secs(2);
    loop {
        let served = first_success_after
            .lock()
            .unwrap()
            .iter()
            .any(|t| *t > killed_at && *t <= deadline);
        if served {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_millis(100),
            "no broadcast succeeded within 2 s of the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }

    // Every SUCCESS is in exactly one block on every surviving node, nothing twice.
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "the load made progress: {}", acked.len());
    let survivors: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    // Followers learn the commit index with the next heartbeat: wait until both agree.
    let converge = Instant::now() + Duration::from_secs(5);
    loop {
        let heights: Vec<u64> = survivors
            .iter()
            .map(|&i| {
                nodes[i]
                    .as_ref()
                    .unwrap()
                    .node
                    .channel(CHANNEL)
                    .unwrap()
                    .height
            })
            .collect();
        if heights[0] == heights[1] {
            break;
        }
        assert!(
            Instant::now() < converge,
            "survivors did not converge: {heights:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut chains = Vec::new();
    for &i in &survivors {
        let n = nodes[i].as_ref().unwrap();
        let (blocks, status) = deliver(
            &n.addr,
            &user,
            CHANNEL,
            SeekPosition::Oldest,
            SeekPosition::Newest,
        )
        .await;
        assert_eq!(status, Status::Success as i32);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for b in &blocks[1..] {
            for e in &b.data {
                *counts.entry(tx_id(e)).or_default() += 1;
            }
        }
        assert!(
            counts.values().all(|c| *c == 1),
            "an envelope appears twice on node {i}"
        );
        for id in &acked {
            assert_eq!(
                counts.get(id),
                Some(&1),
                "acknowledged {id} missing on node {i}"
            );
        }
        chains.push(n.node.block_hashes(CHANNEL, 0).unwrap());
    }
    assert_eq!(chains[0], chains[1], "survivors agree on block hashes");

    // The killed node restarts on its data and catches up to the same chain.
    let listener = tokio::net::TcpListener::bind(&addrs[leader]).await.unwrap();
    let restarted = start(&net, leader, listener, &addrs[leader], settings.clone()).await;
    let target = nodes[survivors[0]]
        .as_ref()
        .unwrap()
        .node
        .block_hashes(CHANNEL, 0)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mine = restarted.node.block_hashes(CHANNEL, 0).unwrap();
        if mine.len() >= target.len() {
            assert_eq!(
                mine[..target.len()],
                target[..],
                "the restarted node has the same chain"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarted node stuck at height {}",
            mine.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    restarted.server.stop().await;
    restarted.node.shutdown().await;
    for n in nodes.into_iter().flatten() {
        n.server.stop().await;
        n.node.shutdown().await;
    }
}

/// Waits until every running node names the same leader, which reports itself leader, twice
/// in a row a few heartbeats apart (so a leader deposed right after the first election on a
/// busy machine is not picked); returns its index.
pub(crate) async fn wait_leader(nodes: &[Option<Running>], within: Duration) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + within;
    let mut previous = None;
    while tokio::time::Instant::now() < deadline {
        let agreed = agreed_leader(nodes);
        if agreed.is_some() && agreed == previous {
            return agreed;
        }
        previous = agreed;
        tokio::time::sleep(Duration::from_millis(if agreed.is_some() {
            300
        } else {
            20
        }))
        .await;
    }
    None
}

/// The index of the node every running node names as leader, if they agree and it does too.
fn agreed_leader(nodes: &[Option<Running>]) -> Option<usize> {
    let infos: Vec<(usize, cambium_orderer::ChannelInfo)> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.as_ref().map(|n| (i, n.node.channel(CHANNEL).unwrap())))
        .collect();
    let leader = infos.first()?.1.leader?;
    if infos.iter().any(|(_, info)| info.leader != Some(leader)) {
        return None;
    }
    infos
        .iter()
        .find(|(_, info)| info.consenter_id == leader)
        .map(|(i, _)| *i)
}
