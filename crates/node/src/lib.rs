//! Cambium's development network and the client tools that act on a network.
//!
//! - [`network`]: the data directory of `cambium up` (crypto material, channel, state file),
//!   created on the first start and reopened on later ones.
//! - [`ports`]: the loopback ports, their defaults and the check that they are free.
//! - [`profile`]: Fabric's common connection profile, written into the data directory and
//!   read by every command that acts on a network.
//! - [`generate`]: `cambium network generate`, a network of separate node processes (crypto,
//!   channel, one configuration per node, connection profiles, README).
//! - [`up`]: the running network of `cambium up` (orderer and peers in this process).
//! - [`admin`]: contract administration over Fabric's `_lifecycle` (install, approve, commit,
//!   queries); [`client`]: the Fabric client wire steps they and the load generator share.
//! - [`deploy`]: `cambium contract deploy` (package, install everywhere, approve, commit).
//! - [`upgrade`]: `cambium contract upgrade` and `rollout` (live upgrades, canary plans,
//!   the interface check against the committed definition).
//! - [`bench`]: the gateway load generator of `cambium bench gateway`.
//! - [`connect`]: gRPC connections (TLS, mutual TLS) to the nodes a profile lists.
//! - [`blocks`]: a channel's committed blocks read from a peer's Deliver, decoded per transaction;
//!   [`history`]: a contract's lifecycle events from those blocks (`cambium contract history`);
//!   [`replay`]: shadow replay of a contract's recent transactions against a new package.
//! - [`load`]: a pooled Gateway write client; [`upgrade_bench`]: `cambium bench upgrade`, a live
//!   upgrade with migration, canary, abort and promotion under that load.
//! - [`watch`]: `cambium contract rollout watch`, the automated brake that aborts a canary whose
//!   error rate on the peers' `/metrics` exceeds a limit.

#![warn(missing_docs)]

pub mod admin;
pub mod bench;
pub mod blocks;
pub mod chaininfo;
pub mod client;
pub mod connect;
pub mod deploy;
pub mod error;
pub mod generate;
pub mod governance;
pub mod history;
pub mod invoke;
pub mod load;
pub mod monitoring;
pub mod network;
pub mod ports;
pub mod profile;
pub mod replay;
pub mod up;
pub mod upgrade;
pub mod upgrade_bench;
pub mod watch;

pub use error::{NodeError, Result};
pub use network::{Network, NetworkState, CHANNEL_ID};
pub use ports::Ports;
pub use profile::ConnectionProfile;
pub use up::{DevNetwork, UpOptions};
