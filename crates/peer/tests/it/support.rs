//! The test network: the default development network's crypto and sample channel, one
//! in-process orderer on loopback, peers started from [`PeerConfig`]s, the kv contract
//! compiled to wasm once per process, and a client that endorses over gRPC, broadcasts and
//! reads Deliver streams.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_cryptogen::{Identity, Role};
use cambium_endorser::StaticRegistry;
use cambium_gateway::{CommittedTx, PeerContext};
use cambium_ledger::Block;
use cambium_msp::policy::parse;
use cambium_msp::{load_signing_identity, SigningIdentity};
use cambium_orderer::{ChannelSettings, Consenter, NodeConfig, OrdererNode, Server};
use cambium_peer::{Peer, PeerConfig, PeerHandle, PeerPlugins};
use cambium_primitives::{Endorsement, HeaderType, SeekInfo, Timestamp};
use cambium_testing::DevNetwork;
use cambium_validator::{EndorsementPolicy, PolicyTable};
use cambium_vm::{Contract, Vm, VmConfig};
use cambium_wire::peer::deliver_client::DeliverClient;
use cambium_wire::peer::deliver_response::Type;
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::{DeliverResponse, SignedProposal};
use cambium_wire::tx::{
    build_proposal, endorser_transaction_payload, envelope_bytes, parse_proposal_response,
    parse_signed_proposal, signed_proposal_bytes, ProposalParts,
};
use cambium_wire::{common, encode_serialized_identity, Message};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

/// The channel of every test.
pub(crate) const CHANNEL: &str = "mychannel";

/// How long a test waits for a commit before failing.
pub(crate) const COMMIT_WAIT: Duration = Duration::from_secs(30);

/// The VM and the kv contract, built once per test binary.
pub(crate) struct Contracts {
    pub(crate) vm: Arc<Vm>,
    pub(crate) kv: Arc<Contract>,
}

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

pub(crate) fn contracts() -> &'static Contracts {
    static CONTRACTS: OnceLock<Contracts> = OnceLock::new();
    CONTRACTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/kv");
        let wasm = cambium_vm::toolchain::build(&dir, &target_dir().join("contract-wasm"))
            .unwrap_or_else(|e| panic!("cannot build the kv contract for wasm32: {e}"));
        let vm = Arc::new(Vm::new(VmConfig::default()).expect("engine"));
        let kv = Arc::new(
            vm.install(&std::fs::read(wasm).expect("the module is readable"))
                .expect("kv installs"),
        );
        Contracts { vm, kv }
    })
}

/// The plugins every test peer runs: kv at version 1.0, endorsed by both organisations.
pub(crate) fn plugins() -> PeerPlugins {
    let c = contracts();
    let both = parse("AND('Org1MSP.peer', 'Org2MSP.peer')").expect("policy parses");
    PeerPlugins {
        vm: Some(Arc::clone(&c.vm)),
        contracts: Some(Arc::new(StaticRegistry::new().with(
            "kv",
            "1.0",
            Arc::clone(&c.kv),
        ))),
        policies: Some(Arc::new(
            PolicyTable::new().with("kv", EndorsementPolicy::Signature(both)),
        )),
        gateway: None,
        log: None,
    }
}

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// An in-process orderer.
pub(crate) struct Orderer {
    pub(crate) node: OrdererNode,
    server: Option<Server>,
    pub(crate) addr: String,
}

impl Orderer {
    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.node.shutdown().await;
    }
}

/// The network: crypto, channel, genesis block and a running orderer.
pub(crate) struct Net {
    pub(crate) dev: DevNetwork,
    pub(crate) genesis: Vec<u8>,
    pub(crate) orderer: Orderer,
}

/// The identity of `role` in organisation `msp_id` (the first one; users: `User1`).
pub(crate) fn identity_files<'a>(dev: &'a DevNetwork, msp_id: &str, role: Role) -> &'a Identity {
    let org = dev.crypto.org(msp_id).expect("org generated");
    org.nodes
        .iter()
        .chain(&org.users)
        .find(|i| i.role == role)
        .expect("identity of that role")
}

pub(crate) fn signer(dev: &DevNetwork, msp_id: &str, role: Role) -> SigningIdentity {
    load_signing_identity(&identity_files(dev, msp_id, role).msp_dir, msp_id)
        .expect("signing identity loads")
}

/// Starts an orderer for the channel in `genesis`, signing blocks as `signer`.
pub(crate) async fn start_orderer(dir: &Path, genesis: &[u8], signer: SigningIdentity) -> Orderer {
    start_orderer_with_tls(dir, genesis, signer, None).await
}

/// [`start_orderer`] serving TLS when `tls` is given.
pub(crate) async fn start_orderer_with_tls(
    dir: &Path,
    genesis: &[u8],
    signer: SigningIdentity,
    tls: Option<cambium_orderer::NodeTls>,
) -> Orderer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut settings = ChannelSettings::from_config_block(genesis).expect("settings");
    settings.consenters = vec![Consenter {
        id: 1,
        address: addr.clone(),
    }];
    settings.batch.timeout = Duration::from_millis(50);
    let node = OrdererNode::with_tls(
        NodeConfig {
            data_dir: dir.to_path_buf(),
            advertised_address: addr.clone(),
            cut_when_idle: true,
        },
        signer,
        tls,
    );
    let server = node.serve(listener).expect("orderer serves");
    node.join_channel(genesis, settings)
        .await
        .expect("orderer joins");
    Orderer {
        node,
        server: Some(server),
        addr,
    }
}

impl Net {
    pub(crate) async fn new() -> Net {
        let dev = DevNetwork::new(CHANNEL);
        let genesis = cambium_channel::genesis_block(&dev.channel, now());
        let orderer = start_orderer(
            &dev.dir.path().join("orderer"),
            &genesis,
            signer(&dev, "OrdererMSP", Role::Orderer),
        )
        .await;
        Net {
            dev,
            genesis,
            orderer,
        }
    }

    /// A peer configuration for `msp_id`'s peer with data in `name`, pulling from the
    /// test orderer.
    pub(crate) fn peer_config(&self, msp_id: &str, name: &str) -> PeerConfig {
        let id = identity_files(&self.dev, msp_id, Role::Peer);
        let mut config = PeerConfig::new(self.dev.dir.path().join(name), &id.msp_dir, msp_id);
        config.orderer.endpoints = vec![self.orderer.addr.clone()];
        config
    }

    /// Starts a peer and joins it to the channel (a no-op join after a restart).
    pub(crate) async fn peer(&self, msp_id: &str, name: &str) -> PeerHandle {
        let peer = Peer::start_with(self.peer_config(msp_id, name), plugins())
            .await
            .expect("peer starts");
        if peer.node().channel_ids().is_empty() {
            peer.join_channel(&self.genesis).await.expect("peer joins");
        }
        peer
    }

    pub(crate) fn client(&self, msp_id: &str) -> SigningIdentity {
        signer(&self.dev, msp_id, Role::Client)
    }
}

/// A plain gRPC channel to `addr`.
pub(crate) async fn connect(addr: &str) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connects")
}

/// A TLS gRPC channel to `addr` trusting `ca`, optionally presenting a client certificate.
pub(crate) async fn connect_tls(
    addr: &str,
    ca: &Path,
    client: Option<&Identity>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()));
    if let Some(id) = client {
        tls = tls.identity(TlsIdentity::from_pem(
            std::fs::read(&id.tls_cert).unwrap(),
            std::fs::read(&id.tls_key).unwrap(),
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

fn nonce() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&std::process::id().to_be_bytes());
    out.resize(24, 7);
    out
}

/// A signed proposal calling kv with `args` as `client`; returns it and its tx ID.
pub(crate) fn proposal(client: &SigningIdentity, args: &[&str]) -> (Vec<u8>, String) {
    let parts = ProposalParts {
        channel_id: CHANNEL.to_owned(),
        chaincode_name: "kv".to_owned(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        transient: Default::default(),
        creator: encode_serialized_identity(&client.serialized()),
        nonce: nonce(),
        timestamp: now(),
    };
    let unsigned = build_proposal(&parts);
    let signature = client.sign(&unsigned.proposal_bytes).expect("sign");
    (
        signed_proposal_bytes(&unsigned.proposal_bytes, &signature),
        unsigned.tx_id,
    )
}

/// Endorses `signed` on every peer over gRPC and builds the client-signed transaction.
pub(crate) async fn endorse(
    client: &SigningIdentity,
    signed: &[u8],
    peers: &[&PeerHandle],
) -> Vec<u8> {
    let view = parse_signed_proposal(signed).expect("proposal parses");
    let mut payload = Vec::new();
    let mut endorsements: Vec<Endorsement> = Vec::new();
    for peer in peers {
        let mut rpc = EndorserClient::new(connect(&peer.local_addr().to_string()).await);
        let response = rpc
            .process_proposal(SignedProposal {
                proposal_bytes: view.proposal_bytes.clone(),
                signature: view.signature.clone(),
            })
            .await
            .expect("ProcessProposal answers")
            .into_inner();
        let response = parse_proposal_response(&response.encode_to_vec()).unwrap();
        assert_eq!(
            response.response.status, 200,
            "endorsement refused: {}",
            response.response.message
        );
        payload = response.payload;
        endorsements.push(response.endorsement.expect("endorsed"));
    }
    let tx_payload = endorser_transaction_payload(&view, &payload, &endorsements);
    let signature = client.sign(&tx_payload).expect("sign");
    envelope_bytes(&tx_payload, &signature)
}

/// Broadcasts envelopes to the orderer and asserts they were accepted.
pub(crate) async fn broadcast(orderer: &str, envelopes: &[Vec<u8>]) {
    let replies = cambium_orderer::client::broadcast(orderer, envelopes)
        .await
        .expect("broadcast");
    assert_eq!(replies.len(), envelopes.len());
    for (status, info) in replies {
        assert_eq!(status, 200, "orderer refused: {info}");
    }
}

/// Waits for `tx_id` to commit on `peer`.
pub(crate) async fn committed(peer: &PeerHandle, tx_id: &str) -> CommittedTx {
    tokio::time::timeout(COMMIT_WAIT, peer.node().commit_status(CHANNEL, tx_id))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{tx_id} did not commit within {COMMIT_WAIT:?}; committer: {:?}",
                peer.node().committer_status()
            )
        })
        .expect("commit status")
}

/// A signed Deliver request for `seek` on `channel` as `signer`, stamped `timestamp`.
pub(crate) fn seek_envelope(
    signer: &SigningIdentity,
    channel: &str,
    seek: &SeekInfo,
    timestamp: Timestamp,
) -> common::Envelope {
    let creator = encode_serialized_identity(&signer.serialized());
    let header = cambium_wire::tx::ChannelHeaderFields {
        header_type: HeaderType::DeliverSeekInfo as i32,
        timestamp: Some(timestamp),
        channel_id: channel.into(),
        ..Default::default()
    };
    let signature_header = cambium_wire::tx::signature_header_bytes(&creator, &[]);
    let payload = cambium_wire::tx::payload_bytes(
        &header.encode(),
        &signature_header,
        &cambium_wire::encode_seek_info(seek),
    );
    let signature = signer.sign(&payload).expect("sign");
    common::Envelope::decode(envelope_bytes(&payload, &signature).as_slice()).unwrap()
}

/// What one Deliver request produced.
#[derive(Debug)]
pub(crate) struct Delivered {
    /// Block numbers (full or filtered), in order.
    pub(crate) numbers: Vec<u64>,
    /// The messages other than the status.
    pub(crate) messages: Vec<DeliverResponse>,
    /// The final status, or `None` if the stream stayed open past the wait.
    pub(crate) status: Option<i32>,
}

/// Sends `request` on `Deliver` (or `DeliverFiltered`) and collects replies until a status
/// or until `wait` passes without one.
pub(crate) async fn deliver(
    channel: Channel,
    filtered: bool,
    request: common::Envelope,
    wait: Duration,
) -> Delivered {
    let mut client = DeliverClient::new(channel);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(request).await.unwrap();
    let requests = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut stream = if filtered {
        client.deliver_filtered(requests).await
    } else {
        client.deliver(requests).await
    }
    .expect("Deliver opens")
    .into_inner();
    let mut out = Delivered {
        numbers: Vec::new(),
        messages: Vec::new(),
        status: None,
    };
    loop {
        let message = match tokio::time::timeout(wait, stream.message()).await {
            Err(_) => break,
            Ok(m) => m.expect("stream ok").expect("a status ends every request"),
        };
        match &message.r#type {
            Some(Type::Status(s)) => {
                out.status = Some(*s);
                break;
            }
            Some(Type::Block(b)) => out.numbers.push(b.header.as_ref().unwrap().number),
            Some(Type::FilteredBlock(f)) => out.numbers.push(f.number),
            Some(Type::BlockAndPrivateData(b)) => out
                .numbers
                .push(b.block.as_ref().unwrap().header.as_ref().unwrap().number),
            None => {}
        }
        out.messages.push(message);
    }
    drop(tx);
    out
}

/// The decoded blocks of a Deliver answer.
pub(crate) fn blocks(delivered: &Delivered) -> Vec<Block> {
    delivered
        .messages
        .iter()
        .filter_map(|m| match &m.r#type {
            Some(Type::Block(b)) => Some(Block::decode(&b.encode_to_vec()).unwrap()),
            _ => None,
        })
        .collect()
}

/// The current time as a protobuf timestamp.
pub(crate) fn timestamp_now() -> Timestamp {
    now()
}

/// One HTTP/1.1 GET to the operations endpoint at `addr`; returns the status and the body.
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let head = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}
