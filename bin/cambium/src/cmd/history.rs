//! `cambium contract history NAME` and `cambium contract replay NAME --package NEW --last N`:
//! looking back over a contract's life on the ledger, from the blocks a peer delivers.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use cambium_node::blocks::read_blocks;
use cambium_node::history::contract_history;
use cambium_node::replay::{replay, ReplayReport};
use cambium_vm::{Vm, VmConfig};
use clap::Args;

use super::network::{runtime, ClientArgs};

#[derive(Debug, Clone, Args)]
pub(crate) struct HistoryArgs {
    /// The contract's name on the channel.
    name: String,
    #[command(flatten)]
    reader: ClientArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ReplayArgs {
    /// The contract's name on the channel.
    name: String,
    /// The new version: a package (.tar.gz), a .wasm module or a contract folder.
    #[arg(long)]
    package: PathBuf,
    /// How many of the contract's most recent valid transactions to replay.
    #[arg(long, default_value_t = 100)]
    last: usize,
    #[command(flatten)]
    reader: ClientArgs,
}

/// All blocks of the reader's channel, with a progress display on a terminal.
async fn all_blocks(
    reader: &ClientArgs,
) -> anyhow::Result<(String, Vec<cambium_node::blocks::Block>)> {
    let (_, user) = reader.user()?;
    let connection = user.connect().await?;
    let (channel_id, peer_name, signer) = (&user.channel_id, &user.peer, &user.signer);
    let bar = (!reader.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("reading blocks of {channel_id} from {peer_name}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(80));
        bar
    });
    let blocks = read_blocks(connection, user.endpoint(), signer, channel_id, 0, |n| {
        if let Some(bar) = &bar {
            bar.set_message(format!("reading blocks of {channel_id}: block {n}"));
        }
    })
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((channel_id.clone(), blocks?))
}

pub(crate) fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let (_, blocks) = runtime()?.block_on(all_blocks(&args.reader))?;
    let events = contract_history(&blocks, &args.name)?;
    if args.reader.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    if events.is_empty() {
        println!(
            "no lifecycle events for '{}' in {} blocks; check the name (cambium contract \
             querycommitted lists the committed contracts)",
            args.name,
            blocks.len()
        );
        return Ok(());
    }
    println!(
        "{:>6}  {:<24}  {:<16}  {:>4}  {:<8}  {:<36}  {:<16}  DETAIL",
        "BLOCK", "TIME (UTC)", "ACTION", "SEQ", "VERSION", "SIGNED BY", "ENDORSED BY"
    );
    for e in &events {
        let mut detail = e.detail.clone();
        if !e.valid {
            detail = format!("INVALID ({}) {detail}", e.validation);
        }
        println!(
            "{:>6}  {:<24}  {:<16}  {:>4}  {:<8}  {:<36}  {:<16}  {}",
            e.block,
            e.timestamp,
            e.action,
            e.sequence.map(|s| s.to_string()).unwrap_or_default(),
            e.version.clone().unwrap_or_default(),
            format!("{} ({})", e.signer, e.signer_msp),
            e.endorsers.join(","),
            detail
        );
    }
    Ok(())
}

pub(crate) fn replay_command(args: ReplayArgs) -> anyhow::Result<()> {
    let source = cambium_node::deploy::Source::of(&args.package)?;
    let package = source.package("replay")?;
    let wasm = cambium_vm::package::read_package(&package)
        .with_context(|| format!("reading the package {}", args.package.display()))?
        .wasm;
    let vm = Vm::new(VmConfig {
        pooling_instances: None,
        ..VmConfig::default()
    })?;
    let contract = vm
        .install(&wasm)
        .with_context(|| format!("loading {}", args.package.display()))?;
    let (channel_id, blocks) = runtime()?.block_on(all_blocks(&args.reader))?;
    let report = replay(&blocks, &channel_id, &args.name, args.last, &vm, &contract)?;
    if args.reader.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    if report.differing() > 0 {
        anyhow::bail!(
            "{} of {} replayed transactions differ with the new package",
            report.differing(),
            report.transactions.len()
        );
    }
    Ok(())
}

fn print_report(report: &ReplayReport) {
    if report.found == 0 {
        println!(
            "'{}' has no valid transactions on this channel: nothing to replay",
            report.contract
        );
        return;
    }
    println!(
        "replayed the last {} of {} valid transactions of '{}' against the new package",
        report.transactions.len(),
        report.found,
        report.contract
    );
    for tx in &report.transactions {
        let verdict = if tx.matches() { "same" } else { "DIFFERS" };
        println!(
            "  block {:>5}  {}  {:<20}  {verdict}",
            tx.block,
            &tx.tx_id[..tx.tx_id.len().min(16)],
            tx.function
        );
        for d in &tx.differences {
            println!("      - {d}");
        }
    }
    println!(
        "{} same, {} different",
        report.transactions.len() - report.differing(),
        report.differing()
    );
}
