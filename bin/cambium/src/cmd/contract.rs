//! `cambium contract …`

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {}

pub(crate) fn run(command: ContractCommand) -> anyhow::Result<()> {
    match command {}
}
