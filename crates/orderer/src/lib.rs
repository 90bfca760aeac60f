//! The ordering service: Raft (openraft) per channel, block cutter, Fabric's AtomicBroadcast
//! (Broadcast and Deliver) and channel participation.
//!
//! - [`cutter`]: the pure block-cutting rules (MaxMessageCount, PreferredMaxBytes, timeout).
//! - [`block`]: block assembly and the orderer's signature in Fabric's metadata layout.
//! - `blocks`: the chain readers see (block store plus committed blocks still being written).
//! - [`raft`]: the channel's openraft types, its redb log store and the chain state machine.
//! - [`cluster`]: openraft RPCs between orderers over gRPC.
//! - [`service`]: the `orderer.AtomicBroadcast` gRPC service.
//! - [`node`]: an orderer node with its channels and gRPC endpoint.
//! - [`settings`]: what the orderer needs from a channel configuration.
//! - [`loadgen`]: the load generator of `cambium bench ordering`.
//! - [`update`]: channel config updates (CONFIG_UPDATE → a CONFIG block of its own).
//! - [`admin`]: the channel participation HTTP API; [`config`]: `orderer.yaml` and the runner.

pub mod admin;
pub mod block;
mod blocks;
mod chain;
pub mod client;
pub mod cluster;
pub mod config;
pub mod cutter;
mod deadline;
mod error;
pub mod loadgen;
pub mod node;
pub mod raft;
pub mod service;
pub mod settings;
pub mod status;
pub mod update;

pub use block::{assemble_block, block_signatures, sign_block, BlockSignatures};
/// The operations endpoint crate, for callers that set up logging or serve metrics.
pub use cambium_ops;
pub use config::{OrdererConfig, GENESIS_FILE};
pub use cutter::{BatchConfig, BlockCutter};
pub use error::{OrdererError, Result};
pub use node::{ChannelInfo, NodeConfig, NodeTls, OrdererNode, Server};
pub use settings::{ChannelSettings, Consenter, READERS, WRITERS};
pub use status::Rejection;
pub use update::ChannelState;
