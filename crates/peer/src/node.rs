//! Starting and stopping a peer: the signing identity, the endorser, one ledger and committer
//! per joined channel, and one gRPC server for `protos.Endorser`, `protos.Deliver` and the
//! Gateway.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use cambium_channel::ChannelConfig;
use cambium_endorser::{
    ContractRegistry, DirPackageStore, Endorser, EndorserChannel, EndorserService,
    LifecycleRegistry, PeerLifecycle, StaticRegistry,
};
use cambium_gateway::PeerContext;
use cambium_ledger::{
    Block, BlockCommit, BlockReader, BlockWriter, Ledger, SnapshotSource, StateReader, TxOutcome,
};
use cambium_msp::SigningIdentity;
use cambium_ops::{HealthRegistry, LogControl, Metrics, Operations, OpsServer};
use cambium_primitives::TxValidationCode;
use cambium_validator::{EndorsementPolicies, LifecyclePolicies, PolicyTable};
use cambium_vm::{Vm, VmConfig};
use cambium_wire::peer::deliver_server::DeliverServer;
use cambium_wire::peer::endorser_server::EndorserServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;

use crate::channel::{ChannelState, CommitterStatus};
use crate::committer;
use crate::config::PeerConfig;
use crate::deliver::DeliverService;
use crate::error::{PeerNodeError, Result};
use crate::ops::{register_channel_checks, EndorsementMetrics, MeteredEndorser, MeteredGateway};
use crate::tls;

/// Name of the folder under the data folder that holds one ledger folder per channel.
pub const LEDGERS_DIR: &str = "ledgers";
/// Name of the folder under the data folder that holds installed packages (by default).
pub const PACKAGES_DIR: &str = "packages";
/// Name of the folder under the data folder where compiled contract modules are cached.
pub const VM_CACHE_DIR: &str = "vm-cache";

/// Where a channel's endorsement policies come from: given the channel and its committed
/// state at a block, the policies in force. The committer asks for them once per block over
/// the snapshot it validates against; the Gateway asks through [`PeerContext`].
pub trait PolicySource: Send + Sync + 'static {
    /// The endorsement policies of `channel_id` as `state` records them.
    fn policies<'a>(
        &self,
        channel_id: &str,
        state: &'a (dyn StateReader + Sync),
    ) -> Box<dyn EndorsementPolicies + 'a>;
}

/// A fixed table: the same policies on every channel, whatever the state.
impl PolicySource for PolicyTable {
    fn policies<'a>(
        &self,
        _channel_id: &str,
        _state: &'a (dyn StateReader + Sync),
    ) -> Box<dyn EndorsementPolicies + 'a> {
        Box::new(self.clone())
    }
}

/// The policies of the contract definitions committed through `_lifecycle`
/// ([`LifecyclePolicies`]): the peer's default.
#[derive(Clone, Copy, Debug, Default)]
pub struct LifecyclePolicySource;

impl PolicySource for LifecyclePolicySource {
    fn policies<'a>(
        &self,
        _channel_id: &str,
        state: &'a (dyn StateReader + Sync),
    ) -> Box<dyn EndorsementPolicies + 'a> {
        Box::new(LifecyclePolicies::new(state))
    }
}

/// Which contracts a channel's endorser can run.
pub trait ContractSource: Send + Sync + 'static {
    /// The registry of `channel_id`.
    fn contracts(&self, channel_id: &str) -> Arc<dyn ContractRegistry>;
}

/// The same fixed contracts on every channel.
impl ContractSource for StaticRegistry {
    fn contracts(&self, _channel_id: &str) -> Arc<dyn ContractRegistry> {
        Arc::new(self.clone())
    }
}

impl<F> ContractSource for F
where
    F: Fn(&str) -> Arc<dyn ContractRegistry> + Send + Sync + 'static,
{
    fn contracts(&self, channel_id: &str) -> Arc<dyn ContractRegistry> {
        self(channel_id)
    }
}

/// Mounts a Gateway service on the peer's server instead of the built-in one, given the peer
/// as a [`PeerContext`] (for example a gateway with custom options).
pub type GatewayMount = Arc<dyn Fn(Arc<dyn PeerContext>, &mut RoutesBuilder) + Send + Sync>;

/// The parts of a peer that are not configuration: the VM, the contracts, the
/// endorsement-policy source and the Gateway mount. The default runs contracts as
/// `_lifecycle` defines them.
#[derive(Clone, Default)]
pub struct PeerPlugins {
    /// The contract VM (one engine per process); `None`: a VM with default settings that
    /// caches compiled modules in `<data>/vm-cache`.
    pub vm: Option<Arc<Vm>>,
    /// The contracts each channel's endorser runs; `None`: the committed `_lifecycle`
    /// definitions with this org's approved packages ([`LifecycleRegistry`]).
    pub contracts: Option<Arc<dyn ContractSource>>,
    /// The endorsement policies the committer validates with; `None`:
    /// [`LifecyclePolicySource`].
    pub policies: Option<Arc<dyn PolicySource>>,
    /// Mounts the Gateway service; `None`: [`cambium_gateway::GatewayService`] with the
    /// `gateway` section of the configuration (unless it is disabled there).
    pub gateway: Option<GatewayMount>,
    /// The process's log filter, which the operations endpoint's `/logspec` reads and changes
    /// (see [`cambium_ops::init_logging`]); `None`: `/logspec` answers 404.
    pub log: Option<LogControl>,
}

impl std::fmt::Debug for PeerPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerPlugins")
            .field("vm", &self.vm.is_some())
            .field("contracts", &self.contracts.is_some())
            .field("policies", &self.policies.is_some())
            .field("gateway", &self.gateway.is_some())
            .field("log", &self.log)
            .finish()
    }
}

/// What every part of a running peer shares.
pub(crate) struct Shared {
    pub(crate) config: PeerConfig,
    pub(crate) signer: Arc<SigningIdentity>,
    pub(crate) endorser: Arc<Endorser>,
    pub(crate) contracts: Arc<dyn ContractSource>,
    pub(crate) policies: Arc<dyn PolicySource>,
    pub(crate) gateway: Option<GatewayMount>,
    /// The installed packages `_lifecycle` installs into.
    pub(crate) packages: Arc<DirPackageStore>,
    pub(crate) orderer_tls: Option<tls::OrdererTls>,
    /// The client CAs the TLS listener trusts; each channel's config adds its TLS CAs.
    client_trust: Option<cambium_tls::TlsTrust>,
    /// What the operations endpoint reports.
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: HealthRegistry,
    channels: RwLock<BTreeMap<String, Arc<ChannelState>>>,
    pub(crate) stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn channel(&self, id: &str) -> Option<Arc<ChannelState>> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Hands a channel's new configuration to the endorser (the committer, Deliver and the
    /// Gateway read it from the channel state).
    pub(crate) fn apply_config(&self, channel: &ChannelState, config: ChannelConfig) {
        tls::trust_channel(self.client_trust.as_ref(), &channel.id, &config);
        let config = Arc::new(config);
        channel.set_config(Arc::clone(&config));
        self.endorser.add_channel(EndorserChannel {
            config,
            ledger: Arc::clone(&channel.ledger) as Arc<dyn cambium_endorser::LedgerSource>,
            contracts: self.contracts.contracts(&channel.id),
        });
    }

    fn ledger_dir(&self, channel_id: &str) -> PathBuf {
        self.config.data_dir.join(LEDGERS_DIR).join(channel_id)
    }

    /// Registers an opened channel and starts its committer.
    fn open_channel(self: &Arc<Self>, id: &str, ledger: Ledger) -> Result<Arc<ChannelState>> {
        let ledger = Arc::new(ledger);
        let snapshot = ledger
            .snapshot()
            .map_err(|e| PeerNodeError::ledger(id, e))?;
        let height = snapshot
            .height()
            .map_err(|e| PeerNodeError::ledger(id, e))?;
        let config = current_config(id, &snapshot, height)?;
        drop(snapshot);
        let state = Arc::new(ChannelState::new(id, ledger, config.clone(), height));
        {
            let mut channels = self
                .channels
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if channels.contains_key(id) {
                return Err(PeerNodeError::AlreadyJoined(id.to_owned()));
            }
            channels.insert(id.to_owned(), Arc::clone(&state));
        }
        self.apply_config(&state, config);
        register_channel_checks(&self.health, &state);
        self.metrics.set_height(id, height);
        let task = tokio::spawn(committer::run(Arc::clone(self), Arc::clone(&state)));
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
        tracing::info!(channel = id, height, "channel opened");
        Ok(state)
    }
}

/// The channel configuration in force after the ledger's last block: the config block that
/// the last block's `LAST_CONFIG` points to, or the genesis block.
fn current_config(id: &str, snapshot: &impl BlockReader, height: u64) -> Result<ChannelConfig> {
    let read = |n: u64| -> Result<Vec<u8>> {
        snapshot
            .block(n)
            .map_err(|e| PeerNodeError::ledger(id, e))?
            .map(|b| b.bytes)
            .ok_or_else(|| {
                PeerNodeError::Channel(format!(
                    "block {n} of channel '{id}' is missing; the ledger is damaged, remove {LEDGERS_DIR}/{id} and join again"
                ))
            })
    };
    let tip = Block::decode(&read(height - 1)?).map_err(|e| PeerNodeError::ledger(id, e))?;
    let last_config = if tip.number == 0 {
        0
    } else {
        cambium_orderer::block_signatures(&tip)
            .map(|s| s.last_config)
            .unwrap_or(0)
    };
    match ChannelConfig::from_config_block(&read(last_config)?) {
        Ok(config) => Ok(config),
        Err(e) if last_config != 0 => {
            tracing::warn!(channel = id, last_config, error = %e, "LAST_CONFIG does not name a config block; using the genesis configuration");
            ChannelConfig::from_config_block(&read(0)?)
                .map_err(|e| PeerNodeError::Channel(format!("channel '{id}': {e}")))
        }
        Err(e) => Err(PeerNodeError::Channel(format!(
            "channel '{id}' genesis block: {e}"
        ))),
    }
}

/// A running peer. Cheap to clone; implements [`PeerContext`] for the Gateway.
#[derive(Clone)]
pub struct PeerNode {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for PeerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerNode")
            .field("msp_id", &self.shared.config.msp.id)
            .field("channels", &self.channel_ids())
            .finish_non_exhaustive()
    }
}

impl PeerNode {
    /// The channels this peer has joined, in order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.shared
            .channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Every channel's committer status, by channel.
    pub fn committer_status(&self) -> Vec<CommitterStatus> {
        self.shared
            .channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|c| c.status())
            .collect()
    }

    /// The ledger of a joined channel.
    pub fn ledger(&self, channel_id: &str) -> Option<Arc<Ledger>> {
        self.shared
            .channel(channel_id)
            .map(|c| Arc::clone(&c.ledger))
    }

    /// The metrics this peer records (what `/metrics` serves).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The health checks of this peer (what `/healthz` runs); more can be registered.
    pub fn health(&self) -> &HealthRegistry {
        &self.shared.health
    }

    /// The peer's signing identity.
    pub fn signer(&self) -> &Arc<SigningIdentity> {
        &self.shared.signer
    }

    /// The packages installed on this peer (what `_lifecycle` install writes).
    pub fn packages(&self) -> &Arc<DirPackageStore> {
        &self.shared.packages
    }

    /// Joins a channel from its genesis block: creates `<data>/ledgers/<channel>`, commits
    /// the genesis block as it is and starts pulling blocks from the channel's orderers. The
    /// ledger folder is what makes the join last: a restart reopens every channel there.
    pub async fn join_channel(&self, genesis_block: &[u8]) -> Result<String> {
        let (id, block) = genesis(genesis_block)?;
        if self.shared.channel(&id).is_some() {
            return Err(PeerNodeError::AlreadyJoined(id));
        }
        let dir = self.shared.ledger_dir(&id);
        let shared = Arc::clone(&self.shared);
        let channel = id.clone();
        let options = self.shared.config.ledger.options();
        let ledger =
            tokio::task::spawn_blocking(move || create_ledger(&dir, &channel, block, options))
                .await
                .map_err(|e| {
                    PeerNodeError::Channel(format!("joining the channel failed to run: {e}"))
                })??;
        shared.open_channel(&id, ledger)?;
        Ok(id)
    }

    /// Reopens every channel found in the data folder (at start).
    fn rejoin_channels(&self) -> Result<Vec<String>> {
        let dir = self.shared.config.data_dir.join(LEDGERS_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        paths.sort();
        let mut names = Vec::new();
        for path in paths {
            let Some(id) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let ledger = Ledger::open_with(&path, self.shared.config.ledger.options())
                .map_err(|e| PeerNodeError::ledger(&id, e))?;
            let height = ledger
                .snapshot()
                .and_then(|s| s.height())
                .map_err(|e| PeerNodeError::ledger(&id, e))?;
            if height == 0 {
                tracing::warn!(channel = %id, path = %path.display(), "ledger folder without a genesis block; join the channel again");
                continue;
            }
            self.shared.open_channel(&id, ledger)?;
            names.push(id);
        }
        Ok(names)
    }
}

/// Starts peers.
#[derive(Debug)]
pub struct Peer;

impl Peer {
    /// Starts a peer with default plugins (no contracts; see [`Peer::start_with`]).
    pub async fn start(config: PeerConfig) -> Result<PeerHandle> {
        Peer::start_with(config, PeerPlugins::default()).await
    }

    /// Starts a peer: loads its identity and TLS material, reopens the channels in its data
    /// folder, and serves gRPC on `config.listen_address` (port 0 picks a free port).
    pub async fn start_with(config: PeerConfig, plugins: PeerPlugins) -> Result<PeerHandle> {
        config.check()?;
        let signer = cambium_msp::load_signing_identity(&config.msp.dir, &config.msp.id).map_err(
            |source| PeerNodeError::Identity {
                dir: config.msp.dir.clone(),
                source,
            },
        )?;
        let signer = Arc::new(signer);
        let server_tls = tls::server_config(&config.tls)?;
        let orderer_tls = tls::orderer_tls(&config)?;
        let vm = match &plugins.vm {
            Some(vm) => Arc::clone(vm),
            None => {
                let vm_config = VmConfig {
                    cache_dir: Some(config.data_dir.join(VM_CACHE_DIR)),
                    ..VmConfig::default()
                };
                Arc::new(Vm::new(vm_config).map_err(|e| PeerNodeError::Vm(e.to_string()))?)
            }
        };
        let packages_dir = config
            .packages_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join(PACKAGES_DIR));
        let packages = Arc::new(
            DirPackageStore::open(&packages_dir, Arc::clone(&vm)).map_err(|e| {
                PeerNodeError::Config(format!(
                    "the package folder {}: {e}",
                    packages_dir.display()
                ))
            })?,
        );
        let local_msp = cambium_msp::MspConfig::from_dir(&config.msp.dir, &config.msp.id)
            .and_then(|c| cambium_msp::Msp::new(&c))
            .map_err(|source| PeerNodeError::Identity {
                dir: config.msp.dir.clone(),
                source,
            })?;
        let endorser = Arc::new(Endorser::new(vm, Arc::clone(&signer)));
        endorser.set_lifecycle(PeerLifecycle {
            local_msp: Arc::new(local_msp),
            packages: Arc::clone(&packages) as Arc<dyn cambium_lifecycle::PackageStore>,
        });
        let contracts: Arc<dyn ContractSource> = match &plugins.contracts {
            Some(c) => Arc::clone(c),
            None => {
                // A registry per channel ledger (asked for whenever a channel's configuration
                // is applied): it remembers what `_lifecycle` said at the ledger's height.
                let msp_id = config.msp.id.clone();
                let packages = Arc::clone(&packages);
                Arc::new(move |_: &str| {
                    Arc::new(LifecycleRegistry::new(&msp_id, Arc::clone(&packages)))
                        as Arc<dyn ContractRegistry>
                })
            }
        };
        let policies: Arc<dyn PolicySource> = plugins
            .policies
            .clone()
            .unwrap_or_else(|| Arc::new(LifecyclePolicySource));
        std::fs::create_dir_all(config.data_dir.join(LEDGERS_DIR)).map_err(|e| {
            PeerNodeError::io(
                "creating the data folder",
                config.data_dir.join(LEDGERS_DIR),
                e,
            )
        })?;
        let listen: SocketAddr = config.listen_address.parse().map_err(|e| {
            PeerNodeError::Config(format!("listenAddress '{}': {e}", config.listen_address))
        })?;
        let incoming = TcpIncoming::bind(listen)
            .map_err(|e| {
                PeerNodeError::Network(format!(
                    "cannot listen on {listen}: {e}; is another process using the port?"
                ))
            })?
            // `Server::tcp_nodelay` does not reach a listener handed in; without this, Nagle's
            // algorithm holds small replies back ~40 ms.
            .with_nodelay(Some(true));
        let local_addr = incoming
            .local_addr()
            .map_err(|e| PeerNodeError::Network(format!("reading the bound address: {e}")))?;
        let max = config.limits.max_message_bytes;
        let operations = Arc::new(Operations {
            log: plugins.log.clone(),
            ..Operations::new()
        });
        endorser.set_observer(Arc::new(EndorsementMetrics::new(Arc::clone(
            &operations.metrics,
        ))));
        let ops_server = match &config.operations {
            Some(ops_config) => Some(
                cambium_ops::serve(ops_config, Arc::clone(&operations))
                    .await
                    .map_err(|e| PeerNodeError::Config(format!("operations: {e}")))?,
            ),
            None => None,
        };
        let shared = Arc::new(Shared {
            config,
            signer,
            endorser: Arc::clone(&endorser),
            contracts,
            policies,
            gateway: plugins.gateway.clone(),
            packages,
            orderer_tls,
            client_trust: server_tls.as_ref().map(|t| t.trust().clone()),
            metrics: Arc::clone(&operations.metrics),
            health: operations.health.clone(),
            channels: RwLock::new(BTreeMap::new()),
            stop: watch::Sender::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let node = PeerNode {
            shared: Arc::clone(&shared),
        };
        let channels = node.rejoin_channels()?;

        let mut routes = RoutesBuilder::default();
        let endorser_service = Arc::new(MeteredEndorser::new(
            EndorserService::new(endorser),
            Arc::clone(&shared.metrics),
        ));
        routes.add_service(
            EndorserServer::from_arc(Arc::clone(&endorser_service))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        );
        routes.add_service(
            DeliverServer::new(DeliverService::new(Arc::clone(&shared)))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        );
        let external = shared
            .config
            .external_address
            .clone()
            .unwrap_or_else(|| local_addr.to_string());
        mount_gateway(
            &node,
            &mut routes,
            &external,
            tls::gateway_client(&shared.config)?,
        );

        let router = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            // Caliper's clients ping every 2 minutes even without calls; answer, never refuse.
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .add_routes(routes.routes());
        let mut stop_rx = shared.stop.subscribe();
        let stopped = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        // With TLS the peer terminates it itself, so that the client CAs follow the channels'
        // configs (tonic's own TLS settings take fixed CAs).
        let server = match server_tls {
            Some(tls) => {
                tokio::spawn(router.serve_with_incoming_shutdown(tls.incoming(incoming), stopped))
            }
            None => tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped)),
        };
        // Gateways in this process (another organisation's peer under `cambium up`) call
        // this Endorser service directly instead of over a loopback connection.
        let colocated = cambium_gateway::register_colocated_endorser(&external, endorser_service);
        tracing::info!(address = %local_addr, external = %external, channels = ?channels, msp = %shared.config.msp.id, operations = ?ops_server.as_ref().map(OpsServer::url), "peer started");
        Ok(PeerHandle {
            node,
            local_addr,
            external_address: external,
            server: Some(server),
            ops: ops_server,
            colocated: Some(colocated),
        })
    }
}

/// Mounts the Gateway service on the peer's routes: the plugin's mount if there is one,
/// else [`cambium_gateway::GatewayService`] configured from the `gateway` section.
fn mount_gateway(
    node: &PeerNode,
    routes: &mut RoutesBuilder,
    external_address: &str,
    tls: Option<cambium_gateway::TlsClientOptions>,
) {
    let context: Arc<dyn PeerContext> = Arc::new(node.clone());
    if let Some(mount) = &node.shared.gateway {
        mount(context, routes);
        return;
    }
    let section = &node.shared.config.gateway;
    if !section.enabled {
        return;
    }
    let options = cambium_gateway::GatewayOptions {
        endorsement_timeout: Duration::from_millis(section.endorsement_timeout_ms),
        broadcast_timeout: Duration::from_millis(section.broadcast_timeout_ms),
        dial_timeout: Duration::from_millis(section.dial_timeout_ms),
        concurrency_limit: section.concurrency_limit,
        local_address: external_address.to_owned(),
        tls,
        ..cambium_gateway::GatewayOptions::default()
    };
    routes.add_service(MeteredGateway::new(
        cambium_gateway::GatewayService::new(context, options).into_server(),
        Arc::clone(&node.shared.metrics),
    ));
}

/// A started peer: its address, channel join and shutdown.
pub struct PeerHandle {
    node: PeerNode,
    local_addr: SocketAddr,
    external_address: String,
    server: Option<JoinHandle<std::result::Result<(), tonic::transport::Error>>>,
    ops: Option<OpsServer>,
    /// This peer's Endorser service registered for gateways in this process; dropped when
    /// the peer stops.
    colocated: Option<cambium_gateway::ColocatedEndorser>,
}

impl std::fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerHandle")
            .field("local_addr", &self.local_addr)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl PeerHandle {
    /// The address the gRPC server is bound to (the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address others reach this peer at (`externalAddress`, else the bound address).
    pub fn external_address(&self) -> &str {
        &self.external_address
    }

    /// The address of the operations endpoint, if the configuration has one.
    pub fn operations_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().map(OpsServer::local_addr)
    }

    /// The running peer, e.g. as the Gateway's [`PeerContext`].
    pub fn node(&self) -> &PeerNode {
        &self.node
    }

    /// See [`PeerNode::join_channel`].
    pub async fn join_channel(&self, genesis_block: &[u8]) -> Result<String> {
        self.node.join_channel(genesis_block).await
    }

    /// Stops serving, stops every committer and ends every subscription; the data stays.
    pub async fn shutdown(mut self) {
        // From now on other gateways in this process reach this peer over the network, where
        // the stopping server refuses them.
        self.colocated = None;
        let shared = &self.node.shared;
        shared.stop.send_replace(true);
        let channels: Vec<Arc<ChannelState>> = shared
            .channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for channel in &channels {
            channel.close();
        }
        let tasks = std::mem::take(
            &mut *shared
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for mut task in tasks {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        if let Some(ops) = self.ops.take() {
            ops.shutdown().await;
        }
        for channel in channels {
            if let Err(e) = channel.ledger.sync() {
                tracing::warn!(channel = %channel.id, error = %e, "syncing the ledger at shutdown failed");
            }
        }
        tracing::info!(address = %self.local_addr, "peer stopped");
    }
}

/// Checks that `genesis_block` is a channel's block 0; returns the channel ID and the block.
fn genesis(genesis_block: &[u8]) -> Result<(String, Block)> {
    let config = ChannelConfig::from_config_block(genesis_block).map_err(|e| {
        PeerNodeError::Channel(format!(
            "the block is not a usable genesis block: {e}; pass the channel's block 0"
        ))
    })?;
    let block = Block::decode(genesis_block)
        .map_err(|e| PeerNodeError::Channel(format!("the genesis block does not decode: {e}")))?;
    if block.number != 0 {
        return Err(PeerNodeError::Channel(format!(
            "the block is block {} of channel '{}', not its genesis block; pass block 0",
            block.number,
            config.channel_id()
        )));
    }
    Ok((config.channel_id().to_owned(), block))
}

/// Opens (creating) the ledger folder `dir` of `channel` and commits the genesis block unless
/// it is already there; refuses a folder holding another genesis block.
fn create_ledger(
    dir: &Path,
    channel: &str,
    block: Block,
    options: cambium_ledger::LedgerOptions,
) -> Result<Ledger> {
    std::fs::create_dir_all(dir)
        .map_err(|e| PeerNodeError::io("creating the ledger folder", dir, e))?;
    let ledger = Ledger::open_with(dir, options).map_err(|e| PeerNodeError::ledger(channel, e))?;
    let snapshot = ledger
        .snapshot()
        .map_err(|e| PeerNodeError::ledger(channel, e))?;
    match snapshot
        .block(0)
        .map_err(|e| PeerNodeError::ledger(channel, e))?
    {
        Some(existing) if existing.hash == block.header_hash() => {}
        Some(_) => {
            return Err(PeerNodeError::Channel(format!(
                "{} already holds channel '{channel}' with a different genesis block; remove it to join this channel afresh",
                dir.display()
            )))
        }
        None => {
            let outcomes = block
                .data
                .iter()
                .map(|_| TxOutcome::valid(Vec::new()))
                .collect();
            ledger
                .commit_block(&BlockCommit { block, outcomes })
                .map_err(|e| PeerNodeError::ledger(channel, e))?;
            // The join must survive a crash whatever `ledger.syncEachBlock` says: a folder
            // without its genesis block is not a joined channel.
            ledger
                .sync_blocks()
                .map_err(|e| PeerNodeError::ledger(channel, e))?;
        }
    }
    drop(snapshot);
    Ok(ledger)
}

/// Joins a channel without a running peer (`cambium peer channel join`): creates the
/// channel's ledger under the data folder of `config` with `genesis_block` as block 0. The
/// next [`Peer::start`] opens it and catches up from the channel's orderers. Refuses a channel
/// already joined.
pub fn join_offline(config: &PeerConfig, genesis_block: &[u8]) -> Result<String> {
    let (id, block) = genesis(genesis_block)?;
    let dir = ledger_dir(&config.data_dir, &id);
    if dir.exists() {
        return Err(PeerNodeError::AlreadyJoined(id));
    }
    let ledger = create_ledger(&dir, &id, block, config.ledger.options())?;
    ledger.sync().map_err(|e| PeerNodeError::ledger(&id, e))?;
    Ok(id)
}

/// Ledger folder of `channel_id` under a peer data folder.
pub fn ledger_dir(data_dir: &Path, channel_id: &str) -> PathBuf {
    data_dir.join(LEDGERS_DIR).join(channel_id)
}

/// The validation codes of a committed block's transactions with their IDs, for waiters.
pub(crate) fn tx_codes(results: &[cambium_validator::TxResult]) -> Vec<(String, TxValidationCode)> {
    results
        .iter()
        .filter_map(|t| t.tx_id.clone().map(|id| (id, t.code)))
        .collect()
}
