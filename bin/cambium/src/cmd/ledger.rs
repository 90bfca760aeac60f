//! `cambium ledger …`

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {}

pub(crate) fn run(command: LedgerCommand) -> anyhow::Result<()> {
    match command {}
}
