//! Shared fixtures: a freshly generated default network with the sample channel YAML, and signers.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{ChannelConfig, ChannelSpec, DEFAULT_CHANNEL_YAML};
use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork};
use cambium_msp::policy::SignedData;
use cambium_msp::SigningIdentity;

/// A temporary folder with `crypto/` (the default network) and `channel.yaml` (the shipped
/// sample); removed when dropped.
pub(crate) struct Fixture {
    _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    pub(crate) network: GeneratedNetwork,
}

impl Fixture {
    /// Generates a fresh default network (new CAs every time).
    pub(crate) fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let network = cambium_cryptogen::generate(
            &CryptoConfig::default_network(),
            &dir.join("crypto"),
            GenerateOptions::default(),
        )
        .expect("the default network generates");
        std::fs::write(dir.join("channel.yaml"), DEFAULT_CHANNEL_YAML).unwrap();
        Fixture {
            _tmp: tmp,
            dir,
            network,
        }
    }

    /// The spec of the shipped sample YAML.
    pub(crate) fn spec(&self) -> ChannelSpec {
        yaml::load(&self.dir.join("channel.yaml"), &LoadOptions::default()).unwrap()
    }

    /// The config of the shipped sample YAML.
    pub(crate) fn config(&self) -> ChannelConfig {
        ChannelConfig::from_spec(&self.spec()).unwrap()
    }

    /// Writes `text` as a YAML file in this folder (so its relative paths resolve) and loads
    /// it.
    pub(crate) fn load_text(
        &self,
        name: &str,
        text: &str,
        options: &LoadOptions,
    ) -> cambium_channel::Result<ChannelSpec> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        yaml::load(&path, options)
    }
}

/// The signing identity of `user` (e.g. `User1@org1.example.com`) or node of an organisation.
pub(crate) fn signer(f: &Fixture, msp_id: &str, name: &str) -> SigningIdentity {
    let org = f.network.org(msp_id).unwrap();
    let id = org
        .users
        .iter()
        .chain(&org.nodes)
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no identity {name} in {msp_id}"));
    cambium_msp::load_signing_identity(&id.msp_dir, msp_id).unwrap()
}

/// `signer`'s signature over `data`.
pub(crate) fn signed(signer: &SigningIdentity, data: &[u8]) -> SignedData {
    SignedData {
        data: data.to_vec(),
        identity: signer.serialized(),
        signature: signer.sign(data).unwrap(),
    }
}

/// Now, in unix seconds (the certificates are valid from generation for ten years).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
