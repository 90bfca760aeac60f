//! `cambium up`: the development network in one process. One Raft orderer and one peer per
//! organisation on loopback, created on the first start and resumed from the data directory on
//! later ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cambium_orderer::{config as orderer_config, NodeConfig, OrdererNode, Server};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{NodeError, Result};
use crate::network::{describe_ports, Network};
use crate::ports::{endpoint, socket, Ports};
use crate::profile::ConnectionProfile;

/// What `cambium up` starts.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Ports for a new network; `None` means the defaults (or, on resume, the recorded ones).
    pub ports: Option<Ports>,
}

/// A running development network. Stop it with [`DevNetwork::stop`].
pub struct DevNetwork {
    network: Network,
    profile: ConnectionProfile,
    created: bool,
    orderer: OrdererNode,
    orderer_server: Server,
    admin: JoinHandle<()>,
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
        let (network, created) = Network::open_or_create(&options.data_dir, options.ports, false)?;
        let ports = network.state.ports;
        ports.check_free()?;
        let orderer_org = network.orderer_org();
        let orderer_identity = orderer_org.nodes.first().ok_or_else(|| {
            NodeError::data_dir(&network.root, "the crypto material has no orderer node")
        })?;
        let signer =
            cambium_msp::load_signing_identity(&orderer_identity.msp_dir, &orderer_org.msp_id)?;
        let orderer = OrdererNode::new(
            NodeConfig {
                data_dir: network.orderer_dir(),
                advertised_address: endpoint(ports.orderer),
            },
            signer,
        );
        let listener = bind(ports.orderer, "--orderer-port").await?;
        let admin_listener = bind(ports.admin, "--admin-port").await?;
        let orderer_server = orderer.serve(listener)?;
        let rejoined = orderer_config::rejoin_channels(&orderer).await?;
        if !rejoined.contains(&network.state.channel) {
            orderer_config::join_from_block(&orderer, &network.genesis_block()?).await?;
        }
        let admin = cambium_orderer::admin::serve(orderer.clone(), admin_listener);
        let profile = ConnectionProfile::for_network(&network)?;
        profile.write(&network.root)?;
        tracing::info!(data_dir = %network.root.display(), created, ports = %describe_ports(&ports), "network started");
        Ok(DevNetwork {
            network,
            profile,
            created,
            orderer,
            orderer_server,
            admin,
        })
    }

    /// Waits until the network accepts transactions: the orderer has a Raft leader for the
    /// channel and every peer has joined it.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let channel = &self.network.state.channel;
        loop {
            let info = self.orderer.channel(channel)?;
            if info.leader.is_some() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(NodeError::Timeout {
                    what: format!("the orderer to elect a leader for '{channel}'"),
                    seconds: timeout.as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
        self.admin.abort();
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
