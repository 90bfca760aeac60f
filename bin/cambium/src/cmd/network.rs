//! How commands that act on a running network find it: `--data-dir` (the default of
//! `cambium up`) or `--profile` (any Fabric connection profile).

use std::path::PathBuf;

use anyhow::bail;
use cambium_node::network::PROFILE_JSON;
use cambium_node::ConnectionProfile;
use clap::Args;

use super::up::DEFAULT_DATA_DIR;

#[derive(Debug, Clone, Args)]
pub(crate) struct NetworkArgs {
    /// The data directory of a network started with `cambium up`.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// A Fabric connection profile (JSON or YAML) to use instead of --data-dir.
    #[arg(long, value_name = "CCP")]
    pub(crate) profile: Option<PathBuf>,
}

impl NetworkArgs {
    /// The connection profile these flags point at.
    pub(crate) fn load(&self) -> anyhow::Result<ConnectionProfile> {
        if let Some(path) = &self.profile {
            return Ok(ConnectionProfile::load(path)?);
        }
        let dir = &self.data_dir;
        if !dir.is_dir() {
            bail!(
                "no network in {}: the folder does not exist; start one with `cambium up --data-dir {}` or pass --profile CCP",
                dir.display(),
                dir.display()
            );
        }
        let path = dir.join(PROFILE_JSON);
        if !path.is_file() {
            bail!(
                "no network in {}: it has no {PROFILE_JSON}; start one with `cambium up --data-dir {}` or pass --profile CCP",
                dir.display(),
                dir.display()
            );
        }
        Ok(ConnectionProfile::load(&path)?)
    }
}

/// A multi-threaded runtime for the network commands.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
