//! `cambium peer …`: run a standalone peer process and join it to channels.

use std::path::PathBuf;

use anyhow::Context as _;
use cambium_peer::cambium_ops::{init_logging, LogFormat};
use cambium_peer::{Peer, PeerConfig, PeerPlugins};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum PeerCommand {
    /// Run a peer: Endorser, Deliver and Gateway on `listenAddress`, committers for every
    /// joined channel (catching up from the orderers), and the operations endpoint
    /// (/healthz, /metrics, /version, /logspec) when `operations` is configured. Stops on
    /// Ctrl-C or SIGTERM.
    Start {
        /// The peer YAML (listen addresses, data dir, MSP, TLS, orderers, operations).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log lines as `human` text or `json` objects.
        #[arg(long, value_name = "FORMAT", default_value = "human")]
        log_format: LogFormat,
        /// The initial log filter (`RUST_LOG` syntax; default: `$RUST_LOG`, else `info`);
        /// `/logspec` changes it at runtime.
        #[arg(long, value_name = "SPEC")]
        log_spec: Option<String>,
    },
    /// Channel membership of a peer.
    #[command(subcommand)]
    Channel(PeerChannelCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum PeerChannelCommand {
    /// Join the peer to a channel from its genesis block while the peer is stopped; the next
    /// `cambium peer start` pulls the channel's blocks from its orderers.
    Join {
        /// The channel's genesis block (block 0), e.g. from `cambium channel genesis`.
        #[arg(long, value_name = "FILE")]
        block: PathBuf,
        /// The peer YAML.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// List the channels a running peer has joined, like `peer channel list` (every peer of
    /// the network, each asked by its own organisation's client, unless --peer names one).
    List(super::network::PeersArgs),
}

pub(crate) fn run(command: PeerCommand) -> anyhow::Result<()> {
    match command {
        PeerCommand::Start {
            config,
            log_format,
            log_spec,
        } => {
            let spec = log_spec
                .or_else(|| {
                    std::env::var("RUST_LOG")
                        .ok()
                        .filter(|s| !s.trim().is_empty())
                })
                .unwrap_or_else(|| "info".to_owned());
            start(&config, log_format, &spec)
        }
        PeerCommand::Channel(PeerChannelCommand::List(args)) => list_channels(&args),
        PeerCommand::Channel(PeerChannelCommand::Join { block, config }) => {
            let parsed = PeerConfig::load(&config)?;
            let genesis = std::fs::read(&block)
                .with_context(|| format!("reading the genesis block {}", block.display()))?;
            let channel = cambium_peer::join_offline(&parsed, &genesis)?;
            println!(
                "joined channel '{channel}'; start the peer (cambium peer start --config {}) to pull its blocks from the orderers",
                config.display()
            );
            Ok(())
        }
    }
}

fn start(config: &std::path::Path, log_format: LogFormat, log_spec: &str) -> anyhow::Result<()> {
    let log = init_logging(log_format, log_spec)?;
    let parsed = PeerConfig::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let plugins = PeerPlugins {
            log: Some(log),
            ..PeerPlugins::default()
        };
        let peer = Peer::start_with(parsed, plugins)
            .await
            .with_context(|| format!("starting the peer of {}", config.display()))?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping the peer");
        peer.shutdown().await;
        Ok(())
    })
}

/// `cambium peer channel list`.
fn list_channels(args: &super::network::PeersArgs) -> anyhow::Result<()> {
    use cambium_node::chaininfo;
    let (profile, targets) = args.targets()?;
    let listed = super::network::runtime()?.block_on(async {
        let mut listed = std::collections::BTreeMap::new();
        for (org, peer) in &targets {
            let channels = chaininfo::peer_channels(&profile, org, &args.user, peer).await?;
            listed.insert(peer.clone(), channels);
        }
        anyhow::Ok(listed)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    for (peer, channels) in &listed {
        let shown = if channels.is_empty() {
            "(no channel joined)".to_owned()
        } else {
            channels.join(", ")
        };
        println!("{peer:<28} {shown}");
    }
    Ok(())
}
