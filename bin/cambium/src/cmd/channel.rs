//! `cambium channel …`: write a channel's genesis block from a configtx-style YAML, inspect a
//! config block, print the sample channel YAML.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use cambium_channel::inspect::BlockSummary;
use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{
    genesis_block, inspect_config_block, ChannelConfig, Timestamp, DEFAULT_CHANNEL_YAML,
};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Write a channel's genesis block (config block 0) from a channel YAML, like
    /// `configtxgen -outputBlock`.
    Genesis {
        /// Channel YAML (a trimmed configtx.yaml); see `cambium channel default-config`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write the block.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The channel ID (overrides ChannelID in the file).
        #[arg(long, value_name = "ID")]
        channel_id: Option<String>,
        /// The profile to use when the file has several.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Block timestamp in unix seconds (default: now). The same config and timestamp always
        /// give the same block bytes.
        #[arg(long, value_name = "SECONDS")]
        timestamp: Option<i64>,
    },
    /// Show a config block: organisations, policies with their rules, orderers, batch settings.
    Inspect {
        /// The block file (e.g. a genesis block).
        block: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the sample channel YAML for `cambium crypto generate --out crypto`'s default
    /// network (save it next to the crypto folder).
    DefaultConfig,
}

pub(crate) fn run(command: ChannelCommand) -> anyhow::Result<()> {
    match command {
        ChannelCommand::Genesis {
            config,
            out,
            channel_id,
            profile,
            timestamp,
        } => {
            let spec = yaml::load(
                &config,
                &LoadOptions {
                    channel_id,
                    profile,
                },
            )?;
            let channel = ChannelConfig::from_spec(&spec)?;
            let seconds = match timestamp {
                Some(s) => s,
                None => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("the system clock is before 1970")?
                    .as_secs() as i64,
            };
            let block = genesis_block(&channel, Timestamp { seconds, nanos: 0 });
            std::fs::write(&out, &block)
                .with_context(|| format!("could not write the block to {}", out.display()))?;
            println!(
                "Wrote the genesis block of channel {} ({} bytes) to {}: {} orderer and {} application organisation(s), {} consenter(s)",
                channel.channel_id(),
                block.len(),
                out.display(),
                channel.orderer_orgs().len(),
                channel.application_orgs().len(),
                channel.consenters().len(),
            );
            Ok(())
        }
        ChannelCommand::Inspect { block, json } => {
            let bytes = std::fs::read(&block)
                .with_context(|| format!("could not read block file {}", block.display()))?;
            let (config, info) =
                inspect_config_block(&bytes).with_context(|| format!("in {}", block.display()))?;
            let summary = BlockSummary::new(&config, &info);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            Ok(())
        }
        ChannelCommand::DefaultConfig => {
            print!("{DEFAULT_CHANNEL_YAML}");
            Ok(())
        }
    }
}
