//! `cambium up`: the development network in one process. One Raft orderer and one peer per
//! organisation on loopback, created on the first start and resumed from the data directory on
//! later ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cambium_orderer::node::NodeTls;
use cambium_orderer::{config as orderer_config, NodeConfig, OrdererNode, Server};
use cambium_peer::cambium_ops::{self, LogControl, OpsConfig, OpsServer};
use cambium_peer::{
    CommitterState, Peer, PeerConfig, PeerHandle, PeerPlugins, TlsSection, VM_CACHE_DIR,
};
use cambium_tls::{TlsIdentity, TlsRoots};
use cambium_vm::{Vm, VmConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{NodeError, Result};
use crate::monitoring::{write_prometheus, ScrapeTarget, PROMETHEUS_FILE};
use crate::network::{describe_ports, Network, PeerSpec};
use crate::ports::{endpoint, socket, Ports};
use crate::profile::ConnectionProfile;

/// What `cambium up` starts.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Ports for a new network; `None` means the defaults (or, on resume, the recorded ones).
    pub ports: Option<Ports>,
    /// The orderer cuts a block at once when none is in flight (its `cutWhenIdle`); `false`
    /// waits for the batch timeout or a full batch, as Fabric does.
    pub cut_when_idle: bool,
    /// The process's log filter, which every node's operations endpoint serves on
    /// `/logspec`; `None`: `/logspec` answers 404.
    pub log: Option<LogControl>,
}

/// A running development network. Stop it with [`DevNetwork::stop`].
pub struct DevNetwork {
    network: Network,
    profile: ConnectionProfile,
    created: bool,
    orderer: OrdererNode,
    orderer_server: Server,
    orderer_ops: OpsServer,
    admin: JoinHandle<()>,
    peers: Vec<(String, PeerHandle)>,
}

impl std::fmt::Debug for DevNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevNetwork")
            .field("root", &self.network.root)
            .field("ports", &self.network.state.ports)
            .finish_non_exhaustive()
    }
}

impl DevNetwork {
    /// Creates the network on the first start (crypto, channel, profile) or reopens it, checks
    /// that its ports are free, and starts the orderer and the peers. Returns once every node
    /// listens; [`DevNetwork::wait_ready`] waits until transactions are accepted.
    pub async fn start(options: &UpOptions) -> Result<DevNetwork> {
        // Check requested ports before anything is written, recorded ones after reading them.
        if let Some(ports) = options.ports {
            ports.check_free()?;
        }
        let (network, created) = Network::open_or_create(&options.data_dir, options.ports, true)?;
        let ports = network.state.ports;
        if options.ports.is_none() {
            ports.check_free()?;
        }
        // The profile first: commands can find the network even while it starts.
        let profile = ConnectionProfile::for_network(&network)?;
        profile.write(&network.root)?;
        let orderer_org = network.orderer_org();
        let orderer_identity = orderer_org.nodes.first().ok_or_else(|| {
            NodeError::data_dir(&network.root, "the crypto material has no orderer node")
        })?;
        // Where Prometheus finds the operations endpoints (their ports may move between starts).
        let orderer_target = ScrapeTarget {
            node: orderer_identity.name.clone(),
            msp_id: orderer_org.msp_id.clone(),
            address: endpoint(ports.orderer_ops),
        };
        let peer_targets: Vec<ScrapeTarget> = network
            .peers()
            .into_iter()
            .map(|p| ScrapeTarget {
                node: p.name,
                msp_id: p.msp_id,
                address: endpoint(p.ops_port),
            })
            .collect();
        write_prometheus(&network.root, &[orderer_target], &peer_targets)?;
        let signer =
            cambium_msp::load_signing_identity(&orderer_identity.msp_dir, &orderer_org.msp_id)?;
        // Every organisation's TLS CA: who may connect to a node at all (clients may also
        // come without a certificate; node-to-node connections present theirs).
        let tls_cas: Vec<PathBuf> = network
            .crypto
            .orgs
            .iter()
            .map(|o| o.tls_ca.cert.clone())
            .collect();
        let tls = if network.state.tls {
            Some(NodeTls {
                identity: TlsIdentity::load(&orderer_identity.tls_cert, &orderer_identity.tls_key)
                    .map_err(|e| NodeError::data_dir(&network.root, format!("orderer TLS: {e}")))?,
                client_roots: TlsRoots::load(&tls_cas)
                    .map_err(|e| NodeError::data_dir(&network.root, format!("TLS CAs: {e}")))?,
                client_auth_required: false,
            })
        } else {
            None
        };
        let orderer = OrdererNode::with_tls(
            NodeConfig {
                data_dir: network.orderer_dir(),
                advertised_address: endpoint(ports.orderer),
                cut_when_idle: options.cut_when_idle,
            },
            signer,
            tls,
        );
        let listener = bind(ports.orderer, "--orderer-port").await?;
        let admin_listener = bind(ports.admin, "--admin-port").await?;
        let orderer_server = orderer.serve(listener)?;
        let rejoined = orderer_config::rejoin_channels(&orderer).await?;
        if !rejoined.contains(&network.state.channel) {
            orderer_config::join_from_block(&orderer, &network.genesis_block()?).await?;
        }
        let admin = cambium_orderer::admin::serve(orderer.clone(), admin_listener);
        let orderer_ops = match cambium_ops::serve(
            &OpsConfig::new(&endpoint(ports.orderer_ops)),
            Arc::new(orderer_config::operations(&orderer, options.log.clone())),
        )
        .await
        {
            Ok(ops) => ops,
            Err(e) => {
                admin.abort();
                orderer_server.stop().await;
                orderer.shutdown().await;
                return Err(ops_error(e, &ports, ports.orderer_ops));
            }
        };
        let genesis = network.genesis_block()?;
        // One contract engine for the process (the house rule), with one compile cache, so a
        // package installed on both peers is compiled once.
        let vm = Arc::new(
            Vm::new(VmConfig {
                cache_dir: Some(network.root.join(VM_CACHE_DIR)),
                ..VmConfig::default()
            })
            .map_err(|e| NodeError::Rejected(format!("starting the contract engine: {e}")))?,
        );
        let mut peers = Vec::new();
        for spec in network.peers() {
            let started = start_peer(&network, &spec, &tls_cas, &genesis, &vm, &options.log).await;
            match started {
                Ok(handle) => peers.push((spec.name.clone(), handle)),
                Err(e) => {
                    for (_, p) in peers {
                        p.shutdown().await;
                    }
                    admin.abort();
                    orderer_ops.shutdown().await;
                    orderer_server.stop().await;
                    orderer.shutdown().await;
                    return Err(e);
                }
            }
        }
        tracing::info!(data_dir = %network.root.display(), created, ports = %describe_ports(&ports), "network started");
        Ok(DevNetwork {
            network,
            profile,
            created,
            orderer,
            orderer_server,
            orderer_ops,
            admin,
            peers,
        })
    }

    /// Waits until the network accepts transactions: the orderer has a Raft leader for the
    /// channel and every peer has joined it.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let channel = &self.network.state.channel;
        loop {
            let waiting = self.not_ready(channel)?;
            let Some(waiting) = waiting else {
                return Ok(());
            };
            if started.elapsed() > timeout {
                return Err(NodeError::Timeout {
                    what: waiting,
                    seconds: timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the network still waits for, or `None` when it accepts transactions.
    fn not_ready(&self, channel: &str) -> Result<Option<String>> {
        if self.orderer.channel(channel)?.leader.is_none() {
            return Ok(Some(format!(
                "the orderer to elect a leader for '{channel}'"
            )));
        }
        for (name, peer) in &self.peers {
            let status = peer.node().committer_status();
            let Some(status) = status.iter().find(|s| s.channel_id == channel) else {
                return Ok(Some(format!("{name} to join '{channel}'")));
            };
            match &status.state {
                CommitterState::Receiving { .. } => {}
                CommitterState::Stalled { reason } => {
                    return Err(NodeError::Rejected(format!(
                        "{name} cannot commit blocks of '{channel}': {reason}"
                    )))
                }
                other => {
                    return Ok(Some(format!(
                        "{name} to receive blocks of '{channel}' from the orderer (now: {other:?})"
                    )))
                }
            }
        }
        Ok(None)
    }

    /// The running peers by name.
    pub fn peers(&self) -> impl Iterator<Item = (&str, &PeerHandle)> {
        self.peers.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// The network's data directory and state.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The connection profile written into the data directory.
    pub fn profile(&self) -> &ConnectionProfile {
        &self.profile
    }

    /// Whether this start created the network (rather than resuming it).
    pub fn created(&self) -> bool {
        self.created
    }

    /// What a person needs to use the network: endpoints, identities, the next command.
    pub fn summary(&self) -> String {
        let n = &self.network;
        let mut text = String::new();
        let verb = if self.created { "created" } else { "resumed" };
        text.push_str(&format!(
            "Cambium network {verb} in {}\n  channel  {}\n",
            n.root.display(),
            n.state.channel
        ));
        for (name, node) in &self.profile.orderers {
            text.push_str(&format!("  orderer  {} ({name})\n", node.url));
        }
        text.push_str(&format!(
            "  admin    http://{} (channel participation)\n",
            endpoint(n.state.ports.admin)
        ));
        for (name, node) in &self.profile.peers {
            text.push_str(&format!("  peer     {} ({name})\n", node.url));
        }
        let mut ops = vec![format!(
            "http://{} (orderer)",
            endpoint(n.state.ports.orderer_ops)
        )];
        for spec in n.peers() {
            ops.push(format!("http://{} ({})", endpoint(spec.ops_port), spec.org));
        }
        text.push_str(&format!(
            "Operations (/healthz, /metrics, /logspec): {}\n  Prometheus scrape config: {}\n",
            ops.join(", "),
            n.root.join(PROMETHEUS_FILE).display()
        ));
        text.push_str(&format!(
            "Connection profile: {} (and .yaml)\nClient identities: {}/peerOrganizations/<org>/users/{{Admin,User1}}@<org>/msp\n",
            n.profile_json_path().display(),
            n.crypto.out_dir.display()
        ));
        text.push_str(&format!(
            "Deploy the sample: cambium contract deploy contracts/asset-transfer --name basic --data-dir {}\n",
            n.root.display()
        ));
        text
    }

    /// Stops every node; the data stays on disk for the next start.
    pub async fn stop(self) {
        for (_, peer) in self.peers {
            peer.shutdown().await;
        }
        self.admin.abort();
        self.orderer_ops.shutdown().await;
        self.orderer_server.stop().await;
        self.orderer.shutdown().await;
        tracing::info!("network stopped");
    }
}

async fn bind(port: u16, flag: &'static str) -> Result<TcpListener> {
    TcpListener::bind(socket(port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            NodeError::PortInUse { port, flag }
        } else {
            NodeError::io("listening on", format!("127.0.0.1:{port}"), e)
        }
    })
}

/// An operations endpoint that did not start: a taken port names the flag that moves it.
fn ops_error(e: cambium_ops::OpsError, ports: &Ports, port: u16) -> NodeError {
    match e {
        cambium_ops::OpsError::Bind { source, .. }
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            NodeError::PortInUse {
                port,
                flag: ports.flag_of(port),
            }
        }
        e => NodeError::Rejected(format!("operations endpoint on port {port}: {e}")),
    }
}

/// Starts one peer (TLS with the network's CAs, its ledger under the data directory, its
/// operations endpoint) and joins it to the channel unless it reopened the channel from its
/// ledger.
async fn start_peer(
    network: &Network,
    spec: &PeerSpec,
    tls_cas: &[PathBuf],
    genesis: &[u8],
    vm: &Arc<Vm>,
    log: &Option<LogControl>,
) -> Result<PeerHandle> {
    let org = network.crypto.org(&spec.msp_id).ok_or_else(|| {
        NodeError::data_dir(
            &network.root,
            format!("no crypto material for {}", spec.msp_id),
        )
    })?;
    let node = org
        .nodes
        .iter()
        .find(|n| n.name == spec.name)
        .ok_or_else(|| {
            NodeError::data_dir(
                &network.root,
                format!("no crypto material for {}", spec.name),
            )
        })?;
    let mut config = PeerConfig::new(network.peer_dir(&spec.name), &node.msp_dir, &spec.msp_id);
    config.listen_address = endpoint(spec.port);
    config.external_address = Some(endpoint(spec.port));
    config.operations = Some(OpsConfig::new(&endpoint(spec.ops_port)));
    // Both peers validate every block, at the same time, in this one process: each takes its
    // share of the cores rather than all of them.
    config.limits.validator_threads = std::thread::available_parallelism()
        .map_or(1, |n| (n.get() / network.peers().len().max(1)).max(1));
    if network.state.tls {
        config.tls = TlsSection {
            enabled: true,
            cert: Some(node.tls_cert.clone()),
            key: Some(node.tls_key.clone()),
            client_root_cas: tls_cas.to_vec(),
            client_auth_required: false,
        };
    }
    let ports = network.state.ports;
    let taken = |port: u16| NodeError::PortInUse {
        port,
        flag: ports.flag_of(port),
    };
    let peer_err = |e: cambium_peer::PeerNodeError| match e {
        e if e.to_string().contains("cannot listen for operations") => taken(spec.ops_port),
        e if e.to_string().contains("in use") => taken(spec.port),
        e => NodeError::Rejected(format!("{}: {e}", spec.name)),
    };
    let plugins = PeerPlugins {
        vm: Some(Arc::clone(vm)),
        log: log.clone(),
        ..PeerPlugins::default()
    };
    let handle = Peer::start_with(config, plugins).await.map_err(peer_err)?;
    if !handle.node().channel_ids().contains(&network.state.channel) {
        handle.join_channel(genesis).await.map_err(peer_err)?;
    }
    Ok(handle)
}
