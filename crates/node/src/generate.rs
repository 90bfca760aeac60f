//! `cambium network generate`: everything a consortium needs to run a network as separate
//! processes (or hosts) instead of `cambium up`'s one process; and `cambium network add-org`
//! ([`add_org`]), which adds a peer organisation to such a folder.
//!
//! ```text
//! <out>/
//!   README.md                        the commands that start each node and join the channel
//!   crypto-config.yaml               the cryptogen config the material was made from
//!   crypto/                          Fabric cryptogen layout: ordererOrganizations/, peerOrganizations/
//!   channel.yaml                     the channel in configtx form (edit it for `cambium channel update`)
//!   <channel>.block                  the channel's genesis block
//!   nodes/orderer0.example.com/orderer.yaml   one folder per node; its data goes in data/
//!   nodes/peer0.org1.example.com/peer.yaml
//!   profiles/org1.json|yaml          each organisation's connection profile (its own keys only)
//!   connection-profile.json|yaml     every organisation's keys, for one operator who holds them all
//!   prometheus.yml                   Prometheus scrape targets: every node's operations endpoint
//!   orgs/org3.yaml                   an organisation added by `add-org`, for `channel update --add-org`
//! ```
//!
//! Ports start at `base_port`: three per orderer (gRPC, its channel participation API, its
//! operations endpoint), then two per peer (gRPC, then its operations endpoint). Node configurations name the crypto
//! material by paths relative to themselves, so the folder (or a node's share of it) can be
//! copied to another host; the connection profiles use absolute paths, as Fabric SDKs read them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::ChannelConfig;
use cambium_cryptogen::{CryptoConfig, GeneratedNetwork, GeneratedOrg, MAX_NODES_PER_ORG};
use cambium_peer::{PeerConfig, TlsSection};
use serde::Serialize;

use crate::error::{NodeError, Result};
use crate::monitoring::{add_peers, write_prometheus, ScrapeTarget};
use crate::profile::{
    node_entry_at, org_clients, ChannelSection, ClientSection, ConnectionProfile, Organization,
    PeerRoles,
};

/// The most peer organisations `generate` makes (a channel's MAJORITY admin signatures grow
/// with it; larger consortia are better described in a hand-written crypto config).
pub const MAX_ORGS: u32 = 50;
/// The most Raft consenters `generate` makes.
pub const MAX_ORDERERS: u32 = 15;
/// Users made per peer organisation besides `Admin`: `User1` for applications and `User2`
/// as a second client (for example one to revoke).
pub const USERS_PER_ORG: u32 = 2;
/// File name of a peer's configuration in its node folder.
pub const PEER_CONFIG: &str = "peer.yaml";
/// File name of an orderer's configuration in its node folder.
pub const ORDERER_CONFIG: &str = "orderer.yaml";
/// The channel YAML written next to the genesis block.
pub const CHANNEL_YAML: &str = "channel.yaml";
/// The README written into the output folder.
pub const README: &str = "README.md";

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Peer organisations (`Org1` … `OrgN`).
    pub orgs: u32,
    /// Peers per organisation (`peer0` … ).
    pub peers_per_org: u32,
    /// Raft orderers (`orderer0.example.com` …), all in one orderer organisation.
    pub orderers: u32,
    /// The output folder.
    pub out: PathBuf,
    /// The first port; the network uses `2 × (orderers + orgs × peers_per_org)` ports from it.
    pub base_port: u16,
    /// The host name or IP address every node is reached at (and its TLS certificates name).
    pub host: String,
    /// The channel.
    pub channel: String,
    /// How long the orderers wait before cutting a block that is not full.
    pub batch_timeout: Duration,
    /// Replace the generated files of a folder that is not empty.
    pub force: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            orgs: 2,
            peers_per_org: 1,
            orderers: 3,
            out: PathBuf::from("network"),
            base_port: 7050,
            host: crate::ports::HOST.to_owned(),
            channel: crate::network::CHANNEL_ID.to_owned(),
            batch_timeout: Duration::from_millis(250),
            force: false,
        }
    }
}

/// One generated node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodePlan {
    /// Its name, e.g. `peer1.org2.example.com`.
    pub name: String,
    /// Its MSP ID.
    pub msp_id: String,
    /// `host:port` others reach its gRPC services at.
    pub address: String,
    /// The second port: an orderer's channel participation API, a peer's operations endpoint
    /// (`host:port`, bound on loopback for orderers).
    pub aux_address: String,
    /// An orderer's operations endpoint (`host:port`); a peer's is its `aux_address`.
    pub operations_address: Option<String>,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its data folder.
    pub data_dir: PathBuf,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct GeneratedDeployment {
    /// The output folder (absolute).
    pub root: PathBuf,
    /// The channel.
    pub channel: String,
    /// The genesis block file.
    pub genesis_block: PathBuf,
    /// The orderers, in consenter order.
    pub orderers: Vec<NodePlan>,
    /// The peers, organisation by organisation.
    pub peers: Vec<NodePlan>,
    /// Each organisation's connection profile (JSON) by organisation name.
    pub org_profiles: BTreeMap<String, PathBuf>,
    /// The profile with every organisation's keys (JSON).
    pub profile: PathBuf,
    /// The Prometheus scrape configuration of every node's operations endpoint.
    pub prometheus: PathBuf,
    /// The README with the start commands.
    pub readme: PathBuf,
}

/// Checks the options before anything is written; errors name the flag and the fix.
pub fn check(options: &GenerateOptions) -> Result<()> {
    let bad = |m: String| Err(NodeError::Rejected(m));
    if options.orgs == 0 || options.orgs > MAX_ORGS {
        return bad(format!(
            "--orgs {} is out of range; a network needs 1 to {MAX_ORGS} peer organisations",
            options.orgs
        ));
    }
    if options.peers_per_org == 0 || options.peers_per_org > MAX_NODES_PER_ORG {
        return bad(format!(
            "--peers-per-org {} is out of range; give 1 to {MAX_NODES_PER_ORG}",
            options.peers_per_org
        ));
    }
    if options.orderers == 0 || options.orderers > MAX_ORDERERS {
        return bad(format!(
            "--orderers {} is out of range; give 1 to {MAX_ORDERERS} (3 or 5 tolerate one or two failures)",
            options.orderers
        ));
    }
    let needed = port_count(options);
    let last = u32::from(options.base_port) + needed - 1;
    if options.base_port < 1024 || last > u32::from(u16::MAX) {
        return bad(format!(
            "--base-port {} does not fit the {needed} ports this network needs (up to {last}); use a port from 1024 to {}",
            options.base_port,
            u32::from(u16::MAX) + 1 - needed
        ));
    }
    let host = options.host.as_str();
    if host.is_empty()
        || host.contains(':')
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return bad(format!(
            "--host '{host}' is not a host name or IPv4 address; give one such as 10.0.0.5 or node1.example.org"
        ));
    }
    if options.batch_timeout.is_zero() {
        return bad("--batch-timeout must be above 0, e.g. 250ms".to_owned());
    }
    cambium_channel::spec::check_channel_id(&options.channel)
        .map_err(|e| NodeError::Rejected(format!("--channel '{}': {e}", options.channel)))?;
    Ok(())
}

/// How many ports the network uses from `base_port`.
pub fn port_count(options: &GenerateOptions) -> u32 {
    3 * options.orderers + 2 * options.orgs * options.peers_per_org
}

/// Generates the network into `options.out`, reporting each step to `progress`.
pub fn generate(
    options: &GenerateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<GeneratedDeployment> {
    check(options)?;
    prepare_out_dir(&options.out, options.force)?;
    let root = std::path::absolute(&options.out)
        .map_err(|e| NodeError::io("resolving", &options.out, e))?;

    progress(&format!(
        "crypto material: 1 orderer organisation ({} orderers), {} peer organisation(s) with {} peer(s) and {USERS_PER_ORG} user(s) each",
        options.orderers, options.orgs, options.peers_per_org
    ));
    let crypto_yaml = crypto_config_yaml(options);
    write(&root.join("crypto-config.yaml"), crypto_yaml.as_bytes())?;
    let crypto_config = CryptoConfig::from_yaml(&crypto_yaml)?;
    let crypto = cambium_cryptogen::generate(
        &crypto_config,
        &root.join("crypto"),
        cambium_cryptogen::GenerateOptions { force: true },
    )?;

    let ports = PortPlan::new(options);
    let orderer_org = crypto.orderer_orgs().next().ok_or_else(|| {
        NodeError::Rejected("the crypto config made no orderer organisation".into())
    })?;
    let peer_orgs: Vec<&GeneratedOrg> = crypto.peer_orgs().collect();

    progress(&format!(
        "channel '{}': genesis block with {} consenter(s) and {} application organisation(s)",
        options.channel,
        orderer_org.nodes.len(),
        peer_orgs.len()
    ));
    let channel_yaml = channel_yaml(options, &crypto, &root, &ports)?;
    let channel_yaml_path = root.join(CHANNEL_YAML);
    write(&channel_yaml_path, channel_yaml.as_bytes())?;
    let spec = yaml::load(
        &channel_yaml_path,
        &LoadOptions {
            channel_id: None,
            profile: None,
        },
    )?;
    let config = ChannelConfig::from_spec(&spec)?;
    let block = cambium_channel::genesis_block(&config, crate::client::now());
    let genesis_block = root.join(format!("{}.block", options.channel));
    write(&genesis_block, &block)?;

    let tls_cas: Vec<PathBuf> = crypto.orgs.iter().map(|o| o.tls_ca.cert.clone()).collect();
    let listen_host = listen_host(&options.host);

    progress(&format!(
        "node configurations: {} orderer(s)",
        orderer_org.nodes.len()
    ));
    let mut orderers = Vec::new();
    for (i, node) in orderer_org.nodes.iter().enumerate() {
        let (grpc, admin, ops) = ports.orderer(i);
        let dir = root.join("nodes").join(&node.name);
        let file = OrdererFile {
            listen_address: format!("{listen_host}:{grpc}"),
            advertised_address: format!("{}:{grpc}", options.host),
            admin_listen_address: format!("{}:{admin}", crate::ports::HOST),
            data_dir: PathBuf::from("data"),
            msp: MspFile {
                dir: relative(&dir, &node.msp_dir),
                id: orderer_org.msp_id.clone(),
            },
            tls: OrdererTlsFile {
                enabled: true,
                cert: relative(&dir, &node.tls_cert),
                key: relative(&dir, &node.tls_key),
                root_cas: tls_cas.iter().map(|p| relative(&dir, p)).collect(),
                client_auth_required: false,
            },
            operations: OpsFile {
                listen_address: format!("{listen_host}:{ops}"),
            },
        };
        let text = serde_norway::to_string(&file)
            .map_err(|e| NodeError::Rejected(format!("encoding {ORDERER_CONFIG}: {e}")))?;
        let config = dir.join(ORDERER_CONFIG);
        write(&config, with_header(&text, &node.name).as_bytes())?;
        orderers.push(NodePlan {
            name: node.name.clone(),
            msp_id: orderer_org.msp_id.clone(),
            address: file.advertised_address.clone(),
            aux_address: file.admin_listen_address.clone(),
            operations_address: Some(format!("{}:{ops}", options.host)),
            config,
            data_dir: dir.join("data"),
        });
    }

    progress(&format!(
        "node configurations: {} peer(s)",
        peer_orgs.iter().map(|o| o.nodes.len()).sum::<usize>()
    ));
    let mut peers = Vec::new();
    let mut index = 0;
    for org in &peer_orgs {
        for node in &org.nodes {
            let (grpc, ops) = ports.peer(index);
            index += 1;
            peers.push(write_peer_config(
                &root,
                node,
                &org.msp_id,
                &options.host,
                (grpc, ops),
                &tls_cas,
            )?);
        }
    }

    progress("connection profiles");
    let all = profile(options, orderer_org, &peer_orgs, &orderers, &peers, None)?;
    all.write(&root)?;
    let mut org_profiles = BTreeMap::new();
    for org in &peer_orgs {
        let own = profile(
            options,
            orderer_org,
            &peer_orgs,
            &orderers,
            &peers,
            Some(&org.name),
        )?;
        let base = root.join("profiles").join(org.name.to_lowercase());
        write_profile(&own, &base)?;
        org_profiles.insert(org.name.clone(), base.with_extension("json"));
    }

    progress("prometheus.yml with every operations endpoint");
    let prometheus = write_prometheus(&root, &scrape_targets(&orderers), &scrape_targets(&peers))?;

    let deployment = GeneratedDeployment {
        root: root.clone(),
        channel: options.channel.clone(),
        genesis_block,
        orderers,
        peers,
        org_profiles,
        profile: root.join(crate::network::PROFILE_JSON),
        prometheus,
        readme: root.join(README),
    };
    progress("README.md with the start and join commands");
    write(&deployment.readme, readme(options, &deployment).as_bytes())?;
    Ok(deployment)
}

/// Each node's operations endpoint, for Prometheus.
fn scrape_targets(nodes: &[NodePlan]) -> Vec<ScrapeTarget> {
    nodes
        .iter()
        .map(|n| ScrapeTarget {
            node: n.name.clone(),
            msp_id: n.msp_id.clone(),
            address: n
                .operations_address
                .clone()
                .unwrap_or_else(|| n.aux_address.clone()),
        })
        .collect()
}

/// Writes `nodes/<name>/peer.yaml` for a peer reached at `host` on `ports` (gRPC,
/// operations), trusting `tls_cas` for TLS clients, and describes it.
fn write_peer_config(
    root: &Path,
    node: &cambium_cryptogen::Identity,
    msp_id: &str,
    host: &str,
    (grpc, ops): (u16, u16),
    tls_cas: &[PathBuf],
) -> Result<NodePlan> {
    let listen_host = listen_host(host);
    let dir = root.join("nodes").join(&node.name);
    let mut config = PeerConfig::new("data", relative(&dir, &node.msp_dir), msp_id);
    config.listen_address = format!("{listen_host}:{grpc}");
    config.external_address = Some(format!("{host}:{grpc}"));
    config.tls = TlsSection {
        enabled: true,
        cert: Some(relative(&dir, &node.tls_cert)),
        key: Some(relative(&dir, &node.tls_key)),
        client_root_cas: tls_cas.iter().map(|p| relative(&dir, p)).collect(),
        client_auth_required: false,
    };
    config.operations = Some(cambium_peer::cambium_ops::OpsConfig::new(&format!(
        "{listen_host}:{ops}"
    )));
    let text = serde_norway::to_string(&config)
        .map_err(|e| NodeError::Rejected(format!("encoding {PEER_CONFIG}: {e}")))?;
    let path = dir.join(PEER_CONFIG);
    write(&path, with_header(&text, &node.name).as_bytes())?;
    Ok(NodePlan {
        name: node.name.clone(),
        msp_id: msp_id.to_owned(),
        address: format!("{host}:{grpc}"),
        aux_address: format!("{host}:{ops}"),
        operations_address: None,
        config: path,
        data_dir: dir.join("data"),
    })
}

/// What [`add_org`] adds to a generated network folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddOrgOptions {
    /// The folder `generate` wrote (it holds `channel.yaml`, `crypto/`, `nodes/`).
    pub dir: PathBuf,
    /// The new organisation's name, e.g. `Org3` (MSP ID `Org3MSP`, domain `org3.example.com`).
    pub name: String,
    /// Its peers (`peer0` … ).
    pub peers: u32,
    /// Its first port (two per peer: gRPC, operations); default: the port after the highest
    /// one the folder's nodes use.
    pub base_port: Option<u16>,
}

/// What [`add_org`] wrote.
#[derive(Clone, Debug, Serialize)]
pub struct AddedOrg {
    /// The network folder (absolute).
    pub root: PathBuf,
    /// The channel.
    pub channel: String,
    /// The organisation's name (`Org3`).
    pub name: String,
    /// Its MSP ID (`Org3MSP`).
    pub msp_id: String,
    /// Its crypto material (`crypto/peerOrganizations/<domain>`).
    pub crypto_dir: PathBuf,
    /// Its definition for `cambium channel update --add-org` (`orgs/<name>.yaml`).
    pub org_file: PathBuf,
    /// Whether `channel.yaml` now lists it too (false when the file was edited by hand so
    /// that the organisation could not be inserted; add it there by hand).
    pub channel_yaml_updated: bool,
    /// Its peers.
    pub peers: Vec<NodePlan>,
    /// Its own connection profile (JSON).
    pub profile: PathBuf,
    /// The folder's Prometheus scrape configuration, now with these peers; `None` when the
    /// folder has none (generated before Cambium wrote one).
    pub prometheus: Option<PathBuf>,
    /// The admins whose signatures satisfy the channel's MAJORITY `Admins` policy, as
    /// `MSPID=DIR` for `cambium channel update --signer`.
    pub signers: Vec<String>,
    /// The README, with a section on this organisation appended.
    pub readme: PathBuf,
}

/// Adds a peer organisation to a folder written by [`generate`], as a Fabric operator adds
/// Org3 with `cryptogen` (its crypto material), `configtxgen -printOrg` (its definition) and
/// a compose file (its peers): crypto material under `crypto/` (refusing an organisation the
/// folder already has), `orgs/<name>.yaml` for `cambium channel update --add-org`, the
/// organisation in `channel.yaml`, one `peer.yaml` per peer, its connection profile, its peers
/// in every other profile, and a README section with the commands, in order.
///
/// The running channel does not change: the update needs a MAJORITY of the existing admins.
pub fn add_org(options: &AddOrgOptions, progress: &mut dyn FnMut(&str)) -> Result<AddedOrg> {
    let root = std::path::absolute(&options.dir)
        .map_err(|e| NodeError::io("resolving", &options.dir, e))?;
    let channel_yaml_path = root.join(CHANNEL_YAML);
    if !channel_yaml_path.is_file() {
        return Err(NodeError::data_dir(
            &root,
            format!(
                "has no {CHANNEL_YAML}; pass the folder `cambium network generate --out` wrote"
            ),
        ));
    }
    let spec = yaml::load(&channel_yaml_path, &LoadOptions::default())?;
    let name = options.name.as_str();
    let valid_name = name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid_name {
        return Err(NodeError::Rejected(format!(
            "--name '{name}' is not an organisation name; use letters and digits starting with a letter, e.g. Org3"
        )));
    }
    let msp_id = format!("{name}MSP");
    let domain = format!("{}.example.com", name.to_lowercase());
    let existing: Vec<&str> = spec.msp_ids();
    if existing
        .iter()
        .any(|id| id.eq_ignore_ascii_case(&msp_id) || id.eq_ignore_ascii_case(name))
    {
        return Err(NodeError::Rejected(format!(
            "organisation {name} ({msp_id}) is already in {} (organisations: {}); pick another --name",
            channel_yaml_path.display(),
            existing.join(", ")
        )));
    }
    if options.peers == 0 || options.peers > MAX_NODES_PER_ORG {
        return Err(NodeError::Rejected(format!(
            "--peers {} is out of range; give 1 to {MAX_NODES_PER_ORG}",
            options.peers
        )));
    }
    let host = spec
        .orderer
        .consenters
        .first()
        .map(|c| c.host.clone())
        .ok_or_else(|| {
            NodeError::Rejected(format!(
                "{} lists no Raft consenter, so the network's host is unknown",
                channel_yaml_path.display()
            ))
        })?;
    let used = used_ports(&root.join("nodes"))?;
    let needed = 2 * options.peers;
    let base = match options.base_port {
        Some(p) => u32::from(p),
        None => used.iter().next_back().map_or(7050, |p| u32::from(*p) + 1),
    };
    let last = base + needed - 1;
    if base < 1024 || last > u32::from(u16::MAX) {
        return Err(NodeError::Rejected(format!(
            "--base-port {base} does not fit the {needed} ports the organisation needs (up to {last}); use a port from 1024 to {}",
            u32::from(u16::MAX) + 1 - needed
        )));
    }
    if let Some(clash) = (base..=last).find(|p| used.contains(&(*p as u16))) {
        return Err(NodeError::Rejected(format!(
            "--base-port {base}: port {clash} is already used by a node in {}; give a --base-port above {}",
            root.join("nodes").display(),
            used.iter().next_back().copied().unwrap_or_default()
        )));
    }

    progress(&format!(
        "crypto material: {name} ({domain}) with {} peer(s) and {USERS_PER_ORG} user(s)",
        options.peers
    ));
    let sans = if is_loopback(&host) {
        Vec::new()
    } else {
        vec![host.clone()]
    };
    let org_spec = cambium_cryptogen::OrgSpec {
        name: name.to_owned(),
        domain: domain.clone(),
        enable_node_ous: true,
        template: cambium_cryptogen::NodeTemplate {
            count: options.peers,
            sans,
            ..Default::default()
        },
        users: cambium_cryptogen::UsersSpec {
            count: USERS_PER_ORG,
        },
        ..Default::default()
    };
    let crypto = cambium_cryptogen::generate(
        &CryptoConfig {
            orderer_orgs: Vec::new(),
            peer_orgs: vec![org_spec.clone()],
        },
        &root.join("crypto"),
        cambium_cryptogen::GenerateOptions { force: false },
    )?;
    let org = crypto
        .org(&msp_id)
        .ok_or_else(|| NodeError::Rejected(format!("no crypto material was made for {msp_id}")))?
        .clone();
    let crypto_config_path = root.join("crypto-config.yaml");
    if let Ok(text) = std::fs::read_to_string(&crypto_config_path) {
        let mut all = CryptoConfig::from_yaml(&text)?;
        all.peer_orgs.push(org_spec);
        write(
            &crypto_config_path,
            format!(
                "# Generated by `cambium network generate` and `add-org`; the input of `cambium crypto generate`.\n{}",
                all.to_yaml()
            )
            .as_bytes(),
        )?;
    }

    progress(&format!("{name}'s definition and channel.yaml"));
    let anchor_port = base as u16;
    let org_file = root
        .join("orgs")
        .join(format!("{}.yaml", name.to_lowercase()));
    let org_text = format!(
        "# {name}: generated by `cambium network add-org`, in configtx form (`configtxgen -printOrg`).\n# Paths are relative to this file. Add it to the running channel with\n# `cambium channel update --add-org` signed by a MAJORITY of the channel's admins.\n{}\n",
        peer_org_yaml(
            &msp_id,
            &relative(org_file.parent().unwrap_or(&root), &org.msp_dir)
                .display()
                .to_string(),
            &host,
            anchor_port,
            ""
        )
    );
    write(&org_file, org_text.as_bytes())?;
    // Checks the file the way `channel update --add-org` reads it.
    yaml::load_org(&org_file)?;
    let channel_text = std::fs::read_to_string(&channel_yaml_path)
        .map_err(|e| NodeError::io("reading", &channel_yaml_path, e))?;
    let with_org = insert_org(
        &channel_text,
        &msp_id,
        &peer_org_yaml(
            &msp_id,
            &relative(&root, &org.msp_dir).display().to_string(),
            &host,
            anchor_port,
            "    ",
        ),
    )
    .filter(|text| {
        yaml::from_yaml(text, &root, CHANNEL_YAML, &LoadOptions::default())
            .is_ok_and(|s| s.application.organizations.contains_key(&msp_id))
    });
    let channel_yaml_updated = with_org.is_some();
    if let Some(text) = with_org {
        write(&channel_yaml_path, text.as_bytes())?;
    }

    progress(&format!("node configurations: {} peer(s)", org.nodes.len()));
    // The running nodes' configurations stay as they are: orderers and peers trust the TLS
    // CAs of every organisation their channels' configs list, from the config block that
    // adds this one on.
    let tls_cas = tls_ca_certs(&root.join("crypto"))?;
    let mut peers = Vec::new();
    for (i, node) in org.nodes.iter().enumerate() {
        let grpc = (base + 2 * i as u32) as u16;
        peers.push(write_peer_config(
            &root,
            node,
            &msp_id,
            &host,
            (grpc, grpc + 1),
            &tls_cas,
        )?);
    }

    progress("connection profiles");
    let profile = extend_profiles(&root, &spec.channel_id, &org, &peers)?;
    let prometheus = add_peers(&root, &scrape_targets(&peers))?;

    let admins: Vec<(String, String)> = spec
        .application
        .organizations
        .values()
        .map(|o| o.msp_id().to_owned())
        .filter_map(|id| {
            let short = id.strip_suffix("MSP")?.to_lowercase();
            let domain = format!("{short}.example.com");
            let dir = root
                .join("crypto/peerOrganizations")
                .join(&domain)
                .join(format!("users/Admin@{domain}/msp"));
            dir.is_dir()
                .then(|| (id, relative(&root, &dir).display().to_string()))
        })
        .collect();
    let majority = spec.application.organizations.len() / 2 + 1;
    let signers: Vec<String> = admins
        .iter()
        .take(majority)
        .map(|(id, dir)| format!("{id}={dir}"))
        .collect();
    let added = AddedOrg {
        root: root.clone(),
        channel: spec.channel_id.clone(),
        name: name.to_owned(),
        msp_id,
        crypto_dir: org.dir.clone(),
        org_file,
        channel_yaml_updated,
        peers,
        profile,
        prometheus,
        signers,
        readme: root.join(README),
    };
    progress("README.md: the commands that add the organisation");
    let first_orderer = spec
        .orderer
        .consenters
        .first()
        .map(|c| format!("{}:{}", c.host, c.port))
        .unwrap_or_default();
    let mut readme = std::fs::read_to_string(&added.readme).unwrap_or_default();
    readme.push_str(&add_org_readme(&added, &first_orderer));
    write(&added.readme, readme.as_bytes())?;
    Ok(added)
}

/// Every port named as `host:port` in the node configurations under `nodes`.
fn used_ports(nodes: &Path) -> Result<std::collections::BTreeSet<u16>> {
    fn collect(value: &serde_norway::Value, out: &mut std::collections::BTreeSet<u16>) {
        match value {
            serde_norway::Value::String(s) => {
                if let Some(port) = s.rsplit_once(':').and_then(|(_, p)| p.parse().ok()) {
                    out.insert(port);
                }
            }
            serde_norway::Value::Sequence(items) => items.iter().for_each(|v| collect(v, out)),
            serde_norway::Value::Mapping(map) => map.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut ports = std::collections::BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(nodes) else {
        return Ok(ports);
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        for file in [PEER_CONFIG, ORDERER_CONFIG] {
            let path = dir.join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let value: serde_norway::Value = serde_norway::from_str(&text).map_err(|e| {
                NodeError::Rejected(format!("{} is not valid YAML: {e}", path.display()))
            })?;
            collect(&value, &mut ports);
        }
    }
    Ok(ports)
}

/// The TLS CA certificates of every organisation under a cryptogen folder, sorted.
fn tls_ca_certs(crypto: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for kind in ["ordererOrganizations", "peerOrganizations"] {
        let Ok(orgs) = std::fs::read_dir(crypto.join(kind)) else {
            continue;
        };
        for org in orgs.filter_map(|e| e.ok()) {
            let dir = org.path().join("tlsca");
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            out.extend(
                files
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with("-cert.pem")),
            );
        }
    }
    out.sort();
    Ok(out)
}

/// `channel` (a generated channel YAML) with organisation `id` listed under `Organizations`
/// and in the profile's `Application` organisations; `None` if the file no longer has the
/// shape `generate` wrote.
fn insert_org(channel: &str, id: &str, org_yaml: &str) -> Option<String> {
    let caps = channel.find("\nCapabilities:\n")?;
    let app_end = channel.rfind("      Capabilities: *ApplicationCapabilities\n")?;
    if app_end < caps {
        return None;
    }
    let mut out = String::with_capacity(channel.len() + org_yaml.len() + 64);
    out.push_str(&channel[..caps + 1]);
    let _ = writeln!(out, "  - &{id}\n{org_yaml}");
    out.push_str(&channel[caps + 1..app_end]);
    let _ = writeln!(out, "        - *{id}");
    out.push_str(&channel[app_end..]);
    Some(out)
}

/// Adds the organisation's peers to every profile in the folder and writes its own profile;
/// returns the latter's JSON path.
fn extend_profiles(
    root: &Path,
    channel: &str,
    org: &GeneratedOrg,
    peers: &[NodePlan],
) -> Result<PathBuf> {
    let add_peers = |profile: &mut ConnectionProfile| -> Result<()> {
        for p in peers {
            profile.peers.insert(
                p.name.clone(),
                node_entry_at("grpcs", &p.address, &p.name, &org.tls_ca.cert)?,
            );
            for section in profile.channels.values_mut() {
                section.peers.insert(
                    p.name.clone(),
                    PeerRoles {
                        endorsing_peer: true,
                        chaincode_query: true,
                        ledger_query: true,
                        event_source: true,
                    },
                );
            }
        }
        Ok(())
    };
    let own_entry = Organization::generated(org, peers.iter().map(|p| p.name.clone()).collect());
    let all_path = root.join(crate::network::PROFILE_JSON);
    let mut all = ConnectionProfile::load(&all_path)?;
    add_peers(&mut all)?;
    all.organizations
        .insert(org.name.clone(), own_entry.clone());
    all.clients.insert(org.name.clone(), org_clients(org));
    all.write(root)?;

    let profiles = root.join("profiles");
    let mut others: Vec<PathBuf> = std::fs::read_dir(&profiles)
        .map_err(|e| NodeError::io("reading", &profiles, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    others.sort();
    for path in others {
        let mut profile = ConnectionProfile::load(&path)?;
        add_peers(&mut profile)?;
        write_profile(&profile, &path.with_extension(""))?;
    }

    let mut own = all;
    own.name = format!("cambium-{channel}-{}", org.name.to_lowercase());
    own.client.organization = org.name.clone();
    own.organizations.retain(|name, _| *name == org.name);
    own.clients.retain(|name, _| *name == org.name);
    let base = profiles.join(org.name.to_lowercase());
    write_profile(&own, &base)?;
    Ok(base.with_extension("json"))
}

fn add_org_readme(a: &AddedOrg, orderer: &str) -> String {
    let rel = |p: &Path| relative(&a.root, p).display().to_string();
    let lower = a.name.to_lowercase();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n## Adding {name} (`cambium network add-org --name {name}`)\n\n`{}` holds {name}'s definition (its MSP, policies and anchor peer); its crypto material is in\n`{}`, its peers' configurations under `nodes/`, its connection profile in `profiles/{lower}.json`\n(the other profiles now list its peers too).\n\nThe running orderers and peers need no change and no restart: each trusts, for TLS clients,\nthe TLS CAs of every organisation its channels' configurations list, so {name}'s peers and\nclients are accepted from the block that adds {name} on.\n\n1. A MAJORITY of the channel's current admins sign and submit the update that adds {name} (one\n   signature is not enough: the orderer names the `Admins` policy and the signatures it found):\n\n```sh",
        rel(&a.org_file),
        rel(&a.crypto_dir),
        name = a.name,
    );
    let signers: Vec<String> = a.signers.iter().map(|s| format!("--signer {s}")).collect();
    let _ = writeln!(
        t,
        "cambium channel update --channel {} --orderer {orderer} --tls-ca crypto/ordererOrganizations/example.com/msp/tlscacerts --add-org {} {}\n```\n\n   (Or collect the signatures one admin at a time: `--out update.pb`, `cambium channel signconfigtx update.pb --signer MSPID=DIR`, then `--file update.pb`.)\n\n2. Join {name}'s peers to the channel with the genesis block and start them; they catch up\n   through the update:\n\n```sh",
        a.channel,
        rel(&a.org_file),
        signers.join(" "),
        name = a.name,
    );
    for p in &a.peers {
        let _ = writeln!(
            t,
            "cambium peer channel join --block {}.block --config {}",
            a.channel,
            rel(&p.config)
        );
    }
    for p in &a.peers {
        let _ = writeln!(t, "cambium peer start --config {}", rel(&p.config));
    }
    let first = a.peers.first().map(|p| p.name.as_str()).unwrap_or_default();
    let _ = writeln!(
        t,
        "```\n\n3. {name}'s admin installs the contracts on its peers and approves the definitions already\n   committed, at their current sequence (see `cambium contract querycommitted`):\n\n```sh\ncambium contract install contracts/asset-transfer --profile profiles/{lower}.json --org {name} --peer {first}\ncambium contract approve --name basic --version 1.0 --sequence 1 --package-id PACKAGE_ID --profile profiles/{lower}.json --org {name} --peer {first}\n```\n\n{name}'s peers then endorse whenever a definition's policy asks for {name}, and its clients\nsubmit through them (`profiles/{lower}.json`, user `User1`).",
        name = a.name
    );
    t
}

/// The files and folders `generate` writes at the top of the output folder.
const GENERATED: [&str; 7] = [
    "README.md",
    "crypto-config.yaml",
    "crypto",
    "channel.yaml",
    "nodes",
    "profiles",
    "connection-profile.json",
];

fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    if !out.exists() {
        return std::fs::create_dir_all(out).map_err(|e| NodeError::io("creating", out, e));
    }
    if !out.is_dir() {
        return Err(NodeError::data_dir(
            out,
            "is a file; pass a folder (new or empty) to --out",
        ));
    }
    let mut entries = std::fs::read_dir(out)
        .map_err(|e| NodeError::io("reading", out, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect::<Vec<_>>();
    if entries.is_empty() {
        return Ok(());
    }
    if !force {
        entries.sort();
        return Err(NodeError::data_dir(
            out,
            format!(
                "is not empty (it holds {}); pass an empty or new --out, or --force to replace a generated network (its keys and every node's data)",
                entries
                    .iter()
                    .take(3)
                    .map(|e| e.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // Only what a previous run wrote goes; anything else in the folder stays.
    for name in GENERATED.iter().copied().chain(["connection-profile.yaml"]) {
        let path = out.join(name);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else if path.exists() {
            std::fs::remove_file(&path)
        } else {
            Ok(())
        };
        removed.map_err(|e| NodeError::io("removing", &path, e))?;
    }
    for entry in std::fs::read_dir(out).map_err(|e| NodeError::io("reading", out, e))? {
        let path = entry.map_err(|e| NodeError::io("reading", out, e))?.path();
        if path.extension().is_some_and(|x| x == "block") {
            std::fs::remove_file(&path).map_err(|e| NodeError::io("removing", &path, e))?;
        }
    }
    Ok(())
}

/// Ports by node: orderers first, then peers.
struct PortPlan {
    base: u16,
    orderers: u16,
}

impl PortPlan {
    fn new(options: &GenerateOptions) -> PortPlan {
        // `check` bounded every port below 65536, so these fit.
        PortPlan {
            base: options.base_port,
            orderers: options.orderers as u16,
        }
    }

    /// Orderer `i`'s gRPC, admin and operations ports.
    fn orderer(&self, i: usize) -> (u16, u16, u16) {
        let p = self.base + 3 * i as u16;
        (p, p + 1, p + 2)
    }

    /// Peer `i`'s (counted over all organisations) gRPC and operations ports.
    fn peer(&self, i: usize) -> (u16, u16) {
        let p = self.base + 3 * self.orderers + 2 * i as u16;
        (p, p + 1)
    }
}

/// What nodes bind: loopback when the network is on loopback, else every interface.
fn listen_host(host: &str) -> &'static str {
    if host == "127.0.0.1" || host == "localhost" {
        "127.0.0.1"
    } else {
        "0.0.0.0"
    }
}

fn is_loopback(host: &str) -> bool {
    listen_host(host) == "127.0.0.1"
}

fn crypto_config_yaml(options: &GenerateOptions) -> String {
    let sans = if is_loopback(&options.host) {
        String::new()
    } else {
        format!("      SANS:\n        - \"{}\"\n", options.host)
    };
    let mut text = String::from(
        "# Generated by `cambium network generate`; the input of `cambium crypto generate`.\n",
    );
    let _ = write!(
        text,
        "OrdererOrgs:\n  - Name: Orderer\n    Domain: example.com\n    EnableNodeOUs: true\n    Template:\n      Count: {}\n{sans}",
        options.orderers
    );
    text.push_str("PeerOrgs:\n");
    for i in 1..=options.orgs {
        let _ = write!(
            text,
            "  - Name: Org{i}\n    Domain: org{i}.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: {}\n{sans}    Users:\n      Count: {USERS_PER_ORG}\n",
            options.peers_per_org
        );
    }
    text
}

fn channel_yaml(
    options: &GenerateOptions,
    crypto: &GeneratedNetwork,
    root: &Path,
    ports: &PortPlan,
) -> Result<String> {
    let host = &options.host;
    let rel = |p: &Path| relative(root, p).display().to_string();
    let orderer_org = crypto
        .orderer_orgs()
        .next()
        .ok_or_else(|| NodeError::Rejected("no orderer organisation".into()))?;
    let orderer_addresses: Vec<String> = (0..orderer_org.nodes.len())
        .map(|i| format!("{host}:{}", ports.orderer(i).0))
        .collect();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Generated by `cambium network generate`: the channel in configtx form. Paths are\n# relative to this file. Edit it and run `cambium channel update --config {CHANNEL_YAML}` to\n# change the running channel (add an organisation, change batch settings or policies).\nChannelID: {}\n",
        options.channel
    );
    t.push_str("Organizations:\n");
    let _ = writeln!(
        t,
        "  - &{id}\n    Name: {id}\n    ID: {id}\n    MSPDir: {}\n    Policies:\n      Readers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}\n      Writers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}\n      Admins: {{ Type: Signature, Rule: \"OR('{id}.admin')\" }}\n    OrdererEndpoints:",
        rel(&orderer_org.msp_dir),
        id = orderer_org.msp_id
    );
    for a in &orderer_addresses {
        let _ = writeln!(t, "      - {a}");
    }
    let mut peer_index = 0;
    for org in crypto.peer_orgs() {
        let (anchor_port, _) = ports.peer(peer_index);
        peer_index += org.nodes.len();
        let _ = writeln!(
            t,
            "  - &{}\n{}",
            org.msp_id,
            peer_org_yaml(&org.msp_id, &rel(&org.msp_dir), host, anchor_port, "    ")
        );
    }
    let implicit = |name: &str, rule: &str| {
        format!("    {name}: {{ Type: ImplicitMeta, Rule: \"{rule}\" }}\n")
    };
    t.push_str("\nCapabilities:\n  Channel: &ChannelCapabilities\n    V2_0: true\n  Orderer: &OrdererCapabilities\n    V2_0: true\n  Application: &ApplicationCapabilities\n    V2_5: true\n\n");
    t.push_str("Application: &ApplicationDefaults\n  Organizations:\n  Policies:\n");
    for (name, rule) in [
        ("Readers", "ANY Readers"),
        ("Writers", "ANY Writers"),
        ("Admins", "MAJORITY Admins"),
        ("LifecycleEndorsement", "MAJORITY Endorsement"),
        ("Endorsement", "MAJORITY Endorsement"),
        ("RolloutPromote", "MAJORITY Endorsement"),
        ("RolloutAbort", "ANY Admins"),
    ] {
        t.push_str(&implicit(name, rule));
    }
    t.push_str("  Capabilities: *ApplicationCapabilities\n\n");
    t.push_str("Orderer: &OrdererDefaults\n  OrdererType: etcdraft\n  Addresses:\n");
    for a in &orderer_addresses {
        let _ = writeln!(t, "    - {a}");
    }
    t.push_str("  EtcdRaft:\n    Consenters:\n");
    for (i, node) in orderer_org.nodes.iter().enumerate() {
        let cert = rel(&node.tls_cert);
        let _ = writeln!(
            t,
            "      - Host: {host}\n        Port: {}\n        ClientTLSCert: {cert}\n        ServerTLSCert: {cert}",
            ports.orderer(i).0
        );
    }
    let _ = writeln!(
        t,
        "  BatchTimeout: {}ms\n  BatchSize:\n    MaxMessageCount: 100\n    AbsoluteMaxBytes: 99 MB\n    PreferredMaxBytes: 2 MB\n  Organizations:\n  Policies:",
        options.batch_timeout.as_millis()
    );
    for (name, rule) in [
        ("Readers", "ANY Readers"),
        ("Writers", "ANY Writers"),
        ("Admins", "MAJORITY Admins"),
        ("BlockValidation", "ANY Writers"),
    ] {
        t.push_str(&implicit(name, rule));
    }
    t.push_str("\nChannel: &ChannelDefaults\n  Policies:\n");
    for (name, rule) in [
        ("Readers", "ANY Readers"),
        ("Writers", "ANY Writers"),
        ("Admins", "MAJORITY Admins"),
    ] {
        t.push_str(&implicit(name, rule));
    }
    t.push_str("  Capabilities: *ChannelCapabilities\n\nProfiles:\n  Generated:\n    <<: *ChannelDefaults\n    Orderer:\n      <<: *OrdererDefaults\n      Organizations:\n");
    let _ = writeln!(t, "        - *{}", orderer_org.msp_id);
    t.push_str("      Capabilities: *OrdererCapabilities\n    Application:\n      <<: *ApplicationDefaults\n      Organizations:\n");
    for org in crypto.peer_orgs() {
        let _ = writeln!(t, "        - *{}", org.msp_id);
    }
    t.push_str("      Capabilities: *ApplicationCapabilities\n");
    Ok(t)
}

/// A peer organisation in configtx form (without the list dash), each line indented by
/// `indent`: its MSP, the policies of Fabric's samples and one anchor peer.
fn peer_org_yaml(id: &str, msp_dir: &str, host: &str, anchor_port: u16, indent: &str) -> String {
    let lines = [
        format!("Name: {id}"),
        format!("ID: {id}"),
        format!("MSPDir: {msp_dir}"),
        "Policies:".to_owned(),
        format!("  Readers: {{ Type: Signature, Rule: \"OR('{id}.admin', '{id}.peer', '{id}.client')\" }}"),
        format!("  Writers: {{ Type: Signature, Rule: \"OR('{id}.admin', '{id}.client')\" }}"),
        format!("  Admins: {{ Type: Signature, Rule: \"OR('{id}.admin')\" }}"),
        format!("  Endorsement: {{ Type: Signature, Rule: \"OR('{id}.peer')\" }}"),
        "AnchorPeers:".to_owned(),
        format!("  - Host: {host}"),
        format!("    Port: {anchor_port}"),
    ];
    lines
        .iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A connection profile: every organisation's peers, and the client keys of `only` (or of
/// every organisation when `None`).
fn profile(
    options: &GenerateOptions,
    orderer_org: &GeneratedOrg,
    peer_orgs: &[&GeneratedOrg],
    orderers: &[NodePlan],
    peers: &[NodePlan],
    only: Option<&str>,
) -> Result<ConnectionProfile> {
    let mut profile_orderers = BTreeMap::new();
    for o in orderers {
        profile_orderers.insert(
            o.name.clone(),
            node_entry_at("grpcs", &o.address, &o.name, &orderer_org.tls_ca.cert)?,
        );
    }
    let mut profile_peers = BTreeMap::new();
    let mut organizations = BTreeMap::new();
    let mut clients = BTreeMap::new();
    let mut channel = ChannelSection {
        orderers: profile_orderers.keys().cloned().collect(),
        peers: BTreeMap::new(),
    };
    for org in peer_orgs {
        let org_peers: Vec<&NodePlan> = peers.iter().filter(|p| p.msp_id == org.msp_id).collect();
        let mine = only.is_none_or(|name| name == org.name);
        for p in &org_peers {
            profile_peers.insert(
                p.name.clone(),
                node_entry_at("grpcs", &p.address, &p.name, &org.tls_ca.cert)?,
            );
            channel.peers.insert(
                p.name.clone(),
                PeerRoles {
                    endorsing_peer: true,
                    chaincode_query: true,
                    ledger_query: true,
                    event_source: true,
                },
            );
        }
        // An organisation's own profile lists only itself: tools such as `contract deploy`
        // act for every organisation a profile lists, and only this one's keys are in it.
        if !mine {
            continue;
        }
        organizations.insert(
            org.name.clone(),
            Organization::generated(org, org_peers.iter().map(|p| p.name.clone()).collect()),
        );
        clients.insert(org.name.clone(), org_clients(org));
    }
    Ok(ConnectionProfile {
        name: match only {
            Some(org) => format!("cambium-{}-{}", options.channel, org.to_lowercase()),
            None => format!("cambium-{}", options.channel),
        },
        version: "1.0.0".to_owned(),
        client: ClientSection {
            organization: only
                .map(str::to_owned)
                .or_else(|| peer_orgs.first().map(|o| o.name.clone()))
                .unwrap_or_default(),
        },
        channels: BTreeMap::from([(options.channel.clone(), channel)]),
        organizations,
        orderers: profile_orderers,
        peers: profile_peers,
        certificate_authorities: BTreeMap::new(),
        clients,
    })
}

fn write_profile(profile: &ConnectionProfile, base: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(profile)
        .map_err(|e| NodeError::Rejected(format!("encoding the profile: {e}")))?;
    write(&base.with_extension("json"), json.as_bytes())?;
    let yaml = serde_norway::to_string(profile)
        .map_err(|e| NodeError::Rejected(format!("encoding the profile: {e}")))?;
    write(&base.with_extension("yaml"), yaml.as_bytes())
}

/// `orderer.yaml` as `cambium orderer start --config` reads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrdererFile {
    listen_address: String,
    advertised_address: String,
    admin_listen_address: String,
    data_dir: PathBuf,
    msp: MspFile,
    tls: OrdererTlsFile,
    operations: OpsFile,
}

/// The `operations` section: plain HTTP, as Fabric's default.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpsFile {
    listen_address: String,
}

#[derive(Serialize)]
struct MspFile {
    dir: PathBuf,
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrdererTlsFile {
    enabled: bool,
    cert: PathBuf,
    key: PathBuf,
    #[serde(rename = "rootCAs")]
    root_cas: Vec<PathBuf>,
    client_auth_required: bool,
}

fn with_header(yaml: &str, name: &str) -> String {
    format!(
        "# {name}: generated by `cambium network generate`. Paths are relative to this file.\n{yaml}"
    )
}

/// `target` relative to the folder `from` (both absolute, under one root).
fn relative(from: &Path, target: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::network::write(path, bytes)
}

fn readme(options: &GenerateOptions, d: &GeneratedDeployment) -> String {
    let rel = |p: &Path| relative(&d.root, p).display().to_string();
    let block = rel(&d.genesis_block);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Cambium network: channel `{}`\n\nGenerated by `cambium network generate --orgs {} --peers-per-org {} --orderers {} --base-port {} --host {}`.\nRun every command from this folder. Each node is its own process; on separate hosts, copy\n`crypto/`, `{block}` and the node's folder under `nodes/` to the host (the configurations use\nrelative paths).\n",
        d.channel, options.orgs, options.peers_per_org, options.orderers, options.base_port, options.host
    );
    t.push_str("## 1. Orderers\n\nStart each orderer (one terminal or service each):\n\n```sh\n");
    for o in &d.orderers {
        let _ = writeln!(t, "cambium orderer start --config {}", rel(&o.config));
    }
    t.push_str("```\n\nJoin each one to the channel through its channel participation API (plain HTTP, bound to\nloopback on the orderer's host, so run it there), as `osnadmin channel join` does; `cambium orderer\nchannel list -o ADDRESS` shows each channel's height and Raft leader:\n\n```sh\n");
    for o in &d.orderers {
        let _ = writeln!(
            t,
            "cambium orderer channel join -o {} -b {block}",
            o.aux_address
        );
    }
    t.push_str("```\n\n## 2. Peers\n\nJoin each peer to the channel (offline, from the genesis block), then start it; it pulls\nthe channel's blocks from the orderers:\n\n```sh\n");
    for p in &d.peers {
        let _ = writeln!(
            t,
            "cambium peer channel join --block {block} --config {}",
            rel(&p.config)
        );
    }
    for p in &d.peers {
        let _ = writeln!(t, "cambium peer start --config {}", rel(&p.config));
    }
    t.push_str("```\n\n## Nodes\n\n| node | MSP | gRPC | other ports |\n|---|---|---|---|\n");
    for o in &d.orderers {
        let _ = writeln!(
            t,
            "| {} | {} | {} | admin API {}, operations http://{} |",
            o.name,
            o.msp_id,
            o.address,
            o.aux_address,
            o.operations_address.as_deref().unwrap_or("-")
        );
    }
    for p in &d.peers {
        let _ = writeln!(
            t,
            "| {} | {} | {} | operations http://{} (`/healthz`, `/metrics`, `/version`, `/logspec`) |",
            p.name, p.msp_id, p.address, p.aux_address
        );
    }
    t.push_str("\nPrometheus scrapes every operations endpoint with `prometheus --config.file=prometheus.yml`\n(run in this folder); Cambium's Grafana dashboard (`deploy/grafana/cambium.json` in its repository)\nreads that Prometheus. `cambium network add-org` adds the new peers to it.\n");
    t.push_str("\n## 3. Contracts and load\n\nEach organisation's profile holds only its own keys: `profiles/<org>.json`.\n`connection-profile.json` holds every organisation's keys, for an operator who runs them all:\n\n```sh\ncambium contract deploy contracts/asset-transfer --name basic --profile connection-profile.json\ncambium bench gateway --profile connection-profile.json --duration 10\n```\n\n");
    t.push_str("## 4. Channel changes\n\nEdit `channel.yaml` (change `BatchTimeout`, a policy, an MSP's CRLs) and submit it with the\nsignatures of a MAJORITY of the organisations' admins (to add an organisation, see\n`cambium network add-org --dir . --name Org3`, which appends its steps below):\n\n```sh\n");
    let signers: Vec<String> = d
        .org_profiles
        .keys()
        .take((options.orgs / 2 + 1) as usize)
        .map(|org| {
            let domain = format!("{}.example.com", org.to_lowercase());
            format!("--signer {org}MSP=crypto/peerOrganizations/{domain}/users/Admin@{domain}/msp")
        })
        .collect();
    let first = &d.orderers[0];
    let _ = writeln!(
        t,
        "cambium channel update --channel {} --orderer {} --tls-ca crypto/ordererOrganizations/example.com/msp/tlscacerts --config {CHANNEL_YAML} {}\n```",
        d.channel,
        first.address,
        signers.join(" ")
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path) -> GenerateOptions {
        GenerateOptions {
            orgs: 2,
            peers_per_org: 2,
            orderers: 3,
            out: dir.join("net"),
            base_port: 30000,
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn generates_configs_the_nodes_read_and_a_matching_channel() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = options(tmp.path());
        let mut steps = Vec::new();
        let d = generate(&opts, &mut |s| steps.push(s.to_owned())).unwrap();
        assert!(steps.len() >= 5, "{steps:?}");
        assert_eq!(d.orderers.len(), 3);
        assert_eq!(d.peers.len(), 4);
        assert_eq!(d.orderers[0].address, "127.0.0.1:30000");
        assert_eq!(d.orderers[2].aux_address, "127.0.0.1:30007");
        assert_eq!(
            d.orderers[2].operations_address.as_deref(),
            Some("127.0.0.1:30008")
        );
        assert_eq!(d.peers[0].name, "peer0.org1.example.com");
        assert_eq!(d.peers[0].address, "127.0.0.1:30009");
        assert_eq!(d.peers[3].name, "peer1.org2.example.com");
        assert_eq!(d.peers[3].aux_address, "127.0.0.1:30016");

        // The configurations load with the nodes' own parsers, and their files exist.
        for o in &d.orderers {
            let c = cambium_orderer::OrdererConfig::load(&o.config).unwrap();
            assert_eq!(c.advertised_address.as_deref(), Some(o.address.as_str()));
            assert!(
                c.msp.dir.join("signcerts").is_dir(),
                "{}",
                c.msp.dir.display()
            );
            assert!(c.tls.load().unwrap().is_some());
            assert_eq!(c.data_dir, o.config.parent().unwrap().join("data"));
            assert_eq!(
                Some(c.operations.unwrap().listen_address),
                o.operations_address.clone()
            );
        }
        for p in &d.peers {
            let c = PeerConfig::load(&p.config).unwrap();
            assert!(c.msp.dir.join("keystore").is_dir());
            assert!(c.tls.cert.as_ref().unwrap().is_file());
            assert_eq!(c.tls.client_root_cas.len(), 3);
            assert_eq!(c.operations.unwrap().listen_address, p.aux_address);
        }

        // The channel: Raft consenters at the orderers' addresses, anchor peers per org.
        let config =
            ChannelConfig::from_config_block(&std::fs::read(&d.genesis_block).unwrap()).unwrap();
        assert_eq!(config.channel_id(), "mychannel");
        let consenters: Vec<String> = config
            .consenters()
            .iter()
            .map(|c| format!("{}:{}", c.host, c.port))
            .collect();
        assert_eq!(
            consenters,
            ["127.0.0.1:30000", "127.0.0.1:30003", "127.0.0.1:30006"]
        );
        assert_eq!(config.application_orgs().len(), 2);
        assert_eq!(config.batch_timeout(), Duration::from_millis(250));

        // Profiles: the shared one acts for every org, each org's only for itself.
        let all = ConnectionProfile::load(&d.profile).unwrap();
        assert_eq!(all.organizations.len(), 2);
        assert_eq!(all.peers.len(), 4);
        assert_eq!(all.orderers.len(), 3);
        assert_eq!(
            all.signing_identity("Org2", "User2").unwrap().msp_id(),
            "Org2MSP"
        );
        let org2 = ConnectionProfile::load(&d.org_profiles["Org2"]).unwrap();
        assert_eq!(org2.organizations.keys().collect::<Vec<_>>(), ["Org2"]);
        assert_eq!(
            org2.peers.len(),
            4,
            "every peer is reachable for endorsement"
        );
        assert!(org2.signing_identity("Org1", "User1").is_err());
        assert!(d.root.join("profiles/org2.yaml").is_file());

        let readme = std::fs::read_to_string(&d.readme).unwrap();
        assert!(readme.contains(
            "cambium peer channel join --block mychannel.block --config nodes/peer1.org2.example.com/peer.yaml"
        ));
        assert!(readme
            .contains("cambium orderer start --config nodes/orderer0.example.com/orderer.yaml"));
        assert!(
            readme.contains("cambium orderer channel join -o 127.0.0.1:30001 -b mychannel.block")
        );
        assert!(readme.contains("prometheus --config.file=prometheus.yml"));

        // Prometheus scrapes every node's operations endpoint.
        assert_eq!(
            d.prometheus,
            d.root.join(crate::monitoring::PROMETHEUS_FILE)
        );
        let targets: Vec<String> = crate::monitoring::read_targets(&d.root)
            .unwrap()
            .into_iter()
            .map(|(_, _, address)| address)
            .collect();
        let mut expected: Vec<String> = d
            .orderers
            .iter()
            .map(|o| o.operations_address.clone().unwrap())
            .chain(d.peers.iter().map(|p| p.aux_address.clone()))
            .collect();
        expected.sort();
        let mut sorted = targets.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn a_non_empty_folder_needs_force_and_force_replaces_only_generated_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = options(tmp.path());
        opts.orderers = 1;
        opts.peers_per_org = 1;
        std::fs::create_dir_all(&opts.out).unwrap();
        std::fs::write(opts.out.join("notes.txt"), "mine").unwrap();
        let err = generate(&opts, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("is not empty (it holds notes.txt)"), "{err}");
        assert!(err.contains("--force"), "{err}");
        opts.force = true;
        let first = generate(&opts, &mut |_| {}).unwrap();
        let key = std::fs::read(&first.peers[0].config).unwrap();
        let second = generate(&opts, &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&second.peers[0].config).unwrap(), key);
        assert!(opts.out.join("notes.txt").is_file());
    }

    #[test]
    fn bad_values_name_the_flag() {
        let tmp = tempfile::tempdir().unwrap();
        let check_err = |change: &dyn Fn(&mut GenerateOptions), needle: &str| {
            let mut o = options(tmp.path());
            change(&mut o);
            let err = generate(&o, &mut |_| {}).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(!o.out.exists(), "nothing is written for a bad value");
        };
        check_err(&|o| o.orgs = 0, "--orgs 0 is out of range");
        check_err(&|o| o.peers_per_org = 0, "--peers-per-org 0");
        check_err(&|o| o.orderers = 0, "--orderers 0");
        check_err(
            &|o| o.base_port = 65530,
            "--base-port 65530 does not fit the 17 ports",
        );
        check_err(&|o| o.base_port = 80, "use a port from 1024");
        check_err(&|o| o.host = "a b".into(), "--host 'a b'");
        check_err(
            &|o| o.channel = "Bad_Channel".into(),
            "--channel 'Bad_Channel'",
        );
    }

    #[test]
    fn another_host_is_in_every_certificate_and_nodes_bind_all_interfaces() {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = options(tmp.path());
        opts.host = "10.1.2.3".into();
        opts.orderers = 1;
        opts.peers_per_org = 1;
        opts.orgs = 1;
        let d = generate(&opts, &mut |_| {}).unwrap();
        let peer = PeerConfig::load(&d.peers[0].config).unwrap();
        assert_eq!(peer.listen_address, "0.0.0.0:30003");
        assert_eq!(peer.external_address.as_deref(), Some("10.1.2.3:30003"));
        let pem = std::fs::read_to_string(peer.tls.cert.unwrap()).unwrap();
        let der = pem::parse(pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(der.contents()).unwrap();
        let sans = format!(
            "{:?}",
            cert.subject_alternative_name().unwrap().unwrap().value
        );
        assert!(
            sans.contains("10.1.2.3") || sans.contains("[10, 1, 2, 3]"),
            "{sans}"
        );
        let orderer = cambium_orderer::OrdererConfig::load(&d.orderers[0].config).unwrap();
        assert_eq!(orderer.admin_listen_address, "127.0.0.1:30001");
    }

    #[test]
    fn add_org_writes_a_new_org_beside_the_network_and_refuses_clashes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = options(tmp.path());
        opts.orderers = 1;
        opts.peers_per_org = 1;
        let d = generate(&opts, &mut |_| {}).unwrap();
        let org1_key = std::fs::read(d.root.join(
            "crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp/keystore/priv_sk",
        ))
        .unwrap();
        let add = |name: &str, base_port: Option<u16>| {
            add_org(
                &AddOrgOptions {
                    dir: opts.out.clone(),
                    name: name.to_owned(),
                    peers: 1,
                    base_port,
                },
                &mut |_| {},
            )
        };
        let node_configs = |nodes: &[NodePlan]| -> Vec<Vec<u8>> {
            nodes
                .iter()
                .map(|n| std::fs::read(&n.config).unwrap())
                .collect()
        };
        let before = (node_configs(&d.orderers), node_configs(&d.peers));
        let a = add("Org3", None).unwrap();
        assert_eq!(
            (a.msp_id.as_str(), a.channel.as_str()),
            ("Org3MSP", "mychannel")
        );
        // The ports after the network's: 3 for the orderer and 2 per peer from 30000.
        assert_eq!(a.peers[0].address, "127.0.0.1:30007");
        assert_eq!(a.peers[0].aux_address, "127.0.0.1:30008");
        let peer = PeerConfig::load(&a.peers[0].config).unwrap();
        assert_eq!(peer.msp.id, "Org3MSP");
        assert!(peer.msp.dir.join("keystore").is_dir());
        assert_eq!(peer.tls.client_root_cas.len(), 4);
        // The running nodes' configurations are untouched: they learn Org3's TLS CA from the
        // channel config, without a restart.
        assert_eq!((node_configs(&d.orderers), node_configs(&d.peers)), before);
        assert_eq!(
            a.signers,
            [
                "Org1MSP=crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp",
                "Org2MSP=crypto/peerOrganizations/org2.example.com/users/Admin@org2.example.com/msp"
            ]
        );
        // Existing material is untouched; the definition and channel.yaml name Org3.
        assert_eq!(
            std::fs::read(d.root.join(
                "crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp/keystore/priv_sk",
            ))
            .unwrap(),
            org1_key
        );
        let (name, org) = yaml::load_org(&a.org_file).unwrap();
        assert_eq!(name, "Org3MSP");
        assert_eq!(org.anchor_peers[0].port, 30007);
        assert!(a.channel_yaml_updated);
        let spec = yaml::load(&d.root.join(CHANNEL_YAML), &LoadOptions::default()).unwrap();
        assert_eq!(
            spec.application.organizations.keys().collect::<Vec<_>>(),
            ["Org1MSP", "Org2MSP", "Org3MSP"]
        );
        // Profiles: Org3's own, and its peer in everyone's.
        let own = ConnectionProfile::load(&a.profile).unwrap();
        assert_eq!(own.organizations.keys().collect::<Vec<_>>(), ["Org3"]);
        assert_eq!(
            own.signing_identity("Org3", "User1").unwrap().msp_id(),
            "Org3MSP"
        );
        assert_eq!(own.peers.len(), 3);
        let all = ConnectionProfile::load(&d.profile).unwrap();
        assert_eq!(all.organizations.len(), 3);
        // Prometheus scrapes Org3's peer too.
        assert_eq!(a.prometheus.as_deref(), Some(d.prometheus.as_path()));
        assert!(crate::monitoring::read_targets(&d.root)
            .unwrap()
            .contains(&(
                crate::monitoring::PEER_JOB.to_owned(),
                "peer0.org3.example.com".to_owned(),
                "127.0.0.1:30008".to_owned()
            )));
        let org1 = ConnectionProfile::load(&d.org_profiles["Org1"]).unwrap();
        assert!(org1.peers.contains_key("peer0.org3.example.com"));
        assert_eq!(org1.organizations.keys().collect::<Vec<_>>(), ["Org1"]);
        let readme = std::fs::read_to_string(&a.readme).unwrap();
        assert!(
            readme.contains("--add-org orgs/org3.yaml --signer Org1MSP="),
            "{readme}"
        );
        assert!(readme.contains(
            "cambium peer channel join --block mychannel.block --config nodes/peer0.org3.example.com/peer.yaml"
        ));

        // Clashes and bad input name the problem and the fix; nothing is written.
        let err = add("Org3", None).unwrap_err().to_string();
        assert!(
            err.contains("Org3MSP") && err.contains("pick another --name"),
            "{err}"
        );
        let err = add("Org2", None).unwrap_err().to_string();
        assert!(
            err.contains("organisation Org2 (Org2MSP) is already in"),
            "{err}"
        );
        let err = add("Org 4", None).unwrap_err().to_string();
        assert!(err.contains("--name 'Org 4'"), "{err}");
        let err = add("Org4", Some(30003)).unwrap_err().to_string();
        assert!(err.contains("port 30003 is already used"), "{err}");
        assert!(!d
            .root
            .join("crypto/peerOrganizations/org4.example.com")
            .exists());
        let err = add_org(
            &AddOrgOptions {
                dir: tmp.path().join("nowhere"),
                name: "Org4".into(),
                peers: 1,
                base_port: None,
            },
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("has no channel.yaml"), "{err}");
    }

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(
            relative(Path::new("/a/nodes/p"), Path::new("/a/crypto/x.pem")),
            Path::new("../../crypto/x.pem")
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a/b")), Path::new("b"));
    }
}
