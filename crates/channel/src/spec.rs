//! [`ChannelSpec`]: what a channel should be, resolved from YAML (files read, defaults applied),
//! and how it becomes a Fabric config tree, as Fabric's `configtxgen` encoder builds it.
//!
//! The tree has Fabric's shape exactly: group keys are organisation names, every element has
//! version 0 and mod policy `Admins` (the channel's orderer addresses: `/Channel/Orderer/Admins`),
//! MSPs are `msp.FabricMSPConfig` with `SHA2`/`SHA256` crypto config, and the Raft consenters
//! go in the `etcdraft` metadata of `ConsensusType`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cambium_msp::policy::{self, check_msp_ids};
use cambium_msp::{MspConfig, NodeOusConfig, OuIdentifierConfig};
use cambium_primitives::{ImplicitMetaPolicy, ImplicitMetaRule, Policy};
use cambium_wire::config::{
    self as wc, AnchorPeer, BatchSize, ConfigGroup, ConfigPolicy, ConfigValue, ConsensusMetadata,
    ConsensusType, CryptoConfig, FabricMspConfig, MspValue, NodeOus, OuIdentifier, RaftConsenter,
    RaftMetadata, RaftOptions, Value,
};

use crate::duration;
use crate::error::{ChannelError, Result};

/// The policy that modifies almost every element of a config tree.
pub const ADMINS: &str = "Admins";
/// The mod policy of the channel's orderer addresses.
pub const ORDERER_ADMINS_PATH: &str = "/Channel/Orderer/Admins";
/// Name of the orderer group.
pub const ORDERER_GROUP: &str = "Orderer";
/// Name of the application group.
pub const APPLICATION_GROUP: &str = "Application";
/// The only hashing algorithm Fabric accepts.
pub const HASHING_ALGORITHM: &str = "SHA256";
/// Fabric's block data hashing width (`math.MaxUint32`).
pub const BLOCK_DATA_HASHING_WIDTH: u32 = u32::MAX;

/// Cambium's policy for rollout steps (advance, pause, promote, complete) of a contract
/// upgrade: the same bar as committing a definition (`LifecycleEndorsement`), because
/// promoting moves every transaction onto the new code.
pub const ROLLOUT_PROMOTE: &str = "RolloutPromote";
/// Cambium's policy for aborting a rollout: any one organisation's admin can stop a bad
/// upgrade at once (`ANY Admins`).
pub const ROLLOUT_ABORT: &str = "RolloutAbort";

/// A whole channel: its ID, channel-level settings, the orderer and the application sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The channel ID (lowercase letters, digits, `.` and `-`, starting with a letter).
    pub channel_id: String,
    /// Channel policies (`Readers`, `Writers`, `Admins`).
    pub policies: BTreeMap<String, Policy>,
    /// Channel capabilities, e.g. `V2_0`.
    pub capabilities: BTreeSet<String>,
    /// The channel-wide orderer addresses (`OrdererAddresses`, deprecated by Fabric in favour
    /// of each orderer organisation's endpoints; written only when non-empty).
    pub orderer_addresses: Vec<String>,
    /// The ordering service.
    pub orderer: OrdererSpec,
    /// The application (peer) side.
    pub application: ApplicationSpec,
}

/// The orderer section of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrdererSpec {
    /// Consensus type; Cambium supports `etcdraft`.
    pub orderer_type: String,
    /// The Raft consenters with their TLS certificates (PEM).
    pub consenters: Vec<RaftConsenter>,
    /// Raft options.
    pub raft_options: RaftOptions,
    /// How long the block cutter waits before cutting a non-empty, non-full block.
    pub batch_timeout: Duration,
    /// Block size limits.
    pub batch_size: BatchSize,
    /// `ChannelRestrictions.max_count` (0: no limit).
    pub max_channels: u64,
    /// Orderer capabilities, e.g. `V2_0`.
    pub capabilities: BTreeSet<String>,
    /// Orderer policies (`Readers`, `Writers`, `Admins`, `BlockValidation`).
    pub policies: BTreeMap<String, Policy>,
    /// Orderer organisations by name (the group key).
    pub organizations: BTreeMap<String, OrgSpec>,
}

/// The application section of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationSpec {
    /// Application policies (`Readers`, `Writers`, `Admins`, `Endorsement`,
    /// `LifecycleEndorsement`, `RolloutPromote`, `RolloutAbort`).
    pub policies: BTreeMap<String, Policy>,
    /// Application capabilities, e.g. `V2_5`.
    pub capabilities: BTreeSet<String>,
    /// ACLs: resource (e.g. `qscc/GetChainInfo`) → policy path; empty means Fabric's defaults.
    pub acls: BTreeMap<String, String>,
    /// Peer organisations by name (the group key).
    pub organizations: BTreeMap<String, OrgSpec>,
}

/// One organisation of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSpec {
    /// Its MSP (`name` is the MSP ID).
    pub msp: MspConfig,
    /// Its policies (`Readers`, `Writers`, `Admins`, and `Endorsement` for peer orgs).
    pub policies: BTreeMap<String, Policy>,
    /// Anchor peers (peer organisations).
    pub anchor_peers: Vec<AnchorPeer>,
    /// Orderer endpoints `host:port` (orderer organisations).
    pub orderer_endpoints: Vec<String>,
}

impl OrgSpec {
    /// The organisation's MSP ID.
    pub fn msp_id(&self) -> &str {
        &self.msp.name
    }
}

/// `rule subpolicy` as a policy.
pub fn implicit_meta(rule: ImplicitMetaRule, sub_policy: &str) -> Policy {
    Policy::ImplicitMeta(ImplicitMetaPolicy {
        rule,
        sub_policy: sub_policy.to_owned(),
    })
}

/// Parses a signature policy rule; panics only on the built-in rules below, which are tested.
fn signature(rule: &str) -> Policy {
    Policy::Signature(policy::parse(rule).expect("built-in policy rules parse"))
}

/// Defaults of Fabric's sample `configtx.yaml` for the channel group.
pub fn default_channel_policies() -> BTreeMap<String, Policy> {
    use ImplicitMetaRule::{Any, Majority};
    BTreeMap::from([
        ("Readers".to_owned(), implicit_meta(Any, "Readers")),
        ("Writers".to_owned(), implicit_meta(Any, "Writers")),
        ("Admins".to_owned(), implicit_meta(Majority, "Admins")),
    ])
}

/// Defaults for the orderer group: the channel's plus `BlockValidation` = `ANY Writers`.
pub fn default_orderer_policies() -> BTreeMap<String, Policy> {
    let mut p = default_channel_policies();
    p.insert(
        "BlockValidation".to_owned(),
        implicit_meta(ImplicitMetaRule::Any, "Writers"),
    );
    p
}

/// Defaults for the application group: the channel's, `Endorsement` and
/// `LifecycleEndorsement` = `MAJORITY Endorsement`, and Cambium's [`ROLLOUT_PROMOTE`]
/// (`MAJORITY Endorsement`) and [`ROLLOUT_ABORT`] (`ANY Admins`).
pub fn default_application_policies() -> BTreeMap<String, Policy> {
    use ImplicitMetaRule::{Any, Majority};
    let mut p = default_channel_policies();
    for name in ["Endorsement", "LifecycleEndorsement", ROLLOUT_PROMOTE] {
        p.insert(name.to_owned(), implicit_meta(Majority, "Endorsement"));
    }
    p.insert(ROLLOUT_ABORT.to_owned(), implicit_meta(Any, "Admins"));
    p
}

/// Fabric's sample policies of a peer organisation with MSP ID `msp_id`.
pub fn default_peer_org_policies(msp_id: &str) -> BTreeMap<String, Policy> {
    BTreeMap::from([
        (
            "Readers".to_owned(),
            signature(&format!(
                "OR('{msp_id}.admin', '{msp_id}.peer', '{msp_id}.client')"
            )),
        ),
        (
            "Writers".to_owned(),
            signature(&format!("OR('{msp_id}.admin', '{msp_id}.client')")),
        ),
        (
            "Admins".to_owned(),
            signature(&format!("OR('{msp_id}.admin')")),
        ),
        (
            "Endorsement".to_owned(),
            signature(&format!("OR('{msp_id}.peer')")),
        ),
    ])
}

/// Fabric's sample policies of an orderer organisation with MSP ID `msp_id`.
pub fn default_orderer_org_policies(msp_id: &str) -> BTreeMap<String, Policy> {
    BTreeMap::from([
        (
            "Readers".to_owned(),
            signature(&format!("OR('{msp_id}.member')")),
        ),
        (
            "Writers".to_owned(),
            signature(&format!("OR('{msp_id}.member')")),
        ),
        (
            "Admins".to_owned(),
            signature(&format!("OR('{msp_id}.admin')")),
        ),
    ])
}

/// Fabric's default Raft options (`configtxgen`'s defaults).
pub fn default_raft_options() -> RaftOptions {
    RaftOptions {
        tick_interval: "500ms".to_owned(),
        election_tick: 10,
        heartbeat_tick: 1,
        max_inflight_blocks: 5,
        snapshot_interval_size: 16 * 1024 * 1024,
    }
}

/// Fabric's default batch size (`configtxgen`'s defaults): 500 messages, 10 MB absolute,
/// 2 MB preferred.
pub fn default_batch_size() -> BatchSize {
    BatchSize {
        max_message_count: 500,
        absolute_max_bytes: 10 * 1024 * 1024,
        preferred_max_bytes: 2 * 1024 * 1024,
    }
}

/// Fabric's default batch timeout, 2 s.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks a channel ID against Fabric's rule (`[a-z][a-z0-9.-]*`, fewer than 250 characters).
pub fn check_channel_id(id: &str) -> Result<()> {
    let bad = |problem: &str| ChannelError::invalid(format!("channel ID '{id}'"), problem);
    if id.is_empty() {
        return Err(bad("is empty; pass a channel ID such as mychannel"));
    }
    if id.len() >= 250 {
        return Err(bad("is 250 characters or longer; use a shorter ID"));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad("must start with a lowercase letter"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(bad(&format!(
            "contains '{c}'; use lowercase letters, digits, '.' and '-' only"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// MSP configs
// ---------------------------------------------------------------------------------------------

fn ou_to_value(ou: &OuIdentifierConfig) -> OuIdentifier {
    OuIdentifier {
        certificate: ou.certificate.clone(),
        organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
    }
}

fn ou_from_value(ou: &OuIdentifier) -> OuIdentifierConfig {
    OuIdentifierConfig {
        certificate: ou.certificate.clone(),
        organizational_unit_identifier: ou.organizational_unit_identifier.clone(),
    }
}

/// The `msp.FabricMSPConfig` Fabric writes for a verifying MSP: no signing identity, crypto
/// config `SHA2`/`SHA256`.
pub fn msp_value(config: &MspConfig) -> FabricMspConfig {
    FabricMspConfig {
        name: config.name.clone(),
        root_certs: config.root_certs.clone(),
        intermediate_certs: config.intermediate_certs.clone(),
        admins: config.admins.clone(),
        revocation_list: config.revocation_list.clone(),
        signing_identity: None,
        organizational_unit_identifiers: config
            .organizational_unit_identifiers
            .iter()
            .map(ou_to_value)
            .collect(),
        crypto_config: Some(CryptoConfig {
            signature_hash_family: "SHA2".to_owned(),
            identity_identifier_hash_function: "SHA256".to_owned(),
        }),
        tls_root_certs: config.tls_root_certs.clone(),
        tls_intermediate_certs: config.tls_intermediate_certs.clone(),
        node_ous: config.node_ous.as_ref().map(|n| NodeOus {
            enable: n.enable,
            client: n.client_ou_identifier.as_ref().map(ou_to_value),
            peer: n.peer_ou_identifier.as_ref().map(ou_to_value),
            admin: n.admin_ou_identifier.as_ref().map(ou_to_value),
            orderer: n.orderer_ou_identifier.as_ref().map(ou_to_value),
        }),
    }
}

/// The `cambium_msp` configuration of a `msp.FabricMSPConfig` (its signing identity and
/// crypto config are not part of it).
pub fn msp_config(value: &FabricMspConfig) -> MspConfig {
    MspConfig {
        name: value.name.clone(),
        root_certs: value.root_certs.clone(),
        intermediate_certs: value.intermediate_certs.clone(),
        admins: value.admins.clone(),
        revocation_list: value.revocation_list.clone(),
        tls_root_certs: value.tls_root_certs.clone(),
        tls_intermediate_certs: value.tls_intermediate_certs.clone(),
        organizational_unit_identifiers: value
            .organizational_unit_identifiers
            .iter()
            .map(ou_from_value)
            .collect(),
        node_ous: value.node_ous.as_ref().map(|n| NodeOusConfig {
            enable: n.enable,
            client_ou_identifier: n.client.as_ref().map(ou_from_value),
            peer_ou_identifier: n.peer.as_ref().map(ou_from_value),
            admin_ou_identifier: n.admin.as_ref().map(ou_from_value),
            orderer_ou_identifier: n.orderer.as_ref().map(ou_from_value),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Spec → tree
// ---------------------------------------------------------------------------------------------

fn admins_value(value: Value) -> ConfigValue {
    ConfigValue {
        version: 0,
        value,
        mod_policy: ADMINS.to_owned(),
    }
}

fn add_policies(group: &mut ConfigGroup, policies: &BTreeMap<String, Policy>) {
    for (name, p) in policies {
        group.policies.insert(
            name.clone(),
            ConfigPolicy {
                version: 0,
                policy: p.clone(),
                mod_policy: ADMINS.to_owned(),
            },
        );
    }
}

fn check_policies(
    base: &str,
    policies: &BTreeMap<String, Policy>,
    required: &[&str],
    known_msps: &[&str],
) -> Result<()> {
    for name in required {
        if !policies.contains_key(*name) {
            return Err(ChannelError::BadPolicy {
                path: format!("{base}/{name}"),
                problem: "is missing; every such group needs it (add it under Policies)".to_owned(),
            });
        }
    }
    for (name, p) in policies {
        if let Policy::Signature(env) = p {
            check_msp_ids(env, known_msps).map_err(|e| ChannelError::BadPolicy {
                path: format!("{base}/{name}"),
                problem: e.to_string(),
            })?;
        }
    }
    Ok(())
}

fn org_group(base: &str, name: &str, org: &OrgSpec, known: &[&str]) -> Result<ConfigGroup> {
    let path = format!("{base}/{name}");
    check_policies(
        &path,
        &org.policies,
        &["Readers", "Writers", "Admins"],
        known,
    )?;
    let mut group = ConfigGroup {
        mod_policy: ADMINS.to_owned(),
        ..Default::default()
    };
    add_policies(&mut group, &org.policies);
    group.values.insert(
        wc::MSP_KEY.to_owned(),
        admins_value(Value::Msp(MspValue::Fabric(Box::new(msp_value(&org.msp))))),
    );
    if !org.anchor_peers.is_empty() {
        group.values.insert(
            wc::ANCHOR_PEERS_KEY.to_owned(),
            admins_value(Value::AnchorPeers(org.anchor_peers.clone())),
        );
    }
    if !org.orderer_endpoints.is_empty() {
        group.values.insert(
            wc::ENDPOINTS_KEY.to_owned(),
            admins_value(Value::Addresses(org.orderer_endpoints.clone())),
        );
    }
    Ok(group)
}

/// The channel group `channel` with the application organisation `org` added as
/// `/Channel/Application/<name>`, the tree a config update that adds an organisation
/// proposes (Fabric operators build it with `configtxgen -printOrg` and `jq`).
///
/// Refuses an organisation whose group name or MSP ID the channel already has, and policies
/// of the new organisation that name MSPs the channel does not know.
pub fn add_application_org(
    channel: &ConfigGroup,
    name: &str,
    org: &OrgSpec,
) -> Result<ConfigGroup> {
    let mut updated = channel.clone();
    let mut known: Vec<String> = Vec::new();
    for section in [ORDERER_GROUP, APPLICATION_GROUP] {
        for (group_name, group) in channel.groups.get(section).iter().flat_map(|g| &g.groups) {
            if let Some(Value::Msp(MspValue::Fabric(msp))) =
                group.values.get(wc::MSP_KEY).map(|v| &v.value)
            {
                if msp.name == org.msp_id() {
                    return Err(ChannelError::invalid(
                        format!("organisation {name}"),
                        format!(
                            "MSP ID {} is already used by /Channel/{section}/{group_name}; an organisation is added once — give the new one its own MSP ID",
                            org.msp_id()
                        ),
                    ));
                }
                known.push(msp.name.clone());
            }
        }
    }
    known.push(org.msp_id().to_owned());
    let app = updated.groups.get_mut(APPLICATION_GROUP).ok_or_else(|| {
        ChannelError::invalid(
            "/Channel",
            "has no Application group, so no application organisation can be added",
        )
    })?;
    if app.groups.contains_key(name) {
        return Err(ChannelError::invalid(
            format!("/Channel/Application/{name}"),
            format!("already exists; the channel has organisation {name} — pick another Name"),
        ));
    }
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let group = org_group("/Channel/Application", name, org, &known)?;
    app.groups.insert(name.to_owned(), group);
    Ok(updated)
}

fn check_batch(orderer: &OrdererSpec) -> Result<()> {
    let b = &orderer.batch_size;
    let what = "/Channel/Orderer/BatchSize";
    if b.max_message_count == 0 {
        return Err(ChannelError::invalid(
            what,
            "MaxMessageCount is 0; a block must hold at least one transaction (Fabric's default is 500)",
        ));
    }
    if b.absolute_max_bytes == 0 {
        return Err(ChannelError::invalid(
            what,
            "AbsoluteMaxBytes is 0; set it to the largest block size allowed, e.g. 10 MB",
        ));
    }
    if b.preferred_max_bytes > b.absolute_max_bytes {
        return Err(ChannelError::invalid(
            what,
            format!(
                "PreferredMaxBytes ({}) is greater than AbsoluteMaxBytes ({}); lower it",
                b.preferred_max_bytes, b.absolute_max_bytes
            ),
        ));
    }
    if orderer.batch_timeout.is_zero() {
        return Err(ChannelError::invalid(
            "/Channel/Orderer/BatchTimeout",
            "is zero; set a positive timeout such as 2s",
        ));
    }
    Ok(())
}

impl ChannelSpec {
    /// Every MSP ID of the channel (orderer and application organisations), sorted, without
    /// repeats.
    pub fn msp_ids(&self) -> Vec<&str> {
        let ids: BTreeSet<&str> = self
            .orderer
            .organizations
            .values()
            .chain(self.application.organizations.values())
            .map(OrgSpec::msp_id)
            .collect();
        ids.into_iter().collect()
    }

    /// Builds the channel's config tree (the `Channel` group) as `configtxgen` would, after
    /// checking the spec: a valid channel ID, the required policies present, signature
    /// policies naming only the channel's MSPs, Raft with at least one consenter, sane batch
    /// settings, and each MSP ID used by one MSP only.
    pub fn to_channel_group(&self) -> Result<ConfigGroup> {
        check_channel_id(&self.channel_id)?;
        let known = self.msp_ids();
        let mut msp_owner: BTreeMap<&str, (&str, &MspConfig)> = BTreeMap::new();
        for (name, org) in self
            .orderer
            .organizations
            .iter()
            .chain(&self.application.organizations)
        {
            if let Some((other, cfg)) = msp_owner.insert(org.msp_id(), (name, &org.msp)) {
                if *cfg != org.msp {
                    return Err(ChannelError::invalid(
                        format!("organisation {name}"),
                        format!(
                            "MSP ID {} is also used by organisation {other} with a different MSP; \
                             give each organisation its own MSP ID or the same MSP folder",
                            org.msp_id()
                        ),
                    ));
                }
            }
        }

        let mut channel = ConfigGroup {
            mod_policy: ADMINS.to_owned(),
            ..Default::default()
        };
        check_policies(
            "/Channel",
            &self.policies,
            &["Readers", "Writers", "Admins"],
            &known,
        )?;
        add_policies(&mut channel, &self.policies);
        channel.values.insert(
            wc::HASHING_ALGORITHM_KEY.to_owned(),
            admins_value(Value::HashingAlgorithm(HASHING_ALGORITHM.to_owned())),
        );
        channel.values.insert(
            wc::BLOCK_DATA_HASHING_STRUCTURE_KEY.to_owned(),
            admins_value(Value::BlockDataHashingStructure(BLOCK_DATA_HASHING_WIDTH)),
        );
        if !self.orderer_addresses.is_empty() {
            channel.values.insert(
                wc::ORDERER_ADDRESSES_KEY.to_owned(),
                ConfigValue {
                    version: 0,
                    value: Value::Addresses(self.orderer_addresses.clone()),
                    mod_policy: ORDERER_ADMINS_PATH.to_owned(),
                },
            );
        }
        if !self.capabilities.is_empty() {
            channel.values.insert(
                wc::CAPABILITIES_KEY.to_owned(),
                admins_value(Value::Capabilities(self.capabilities.clone())),
            );
        }

        // Orderer group.
        let o = &self.orderer;
        if o.orderer_type != wc::ETCDRAFT {
            return Err(ChannelError::invalid(
                "/Channel/Orderer/ConsensusType",
                format!(
                    "OrdererType '{}' is not supported; Cambium orders with Raft: use etcdraft",
                    o.orderer_type
                ),
            ));
        }
        if o.consenters.is_empty() {
            return Err(ChannelError::invalid(
                "/Channel/Orderer/ConsensusType",
                "etcdraft needs at least one consenter; list them under EtcdRaft.Consenters",
            ));
        }
        if o.organizations.is_empty() {
            return Err(ChannelError::invalid(
                "/Channel/Orderer",
                "has no organisations; list the orderer organisations under Orderer.Organizations",
            ));
        }
        check_batch(o)?;
        duration::parse(&o.raft_options.tick_interval).map_err(|e| {
            ChannelError::invalid(
                "/Channel/Orderer/ConsensusType EtcdRaft.Options.TickInterval",
                e,
            )
        })?;
        let mut orderer = ConfigGroup {
            mod_policy: ADMINS.to_owned(),
            ..Default::default()
        };
        check_policies(
            "/Channel/Orderer",
            &o.policies,
            &["Readers", "Writers", "Admins", "BlockValidation"],
            &known,
        )?;
        add_policies(&mut orderer, &o.policies);
        orderer.values.insert(
            wc::BATCH_SIZE_KEY.to_owned(),
            admins_value(Value::BatchSize(o.batch_size)),
        );
        orderer.values.insert(
            wc::BATCH_TIMEOUT_KEY.to_owned(),
            admins_value(Value::BatchTimeout(duration::format(o.batch_timeout))),
        );
        orderer.values.insert(
            wc::CHANNEL_RESTRICTIONS_KEY.to_owned(),
            admins_value(Value::ChannelRestrictions(o.max_channels)),
        );
        if !o.capabilities.is_empty() {
            orderer.values.insert(
                wc::CAPABILITIES_KEY.to_owned(),
                admins_value(Value::Capabilities(o.capabilities.clone())),
            );
        }
        orderer.values.insert(
            wc::CONSENSUS_TYPE_KEY.to_owned(),
            admins_value(Value::ConsensusType(ConsensusType {
                consensus_type: o.orderer_type.clone(),
                metadata: ConsensusMetadata::EtcdRaft(RaftMetadata {
                    consenters: o.consenters.clone(),
                    options: Some(o.raft_options.clone()),
                }),
                maintenance: false,
            })),
        );
        for (name, org) in &o.organizations {
            orderer.groups.insert(
                name.clone(),
                org_group("/Channel/Orderer", name, org, &known)?,
            );
        }
        channel.groups.insert(ORDERER_GROUP.to_owned(), orderer);

        // Application group.
        let a = &self.application;
        let mut app = ConfigGroup {
            mod_policy: ADMINS.to_owned(),
            ..Default::default()
        };
        check_policies(
            "/Channel/Application",
            &a.policies,
            &["Readers", "Writers", "Admins"],
            &known,
        )?;
        add_policies(&mut app, &a.policies);
        if !a.acls.is_empty() {
            app.values.insert(
                wc::ACLS_KEY.to_owned(),
                admins_value(Value::Acls(a.acls.clone())),
            );
        }
        if !a.capabilities.is_empty() {
            app.values.insert(
                wc::CAPABILITIES_KEY.to_owned(),
                admins_value(Value::Capabilities(a.capabilities.clone())),
            );
        }
        for (name, org) in &a.organizations {
            app.groups.insert(
                name.clone(),
                org_group("/Channel/Application", name, org, &known)?,
            );
        }
        channel.groups.insert(APPLICATION_GROUP.to_owned(), app);
        Ok(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_policies_parse_and_print_as_fabric_samples() {
        let p = default_peer_org_policies("Org1MSP");
        let Policy::Signature(readers) = &p["Readers"] else {
            panic!("signature policy expected")
        };
        assert_eq!(
            policy::format(readers),
            "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"
        );
        assert_eq!(default_orderer_org_policies("OrdererMSP").len(), 3);
        let app = default_application_policies();
        assert_eq!(
            app[ROLLOUT_ABORT],
            implicit_meta(ImplicitMetaRule::Any, "Admins")
        );
        assert_eq!(
            app[ROLLOUT_PROMOTE],
            implicit_meta(ImplicitMetaRule::Majority, "Endorsement")
        );
    }

    #[test]
    fn channel_ids_follow_fabric_rules() {
        for ok in ["mychannel", "a", "ch-1.test"] {
            check_channel_id(ok).unwrap();
        }
        for bad in ["", "MyChannel", "1ch", "my_channel", &"a".repeat(250)] {
            assert!(check_channel_id(bad).is_err(), "{bad}");
        }
    }
}
