//! A readable summary of a channel config (what `cambium channel inspect` prints): organisations,
//! every policy with its rule in the policy language, orderers and batch settings. It
//! serialises to JSON for scripts.

use std::collections::BTreeMap;
use std::fmt;

use cambium_msp::policy;
use cambium_primitives::Policy;
use cambium_wire::config::ConfigGroup;
use serde::Serialize;

use crate::config::ChannelConfig;
use crate::duration;
use crate::genesis::ConfigBlockInfo;
use crate::spec::{APPLICATION_GROUP, ORDERER_GROUP};

/// The summary of a config block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockSummary {
    /// The block number.
    pub number: u64,
    /// Hex SHA-256 of the block header.
    pub header_hash: String,
    /// The config transaction's ID.
    pub tx_id: String,
    /// Channel header timestamp, unix seconds.
    pub timestamp: Option<i64>,
    /// `LAST_CONFIG` index.
    pub last_config: Option<u64>,
    /// The config.
    pub config: ConfigSummary,
}

/// The summary of a channel config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigSummary {
    /// Channel ID.
    pub channel_id: String,
    /// Config sequence.
    pub sequence: u64,
    /// Capabilities by group (`Channel`, `Orderer`, `Application`).
    pub capabilities: BTreeMap<String, Vec<String>>,
    /// Organisations, orderer organisations first.
    pub organizations: Vec<OrgSummary>,
    /// Every policy of the tree, in tree order.
    pub policies: Vec<PolicySummary>,
    /// The ordering service.
    pub orderer: OrdererSummary,
    /// Application ACLs (resource → policy).
    pub acls: BTreeMap<String, String>,
}

/// One organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgSummary {
    /// `orderer` or `application`.
    pub section: String,
    /// Group name.
    pub name: String,
    /// MSP ID.
    pub msp_id: String,
    /// Anchor peers `host:port`.
    pub anchor_peers: Vec<String>,
    /// Orderer endpoints.
    pub endpoints: Vec<String>,
}

/// One policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    /// Full path, e.g. `/Channel/Application/Org1MSP/Endorsement`.
    pub path: String,
    /// `Signature` or `ImplicitMeta`.
    #[serde(rename = "type")]
    pub policy_type: String,
    /// The rule: `OR('Org1MSP.peer')` or `MAJORITY Endorsement`.
    pub rule: String,
}

/// The ordering service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrdererSummary {
    /// Consensus type.
    pub consensus_type: String,
    /// Consenters `host:port`.
    pub consenters: Vec<String>,
    /// Endpoints clients use, with the serving MSP.
    pub endpoints: Vec<String>,
    /// Batch timeout as a Go duration.
    pub batch_timeout: String,
    /// Max messages per block.
    pub max_message_count: u32,
    /// Absolute max bytes per block.
    pub absolute_max_bytes: u32,
    /// Preferred max bytes per block.
    pub preferred_max_bytes: u32,
}

fn collect_policies(prefix: &str, group: &ConfigGroup, out: &mut Vec<PolicySummary>) {
    for (name, p) in &group.policies {
        let (policy_type, rule) = match &p.policy {
            Policy::Signature(env) => ("Signature", policy::format(env)),
            Policy::ImplicitMeta(meta) => ("ImplicitMeta", meta.to_string()),
        };
        out.push(PolicySummary {
            path: format!("{prefix}/{name}"),
            policy_type: policy_type.to_owned(),
            rule,
        });
    }
    for (name, child) in &group.groups {
        collect_policies(&format!("{prefix}/{name}"), child, out);
    }
}

impl ConfigSummary {
    /// Summarises a config.
    pub fn new(config: &ChannelConfig) -> ConfigSummary {
        let mut capabilities = BTreeMap::new();
        for (label, group) in [
            ("Channel", ""),
            ("Orderer", ORDERER_GROUP),
            ("Application", APPLICATION_GROUP),
        ] {
            capabilities.insert(
                label.to_owned(),
                config.capabilities(group).into_iter().collect(),
            );
        }
        let endpoints = config.orderer_endpoints();
        let mut organizations = Vec::new();
        for org in config.orderer_orgs() {
            organizations.push(OrgSummary {
                section: "orderer".to_owned(),
                endpoints: endpoints
                    .iter()
                    .filter(|e| e.msp_id.as_deref() == Some(org.msp_id.as_str()))
                    .map(|e| e.address.clone())
                    .collect(),
                anchor_peers: Vec::new(),
                name: org.name,
                msp_id: org.msp_id,
            });
        }
        for org in config.application_orgs() {
            organizations.push(OrgSummary {
                section: "application".to_owned(),
                anchor_peers: config
                    .anchor_peers(&org.name)
                    .iter()
                    .map(|a| format!("{}:{}", a.host, a.port))
                    .collect(),
                endpoints: Vec::new(),
                name: org.name,
                msp_id: org.msp_id,
            });
        }
        let mut policies = Vec::new();
        collect_policies("/Channel", config.channel_group(), &mut policies);
        let b = config.batch_size();
        ConfigSummary {
            channel_id: config.channel_id().to_owned(),
            sequence: config.sequence(),
            capabilities,
            organizations,
            policies,
            orderer: OrdererSummary {
                consensus_type: config.consensus_type().to_owned(),
                consenters: config
                    .consenters()
                    .iter()
                    .map(|c| format!("{}:{}", c.host, c.port))
                    .collect(),
                endpoints: endpoints
                    .iter()
                    .map(|e| match &e.msp_id {
                        Some(m) => format!("{} ({m})", e.address),
                        None => e.address.clone(),
                    })
                    .collect(),
                batch_timeout: duration::format(config.batch_timeout()),
                max_message_count: b.max_message_count,
                absolute_max_bytes: b.absolute_max_bytes,
                preferred_max_bytes: b.preferred_max_bytes,
            },
            acls: config.acls(),
        }
    }
}

impl BlockSummary {
    /// Summarises a decoded config block.
    pub fn new(config: &ChannelConfig, info: &ConfigBlockInfo) -> BlockSummary {
        BlockSummary {
            number: info.number,
            header_hash: hex::encode(info.header_hash),
            tx_id: info.tx_id.clone(),
            timestamp: info.timestamp.map(|t| t.seconds),
            last_config: info.last_config,
            config: ConfigSummary::new(config),
        }
    }
}

impl fmt::Display for BlockSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Config block {}", self.number)?;
        writeln!(f, "  header hash  {}", self.header_hash)?;
        writeln!(f, "  tx ID        {}", self.tx_id)?;
        if let Some(t) = self.timestamp {
            writeln!(f, "  timestamp    {t} (unix seconds)")?;
        }
        if let Some(l) = self.last_config {
            writeln!(f, "  last config  {l}")?;
        }
        write!(f, "{}", self.config)
    }
}

impl fmt::Display for ConfigSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Channel {} (config sequence {})",
            self.channel_id, self.sequence
        )?;
        writeln!(f, "\nCapabilities")?;
        for (group, caps) in &self.capabilities {
            writeln!(f, "  {group:<12} {}", caps.join(", "))?;
        }
        writeln!(f, "\nOrganisations")?;
        for org in &self.organizations {
            write!(f, "  {:<12} {} (MSP {})", org.section, org.name, org.msp_id)?;
            if !org.anchor_peers.is_empty() {
                write!(f, ", anchor peers {}", org.anchor_peers.join(", "))?;
            }
            if !org.endpoints.is_empty() {
                write!(f, ", endpoints {}", org.endpoints.join(", "))?;
            }
            writeln!(f)?;
        }
        let o = &self.orderer;
        writeln!(f, "\nOrderer ({})", o.consensus_type)?;
        writeln!(f, "  consenters   {}", o.consenters.join(", "))?;
        writeln!(f, "  endpoints    {}", o.endpoints.join(", "))?;
        writeln!(
            f,
            "  batch        timeout {}, max {} messages, {} bytes absolute, {} bytes preferred",
            o.batch_timeout, o.max_message_count, o.absolute_max_bytes, o.preferred_max_bytes
        )?;
        writeln!(f, "\nPolicies")?;
        let width = self
            .policies
            .iter()
            .map(|p| p.path.len())
            .max()
            .unwrap_or(0);
        for p in &self.policies {
            writeln!(f, "  {:<width$}  {}", p.path, p.rule)?;
        }
        if !self.acls.is_empty() {
            writeln!(f, "\nACLs")?;
            for (resource, policy) in &self.acls {
                writeln!(f, "  {resource}  {policy}")?;
            }
        }
        Ok(())
    }
}
