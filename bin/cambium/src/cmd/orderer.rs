//! `cambium orderer …`: run a standalone orderer process.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum OrdererCommand {
    /// Run an orderer: AtomicBroadcast and the Raft transport on `listenAddress`, channel
    /// participation (join/list/remove, like osnadmin) on `adminListenAddress`. Stops on
    /// Ctrl-C or SIGTERM.
    Start {
        /// The orderer YAML (listen addresses, data dir, MSP, TLS).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

pub(crate) fn run(command: OrdererCommand) -> anyhow::Result<()> {
    match command {
        OrdererCommand::Start { config } => {
            let parsed = cambium_orderer::OrdererConfig::load(&config)
                .with_context(|| format!("loading {}", config.display()))?;
            cambium_orderer::config::run_blocking(parsed).context("running the orderer")
        }
    }
}
