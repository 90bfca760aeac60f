//! Channel configuration trees (`common.Config`) as plain data, and their protobuf encoding.
//!
//! A Fabric channel config is a tree of `ConfigGroup`s (`Channel` → `Orderer`/`Application` →
//! one group per organisation), each with named values, named policies, a version and a
//! modification policy. Values are opaque bytes on the wire whose message type is given by the
//! value's key (`MSP` holds an `msp.MSPConfig`, `BatchSize` an `orderer.BatchSize`, …), as in
//! Fabric's `common/channelconfig`. [`ConfigGroup`] holds them decoded into [`Value`]; keys this
//! module does not know are kept as [`Value::Raw`] bytes so nothing is lost.
//!
//! These types are plain Rust (no protobuf) so that `cambium-channel` and the nodes work on
//! them; only the functions here touch protobuf. Maps are `BTreeMap`s and the generated
//! messages use `BTreeMap` too, so the same tree always encodes to the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use cambium_primitives as dom;
use prost::Message;

use crate::error::{Result, WireError};
use crate::{common, etcdraft, msp, orderer, peer};

/// A config group: child groups, values and policies by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigGroup {
    /// Incremented each time the group's membership (children, value or policy keys) changes.
    pub version: u64,
    /// Child groups by name (`Orderer`, `Application`, `Org1MSP`, …).
    pub groups: BTreeMap<String, ConfigGroup>,
    /// Values by key (`MSP`, `BatchSize`, …).
    pub values: BTreeMap<String, ConfigValue>,
    /// Policies by name (`Readers`, `Writers`, `Admins`, …).
    pub policies: BTreeMap<String, ConfigPolicy>,
    /// The policy that must be satisfied to change this group's membership.
    pub mod_policy: String,
}

/// A config value with its version and modification policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigValue {
    /// Incremented each time the value changes.
    pub version: u64,
    /// The decoded value. Its variant must match the key it is stored under (see
    /// [`Value::decode`]); a mismatched variant encodes but does not decode back the same.
    pub value: Value,
    /// The policy that must be satisfied to change this value.
    pub mod_policy: String,
}

/// A config policy with its version and modification policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigPolicy {
    /// Incremented each time the policy changes.
    pub version: u64,
    /// The policy.
    pub policy: dom::Policy,
    /// The policy that must be satisfied to change this policy.
    pub mod_policy: String,
}

/// The decoded content of a config value, by the message its key implies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `HashingAlgorithm`: `common.HashingAlgorithm{name}` (Fabric only accepts `SHA256`).
    HashingAlgorithm(String),
    /// `BlockDataHashingStructure`: `common.BlockDataHashingStructure{width}` (`u32::MAX`).
    BlockDataHashingStructure(u32),
    /// `OrdererAddresses` (channel group) or `Endpoints` (orderer org group):
    /// `common.OrdererAddresses{addresses}` as `host:port` strings.
    Addresses(Vec<String>),
    /// `Capabilities`: `common.Capabilities`, the names of the required capabilities.
    Capabilities(BTreeSet<String>),
    /// `Consortium`: `common.Consortium{name}` (system-channel era; kept for old blocks).
    Consortium(String),
    /// `MSP`: `msp.MSPConfig`.
    Msp(MspValue),
    /// `BatchSize`: `orderer.BatchSize`.
    BatchSize(BatchSize),
    /// `BatchTimeout`: `orderer.BatchTimeout{timeout}`, a Go duration string such as `2s`.
    BatchTimeout(String),
    /// `ChannelRestrictions`: `orderer.ChannelRestrictions{max_count}`.
    ChannelRestrictions(u64),
    /// `ConsensusType`: `orderer.ConsensusType`.
    ConsensusType(ConsensusType),
    /// `AnchorPeers`: `protos.AnchorPeers`.
    AnchorPeers(Vec<AnchorPeer>),
    /// `ACLs`: `protos.ACLs`, resource name → policy reference.
    Acls(BTreeMap<String, String>),
    /// A value under a key this module does not know, as the bytes received.
    Raw(Vec<u8>),
}

/// `orderer.BatchSize`: when the block cutter cuts a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchSize {
    /// Cut a block once it holds this many transactions.
    pub max_message_count: u32,
    /// No block's transactions may exceed this many bytes in total.
    pub absolute_max_bytes: u32,
    /// Cut a block once its transactions reach this many bytes (a bigger single transaction
    /// gets a block of its own).
    pub preferred_max_bytes: u32,
}

/// `orderer.ConsensusType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusType {
    /// The consensus plugin, e.g. `etcdraft`.
    pub consensus_type: String,
    /// The plugin's metadata.
    pub metadata: ConsensusMetadata,
    /// `STATE_NORMAL` (false) or `STATE_MAINTENANCE` (true).
    pub maintenance: bool,
}

/// The metadata of a consensus type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsensusMetadata {
    /// `etcdraft.ConfigMetadata`, used when the type is `etcdraft`.
    EtcdRaft(RaftMetadata),
    /// Metadata of another consensus type, as the bytes received.
    Raw(Vec<u8>),
}

/// `etcdraft.ConfigMetadata`: the Raft cluster of a channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftMetadata {
    /// The consenters, in config order.
    pub consenters: Vec<RaftConsenter>,
    /// Raft options; `None` when the config carries none.
    pub options: Option<RaftOptions>,
}

/// `etcdraft.Consenter`: one Raft node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftConsenter {
    /// Host name or address other orderers reach it at.
    pub host: String,
    /// Its cluster port.
    pub port: u32,
    /// PEM of its TLS client certificate.
    pub client_tls_cert: Vec<u8>,
    /// PEM of its TLS server certificate.
    pub server_tls_cert: Vec<u8>,
}

/// `etcdraft.Options`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftOptions {
    /// Time between Raft ticks, a Go duration such as `500ms`.
    pub tick_interval: String,
    /// Ticks without a leader before an election.
    pub election_tick: u32,
    /// Ticks between heartbeats.
    pub heartbeat_tick: u32,
    /// Most blocks in flight during replication.
    pub max_inflight_blocks: u32,
    /// Bytes of blocks between snapshots.
    pub snapshot_interval_size: u32,
}

/// `protos.AnchorPeer`: a peer other organisations' peers gossip with.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct AnchorPeer {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: i32,
}

/// `msp.MSPConfig` by its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MspValue {
    /// Type 0 (FABRIC): an X.509 MSP (boxed: it is large and values are many).
    Fabric(Box<FabricMspConfig>),
    /// Another MSP type (1 is IDEMIX), as the bytes received.
    Other {
        /// `MSPConfig.type`.
        msp_type: i32,
        /// `MSPConfig.config`.
        config: Vec<u8>,
    },
}

/// `msp.FabricMSPConfig`: an X.509 MSP as a channel carries it. Certificates and CRLs are the
/// PEM bytes of the files they were read from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FabricMspConfig {
    /// The MSP ID.
    pub name: String,
    /// Root CA certificates.
    pub root_certs: Vec<Vec<u8>>,
    /// Intermediate CA certificates.
    pub intermediate_certs: Vec<Vec<u8>>,
    /// Certificates of explicitly listed admins.
    pub admins: Vec<Vec<u8>>,
    /// Certificate revocation lists.
    pub revocation_list: Vec<Vec<u8>>,
    /// A signing identity; channel configs carry none (verifying MSPs).
    pub signing_identity: Option<SigningIdentityInfo>,
    /// OUs of which valid identities must carry one.
    pub organizational_unit_identifiers: Vec<OuIdentifier>,
    /// Hash families; Fabric writes `SHA2` / `SHA256`.
    pub crypto_config: Option<CryptoConfig>,
    /// TLS root CA certificates.
    pub tls_root_certs: Vec<Vec<u8>>,
    /// TLS intermediate CA certificates.
    pub tls_intermediate_certs: Vec<Vec<u8>>,
    /// NodeOU classification.
    pub node_ous: Option<NodeOus>,
}

/// `msp.SigningIdentityInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningIdentityInfo {
    /// The signer's certificate.
    pub public_signer: Vec<u8>,
    /// The private key reference, if any.
    pub private_signer: Option<KeyInfo>,
}

/// `msp.KeyInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's identifier.
    pub key_identifier: String,
    /// The key material.
    pub key_material: Vec<u8>,
}

/// `msp.FabricOUIdentifier`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OuIdentifier {
    /// PEM of the CA certificate the OU is bound to; empty for any.
    pub certificate: Vec<u8>,
    /// The OU value.
    pub organizational_unit_identifier: String,
}

/// `msp.FabricCryptoConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CryptoConfig {
    /// `SHA2` in Fabric.
    pub signature_hash_family: String,
    /// `SHA256` in Fabric.
    pub identity_identifier_hash_function: String,
}

/// `msp.FabricNodeOUs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOus {
    /// Whether NodeOU roles are enforced.
    pub enable: bool,
    /// OU of clients.
    pub client: Option<OuIdentifier>,
    /// OU of peers.
    pub peer: Option<OuIdentifier>,
    /// OU of admins.
    pub admin: Option<OuIdentifier>,
    /// OU of orderers.
    pub orderer: Option<OuIdentifier>,
}

/// `common.ConfigEnvelope`: a full config and the update that produced it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigEnvelope {
    /// `Config.sequence`: 0 in the genesis block, +1 per config update.
    pub sequence: u64,
    /// `Config.channel_group`: the root (`Channel`) group.
    pub channel_group: ConfigGroup,
    /// `last_update`: the signed `CONFIG_UPDATE` envelope that produced this config, if any
    /// (none in a genesis block).
    pub last_update: Option<EnvelopeParts>,
}

/// The two fields of a `common.Envelope`, kept as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvelopeParts {
    /// `Envelope.payload`: the signed bytes.
    pub payload: Vec<u8>,
    /// `Envelope.signature`.
    pub signature: Vec<u8>,
}

// ---------------------------------------------------------------------------------------------
// Value keys
// ---------------------------------------------------------------------------------------------

/// Key of the channel's hashing algorithm value.
pub const HASHING_ALGORITHM_KEY: &str = "HashingAlgorithm";
/// Key of the channel's block data hashing structure value.
pub const BLOCK_DATA_HASHING_STRUCTURE_KEY: &str = "BlockDataHashingStructure";
/// Key of the channel's (deprecated, global) orderer addresses value.
pub const ORDERER_ADDRESSES_KEY: &str = "OrdererAddresses";
/// Key of an orderer organisation's endpoints value.
pub const ENDPOINTS_KEY: &str = "Endpoints";
/// Key of a capabilities value (channel, orderer and application groups).
pub const CAPABILITIES_KEY: &str = "Capabilities";
/// Key of the consortium value (system-channel era).
pub const CONSORTIUM_KEY: &str = "Consortium";
/// Key of an organisation's MSP value.
pub const MSP_KEY: &str = "MSP";
/// Key of the orderer's batch size value.
pub const BATCH_SIZE_KEY: &str = "BatchSize";
/// Key of the orderer's batch timeout value.
pub const BATCH_TIMEOUT_KEY: &str = "BatchTimeout";
/// Key of the orderer's channel restrictions value.
pub const CHANNEL_RESTRICTIONS_KEY: &str = "ChannelRestrictions";
/// Key of the orderer's consensus type value.
pub const CONSENSUS_TYPE_KEY: &str = "ConsensusType";
/// Key of an application organisation's anchor peers value.
pub const ANCHOR_PEERS_KEY: &str = "AnchorPeers";
/// Key of the application's ACLs value.
pub const ACLS_KEY: &str = "ACLs";

/// Consensus type whose metadata is `etcdraft.ConfigMetadata`.
pub const ETCDRAFT: &str = "etcdraft";

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn ou_to_wire(ou: &OuIdentifier) -> msp::FabricOuIdentifier {
    msp::FabricOuIdentifier {
        certificate: ou.certificate.clone(),
        organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
    }
}

fn ou_from_wire(ou: msp::FabricOuIdentifier) -> OuIdentifier {
    OuIdentifier {
        certificate: ou.certificate,
        organizational_unit_identifier: ou.organizational_unit_identifier,
    }
}

impl From<&FabricMspConfig> for msp::FabricMspConfig {
    fn from(c: &FabricMspConfig) -> Self {
        msp::FabricMspConfig {
            name: c.name.clone(),
            root_certs: c.root_certs.clone(),
            intermediate_certs: c.intermediate_certs.clone(),
            admins: c.admins.clone(),
            revocation_list: c.revocation_list.clone(),
            signing_identity: c
                .signing_identity
                .as_ref()
                .map(|s| msp::SigningIdentityInfo {
                    public_signer: s.public_signer.clone(),
                    private_signer: s.private_signer.as_ref().map(|k| msp::KeyInfo {
                        key_identifier: k.key_identifier.clone(),
                        key_material: k.key_material.clone(),
                    }),
                }),
            organizational_unit_identifiers: c
                .organizational_unit_identifiers
                .iter()
                .map(ou_to_wire)
                .collect(),
            crypto_config: c.crypto_config.as_ref().map(|cc| msp::FabricCryptoConfig {
                signature_hash_family: cc.signature_hash_family.clone(),
                identity_identifier_hash_function: cc.identity_identifier_hash_function.clone(),
            }),
            tls_root_certs: c.tls_root_certs.clone(),
            tls_intermediate_certs: c.tls_intermediate_certs.clone(),
            fabric_node_ous: c.node_ous.as_ref().map(|n| msp::FabricNodeOUs {
                enable: n.enable,
                client_ou_identifier: n.client.as_ref().map(ou_to_wire),
                peer_ou_identifier: n.peer.as_ref().map(ou_to_wire),
                admin_ou_identifier: n.admin.as_ref().map(ou_to_wire),
                orderer_ou_identifier: n.orderer.as_ref().map(ou_to_wire),
            }),
        }
    }
}

impl From<msp::FabricMspConfig> for FabricMspConfig {
    fn from(c: msp::FabricMspConfig) -> Self {
        FabricMspConfig {
            name: c.name,
            root_certs: c.root_certs,
            intermediate_certs: c.intermediate_certs,
            admins: c.admins,
            revocation_list: c.revocation_list,
            signing_identity: c.signing_identity.map(|s| SigningIdentityInfo {
                public_signer: s.public_signer,
                private_signer: s.private_signer.map(|k| KeyInfo {
                    key_identifier: k.key_identifier,
                    key_material: k.key_material,
                }),
            }),
            organizational_unit_identifiers: c
                .organizational_unit_identifiers
                .into_iter()
                .map(ou_from_wire)
                .collect(),
            crypto_config: c.crypto_config.map(|cc| CryptoConfig {
                signature_hash_family: cc.signature_hash_family,
                identity_identifier_hash_function: cc.identity_identifier_hash_function,
            }),
            tls_root_certs: c.tls_root_certs,
            tls_intermediate_certs: c.tls_intermediate_certs,
            node_ous: c.fabric_node_ous.map(|n| NodeOus {
                enable: n.enable,
                client: n.client_ou_identifier.map(ou_from_wire),
                peer: n.peer_ou_identifier.map(ou_from_wire),
                admin: n.admin_ou_identifier.map(ou_from_wire),
                orderer: n.orderer_ou_identifier.map(ou_from_wire),
            }),
        }
    }
}

impl Value {
    /// The bytes this value has in `ConfigValue.value`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Value::HashingAlgorithm(name) => {
                common::HashingAlgorithm { name: name.clone() }.encode_to_vec()
            }
            Value::BlockDataHashingStructure(width) => {
                common::BlockDataHashingStructure { width: *width }.encode_to_vec()
            }
            Value::Addresses(addresses) => common::OrdererAddresses {
                addresses: addresses.clone(),
            }
            .encode_to_vec(),
            Value::Capabilities(names) => common::Capabilities {
                capabilities: names
                    .iter()
                    .map(|n| (n.clone(), common::Capability {}))
                    .collect(),
            }
            .encode_to_vec(),
            Value::Consortium(name) => common::Consortium { name: name.clone() }.encode_to_vec(),
            Value::Msp(MspValue::Fabric(config)) => msp::MspConfig {
                r#type: 0,
                config: msp::FabricMspConfig::from(config.as_ref()).encode_to_vec(),
            }
            .encode_to_vec(),
            Value::Msp(MspValue::Other { msp_type, config }) => msp::MspConfig {
                r#type: *msp_type,
                config: config.clone(),
            }
            .encode_to_vec(),
            Value::BatchSize(b) => orderer::BatchSize {
                max_message_count: b.max_message_count,
                absolute_max_bytes: b.absolute_max_bytes,
                preferred_max_bytes: b.preferred_max_bytes,
            }
            .encode_to_vec(),
            Value::BatchTimeout(timeout) => orderer::BatchTimeout {
                timeout: timeout.clone(),
            }
            .encode_to_vec(),
            Value::ChannelRestrictions(max_count) => orderer::ChannelRestrictions {
                max_count: *max_count,
            }
            .encode_to_vec(),
            Value::ConsensusType(ct) => orderer::ConsensusType {
                r#type: ct.consensus_type.clone(),
                metadata: match &ct.metadata {
                    ConsensusMetadata::EtcdRaft(raft) => encode_raft_metadata(raft),
                    ConsensusMetadata::Raw(bytes) => bytes.clone(),
                },
                state: if ct.maintenance {
                    orderer::consensus_type::State::Maintenance as i32
                } else {
                    orderer::consensus_type::State::Normal as i32
                },
            }
            .encode_to_vec(),
            Value::AnchorPeers(peers) => peer::AnchorPeers {
                anchor_peers: peers
                    .iter()
                    .map(|p| peer::AnchorPeer {
                        host: p.host.clone(),
                        port: p.port,
                    })
                    .collect(),
            }
            .encode_to_vec(),
            Value::Acls(acls) => peer::AcLs {
                acls: acls
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            peer::ApiResource {
                                policy_ref: v.clone(),
                            },
                        )
                    })
                    .collect(),
            }
            .encode_to_vec(),
            Value::Raw(bytes) => bytes.clone(),
        }
    }

    /// Decodes the bytes of the value stored under `key`; unknown keys give [`Value::Raw`].
    pub fn decode(key: &str, bytes: &[u8]) -> Result<Value> {
        fn dec<M: Message + Default>(bytes: &[u8], message: &'static str) -> Result<M> {
            M::decode(bytes).map_err(WireError::decode(message))
        }
        Ok(match key {
            HASHING_ALGORITHM_KEY => Value::HashingAlgorithm(
                dec::<common::HashingAlgorithm>(bytes, "common.HashingAlgorithm")?.name,
            ),
            BLOCK_DATA_HASHING_STRUCTURE_KEY => Value::BlockDataHashingStructure(
                dec::<common::BlockDataHashingStructure>(
                    bytes,
                    "common.BlockDataHashingStructure",
                )?
                .width,
            ),
            ORDERER_ADDRESSES_KEY | ENDPOINTS_KEY => Value::Addresses(
                dec::<common::OrdererAddresses>(bytes, "common.OrdererAddresses")?.addresses,
            ),
            CAPABILITIES_KEY => Value::Capabilities(
                dec::<common::Capabilities>(bytes, "common.Capabilities")?
                    .capabilities
                    .into_keys()
                    .collect(),
            ),
            CONSORTIUM_KEY => {
                Value::Consortium(dec::<common::Consortium>(bytes, "common.Consortium")?.name)
            }
            MSP_KEY => {
                let config = dec::<msp::MspConfig>(bytes, "msp.MSPConfig")?;
                if config.r#type == 0 {
                    let fabric: FabricMspConfig =
                        dec::<msp::FabricMspConfig>(&config.config, "msp.FabricMSPConfig")?.into();
                    Value::Msp(MspValue::Fabric(Box::new(fabric)))
                } else {
                    Value::Msp(MspValue::Other {
                        msp_type: config.r#type,
                        config: config.config,
                    })
                }
            }
            BATCH_SIZE_KEY => {
                let b = dec::<orderer::BatchSize>(bytes, "orderer.BatchSize")?;
                Value::BatchSize(BatchSize {
                    max_message_count: b.max_message_count,
                    absolute_max_bytes: b.absolute_max_bytes,
                    preferred_max_bytes: b.preferred_max_bytes,
                })
            }
            BATCH_TIMEOUT_KEY => Value::BatchTimeout(
                dec::<orderer::BatchTimeout>(bytes, "orderer.BatchTimeout")?.timeout,
            ),
            CHANNEL_RESTRICTIONS_KEY => Value::ChannelRestrictions(
                dec::<orderer::ChannelRestrictions>(bytes, "orderer.ChannelRestrictions")?
                    .max_count,
            ),
            CONSENSUS_TYPE_KEY => {
                let ct = dec::<orderer::ConsensusType>(bytes, "orderer.ConsensusType")?;
                let maintenance = match orderer::consensus_type::State::try_from(ct.state) {
                    Ok(orderer::consensus_type::State::Normal) => false,
                    Ok(orderer::consensus_type::State::Maintenance) => true,
                    Err(_) => {
                        return Err(WireError::UnknownEnumValue {
                            field: "orderer.ConsensusType.state",
                            enum_name: "orderer.ConsensusType.State",
                            value: ct.state,
                        })
                    }
                };
                let metadata = if ct.r#type == ETCDRAFT {
                    ConsensusMetadata::EtcdRaft(decode_raft_metadata(&ct.metadata)?)
                } else {
                    ConsensusMetadata::Raw(ct.metadata)
                };
                Value::ConsensusType(ConsensusType {
                    consensus_type: ct.r#type,
                    metadata,
                    maintenance,
                })
            }
            ANCHOR_PEERS_KEY => Value::AnchorPeers(
                dec::<peer::AnchorPeers>(bytes, "protos.AnchorPeers")?
                    .anchor_peers
                    .into_iter()
                    .map(|p| AnchorPeer {
                        host: p.host,
                        port: p.port,
                    })
                    .collect(),
            ),
            ACLS_KEY => Value::Acls(
                dec::<peer::AcLs>(bytes, "protos.ACLs")?
                    .acls
                    .into_iter()
                    .map(|(k, v)| (k, v.policy_ref))
                    .collect(),
            ),
            _ => Value::Raw(bytes.to_vec()),
        })
    }
}

/// The bytes of `etcdraft.ConfigMetadata` (what `ConsensusType.metadata` holds for Raft).
pub fn encode_raft_metadata(raft: &RaftMetadata) -> Vec<u8> {
    etcdraft::ConfigMetadata {
        consenters: raft
            .consenters
            .iter()
            .map(|c| etcdraft::Consenter {
                host: c.host.clone(),
                port: c.port,
                client_tls_cert: c.client_tls_cert.clone(),
                server_tls_cert: c.server_tls_cert.clone(),
            })
            .collect(),
        options: raft.options.as_ref().map(|o| etcdraft::Options {
            tick_interval: o.tick_interval.clone(),
            election_tick: o.election_tick,
            heartbeat_tick: o.heartbeat_tick,
            max_inflight_blocks: o.max_inflight_blocks,
            snapshot_interval_size: o.snapshot_interval_size,
        }),
    }
    .encode_to_vec()
}

/// Decodes `etcdraft.ConfigMetadata` bytes.
pub fn decode_raft_metadata(bytes: &[u8]) -> Result<RaftMetadata> {
    let m = etcdraft::ConfigMetadata::decode(bytes)
        .map_err(WireError::decode("etcdraft.ConfigMetadata"))?;
    Ok(RaftMetadata {
        consenters: m
            .consenters
            .into_iter()
            .map(|c| RaftConsenter {
                host: c.host,
                port: c.port,
                client_tls_cert: c.client_tls_cert,
                server_tls_cert: c.server_tls_cert,
            })
            .collect(),
        options: m.options.map(|o| RaftOptions {
            tick_interval: o.tick_interval,
            election_tick: o.election_tick,
            heartbeat_tick: o.heartbeat_tick,
            max_inflight_blocks: o.max_inflight_blocks,
            snapshot_interval_size: o.snapshot_interval_size,
        }),
    })
}

impl From<&ConfigGroup> for common::ConfigGroup {
    fn from(g: &ConfigGroup) -> Self {
        common::ConfigGroup {
            version: g.version,
            groups: g
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), common::ConfigGroup::from(v)))
                .collect(),
            values: g
                .values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        common::ConfigValue {
                            version: v.version,
                            value: v.value.encode(),
                            mod_policy: v.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            policies: g
                .policies
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        common::ConfigPolicy {
                            version: p.version,
                            policy: Some(common::Policy::from(&p.policy)),
                            mod_policy: p.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            mod_policy: g.mod_policy.clone(),
        }
    }
}

impl TryFrom<&common::ConfigGroup> for ConfigGroup {
    type Error = WireError;

    fn try_from(g: &common::ConfigGroup) -> Result<Self> {
        let mut groups = BTreeMap::new();
        for (name, child) in &g.groups {
            groups.insert(name.clone(), ConfigGroup::try_from(child)?);
        }
        let mut values = BTreeMap::new();
        for (key, v) in &g.values {
            values.insert(
                key.clone(),
                ConfigValue {
                    version: v.version,
                    value: Value::decode(key, &v.value)?,
                    mod_policy: v.mod_policy.clone(),
                },
            );
        }
        let mut policies = BTreeMap::new();
        for (name, p) in &g.policies {
            let policy = p.policy.as_ref().ok_or(WireError::MissingField {
                message: "common.ConfigPolicy",
                field: "policy",
            })?;
            policies.insert(
                name.clone(),
                ConfigPolicy {
                    version: p.version,
                    policy: dom::Policy::try_from(policy)?,
                    mod_policy: p.mod_policy.clone(),
                },
            );
        }
        Ok(ConfigGroup {
            version: g.version,
            groups,
            values,
            policies,
            mod_policy: g.mod_policy.clone(),
        })
    }
}

/// The bytes of `common.ConfigEnvelope` (what the payload of a CONFIG envelope holds).
pub fn encode_config_envelope(env: &ConfigEnvelope) -> Vec<u8> {
    let last_update = env.last_update.as_ref().map(|e| common::Envelope {
        payload: e.payload.clone(),
        signature: e.signature.clone(),
    });
    common::ConfigEnvelope {
        config: Some(common::Config {
            sequence: env.sequence,
            channel_group: Some(common::ConfigGroup::from(&env.channel_group)),
        }),
        last_update,
    }
    .encode_to_vec()
}

/// Decodes `common.ConfigEnvelope` bytes into a config tree.
pub fn decode_config_envelope(bytes: &[u8]) -> Result<ConfigEnvelope> {
    let env = common::ConfigEnvelope::decode(bytes)
        .map_err(WireError::decode("common.ConfigEnvelope"))?;
    let config = env.config.ok_or(WireError::MissingField {
        message: "common.ConfigEnvelope",
        field: "config",
    })?;
    let group = config.channel_group.ok_or(WireError::MissingField {
        message: "common.Config",
        field: "channel_group",
    })?;
    Ok(ConfigEnvelope {
        sequence: config.sequence,
        channel_group: ConfigGroup::try_from(&group)?,
        last_update: env.last_update.map(|e| EnvelopeParts {
            payload: e.payload,
            signature: e.signature,
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/// A `common.Block` as plain parts; envelopes and metadata slots are opaque bytes, carried
/// exactly as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockParts {
    /// `header.number`.
    pub number: u64,
    /// `header.previous_hash`.
    pub previous_hash: Vec<u8>,
    /// `header.data_hash`.
    pub data_hash: Vec<u8>,
    /// `data.data`: serialised envelopes.
    pub data: Vec<Vec<u8>>,
    /// `metadata.metadata`: the metadata slots.
    pub metadata: Vec<Vec<u8>>,
}

/// The bytes of `common.Block` for `block`.
pub fn encode_block(block: &BlockParts) -> Vec<u8> {
    encode_block_fields(
        block.number,
        &block.previous_hash,
        &block.data_hash,
        &block.data,
        &block.metadata,
    )
}

/// The bytes of `common.Block` from its fields, for callers with their own block type. The
/// envelopes and metadata slots are opaque bytes, carried exactly as given.
pub fn encode_block_fields(
    number: u64,
    previous_hash: &[u8],
    data_hash: &[u8],
    data: &[Vec<u8>],
    metadata: &[Vec<u8>],
) -> Vec<u8> {
    common::Block {
        header: Some(common::BlockHeader {
            number,
            previous_hash: previous_hash.to_vec(),
            data_hash: data_hash.to_vec(),
        }),
        data: Some(common::BlockData {
            data: data.to_vec(),
        }),
        metadata: Some(common::BlockMetadata {
            metadata: metadata.to_vec(),
        }),
    }
    .encode_to_vec()
}

/// Decodes `common.Block` bytes; a missing header, data or metadata reads as empty.
pub fn decode_block(bytes: &[u8]) -> Result<BlockParts> {
    let block = common::Block::decode(bytes).map_err(WireError::decode("common.Block"))?;
    let header = block.header.unwrap_or_default();
    Ok(BlockParts {
        number: header.number,
        previous_hash: header.previous_hash,
        data_hash: header.data_hash,
        data: block.data.map(|d| d.data).unwrap_or_default(),
        metadata: block.metadata.map(|m| m.metadata).unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------------
// Block metadata of config blocks
// ---------------------------------------------------------------------------------------------

/// The bytes of `common.Metadata{value = LastConfig{index}}`: the `LAST_CONFIG` slot.
pub fn last_config_metadata(index: u64) -> Vec<u8> {
    common::Metadata {
        value: common::LastConfig { index }.encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec()
}

/// The bytes of an unsigned `common.Metadata{value = OrdererBlockMetadata{last_config{index}}}`:
/// the `SIGNATURES` slot of a genesis block, which Fabric's `configtxgen` writes unsigned.
pub fn unsigned_orderer_block_metadata(last_config_index: u64) -> Vec<u8> {
    common::Metadata {
        value: common::OrdererBlockMetadata {
            last_config: Some(common::LastConfig {
                index: last_config_index,
            }),
            consenter_metadata: Vec::new(),
        }
        .encode_to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec()
}

/// The index in a `LAST_CONFIG` slot (`common.Metadata{value = LastConfig}`), or in a
/// `SIGNATURES` slot (`OrdererBlockMetadata.last_config`) when `orderer_metadata` is true.
pub fn decode_last_config_index(slot: &[u8], orderer_metadata: bool) -> Result<u64> {
    let metadata = common::Metadata::decode(slot).map_err(WireError::decode("common.Metadata"))?;
    if orderer_metadata {
        let obm = common::OrdererBlockMetadata::decode(metadata.value.as_slice())
            .map_err(WireError::decode("common.OrdererBlockMetadata"))?;
        Ok(obm.last_config.map(|l| l.index).unwrap_or_default())
    } else {
        let lc = common::LastConfig::decode(metadata.value.as_slice())
            .map_err(WireError::decode("common.LastConfig"))?;
        Ok(lc.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_tree() -> ConfigGroup {
        let mut org = ConfigGroup {
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        org.values.insert(
            MSP_KEY.into(),
            ConfigValue {
                version: 0,
                value: Value::Msp(MspValue::Fabric(Box::new(FabricMspConfig {
                    name: "Org1MSP".into(),
                    root_certs: vec![b"root".to_vec()],
                    crypto_config: Some(CryptoConfig {
                        signature_hash_family: "SHA2".into(),
                        identity_identifier_hash_function: "SHA256".into(),
                    }),
                    node_ous: Some(NodeOus {
                        enable: true,
                        client: Some(OuIdentifier {
                            certificate: b"root".to_vec(),
                            organizational_unit_identifier: "client".into(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }))),
                mod_policy: "Admins".into(),
            },
        );
        org.values.insert(
            ANCHOR_PEERS_KEY.into(),
            ConfigValue {
                version: 0,
                value: Value::AnchorPeers(vec![AnchorPeer {
                    host: "peer0".into(),
                    port: 7051,
                }]),
                mod_policy: "Admins".into(),
            },
        );
        org.policies.insert(
            "Admins".into(),
            ConfigPolicy {
                version: 0,
                policy: dom::Policy::ImplicitMeta(dom::ImplicitMetaPolicy {
                    rule: dom::ImplicitMetaRule::Majority,
                    sub_policy: "Admins".into(),
                }),
                mod_policy: "Admins".into(),
            },
        );
        let mut orderer = ConfigGroup::default();
        for (key, value) in [
            (
                CONSENSUS_TYPE_KEY,
                Value::ConsensusType(ConsensusType {
                    consensus_type: ETCDRAFT.into(),
                    metadata: ConsensusMetadata::EtcdRaft(RaftMetadata {
                        consenters: vec![RaftConsenter {
                            host: "orderer".into(),
                            port: 7050,
                            client_tls_cert: b"c".to_vec(),
                            server_tls_cert: b"s".to_vec(),
                        }],
                        options: Some(RaftOptions {
                            tick_interval: "500ms".into(),
                            election_tick: 10,
                            heartbeat_tick: 1,
                            max_inflight_blocks: 5,
                            snapshot_interval_size: 16 << 20,
                        }),
                    }),
                    maintenance: false,
                }),
            ),
            (
                BATCH_SIZE_KEY,
                Value::BatchSize(BatchSize {
                    max_message_count: 500,
                    absolute_max_bytes: 10 << 20,
                    preferred_max_bytes: 2 << 20,
                }),
            ),
            (BATCH_TIMEOUT_KEY, Value::BatchTimeout("2s".into())),
            (CHANNEL_RESTRICTIONS_KEY, Value::ChannelRestrictions(0)),
            (
                CAPABILITIES_KEY,
                Value::Capabilities(["V2_0".to_string()].into()),
            ),
            (
                ACLS_KEY,
                Value::Acls([("a/b".into(), "/Channel/X".into())].into()),
            ),
            ("Unknown", Value::Raw(vec![1, 2, 3])),
        ] {
            orderer.values.insert(
                key.into(),
                ConfigValue {
                    version: 1,
                    value,
                    mod_policy: "Admins".into(),
                },
            );
        }
        orderer.groups.insert("Org1MSP".into(), org);
        let mut root = ConfigGroup::default();
        root.groups.insert("Orderer".into(), orderer);
        root.values.insert(
            HASHING_ALGORITHM_KEY.into(),
            ConfigValue {
                version: 0,
                value: Value::HashingAlgorithm("SHA256".into()),
                mod_policy: "Admins".into(),
            },
        );
        root.values.insert(
            BLOCK_DATA_HASHING_STRUCTURE_KEY.into(),
            ConfigValue {
                version: 0,
                value: Value::BlockDataHashingStructure(u32::MAX),
                mod_policy: "Admins".into(),
            },
        );
        root
    }

    #[test]
    fn config_envelopes_round_trip_and_encode_deterministically() {
        let env = ConfigEnvelope {
            sequence: 3,
            channel_group: sample_tree(),
            last_update: Some(EnvelopeParts {
                payload: b"update".to_vec(),
                signature: b"sig".to_vec(),
            }),
        };
        let bytes = encode_config_envelope(&env);
        assert_eq!(bytes, encode_config_envelope(&env.clone()));
        let back = decode_config_envelope(&bytes).unwrap();
        assert_eq!(back, env);
        assert_eq!(encode_config_envelope(&back), bytes);
    }

    #[test]
    fn a_missing_config_is_named() {
        let err = decode_config_envelope(&[]).unwrap_err();
        assert!(
            err.to_string().contains("common.ConfigEnvelope.config"),
            "{err}"
        );
    }

    mod prop {
        use super::*;
        use proptest::collection::{btree_map, btree_set, vec};
        use proptest::option;
        use proptest::prelude::*;

        fn bytes() -> impl Strategy<Value = Vec<u8>> {
            vec(any::<u8>(), 0..6)
        }

        fn ou() -> impl Strategy<Value = OuIdentifier> {
            (bytes(), "[a-z]{0,6}").prop_map(|(certificate, id)| OuIdentifier {
                certificate,
                organizational_unit_identifier: id,
            })
        }

        fn msp() -> impl Strategy<Value = MspValue> {
            let fabric = (
                "[A-Za-z0-9]{0,8}",
                vec(bytes(), 0..3),
                vec(bytes(), 0..2),
                option::of((bytes(), option::of(("[a-z]{0,4}", bytes())))),
                vec(ou(), 0..2),
                option::of(("[A-Z0-9]{0,6}", "[A-Z0-9]{0,6}")),
                option::of((any::<bool>(), option::of(ou()), option::of(ou()))),
            )
                .prop_map(|(name, roots, admins, signer, ous, crypto, node_ous)| {
                    MspValue::Fabric(Box::new(FabricMspConfig {
                        name,
                        root_certs: roots.clone(),
                        intermediate_certs: admins.clone(),
                        admins,
                        revocation_list: roots.clone(),
                        signing_identity: signer.map(|(public_signer, key)| SigningIdentityInfo {
                            public_signer,
                            private_signer: key.map(|(key_identifier, key_material)| KeyInfo {
                                key_identifier,
                                key_material,
                            }),
                        }),
                        organizational_unit_identifiers: ous,
                        crypto_config: crypto.map(|(a, b)| CryptoConfig {
                            signature_hash_family: a,
                            identity_identifier_hash_function: b,
                        }),
                        tls_root_certs: roots,
                        tls_intermediate_certs: Vec::new(),
                        node_ous: node_ous.map(|(enable, client, admin)| NodeOus {
                            enable,
                            client,
                            peer: None,
                            admin,
                            orderer: None,
                        }),
                    }))
                });
            prop_oneof![
                fabric,
                (1..5i32, bytes())
                    .prop_map(|(msp_type, config)| MspValue::Other { msp_type, config }),
            ]
        }

        fn consensus() -> impl Strategy<Value = ConsensusType> {
            let raft = (
                vec(("[a-z.]{0,8}", any::<u32>(), bytes(), bytes()), 0..3),
                option::of(("[0-9]{1,3}ms", any::<u32>(), any::<u32>())),
            )
                .prop_map(|(consenters, options)| {
                    ConsensusMetadata::EtcdRaft(RaftMetadata {
                        consenters: consenters
                            .into_iter()
                            .map(|(host, port, c, s)| RaftConsenter {
                                host,
                                port,
                                client_tls_cert: c,
                                server_tls_cert: s,
                            })
                            .collect(),
                        options: options.map(|(tick, e, h)| RaftOptions {
                            tick_interval: tick,
                            election_tick: e,
                            heartbeat_tick: h,
                            max_inflight_blocks: e ^ h,
                            snapshot_interval_size: h,
                        }),
                    })
                });
            prop_oneof![
                (raft, any::<bool>()).prop_map(|(metadata, maintenance)| ConsensusType {
                    consensus_type: ETCDRAFT.to_owned(),
                    metadata,
                    maintenance,
                }),
                (
                    "[a-z]{1,6}".prop_filter("not etcdraft", |t| t != ETCDRAFT),
                    bytes()
                )
                    .prop_map(|(t, m)| ConsensusType {
                        consensus_type: t,
                        metadata: ConsensusMetadata::Raw(m),
                        maintenance: false,
                    }),
            ]
        }

        /// A key and a value of the kind that key holds.
        fn keyed_value() -> impl Strategy<Value = (String, Value)> {
            let k = |key: &'static str| move |v: Value| (key.to_owned(), v);
            prop_oneof![
                "[A-Z0-9]{0,6}"
                    .prop_map(Value::HashingAlgorithm)
                    .prop_map(k(HASHING_ALGORITHM_KEY)),
                any::<u32>()
                    .prop_map(Value::BlockDataHashingStructure)
                    .prop_map(k(BLOCK_DATA_HASHING_STRUCTURE_KEY)),
                vec("[a-z.:0-9]{0,10}", 0..3)
                    .prop_map(Value::Addresses)
                    .prop_map(k(ENDPOINTS_KEY)),
                vec("[a-z.:0-9]{0,10}", 0..3)
                    .prop_map(Value::Addresses)
                    .prop_map(k(ORDERER_ADDRESSES_KEY)),
                btree_set("V[0-9]_[0-9]", 0..3)
                    .prop_map(Value::Capabilities)
                    .prop_map(k(CAPABILITIES_KEY)),
                "[A-Za-z]{0,6}"
                    .prop_map(Value::Consortium)
                    .prop_map(k(CONSORTIUM_KEY)),
                msp().prop_map(Value::Msp).prop_map(k(MSP_KEY)),
                (any::<u32>(), any::<u32>(), any::<u32>())
                    .prop_map(|(a, b, c)| Value::BatchSize(BatchSize {
                        max_message_count: a,
                        absolute_max_bytes: b,
                        preferred_max_bytes: c,
                    }))
                    .prop_map(k(BATCH_SIZE_KEY)),
                "[0-9]{0,3}(ms|s)?"
                    .prop_map(Value::BatchTimeout)
                    .prop_map(k(BATCH_TIMEOUT_KEY)),
                any::<u64>()
                    .prop_map(Value::ChannelRestrictions)
                    .prop_map(k(CHANNEL_RESTRICTIONS_KEY)),
                consensus()
                    .prop_map(Value::ConsensusType)
                    .prop_map(k(CONSENSUS_TYPE_KEY)),
                vec(("[a-z.]{0,8}", any::<i32>()), 0..3)
                    .prop_map(|v| Value::AnchorPeers(
                        v.into_iter()
                            .map(|(host, port)| AnchorPeer { host, port })
                            .collect()
                    ))
                    .prop_map(k(ANCHOR_PEERS_KEY)),
                btree_map("[a-z/]{1,8}", "[A-Za-z/]{0,8}", 0..3)
                    .prop_map(Value::Acls)
                    .prop_map(k(ACLS_KEY)),
                ("X[a-z]{0,5}", bytes()).prop_map(|(key, b)| (key, Value::Raw(b))),
            ]
        }

        fn policy() -> impl Strategy<Value = dom::Policy> {
            let rules = [
                dom::ImplicitMetaRule::Any,
                dom::ImplicitMetaRule::All,
                dom::ImplicitMetaRule::Majority,
            ];
            (0..3usize, "[A-Za-z]{1,8}", "[A-Za-z]{1,8}", any::<bool>()).prop_map(
                move |(r, sub, msp_id, meta)| {
                    if meta {
                        dom::Policy::ImplicitMeta(dom::ImplicitMetaPolicy {
                            rule: rules[r],
                            sub_policy: sub,
                        })
                    } else {
                        dom::Policy::Signature(dom::SignaturePolicyEnvelope {
                            version: 0,
                            rule: dom::SignaturePolicy::NOutOf {
                                n: r as u32,
                                rules: vec![dom::SignaturePolicy::SignedBy(0)],
                            },
                            identities: vec![dom::Principal::Role {
                                msp_id,
                                role: dom::MspRole::Peer,
                            }],
                        })
                    }
                },
            )
        }

        fn leaf() -> impl Strategy<Value = ConfigGroup> {
            (
                any::<u64>(),
                vec((keyed_value(), any::<u64>(), "[A-Za-z/]{0,8}"), 0..4),
                btree_map(
                    "[A-Za-z]{1,8}",
                    (policy(), any::<u64>(), "[A-Za-z]{0,6}"),
                    0..3,
                ),
                "[A-Za-z]{0,6}",
            )
                .prop_map(|(version, values, policies, mod_policy)| ConfigGroup {
                    version,
                    groups: BTreeMap::new(),
                    values: values
                        .into_iter()
                        .map(|((key, value), version, mod_policy)| {
                            (
                                key,
                                ConfigValue {
                                    version,
                                    value,
                                    mod_policy,
                                },
                            )
                        })
                        .collect(),
                    policies: policies
                        .into_iter()
                        .map(|(name, (policy, version, mod_policy))| {
                            (
                                name,
                                ConfigPolicy {
                                    version,
                                    policy,
                                    mod_policy,
                                },
                            )
                        })
                        .collect(),
                    mod_policy,
                })
        }

        fn tree() -> impl Strategy<Value = ConfigGroup> {
            leaf().prop_recursive(3, 12, 3, |inner| {
                (leaf(), btree_map("[A-Za-z0-9]{1,8}", inner, 0..3)).prop_map(|(mut g, groups)| {
                    g.groups = groups;
                    g
                })
            })
        }

        proptest! {
            #[test]
            fn config_trees_round_trip_through_protobuf(
                tree in tree(),
                sequence in any::<u64>(),
            ) {
                let env = ConfigEnvelope { sequence, channel_group: tree, last_update: None };
                let bytes = encode_config_envelope(&env);
                let back = decode_config_envelope(&bytes).unwrap();
                prop_assert_eq!(&back, &env);
                prop_assert_eq!(encode_config_envelope(&back), bytes);
            }
        }
    }

    #[test]
    fn blocks_round_trip() {
        let block = BlockParts {
            number: 128,
            previous_hash: vec![1; 32],
            data_hash: vec![2; 32],
            data: vec![b"a".to_vec(), Vec::new()],
            metadata: vec![Vec::new(), last_config_metadata(0), Vec::new()],
        };
        assert_eq!(decode_block(&encode_block(&block)).unwrap(), block);
        assert!(decode_block(b"\xff").is_err());
    }

    #[test]
    fn metadata_slots_decode_back() {
        assert_eq!(
            decode_last_config_index(&last_config_metadata(7), false).unwrap(),
            7
        );
        assert_eq!(
            decode_last_config_index(&unsigned_orderer_block_metadata(9), true).unwrap(),
            9
        );
    }
}
