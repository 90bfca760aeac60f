//! Crash recovery between the Raft log and the block store: blocks whose envelopes were
//! acknowledged but which never became durable in the block store (the process died before
//! the block writer's fsync) are derived again from the Raft log when the orderer restarts,
//! so nothing acknowledged is lost. That works only because the Raft applied mark never
//! passes the block store's durable height; the test checks the stored mark directly too.
//!
//! The same invariant lets the log be purged below a snapshot (a height mark at the applied
//! mark): the purged entries' blocks are all durable, so a restart needs none of them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions};
use cambium_ledger::{Block, BlockReader};
use cambium_msp::policy::{parse, Policy, PolicyGroup};
use cambium_msp::{load_signing_identity, MspConfig, MspManager};
use cambium_primitives::HeaderType;
use cambium_tls::TlsRoots;
use tokio::net::TcpListener;

use super::*;
use crate::client::{broadcast, is_success, signed_envelope};
use crate::cutter::BatchConfig;
use crate::settings::{ChannelSettings, Consenter};

const CHANNEL: &str = "crashchannel";
const CRYPTO: &str = "OrdererOrgs:\n  - Name: Orderer\n    Domain: example.com\n    EnableNodeOUs: true\n    Specs:\n      - Hostname: orderer0\nPeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n    Users:\n      Count: 1\n";

/// Polls `done` every 10 ms for at most 10 s; false if it never held.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

async fn leader_elected(node: &OrdererNode) -> bool {
    eventually(|| {
        node.channel(CHANNEL)
            .map(|c| c.leader == Some(c.consenter_id))
            .unwrap_or(false)
    })
    .await
}

/// Envelopes in blocks `1..` of `node`'s chain.
fn ordered_envelopes(node: &OrdererNode) -> Vec<Vec<u8>> {
    let height = node.channel(CHANNEL).unwrap().height;
    (1..height)
        .flat_map(|n| {
            Block::decode(&node.block(CHANNEL, n).unwrap().unwrap())
                .unwrap()
                .data
        })
        .collect()
}

/// One orderer's channel: crypto material, settings, genesis block and node config in a
/// temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    user: cambium_msp::SigningIdentity,
    orderer_msp_dir: std::path::PathBuf,
    listener: Option<TcpListener>,
    addr: String,
    settings: ChannelSettings,
    genesis: Vec<u8>,
    node_config: NodeConfig,
}

impl Fixture {
    /// Two envelopes per block (so a run of envelopes spans several blocks) and a snapshot
    /// every `snapshot_interval_bytes` of blocks.
    async fn new(snapshot_interval_bytes: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = CryptoConfig::from_yaml(CRYPTO).unwrap();
        let crypto = generate(
            &config,
            &dir.path().join("crypto"),
            GenerateOptions::default(),
        )
        .unwrap();
        let configs: Vec<MspConfig> = crypto
            .orgs
            .iter()
            .map(|o| MspConfig::from_dir(&o.msp_dir, &o.msp_id).unwrap())
            .collect();
        let orderer_org = crypto.org("OrdererMSP").unwrap();
        let user =
            load_signing_identity(&crypto.org("Org1MSP").unwrap().users[1].msp_dir, "Org1MSP")
                .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let writers = || Policy::Signature(parse("OR('Org1MSP.member')").unwrap());
        let settings = ChannelSettings {
            channel_id: CHANNEL.into(),
            batch: BatchConfig {
                max_message_count: 2,
                absolute_max_bytes: 1024 * 1024,
                preferred_max_bytes: 512 * 1024,
                timeout: Duration::from_millis(5),
            },
            msps: Arc::new(MspManager::from_configs(&configs).unwrap()),
            policies: PolicyGroup::new()
                .with_policy("Writers", writers())
                .with_policy("Readers", writers()),
            consenters: vec![Consenter {
                id: 1,
                address: addr.clone(),
            }],
            last_config: 0,
            orderer_tls_roots: TlsRoots::load(std::slice::from_ref(&orderer_org.tls_ca.cert))
                .unwrap(),
            snapshot_interval_bytes,
        };
        let orderer_msp_dir = orderer_org.nodes[0].msp_dir.clone();
        let signer = load_signing_identity(&orderer_msp_dir, "OrdererMSP").unwrap();
        let genesis_env =
            signed_envelope(&signer, CHANNEL, HeaderType::Config, b"crash genesis").unwrap();
        let genesis = Block::new(0, Vec::new(), vec![genesis_env]).encode();
        let node_config = NodeConfig {
            data_dir: dir.path().join("orderer0"),
            advertised_address: addr.clone(),
            cut_when_idle: true,
        };
        Fixture {
            _dir: dir,
            user,
            orderer_msp_dir,
            listener: Some(listener),
            addr,
            settings,
            genesis,
            node_config,
        }
    }

    fn signer(&self) -> SigningIdentity {
        load_signing_identity(&self.orderer_msp_dir, "OrdererMSP").unwrap()
    }

    /// Envelopes `from..from + count`, each signed by the Org1 user.
    fn envelopes(&self, from: usize, count: usize) -> Vec<Vec<u8>> {
        (from..from + count)
            .map(|i| {
                signed_envelope(
                    &self.user,
                    CHANNEL,
                    HeaderType::EndorserTransaction,
                    format!("envelope {i}").as_bytes(),
                )
                .unwrap()
            })
            .collect()
    }

    /// Starts the node (on the first call's listener, then on the same address again) and
    /// joins the channel.
    async fn start(&mut self) -> (OrdererNode, Server) {
        let listener = match self.listener.take() {
            Some(l) => l,
            None => TcpListener::bind(&self.addr).await.unwrap(),
        };
        let node = OrdererNode::new(self.node_config.clone(), self.signer());
        let server = node.serve(listener).unwrap();
        node.join_channel(&self.genesis, self.settings.clone())
            .await
            .unwrap();
        (node, server)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_lost_between_the_raft_log_and_the_block_store_are_rederived_on_restart() {
    let mut fx = Fixture::new(crate::settings::DEFAULT_SNAPSHOT_INTERVAL_BYTES).await;
    let addr = fx.addr.clone();
    let (node, server) = fx.start().await;
    assert!(leader_elected(&node).await, "no leader");
    let chain = node.inner.chain(CHANNEL).unwrap();

    // Written normally: acknowledged, then in the block store.
    let first = fx.envelopes(0, 4);
    let replies = broadcast(&addr, &first).await.unwrap();
    assert!(replies.iter().all(|(s, _)| is_success(*s)), "{replies:?}");
    assert!(
        eventually(|| chain.blocks.unwritten() == 0).await,
        "the writer never caught up"
    );
    let durable = chain.blocks.ledger().height().unwrap();
    assert!(
        durable >= 3,
        "genesis and at least two blocks, got {durable}"
    );

    // From here the process "dies" after writing each block to the block file but before
    // the fsync that would make it durable.
    let ledger_dir = chain.blocks.ledger().dir().to_path_buf();
    let block_file = ledger_dir
        .join(cambium_ledger::BLOCKS_DIR)
        .join("blockfile_000000");
    let durable_len = std::fs::metadata(&block_file).unwrap().len();
    chain.blocks.crash_before_sync.store(true, Ordering::SeqCst);
    let lost = fx.envelopes(4, 10);
    let replies = broadcast(&addr, &lost).await.unwrap();
    assert_eq!(replies.len(), lost.len());
    assert!(replies.iter().all(|(s, _)| is_success(*s)), "{replies:?}");
    let acknowledged = node.block_hashes(CHANNEL, 0).unwrap();
    assert!(
        acknowledged.len() as u64 >= durable + 5,
        "10 envelopes, 2 per block"
    );
    assert!(
        eventually(|| chain.blocks.ledger().height().unwrap() == acknowledged.len() as u64).await,
        "the writer wrote every block to the block file"
    );
    assert_eq!(
        chain.blocks.unwritten() as u64,
        acknowledged.len() as u64 - durable,
        "none of them counts as durable without its fsync"
    );
    let mut expected = first.clone();
    expected.extend(lost.iter().cloned());
    assert_eq!(ordered_envelopes(&node), expected);
    drop(chain);
    server.stop().await;
    node.shutdown().await;

    // The invariant recovery rests on: the stored applied mark is below the durable height.
    let applied = crate::raft::tests::stored_applied_block(&ledger_dir.with_file_name("raft.redb"));
    assert!(
        applied.is_some_and(|b| b < durable),
        "the applied mark (block {applied:?}) passed the durable height {durable}"
    );
    // The crash loses what was not synced; the page cache wrote part of it, out of order: a
    // hole where the first lost block starts, a later record intact. The block store's index
    // held none of those blocks at the crash (it syncs the block files before it points at
    // them); shutting down flushed it, so it goes, and opening rebuilds it from the files.
    let mut data = std::fs::read(&block_file).unwrap();
    assert!(data.len() as u64 > durable_len);
    let hole = durable_len as usize..(durable_len as usize + 64).min(data.len());
    data[hole].fill(0);
    std::fs::write(&block_file, &data).unwrap();
    std::fs::remove_file(ledger_dir.join(cambium_ledger::INDEX_FILE)).unwrap();

    // Restart on the same data: the chain is whole again, block for block.
    let (node, server) = fx.start().await;
    assert!(
        eventually(|| node.channel(CHANNEL).unwrap().height >= acknowledged.len() as u64).await,
        "the restarted orderer did not re-derive the lost blocks from its Raft log"
    );
    let chain = node.inner.chain(CHANNEL).unwrap();
    assert!(
        eventually(|| chain.blocks.unwritten() == 0).await,
        "the re-derived blocks never reached the block store"
    );
    assert_eq!(
        chain.blocks.ledger().height().unwrap(),
        acknowledged.len() as u64
    );
    let hashes = node.block_hashes(CHANNEL, 0).unwrap();
    assert_eq!(&hashes[..acknowledged.len()], &acknowledged[..]);
    assert_eq!(
        ordered_envelopes(&node),
        expected,
        "each envelope exactly once"
    );

    // And the chain goes on from there.
    let more = fx.envelopes(14, 2);
    let replies = broadcast(&addr, &more).await.unwrap();
    assert!(replies.iter().all(|(s, _)| is_success(*s)), "{replies:?}");
    expected.extend(more);
    assert_eq!(ordered_envelopes(&node), expected);
    drop(chain);
    server.stop().await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raft_log_is_purged_below_snapshots_and_a_restart_keeps_the_whole_chain() {
    // A block of two envelopes is over 1 KiB: a snapshot every couple of blocks, and the log
    // purged below it but for the last 64 entries.
    let mut fx = Fixture::new(2048).await;
    let (node, server) = fx.start().await;
    assert!(leader_elected(&node).await, "no leader");
    let chain = node.inner.chain(CHANNEL).unwrap();
    let mut expected = Vec::new();
    for round in 0..50 {
        let batch = fx.envelopes(round * 4, 4);
        let replies = broadcast(&fx.addr, &batch).await.unwrap();
        assert!(replies.iter().all(|(s, _)| is_success(*s)), "{replies:?}");
        expected.extend(batch);
    }
    let height = node.channel(CHANNEL).unwrap().height;
    assert!(height > 100, "200 envelopes, 2 per block: {height}");
    assert!(
        eventually(|| chain
            .raft
            .metrics()
            .borrow()
            .purged
            .is_some_and(|p| p.index > 30))
        .await,
        "the log was never purged: {:?}",
        chain.raft.metrics().borrow()
    );
    let metrics = chain.raft.metrics().borrow().clone();
    let (purged, snapshot) = (
        metrics.purged.unwrap().index,
        metrics.snapshot.unwrap().index,
    );
    let last = metrics.last_log_index.unwrap();
    assert!(purged < snapshot, "purged {purged}, snapshot {snapshot}");
    // On disk, the log starts right after the purge: the store holds a tail of the log, not
    // every block a second time.
    let db = chain.raft_store().unwrap();
    let stored = crate::raft::tests::log_indexes(&db);
    drop(db);
    assert_eq!(
        stored,
        (purged + 1..=last).collect::<Vec<_>>(),
        "entries up to {purged} are purged"
    );
    let hashes = node.block_hashes(CHANNEL, 0).unwrap();
    drop(chain);
    server.stop().await;
    node.shutdown().await;

    // Restart: the snapshot and the block store hold the chain; nothing is missing and
    // nothing is applied twice.
    let (node, server) = fx.start().await;
    assert!(leader_elected(&node).await, "no leader after the restart");
    assert_eq!(
        node.block_hashes(CHANNEL, 0).unwrap()[..hashes.len()],
        hashes[..]
    );
    assert_eq!(ordered_envelopes(&node), expected);
    let more = fx.envelopes(200, 4);
    let replies = broadcast(&fx.addr, &more).await.unwrap();
    assert!(replies.iter().all(|(s, _)| is_success(*s)), "{replies:?}");
    expected.extend(more);
    assert_eq!(ordered_envelopes(&node), expected);
    server.stop().await;
    node.shutdown().await;
}
