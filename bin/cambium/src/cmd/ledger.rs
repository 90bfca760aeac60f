//! `cambium ledger …`: inspect a ledger directory.

use std::path::PathBuf;

use anyhow::Context;
use cambium_ledger::inspect::{self, BlockView};
use cambium_ledger::{BlockReader, Ledger, LedgerError, ReadOnlyLedger, StateReader};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Show a ledger's height, or one block, transaction or key.
    ///
    /// Reads the ledger without writing to it; stop the peer that owns it first. A ledger its
    /// peer did not close cleanly must be recovered first: start the peer once, or pass
    /// `--recover`.
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
    /// Recover the ledger as its peer would on start before reading it (torn writes at the
    /// tail are cut off, blocks missing from the state are applied): needed after the peer
    /// crashed, and it writes to the ledger.
    #[arg(long)]
    recover: bool,
}

pub(crate) fn run(command: LedgerCommand) -> anyhow::Result<()> {
    match command {
        LedgerCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    // Checked here too because a recovering open would create a ledger in any directory.
    if !args.dir.join(cambium_ledger::INDEX_FILE).is_file() {
        return Err(LedgerError::NotALedger(args.dir.clone()).into());
    }
    if args.recover {
        let ledger = Ledger::open(&args.dir)
            .with_context(|| format!("recovering ledger {}", args.dir.display()))?;
        return show(&ledger, &args);
    }
    let ledger = match ReadOnlyLedger::open(&args.dir) {
        Ok(ledger) => ledger,
        Err(e @ LedgerError::NeedsRecovery { .. }) => {
            anyhow::bail!("{e}, or pass --recover to recover it here (this writes to the ledger)")
        }
        Err(e) => return Err(e).with_context(|| format!("opening ledger {}", args.dir.display())),
    };
    show(ledger.view(), &args)
}

/// Prints what `args` asks for from an open ledger.
fn show<L: BlockReader + StateReader>(ledger: &L, args: &InspectArgs) -> anyhow::Result<()> {
    let text = if let Some(n) = args.block {
        let height = ledger.height()?;
        let block = ledger.block(n)?.with_context(|| {
            format!(
                "there is no block {n}: the ledger height is {height}, so blocks are 0..{height}"
            )
        })?;
        BlockView::new(&block)?.to_string()
    } else if let Some(id) = &args.tx {
        inspect::transaction(ledger, id)?
            .with_context(|| format!("no transaction with ID {id} in this ledger"))?
    } else if let Some([namespace, key]) = args.key.as_deref() {
        let key = inspect::unescape(key).map_err(anyhow::Error::msg)?;
        inspect::key(ledger, namespace, &key)?
    } else {
        inspect::summary(ledger)?
    };
    print!("{text}");
    Ok(())
}
