//! Generates CAs, MSP folders and TLS material in Fabric's layout.
//!
//! The equivalent of Fabric's `cryptogen`: it reads the same YAML config ([`CryptoConfig`]) and
//! writes the same folders, so tools and people that know Fabric find everything where they
//! expect it:
//!
//! ```text
//! <out>/peerOrganizations/org1.example.com/
//!   ca/ca.org1.example.com-cert.pem, ca/priv_sk          signing CA
//!   tlsca/tlsca.org1.example.com-cert.pem, tlsca/priv_sk TLS CA
//!   msp/{cacerts,tlscacerts,admincerts}/, msp/config.yaml the organisation's MSP
//!   peers/peer0.org1.example.com/{msp,tls}/               one folder per node
//!   users/Admin@org1.example.com/{msp,tls}/               the admin and users
//! ```
//!
//! Keys are ECDSA P-256 in PKCS#8 PEM (mode 0600); certificates are valid for ten years.
//! Organisation `Name: Org1` gets MSP ID `Org1MSP`, the convention of Fabric's samples.
//!
//! ```no_run
//! use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions};
//! # fn main() -> cambium_cryptogen::Result<()> {
//! let network = generate(&CryptoConfig::default_network(), "crypto".as_ref(), GenerateOptions::default())?;
//! let org1 = network.org("Org1MSP").expect("the default network has Org1");
//! println!("peer TLS cert: {}", org1.nodes[0].tls_cert.display());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod cert;
mod config;
mod error;
mod network;
mod plan;
mod template;
mod write;

use std::fs;
use std::path::Path;

pub use config::{
    CaSpec, CryptoConfig, NodeSpec, NodeTemplate, OrgSpec, UsersSpec, DEFAULT_CONFIG_YAML,
};
pub use error::{CryptogenError, Result};
pub use network::{CaFiles, GeneratedNetwork, GeneratedOrg, Identity, OrgKind, Role};
pub use plan::{plan, MAX_NODES_PER_ORG, MAX_USERS_PER_ORG};

/// Prefix of the staging folder created inside the output folder while generating.
const STAGING_PREFIX: &str = ".cambium-crypto-";

/// How [`generate`] treats existing material.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Replace organisations whose folders already exist. Without it, generation refuses and
    /// names the first existing key or certificate. Replacing gives every identity a new key, so
    /// identities, channel configs and TLS trust built from the old material stop working.
    pub force: bool,
}

/// Generates all material for `config` under `out` and describes what it wrote.
///
/// Everything is checked before anything is written ([`plan`]). Organisations are generated in a
/// staging folder inside `out` and renamed into place only when all of them are complete, so an
/// error never leaves a half-written organisation behind; with `force`, replaced organisations are
/// restored if moving the new ones into place fails. Without `force`, an existing non-empty
/// organisation folder is an error ([`CryptogenError::AlreadyExists`]).
pub fn generate(
    config: &CryptoConfig,
    out: &Path,
    opts: GenerateOptions,
) -> Result<GeneratedNetwork> {
    let targets = plan::resolve(config, out)?;
    // Peer organisations first, the order cryptogen writes them in, so the first clash reported
    // is the one a cryptogen user would expect.
    let (peers, orderers): (Vec<_>, Vec<_>) =
        targets.iter().partition(|o| o.org.kind == OrgKind::Peer);
    for org in peers.into_iter().chain(orderers) {
        write::check_existing(&org.org, opts.force)?;
    }
    fs::create_dir_all(out).map_err(|e| CryptogenError::io("create folder", out, e))?;
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(out)
        .map_err(|e| CryptogenError::io("create a staging folder in", out, e))?;
    let staged_root = staging.path().join("new");
    let staged = plan::resolve(config, &staged_root)?;
    let validity = cert::Validity::from_now();
    for org in &staged {
        write::write_org(org, validity)?;
    }
    write::install(&staged, &targets, &staging.path().join("replaced"))?;
    let staging_path = staging.path().to_path_buf();
    staging
        .close()
        .map_err(|e| CryptogenError::io("remove the staging folder", staging_path, e))?;
    Ok(GeneratedNetwork {
        out_dir: out.to_path_buf(),
        orgs: targets.into_iter().map(|o| o.org).collect(),
    })
}
