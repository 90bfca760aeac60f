//! `cambium bench …`: measure Cambium's own components on this machine.

use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Ordering: in-process orderers on loopback, concurrent broadcasters of signed envelopes;
    /// prints throughput and Broadcast→commit latency percentiles.
    Ordering {
        /// Orderers in the Raft group; several values run one after another.
        #[arg(long, value_delimiter = ',', default_value = "1,3")]
        nodes: Vec<usize>,
        /// Concurrent broadcasters.
        #[arg(long, default_value_t = 16)]
        broadcasters: usize,
        /// Envelopes each broadcaster sends.
        #[arg(long, default_value_t = 500)]
        envelopes: usize,
        /// Envelope payload size in bytes.
        #[arg(long, default_value_t = 1024)]
        size: usize,
        /// Envelopes in flight per broadcaster.
        #[arg(long, default_value_t = 32)]
        window: usize,
        /// Batch timeout in milliseconds.
        #[arg(long, default_value_t = 5)]
        batch_timeout_ms: u64,
        /// Print one JSON object per run instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ordering {
            nodes,
            broadcasters,
            envelopes,
            size,
            window,
            batch_timeout_ms,
            json,
        } => {
            let runtime = tokio_runtime()?;
            if !json {
                println!("nodes  envelopes  failed  blocks  throughput/s  p50 ms  p90 ms  p99 ms");
            }
            for n in nodes {
                let options = cambium_orderer::loadgen::LoadOptions {
                    nodes: n,
                    broadcasters,
                    envelopes_per_broadcaster: envelopes,
                    envelope_size: size,
                    window,
                    batch_timeout: Duration::from_millis(batch_timeout_ms),
                    ..Default::default()
                };
                let report = runtime
                    .block_on(cambium_orderer::loadgen::run(&options))
                    .with_context(|| format!("ordering bench with {n} node(s)"))?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!(
                        "{:>5}  {:>9}  {:>6}  {:>6}  {:>12.0}  {:>6.2}  {:>6.2}  {:>6.2}",
                        report.nodes,
                        report.envelopes,
                        report.failed,
                        report.blocks,
                        report.throughput,
                        report.p50_ms,
                        report.p90_ms,
                        report.p99_ms
                    );
                }
            }
            Ok(())
        }
    }
}

fn tokio_runtime() -> anyhow::Result<cambium_orderer::client::Runtime> {
    cambium_orderer::client::runtime().context("starting the async runtime")
}
