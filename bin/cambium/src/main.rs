//! The `cambium` command: parses the command line and calls into the library crates.
//!
//! Each subcommand family lives in its own module under `cmd/`; this file only dispatches.

mod cmd;

use std::process::ExitCode;

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
enum Command {
    /// Start the development network (one orderer, Org1's and Org2's peers, channel
    /// `mychannel`) in this process: created on the first start, resumed afterwards.
    Up(cmd::up::UpArgs),
    /// Generate and inspect crypto material (CAs, MSP folders, TLS certificates).
    #[command(subcommand)]
    Crypto(cmd::crypto::CryptoCommand),
    /// Inspect a ledger directory: height, blocks, transactions, keys and their history.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCommand),
    /// Create, build, package and inspect WebAssembly contracts.
    #[command(subcommand)]
    Contract(cmd::contract::ContractCommand),
    /// Channels: genesis blocks from a configtx-style YAML, config updates, and what the peers hold (getinfo, fetch).
    #[command(subcommand)]
    Channel(cmd::channel::ChannelCommand),
    /// Run an orderer node (Raft ordering service with Broadcast, Deliver and channel participation), and list, join or remove its channels.
    #[command(subcommand)]
    Orderer(cmd::orderer::OrdererCommand),
    /// Run a peer node (Endorser, Deliver, Gateway, committer, operations endpoint) and join it
    /// to channels.
    #[command(subcommand)]
    Peer(cmd::peer::PeerCommand),
    /// Generate a network whose nodes run as separate processes or hosts.
    #[command(subcommand)]
    Network(cmd::netgen::NetworkCommand),
    /// Measure Cambium's components on this machine (e.g. `cambium bench ordering`).
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only commands that open no sockets get the default SIGPIPE: with it, a write to a socket
    // the other side closed (a server's client going away, an orderer of `bench ordering`
    // stopping, a peer restarting under a client) would end the whole process silently.
    if matches!(
        cli.command,
        Command::Crypto(_) | Command::Ledger(_) | Command::Network(_)
    ) {
        restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Up(c) => cmd::up::run(c),
        Command::Crypto(c) => cmd::crypto::run(c),
        Command::Ledger(c) => cmd::ledger::run(c),
        Command::Contract(c) => cmd::contract::run(c),
        Command::Channel(c) => cmd::channel::run(c),
        Command::Orderer(c) => cmd::orderer::run(c),
        Command::Peer(c) => cmd::peer::run(c),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Network(c) => cmd::netgen::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole chain of causes on one line; no backtrace for users.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets `cambium … | head` end quietly when the reader goes away, as Unix tools do, instead of
/// panicking on a failed write to a closed pipe (Rust ignores SIGPIPE by default).
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
