//! How commands that act on a running network find it: `--data-dir` (the default of
//! `cambium up`) or `--profile` (any Fabric connection profile); and `cambium network
//! add-org`, which adds an organisation to a generated network folder.

use std::path::{Path, PathBuf};

use anyhow::bail;
use cambium_node::generate::{self, AddOrgOptions};
use cambium_node::invoke::AppUser;
use cambium_node::monitoring;
use cambium_node::network::PROFILE_JSON;
use cambium_node::ConnectionProfile;
use clap::Args;

/// Flags of `cambium network add-org`.
#[derive(Debug, Args)]
pub(crate) struct AddOrgArgs {
    /// The folder `cambium network generate --out` wrote.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The new organisation, e.g. Org3 (MSP ID Org3MSP, domain org3.example.com).
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Its peers.
    #[arg(long, default_value_t = 1)]
    peers: u32,
    /// Its first port (two per peer: gRPC, operations); default: the one after the highest
    /// port the folder's nodes use.
    #[arg(long, value_name = "PORT")]
    base_port: Option<u16>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// `cambium network add-org`.
pub(crate) fn add_org(args: AddOrgArgs) -> anyhow::Result<()> {
    let options = AddOrgOptions {
        dir: args.dir,
        name: args.name,
        peers: args.peers,
        base_port: args.base_port,
    };
    let total = 5;
    let mut step = 0;
    let added = generate::add_org(&options, &mut |what| {
        step += 1;
        eprintln!("[{step}/{total}] {what}");
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&added)?);
        return Ok(());
    }
    println!(
        "Added {} ({}) to {}: {} peer(s), definition {}",
        added.name,
        added.msp_id,
        added.root.display(),
        added.peers.len(),
        added.org_file.display()
    );
    for node in &added.peers {
        println!(
            "  {:<28} {:<22} {}",
            node.name,
            node.address,
            node.config.display()
        );
    }
    if !added.channel_yaml_updated {
        println!(
            "channel.yaml was edited by hand, so {} was not added to it; add it as in {}",
            added.msp_id,
            added.org_file.display()
        );
    }
    println!(
        "The channel does not include {} yet: submit the update signed by a MAJORITY of its admins as {} describes.",
        added.msp_id,
        added.readme.display()
    );
    Ok(())
}

use super::up::DEFAULT_DATA_DIR;

#[derive(Debug, Clone, Args)]
pub(crate) struct NetworkArgs {
    /// The data directory of a network started with `cambium up`.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// A Fabric connection profile (JSON or YAML) to use instead of --data-dir.
    #[arg(long, value_name = "CCP")]
    pub(crate) profile: Option<PathBuf>,
}

/// Which network, peer and client identity act: an application user's flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
    /// The client's organisation (`Org1`, `Org2`, or an MSP ID).
    #[arg(long, default_value = "Org1")]
    pub(crate) org: String,
    /// The client identity of that organisation (`User1`, `Admin`, …).
    #[arg(long, default_value = "User1")]
    pub(crate) user: String,
    /// The peer to talk to (default: the organisation's first peer).
    #[arg(long)]
    pub(crate) peer: Option<String>,
    /// The channel (default: the profile's).
    #[arg(long)]
    pub(crate) channel: Option<String>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Which peers to ask, and as whom: every peer of the network, each by its own organisation's
/// client (channel and peer queries check the asker's organisation), or only `--peer`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PeersArgs {
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
    /// Ask only this peer (default: every peer of the profile).
    #[arg(long)]
    pub(crate) peer: Option<String>,
    /// The client identity each organisation asks with.
    #[arg(long, default_value = "User1")]
    pub(crate) user: String,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

impl PeersArgs {
    /// The profile, and the peers to ask with their organisations' keys, in profile order.
    pub(crate) fn targets(&self) -> anyhow::Result<(ConnectionProfile, Vec<(String, String)>)> {
        let profile = self.network.load()?;
        let targets = match &self.peer {
            Some(p) => vec![(
                cambium_node::chaininfo::org_of_peer(&profile, p)?.to_owned(),
                p.clone(),
            )],
            None => profile
                .organizations
                .iter()
                .flat_map(|(org, o)| o.peers.iter().map(move |p| (org.clone(), p.clone())))
                .collect(),
        };
        Ok((profile, targets))
    }
}

impl ClientArgs {
    /// The profile, and the user with its peer.
    pub(crate) fn user(&self) -> anyhow::Result<(ConnectionProfile, AppUser)> {
        let profile = self.network.load()?;
        let user = AppUser::load(
            &profile,
            &self.org,
            &self.user,
            self.peer.as_deref(),
            self.channel.as_deref(),
        )?;
        Ok((profile, user))
    }
}

impl NetworkArgs {
    /// The connection profile these flags point at.
    pub(crate) fn load(&self) -> anyhow::Result<ConnectionProfile> {
        if let Some(path) = &self.profile {
            return Ok(ConnectionProfile::load(path)?);
        }
        let dir = &self.data_dir;
        if !dir.is_dir() {
            bail!(
                "no network in {}: the folder does not exist; start one with `cambium up --data-dir {}` or pass --profile CCP",
                dir.display(),
                dir.display()
            );
        }
        let path = dir.join(PROFILE_JSON);
        if !path.is_file() {
            bail!(
                "no network in {}: it has no {PROFILE_JSON}; start one with `cambium up --data-dir {}` or pass --profile CCP",
                dir.display(),
                dir.display()
            );
        }
        Ok(ConnectionProfile::load(&path)?)
    }

    /// The peers' operations endpoints: those of the `cambium up` network in `--data-dir`, or
    /// with `--profile` the peer targets of the `prometheus.yml` beside it (as `network
    /// generate` writes them); none when there is no such file, so `--metrics` must name them.
    pub(crate) fn operations_urls(&self) -> anyhow::Result<Vec<String>> {
        let Some(profile) = &self.profile else {
            let network = cambium_node::Network::open(&self.data_dir)?;
            return Ok(network.peer_operations_urls());
        };
        let dir = profile.parent().unwrap_or(Path::new("."));
        if !dir.join(monitoring::PROMETHEUS_FILE).is_file() {
            return Ok(Vec::new());
        }
        Ok(monitoring::read_targets(dir)?
            .into_iter()
            .filter(|(job, _, _)| job == monitoring::PEER_JOB)
            .map(|(_, _, address)| format!("http://{address}"))
            .collect())
    }
}

/// A multi-threaded runtime for the network commands.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_networks_profile_finds_the_peers_operations_endpoints_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net");
        let options = generate::GenerateOptions {
            out: out.clone(),
            base_port: 31000,
            ..generate::GenerateOptions::default()
        };
        let d = generate::generate(&options, &mut |_| {}).unwrap();
        let args = NetworkArgs {
            data_dir: tmp.path().join("unused"),
            profile: Some(d.profile.clone()),
        };
        let expected: Vec<String> = d
            .peers
            .iter()
            .map(|p| format!("http://{}", p.aux_address))
            .collect();
        assert_eq!(args.operations_urls().unwrap(), expected);
        // A profile elsewhere (an organisation's own, under profiles/) has no file beside it.
        let args = NetworkArgs {
            data_dir: tmp.path().join("unused"),
            profile: Some(d.org_profiles["Org1"].clone()),
        };
        assert!(args.operations_urls().unwrap().is_empty());
    }
}
