//! The test network: the sample channel's two organisations, each with a real endorser over
//! its own on-disk ledger; Org2's endorser served over gRPC; a real in-process orderer; a
//! committer that pulls the orderer's blocks, validates them and commits them to both ledgers;
//! and Org1's gateway served over gRPC, reached by a real gateway client.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cambium_channel::{genesis_block, ChannelConfig};
use cambium_cryptogen::Role;
use cambium_endorser::{Endorser, EndorserChannel, EndorserService, StaticRegistry};
use cambium_gateway::{
    BoxFuture, BoxStream, CommittedTx, GatewayOptions, GatewayService, PeerContext, PeerError,
};
use cambium_ledger::{Block, BlockReader, BlockWriter, Ledger, SnapshotSource, StoredBlock};
use cambium_msp::policy::parse;
use cambium_msp::{load_signing_identity, SigningIdentity};
use cambium_orderer::{ChannelSettings, Consenter, NodeConfig, OrdererNode, Server};
use cambium_primitives::Timestamp;
use cambium_testing::DevNetwork;
use cambium_validator::{validate_block, EndorsementPolicy, PolicyTable, ValidationOptions};
use cambium_vm::{Contract, Vm, VmConfig};
use cambium_wire::config::{AnchorPeer, ConfigGroup, Value};
use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::{
    CommitStatusRequest, EndorseRequest, SignedCommitStatusRequest, SubmitRequest,
};
use cambium_wire::peer::SignedProposal;
use cambium_wire::tx::{build_proposal, ProposalParts};
use cambium_wire::{encode_serialized_identity, Message};
use tokio::net::TcpListener;
use tokio::sync::watch;
// Accepted sockets need TCP_NODELAY set here: tonic ignores the builder's setting for a
// caller-supplied listener, and Nagle's algorithm with delayed ACKs stalls each call ~40 ms.
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Channel, Identity, ServerTlsConfig};

/// The channel of every test.
pub(crate) const CHANNEL: &str = "mychannel";

/// Identities, the channel and the compiled contracts, made once per test binary.
pub(crate) struct Material {
    _dev: DevNetwork,
    pub(crate) config: ChannelConfig,
    pub(crate) org1_peer: Arc<SigningIdentity>,
    pub(crate) org2_peer: Arc<SigningIdentity>,
    pub(crate) org1_client: SigningIdentity,
    pub(crate) org2_client: SigningIdentity,
    pub(crate) orderer: SigningIdentity,
    orderer_msp_dir: PathBuf,
    /// Org1's peer TLS certificate and key (PEM), for the gateway's mutual TLS.
    pub(crate) org1_peer_tls: (Vec<u8>, Vec<u8>),
    /// Org2's peer TLS certificate and key (PEM), for its endorser's TLS server.
    pub(crate) org2_peer_tls: (Vec<u8>, Vec<u8>),
    /// Org1's TLS CA certificate (PEM), which Org2's server requires client certificates from.
    pub(crate) org1_tls_ca: Vec<u8>,
    pub(crate) kv: Arc<Contract>,
    pub(crate) asset_transfer: Arc<Contract>,
    pub(crate) vm: Arc<Vm>,
}

fn identity(dev: &DevNetwork, msp_id: &str, role: Role) -> SigningIdentity {
    let org = dev.crypto.org(msp_id).expect("org generated");
    let id = org
        .nodes
        .iter()
        .chain(&org.users)
        .find(|i| i.role == role)
        .expect("identity of that role");
    load_signing_identity(&id.msp_dir, msp_id).expect("signing identity loads")
}

fn peer_tls(dev: &DevNetwork, msp_id: &str) -> (Vec<u8>, Vec<u8>) {
    let org = dev.crypto.org(msp_id).expect("org generated");
    let peer = org
        .nodes
        .iter()
        .find(|i| i.role == Role::Peer)
        .expect("a peer");
    (
        std::fs::read(&peer.tls_cert).expect("TLS certificate"),
        std::fs::read(&peer.tls_key).expect("TLS key"),
    )
}

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

fn contract_wasm(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts")
        .join(name);
    let wasm = cambium_vm::toolchain::build(&dir, &target_dir().join("contract-wasm"))
        .unwrap_or_else(|e| panic!("cannot build contract '{name}' for wasm32: {e}"));
    std::fs::read(wasm).expect("the built module is readable")
}

/// The shared material.
pub(crate) fn material() -> &'static Material {
    static MATERIAL: OnceLock<Material> = OnceLock::new();
    MATERIAL.get_or_init(|| {
        let dev = DevNetwork::new(CHANNEL);
        let vm = Arc::new(Vm::new(VmConfig::default()).expect("engine"));
        let install = |name: &str| Arc::new(vm.install(&contract_wasm(name)).expect("installs"));
        Material {
            config: dev.channel.clone(),
            org1_peer: Arc::new(identity(&dev, "Org1MSP", Role::Peer)),
            org2_peer: Arc::new(identity(&dev, "Org2MSP", Role::Peer)),
            org1_client: identity(&dev, "Org1MSP", Role::Client),
            org2_client: identity(&dev, "Org2MSP", Role::Client),
            orderer: identity(&dev, "OrdererMSP", Role::Orderer),
            orderer_msp_dir: dev
                .crypto
                .org("OrdererMSP")
                .expect("orderer org")
                .nodes
                .iter()
                .find(|i| i.role == Role::Orderer)
                .expect("an orderer node")
                .msp_dir
                .clone(),
            org1_peer_tls: peer_tls(&dev, "Org1MSP"),
            org2_peer_tls: peer_tls(&dev, "Org2MSP"),
            org1_tls_ca: std::fs::read(&dev.crypto.org("Org1MSP").expect("org1").tls_ca.cert)
                .expect("TLS CA certificate"),
            kv: install("kv"),
            asset_transfer: install("asset-transfer"),
            vm,
            _dev: dev,
        }
    })
}

/// The endorsement policies of the test contracts: `kv` uses the channel default (MAJORITY of
/// the two orgs' Endorsement policies, so both), `basic` (asset-transfer) and `solo` (kv)
/// need either org, `both` (asset-transfer) and `skew` (kv) are an explicit AND of the two.
pub(crate) fn policies() -> BTreeMap<String, EndorsementPolicy> {
    let mut p = BTreeMap::new();
    p.insert(
        "kv".to_owned(),
        EndorsementPolicy::ChannelPolicy("/Channel/Application/Endorsement".into()),
    );
    p.insert(
        "basic".to_owned(),
        EndorsementPolicy::Signature(parse("OR('Org1MSP.peer', 'Org2MSP.peer')").unwrap()),
    );
    p.insert(
        "solo".to_owned(),
        EndorsementPolicy::Signature(parse("OR('Org1MSP.peer', 'Org2MSP.peer')").unwrap()),
    );
    p.insert(
        "skew".to_owned(),
        EndorsementPolicy::Signature(parse("AND('Org1MSP.peer', 'Org2MSP.peer')").unwrap()),
    );
    p.insert(
        "both".to_owned(),
        EndorsementPolicy::Signature(parse("AND('Org1MSP.peer', 'Org2MSP.peer')").unwrap()),
    );
    p
}

/// The contracts of a peer. `skew` is kv under a version that differs between the two orgs,
/// so their proposal response payloads differ.
fn registry(m: &Material, skew_version: &str) -> StaticRegistry {
    StaticRegistry::new()
        .with("kv", "1.0", Arc::clone(&m.kv))
        .with("basic", "1.0", Arc::clone(&m.asset_transfer))
        .with("both", "1.0", Arc::clone(&m.asset_transfer))
        .with("skew", skew_version, Arc::clone(&m.kv))
        .with("solo", "1.0", Arc::clone(&m.kv))
}

/// A copy of `config` with Org2's anchor peer and the orderer endpoints pointing at real
/// listeners.
pub(crate) fn with_endpoints(
    config: &ChannelConfig,
    org1_anchor: &str,
    org2_anchors: &[String],
    orderers: &[String],
) -> ChannelConfig {
    let mut root: ConfigGroup = config.channel_group().clone();
    let anchors = |addresses: &[String]| {
        Value::AnchorPeers(
            addresses
                .iter()
                .map(|address| {
                    let (host, port) = address.rsplit_once(':').expect("host:port");
                    AnchorPeer {
                        host: host.to_owned(),
                        port: port.parse().expect("a port"),
                    }
                })
                .collect(),
        )
    };
    let app = root
        .groups
        .get_mut("Application")
        .expect("Application group");
    for (org, addresses) in [
        ("Org1MSP", vec![org1_anchor.to_owned()]),
        ("Org2MSP", org2_anchors.to_vec()),
    ] {
        let group = app.groups.get_mut(org).expect("org group");
        group
            .values
            .get_mut("AnchorPeers")
            .expect("anchor peers value")
            .value = anchors(&addresses);
    }
    let orderer_org = root
        .groups
        .get_mut("Orderer")
        .and_then(|o| o.groups.get_mut("OrdererMSP"))
        .expect("orderer org group");
    orderer_org
        .values
        .get_mut("Endpoints")
        .expect("orderer endpoints value")
        .value = Value::Addresses(orderers.to_vec());
    ChannelConfig::new(CHANNEL, config.sequence(), root).expect("edited config builds")
}

/// The peer behind the gateway: Org1's endorser and ledger, with a swappable channel config.
pub(crate) struct TestPeer {
    /// Org1's endorser, also called directly by the bench.
    pub(crate) endorser: Arc<Endorser>,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) config: Mutex<Arc<ChannelConfig>>,
    pub(crate) policies: BTreeMap<String, EndorsementPolicy>,
    pub(crate) height: watch::Receiver<u64>,
}

fn ledger_error(e: impl std::fmt::Display) -> PeerError {
    PeerError::Ledger(e.to_string())
}

impl PeerContext for TestPeer {
    fn local_msp_id(&self) -> &str {
        "Org1MSP"
    }

    fn endorser(&self) -> Arc<Endorser> {
        Arc::clone(&self.endorser)
    }

    fn channel_config(&self, channel_id: &str) -> Result<Arc<ChannelConfig>, PeerError> {
        if channel_id != CHANNEL {
            return Err(PeerError::ChannelNotFound(channel_id.to_owned()));
        }
        Ok(Arc::clone(&self.config.lock().unwrap()))
    }

    fn endorsement_policy(
        &self,
        channel_id: &str,
        contract: &str,
    ) -> Result<Option<EndorsementPolicy>, PeerError> {
        self.channel_config(channel_id)?;
        Ok(self.policies.get(contract).cloned())
    }

    fn commit_status(
        &self,
        channel_id: &str,
        tx_id: &str,
    ) -> BoxFuture<'static, Result<CommittedTx, PeerError>> {
        let check = self.channel_config(channel_id).map(|_| ());
        let ledger = Arc::clone(&self.ledger);
        let mut height = self.height.clone();
        let tx_id = tx_id.to_owned();
        Box::pin(async move {
            check?;
            loop {
                // Subscribed before looking, so a commit in between is not missed.
                height.borrow_and_update();
                let snapshot = ledger.snapshot().map_err(ledger_error)?;
                if let Some(loc) = snapshot.transaction(&tx_id).map_err(ledger_error)? {
                    return Ok(CommittedTx {
                        code: loc.code,
                        block_number: loc.block_num,
                    });
                }
                height
                    .changed()
                    .await
                    .map_err(|_| PeerError::ShuttingDown)?;
            }
        })
    }

    fn committed_blocks(
        &self,
        channel_id: &str,
        start: u64,
    ) -> Result<BoxStream<'static, Result<StoredBlock, PeerError>>, PeerError> {
        self.channel_config(channel_id)?;
        let ledger = Arc::clone(&self.ledger);
        let mut height = self.height.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut next = start;
            loop {
                height.borrow_and_update();
                let snapshot = match ledger.snapshot() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(ledger_error(e))).await;
                        return;
                    }
                };
                while let Ok(Some(block)) = snapshot.block(next) {
                    if tx.send(Ok(block)).await.is_err() {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    () = tx.closed() => return,
                    changed = height.changed() => if changed.is_err() { return },
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    fn height(&self, channel_id: &str) -> Result<u64, PeerError> {
        self.channel_config(channel_id)?;
        self.ledger
            .snapshot()
            .and_then(|s| s.height())
            .map_err(ledger_error)
    }
}

/// A spawned tonic server, finished once it has shut down.
type ServerTask = tokio::task::JoinHandle<Result<(), tonic::transport::Error>>;

/// A running test network.
pub(crate) struct Net {
    _dir: tempfile::TempDir,
    pub(crate) peer: Arc<TestPeer>,
    pub(crate) gateway: GatewayService,
    pub(crate) client: GatewayClient<Channel>,
    pub(crate) org2_addr: String,
    pub(crate) orderer_addr: String,
    _orderer: OrdererNode,
    _orderer_server: Server,
    org2_stop: Option<(tokio::sync::oneshot::Sender<()>, ServerTask)>,
    _gateway_stop: tokio::sync::oneshot::Sender<()>,
}

/// Network settings a test may change.
#[derive(Clone, Debug)]
pub(crate) struct NetOptions {
    pub(crate) gateway: GatewayOptions,
    /// Orderer endpoints to list before the live orderer (e.g. dead ones).
    pub(crate) extra_orderers_first: Vec<String>,
    /// Whether Org2's endorser serves mutual TLS (requiring Org1's TLS CA).
    pub(crate) org2_tls: bool,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            gateway: GatewayOptions {
                local_address: "127.0.0.1:1".into(),
                ..GatewayOptions::default()
            },
            extra_orderers_first: Vec::new(),
            org2_tls: false,
        }
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    (l, a)
}

/// A free loopback address nothing listens on.
pub(crate) async fn dead_address() -> String {
    let (l, a) = listener().await;
    drop(l);
    a.to_string()
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Net {
    pub(crate) async fn start() -> Net {
        Net::start_with(NetOptions::default()).await
    }

    pub(crate) async fn start_with(options: NetOptions) -> Net {
        let m = material();
        let dir = tempfile::tempdir().expect("temp dir");

        // Org2's peer: an endorser over its own ledger, served over gRPC.
        let org2_ledger = Arc::new(Ledger::open(dir.path().join("org2")).expect("ledger"));
        let org2 = Arc::new(Endorser::new(Arc::clone(&m.vm), Arc::clone(&m.org2_peer)));
        org2.add_channel(EndorserChannel {
            config: Arc::new(m.config.clone()),
            ledger: Arc::clone(&org2_ledger) as _,
            contracts: Arc::new(registry(m, "2.0")),
        });
        let (org2_listener, org2_addr) = listener().await;
        let (org2_stop, org2_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut org2_server = tonic::transport::Server::builder();
        if options.org2_tls {
            let (cert, key) = &m.org2_peer_tls;
            org2_server = org2_server
                .tls_config(
                    ServerTlsConfig::new()
                        .identity(Identity::from_pem(cert, key))
                        .client_ca_root(Certificate::from_pem(&m.org1_tls_ca)),
                )
                .expect("TLS server settings");
        }
        let org2_task = tokio::spawn(
            org2_server
                .add_service(EndorserService::new(org2).into_server())
                .serve_with_incoming_shutdown(
                    TcpIncoming::from(org2_listener).with_nodelay(Some(true)),
                    async {
                        let _ = org2_stopped.await;
                    },
                ),
        );

        // The orderer.
        let (orderer_listener, orderer_addr) = listener().await;
        let orderer_addr = orderer_addr.to_string();
        let genesis = genesis_block(
            &m.config,
            Timestamp {
                seconds: now_seconds(),
                nanos: 0,
            },
        );
        let mut settings = ChannelSettings::from_config_block(&genesis).expect("settings");
        settings.consenters = vec![Consenter {
            id: 1,
            address: orderer_addr.clone(),
        }];
        settings.batch.timeout = Duration::from_millis(10);
        let orderer = OrdererNode::new(
            NodeConfig {
                data_dir: dir.path().join("orderer"),
                advertised_address: orderer_addr.clone(),
                cut_when_idle: true,
            },
            load_signing_identity(&m.orderer_msp_dir, "OrdererMSP").expect("orderer identity"),
        );
        let orderer_server = orderer.serve(orderer_listener).expect("orderer serves");
        orderer
            .join_channel(&genesis, settings)
            .await
            .expect("orderer joins");

        // Org1's peer behind the gateway, and the committer feeding both ledgers.
        let org1_ledger = Arc::new(Ledger::open(dir.path().join("org1")).expect("ledger"));
        let org1 = Arc::new(Endorser::new(Arc::clone(&m.vm), Arc::clone(&m.org1_peer)));
        org1.add_channel(EndorserChannel {
            config: Arc::new(m.config.clone()),
            ledger: Arc::clone(&org1_ledger) as _,
            contracts: Arc::new(registry(m, "1.0")),
        });
        let (height_tx, height_rx) = watch::channel(0u64);
        let mut orderers = options.extra_orderers_first.clone();
        orderers.push(orderer_addr.clone());
        let gateway_config = with_endpoints(
            &m.config,
            &options.gateway.local_address,
            &[org2_addr.to_string()],
            &orderers,
        );
        let peer = Arc::new(TestPeer {
            endorser: org1,
            ledger: Arc::clone(&org1_ledger),
            config: Mutex::new(Arc::new(gateway_config)),
            policies: policies(),
            height: height_rx,
        });
        tokio::spawn(commit_loop(
            orderer.clone(),
            vec![Arc::clone(&org1_ledger), Arc::clone(&org2_ledger)],
            height_tx,
        ));

        let gateway = GatewayService::new(Arc::clone(&peer) as _, options.gateway.clone());
        let (gateway_listener, gateway_addr) = listener().await;
        let (gateway_stop, gateway_stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(gateway.clone().into_server())
                .serve_with_incoming_shutdown(
                    TcpIncoming::from(gateway_listener).with_nodelay(Some(true)),
                    async {
                        let _ = gateway_stopped.await;
                    },
                ),
        );
        let client = GatewayClient::connect(format!("http://{gateway_addr}"))
            .await
            .expect("gateway client connects");
        Net {
            _dir: dir,
            peer,
            gateway,
            client,
            org2_addr: org2_addr.to_string(),
            orderer_addr,
            _orderer: orderer,
            _orderer_server: orderer_server,
            org2_stop: Some((org2_stop, org2_task)),
            _gateway_stop: gateway_stop,
        }
    }

    /// Stops Org2's endorser.
    /// Stops Org2's peer and waits until its server has closed its connections, so the next
    /// call cannot reach it on a connection the gateway already holds.
    pub(crate) async fn stop_org2(&mut self) {
        if let Some((stop, task)) = self.org2_stop.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
    }

    /// Replaces the channel config the gateway sees.
    pub(crate) fn set_config(&self, config: ChannelConfig) {
        *self.peer.config.lock().unwrap() = Arc::new(config);
    }

    /// The committed height of Org1's ledger.
    pub(crate) fn height(&self) -> u64 {
        self.peer.ledger.snapshot().unwrap().height().unwrap()
    }
}

/// Pulls blocks from the orderer node, validates them against Org1's ledger and commits them
/// to every ledger.
async fn commit_loop(orderer: OrdererNode, ledgers: Vec<Arc<Ledger>>, height: watch::Sender<u64>) {
    let m = material();
    let mut table = PolicyTable::new();
    for (name, policy) in policies() {
        table.insert(&name, policy);
    }
    let mut next = 0u64;
    loop {
        let bytes = match orderer.block(CHANNEL, next) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            Err(_) => return,
        };
        let block = Block::decode(&bytes).expect("orderer block decodes");
        for ledger in &ledgers {
            let snapshot = ledger.snapshot().expect("snapshot");
            let validation = validate_block(
                &block,
                &m.config,
                &table,
                &snapshot,
                &ValidationOptions::at(now_seconds()),
            )
            .expect("block validates");
            ledger
                .commit_block(&validation.into_commit(block.clone()))
                .expect("block commits");
        }
        next += 1;
        if height.send(next).is_err() {
            return;
        }
    }
}

static NONCE: AtomicU64 = AtomicU64::new(1);

/// A signed proposal of `args` to `chaincode` on `channel` by `client`, with a fresh nonce.
pub(crate) fn proposal_on(
    client: &SigningIdentity,
    channel: &str,
    chaincode: &str,
    args: &[&str],
    transient: &[(&str, &[u8])],
) -> (String, SignedProposal) {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    let mut nonce = vec![0u8; 24];
    nonce[..8].copy_from_slice(&n.to_be_bytes());
    nonce[8..16].copy_from_slice(&(now_seconds() as u64).to_be_bytes());
    let parts = ProposalParts {
        channel_id: channel.to_owned(),
        chaincode_name: chaincode.to_owned(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        transient: transient
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        creator: encode_serialized_identity(&client.serialized()),
        nonce,
        timestamp: Timestamp {
            seconds: now_seconds(),
            nanos: 0,
        },
    };
    let unsigned = build_proposal(&parts);
    let signature = client.sign(&unsigned.proposal_bytes).expect("sign");
    (
        unsigned.tx_id,
        SignedProposal {
            proposal_bytes: unsigned.proposal_bytes,
            signature,
        },
    )
}

/// A signed proposal by Org1's client on [`CHANNEL`].
pub(crate) fn proposal(chaincode: &str, args: &[&str]) -> (String, SignedProposal) {
    proposal_on(&material().org1_client, CHANNEL, chaincode, args, &[])
}

/// Endorses, signs and submits `args` on `chaincode` as Org1's client; returns the tx ID.
pub(crate) async fn submit(
    client: &mut GatewayClient<Channel>,
    chaincode: &str,
    args: &[&str],
) -> String {
    let (tx_id, signed) = proposal(chaincode, args);
    let endorsed = client
        .endorse(EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: CHANNEL.into(),
            proposed_transaction: Some(signed),
            endorsing_organizations: Vec::new(),
        })
        .await
        .expect("endorsed")
        .into_inner();
    let mut envelope = endorsed
        .prepared_transaction
        .expect("a prepared transaction");
    envelope.signature = material()
        .org1_client
        .sign(&envelope.payload)
        .expect("sign");
    client
        .submit(SubmitRequest {
            transaction_id: tx_id.clone(),
            channel_id: CHANNEL.into(),
            prepared_transaction: Some(envelope),
        })
        .await
        .expect("submitted");
    tx_id
}

/// A signed commit status request for `tx_id` by `client`.
pub(crate) fn commit_status_request(
    client: &SigningIdentity,
    channel: &str,
    tx_id: &str,
) -> SignedCommitStatusRequest {
    let request = CommitStatusRequest {
        transaction_id: tx_id.into(),
        channel_id: channel.into(),
        identity: encode_serialized_identity(&client.serialized()),
    }
    .encode_to_vec();
    SignedCommitStatusRequest {
        signature: client.sign(&request).expect("sign"),
        request,
    }
}

/// [`submit`], then waits until the transaction commits VALID.
pub(crate) async fn submit_committed(
    client: &mut GatewayClient<Channel>,
    chaincode: &str,
    args: &[&str],
) -> String {
    let tx_id = submit(client, chaincode, args).await;
    let status = client
        .commit_status(commit_status_request(
            &material().org1_client,
            CHANNEL,
            &tx_id,
        ))
        .await
        .expect("commit status")
        .into_inner();
    assert_eq!(status.result, 0, "{chaincode} {args:?} commits VALID");
    tx_id
}
