//! `cambium crypto …`: generate crypto material in Fabric's layout, print the default config.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork, DEFAULT_CONFIG_YAML};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum CryptoCommand {
    /// Generate CAs, MSP folders and TLS certificates for a network, like Fabric's cryptogen.
    ///
    /// Without --config, generates the built-in default network (see `cambium crypto default-config`).
    Generate {
        /// Crypto config in cryptogen's YAML format (OrdererOrgs, PeerOrgs).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Folder to write ordererOrganizations/ and peerOrganizations/ into (created if missing).
        #[arg(long, visible_alias = "output", value_name = "DIR")]
        out: PathBuf,
        /// Replace existing crypto material (existing identities will stop working).
        #[arg(long)]
        force: bool,
        /// Print what was written as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Print the built-in default crypto config (a starting point for --config).
    DefaultConfig,
}

pub(crate) fn run(command: CryptoCommand) -> anyhow::Result<()> {
    match command {
        CryptoCommand::Generate {
            config,
            out,
            force,
            json,
        } => {
            let config = match &config {
                Some(path) => load_config(path)?,
                None => CryptoConfig::default_network(),
            };
            let network = cambium_cryptogen::generate(&config, &out, GenerateOptions { force })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&network)?);
            } else {
                print!("{}", summary(&network));
            }
            Ok(())
        }
        CryptoCommand::DefaultConfig => {
            print!("{DEFAULT_CONFIG_YAML}");
            Ok(())
        }
    }
}

fn load_config(path: &Path) -> anyhow::Result<CryptoConfig> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "could not read crypto config {}; check the --config path",
            path.display()
        )
    })?;
    CryptoConfig::from_yaml(&text).with_context(|| format!("in {}", path.display()))
}

/// A human-readable account of what was written, with paths relative to the output folder.
fn summary(network: &GeneratedNetwork) -> String {
    let out = &network.out_dir;
    let rel = |path: &Path| path.strip_prefix(out).unwrap_or(path).display().to_string();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Generated crypto material for {} organisation(s), {} identities, in {}",
        network.orgs.len(),
        network.identity_count(),
        out.display()
    );
    for org in &network.orgs {
        let _ = writeln!(
            text,
            "\n{} ({}), NodeOUs {}\n  msp     {}\n  ca      {}\n  tlsca   {}",
            org.msp_id,
            org.domain,
            if org.node_ous { "on" } else { "off" },
            rel(&org.msp_dir),
            rel(&org.ca.cert),
            rel(&org.tls_ca.cert),
        );
        for id in org.nodes.iter().chain(&org.users) {
            let _ = writeln!(
                text,
                "  {:<8}{}  ({})",
                id.role.node_ou(),
                id.name,
                rel(&id.dir)
            );
        }
    }
    let _ = writeln!(
        text,
        "\nKeys are in msp/keystore/priv_sk and tls/*.key (mode 0600). Use --json for every path."
    );
    text
}
