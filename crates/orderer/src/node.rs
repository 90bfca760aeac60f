//! An orderer node: the channels it serves, its gRPC endpoint (AtomicBroadcast and the Raft
//! transport on one listener, plaintext or TLS) and channel participation (join, list, remove).
//!
//! With TLS, the listener accepts client certificates from the CAs of [`NodeTls::client_roots`]
//! and from the TLS root and intermediate CAs of every organisation of every channel the node
//! serves, as each channel's current config lists them: a config block that adds an
//! organisation makes its clients and peers welcome from then on, without a restart (as
//! Fabric's orderers do). Leaving a channel stops trusting what only it listed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use cambium_msp::SigningIdentity;
use cambium_ops::{HealthRegistry, Metrics};
use cambium_wire::orderer::atomic_broadcast_server::AtomicBroadcastServer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use cambium_tls::{CertificateDer, DynamicServerTls, TlsIdentity, TlsRoots, TlsTrust};

use crate::chain::Chain;
use crate::cluster::{ClusterServer, ClusterTls, Connections, RaftRouter};
use crate::error::{OrdererError, Result};
use crate::raft::ChannelRaft;
use crate::service::AtomicBroadcastService;
use crate::settings::ChannelSettings;
use crate::update::ChannelState;

/// Name of the folder under the data directory that holds one folder per channel.
pub const CHANNELS_DIR: &str = "channels";

/// Static settings of an orderer node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Where channels keep their block store and Raft store.
    pub data_dir: PathBuf,
    /// The `host:port` other orderers and clients reach this node at; matched against each
    /// channel's consenter list to find this node's Raft ID.
    pub advertised_address: String,
    /// Cut a batch as soon as no block of the channel is on its way through Raft, instead of
    /// holding it for the channel's `BatchTimeout`: at once after a quiet spell, and at least
    /// 4 ms after the previous block otherwise (`IDLE_CUT_GAP`). Under load blocks still fill up
    /// while the previous one is replicated; a lightly loaded channel answers without waiting
    /// out the timeout. `BatchTimeout`, `MaxMessageCount` and `PreferredMaxBytes` still bound
    /// every block. `orderer.yaml`: `cutWhenIdle` (default true).
    pub cut_when_idle: bool,
}

/// TLS settings of an orderer node's gRPC endpoint.
#[derive(Clone, Debug)]
pub struct NodeTls {
    /// The server certificate and key; also the client certificate this orderer presents to
    /// other orderers (cryptogen's node TLS certificates allow both uses).
    pub identity: TlsIdentity,
    /// CAs whose client certificates the listener always accepts at the handshake, besides
    /// the TLS CAs of every organisation of the channels the node serves (which it follows
    /// from their configs). Must not be empty, since other orderers always present a
    /// certificate.
    pub client_roots: TlsRoots,
    /// Refuse clients without a certificate (Fabric's `clientAuthRequired`). When false,
    /// clients may use server-only TLS; orderer-to-orderer traffic is mutual TLS regardless.
    pub client_auth_required: bool,
}

/// A channel as channel participation lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelInfo {
    /// The channel name.
    pub name: String,
    /// Number of blocks in the chain.
    pub height: u64,
    /// This node's Raft ID in the channel.
    pub consenter_id: u64,
    /// The current Raft leader's ID, if known.
    pub leader: Option<u64>,
}

pub(crate) struct NodeInner {
    pub(crate) config: NodeConfig,
    pub(crate) signer: Arc<SigningIdentity>,
    pub(crate) channels: RwLock<BTreeMap<String, Arc<Chain>>>,
    pub(crate) connections: Connections,
    pub(crate) tls: Option<NodeTls>,
    /// The client CAs the TLS listener trusts (`client_roots` ∪ each channel's TLS CAs), or
    /// why `client_roots` cannot be used; `None` without TLS.
    client_trust: Option<std::result::Result<TlsTrust, String>>,
    /// What the operations endpoint reports; the node records into it.
    pub(crate) metrics: Arc<Metrics>,
    /// Becomes `true` when the node shuts down; Broadcast and Deliver streams end on it.
    pub(crate) stop: watch::Sender<bool>,
}

impl NodeInner {
    fn client_trust(&self) -> Option<&TlsTrust> {
        self.client_trust.as_ref().and_then(|t| t.as_ref().ok())
    }

    /// Trusts, for the listener's client certificates, the TLS CAs of the channel's
    /// organisations as `state` lists them, if `chain` is still the channel's chain.
    fn trust_channel(&self, name: &str, chain: &Arc<Chain>, state: &ChannelState) {
        let Some(trust) = self.client_trust() else {
            return;
        };
        // Holding the channels lock orders this against `remove_channel`, which forgets the
        // channel's CAs under the same lock.
        let channels = self.channels.read().expect("channels lock");
        if !channels.get(name).is_some_and(|c| Arc::ptr_eq(c, chain)) {
            return;
        }
        let roots = match &state.config {
            Some(config) => TlsRoots::from_msp_configs(config.msp_configs()),
            None => Ok(state.settings.orderer_tls_roots.clone()),
        };
        match roots.and_then(|roots| trust.set_channel_roots(name, roots)) {
            Ok(true) => tracing::info!(
                channel = name,
                trusted_cas = trust.roots().len(),
                "the listener trusts the channel's TLS CAs as its configuration lists them"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(
                channel = name,
                error = %e,
                "the channel's TLS CAs are unusable; the listener keeps trusting the previous ones"
            ),
        }
    }

    pub(crate) fn chain(&self, channel: &str) -> Option<Arc<Chain>> {
        self.channels
            .read()
            .expect("channels lock")
            .get(channel)
            .cloned()
    }
}

impl RaftRouter for NodeInner {
    fn raft(&self, channel: &str) -> Option<ChannelRaft> {
        self.chain(channel).map(|c| c.raft.clone())
    }

    fn authorize(
        &self,
        channel: &str,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> std::result::Result<(), String> {
        let Some(chain) = self.chain(channel) else {
            // The RPC handler answers that the channel is not served.
            return Ok(());
        };
        match chain.trust.current() {
            Some(trust) => trust.verify(peer_certs),
            None => Ok(()),
        }
    }

    fn blocks(
        &self,
        channel: &str,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> std::result::Result<Vec<Vec<u8>>, String> {
        let chain = self
            .chain(channel)
            .ok_or_else(|| format!("this orderer does not serve channel '{channel}'"))?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for number in from..to {
            let Some(block) = chain.blocks.block(number).map_err(|e| e.to_string())? else {
                break;
            };
            if !out.is_empty() && bytes + block.bytes.len() > max_bytes {
                break;
            }
            bytes += block.bytes.len();
            out.push(block.bytes.to_vec());
        }
        Ok(out)
    }
}

/// A running orderer node. Cheap to clone.
#[derive(Clone)]
pub struct OrdererNode {
    inner: Arc<NodeInner>,
}

/// A running gRPC endpoint; dropping it does not stop it, [`Server::stop`] does.
pub struct Server {
    /// The bound address.
    pub local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::result::Result<(), tonic::transport::Error>>,
}

impl Server {
    /// Stops accepting and closes connections.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(crate::service::STOP_GRACE, &mut self.task).await;
        self.task.abort();
    }
}

impl OrdererNode {
    /// A node with no channels yet, signing blocks with `signer`, serving plaintext gRPC.
    pub fn new(config: NodeConfig, signer: SigningIdentity) -> Self {
        Self::with_tls(config, signer, None)
    }

    /// A node with no channels yet, signing blocks with `signer`, serving gRPC over TLS when
    /// `tls` is given (then orderer-to-orderer traffic is mutual TLS).
    pub fn with_tls(config: NodeConfig, signer: SigningIdentity, tls: Option<NodeTls>) -> Self {
        let connections = Connections::new(tls.as_ref().map(|t| ClusterTls {
            identity: t.identity.clone(),
            fallback_roots: t.client_roots.clone(),
        }));
        let client_trust = tls.as_ref().map(|t| {
            TlsTrust::new(t.client_roots.clone(), t.client_auth_required)
                .map_err(|e| format!("orderer TLS client CAs: {e}"))
        });
        OrdererNode {
            inner: Arc::new(NodeInner {
                config,
                signer: Arc::new(signer),
                channels: RwLock::new(BTreeMap::new()),
                connections,
                tls,
                client_trust,
                metrics: Arc::new(Metrics::new()),
                stop: watch::channel(false).0,
            }),
        }
    }

    /// The node's TLS settings, if it serves TLS.
    pub fn tls(&self) -> Option<&NodeTls> {
        self.inner.tls.as_ref()
    }

    /// The node's static settings.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// Joins a channel from its genesis block (or reopens it if its folder exists), starting its
    /// Raft node as the consenter whose address is this node's advertised address.
    pub async fn join_channel(
        &self,
        genesis_block: &[u8],
        settings: ChannelSettings,
    ) -> Result<ChannelInfo> {
        settings.validate().map_err(OrdererError::Config)?;
        let name = settings.channel_id.clone();
        if self.inner.chain(&name).is_some() {
            return Err(OrdererError::ChannelExists(name));
        }
        let me = &self.inner.config.advertised_address;
        let node_id = settings
            .consenters
            .iter()
            .find(|c| &c.address == me)
            .map(|c| c.id)
            .ok_or_else(|| {
                OrdererError::Config(format!(
                    "this orderer ({me}) is not among the consenters of channel '{name}' ({}); add it to the channel's consenters or use its listed address",
                    settings
                        .consenters
                        .iter()
                        .map(|c| format!("{}={}", c.id, c.address))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let dir = self.inner.config.data_dir.join(CHANNELS_DIR).join(&name);
        let chain = Chain::open(&dir, genesis_block, settings, node_id, &self.inner).await?;
        let chain = Arc::new(chain);
        let clash = {
            let mut channels = self.inner.channels.write().expect("channels lock");
            if channels.contains_key(&name) {
                true
            } else {
                channels.insert(name.clone(), chain.clone());
                false
            }
        };
        if clash {
            chain.shutdown().await;
            return Err(OrdererError::ChannelExists(name));
        }
        if self.inner.client_trust().is_some() {
            let state = chain.state.borrow().clone();
            self.inner.trust_channel(&name, &chain, &state);
            tokio::spawn(follow_channel_cas(
                Arc::downgrade(&self.inner),
                name.clone(),
                Arc::downgrade(&chain),
                chain.state.clone(),
                chain.stopped.clone(),
            ));
        }
        channel_info(&name, &chain)
    }

    /// The channels this node serves, by name.
    pub fn channels(&self) -> Result<Vec<ChannelInfo>> {
        let channels: Vec<(String, Arc<Chain>)> = self
            .inner
            .channels
            .read()
            .expect("channels lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        channels.iter().map(|(n, c)| channel_info(n, c)).collect()
    }

    /// One channel's status.
    pub fn channel(&self, name: &str) -> Result<ChannelInfo> {
        let chain = self
            .inner
            .chain(name)
            .ok_or_else(|| OrdererError::ChannelNotFound(name.to_string()))?;
        channel_info(name, &chain)
    }

    /// Stops serving a channel and deletes its data.
    pub async fn remove_channel(&self, name: &str) -> Result<()> {
        let chain = {
            let mut channels = self.inner.channels.write().expect("channels lock");
            let chain = channels
                .remove(name)
                .ok_or_else(|| OrdererError::ChannelNotFound(name.to_string()))?;
            if let Some(trust) = self.inner.client_trust() {
                if let Err(e) = trust.remove_channel(name) {
                    tracing::error!(channel = name, error = %e, "forgetting the channel's TLS CAs failed");
                }
            }
            chain
        };
        let dir = chain.dir.clone();
        close(chain).await;
        std::fs::remove_dir_all(&dir).map_err(|e| OrdererError::io("removing", &dir, e))
    }

    /// The header hashes of a channel's blocks from `start`, in order (for tests and tools).
    pub fn block_hashes(&self, name: &str, start: u64) -> Result<Vec<[u8; 32]>> {
        let chain = self
            .inner
            .chain(name)
            .ok_or_else(|| OrdererError::ChannelNotFound(name.to_string()))?;
        let height = chain.blocks.height();
        (start..height)
            .map(|n| {
                chain
                    .blocks
                    .block(n)?
                    .map(|b| b.hash)
                    .ok_or_else(|| OrdererError::Config(format!("block {n} is missing")))
            })
            .collect()
    }

    /// The encoded block `number` of a channel, if it exists.
    pub fn block(&self, name: &str, number: u64) -> Result<Option<Vec<u8>>> {
        let chain = self
            .inner
            .chain(name)
            .ok_or_else(|| OrdererError::ChannelNotFound(name.to_string()))?;
        Ok(chain.blocks.block(number)?.map(|b| b.bytes.to_vec()))
    }

    /// Serves AtomicBroadcast and the Raft transport on `listener` until [`Server::stop`],
    /// over TLS if the node has TLS settings.
    pub fn serve(&self, listener: TcpListener) -> Result<Server> {
        let tls = match (&self.inner.tls, &self.inner.client_trust) {
            (Some(tls), Some(trust)) => {
                let trust = trust.clone().map_err(OrdererError::Config)?;
                Some(
                    DynamicServerTls::new(&tls.identity, trust)
                        .map_err(|e| OrdererError::Config(format!("orderer TLS: {e}")))?,
                )
            }
            _ => None,
        };
        // TLS is terminated below, with the client CAs the channels' configs add.
        let mut builder = cambium_tls::server_builder(None)
            .map_err(|e| OrdererError::Config(format!("orderer TLS: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| OrdererError::Network(format!("reading the listener address: {e}")))?;
        let broadcast = AtomicBroadcastServer::new(AtomicBroadcastService {
            node: self.inner.clone(),
        })
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(256 * 1024 * 1024);
        let cluster = ClusterServer::new(self.inner.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        // Nagle's algorithm would hold small gRPC replies back ~40 ms; `Server::tcp_nodelay`
        // does not apply to a listener handed in, so set it on the incoming stream.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let router = builder.add_service(broadcast).add_service(cluster);
        let stopped = async {
            let _ = stopped.await;
        };
        let task = match tls {
            Some(tls) => {
                tokio::spawn(router.serve_with_incoming_shutdown(tls.incoming(incoming), stopped))
            }
            None => tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped)),
        };
        Ok(Server {
            local_addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops every channel's Raft node and cutter and ends the node's Broadcast and Deliver
    /// streams (the data stays on disk). When it returns, the channels' stores are closed, so
    /// a new node can reopen the same data folder in the same process and runtime.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let chains: Vec<Arc<Chain>> =
            std::mem::take(&mut *self.inner.channels.write().expect("channels lock"))
                .into_values()
                .collect();
        for chain in chains {
            close(chain).await;
        }
    }

    /// The metrics the node records (broadcast results, Raft state, block height per
    /// channel); hand them to [`cambium_ops::Operations`] to serve them on `/metrics`.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    /// Registers the node's health checks: `raft` (every channel's Raft group has a leader
    /// and its Raft node runs) and `store` (every channel's block store and Raft store answer
    /// a read). Channels joined later are covered too.
    pub fn register_health(&self, health: &HealthRegistry) {
        let node = self.inner.clone();
        health.register_fn("raft", move || failed_channels(&node, raft_health));
        let node = self.inner.clone();
        health.register_fn("store", move || failed_channels(&node, store_health));
    }
}

/// Keeps the listener's trust in `name`'s TLS CAs in step with the channel's config: after
/// each config block, the CAs of the organisations it lists. Ends when the channel or the
/// node stops.
async fn follow_channel_cas(
    node: std::sync::Weak<NodeInner>,
    name: String,
    chain: std::sync::Weak<Chain>,
    mut state: watch::Receiver<Arc<ChannelState>>,
    mut stopped: watch::Receiver<bool>,
) {
    state.borrow_and_update();
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = stopped.wait_for(|s| *s) => return,
        }
        // Upgraded only for the update: holding the chain would keep its stores open after
        // it stops.
        let (Some(node), Some(chain)) = (node.upgrade(), chain.upgrade()) else {
            return;
        };
        let current = state.borrow_and_update().clone();
        node.trust_channel(&name, &chain, &current);
    }
}

/// Stops a channel and waits until its stores are closed.
async fn close(chain: Arc<Chain>) {
    chain.shutdown().await;
    let stores = chain.stores();
    let name = chain.settings().channel_id.clone();
    drop(chain);
    if !stores.close(RELEASE_WAIT).await {
        tracing::warn!(channel = %name, "the channel's stores were still in use {RELEASE_WAIT:?} after it stopped");
    }
}

/// How long stopping a channel waits for its tasks to let go of its stores.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `check` on every channel; `Err` lists each failing channel's reason.
fn failed_channels(
    node: &NodeInner,
    check: fn(&str, &Chain) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let channels: Vec<(String, Arc<Chain>)> = node
        .channels
        .read()
        .expect("channels lock")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let reasons: Vec<String> = channels
        .iter()
        .filter_map(|(name, chain)| check(name, chain).err())
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons.join("; "))
    }
}

fn raft_health(name: &str, chain: &Chain) -> std::result::Result<(), String> {
    let metrics = chain.raft.metrics().borrow().clone();
    if let Err(fatal) = &metrics.running_state {
        return Err(format!(
            "the Raft node of channel '{name}' has stopped: {fatal}; check the orderer's log and restart it"
        ));
    }
    match metrics.current_leader {
        Some(_) => Ok(()),
        None => Err(format!(
            "channel '{name}' has no Raft leader (term {}): fewer than a majority of its consenters are reachable; check that the other orderers run and that this orderer reaches them",
            metrics.current_term
        )),
    }
}

fn store_health(name: &str, chain: &Chain) -> std::result::Result<(), String> {
    chain.blocks.check().map_err(|e| {
        format!(
            "the block store of channel '{name}' cannot be read: {e}; check the disk under the orderer's data folder"
        )
    })?;
    chain.check_raft_store().map_err(|e| {
        format!(
            "the Raft store of channel '{name}' cannot be read: {e}; check the disk under the orderer's data folder"
        )
    })
}

fn channel_info(name: &str, chain: &Chain) -> Result<ChannelInfo> {
    Ok(ChannelInfo {
        name: name.to_string(),
        height: chain.blocks.height(),
        consenter_id: chain.node_id,
        leader: chain.leader(),
    })
}

#[cfg(test)]
mod crash_tests;
