//! Test utilities shared by Cambium's integration tests, and the tests that span crates.
//!
//! - [`DevNetwork`]: the material of the default development network (crypto for one orderer
//!   org and two peer orgs, and the sample channel's configuration), made fresh in a temporary
//!   folder, as the integration tests of the endorser, the validator and others need it.
//! - The tests in `tests/it/`: repository invariants (`tidy`), interoperability with the
//!   official Hyperledger Fabric Node libraries (`node_client`), and a network from
//!   `cambium network generate` run as separate `cambium` processes (`procnet` runs it,
//!   `load` drives its Gateway): load, metrics, fault drills (`network`, `diskfull`),
//!   revocation by a CRL in channel config (`revocation`) and bad operator input.

use std::path::{Path, PathBuf};

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{ChannelConfig, DEFAULT_CHANNEL_YAML};
use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork};

/// The root of the Cargo workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testing sits two levels below the workspace root")
        .to_path_buf()
}

/// Generates the default network's crypto material (`cambium crypto generate`'s built-in
/// config: OrdererMSP, Org1MSP, Org2MSP) into `dir`.
///
/// # Panics
/// If generation fails: a test cannot go on without its identities.
pub fn default_crypto(dir: &Path) -> GeneratedNetwork {
    cambium_cryptogen::generate(
        &CryptoConfig::default_network(),
        dir,
        GenerateOptions::default(),
    )
    .unwrap_or_else(|e| panic!("generating crypto material in {}: {e}", dir.display()))
}

/// The default development network's material in a temporary folder that lives as long as
/// this value: crypto in `crypto/`, and the sample channel (`DEFAULT_CHANNEL_YAML`) built from
/// it.
#[derive(Debug)]
pub struct DevNetwork {
    /// The temporary folder holding everything; removed on drop.
    pub dir: tempfile::TempDir,
    /// The generated identities, MSP folders and TLS material.
    pub crypto: GeneratedNetwork,
    /// The channel's configuration, as its genesis block would carry it.
    pub channel: ChannelConfig,
}

impl DevNetwork {
    /// Generates fresh material for channel `channel_id`.
    ///
    /// # Panics
    /// If any step fails: the message says which.
    pub fn new(channel_id: &str) -> DevNetwork {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // The sample channel YAML expects the default network in `crypto/` next to it.
        let crypto = default_crypto(&dir.path().join("crypto"));
        let yaml_path = dir.path().join("channel.yaml");
        std::fs::write(&yaml_path, DEFAULT_CHANNEL_YAML).expect("channel YAML written");
        let options = LoadOptions {
            channel_id: Some(channel_id.to_owned()),
            profile: None,
        };
        let spec = yaml::load(&yaml_path, &options).expect("the sample channel YAML loads");
        let channel = ChannelConfig::from_spec(&spec).expect("the sample channel config builds");
        DevNetwork {
            dir,
            crypto,
            channel,
        }
    }
}
