//! `cambium orderer …`: run a standalone orderer process.

use std::path::PathBuf;

use anyhow::Context as _;
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
}

pub(crate) fn run(command: OrdererCommand) -> anyhow::Result<()> {
    match command {
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
