//! A test network: real crypto material, orderer nodes on 127.0.0.1 and gRPC clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions, GeneratedNetwork};
use cambium_ledger::Block;
use cambium_msp::policy::{parse, Policy, PolicyGroup};
use cambium_msp::{load_signing_identity, MspConfig, MspManager, SigningIdentity};
use cambium_orderer::{
    BatchConfig, ChannelSettings, Consenter, NodeConfig, NodeTls, OrdererNode, Server,
};
use cambium_primitives::{HeaderType, SeekInfo, SeekPosition, Timestamp};
use cambium_tls::{TlsIdentity, TlsRoots};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::{deliver_response, BroadcastResponse};
use cambium_wire::{common, Message};
use tokio::net::TcpListener;

pub(crate) const CHANNEL: &str = "mychannel";

const CRYPTO: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer0
      - Hostname: orderer1
      - Hostname: orderer2
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
"#;

/// Crypto material and channel settings shared by a test's orderers.
pub(crate) struct TestNet {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) crypto: GeneratedNetwork,
    pub(crate) msps: Arc<MspManager>,
    genesis: Vec<u8>,
}

impl TestNet {
    pub(crate) fn new() -> TestNet {
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
        let msps = Arc::new(MspManager::from_configs(&configs).unwrap());
        let mut net = TestNet {
            dir,
            crypto,
            msps,
            genesis: Vec::new(),
        };
        // One genesis block for every orderer, as operators hand out one file.
        let admin = net.orderer_identity(0);
        let env = envelope(&admin, CHANNEL, HeaderType::Config, b"config".to_vec());
        net.genesis = Block::new(0, Vec::new(), vec![env]).encode();
        net
    }

    /// Org1's user, allowed to write and read.
    pub(crate) fn org1_user(&self) -> SigningIdentity {
        let org = self.crypto.org("Org1MSP").unwrap();
        load_signing_identity(&org.users[1].msp_dir, "Org1MSP").unwrap()
    }

    /// Org2's user: neither a writer nor a reader of the test channel.
    pub(crate) fn org2_user(&self) -> SigningIdentity {
        let org = self.crypto.org("Org2MSP").unwrap();
        load_signing_identity(&org.users[1].msp_dir, "Org2MSP").unwrap()
    }

    pub(crate) fn orderer_identity(&self, index: usize) -> SigningIdentity {
        let org = self.crypto.org("OrdererMSP").unwrap();
        load_signing_identity(&org.nodes[index].msp_dir, "OrdererMSP").unwrap()
    }

    /// Channel settings: Org1 members write; Org1 members and orderers read.
    pub(crate) fn settings(&self, consenters: &[String], timeout: Duration) -> ChannelSettings {
        let policies = PolicyGroup::new()
            .with_policy(
                "Writers",
                Policy::Signature(parse("OR('Org1MSP.member')").unwrap()),
            )
            .with_policy(
                "Readers",
                Policy::Signature(parse("OR('Org1MSP.member', 'OrdererMSP.member')").unwrap()),
            );
        ChannelSettings {
            channel_id: CHANNEL.into(),
            batch: BatchConfig {
                max_message_count: 10,
                absolute_max_bytes: 64 * 1024,
                preferred_max_bytes: 32 * 1024,
                timeout,
            },
            msps: self.msps.clone(),
            policies,
            consenters: consenters
                .iter()
                .enumerate()
                .map(|(i, a)| Consenter {
                    id: i as u64 + 1,
                    address: a.clone(),
                })
                .collect(),
            last_config: 0,
            orderer_tls_roots: TlsRoots::new(),
            snapshot_interval_bytes: cambium_orderer::settings::DEFAULT_SNAPSHOT_INTERVAL_BYTES,
        }
    }

    /// The TLS CA of the orderer organisation.
    pub(crate) fn orderer_tls_roots(&self) -> TlsRoots {
        let org = self.crypto.org("OrdererMSP").unwrap();
        TlsRoots::load(std::slice::from_ref(&org.tls_ca.cert)).unwrap()
    }

    /// The TLS CAs of every organisation (orderer, Org1, Org2).
    pub(crate) fn all_tls_roots(&self) -> TlsRoots {
        let configs: Vec<MspConfig> = self
            .crypto
            .orgs
            .iter()
            .map(|o| MspConfig::from_dir(&o.msp_dir, &o.msp_id).unwrap())
            .collect();
        TlsRoots::from_msp_configs(&configs).unwrap()
    }

    /// Orderer `index`'s TLS settings: its node certificate, every organisation's TLS CA
    /// accepted at the handshake.
    pub(crate) fn node_tls(&self, index: usize) -> NodeTls {
        let node = &self.crypto.org("OrdererMSP").unwrap().nodes[index];
        NodeTls {
            identity: TlsIdentity::load(&node.tls_cert, &node.tls_key).unwrap(),
            client_roots: self.all_tls_roots(),
            client_auth_required: false,
        }
    }

    /// The TLS identity of the first node of `msp` (a peer's for peer organisations).
    pub(crate) fn node_tls_identity(&self, msp: &str, index: usize) -> TlsIdentity {
        let node = &self.crypto.org(msp).unwrap().nodes[index];
        TlsIdentity::load(&node.tls_cert, &node.tls_key).unwrap()
    }

    /// The channel's genesis block: one CONFIG envelope signed by orderer0.
    pub(crate) fn genesis(&self) -> Vec<u8> {
        self.genesis.clone()
    }

    pub(crate) fn data_dir(&self, index: usize) -> PathBuf {
        self.dir.path().join(format!("orderer{index}"))
    }
}

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// A signed envelope of `header_type` on `channel` carrying `data`.
pub(crate) fn envelope(
    signer: &SigningIdentity,
    channel: &str,
    header_type: HeaderType,
    data: Vec<u8>,
) -> Vec<u8> {
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let nonce: Vec<u8> = (0..24).map(|_| rand_byte()).collect();
    let tx_id = cambium_wire::tx::compute_tx_id(&nonce, &creator);
    let ch = cambium_wire::tx::ChannelHeaderFields {
        header_type: header_type as i32,
        timestamp: Some(now()),
        channel_id: channel.into(),
        tx_id,
        ..Default::default()
    };
    let sh = cambium_wire::tx::signature_header_bytes(&creator, &nonce);
    let payload = cambium_wire::tx::payload_bytes(&ch.encode(), &sh, &data);
    let signature = signer.sign(&payload).unwrap();
    cambium_wire::tx::envelope_bytes(&payload, &signature)
}

fn rand_byte() -> u8 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    (x >> 56) as u8
}

/// A transaction envelope of about `size` bytes from `signer`.
pub(crate) fn tx(signer: &SigningIdentity, channel: &str, size: usize) -> Vec<u8> {
    envelope(
        signer,
        channel,
        HeaderType::EndorserTransaction,
        vec![7u8; size],
    )
}

/// The transaction ID in an envelope.
pub(crate) fn tx_id(envelope: &[u8]) -> String {
    cambium_wire::tx::parse_envelope(envelope)
        .unwrap()
        .channel_header
        .tx_id
}

/// Broadcasts `envelopes` on one stream and returns the replies in order.
pub(crate) async fn broadcast(
    addr: &str,
    envelopes: Vec<Vec<u8>>,
) -> Result<Vec<BroadcastResponse>, tonic::Status> {
    let mut client = AtomicBroadcastClient::connect(format!("http://{addr}"))
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let msgs: Vec<common::Envelope> = envelopes
        .iter()
        .map(|e| common::Envelope::decode(e.as_slice()).unwrap())
        .collect();
    let n = msgs.len();
    let mut stream = client
        .broadcast(tokio_stream::iter(msgs))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        match stream.message().await? {
            Some(r) => out.push(r),
            None => break,
        }
    }
    Ok(out)
}

/// Delivers blocks `[start, stop]` as `signer`; returns the blocks and the final status.
pub(crate) async fn deliver(
    addr: &str,
    signer: &SigningIdentity,
    channel: &str,
    start: SeekPosition,
    stop: SeekPosition,
) -> (Vec<Block>, i32) {
    let seek = cambium_wire::encode_seek_info(&SeekInfo::new(start, stop));
    let env = envelope(signer, channel, HeaderType::DeliverSeekInfo, seek);
    let mut client = AtomicBroadcastClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let req = common::Envelope::decode(env.as_slice()).unwrap();
    let mut stream = client
        .deliver(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let mut blocks = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("deliver answers in time")
            .unwrap()
            .expect("a status ends every request");
        match msg.r#type.unwrap() {
            deliver_response::Type::Block(b) => {
                blocks.push(Block::decode(&b.encode_to_vec()).unwrap())
            }
            deliver_response::Type::Status(s) => return (blocks, s),
        }
    }
}

/// A running in-process orderer.
pub(crate) struct Running {
    pub(crate) node: OrdererNode,
    pub(crate) server: Server,
    pub(crate) addr: String,
}

/// Binds `count` loopback listeners first, so every consenter address is known up front.
pub(crate) async fn listeners(count: usize) -> Vec<(TcpListener, String)> {
    let mut out = Vec::new();
    for _ in 0..count {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        out.push((l, addr));
    }
    out
}

/// Starts orderer `index` on `listener` and joins it to the channel.
pub(crate) async fn start(
    net: &TestNet,
    index: usize,
    listener: TcpListener,
    addr: &str,
    settings: ChannelSettings,
) -> Running {
    start_with_tls(net, index, listener, addr, settings, None).await
}

/// [`start`] with TLS settings.
pub(crate) async fn start_with_tls(
    net: &TestNet,
    index: usize,
    listener: TcpListener,
    addr: &str,
    settings: ChannelSettings,
    tls: Option<NodeTls>,
) -> Running {
    start_configured(net, index, listener, addr, settings, tls, true).await
}

/// [`start_with_tls`] with `cut_when_idle` chosen (see `NodeConfig`).
pub(crate) async fn start_configured(
    net: &TestNet,
    index: usize,
    listener: TcpListener,
    addr: &str,
    settings: ChannelSettings,
    tls: Option<NodeTls>,
    cut_when_idle: bool,
) -> Running {
    let node = OrdererNode::with_tls(
        NodeConfig {
            data_dir: net.data_dir(index),
            advertised_address: addr.to_string(),
            cut_when_idle,
        },
        net.orderer_identity(index),
        tls,
    );
    let server = node.serve(listener).unwrap();
    node.join_channel(&net.genesis(), settings).await.unwrap();
    Running {
        node,
        server,
        addr: addr.to_string(),
    }
}

/// The value of the metric line that starts with `series` (name and labels).
pub(crate) fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}
