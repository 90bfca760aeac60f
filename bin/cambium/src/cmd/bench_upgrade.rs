//! `cambium bench upgrade`: a live upgrade with a migration, a canary, an abort, a second
//! roll-out and a promotion under concurrent gateway clients; prints failed transactions,
//! throughput before/during/after, blocks from commit to the new version serving, and whether
//! every peer ends with the same state digest. The figures are defined in
//! `cambium_node::upgrade_bench`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cambium_node::deploy::Source;
use cambium_node::upgrade_bench::{
    self, UpgradeBenchOptions, UpgradeBenchReport, UpgradeBenchSummary,
};

use super::network::{runtime, NetworkArgs};

/// What the figures mean, shown after the options in `--help`.
const AFTER_HELP: &str = "\
Figures:
  throughput dip            (before - during) / before, percent: the issue's figure (target <= 5 %).
                            \"before\" runs only v1 and \"after\" only v2, so a speed difference
                            between the versions shows here too; \"dip vs mean of before/after\"
                            compares \"during\" with their mean to isolate the upgrade steps.
                            With --runs N (default 3) the summary gives each figure's median over
                            the runs (and every failure, the worst blocks to serve): this machine
                            kind's speed wanders by about as much as the dip within one run.
  blocks to serve           for each step that changes which version serves (upgrade, advance,
                            abort, roll-out, promote) committed in block N: the transactions
                            proposed after the bench learned that N committed (their proposal
                            timestamp against the arrival of block N on the bench's block
                            follower) are judged; the figure is B - N for the first block B > N
                            from which every one of them committed VALID on the version the
                            rollout assigns it (failed calls count as not served). 1 = served
                            from the block after the commit (target <= 1); the largest over the
                            steps is reported. A peer still serving the old version, or calls
                            failing while the new one starts, make it larger.
  blocks to first v2 tx     the earlier figure: from the upgrade's commit to the first block with a
                            transaction that ran v2. It counts the pipeline: the blocks cut while
                            in-flight transactions (proposed before the commit, valid in the grace
                            window) drain.";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
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
    /// Run the whole script this many times (each with its own contract) and report the
    /// median dip: one run's windows are as noisy as the dip on a shared machine.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// Print one JSON object instead of a table (with `--runs` above 1: the summary, each
    /// run's report in `per_run`).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: UpgradeArgs) -> anyhow::Result<()> {
    let profile = args.network.load()?;
    let show = !args.json && std::io::stderr().is_terminal();
    let runtime = runtime()?;
    let mut reports = Vec::new();
    for run in 1..=args.runs {
        let options = options(&args)?;
        let label = if args.runs > 1 {
            format!("run {run}/{}: ", args.runs)
        } else {
            String::new()
        };
        let report = runtime.block_on(upgrade_bench::run(&profile, &options, &|line: &str| {
            if show {
                eprintln!("· {label}{line}");
            }
        }))?;
        if !args.json {
            if args.runs > 1 {
                println!("run {run} of {}", args.runs);
            }
            print_report(&report);
        }
        reports.push(report);
    }
    if reports.len() == 1 {
        if args.json {
            println!("{}", serde_json::to_string(&reports[0])?);
        }
        return Ok(());
    }
    let summary = UpgradeBenchSummary::of(reports);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// One run's options: a fresh contract name and its packages.
fn options(args: &UpgradeArgs) -> anyhow::Result<UpgradeBenchOptions> {
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
    Ok(UpgradeBenchOptions {
        clients: args.clients,
        phase: Duration::from_secs_f64(args.phase.max(0.5)),
        v1: package(&args.v1, format!("{name}_v1"))?,
        v2: package(&args.v2, format!("{name}_v2"))?,
        v2_again: package(&args.v2, format!("{name}_v2b"))?,
        seed: args.seed,
        canary: cambium_node::upgrade::parse_weight(&args.canary)?,
        name,
    })
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
    println!("  block      ms   tx/s  to serve  judged (on switched, misserved)  step");
    for step in &r.steps {
        println!(
            "  {:>5}  {:>6}  {:>5.0}  {:>8}  {:>6} ({}, {})  {}",
            step.block,
            step.ms,
            step.throughput,
            step.blocks_to_serve
                .map_or_else(|| "-".to_owned(), |b| b.to_string()),
            step.judged,
            step.judged_on_switched,
            step.misserved,
            step.step
        );
    }
    println!(
        "{:<34} {}",
        "failed transactions",
        failed_text(r.failed, &r.failures)
    );
    println!(
        "{:<34} {:.0} / {:.0} / {:.0} tx/s ({:.0} tx/s between the steps)",
        "throughput before/during/after",
        r.throughput_before,
        r.throughput_during,
        r.throughput_after,
        r.throughput_between_steps
    );
    println!("{:<34} {:.1} %", "throughput dip", r.throughput_dip_pct);
    println!(
        "{:<34} {:.1} %",
        "dip vs mean of before/after", r.throughput_dip_vs_mean_pct
    );
    println!(
        "{:<34} {}",
        "blocks to serve",
        match r.blocks_to_serve {
            Some(b) => format!("{b} (largest over the steps)"),
            None => "unknown (no transaction proposed after a commit was known)".to_owned(),
        }
    );
    println!(
        "{:<34} {}",
        "blocks to first v2 tx",
        match r.blocks_to_first_new_version_tx {
            Some(b) => format!(
                "{b} ({} in-flight transaction(s) assigned to it ran on the old version first)",
                r.assigned_before_serving
            ),
            None => "never (the new version served no transaction)".to_owned(),
        }
    );
    println!(
        "{:<34} {:?}",
        "lifecycle transactions", r.lifecycle_transactions
    );
    let second = |s: f64| s as usize;
    let (before, during) = (
        second(r.before_seconds),
        second(r.before_seconds + r.during_seconds),
    );
    let show = |from: usize, to: usize| {
        r.per_second
            .get(from.min(r.per_second.len())..to.min(r.per_second.len()))
            .unwrap_or_default()
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{:<34} {} | {} | {}",
        "valid tx per second (b | d | a)",
        show(0, before),
        show(before, during),
        show(during, r.per_second.len())
    );
    println!(
        "{:<34} {} ({} peers)",
        "state digests equal",
        if r.state_digests_equal { "yes" } else { "NO" },
        r.state_digests.len()
    );
    println!(
        "{:<34} {} submitted, {} valid",
        "transactions", r.submitted, r.valid
    );
}

fn print_summary(s: &UpgradeBenchSummary) {
    println!();
    println!("summary of {} runs under {} clients", s.runs, s.clients);
    println!(
        "{:<34} {}",
        "failed transactions",
        failed_text(s.failed, &s.failures)
    );
    println!(
        "{:<34} {}",
        "throughput dip per run",
        s.per_run
            .iter()
            .map(|r| format!("{:.1} %", r.throughput_dip_pct))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:<34} {:.1} % (runs from {:.1} % to {:.1} %)",
        "throughput dip, median",
        s.throughput_dip_pct,
        s.throughput_dip_pct_range[0],
        s.throughput_dip_pct_range[1]
    );
    println!(
        "{:<34} {:.1} %",
        "dip vs mean of before/after, median", s.throughput_dip_vs_mean_pct
    );
    println!(
        "{:<34} {:.0} / {:.0} / {:.0} tx/s",
        "before/during/after, medians",
        s.throughput_before,
        s.throughput_during,
        s.throughput_after
    );
    println!(
        "{:<34} {}",
        "blocks to serve",
        match s.blocks_to_serve {
            Some(b) => format!("{b} (largest over the runs' steps)"),
            None => "unknown (no transaction proposed after a commit was known)".to_owned(),
        }
    );
    println!(
        "{:<34} {}",
        "state digests equal",
        if s.state_digests_equal {
            "yes, in every run"
        } else {
            "NO"
        }
    );
    println!(
        "{:<34} {} submitted, {} valid",
        "transactions", s.submitted, s.valid
    );
}

/// "0", or the count with the failures by cause.
fn failed_text(failed: u64, failures: &std::collections::BTreeMap<String, u64>) -> String {
    if failures.is_empty() {
        "0".to_owned()
    } else {
        format!("{failed} ({failures:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: UpgradeArgs,
    }

    #[test]
    fn runs_default_to_three_and_a_count_outside_one_to_twenty_is_refused() {
        assert_eq!(Cli::try_parse_from(["x"]).unwrap().args.runs, 3);
        assert_eq!(
            Cli::try_parse_from(["x", "--runs", "7"]).unwrap().args.runs,
            7
        );
        for bad in ["0", "21"] {
            let err = Cli::try_parse_from(["x", "--runs", bad])
                .err()
                .expect("refused")
                .to_string();
            assert!(
                err.contains(&format!("invalid value '{bad}' for '--runs <RUNS>'"))
                    && err.contains("not in 1..=20"),
                "{err}"
            );
        }
    }
}
