//! `cambium orderer …`: run a standalone orderer process, and manage the channels an orderer
//! serves through its channel participation API (like `osnadmin channel …`).

use std::path::PathBuf;

use anyhow::Context as _;
use cambium_orderer::admin::{ChannelStatus, Participation};
use cambium_orderer::cambium_ops::{init_logging, LogFormat};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum OrdererCommand {
    /// Run an orderer: AtomicBroadcast and the Raft transport on `listenAddress`, channel
    /// participation (join/list/remove, like osnadmin) on `adminListenAddress`, and the
    /// operations endpoint (/healthz, /metrics, /version, /logspec) when `operations` is
    /// configured. Stops on Ctrl-C or SIGTERM.
    Start {
        /// The orderer YAML (listen addresses, data dir, MSP, TLS, operations).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log lines as `human` text or `json` objects.
        #[arg(long, value_name = "FORMAT", default_value = "human")]
        log_format: LogFormat,
        /// The initial log filter (`RUST_LOG` syntax; default: `$RUST_LOG`, else `info`);
        /// `/logspec` changes it at runtime.
        #[arg(long, value_name = "SPEC")]
        log_spec: Option<String>,
    },
    /// The channels an orderer serves, through its channel participation API (plain HTTP on
    /// its `adminListenAddress`), like `osnadmin channel list|join|remove`.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// List the channels the orderer serves, or one channel's status and height.
    List {
        #[command(flatten)]
        target: AdminTarget,
        /// Show only this channel, with its Raft IDs.
        #[arg(long, short = 'c', value_name = "NAME")]
        channel_id: Option<String>,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Join the orderer to a channel from the channel's genesis block: the orderer must be one
    /// of its consenters, and it then catches up from the others.
    Join {
        #[command(flatten)]
        target: AdminTarget,
        /// The channel's genesis block, e.g. from `cambium channel genesis`.
        #[arg(long, short = 'b', value_name = "FILE")]
        config_block: PathBuf,
        /// Print the API's JSON instead of a line.
        #[arg(long)]
        json: bool,
    },
    /// Remove a channel and its blocks from the orderer (the other consenters keep serving it).
    Remove {
        #[command(flatten)]
        target: AdminTarget,
        /// The channel to remove.
        #[arg(long, short = 'c', value_name = "NAME")]
        channel_id: String,
    },
}

/// Which orderer's channel participation API to call.
#[derive(Debug, clap::Args)]
pub(crate) struct AdminTarget {
    /// The orderer's `adminListenAddress`, HOST:PORT (default: the orderer of the `cambium up`
    /// network in --data-dir).
    #[arg(long, short = 'o', value_name = "HOST:PORT")]
    orderer_address: Option<String>,
    /// The `cambium up` data directory whose orderer to call when -o is not given.
    #[arg(long, default_value = "cambium-data")]
    data_dir: PathBuf,
}

impl AdminTarget {
    fn client(&self) -> anyhow::Result<Participation> {
        if let Some(address) = &self.orderer_address {
            cambium_orderer::cambium_ops::client::authority(&format!("http://{address}"))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "-o {address}: write the orderer's adminListenAddress as HOST:PORT, e.g. 127.0.0.1:7053"
                    )
                })?;
            return Ok(Participation::new(address.clone()));
        }
        let network = cambium_node::Network::open(&self.data_dir).with_context(|| {
            "no orderer to call: pass -o HOST:PORT (its adminListenAddress), or --data-dir of a `cambium up` network"
        })?;
        Ok(Participation::new(format!(
            "127.0.0.1:{}",
            network.state.ports.admin
        )))
    }
}

/// The table `cambium orderer channel list` prints.
fn channel_table(channels: &[ChannelStatus]) -> String {
    let mut out = format!(
        "{:<24} {:<8} {:<10} {:>8}  {:>9}  {:>6}\n",
        "channel", "status", "relation", "height", "raft id", "leader"
    );
    for c in channels {
        let id = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        out.push_str(&format!(
            "{:<24} {:<8} {:<10} {:>8}  {:>9}  {:>6}\n",
            c.name,
            c.status,
            c.consensus_relation,
            c.height,
            id(c.consenter_id),
            id(c.leader)
        ));
    }
    out
}

fn channel(command: ChannelCommand) -> anyhow::Result<()> {
    let runtime = super::network::runtime()?;
    match command {
        ChannelCommand::List {
            target,
            channel_id,
            json,
        } => {
            let client = target.client()?;
            runtime.block_on(async {
                // `--json` prints what the API answered: the list, or the one channel's status.
                let statuses = match &channel_id {
                    Some(name) => {
                        let status = client.status(name).await.map_err(anyhow::Error::msg)?;
                        if json {
                            println!("{}", serde_json::to_string_pretty(&status)?);
                            return Ok(());
                        }
                        vec![status]
                    }
                    None => {
                        let list = client.list().await.map_err(anyhow::Error::msg)?;
                        if json {
                            println!("{}", serde_json::to_string_pretty(&list)?);
                            return Ok(());
                        }
                        let mut statuses = Vec::with_capacity(list.channels.len());
                        for c in &list.channels {
                            statuses
                                .push(client.status(&c.name).await.map_err(anyhow::Error::msg)?);
                        }
                        statuses
                    }
                };
                if statuses.is_empty() {
                    println!(
                        "the orderer at {} serves no channel; join one with `cambium orderer channel join -b BLOCK`",
                        client.address()
                    );
                } else {
                    print!("{}", channel_table(&statuses));
                }
                Ok(())
            })
        }
        ChannelCommand::Join {
            target,
            config_block,
            json,
        } => {
            let client = target.client()?;
            let block = std::fs::read(&config_block)
                .with_context(|| format!("reading the config block {}", config_block.display()))?;
            let status = runtime
                .block_on(client.join(block))
                .map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!(
                    "joined {} on {}: {} {}, height {}",
                    status.name,
                    client.address(),
                    status.status,
                    status.consensus_relation,
                    status.height
                );
            }
            Ok(())
        }
        ChannelCommand::Remove { target, channel_id } => {
            let client = target.client()?;
            runtime
                .block_on(client.remove(&channel_id))
                .map_err(anyhow::Error::msg)?;
            println!("removed {channel_id} from {}", client.address());
            Ok(())
        }
    }
}

pub(crate) fn run(command: OrdererCommand) -> anyhow::Result<()> {
    match command {
        OrdererCommand::Channel(command) => channel(command),
        OrdererCommand::Start {
            config,
            log_format,
            log_spec,
        } => {
            let spec = log_spec
                .or_else(|| {
                    std::env::var("RUST_LOG")
                        .ok()
                        .filter(|s| !s.trim().is_empty())
                })
                .unwrap_or_else(|| "info".to_owned());
            let log = init_logging(log_format, &spec)?;
            let parsed = cambium_orderer::OrdererConfig::load(&config)
                .with_context(|| format!("loading {}", config.display()))?;
            cambium_orderer::config::run_blocking(parsed, Some(log)).context("running the orderer")
        }
    }
}
