//! `cambium ledger …`: inspect a ledger directory.

use std::path::PathBuf;

use anyhow::Context;
use cambium_ledger::inspect::{self, BlockView};
use cambium_ledger::{BlockReader, Ledger};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Show a ledger's height, or one block, transaction or key.
    ///
    /// Opening the ledger recovers it as a peer would (torn writes at the tail are cut off,
    /// blocks above the savepoint are replayed), so stop the peer that owns it first.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The ledger directory (holding `blocks/` and `index.redb`).
    dir: PathBuf,
    /// Show block N decoded: header, metadata, and each transaction with its writes.
    #[arg(long, value_name = "N", conflicts_with_all = ["tx", "key"])]
    block: Option<u64>,
    /// Show the transaction with this ID: where it is, its validation code and writes.
    #[arg(long, value_name = "TX_ID", conflicts_with = "key")]
    tx: Option<String>,
    /// Show a key's value, version and history. Write bytes such as a composite key's NULs as
    /// `\x00`.
    #[arg(long, num_args = 2, value_names = ["NAMESPACE", "KEY"])]
    key: Option<Vec<String>>,
}

pub(crate) fn run(command: LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.dir.join(cambium_ledger::INDEX_FILE).exists(),
        "{} is not a ledger directory (no {}); pass the directory a peer keeps its channel ledger in",
        args.dir.display(),
        cambium_ledger::INDEX_FILE
    );
    let ledger = Ledger::open(&args.dir)
        .with_context(|| format!("opening ledger {}", args.dir.display()))?;
    let text = if let Some(n) = args.block {
        let height = ledger.height()?;
        let block = ledger.block(n)?.with_context(|| {
            format!(
                "there is no block {n}: the ledger height is {height}, so blocks are 0..{height}"
            )
        })?;
        BlockView::new(&block)?.to_string()
    } else if let Some(id) = &args.tx {
        inspect::transaction(&ledger, id)?
            .with_context(|| format!("no transaction with ID {id} in this ledger"))?
    } else if let Some([namespace, key]) = args.key.as_deref() {
        let key = inspect::unescape(key).map_err(anyhow::Error::msg)?;
        inspect::key(&ledger, namespace, &key)?
    } else {
        inspect::summary(&ledger)?
    };
    print!("{text}");
    Ok(())
}
