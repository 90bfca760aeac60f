//! `cambium crypto …`

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum CryptoCommand {}

pub(crate) fn run(command: CryptoCommand) -> anyhow::Result<()> {
    match command {}
}
