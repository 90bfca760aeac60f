//! `cambium bench …`: measure Cambium's own components on this machine, and a running
//! network through its gateway.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Ordering: in-process orderers on loopback, concurrent broadcasters of signed envelopes;
    /// prints throughput, Broadcast→SUCCESS latency percentiles and Broadcast→block (the
    /// envelope's block arriving on a Deliver stream) percentiles.
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
        /// Whether the orderers cut a block at once when none is in flight (`cutWhenIdle` in
        /// orderer.yaml); `false` waits for the batch timeout or a full batch, as Fabric does.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
        cut_when_idle: bool,
        /// Offered load in envelopes/s over all broadcasters (latency then counts from when
        /// each envelope was due); 0 sends as fast as the window allows. Several values run
        /// one after another, e.g. `--rate 0,5000` for the saturated throughput and the
        /// latency at 5,000/s.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        rate: Vec<f64>,
        /// Print one JSON object per run instead of a table.
        #[arg(long)]
        json: bool,
        /// Run the orderers over TLS (mutual TLS between them), as in production; the default.
        #[arg(long, overrides_with = "no_tls")]
        tls: bool,
        /// Run the orderers over plaintext gRPC, to see what TLS costs.
        #[arg(long, overrides_with = "tls")]
        no_tls: bool,
    },
    /// Gateway: concurrent clients submit transactions to a running network's gateway like a
    /// Fabric application (Endorse, sign, Submit, CommitStatus); prints throughput, latency to
    /// commit and failures by validation code.
    Gateway(GatewayArgs),
    /// Live upgrade: under concurrent gateway clients, upgrade a contract with a migration and
    /// a canary, advance, abort, roll out again and promote; prints failed transactions,
    /// throughput before/during/after, blocks to serve and whether peers' state digests agree.
    Upgrade(super::bench_upgrade::UpgradeArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct GatewayArgs {
    #[command(flatten)]
    network: super::network::NetworkArgs,
    /// Concurrent clients; several values run one after another.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    clients: Vec<usize>,
    /// Connections the clients share (HTTP/2 multiplexes their calls, as one application
    /// process sharing one gRPC channel does); default: one per client.
    #[arg(long)]
    connections: Option<usize>,
    /// Seconds each run sends transactions.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Percentage of operations that are reads (Evaluate of ReadAsset).
    #[arg(long, default_value_t = 0)]
    read_percent: u8,
    /// Keys: `new` (every write creates a key) or `uniform:N` (updates of N keys).
    #[arg(long, default_value = "new")]
    keys: cambium_node::bench::KeyDistribution,
    /// The asset-transfer contract's name on the channel.
    #[arg(long, default_value = "basic")]
    contract: String,
    /// The organisation of the signing user and of the gateway peer.
    #[arg(long, default_value = "Org1")]
    org: String,
    /// The signing user.
    #[arg(long, default_value = "User1")]
    user: String,
    /// The gateway peer (default: the organisation's first peer).
    #[arg(long)]
    peer: Option<String>,
    /// Print one JSON object per run instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Gateway(args) => gateway(args),
        BenchCommand::Upgrade(args) => super::bench_upgrade::run(args),
        BenchCommand::Ordering {
            nodes,
            broadcasters,
            envelopes,
            size,
            window,
            batch_timeout_ms,
            cut_when_idle,
            rate,
            json,
            tls,
            no_tls,
        } => {
            let runtime = tokio_runtime()?;
            if !json {
                println!("nodes  offered/s  envelopes  failed  blocks  throughput/s  p50 ms  p90 ms  p99 ms  block p50  block p90  block p99  cpu µs/env");
            }
            for n in nodes {
                for &offered in &rate {
                    if !(offered >= 0.0 && offered.is_finite()) {
                        anyhow::bail!("--rate must be 0 (as fast as possible) or a positive number of envelopes per second");
                    }
                    let options = cambium_orderer::loadgen::LoadOptions {
                        nodes: n,
                        broadcasters,
                        envelopes_per_broadcaster: envelopes,
                        envelope_size: size,
                        window,
                        batch_timeout: Duration::from_millis(batch_timeout_ms),
                        tls: tls || !no_tls,
                        rate: (offered > 0.0).then_some(offered),
                        cut_when_idle,
                        ..Default::default()
                    };
                    let report = runtime
                        .block_on(cambium_orderer::loadgen::run(&options))
                        .with_context(|| format!("ordering bench with {n} node(s)"))?;
                    if json {
                        println!("{}", serde_json::to_string(&report)?);
                    } else {
                        println!(
                            "{:>5}  {:>9}  {:>9}  {:>6}  {:>6}  {:>12.0}  {:>6.2}  {:>6.2}  {:>6.2}  {:>9.2}  {:>9.2}  {:>9.2}  {:>10}",
                            report.nodes,
                            report
                                .offered_rate
                                .map_or_else(|| "max".to_owned(), |r| format!("{r:.0}")),
                            report.envelopes,
                            report.failed,
                            report.blocks,
                            report.throughput,
                            report.p50_ms,
                            report.p90_ms,
                            report.p99_ms,
                            report.block_p50_ms,
                            report.block_p90_ms,
                            report.block_p99_ms,
                            report
                                .cpu_us_per_envelope
                                .map_or_else(|| "-".to_owned(), |c| format!("{c:.0}"))
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

fn tokio_runtime() -> anyhow::Result<cambium_orderer::client::Runtime> {
    cambium_orderer::client::runtime().context("starting the async runtime")
}

fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    let profile = args.network.load()?;
    let runtime = super::network::runtime()?;
    if !args.json {
        println!(
            "clients  submitted  valid  failed  throughput/s  p50 ms  p90 ms  p99 ms  endorse p50  submit p50  commit p50  reads  read p50 ms"
        );
    }
    let mut failures = BTreeMap::new();
    for clients in &args.clients {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let options = cambium_node::bench::BenchOptions {
            clients: *clients,
            connections: args.connections.map(|c| c.min(*clients)),
            duration: Duration::from_secs_f64(args.duration),
            read_percent: args.read_percent,
            keys: args.keys,
            contract: args.contract.clone(),
            org: args.org.clone(),
            user: args.user.clone(),
            peer: args.peer.clone(),
            channel: None,
            done: std::sync::Arc::clone(&done),
        };
        let progress = BenchProgress::start(*clients, args.duration, done);
        let report = runtime.block_on(cambium_node::bench::run(&profile, &options));
        progress.finish();
        let report = report.with_context(|| format!("gateway bench with {clients} client(s)"))?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        println!(
            "{:>7}  {:>9}  {:>5}  {:>6}  {:>12.0}  {:>6.1}  {:>6.1}  {:>6.1}  {:>11.1}  {:>10.1}  {:>10.1}  {:>5}  {:>11.1}",
            report.clients,
            report.submitted,
            report.valid,
            report.failed,
            report.throughput,
            report.p50_ms,
            report.p90_ms,
            report.p99_ms,
            report.endorse_p50_ms,
            report.submit_p50_ms,
            report.commit_p50_ms,
            report.reads,
            report.read_p50_ms
        );
        for (cause, n) in report.failures {
            *failures.entry(cause).or_insert(0u64) += n;
        }
    }
    if !args.json && !failures.is_empty() {
        println!("\nfailures by cause:");
        for line in failure_lines(failures) {
            println!("{line}");
        }
    }
    Ok(())
}

/// A progress line on standard error while a gateway run lasts (only on a terminal): elapsed
/// time and completed operations.
struct BenchProgress {
    bar: Option<indicatif::ProgressBar>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl BenchProgress {
    fn start(
        clients: usize,
        seconds: f64,
        done: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return BenchProgress {
                bar: None,
                stop,
                ticker: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        let started = std::time::Instant::now();
        let (tick_bar, tick_stop) = (bar.clone(), std::sync::Arc::clone(&stop));
        let ticker = std::thread::spawn(move || {
            while !tick_stop.load(Ordering::Relaxed) {
                let elapsed = started.elapsed().as_secs_f64();
                let n = done.load(Ordering::Relaxed);
                let phase = if elapsed < seconds {
                    "sending"
                } else {
                    "waiting for the last commits"
                };
                tick_bar.set_message(format!(
                    "{clients} clients: {elapsed:.1} s of {seconds:.0} s, {n} done ({:.0}/s), {phase}",
                    n as f64 / elapsed.max(0.001)
                ));
                tick_bar.tick();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        BenchProgress {
            bar: Some(bar),
            stop,
            ticker: Some(ticker),
        }
    }

    fn finish(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker {
            let _ = t.join();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Causes shown in the table; `--json` has every one.
const SHOWN_CAUSES: usize = 10;

/// The failure table's lines: the most frequent causes first, the rest summed in one line
/// (a contract error that names each transaction's key is a cause of its own per transaction).
fn failure_lines(failures: BTreeMap<String, u64>) -> Vec<String> {
    let mut causes: Vec<(String, u64)> = failures.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut lines: Vec<String> = causes
        .iter()
        .take(SHOWN_CAUSES)
        .map(|(cause, n)| format!("  {n:>7}  {cause}"))
        .collect();
    let rest = &causes[causes.len().min(SHOWN_CAUSES)..];
    if !rest.is_empty() {
        let n: u64 = rest.iter().map(|(_, n)| n).sum();
        lines.push(format!(
            "  {n:>7}  in {} other causes (--json lists every cause)",
            rest.len()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_failure_table_shows_the_most_frequent_causes_and_sums_the_rest() {
        let mut failures: BTreeMap<String, u64> = (0..12)
            .map(|i| (format!("endorse: asset a{i} already exists"), 1))
            .collect();
        failures.insert("submit: Unavailable".into(), 5);
        let lines = failure_lines(failures);
        assert_eq!(lines.len(), SHOWN_CAUSES + 1);
        assert_eq!(lines[0], "        5  submit: Unavailable");
        assert_eq!(
            lines[SHOWN_CAUSES],
            "        3  in 3 other causes (--json lists every cause)"
        );
        let few = BTreeMap::from([("commit: MVCC_READ_CONFLICT".to_owned(), 2)]);
        assert_eq!(
            failure_lines(few),
            ["        2  commit: MVCC_READ_CONFLICT"]
        );
    }

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        bench: BenchCommand,
    }

    fn cut_when_idle(args: &[&str]) -> Result<bool, String> {
        let argv = ["bench", "ordering"].iter().chain(args);
        match Cli::try_parse_from(argv).map_err(|e| e.to_string())?.bench {
            BenchCommand::Ordering { cut_when_idle, .. } => Ok(cut_when_idle),
            _ => Err("parsed as another bench".to_owned()),
        }
    }

    #[test]
    fn the_ordering_bench_cuts_when_idle_unless_told_false_and_takes_only_a_boolean() {
        assert_eq!(cut_when_idle(&[]), Ok(true));
        assert_eq!(cut_when_idle(&["--cut-when-idle", "false"]), Ok(false));
        assert_eq!(cut_when_idle(&["--cut-when-idle", "true"]), Ok(true));
        let err = cut_when_idle(&["--cut-when-idle", "yes please"]).unwrap_err();
        assert!(
            err.contains("invalid value 'yes please' for '--cut-when-idle <BOOL>'"),
            "{err}"
        );
    }
}
