//! [`ChannelConfig`]: a channel's config tree with typed accessors, its MSPs, and policy
//! evaluation over the tree.
//!
//! A config is checked once, when it is built (from a spec, a config envelope or a config
//! block): the required values must be present and decode, every MSP must build, Raft
//! consenters need TLS certificates. The accessors are then infallible.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cambium_msp::policy::{self as mpolicy, PolicyGroup, SignedData};
use cambium_msp::{Certificate, MspConfig, MspManager};
use cambium_primitives::Policy;
use cambium_wire::config::{
    self as wc, AnchorPeer, BatchSize, ConfigEnvelope, ConfigGroup, ConsensusMetadata, MspValue,
    RaftConsenter, RaftOptions, Value,
};

use crate::duration;
use crate::error::{ChannelError, Result};
use crate::spec::{
    self, check_channel_id, ApplicationSpec, ChannelSpec, OrdererSpec, OrgSpec, APPLICATION_GROUP,
    ORDERER_GROUP,
};

/// An orderer endpoint and the organisation that serves it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrdererEndpoint {
    /// The MSP ID of the orderer organisation, or `None` for the channel-wide (deprecated)
    /// `OrdererAddresses`.
    pub msp_id: Option<String>,
    /// `host:port`.
    pub address: String,
}

/// An organisation of the channel.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrgInfo {
    /// The group name (the key under `Orderer` or `Application`).
    pub name: String,
    /// The MSP ID.
    pub msp_id: String,
}

/// The orderer settings, decoded once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OrdererValues {
    consensus_type: String,
    maintenance: bool,
    consenters: Vec<RaftConsenter>,
    raft_options: Option<RaftOptions>,
    batch_size: BatchSize,
    batch_timeout: Duration,
}

/// A channel's configuration: ID, sequence and the config tree, with its MSPs and policies
/// ready to use.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    channel_id: String,
    sequence: u64,
    root: ConfigGroup,
    orderer: OrdererValues,
    msp_configs: Vec<MspConfig>,
    policies: PolicyGroup,
    msps: Arc<MspManager>,
}

impl PartialEq for ChannelConfig {
    /// Two configs are equal when their channel, sequence and tree are (everything else is
    /// derived from those).
    fn eq(&self, other: &Self) -> bool {
        self.channel_id == other.channel_id
            && self.sequence == other.sequence
            && self.root == other.root
    }
}

impl Eq for ChannelConfig {}

fn value<'a>(group: &'a ConfigGroup, path: &str, key: &str) -> Result<&'a Value> {
    group.values.get(key).map(|v| &v.value).ok_or_else(|| {
        ChannelError::invalid(
            path,
            format!("has no {key} value; a channel config must set it"),
        )
    })
}

fn wrong_type(path: &str, key: &str) -> ChannelError {
    ChannelError::invalid(
        format!("{path}/{key}"),
        "holds a value of the wrong type for its key",
    )
}

fn to_msp_policy(p: &Policy) -> mpolicy::Policy {
    match p {
        Policy::Signature(env) => mpolicy::Policy::Signature(env.clone()),
        Policy::ImplicitMeta(meta) => mpolicy::Policy::ImplicitMeta(meta.clone()),
    }
}

fn policy_tree(group: &ConfigGroup) -> PolicyGroup {
    PolicyGroup {
        policies: group
            .policies
            .iter()
            .map(|(k, p)| (k.clone(), to_msp_policy(&p.policy)))
            .collect(),
        groups: group
            .groups
            .iter()
            .map(|(k, g)| (k.clone(), policy_tree(g)))
            .collect(),
    }
}

fn capabilities(group: Option<&ConfigGroup>) -> BTreeSet<String> {
    match group.and_then(|g| g.values.get(wc::CAPABILITIES_KEY)) {
        Some(v) => match &v.value {
            Value::Capabilities(c) => c.clone(),
            _ => BTreeSet::new(),
        },
        None => BTreeSet::new(),
    }
}

fn read_orderer(root: &ConfigGroup) -> Result<OrdererValues> {
    let path = "/Channel/Orderer";
    let orderer = root.groups.get(ORDERER_GROUP).ok_or_else(|| {
        ChannelError::invalid(
            "/Channel",
            "has no Orderer group; a channel config needs one",
        )
    })?;
    let Value::BatchSize(batch_size) = value(orderer, path, wc::BATCH_SIZE_KEY)? else {
        return Err(wrong_type(path, wc::BATCH_SIZE_KEY));
    };
    let Value::BatchTimeout(timeout) = value(orderer, path, wc::BATCH_TIMEOUT_KEY)? else {
        return Err(wrong_type(path, wc::BATCH_TIMEOUT_KEY));
    };
    let batch_timeout = duration::parse(timeout)
        .map_err(|e| ChannelError::invalid(format!("{path}/BatchTimeout"), e))?;
    let Value::ConsensusType(ct) = value(orderer, path, wc::CONSENSUS_TYPE_KEY)? else {
        return Err(wrong_type(path, wc::CONSENSUS_TYPE_KEY));
    };
    let (consenters, raft_options) = match &ct.metadata {
        ConsensusMetadata::EtcdRaft(raft) => (raft.consenters.clone(), raft.options.clone()),
        ConsensusMetadata::Raw(_) => (Vec::new(), None),
    };
    for (i, c) in consenters.iter().enumerate() {
        for (what, pem) in [
            ("client", &c.client_tls_cert),
            ("server", &c.server_tls_cert),
        ] {
            Certificate::from_pem(pem, &format!("the {what} TLS certificate")).map_err(|e| {
                ChannelError::invalid(
                    format!(
                        "{path}/ConsensusType consenter {} ({}:{})",
                        i + 1,
                        c.host,
                        c.port
                    ),
                    e.to_string(),
                )
            })?;
        }
    }
    Ok(OrdererValues {
        consensus_type: ct.consensus_type.clone(),
        maintenance: ct.maintenance,
        consenters,
        raft_options,
        batch_size: *batch_size,
        batch_timeout,
    })
}

/// The MSP configs of the organisations under `section`, by group name.
fn section_msps(root: &ConfigGroup, section: &str) -> Result<Vec<(String, MspConfig)>> {
    let Some(group) = root.groups.get(section) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, org) in &group.groups {
        let path = format!("/Channel/{section}/{name}");
        match value(org, &path, wc::MSP_KEY)? {
            Value::Msp(MspValue::Fabric(f)) => out.push((name.clone(), spec::msp_config(f))),
            Value::Msp(MspValue::Other { msp_type, .. }) => {
                return Err(ChannelError::invalid(
                    format!("{path}/MSP"),
                    format!(
                    "MSP type {msp_type} is not supported; Cambium supports X.509 (FABRIC, 0) MSPs"
                ),
                ))
            }
            _ => return Err(wrong_type(&path, wc::MSP_KEY)),
        }
    }
    Ok(out)
}

impl ChannelConfig {
    /// Checks and indexes a config tree (`root` is the `Channel` group).
    pub fn new(channel_id: &str, sequence: u64, root: ConfigGroup) -> Result<ChannelConfig> {
        check_channel_id(channel_id)?;
        match value(&root, "/Channel", wc::HASHING_ALGORITHM_KEY)? {
            Value::HashingAlgorithm(name) if name == spec::HASHING_ALGORITHM => {}
            Value::HashingAlgorithm(name) => {
                return Err(ChannelError::invalid(
                    "/Channel/HashingAlgorithm",
                    format!("'{name}' is not supported; Fabric channels use SHA256"),
                ))
            }
            _ => return Err(wrong_type("/Channel", wc::HASHING_ALGORITHM_KEY)),
        }
        let orderer = read_orderer(&root)?;
        // One MSP per MSP ID: an organisation in both sections must carry the same MSP.
        let mut by_id: BTreeMap<String, (String, MspConfig)> = BTreeMap::new();
        for section in [ORDERER_GROUP, APPLICATION_GROUP] {
            for (name, cfg) in section_msps(&root, section)? {
                match by_id.get(&cfg.name) {
                    Some((other, existing)) if *existing != cfg => {
                        return Err(ChannelError::invalid(
                            format!("/Channel/{section}/{name}/MSP"),
                            format!(
                                "MSP ID {} is defined again, differently, by {other}; \
                                 an MSP ID must name one MSP",
                                cfg.name
                            ),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        by_id.insert(cfg.name.clone(), (name, cfg));
                    }
                }
            }
        }
        let mut msps = Vec::new();
        for (name, cfg) in by_id.values() {
            msps.push(
                cambium_msp::Msp::new(cfg).map_err(|source| ChannelError::Msp {
                    org: name.clone(),
                    source,
                })?,
            );
        }
        let manager = MspManager::new(msps).map_err(|source| ChannelError::Msp {
            org: "(channel)".to_owned(),
            source,
        })?;
        Ok(ChannelConfig {
            channel_id: channel_id.to_owned(),
            sequence,
            policies: policy_tree(&root),
            msp_configs: by_id.into_values().map(|(_, c)| c).collect(),
            orderer,
            root,
            msps: Arc::new(manager),
        })
    }

    /// The config a spec describes, at sequence 0.
    pub fn from_spec(spec: &ChannelSpec) -> Result<ChannelConfig> {
        ChannelConfig::new(&spec.channel_id, 0, spec.to_channel_group()?)
    }

    /// Decodes `common.ConfigEnvelope` bytes of channel `channel_id`.
    pub fn from_config_envelope_bytes(channel_id: &str, bytes: &[u8]) -> Result<ChannelConfig> {
        let env =
            wc::decode_config_envelope(bytes).map_err(ChannelError::wire("the config envelope"))?;
        ChannelConfig::new(channel_id, env.sequence, env.channel_group)
    }

    /// The channel ID.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The config sequence (0 in the genesis block, +1 per config update).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The config tree: the `Channel` group.
    pub fn channel_group(&self) -> &ConfigGroup {
        &self.root
    }

    /// The `common.ConfigEnvelope` of this config (without a last update).
    pub fn config_envelope(&self) -> ConfigEnvelope {
        ConfigEnvelope {
            sequence: self.sequence,
            channel_group: self.root.clone(),
            last_update: None,
        }
    }

    /// The group at a `/`-separated path below `Channel` (`Application/Org1MSP`); `""` is the
    /// `Channel` group. A leading `/Channel/` is accepted.
    pub fn group(&self, path: &str) -> Option<&ConfigGroup> {
        relative(path)
            .split('/')
            .filter(|s| !s.is_empty())
            .try_fold(&self.root, |g, name| g.groups.get(name))
    }

    /// The channel's MSPs (orderer and application organisations), built once.
    pub fn msp_manager(&self) -> &MspManager {
        &self.msps
    }

    /// The channel's MSPs, shareable across threads and tasks.
    pub fn shared_msp_manager(&self) -> Arc<MspManager> {
        Arc::clone(&self.msps)
    }

    /// The MSP configurations, one per MSP ID, sorted by MSP ID.
    pub fn msp_configs(&self) -> &[MspConfig] {
        &self.msp_configs
    }

    /// The policy tree (rooted at `Channel`) for evaluation with `cambium_msp`.
    pub fn policy_group(&self) -> &PolicyGroup {
        &self.policies
    }

    /// The policy at a path such as `/Channel/Application/Org1MSP/Endorsement` (or the same
    /// path relative to `Channel`: `Application/Org1MSP/Endorsement`).
    pub fn policy(&self, path: &str) -> Option<&Policy> {
        let rel = relative(path);
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.group(dir)?.policies.get(name).map(|p| &p.policy)
    }

    /// Verifies `signed` at `at` (unix seconds, from the transaction or block being checked,
    /// never a clock) and evaluates the policy at `path` over it, Fabric's way: implicit meta
    /// policies combine the same-named policies of the child groups.
    pub fn evaluate(&self, path: &str, signed: &[SignedData], at: i64) -> Result<()> {
        self.policies
            .evaluate_signed_data(relative(path), signed, &self.msps, at)
            .map_err(ChannelError::Policy)
    }

    /// The block cutter's size limits.
    pub fn batch_size(&self) -> BatchSize {
        self.orderer.batch_size
    }

    /// How long the block cutter waits before cutting a pending batch.
    pub fn batch_timeout(&self) -> Duration {
        self.orderer.batch_timeout
    }

    /// The consensus type (`etcdraft`).
    pub fn consensus_type(&self) -> &str {
        &self.orderer.consensus_type
    }

    /// Whether the orderer is in maintenance mode (`STATE_MAINTENANCE`).
    pub fn maintenance(&self) -> bool {
        self.orderer.maintenance
    }

    /// The Raft consenters, in config order.
    pub fn consenters(&self) -> &[RaftConsenter] {
        &self.orderer.consenters
    }

    /// The Raft options, if the config carries them.
    pub fn raft_options(&self) -> Option<&RaftOptions> {
        self.orderer.raft_options.as_ref()
    }

    /// Where clients and peers reach the ordering service: each orderer organisation's
    /// `Endpoints`; only if no organisation has any, the channel-wide `OrdererAddresses`
    /// (Fabric's rule).
    pub fn orderer_endpoints(&self) -> Vec<OrdererEndpoint> {
        let mut out = Vec::new();
        if let Some(orderer) = self.root.groups.get(ORDERER_GROUP) {
            for org in orderer.groups.values() {
                let msp_id = org_msp_id(org);
                if let Some(Value::Addresses(addrs)) =
                    org.values.get(wc::ENDPOINTS_KEY).map(|v| &v.value)
                {
                    out.extend(addrs.iter().map(|a| OrdererEndpoint {
                        msp_id: msp_id.clone(),
                        address: a.clone(),
                    }));
                }
            }
        }
        if out.is_empty() {
            if let Some(Value::Addresses(addrs)) = self
                .root
                .values
                .get(wc::ORDERER_ADDRESSES_KEY)
                .map(|v| &v.value)
            {
                out.extend(addrs.iter().map(|a| OrdererEndpoint {
                    msp_id: None,
                    address: a.clone(),
                }));
            }
        }
        out
    }

    /// The anchor peers of the application organisation `org` (group name or MSP ID); empty
    /// if it has none or is not in the channel.
    pub fn anchor_peers(&self, org: &str) -> Vec<AnchorPeer> {
        let Some(app) = self.root.groups.get(APPLICATION_GROUP) else {
            return Vec::new();
        };
        let group = app.groups.get(org).or_else(|| {
            app.groups
                .values()
                .find(|g| org_msp_id(g).as_deref() == Some(org))
        });
        match group.and_then(|g| g.values.get(wc::ANCHOR_PEERS_KEY)) {
            Some(v) => match &v.value {
                Value::AnchorPeers(peers) => peers.clone(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    fn orgs(&self, section: &str) -> Vec<OrgInfo> {
        self.root
            .groups
            .get(section)
            .map(|g| {
                g.groups
                    .iter()
                    .map(|(name, org)| OrgInfo {
                        name: name.clone(),
                        msp_id: org_msp_id(org).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The application (peer) organisations, by group name.
    pub fn application_orgs(&self) -> Vec<OrgInfo> {
        self.orgs(APPLICATION_GROUP)
    }

    /// The orderer organisations, by group name.
    pub fn orderer_orgs(&self) -> Vec<OrgInfo> {
        self.orgs(ORDERER_GROUP)
    }

    /// The capabilities of the channel (`""`), `Orderer` or `Application` group.
    pub fn capabilities(&self, group: &str) -> BTreeSet<String> {
        capabilities(self.group(group))
    }

    /// The application ACLs (resource → policy path); empty means Fabric's defaults.
    pub fn acls(&self) -> BTreeMap<String, String> {
        match self
            .group(APPLICATION_GROUP)
            .and_then(|g| g.values.get(wc::ACLS_KEY))
            .map(|v| &v.value)
        {
            Some(Value::Acls(acls)) => acls.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// The spec this config was built from (or would be built from): the reverse of
    /// [`ChannelConfig::from_spec`]. Fails if the tree lacks a part a spec needs (an
    /// `Application` group, Raft options).
    pub fn to_spec(&self) -> Result<ChannelSpec> {
        let app = self
            .group(APPLICATION_GROUP)
            .ok_or_else(|| ChannelError::invalid("/Channel", "has no Application group"))?;
        let orderer = self
            .group(ORDERER_GROUP)
            .ok_or_else(|| ChannelError::invalid("/Channel", "has no Orderer group"))?;
        let policies = |g: &ConfigGroup| -> BTreeMap<String, Policy> {
            g.policies
                .iter()
                .map(|(k, p)| (k.clone(), p.policy.clone()))
                .collect()
        };
        let orgs = |section: &str, g: &ConfigGroup| -> Result<BTreeMap<String, OrgSpec>> {
            let msps: BTreeMap<String, MspConfig> =
                section_msps(&self.root, section)?.into_iter().collect();
            let mut out = BTreeMap::new();
            for (name, org) in &g.groups {
                let addresses = match org.values.get(wc::ENDPOINTS_KEY).map(|v| &v.value) {
                    Some(Value::Addresses(a)) => a.clone(),
                    _ => Vec::new(),
                };
                out.insert(
                    name.clone(),
                    OrgSpec {
                        msp: msps[name].clone(),
                        policies: policies(org),
                        anchor_peers: if section == APPLICATION_GROUP {
                            self.anchor_peers(name)
                        } else {
                            Vec::new()
                        },
                        orderer_endpoints: addresses,
                    },
                );
            }
            Ok(out)
        };
        let max_channels = match orderer
            .values
            .get(wc::CHANNEL_RESTRICTIONS_KEY)
            .map(|v| &v.value)
        {
            Some(Value::ChannelRestrictions(n)) => *n,
            _ => 0,
        };
        let orderer_addresses = match self
            .root
            .values
            .get(wc::ORDERER_ADDRESSES_KEY)
            .map(|v| &v.value)
        {
            Some(Value::Addresses(a)) => a.clone(),
            _ => Vec::new(),
        };
        Ok(ChannelSpec {
            channel_id: self.channel_id.clone(),
            policies: policies(&self.root),
            capabilities: self.capabilities(""),
            orderer_addresses,
            orderer: OrdererSpec {
                orderer_type: self.orderer.consensus_type.clone(),
                consenters: self.orderer.consenters.clone(),
                raft_options: self.orderer.raft_options.clone().ok_or_else(|| {
                    ChannelError::invalid(
                        "/Channel/Orderer/ConsensusType",
                        "carries no Raft options",
                    )
                })?,
                batch_timeout: self.orderer.batch_timeout,
                batch_size: self.orderer.batch_size,
                max_channels,
                capabilities: self.capabilities(ORDERER_GROUP),
                policies: policies(orderer),
                organizations: orgs(ORDERER_GROUP, orderer)?,
            },
            application: ApplicationSpec {
                policies: policies(app),
                capabilities: self.capabilities(APPLICATION_GROUP),
                acls: self.acls(),
                organizations: orgs(APPLICATION_GROUP, app)?,
            },
        })
    }
}

/// `path` relative to the `Channel` group.
fn relative(path: &str) -> &str {
    let p = path.trim_start_matches('/');
    match p.strip_prefix("Channel") {
        Some("") => "",
        Some(rest) if rest.starts_with('/') && path.starts_with('/') => &rest[1..],
        _ => p,
    }
}

fn org_msp_id(org: &ConfigGroup) -> Option<String> {
    match org.values.get(wc::MSP_KEY).map(|v| &v.value) {
        Some(Value::Msp(MspValue::Fabric(f))) => Some(f.name.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn paths_are_taken_relative_to_the_channel_group() {
        assert_eq!(
            relative("/Channel/Application/Writers"),
            "Application/Writers"
        );
        assert_eq!(relative("Application/Writers"), "Application/Writers");
        assert_eq!(relative("/Channel/Readers"), "Readers");
        assert_eq!(relative("/Channel"), "");
        assert_eq!(relative("Readers"), "Readers");
    }
}
