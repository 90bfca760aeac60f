//! Channel config updates through Broadcast: a config block of its own, the new settings in
//! force from the next block on every node, the admin and staleness checks, and restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_channel::{compute_update, sign_update, ChannelConfig, ConfigGroup, Value};
use cambium_ledger::Block;
use cambium_msp::{load_signing_identity, SigningIdentity};
use cambium_orderer::update::config_update_envelope;
use cambium_orderer::{block_signatures, ChannelSettings, NodeConfig, OrdererNode};
use cambium_primitives::{HeaderType, Timestamp};
use cambium_testing::DevNetwork;
use cambium_wire::common::Status;
use cambium_wire::config_update::ConfigUpdateEnvelope;
use tokio::net::TcpListener;

use crate::cluster::wait_leader;
use crate::net::{broadcast, envelope, listeners, Running};

const CHANNEL: &str = "mychannel";

/// The development network's crypto and a real genesis block of its sample channel.
struct ConfigNet {
    dev: DevNetwork,
    genesis: Vec<u8>,
}

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: 0,
    }
}

impl ConfigNet {
    fn new() -> ConfigNet {
        let dev = DevNetwork::new(CHANNEL);
        let genesis = cambium_channel::genesis_block(&dev.channel, now());
        ConfigNet { dev, genesis }
    }

    fn admin(&self, msp: &str) -> SigningIdentity {
        let org = self.dev.crypto.org(msp).unwrap();
        load_signing_identity(&org.admin().msp_dir, msp).unwrap()
    }

    fn orderer_signer(&self) -> SigningIdentity {
        let org = self.dev.crypto.org("OrdererMSP").unwrap();
        load_signing_identity(&org.nodes[0].msp_dir, "OrdererMSP").unwrap()
    }

    /// The genesis settings with the Raft consenters on the given loopback addresses.
    fn settings(&self, addrs: &[String]) -> ChannelSettings {
        let mut settings = ChannelSettings::from_config_block(&self.genesis).unwrap();
        settings.consenters = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| cambium_orderer::Consenter {
                id: i as u64 + 1,
                address: a.clone(),
            })
            .collect();
        settings
    }

    async fn start(&self, index: usize, listener: TcpListener, addrs: &[String]) -> Running {
        let addr = listener.local_addr().unwrap().to_string();
        let node = OrdererNode::new(
            NodeConfig {
                data_dir: self.dev.dir.path().join(format!("orderer{index}")),
                advertised_address: addr.clone(),
                // Fabric's batching alone: these tests check which block the batch timeout in
                // force cuts, so a block must not be cut for the orderer being idle.
                cut_when_idle: false,
            },
            self.orderer_signer(),
        );
        let server = node.serve(listener).unwrap();
        // A stopped node has closed its stores, so a restart in the same process reopens
        // them at once.
        node.join_channel(&self.genesis, self.settings(addrs))
            .await
            .expect("joining the channel");
        Running { node, server, addr }
    }
}

/// The config `group` with the orderer's batch timeout set to `timeout`.
fn with_batch_timeout(config: &ChannelConfig, timeout: &str) -> ConfigGroup {
    let mut group = config.channel_group().clone();
    group
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .value = Value::BatchTimeout(timeout.into());
    group
}

/// A CONFIG_UPDATE envelope turning `current` into `updated`, signed by `admins` and
/// submitted by `submitter`.
fn update(
    current: &ChannelConfig,
    updated: &ConfigGroup,
    admins: &[&SigningIdentity],
    submitter: &SigningIdentity,
) -> Vec<u8> {
    let update = compute_update(CHANNEL, current.channel_group(), updated).unwrap();
    let bytes = update.encode().unwrap();
    let signatures = admins
        .iter()
        .map(|a| sign_update(&bytes, a).unwrap())
        .collect();
    let envelope = ConfigUpdateEnvelope {
        config_update: bytes,
        signatures,
    };
    config_update_envelope(CHANNEL, &envelope, submitter, now()).unwrap()
}

fn block(node: &OrdererNode, number: u64) -> Block {
    Block::decode(&node.block(CHANNEL, number).unwrap().unwrap()).unwrap()
}

fn header_type(block: &Block, index: usize) -> Option<HeaderType> {
    cambium_wire::tx::parse_envelope(&block.data[index])
        .unwrap()
        .channel_header
        .known_header_type()
}

/// The LAST_CONFIG slot of a block.
fn last_config_slot(block: &Block) -> u64 {
    use cambium_wire::Message;
    let slot = cambium_wire::common::Metadata::decode(block.metadata[1].as_slice()).unwrap();
    cambium_wire::common::LastConfig::decode(slot.value.as_slice())
        .unwrap()
        .index
}

async fn wait_height(node: &OrdererNode, height: u64) {
    for _ in 0..200 {
        if node.channel(CHANNEL).unwrap().height >= height {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the chain did not reach height {height}");
}

fn org1_user(net: &ConfigNet) -> SigningIdentity {
    let org = net.dev.crypto.org("Org1MSP").unwrap();
    load_signing_identity(&org.users[1].msp_dir, "Org1MSP").unwrap()
}

fn tx(signer: &SigningIdentity) -> Vec<u8> {
    envelope(
        signer,
        CHANNEL,
        HeaderType::EndorserTransaction,
        vec![1; 200],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orderers_apply_a_batch_timeout_update_from_its_own_block() {
    let net = ConfigNet::new();
    let bound = listeners(3).await;
    let addrs: Vec<String> = bound.iter().map(|(_, a)| a.clone()).collect();
    let mut nodes = Vec::new();
    for (i, (listener, _)) in bound.into_iter().enumerate() {
        nodes.push(Some(net.start(i, listener, &addrs).await));
    }
    let leader = wait_leader(&nodes, Duration::from_secs(5)).await.unwrap();
    let follower = (leader + 1) % 3;
    let admin = net.admin("OrdererMSP");
    let user = org1_user(&net);

    // A pending transaction (the genesis timeout is 2 s) and then the update, on one stream
    // to the leader (which keeps a stream's order; a follower forwards each envelope on its
    // own): the pending batch is cut first, the config block comes alone.
    let first = tx(&user);
    let cfg = update(
        &net.dev.channel,
        &with_batch_timeout(&net.dev.channel, "100ms"),
        &[&admin],
        &admin,
    );
    let replies = broadcast(&addrs[leader], vec![first.clone(), cfg])
        .await
        .unwrap();
    for r in &replies {
        assert_eq!(r.status, Status::Success as i32, "{}", r.info);
    }
    let node = &nodes[leader].as_ref().unwrap().node;
    let b1 = block(node, 1);
    assert!(
        b1.data == vec![first],
        "block 1 holds the pending transaction alone"
    );
    let b2 = block(node, 2);
    assert_eq!(b2.data.len(), 1, "a config block holds only its config");
    assert_eq!(header_type(&b2, 0), Some(HeaderType::Config));
    assert_eq!(block_signatures(&b2).unwrap().last_config, 2);
    assert_eq!(last_config_slot(&b2), 2);
    let applied =
        ChannelConfig::from_config_block(&node.block(CHANNEL, 2).unwrap().unwrap()).unwrap();
    assert_eq!(applied.sequence(), 1);
    assert_eq!(applied.batch_timeout(), Duration::from_millis(100));

    // The next block is cut by the new 100 ms timeout, far before the old 2 s one, and
    // points LAST_CONFIG at the config block.
    let replies = tokio::time::timeout(
        Duration::from_millis(1500),
        broadcast(&addrs[follower], vec![tx(&user)]),
    )
    .await
    .expect("the new batch timeout cuts the block")
    .unwrap();
    assert_eq!(
        replies[0].status,
        Status::Success as i32,
        "{}",
        replies[0].info
    );
    let b3 = block(node, 3);
    assert_eq!(block_signatures(&b3).unwrap().last_config, 2);
    assert_eq!(last_config_slot(&b3), 2);

    // A follower forwards a config update to the leader.
    let again = update(
        &applied,
        &with_batch_timeout(&applied, "150ms"),
        &[&admin],
        &admin,
    );
    let replies = broadcast(&addrs[(leader + 2) % 3], vec![again])
        .await
        .unwrap();
    assert_eq!(
        replies[0].status,
        Status::Success as i32,
        "{}",
        replies[0].info
    );
    let b4 = block(node, 4);
    assert_eq!(header_type(&b4, 0), Some(HeaderType::Config));
    assert_eq!(last_config_slot(&b4), 4);

    // Every node holds the same chain.
    for running in nodes.iter().flatten() {
        wait_height(&running.node, 5).await;
    }
    let hashes: Vec<_> = nodes
        .iter()
        .flatten()
        .map(|r| r.node.block_hashes(CHANNEL, 0).unwrap())
        .collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]));
    for running in nodes.iter_mut().filter_map(Option::take) {
        running.node.shutdown().await;
        running.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_checks_admins_staleness_raw_config_and_consenters_and_survives_a_restart() {
    let net = ConfigNet::new();
    let mut bound = listeners(1).await;
    let (listener, addr) = bound.remove(0);
    let addrs = vec![addr.clone()];
    let running = net.start(0, listener, &addrs).await;
    let org1 = net.admin("Org1MSP");
    let org2 = net.admin("Org2MSP");
    let orderer_admin = net.admin("OrdererMSP");
    let genesis_config = net.dev.channel.clone();

    // An application policy change needs MAJORITY of the application orgs' admins.
    let mut relaxed = genesis_config.channel_group().clone();
    relaxed
        .groups
        .get_mut("Application")
        .unwrap()
        .policies
        .get_mut("Endorsement")
        .unwrap()
        .policy = cambium_channel::spec::implicit_meta(
        cambium_primitives::policy::ImplicitMetaRule::Any,
        "Endorsement",
    );
    let too_few = update(&genesis_config, &relaxed, &[&org1], &org1);
    let r = broadcast(&addr, vec![too_few]).await.unwrap();
    assert_eq!(r[0].status, Status::Forbidden as i32, "{}", r[0].info);
    assert!(
        r[0].info.contains("/Channel/Application/Admins"),
        "{}",
        r[0].info
    );

    // A raw CONFIG envelope from a client is refused.
    let raw = envelope(&org1, CHANNEL, HeaderType::Config, b"config".to_vec());
    let r = broadcast(&addr, vec![raw]).await.unwrap();
    assert_eq!(r[0].status, Status::BadRequest as i32, "{}", r[0].info);
    assert!(r[0].info.contains("CONFIG_UPDATE"), "{}", r[0].info);

    // A change of the Raft consenters is refused, saying so.
    let mut more_consenters = genesis_config.channel_group().clone();
    let consensus = more_consenters
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("ConsensusType")
        .unwrap();
    let Value::ConsensusType(ct) = &mut consensus.value else {
        panic!("ConsensusType holds a consensus type");
    };
    let cambium_wire::config::ConsensusMetadata::EtcdRaft(meta) = &mut ct.metadata else {
        panic!("etcdraft metadata");
    };
    let mut extra = meta.consenters[0].clone();
    extra.port += 1;
    meta.consenters.push(extra);
    let consenters = update(
        &genesis_config,
        &more_consenters,
        &[&orderer_admin],
        &orderer_admin,
    );
    let r = broadcast(&addr, vec![consenters]).await.unwrap();
    assert_eq!(r[0].status, Status::BadRequest as i32, "{}", r[0].info);
    assert!(r[0].info.contains("consenter"), "{}", r[0].info);

    // Enough admins: applied.
    let enough = update(&genesis_config, &relaxed, &[&org1, &org2], &org1);
    let r = broadcast(&addr, vec![enough]).await.unwrap();
    assert_eq!(r[0].status, Status::Success as i32, "{}", r[0].info);

    // An update of the same policy computed from the genesis config is stale now.
    let mut strict = genesis_config.channel_group().clone();
    strict
        .groups
        .get_mut("Application")
        .unwrap()
        .policies
        .get_mut("Endorsement")
        .unwrap()
        .policy = cambium_channel::spec::implicit_meta(
        cambium_primitives::policy::ImplicitMetaRule::All,
        "Endorsement",
    );
    let stale = update(&genesis_config, &strict, &[&org1, &org2], &org1);
    let r = broadcast(&addr, vec![stale]).await.unwrap();
    assert_eq!(r[0].status, Status::BadRequest as i32, "{}", r[0].info);
    assert!(r[0].info.contains("recompute"), "{}", r[0].info);

    // Two updates computed from the same config on one stream: the second is re-checked
    // when it is cut, after the first committed, and refused.
    let current =
        ChannelConfig::from_config_block(&running.node.block(CHANNEL, 1).unwrap().unwrap())
            .unwrap();
    let a = update(
        &current,
        &with_batch_timeout(&current, "100ms"),
        &[&orderer_admin],
        &orderer_admin,
    );
    let b = update(
        &current,
        &with_batch_timeout(&current, "300ms"),
        &[&orderer_admin],
        &orderer_admin,
    );
    let r = broadcast(&addr, vec![a, b]).await.unwrap();
    assert_eq!(r[0].status, Status::Success as i32, "{}", r[0].info);
    assert_eq!(r[1].status, Status::BadRequest as i32, "{}", r[1].info);
    assert_eq!(running.node.channel(CHANNEL).unwrap().height, 3);

    // Restart: the updated config (100 ms timeout, sequence 2, block 2) is still in force.
    running.server.stop().await;
    running.node.shutdown().await;
    drop(running.node);
    let listener = TcpListener::bind(&addr).await.unwrap();
    let running = vec![Some(net.start(0, listener, &addrs).await)];
    wait_leader(&running, Duration::from_secs(5)).await.unwrap();
    let user = org1_user(&net);
    let r = tokio::time::timeout(
        Duration::from_millis(1500),
        broadcast(&addr, vec![tx(&user)]),
    )
    .await
    .expect("the updated 100 ms batch timeout is in force after the restart")
    .unwrap();
    assert_eq!(r[0].status, Status::Success as i32, "{}", r[0].info);
    let restarted = &running[0].as_ref().unwrap().node;
    assert_eq!(
        restarted.channel(CHANNEL).unwrap().height,
        4,
        "{:?}",
        restarted.channel(CHANNEL)
    );
    let b3 = block(restarted, 3);
    assert_eq!(block_signatures(&b3).unwrap().last_config, 2);
    // The stale update is still stale after the restart.
    let stale = update(
        &current,
        &with_batch_timeout(&current, "300ms"),
        &[&orderer_admin],
        &orderer_admin,
    );
    let r = broadcast(&addr, vec![stale]).await.unwrap();
    assert_eq!(r[0].status, Status::BadRequest as i32, "{}", r[0].info);
    for running in running.into_iter().flatten() {
        running.node.shutdown().await;
        running.server.stop().await;
    }
}
