//! `cambium network …`: generate a network whose nodes run as separate processes or on
//! separate hosts (`generate`), as opposed to `cambium up`'s single-process development network.

use std::path::PathBuf;

use anyhow::Context as _;
use cambium_node::generate::{self, GenerateOptions};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Write a network for separate node processes: crypto material (cryptogen layout), the
    /// channel's genesis block (every organisation with an anchor peer, K Raft consenters), one
    /// YAML per node for `cambium peer start` / `cambium orderer start`, connection profiles
    /// and a README with the commands that start each node and join it to the channel.
    Generate {
        /// Peer organisations (Org1 … OrgN).
        #[arg(long, default_value_t = 2)]
        orgs: u32,
        /// Peers per organisation.
        #[arg(long, default_value_t = 1)]
        peers_per_org: u32,
        /// Raft orderers (3 tolerate one failure, 5 two).
        #[arg(long, default_value_t = 3)]
        orderers: u32,
        /// The folder to write (new or empty; see --force).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The first port: three per orderer (gRPC, channel participation API, operations
        /// endpoint), then two per peer (gRPC, operations endpoint).
        #[arg(long, value_name = "PORT", default_value_t = 7050)]
        base_port: u16,
        /// The host name or IP address the nodes are reached at; it goes into every TLS
        /// certificate. Other than loopback, nodes listen on all interfaces.
        #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
        host: String,
        /// The channel.
        #[arg(long, value_name = "ID", default_value = "mychannel")]
        channel: String,
        /// How long orderers wait before cutting a block that is not full, e.g. `250ms`, `2s`.
        #[arg(long, value_name = "DURATION", default_value = "250ms")]
        batch_timeout: String,
        /// Replace a generated network in --out: new keys, and every node's data is deleted.
        #[arg(long)]
        force: bool,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a peer organisation to a folder `generate` wrote, as Fabric's cryptogen,
    /// `configtxgen -printOrg` and a compose file do: its crypto material, its definition
    /// (orgs/<name>.yaml, for `cambium channel update --add-org`), its peers' peer.yaml, its
    /// connection profile (and its peers in the others), and a README section with the
    /// commands. The running channel changes only with the update the README shows.
    AddOrg(super::network::AddOrgArgs),
}

pub(crate) fn run(command: NetworkCommand) -> anyhow::Result<()> {
    match command {
        NetworkCommand::AddOrg(args) => super::network::add_org(args),
        NetworkCommand::Generate {
            orgs,
            peers_per_org,
            orderers,
            out,
            base_port,
            host,
            channel,
            batch_timeout,
            force,
            json,
        } => {
            let batch_timeout = cambium_channel::duration::parse(&batch_timeout)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("--batch-timeout '{batch_timeout}'"))?;
            let options = GenerateOptions {
                orgs,
                peers_per_org,
                orderers,
                out,
                base_port,
                host,
                channel,
                batch_timeout,
                force,
            };
            let total = 7;
            let mut step = 0;
            let deployment = generate::generate(&options, &mut |what| {
                step += 1;
                eprintln!("[{step}/{total}] {what}");
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&deployment)?);
                return Ok(());
            }
            println!(
                "Generated channel '{}' in {}: {} orderer(s), {} peer(s)",
                deployment.channel,
                deployment.root.display(),
                deployment.orderers.len(),
                deployment.peers.len()
            );
            for node in deployment.orderers.iter().chain(&deployment.peers) {
                println!(
                    "  {:<28} {:<22} {}",
                    node.name,
                    node.address,
                    node.config.display()
                );
            }
            println!(
                "Prometheus scrape config: {}",
                deployment.prometheus.display()
            );
            println!(
                "Start the nodes and join them to the channel as {} describes.",
                deployment.readme.display()
            );
            Ok(())
        }
    }
}
