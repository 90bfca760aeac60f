//! `cambium bench upgrade`: a live upgrade with a migration, a canary, an abort, a second
//! roll-out and a promotion under concurrent gateway clients; prints failed transactions,
//! throughput before/during/after, blocks from commit to the new version serving, and whether
//! every peer ends with the same state digest.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cambium_node::deploy::Source;
use cambium_node::upgrade_bench::{self, UpgradeBenchOptions, UpgradeBenchReport};

use super::network::{runtime, NetworkArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct UpgradeArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of the phases before and after the upgrade (the upgrade phase lasts at least as
    /// long).
    #[arg(long, default_value_t = 5.0)]
    phase: f64,
    /// Version 1: a contract folder, .wasm or package (default: contracts/asset-ledger-v1).
    #[arg(long, default_value = "contracts/asset-ledger-v1")]
    v1: PathBuf,
    /// Version 2, exporting `migrate` (default: contracts/asset-ledger-v2).
    #[arg(long, default_value = "contracts/asset-ledger-v2")]
    v2: PathBuf,
    /// Version 1 records written before the load, for the migration to convert.
    #[arg(long, default_value_t = 200)]
    seed: usize,
    /// The canary's first share, percent (1-99).
    #[arg(long, default_value = "10%")]
    canary: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: UpgradeArgs) -> anyhow::Result<()> {
    let profile = args.network.load()?;
    let run_tag = format!("{:06x}", rand_tag());
    let name = format!("upgbench{run_tag}");
    let package = |path: &PathBuf, label: String| -> anyhow::Result<Vec<u8>> {
        let source = Source::of(path).with_context(|| {
            format!(
                "{}: pass --v1/--v2 with a contract folder, .wasm or package (run from the \
                 repository root for the defaults)",
                path.display()
            )
        })?;
        Ok(source.package(&label)?)
    };
    let options = UpgradeBenchOptions {
        clients: args.clients,
        phase: Duration::from_secs_f64(args.phase.max(0.5)),
        v1: package(&args.v1, format!("{name}_v1"))?,
        v2: package(&args.v2, format!("{name}_v2"))?,
        v2_again: package(&args.v2, format!("{name}_v2b"))?,
        seed: args.seed,
        canary: cambium_node::upgrade::parse_weight(&args.canary)?,
        name,
    };
    let show = !args.json && std::io::stderr().is_terminal();
    let report = runtime()?.block_on(upgrade_bench::run(&profile, &options, &|line: &str| {
        if show {
            eprintln!("· {line}");
        }
    }))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn rand_tag() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos ^ std::process::id()
}

fn print_report(r: &UpgradeBenchReport) {
    println!("live upgrade under {} clients", r.clients);
    for step in &r.steps {
        println!(
            "  block {:>5}  {:>6} ms  {}",
            step.block, step.ms, step.step
        );
    }
    println!(
        "{:<28} {}",
        "failed transactions",
        if r.failures.is_empty() {
            "0".to_owned()
        } else {
            format!("{} ({:?})", r.failed, r.failures)
        }
    );
    println!(
        "{:<28} {:.0} / {:.0} / {:.0} tx/s",
        "throughput before/during/after",
        r.throughput_before,
        r.throughput_during,
        r.throughput_after
    );
    println!("{:<28} {:.1} %", "throughput dip", r.throughput_dip_pct);
    println!(
        "{:<28} {}",
        "blocks to serve",
        match r.blocks_to_serve {
            Some(b) => format!(
                "{b} ({} transaction(s) assigned to it ran on the old version first)",
                r.assigned_before_serving
            ),
            None => "never (the new version served no transaction)".to_owned(),
        }
    );
    println!(
        "{:<28} {} ({} peers)",
        "state digests equal",
        if r.state_digests_equal { "yes" } else { "NO" },
        r.state_digests.len()
    );
    println!(
        "{:<28} {} submitted, {} valid",
        "transactions", r.submitted, r.valid
    );
}
