//! The orderer process configuration (`orderer.yaml`) and the standalone runner behind
//! `cambium orderer start`.
//!
//! ```yaml
//! listenAddress: 127.0.0.1:7050       # gRPC: AtomicBroadcast and the Raft transport
//! advertisedAddress: 127.0.0.1:7050   # optional; what the channel's consenters list names
//! adminListenAddress: 127.0.0.1:7053  # channel participation (HTTP/JSON)
//! dataDir: /var/cambium/orderer
//! cutWhenIdle: true                   # cut a block at once when none is in flight (default);
//!                                     # false: wait for BatchTimeout/BatchSize as Fabric does
//! msp:
//!   dir: crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/msp
//!   id: OrdererMSP
//! tls:
//!   enabled: true
//!   cert: crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/tls/server.crt
//!   key: crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/tls/server.key
//!   rootCAs:                          # client CAs accepted at the handshake (files or folders)
//!     - crypto/ordererOrganizations/example.com/msp/tlscacerts
//!     - crypto/peerOrganizations/org1.example.com/msp/tlscacerts
//!   clientAuthRequired: false         # true: every client must present a certificate
//! operations:                         # optional; no operations endpoint without it
//!   listenAddress: 127.0.0.1:9443     # /healthz, /metrics, /version, /logspec
//!   tls:                              # optional, as in Fabric
//!     enabled: true
//!     cert: tls/ops.crt
//!     key: tls/ops.key
//!     clientRootCas: [tls/ca.crt]
//!     clientAuthRequired: false       # true: /metrics and /logspec need a client certificate
//! ```
//!
//! Relative paths are resolved against the config file's folder. On start the node reopens
//! every channel it joined before (each channel folder keeps its genesis block).
//!
//! With TLS on, Broadcast, Deliver and the Raft transport share the TLS listener; orderers talk
//! to each other with mutual TLS and trust only the TLS CAs of each channel's orderer
//! organisations (from the channel configuration), whatever `rootCAs` lists. The channel
//! participation API on `adminListenAddress` stays plain HTTP: bind it to a loopback or
//! otherwise protected address.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cambium_ops::{LogControl, Operations, OpsConfig, OpsServer};

use serde::Deserialize;
use tokio::net::TcpListener;

use crate::admin;
use crate::error::{OrdererError, Result};
use cambium_tls::{TlsIdentity, TlsRoots};

use crate::node::{NodeConfig, NodeTls, OrdererNode, CHANNELS_DIR};
use crate::settings::ChannelSettings;

/// File name of the genesis block kept in each channel folder.
pub const GENESIS_FILE: &str = "genesis.block";

/// MSP material of the orderer's signing identity.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MspSection {
    /// Local MSP folder (`signcerts/`, `keystore/`).
    pub dir: PathBuf,
    /// MSP ID, e.g. `OrdererMSP`.
    pub id: String,
}

/// TLS material of the gRPC listener.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsSection {
    /// Whether the gRPC listener uses TLS.
    #[serde(default)]
    pub enabled: bool,
    /// Server certificate (PEM), also presented to other orderers.
    pub cert: Option<PathBuf>,
    /// Server key (PEM).
    pub key: Option<PathBuf>,
    /// CA certificates (PEM files, or folders of them) whose client certificates the listener
    /// accepts: the TLS CAs of every organisation whose clients or orderers connect.
    #[serde(default, rename = "rootCAs", alias = "rootCas")]
    pub root_cas: Vec<PathBuf>,
    /// Refuse clients that present no certificate.
    #[serde(default)]
    pub client_auth_required: bool,
}

impl TlsSection {
    /// Loads the node's TLS settings, or `None` when TLS is off. Errors name the file and the
    /// setting to fix.
    pub fn load(&self) -> Result<Option<NodeTls>> {
        if !self.enabled {
            return Ok(None);
        }
        let tls_err =
            |e: cambium_tls::TlsError| OrdererError::Config(format!("orderer.yaml tls: {e}"));
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err(OrdererError::Config(
                "orderer.yaml tls: enabled is true but cert or key is missing; set tls.cert and tls.key to the node's TLS certificate and key (e.g. tls/server.crt, tls/server.key)".into(),
            ));
        };
        if self.root_cas.is_empty() {
            return Err(OrdererError::Config(
                "orderer.yaml tls: rootCAs is empty; list the TLS CA certificates of the organisations whose orderers and clients connect (e.g. each org's msp/tlscacerts)".into(),
            ));
        }
        Ok(Some(NodeTls {
            identity: TlsIdentity::load(cert, key).map_err(tls_err)?,
            client_roots: TlsRoots::load(&self.root_cas).map_err(tls_err)?,
            client_auth_required: self.client_auth_required,
        }))
    }
}

/// `orderer.yaml`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrdererConfig {
    /// `host:port` of the gRPC listener.
    pub listen_address: String,
    /// `host:port` others reach this node at; defaults to `listen_address`.
    pub advertised_address: Option<String>,
    /// `host:port` of the channel participation API.
    pub admin_listen_address: String,
    /// Data folder.
    pub data_dir: PathBuf,
    /// Signing identity.
    pub msp: MspSection,
    /// TLS.
    #[serde(default)]
    pub tls: TlsSection,
    /// The operations endpoint (health, metrics, version, log level); `None`: not served.
    #[serde(default)]
    pub operations: Option<OpsConfig>,
    /// Cut a block as soon as none is on its way through Raft (default), or always wait for
    /// `BatchTimeout`/`BatchSize` as Fabric does (`false`); see `NodeConfig::cut_when_idle`.
    #[serde(default = "cut_when_idle_default")]
    pub cut_when_idle: bool,
}

fn cut_when_idle_default() -> bool {
    true
}

impl OrdererConfig {
    /// Parses YAML; relative paths are resolved against `base`.
    pub fn from_yaml(yaml: &str, base: &Path) -> Result<OrdererConfig> {
        let mut config: OrdererConfig = serde_norway::from_str(yaml)
            .map_err(|e| OrdererError::Config(format!("orderer.yaml: {e}")))?;
        config.data_dir = base.join(&config.data_dir);
        config.msp.dir = base.join(&config.msp.dir);
        let tls = &mut config.tls;
        tls.cert = tls.cert.as_ref().map(|p| base.join(p));
        tls.key = tls.key.as_ref().map(|p| base.join(p));
        tls.root_cas = tls.root_cas.iter().map(|p| base.join(p)).collect();
        if let Some(ops) = config.operations.as_mut() {
            ops.resolve_paths(base);
            ops.check()
                .map_err(|e| OrdererError::Config(format!("orderer.yaml operations: {e}")))?;
        }
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<OrdererConfig> {
        let yaml =
            std::fs::read_to_string(path).map_err(|e| OrdererError::io("reading", path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&yaml, base)
    }
}

/// Joins a channel from its genesis block and keeps the block in the channel folder so a
/// restart rejoins it.
pub async fn join_from_block(node: &OrdererNode, block: &[u8]) -> Result<crate::ChannelInfo> {
    let settings = ChannelSettings::from_config_block(block).map_err(OrdererError::Config)?;
    let info = node.join_channel(block, settings).await?;
    let path = node
        .config()
        .data_dir
        .join(CHANNELS_DIR)
        .join(&info.name)
        .join(GENESIS_FILE);
    std::fs::write(&path, block).map_err(|e| OrdererError::io("writing", &path, e))?;
    Ok(info)
}

/// Rejoins every channel found in the data folder.
pub async fn rejoin_channels(node: &OrdererNode) -> Result<Vec<String>> {
    let dir = node.config().data_dir.join(CHANNELS_DIR);
    let mut names = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(names);
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let genesis = path.join(GENESIS_FILE);
        let Ok(block) = std::fs::read(&genesis) else {
            continue;
        };
        let settings = ChannelSettings::from_config_block(&block).map_err(OrdererError::Config)?;
        names.push(node.join_channel(&block, settings).await?.name);
    }
    Ok(names)
}

/// Runs an orderer process until `shutdown` resolves. `log` is the process's log filter,
/// which the operations endpoint's `/logspec` reads and changes (`None`: `/logspec` answers
/// 404).
pub async fn run(
    config: OrdererConfig,
    log: Option<LogControl>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let signer = cambium_msp::load_signing_identity(&config.msp.dir, &config.msp.id)?;
    let tls = config.tls.load()?;
    let listener = TcpListener::bind(&config.listen_address)
        .await
        .map_err(|e| {
            OrdererError::Network(format!(
                "binding {}: {e}; is the port free?",
                config.listen_address
            ))
        })?;
    let admin_listener = TcpListener::bind(&config.admin_listen_address)
        .await
        .map_err(|e| {
            OrdererError::Network(format!(
                "binding {}: {e}; is the port free?",
                config.admin_listen_address
            ))
        })?;
    let node = OrdererNode::with_tls(
        NodeConfig {
            data_dir: config.data_dir.clone(),
            advertised_address: config
                .advertised_address
                .clone()
                .unwrap_or_else(|| config.listen_address.clone()),
            cut_when_idle: config.cut_when_idle,
        },
        signer,
        tls,
    );
    let operations = match &config.operations {
        Some(ops_config) => {
            let ops = Arc::new(operations(&node, log));
            Some(
                cambium_ops::serve(ops_config, ops)
                    .await
                    .map_err(|e| OrdererError::Config(format!("orderer.yaml operations: {e}")))?,
            )
        }
        None => None,
    };
    let server = node.serve(listener)?;
    let rejoined = rejoin_channels(&node).await?;
    let admin = admin::serve(node.clone(), admin_listener);
    tracing::info!(grpc = %server.local_addr, channels = ?rejoined, operations = ?operations.as_ref().map(OpsServer::url), "orderer started");
    println!(
        "orderer listening on {} ({}; admin {} plain HTTP), channels: [{}]",
        config.listen_address,
        if node.tls().is_some() {
            "TLS"
        } else {
            "plaintext"
        },
        config.admin_listen_address,
        rejoined.join(", ")
    );
    if let Some(ops) = &operations {
        println!("operations endpoint on {}", ops.url());
    }
    shutdown.await;
    admin.abort();
    server.stop().await;
    node.shutdown().await;
    if let Some(ops) = operations {
        ops.shutdown().await;
    }
    Ok(())
}

/// What an orderer's operations endpoint serves: the node's metrics and health checks (see
/// [`OrdererNode::register_health`]), `log` for `/logspec`, and the build's version.
pub fn operations(node: &OrdererNode, log: Option<LogControl>) -> Operations {
    let ops = Operations {
        metrics: node.metrics(),
        log,
        ..Operations::new()
    };
    node.register_health(&ops.health);
    ops
}

/// [`run`] on a fresh multi-threaded runtime until Ctrl-C or SIGTERM, for the command line.
pub fn run_blocking(config: OrdererConfig, log: Option<LogControl>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| OrdererError::Network(format!("starting the runtime: {e}")))?;
    runtime.block_on(run(config, log, async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "listenAddress: 127.0.0.1:7050\nadminListenAddress: 127.0.0.1:7053\ndataDir: data\nmsp:\n  dir: msp\n  id: OrdererMSP\n";

    fn load_err(tls: &str) -> String {
        let config = OrdererConfig::from_yaml(&format!("{YAML}{tls}"), Path::new("/base")).unwrap();
        config.tls.load().unwrap_err().to_string()
    }

    #[test]
    fn cutting_when_idle_is_on_unless_the_yaml_turns_it_off() {
        let base = Path::new("/base");
        assert!(OrdererConfig::from_yaml(YAML, base).unwrap().cut_when_idle);
        let off = OrdererConfig::from_yaml(&format!("{YAML}cutWhenIdle: false\n"), base).unwrap();
        assert!(!off.cut_when_idle);
        let err = OrdererConfig::from_yaml(&format!("{YAML}cutWhenIdle: sometimes\n"), base)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cutWhenIdle"), "{err}");
    }

    #[test]
    fn tls_section_resolves_paths_and_names_what_is_missing() {
        let config = OrdererConfig::from_yaml(
            &format!("{YAML}tls:\n  enabled: true\n  cert: tls/server.crt\n  key: tls/server.key\n  rootCAs: [tls/ca.crt, /abs/cas]\n  clientAuthRequired: true\n"),
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(
            config.tls.cert.as_deref(),
            Some(Path::new("/base/tls/server.crt"))
        );
        assert_eq!(
            config.tls.key.as_deref(),
            Some(Path::new("/base/tls/server.key"))
        );
        assert_eq!(
            config.tls.root_cas,
            [PathBuf::from("/base/tls/ca.crt"), PathBuf::from("/abs/cas")]
        );
        assert!(config.tls.client_auth_required);
        // The files do not exist: the error names the certificate file.
        assert!(config
            .tls
            .load()
            .unwrap_err()
            .to_string()
            .contains("/base/tls/server.crt"));

        assert!(load_err("tls:\n  enabled: true\n  rootCAs: [ca.crt]\n")
            .contains("set tls.cert and tls.key"));
        assert!(
            load_err("tls:\n  enabled: true\n  cert: c\n  key: k\n").contains("rootCAs is empty")
        );
        let off =
            OrdererConfig::from_yaml(&format!("{YAML}tls:\n  enabled: false\n"), Path::new("/b"))
                .unwrap();
        assert!(off.tls.load().unwrap().is_none());
    }
}
