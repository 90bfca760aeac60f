//! The `cambium` command: parses the command line and calls into the library crates.

use clap::{Parser, Subcommand};

/// Cambium: a permissioned blockchain that speaks Hyperledger Fabric's wire formats
/// and runs WebAssembly contracts that upgrade live.
#[derive(Debug, Parser)]
#[command(name = "cambium", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
