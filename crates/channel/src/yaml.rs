//! The channel YAML: a trimmed `configtx.yaml` that resolves to a [`ChannelSpec`].
//!
//! The file has Fabric's sections — `Organizations`, `Capabilities`, `Application`, `Orderer`,
//! `Channel` and `Profiles` — with Fabric's key names, anchors (`&Org1`, `*Org1`) and merge
//! keys (`<<: *ChannelDefaults`). With `Profiles`, one profile is the channel (chosen by name,
//! or the only one); without, the top-level `Channel`, `Orderer` and `Application` sections
//! are. Organisations in a section's `Organizations` list are either full organisations (usually
//! aliases) or the `Name` of one listed under the top-level `Organizations`. Cambium adds
//! `ChannelID` (top level, overridden by the caller) and the application policies
//! `RolloutPromote` and `RolloutAbort`.
//!
//! Paths (`MSPDir`, `ClientTLSCert`, `ServerTLSCert`) are relative to the YAML file. Unknown
//! keys are errors naming the key and its line; policies with a bad rule name the policy path
//! and the column in the rule. Missing policies and capabilities get Fabric's sample defaults
//! (see [`crate::spec`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use cambium_msp::policy::{self, parse_implicit_meta};
use cambium_msp::MspConfig;
use cambium_primitives::Policy;
use cambium_wire::config::{AnchorPeer, BatchSize, RaftConsenter, RaftOptions};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::duration;
use crate::error::{ChannelError, Result};
use crate::spec::{
    self, ApplicationSpec, ChannelSpec, OrdererSpec, OrgSpec, DEFAULT_BATCH_TIMEOUT,
};

/// Which channel of a YAML file to build, and under which ID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The channel ID; overrides the file's `ChannelID`.
    pub channel_id: Option<String>,
    /// The profile to use when the file has `Profiles`; may be omitted if it has one.
    pub profile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileYaml {
    #[serde(rename = "ChannelID", default)]
    channel_id: Option<String>,
    #[serde(rename = "Organizations", default)]
    organizations: Option<Vec<OrgYaml>>,
    /// Only holds anchors (`&ChannelCapabilities`) that other sections refer to; it is
    /// still checked to be a map of maps of booleans.
    #[serde(rename = "Capabilities", default)]
    _capabilities: Option<BTreeMap<String, Option<BTreeMap<String, bool>>>>,
    #[serde(rename = "Application", default)]
    application: Option<ApplicationYaml>,
    #[serde(rename = "Orderer", default)]
    orderer: Option<OrdererYaml>,
    #[serde(rename = "Channel", default)]
    channel: Option<ChannelYaml>,
    #[serde(rename = "Profiles", default)]
    profiles: Option<BTreeMap<String, ProfileYaml>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct OrgYaml {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "MSPDir")]
    msp_dir: PathBuf,
    #[serde(rename = "Policies", default)]
    policies: Option<BTreeMap<String, PolicyYaml>>,
    #[serde(rename = "AnchorPeers", default)]
    anchor_peers: Option<Vec<AnchorPeerYaml>>,
    #[serde(rename = "OrdererEndpoints", default)]
    orderer_endpoints: Option<Vec<String>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct PolicyYaml {
    #[serde(rename = "Type")]
    policy_type: String,
    #[serde(rename = "Rule")]
    rule: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct AnchorPeerYaml {
    #[serde(rename = "Host")]
    host: String,
    #[serde(rename = "Port")]
    port: i32,
}

type Capabilities = Option<BTreeMap<String, bool>>;
type Policies = Option<BTreeMap<String, PolicyYaml>>;

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct ApplicationYaml {
    #[serde(rename = "Organizations", default)]
    organizations: Option<Vec<OrgRef>>,
    #[serde(rename = "Policies", default)]
    policies: Policies,
    #[serde(rename = "Capabilities", default)]
    capabilities: Capabilities,
    #[serde(rename = "ACLs", default)]
    acls: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct OrdererYaml {
    #[serde(rename = "OrdererType", default)]
    orderer_type: Option<String>,
    #[serde(rename = "Addresses", default)]
    addresses: Option<Vec<String>>,
    #[serde(rename = "EtcdRaft", default)]
    etcd_raft: Option<EtcdRaftYaml>,
    #[serde(rename = "BatchTimeout", default)]
    batch_timeout: Option<String>,
    #[serde(rename = "BatchSize", default)]
    batch_size: Option<BatchSizeYaml>,
    #[serde(rename = "MaxChannels", default)]
    max_channels: Option<u64>,
    #[serde(rename = "Organizations", default)]
    organizations: Option<Vec<OrgRef>>,
    #[serde(rename = "Policies", default)]
    policies: Policies,
    #[serde(rename = "Capabilities", default)]
    capabilities: Capabilities,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct EtcdRaftYaml {
    #[serde(rename = "Consenters", default)]
    consenters: Vec<ConsenterYaml>,
    #[serde(rename = "Options", default)]
    options: Option<RaftOptionsYaml>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ConsenterYaml {
    #[serde(rename = "Host")]
    host: String,
    #[serde(rename = "Port")]
    port: u32,
    #[serde(rename = "ClientTLSCert")]
    client_tls_cert: PathBuf,
    #[serde(rename = "ServerTLSCert")]
    server_tls_cert: PathBuf,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RaftOptionsYaml {
    #[serde(rename = "TickInterval", default)]
    tick_interval: Option<String>,
    #[serde(rename = "ElectionTick", default)]
    election_tick: Option<u32>,
    #[serde(rename = "HeartbeatTick", default)]
    heartbeat_tick: Option<u32>,
    #[serde(rename = "MaxInflightBlocks", default)]
    max_inflight_blocks: Option<u32>,
    #[serde(rename = "SnapshotIntervalSize", default)]
    snapshot_interval_size: Option<ByteSize>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct BatchSizeYaml {
    #[serde(rename = "MaxMessageCount", default)]
    max_message_count: Option<u32>,
    #[serde(rename = "AbsoluteMaxBytes", default)]
    absolute_max_bytes: Option<ByteSize>,
    #[serde(rename = "PreferredMaxBytes", default)]
    preferred_max_bytes: Option<ByteSize>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct ChannelYaml {
    #[serde(rename = "Policies", default)]
    policies: Policies,
    #[serde(rename = "Capabilities", default)]
    capabilities: Capabilities,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct ProfileYaml {
    #[serde(rename = "Policies", default)]
    policies: Policies,
    #[serde(rename = "Capabilities", default)]
    capabilities: Capabilities,
    #[serde(rename = "Orderer", default)]
    orderer: Option<OrdererYaml>,
    #[serde(rename = "Application", default)]
    application: Option<ApplicationYaml>,
}

/// An organisation in a section's list: inline (an alias) or by `Name`.
#[derive(Clone)]
enum OrgRef {
    Name(String),
    Inline(Box<OrgYaml>),
}

impl<'de> Deserialize<'de> for OrgRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrgRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an organisation (Name, ID, MSPDir, …) or the Name of one listed under Organizations")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OrgRef, E> {
                Ok(OrgRef::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<OrgRef, A::Error> {
                OrgYaml::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|o| OrgRef::Inline(Box::new(o)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte count: a number, or Fabric's `99 MB` / `512 KB` form (binary units).
#[derive(Clone, Copy)]
struct ByteSize(u32);

fn parse_byte_size(s: &str) -> std::result::Result<u32, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size; write e.g. 10 MB, 512 KB or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        other => {
            return Err(format!(
                "'{s}' has the unknown unit '{other}'; use KB, MB or GB"
            ))
        }
    };
    n.checked_mul(mult)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("'{s}' is larger than 4 GB, the most a config can hold"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 10 MB, 512 KB or 1048576")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<ByteSize, E> {
                u32::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is larger than 4 GB")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<ByteSize, E> {
                u32::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("{v} is not a size between 0 and 4 GB")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The 1-based line of the first place `key` appears as a mapping key in `text`.
fn locate_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let t = line.trim_start();
            let t = t.strip_prefix("- ").unwrap_or(t).trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Parses the file. Documents without merge keys are read directly, so every error carries
/// its exact position; with merge keys the document is merged first and unknown-key errors
/// are located by searching for the key.
fn parse_file(text: &str, file: &str) -> Result<FileYaml> {
    let direct = serde_norway::from_str::<FileYaml>(text);
    let err = match direct {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e,
    };
    let yaml_err = |message: String, line: Option<usize>| ChannelError::Yaml {
        file: file.to_owned(),
        line,
        message,
    };
    if !text.contains("<<") {
        return Err(yaml_err(err.to_string(), None));
    }
    let mut value: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| yaml_err(e.to_string(), None))?;
    value
        .apply_merge()
        .map_err(|e| yaml_err(format!("merge keys (<<) could not be applied: {e}"), None))?;
    serde_norway::from_value::<FileYaml>(value).map_err(|e| {
        let message = e.to_string();
        let line = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .and_then(|key| locate_key(text, key));
        yaml_err(message, line)
    })
}

struct Resolver<'a> {
    base: &'a Path,
    known: BTreeMap<String, OrgYaml>,
}

fn parse_policy(path: &str, p: &PolicyYaml) -> Result<Policy> {
    let bad = |problem: String| ChannelError::BadPolicy {
        path: path.to_owned(),
        problem,
    };
    match p.policy_type.as_str() {
        "Signature" => policy::parse(&p.rule)
            .map(Policy::Signature)
            .map_err(|e| bad(format!("rule {:?}: {e}", p.rule))),
        "ImplicitMeta" => parse_implicit_meta(&p.rule)
            .map(Policy::ImplicitMeta)
            .map_err(|e| bad(e.to_string())),
        other => Err(bad(format!(
            "Type '{other}' is not supported; use Signature or ImplicitMeta"
        ))),
    }
}

/// The policies given, with `defaults` filling in the ones not given.
fn policies(
    path: &str,
    given: &Policies,
    defaults: BTreeMap<String, Policy>,
) -> Result<BTreeMap<String, Policy>> {
    let mut out = defaults;
    for (name, p) in given.iter().flatten() {
        out.insert(name.clone(), parse_policy(&format!("{path}/{name}"), p)?);
    }
    Ok(out)
}

fn capabilities(given: &Capabilities, default: &str) -> BTreeSet<String> {
    match given {
        Some(map) => map
            .iter()
            .filter(|(_, on)| **on)
            .map(|(k, _)| k.clone())
            .collect(),
        None => BTreeSet::from([default.to_owned()]),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OrgKind {
    Orderer,
    Peer,
}

impl Resolver<'_> {
    fn read(&self, path: &Path, what: &str) -> Result<Vec<u8>> {
        let full = self.base.join(path);
        std::fs::read(&full).map_err(|source| ChannelError::Io {
            path: full.clone(),
            source: std::io::Error::new(source.kind(), format!("{what}: {source}")),
        })
    }

    fn orgs(
        &self,
        section: &str,
        refs: &Option<Vec<OrgRef>>,
        kind: OrgKind,
    ) -> Result<BTreeMap<String, OrgSpec>> {
        let mut out = BTreeMap::new();
        for r in refs.iter().flatten() {
            let org = match r {
                OrgRef::Inline(org) => org.as_ref(),
                OrgRef::Name(name) => self.known.get(name).ok_or_else(|| {
                    ChannelError::invalid(
                        format!("{section}.Organizations"),
                        format!(
                            "names '{name}', which is not listed under Organizations (known: {})",
                            self.known.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?,
            };
            let path = format!("/Channel/{section}/{}", org.name);
            let msp_id = org.id.clone().unwrap_or_else(|| org.name.clone());
            let msp_dir = self.base.join(&org.msp_dir);
            let msp =
                MspConfig::from_dir(&msp_dir, &msp_id).map_err(|source| ChannelError::Msp {
                    org: org.name.clone(),
                    source,
                })?;
            let defaults = match kind {
                OrgKind::Orderer => spec::default_orderer_org_policies(&msp_id),
                OrgKind::Peer => spec::default_peer_org_policies(&msp_id),
            };
            let spec = OrgSpec {
                msp,
                policies: policies(&path, &org.policies, defaults)?,
                anchor_peers: org
                    .anchor_peers
                    .iter()
                    .flatten()
                    .map(|a| AnchorPeer {
                        host: a.host.clone(),
                        port: a.port,
                    })
                    .collect(),
                orderer_endpoints: org.orderer_endpoints.clone().unwrap_or_default(),
            };
            if out.insert(org.name.clone(), spec).is_some() {
                return Err(ChannelError::invalid(
                    format!("{section}.Organizations"),
                    format!("lists '{}' twice; list each organisation once", org.name),
                ));
            }
        }
        Ok(out)
    }

    fn orderer(&self, y: &OrdererYaml) -> Result<(OrdererSpec, Vec<String>)> {
        let raft = y.etcd_raft.clone().unwrap_or_default();
        let mut consenters = Vec::new();
        for c in &raft.consenters {
            consenters.push(RaftConsenter {
                host: c.host.clone(),
                port: c.port,
                client_tls_cert: self.read(&c.client_tls_cert, "ClientTLSCert")?,
                server_tls_cert: self.read(&c.server_tls_cert, "ServerTLSCert")?,
            });
        }
        let d = spec::default_raft_options();
        let o = raft.options.unwrap_or_default();
        let raft_options = RaftOptions {
            tick_interval: o.tick_interval.unwrap_or(d.tick_interval),
            election_tick: o.election_tick.unwrap_or(d.election_tick),
            heartbeat_tick: o.heartbeat_tick.unwrap_or(d.heartbeat_tick),
            max_inflight_blocks: o.max_inflight_blocks.unwrap_or(d.max_inflight_blocks),
            snapshot_interval_size: o
                .snapshot_interval_size
                .map_or(d.snapshot_interval_size, |b| b.0),
        };
        let batch_timeout = match &y.batch_timeout {
            Some(t) => {
                duration::parse(t).map_err(|e| ChannelError::invalid("Orderer.BatchTimeout", e))?
            }
            None => DEFAULT_BATCH_TIMEOUT,
        };
        let db = spec::default_batch_size();
        let b = y.batch_size.clone().unwrap_or_default();
        let batch_size = BatchSize {
            max_message_count: b.max_message_count.unwrap_or(db.max_message_count),
            absolute_max_bytes: b.absolute_max_bytes.map_or(db.absolute_max_bytes, |v| v.0),
            preferred_max_bytes: b
                .preferred_max_bytes
                .map_or(db.preferred_max_bytes, |v| v.0),
        };
        let orderer = OrdererSpec {
            orderer_type: y
                .orderer_type
                .clone()
                .unwrap_or_else(|| cambium_wire::config::ETCDRAFT.to_owned()),
            consenters,
            raft_options,
            batch_timeout,
            batch_size,
            max_channels: y.max_channels.unwrap_or(0),
            capabilities: capabilities(&y.capabilities, "V2_0"),
            policies: policies(
                "/Channel/Orderer",
                &y.policies,
                spec::default_orderer_policies(),
            )?,
            organizations: self.orgs("Orderer", &y.organizations, OrgKind::Orderer)?,
        };
        Ok((orderer, y.addresses.clone().unwrap_or_default()))
    }

    fn application(&self, y: &ApplicationYaml) -> Result<ApplicationSpec> {
        Ok(ApplicationSpec {
            policies: policies(
                "/Channel/Application",
                &y.policies,
                spec::default_application_policies(),
            )?,
            capabilities: capabilities(&y.capabilities, "V2_5"),
            acls: y.acls.clone().unwrap_or_default(),
            organizations: self.orgs("Application", &y.organizations, OrgKind::Peer)?,
        })
    }
}

/// Reads one application (peer) organisation in configtx form — `Name`, `ID`, `MSPDir`,
/// `Policies`, `AnchorPeers`, as one entry of a channel YAML's `Organizations` — the
/// equivalent of `configtxgen -printOrg`'s output. `cambium network add-org` writes such a
/// file and `cambium channel update --add-org` adds it to a running channel. Paths are
/// relative to the file; policies not given get the defaults of a peer organisation.
///
/// Returns the organisation's group name (its `Name`) and its spec.
pub fn load_org(path: &Path) -> Result<(String, OrgSpec)> {
    let text = std::fs::read_to_string(path).map_err(|source| ChannelError::Io {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    org_from_yaml(&text, base, &path.display().to_string())
}

/// Resolves one organisation's YAML text (see [`load_org`]); relative paths are taken from
/// `base`, and `file` names the text in errors.
pub fn org_from_yaml(text: &str, base: &Path, file: &str) -> Result<(String, OrgSpec)> {
    let org: OrgYaml = serde_norway::from_str(text).map_err(|e| ChannelError::Yaml {
        file: file.to_owned(),
        line: e.location().map(|l| l.line()),
        message: format!(
            "{e}; an organisation file holds one organisation's Name, ID, MSPDir, Policies and AnchorPeers"
        ),
    })?;
    let name = org.name.clone();
    let resolver = Resolver {
        base,
        known: BTreeMap::new(),
    };
    let mut orgs = resolver.orgs(
        "Application",
        &Some(vec![OrgRef::Inline(Box::new(org))]),
        OrgKind::Peer,
    )?;
    let spec = orgs.remove(&name).ok_or_else(|| {
        ChannelError::invalid(file.to_owned(), "holds no organisation; give its Name")
    })?;
    Ok((name, spec))
}

/// Reads a channel YAML file; paths in it are relative to its folder.
pub fn load(path: &Path, options: &LoadOptions) -> Result<ChannelSpec> {
    let text = std::fs::read_to_string(path).map_err(|source| ChannelError::Io {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    from_yaml(&text, base, &path.display().to_string(), options)
}

/// Resolves channel YAML text; relative paths are taken from `base`, and `file` names the
/// text in errors.
pub fn from_yaml(
    text: &str,
    base: &Path,
    file: &str,
    options: &LoadOptions,
) -> Result<ChannelSpec> {
    let parsed = parse_file(text, file)?;
    let mut known = BTreeMap::new();
    for org in parsed.organizations.iter().flatten() {
        if known.insert(org.name.clone(), org.clone()).is_some() {
            return Err(ChannelError::invalid(
                "Organizations",
                format!(
                    "'{}' is listed twice; give each organisation its own Name",
                    org.name
                ),
            ));
        }
    }
    let resolver = Resolver { base, known };

    let (policies_y, caps_y, orderer_y, app_y) = match &parsed.profiles {
        Some(profiles) => {
            let name = match &options.profile {
                Some(name) => name.clone(),
                None if profiles.len() == 1 => profiles.keys().next().cloned().unwrap_or_default(),
                None => {
                    return Err(ChannelError::invalid(
                        file,
                        format!(
                            "has several profiles ({}); choose one with --profile",
                            profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            };
            let p = profiles.get(&name).ok_or_else(|| {
                ChannelError::invalid(
                    file,
                    format!(
                        "has no profile '{name}'; its profiles are: {}",
                        profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            (
                p.policies.clone(),
                p.capabilities.clone(),
                p.orderer.clone(),
                p.application.clone(),
            )
        }
        None => {
            if let Some(name) = &options.profile {
                return Err(ChannelError::invalid(
                    file,
                    format!("has no Profiles section, so profile '{name}' cannot be chosen; drop --profile"),
                ));
            }
            let c = parsed.channel.clone().unwrap_or_default();
            (
                c.policies,
                c.capabilities,
                parsed.orderer.clone(),
                parsed.application.clone(),
            )
        }
    };
    let orderer_y = orderer_y.ok_or_else(|| {
        ChannelError::invalid(file, "has no Orderer section; add one with OrdererType etcdraft, EtcdRaft.Consenters and Organizations")
    })?;
    let app_y = app_y.ok_or_else(|| {
        ChannelError::invalid(
            file,
            "has no Application section; add one listing the peer organisations",
        )
    })?;
    let channel_id = options
        .channel_id
        .clone()
        .or(parsed.channel_id.clone())
        .ok_or_else(|| {
            ChannelError::invalid(
                file,
                "names no channel: pass a channel ID (--channel-id) or set ChannelID in the file",
            )
        })?;
    let (orderer, orderer_addresses) = resolver.orderer(&orderer_y)?;
    Ok(ChannelSpec {
        channel_id,
        policies: policies("/Channel", &policies_y, spec::default_channel_policies())?,
        capabilities: capabilities(&caps_y, "V2_0"),
        orderer_addresses,
        orderer,
        application: resolver.application(&app_y)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_fabric_units() {
        assert_eq!(parse_byte_size("99 MB").unwrap(), 99 << 20);
        assert_eq!(parse_byte_size("512 KB").unwrap(), 512 << 10);
        assert_eq!(parse_byte_size("1024").unwrap(), 1024);
        assert!(parse_byte_size("5 TB")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_byte_size("8 GB")
            .unwrap_err()
            .contains("larger than 4 GB"));
    }

    #[test]
    fn keys_are_located_by_line() {
        let text = "a: 1\nOrganizations:\n  - Name: x\n    Bogus: 2\n";
        assert_eq!(locate_key(text, "Bogus"), Some(4));
        assert_eq!(locate_key(text, "Name"), Some(3));
        assert_eq!(locate_key(text, "Missing"), None);
    }
}
