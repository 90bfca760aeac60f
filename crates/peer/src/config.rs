//! The peer configuration (`peer.yaml`), loadable from YAML for `cambium peer start` and
//! buildable in code for `cambium up` and tests.
//!
//! ```yaml
//! dataDir: data/peer0.org1           # ledgers/<channel>/ per joined channel
//! msp:
//!   dir: crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp
//!   id: Org1MSP
//! packagesDir: data/peer0.org1/packages  # optional; default <dataDir>/packages
//! listenAddress: 0.0.0.0:7051        # port 0 picks a free port
//! externalAddress: peer0.org1.example.com:7051
//! tls:
//!   enabled: true
//!   cert: crypto/.../tls/server.crt
//!   key: crypto/.../tls/server.key
//!   clientRootCas: [crypto/.../tls/ca.crt]
//!   clientAuthRequired: false
//! orderer:
//!   endpoints: [127.0.0.1:7050]      # optional; else each channel's orderer endpoints
//!   tlsRootCas: []                   # optional; else the orderer orgs' TLS CAs in the channel
//!   tls: true                        # optional; defaults to tls.enabled
//! gateway:                           # optional; Fabric's defaults
//!   enabled: true
//!   endorsementTimeoutMs: 30000
//!   concurrencyLimit: 500
//! operations:                        # optional; no operations endpoint without it
//!   listenAddress: 127.0.0.1:9443    # /healthz, /metrics, /version, /logspec
//!   tls: { enabled: false }          # cert, key, clientRootCas, clientAuthRequired
//! ledger:
//!   syncEachBlock: false             # true: fdatasync every block as it commits
//! limits:
//!   maxMessageBytes: 104857600
//!   timeWindowSecs: 900
//!   validatorThreads: 0
//!   reconnectMaxBackoffMs: 5000
//! ```
//!
//! Relative paths are resolved against the configuration file's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{PeerNodeError, Result};

/// The peer's local MSP: where its signing identity is and which organisation it belongs to.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MspSection {
    /// Local MSP folder (`signcerts/`, `keystore/`).
    pub dir: PathBuf,
    /// The organisation's MSP ID, e.g. `Org1MSP`.
    pub id: String,
}

/// TLS of the peer's gRPC listener; the same certificate and key are the peer's client
/// certificate towards the orderers (mutual TLS).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsSection {
    /// Whether the listener speaks TLS (and orderer connections use TLS).
    #[serde(default)]
    pub enabled: bool,
    /// Server certificate (PEM).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to.
    #[serde(default)]
    pub client_root_cas: Vec<PathBuf>,
    /// Whether clients must present a certificate (Fabric's default: `false`).
    #[serde(default)]
    pub client_auth_required: bool,
}

/// Where the committer pulls blocks from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrdererSection {
    /// `host:port` of orderers to use for every channel instead of the channel's own orderer
    /// endpoints (for example when the channel names hosts this machine cannot resolve).
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// TLS CA certificates (PEM) of the orderers; empty: the TLS CAs of the channel's orderer
    /// organisations.
    #[serde(default)]
    pub tls_root_cas: Vec<PathBuf>,
    /// Whether orderer connections use TLS; default: the same as `tls.enabled` (Fabric's
    /// rule). Set `false` only for an orderer that serves plain gRPC.
    #[serde(default)]
    pub tls: Option<bool>,
}

/// The Gateway service (`gateway.Gateway`) this peer hosts.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct GatewaySection {
    /// Whether the peer serves the Gateway (Fabric's `peer.gateway.enabled`, default on).
    pub enabled: bool,
    /// How long collecting endorsements may take, in milliseconds (Fabric: 30 s).
    pub endorsement_timeout_ms: u64,
    /// How long one Broadcast may take before the next orderer is tried, in milliseconds.
    pub broadcast_timeout_ms: u64,
    /// How long dialling another peer or an orderer may take, in milliseconds.
    pub dial_timeout_ms: u64,
    /// Gateway calls running at once; one more fails at once (Fabric: 500).
    pub concurrency_limit: usize,
}

impl Default for GatewaySection {
    fn default() -> Self {
        let fabric = cambium_gateway::GatewayOptions::default();
        GatewaySection {
            enabled: true,
            endorsement_timeout_ms: fabric.endorsement_timeout.as_millis() as u64,
            broadcast_timeout_ms: fabric.broadcast_timeout.as_millis() as u64,
            dial_timeout_ms: fabric.dial_timeout.as_millis() as u64,
            concurrency_limit: fabric.concurrency_limit,
        }
    }
}

/// Limits.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Limits {
    /// Largest gRPC message the peer sends or receives (Fabric: 100 MB).
    pub max_message_bytes: usize,
    /// How far a Deliver request's timestamp may be from the peer's clock, in seconds
    /// (Fabric's `peer.authentication.timewindow`: 15 minutes).
    pub time_window_secs: u64,
    /// Threads validating a block's signatures and policies; 0: one per core.
    pub validator_threads: usize,
    /// The longest wait between attempts to reach an orderer, in milliseconds.
    pub reconnect_max_backoff_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 100 * 1024 * 1024,
            time_window_secs: 15 * 60,
            validator_threads: 0,
            reconnect_max_backoff_ms: 5_000,
        }
    }
}

/// `peer.yaml`: everything a peer needs to start.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PeerConfig {
    /// The peer's data folder; each joined channel's ledger is `ledgers/<channel>/` in it.
    pub data_dir: PathBuf,
    /// The peer's signing identity.
    pub msp: MspSection,
    /// Where installed contract packages live; default `<dataDir>/packages`.
    #[serde(default)]
    pub packages_dir: Option<PathBuf>,
    /// `host:port` the gRPC server binds (port 0: any free port).
    pub listen_address: String,
    /// `host:port` others reach this peer at; defaults to the bound address.
    #[serde(default)]
    pub external_address: Option<String>,
    /// TLS of the listener and of orderer connections.
    #[serde(default)]
    pub tls: TlsSection,
    /// Orderer endpoint and TLS overrides.
    #[serde(default)]
    pub orderer: OrdererSection,
    /// The Gateway service.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// The operations endpoint (health, metrics, version, log level); `None`: not served.
    #[serde(default)]
    pub operations: Option<cambium_ops::OpsConfig>,
    /// How the channels' ledgers write.
    #[serde(default)]
    pub ledger: LedgerSection,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
}

/// The `ledger` section: how each channel's ledger writes its blocks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct LedgerSection {
    /// `fdatasync` every block's record as it commits. Off (the default), a peer syncs its block
    /// files before each write of its state database (every 16 blocks or 16 MiB of state): a
    /// power loss may then cost the blocks committed since, never a block the state database
    /// holds, and the peer pulls those blocks from the orderers again when it restarts, so it
    /// ends with the same chain and state. The orderers keep every block durable before they
    /// acknowledge it, so the network loses nothing either way. Turn it on for a peer that must
    /// not need the orderers after a power loss; each block then costs one more `fdatasync`
    /// on the commit path.
    pub sync_each_block: bool,
}

impl LedgerSection {
    /// The ledger options a channel's ledger opens with.
    pub fn options(&self) -> cambium_ledger::LedgerOptions {
        cambium_ledger::LedgerOptions {
            sync_each_block: self.sync_each_block,
            ..cambium_ledger::LedgerOptions::default()
        }
    }
}

impl PeerConfig {
    /// A configuration without TLS listening on `127.0.0.1:0`, with default limits.
    pub fn new(data_dir: impl Into<PathBuf>, msp_dir: impl Into<PathBuf>, msp_id: &str) -> Self {
        PeerConfig {
            data_dir: data_dir.into(),
            msp: MspSection {
                dir: msp_dir.into(),
                id: msp_id.to_owned(),
            },
            packages_dir: None,
            listen_address: "127.0.0.1:0".to_owned(),
            external_address: None,
            tls: TlsSection::default(),
            orderer: OrdererSection::default(),
            gateway: GatewaySection::default(),
            operations: None,
            ledger: LedgerSection::default(),
            limits: Limits::default(),
        }
    }

    /// Parses YAML; relative paths are resolved against `base` (the file's folder).
    pub fn from_yaml(yaml: &str, base: &Path) -> Result<PeerConfig> {
        let mut config: PeerConfig = serde_norway::from_str(yaml)
            .map_err(|e| PeerNodeError::Config(format!("{e}; fix the YAML and start again")))?;
        config.resolve_paths(base);
        config.check()?;
        Ok(config)
    }

    /// Reads and parses the YAML file at `path`.
    pub fn load(path: &Path) -> Result<PeerConfig> {
        let yaml = std::fs::read_to_string(path).map_err(|source| PeerNodeError::ReadFile {
            what: "the peer configuration",
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        PeerConfig::from_yaml(&yaml, base).map_err(|e| match e {
            PeerNodeError::Config(m) => PeerNodeError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        fix(&mut self.msp.dir);
        if let Some(p) = self.packages_dir.as_mut() {
            fix(p);
        }
        if let Some(p) = self.tls.cert.as_mut() {
            fix(p);
        }
        if let Some(p) = self.tls.key.as_mut() {
            fix(p);
        }
        self.tls.client_root_cas.iter_mut().for_each(fix);
        self.orderer.tls_root_cas.iter_mut().for_each(fix);
        if let Some(ops) = self.operations.as_mut() {
            ops.resolve_paths(base);
        }
    }

    /// Checks the values that do not need the disk: addresses, TLS completeness, limits.
    pub fn check(&self) -> Result<()> {
        self.listen_address.parse::<SocketAddr>().map_err(|e| {
            PeerNodeError::Config(format!(
                "listenAddress '{}' is not an IP address and port ({e}); write it like 0.0.0.0:7051",
                self.listen_address
            ))
        })?;
        if self.msp.id.is_empty() {
            return Err(PeerNodeError::Config(
                "msp.id is empty; set the organisation's MSP ID, e.g. Org1MSP".to_owned(),
            ));
        }
        if self.tls.enabled && (self.tls.cert.is_none() || self.tls.key.is_none()) {
            return Err(PeerNodeError::Config(
                "tls.enabled is true but tls.cert or tls.key is missing; set both (the node's tls/server.crt and tls/server.key)".to_owned(),
            ));
        }
        if self.tls.client_auth_required && self.tls.client_root_cas.is_empty() {
            return Err(PeerNodeError::Config(
                "tls.clientAuthRequired is true but tls.clientRootCas is empty; list the CA certificates client certificates must chain to".to_owned(),
            ));
        }
        for endpoint in &self.orderer.endpoints {
            if endpoint.rsplit_once(':').is_none() {
                return Err(PeerNodeError::Config(format!(
                    "orderer endpoint '{endpoint}' has no port; write it as host:port"
                )));
            }
        }
        if self.gateway.enabled && self.gateway.concurrency_limit == 0 {
            return Err(PeerNodeError::Config(
                "gateway.concurrencyLimit is 0, so every Gateway call would fail; set it (Fabric uses 500) or disable the gateway".to_owned(),
            ));
        }
        if let Some(ops) = &self.operations {
            ops.check()
                .map_err(|e| PeerNodeError::Config(format!("operations: {e}")))?;
        }
        if self.limits.max_message_bytes < 1024 * 1024 {
            return Err(PeerNodeError::Config(format!(
                "limits.maxMessageBytes is {}; blocks need at least 1 MiB (Fabric uses 100 MiB)",
                self.limits.max_message_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_loads_with_defaults_and_resolves_relative_paths() {
        let yaml = r#"
dataDir: data
msp: { dir: msp, id: Org1MSP }
listenAddress: 127.0.0.1:0
tls:
  enabled: true
  cert: tls/server.crt
  key: /abs/server.key
orderer:
  endpoints: [127.0.0.1:7050]
operations:
  listenAddress: 127.0.0.1:9443
  tls: { enabled: true, cert: ops.crt, key: ops.key }
"#;
        let c = PeerConfig::from_yaml(yaml, Path::new("/etc/cambium")).unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/cambium/data"));
        assert_eq!(c.msp.dir, Path::new("/etc/cambium/msp"));
        assert_eq!(
            c.tls.cert.as_deref(),
            Some(Path::new("/etc/cambium/tls/server.crt"))
        );
        assert_eq!(c.tls.key.as_deref(), Some(Path::new("/abs/server.key")));
        assert!(!c.tls.client_auth_required);
        assert_eq!(c.limits, Limits::default());
        assert!(!c.ledger.options().sync_each_block);
        assert_eq!(c.orderer.endpoints, ["127.0.0.1:7050"]);
        let ops = c.operations.expect("operations section");
        assert_eq!(ops.listen_address, "127.0.0.1:9443");
        assert_eq!(
            ops.tls.cert.as_deref(),
            Some(Path::new("/etc/cambium/ops.crt"))
        );
    }

    #[test]
    fn bad_configs_say_what_to_fix() {
        let check = |yaml: &str, needle: &str| {
            let err = PeerConfig::from_yaml(yaml, Path::new("/")).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        };
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\nbogus: 1\n",
            "bogus",
        );
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\nledger: {syncEveryBlock: true}\n",
            "syncEveryBlock",
        );
        let synced = PeerConfig::from_yaml(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\nledger: {syncEachBlock: true}\n",
            Path::new("/"),
        )
        .unwrap();
        assert!(synced.ledger.options().sync_each_block);
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: nowhere\n",
            "listenAddress",
        );
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\ntls: {enabled: true}\n",
            "tls.cert",
        );
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\norderer: {endpoints: [host]}\n",
            "host:port",
        );
        check(
            "dataDir: d\nmsp: {dir: m, id: O}\nlistenAddress: 1.2.3.4:1\noperations: {listenAddress: nowhere}\n",
            "operations",
        );
    }
}
