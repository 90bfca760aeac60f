//! The data directory of a development network: what the first start generates (crypto
//! material, the channel's genesis block, the state file, the connection profile) and how a
//! later start finds it again without regenerating anything.
//!
//! ```text
//! <data-dir>/
//!   network.json                   ports, channel, TLS: fixed at the first start (the
//!                                  operations ports may be moved on a later start)
//!   crypto/                        Fabric cryptogen layout (orderer org, Org1, Org2)
//!   mychannel.block                the channel's genesis block
//!   orderer/                       the orderer's chain and Raft log
//!   peers/peer0.org1.example.com/  each peer's ledger
//!   connection-profile.json|yaml   Fabric's common connection profile
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{AnchorPeer, ChannelConfig, DEFAULT_CHANNEL_YAML};
use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork, GeneratedOrg};
use cambium_primitives::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};
use crate::ports::{endpoint, Ports, HOST};

/// The channel `cambium up` creates.
pub const CHANNEL_ID: &str = "mychannel";
/// The state file that marks a folder as a Cambium development network.
pub const NETWORK_FILE: &str = "network.json";
/// The connection profile as JSON.
pub const PROFILE_JSON: &str = "connection-profile.json";
/// The connection profile as YAML.
pub const PROFILE_YAML: &str = "connection-profile.yaml";
/// The version of the data directory layout this crate writes and reads.
pub const LAYOUT_VERSION: u32 = 1;

/// How long the orderer waits before cutting a block that is not full: short, because a
/// development network should answer at once and clients wait for commits.
///
/// Measured with `cambium bench gateway` (release, TLS, AND endorsement, one run each): 5 ms
/// against 10 ms gave 695 against 574 tx/s and p50 21.9 against 26.7 ms at 16 clients, at the
/// same CPU per transaction (1.28 against 1.30 ms) and throughput at 64 clients; 2 ms shortened
/// p50 to 20.3 ms but cost 17 % more CPU per transaction (more, smaller blocks). Those figures
/// predate cutting when idle (the orderer's `cut_when_idle`), which cuts at once while no block
/// is in flight; the timeout now bounds only what gathers while one is.
pub const BATCH_TIMEOUT: Duration = Duration::from_millis(5);
/// The most transactions in one block.
pub const MAX_MESSAGE_COUNT: u32 = 500;
/// The upgrade grace window of the channel (`CambiumUpgradeGraceBlocks`): how many blocks
/// after a contract upgrade, canary step or abort a transaction endorsed on the version it
/// replaced stays acceptable.
///
/// The lifecycle default (a few blocks) suits Fabric-like batch timeouts of a second or more.
/// This network cuts a block every [`BATCH_TIMEOUT`] under load, so a few blocks last less than
/// one transaction's trip from endorsement to ordering at 64 clients (p50 ≈ 55 ms, about five
/// to eight blocks): transactions in flight across an upgrade failed with
/// `CHAINCODE_VERSION_CONFLICT` when the machine was busy. 200 blocks are at least one second,
/// since blocks are cut no faster than the batch timeout until one holds
/// [`MAX_MESSAGE_COUNT`] transactions.
pub const UPGRADE_GRACE_BLOCKS: u64 = 200;

/// What `network.json` records: the choices of the first start, which later starts reuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkState {
    /// [`LAYOUT_VERSION`] of the writer.
    pub layout: u32,
    /// The channel.
    pub channel: String,
    /// The loopback ports (they are in the channel configuration, so they never change).
    pub ports: Ports,
    /// Whether the nodes serve TLS.
    pub tls: bool,
}

/// A development network's data directory and its generated material.
#[derive(Clone, Debug)]
pub struct Network {
    /// The folder (absolute).
    pub root: PathBuf,
    /// The choices of the first start.
    pub state: NetworkState,
    /// Paths of all identities (nothing is regenerated on a later start).
    pub crypto: GeneratedNetwork,
}

/// One peer of the network.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    /// Its name, e.g. `peer0.org1.example.com`.
    pub name: String,
    /// Its organisation's name in the crypto config, e.g. `Org1`.
    pub org: String,
    /// Its MSP ID, e.g. `Org1MSP`.
    pub msp_id: String,
    /// Its port on loopback.
    pub port: u16,
    /// The port of its operations endpoint (`/healthz`, `/metrics`, `/logspec`) on loopback.
    pub ops_port: u16,
}

impl Network {
    /// Opens the network in `dir`, creating it first if `dir` is missing or empty. Returns the
    /// network and whether it was created now. `ports` are used when creating; when opening,
    /// node ports that differ from the recorded ones are refused (they are part of the
    /// channel), while new operations ports are taken and recorded.
    pub fn open_or_create(dir: &Path, ports: Option<Ports>, tls: bool) -> Result<(Network, bool)> {
        if dir.join(NETWORK_FILE).is_file() {
            let mut network = Network::open(dir)?;
            if let Some(ports) = ports {
                if !ports.same_network_ports(&network.state.ports) {
                    return Err(NodeError::data_dir(
                        &network.root,
                        format!(
                            "this network was created with ports {}; all but the operations ports are part of its channel and cannot change (drop the port flags, pass the recorded ones with new operations ports, or use a new --data-dir)",
                            describe_ports(&network.state.ports)
                        ),
                    ));
                }
                if ports != network.state.ports {
                    network.state.ports = ports;
                    network.write_state()?;
                }
            }
            return Ok((network, false));
        }
        let ports = ports.unwrap_or_default();
        Ok((Network::create(dir, ports, tls)?, true))
    }

    /// Opens an existing network; fails if `dir` is not one or its material is incomplete.
    pub fn open(dir: &Path) -> Result<Network> {
        let root = absolute(dir)?;
        let state_path = root.join(NETWORK_FILE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NodeError::data_dir(
                    &root,
                    format!("no {NETWORK_FILE} here, so this is not a Cambium network; start one with `cambium up --data-dir {}`", dir.display()),
                )
            } else {
                NodeError::io("reading", &state_path, e)
            }
        })?;
        let state: NetworkState = serde_json::from_str(&text).map_err(|e| {
            NodeError::data_dir(
                &root,
                format!(
                    "{NETWORK_FILE} is damaged ({e}); restore it or start over in a new --data-dir"
                ),
            )
        })?;
        if state.layout != LAYOUT_VERSION {
            return Err(NodeError::data_dir(
                &root,
                format!(
                    "written by a different Cambium (layout {}, this one reads {LAYOUT_VERSION}); use a new --data-dir",
                    state.layout
                ),
            ));
        }
        let crypto =
            cambium_cryptogen::plan(&CryptoConfig::default_network(), &root.join("crypto"))?;
        if let Some(missing) = crypto.missing_files().first() {
            return Err(NodeError::data_dir(
                &root,
                format!(
                    "{} is missing; the network's keys are incomplete, so restore the folder or start over in a new --data-dir",
                    missing.display()
                ),
            ));
        }
        let network = Network {
            root,
            state,
            crypto,
        };
        if !network.genesis_block_path().is_file() {
            return Err(NodeError::data_dir(
                &network.root,
                format!(
                    "{} is missing; restore it or start over in a new --data-dir",
                    network.genesis_block_path().display()
                ),
            ));
        }
        Ok(network)
    }

    /// Creates a network in `dir` (missing or empty): crypto material, the channel's genesis
    /// block with the nodes on loopback at `ports`, and the state file, written last so that
    /// an interrupted first start is refused rather than half-resumed.
    pub fn create(dir: &Path, ports: Ports, tls: bool) -> Result<Network> {
        if dir.exists() {
            let mut entries =
                std::fs::read_dir(dir).map_err(|e| NodeError::io("reading", dir, e))?;
            if entries.next().is_some() {
                return Err(NodeError::data_dir(
                    dir,
                    format!("the folder is not empty and has no {NETWORK_FILE}, so it is not a Cambium network; pass an empty or new --data-dir"),
                ));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| NodeError::io("creating", dir, e))?;
        let root = absolute(dir)?;
        let crypto = cambium_cryptogen::generate(
            &CryptoConfig::default_network(),
            &root.join("crypto"),
            GenerateOptions::default(),
        )?;
        let state = NetworkState {
            layout: LAYOUT_VERSION,
            channel: CHANNEL_ID.to_owned(),
            ports,
            tls,
        };
        let network = Network {
            root,
            state,
            crypto,
        };
        let config = network.channel_config()?;
        let block = cambium_channel::genesis_block(&config, now());
        write(&network.genesis_block_path(), &block)?;
        network.write_state()?;
        Ok(network)
    }

    /// Writes `network.json`.
    fn write_state(&self) -> Result<()> {
        let state_text = serde_json::to_string_pretty(&self.state)
            .map_err(|e| NodeError::Rejected(format!("encoding {NETWORK_FILE}: {e}")))?;
        write(&self.root.join(NETWORK_FILE), state_text.as_bytes())
    }

    /// The channel configuration: the sample channel with the orderer and both peers on
    /// loopback at this network's ports, a short batch timeout and larger blocks.
    pub fn channel_config(&self) -> Result<ChannelConfig> {
        // The sample YAML names its MSP folders relative to a `crypto/` folder next to it.
        let options = LoadOptions {
            channel_id: Some(self.state.channel.clone()),
            profile: None,
        };
        let mut spec = yaml::from_yaml(
            DEFAULT_CHANNEL_YAML,
            &self.root,
            "the built-in channel",
            &options,
        )?;
        let orderer = endpoint(self.state.ports.orderer);
        spec.orderer_addresses = vec![orderer.clone()];
        for consenter in &mut spec.orderer.consenters {
            consenter.host = HOST.to_owned();
            consenter.port = u32::from(self.state.ports.orderer);
        }
        for org in spec.orderer.organizations.values_mut() {
            org.orderer_endpoints = vec![orderer.clone()];
        }
        for peer in self.peers() {
            if let Some(org) = spec.application.organizations.get_mut(&peer.msp_id) {
                org.anchor_peers = vec![AnchorPeer {
                    host: HOST.to_owned(),
                    port: i32::from(peer.port),
                }];
            }
        }
        spec.orderer.batch_timeout = BATCH_TIMEOUT;
        spec.orderer.batch_size.max_message_count = MAX_MESSAGE_COUNT;
        let config = ChannelConfig::from_spec(&spec)?;
        with_upgrade_grace(&config, UPGRADE_GRACE_BLOCKS)
    }

    /// The genesis block file.
    pub fn genesis_block_path(&self) -> PathBuf {
        self.root.join(format!("{}.block", self.state.channel))
    }

    /// The genesis block bytes.
    pub fn genesis_block(&self) -> Result<Vec<u8>> {
        let path = self.genesis_block_path();
        std::fs::read(&path).map_err(|e| NodeError::io("reading", path, e))
    }

    /// The orderer's data folder.
    pub fn orderer_dir(&self) -> PathBuf {
        self.root.join("orderer")
    }

    /// A peer's data folder.
    pub fn peer_dir(&self, name: &str) -> PathBuf {
        self.root.join("peers").join(name)
    }

    /// The orderer organisation.
    pub fn orderer_org(&self) -> &GeneratedOrg {
        self.crypto
            .orderer_orgs()
            .next()
            .expect("the default network has an orderer organisation")
    }

    /// The peer organisations, Org1 first.
    pub fn peer_orgs(&self) -> Vec<&GeneratedOrg> {
        self.crypto.peer_orgs().collect()
    }

    /// The network's peers: one per peer organisation, in organisation order.
    pub fn peers(&self) -> Vec<PeerSpec> {
        let p = &self.state.ports;
        let ports = [(p.org1_peer, p.org1_ops), (p.org2_peer, p.org2_ops)];
        self.crypto
            .peer_orgs()
            .zip(ports)
            .filter_map(|(org, (port, ops_port))| {
                org.nodes.first().map(|node| PeerSpec {
                    name: node.name.clone(),
                    org: org.name.clone(),
                    msp_id: org.msp_id.clone(),
                    port,
                    ops_port,
                })
            })
            .collect()
    }

    /// The peers' operations endpoints, `http://127.0.0.1:PORT`, in organisation order: where
    /// `/metrics` (and the rollout brake) find each peer's figures.
    pub fn peer_operations_urls(&self) -> Vec<String> {
        self.peers()
            .iter()
            .map(|p| format!("http://{}", endpoint(p.ops_port)))
            .collect()
    }

    /// The connection profile's path as JSON.
    pub fn profile_json_path(&self) -> PathBuf {
        self.root.join(PROFILE_JSON)
    }

    /// The connection profile's path as YAML.
    pub fn profile_yaml_path(&self) -> PathBuf {
        self.root.join(PROFILE_YAML)
    }
}

/// `orderer 7050, admin 7053, Org1 peer 7051, Org2 peer 9051, operations 9443/9444/9445`.
pub fn describe_ports(ports: &Ports) -> String {
    format!(
        "orderer {}, admin {}, Org1 peer {}, Org2 peer {}, operations {}/{}/{}",
        ports.orderer,
        ports.admin,
        ports.org1_peer,
        ports.org2_peer,
        ports.orderer_ops,
        ports.org1_ops,
        ports.org2_ops
    )
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    std::path::absolute(dir).map_err(|e| NodeError::io("resolving", dir, e))
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| NodeError::io("creating", parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| NodeError::io("writing", path, e))
}

/// `config` with the `Application` group's upgrade grace window set to `blocks`.
fn with_upgrade_grace(config: &ChannelConfig, blocks: u64) -> Result<ChannelConfig> {
    let mut root = config.channel_group().clone();
    let application = root.groups.get_mut("Application").ok_or_else(|| {
        NodeError::Rejected("the built-in channel has no Application group".to_owned())
    })?;
    application.values.insert(
        cambium_lifecycle::upgrade::GRACE_BLOCKS_KEY.to_owned(),
        cambium_lifecycle::upgrade::grace_blocks_config_value(blocks),
    );
    Ok(ChannelConfig::new(
        config.channel_id(),
        config.sequence(),
        root,
    )?)
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_open_keeps_keys_ports_and_genesis() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("net");
        let ports = Ports::from_base(21000).unwrap();
        let (created, fresh) = Network::open_or_create(&dir, Some(ports), true).unwrap();
        assert!(fresh);
        let key = std::fs::read(&created.peer_orgs()[0].admin().key).unwrap();
        let genesis = created.genesis_block().unwrap();
        let config = ChannelConfig::from_config_block(&genesis).unwrap();
        assert_eq!(config.channel_id(), CHANNEL_ID);
        assert_eq!(config.batch_timeout(), BATCH_TIMEOUT);
        // What the validator reads from the channel, not a decoding of our own.
        assert_eq!(
            cambium_validator::ChannelContext::upgrade_grace_blocks(&config),
            UPGRADE_GRACE_BLOCKS
        );
        assert_eq!(config.consenters()[0].port, 21000);
        assert_eq!(config.consenters()[0].host, HOST);

        let (opened, fresh) = Network::open_or_create(&dir, None, true).unwrap();
        assert!(!fresh);
        assert_eq!(opened.state, created.state);
        assert_eq!(
            std::fs::read(&opened.peer_orgs()[0].admin().key).unwrap(),
            key
        );
        assert_eq!(opened.genesis_block().unwrap(), genesis);
        let names: Vec<_> = opened
            .peers()
            .into_iter()
            .map(|p| (p.name, p.port))
            .collect();
        assert_eq!(
            names,
            [
                ("peer0.org1.example.com".to_owned(), 21001),
                ("peer0.org2.example.com".to_owned(), 21002)
            ]
        );
    }

    #[test]
    fn other_ports_on_resume_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        Network::create(tmp.path(), Ports::from_base(21100).unwrap(), true).unwrap();
        let err = Network::open_or_create(tmp.path(), Some(Ports::from_base(21200).unwrap()), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("created with ports orderer 21100"), "{err}");
    }

    #[test]
    fn operations_ports_can_move_on_resume_and_are_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let ports = Ports::from_base(21300).unwrap();
        Network::create(tmp.path(), ports, true).unwrap();
        let moved = Ports {
            org1_ops: 21400,
            ..ports
        };
        let (network, fresh) = Network::open_or_create(tmp.path(), Some(moved), true).unwrap();
        assert!(!fresh);
        assert_eq!(network.state.ports, moved);
        assert_eq!(
            network.peer_operations_urls(),
            ["http://127.0.0.1:21400", "http://127.0.0.1:21306"]
        );
        assert_eq!(Network::open(tmp.path()).unwrap().state.ports, moved);
    }

    #[test]
    fn a_foreign_or_damaged_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
        let err = Network::open_or_create(tmp.path(), None, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not empty and has no network.json"), "{err}");
        let err = Network::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a Cambium network"), "{err}");

        let other = tempfile::tempdir().unwrap();
        let net = Network::create(other.path(), Ports::from_base(21300).unwrap(), true).unwrap();
        std::fs::remove_file(&net.peer_orgs()[1].admin().key).unwrap();
        let err = Network::open(other.path()).unwrap_err().to_string();
        assert!(err.contains("keys are incomplete"), "{err}");
    }
}
