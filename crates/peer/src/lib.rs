//! The Cambium peer node: one process-level object that joins channels, keeps their ledgers
//! up to date from the orderers, and serves the peer's gRPC services.
//!
//! - [`Peer::start`] / [`Peer::start_with`] take a [`PeerConfig`] (YAML-loadable, see
//!   [`config`]) and return a [`PeerHandle`]: the bound address, [`PeerHandle::join_channel`]
//!   from a genesis block (persisted: a restart reopens every channel under
//!   `<data>/ledgers/`), and [`PeerHandle::shutdown`].
//! - One gRPC server (TLS when configured, ALPN `h2`) serves `protos.Endorser`
//!   ([`cambium_endorser::EndorserService`]), `protos.Deliver` ([`deliver`]) and
//!   `gateway.Gateway` ([`cambium_gateway::GatewayService`], or a [`PeerPlugins::gateway`]
//!   mount).
//! - Contracts and endorsement policies come from `_lifecycle` by default (packages in
//!   `<data>/packages`); [`PeerPlugins`] can replace both (tests use a fixed registry).
//! - Per channel, a [`committer`] pulls blocks over Deliver with failover, checks the
//!   orderer signature against `/Channel/Orderer/BlockValidation`, validates with
//!   [`cambium_validator::validate_block`] (endorsement policies from a [`PolicySource`]),
//!   commits, and announces the block. A valid CONFIG transaction changes the channel
//!   configuration the endorser, validator, Deliver ACLs and Gateway use from the next block.
//! - The announcement hub answers commit-status waits (registered before the ledger is
//!   checked, so no commit is missed) and streams committed blocks from any height; it keeps
//!   no blocks in memory, so slow subscribers catch up from the ledger. [`PeerNode`]
//!   implements [`cambium_gateway::PeerContext`] over it.
//! - The operations endpoint (`operations` in the configuration, [`cambium_ops`]) serves
//!   `/healthz` (per channel: ledger readable, committer not stalled, orderers reachable),
//!   `/metrics` (heights, transactions by validation code, commit and endorsement latency,
//!   contract-version invocations, Gateway calls, Deliver blocks), `/version` and `/logspec`
//!   ([`PeerPlugins::log`]).
//! - [`PeerNode::committer_status`] reports each committer's state, including
//!   [`CommitterState::Stalled`] with the reason when a block could not be committed.

mod channel;
pub mod committer;
pub mod config;
mod context;
pub mod deliver;
pub mod error;
mod node;
mod ops;
mod tls;

/// The operations endpoint crate, for callers that set up logging or read metrics.
pub use cambium_ops;
pub use channel::{CommitterState, CommitterStatus};
pub use config::{GatewaySection, Limits, MspSection, OrdererSection, PeerConfig, TlsSection};
pub use error::{PeerNodeError, Result};
pub use node::{
    join_offline, ledger_dir, ContractSource, GatewayMount, LifecyclePolicySource, Peer,
    PeerHandle, PeerNode, PeerPlugins, PolicySource, LEDGERS_DIR, PACKAGES_DIR, VM_CACHE_DIR,
};
