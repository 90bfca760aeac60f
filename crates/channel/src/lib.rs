//! Channel configuration: the config tree, configtx-style YAML, genesis blocks.
//!
//! - [`yaml`] reads a trimmed `configtx.yaml` (organisations with MSP folders and policies,
//!   the Raft orderer, batch settings, application policies including Cambium's
//!   `RolloutPromote` and `RolloutAbort`) into a [`ChannelSpec`].
//! - [`ChannelSpec::to_channel_group`] builds Fabric's config tree from it, exactly as
//!   `configtxgen` shapes it: `/Channel`, `/Channel/Orderer/<org>`,
//!   `/Channel/Application/<org>`, with their values and policies.
//! - [`ChannelConfig`] is a checked config tree with typed accessors (batch settings,
//!   consenters, endpoints, anchor peers, organisations), its [`cambium_msp::MspManager`], and
//!   policy evaluation over the tree ([`ChannelConfig::evaluate`]).
//! - [`genesis_block`] writes the genesis block as `common.Block` bytes (deterministically);
//!   [`ChannelConfig::from_config_block`] reads a config back from one.
//! - [`inspect`] summarises a config for people (`cambium channel inspect`) and scripts (JSON).
//!
//! Protobuf stays in `cambium-wire` (`cambium_wire::config`): this crate works on the plain
//! config tree types defined there.
//!
//! ```no_run
//! use cambium_channel::{genesis_block, yaml, ChannelConfig};
//! use cambium_primitives::Timestamp;
//! # fn main() -> cambium_channel::Result<()> {
//! let spec = yaml::load("channel.yaml".as_ref(), &yaml::LoadOptions::default())?;
//! let config = ChannelConfig::from_spec(&spec)?;
//! let block = genesis_block(&config, Timestamp { seconds: 1_700_000_000, nanos: 0 });
//! assert_eq!(ChannelConfig::from_config_block(&block)?, config);
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod duration;
pub mod error;
pub mod genesis;
pub mod inspect;
pub mod spec;
pub mod update;
pub mod yaml;

/// The timestamp type genesis blocks take.
pub use cambium_primitives::Timestamp;
pub use cambium_wire::config::{
    AnchorPeer, BatchSize, ConfigGroup, ConfigPolicy, ConfigValue, RaftConsenter, RaftOptions,
    Value,
};
pub use config::{ChannelConfig, OrdererEndpoint, OrgInfo};
pub use error::{ChannelError, Result};
pub use genesis::{genesis_block, inspect_config_block, ConfigBlockInfo};
pub use spec::{ApplicationSpec, ChannelSpec, OrdererSpec, OrgSpec};
pub use update::{compute_update, sign_update};

/// The sample channel YAML for `cambium crypto generate`'s default network, expecting the
/// crypto material in `crypto/` next to it (`cambium crypto generate --out crypto`).
pub const DEFAULT_CHANNEL_YAML: &str = include_str!("../examples/channel.yaml");
