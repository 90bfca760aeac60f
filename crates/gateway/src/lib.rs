//! Fabric's Gateway service (`gateway.Gateway`) for a Cambium peer: `Evaluate`, `Endorse`
//! (planning which orgs' peers must endorse from the contract's endorsement policy, calling
//! them and checking their responses agree), `Submit` (Broadcast to the channel's orderers
//! with failover), `CommitStatus` and `ChaincodeEvents`.
//!
//! The gateway does not own a ledger or an endorser: the peer that hosts it implements
//! [`PeerContext`], which gives the gateway the local endorser, the channel configuration,
//! committed contract definitions and the stream of committed blocks.
//!
//! - [`GatewayService`] (in [`service`]) serves the RPCs; build it with [`GatewayService::new`]
//!   and [`GatewayOptions`], then add [`GatewayService::into_server`] to a tonic server.
//! - [`plan`] turns a contract's endorsement policy into a smallest set of endorsing
//!   organisations.
//! - Endorsers of other organisations are the channel configuration's anchor peers, and
//!   orderers its orderer endpoints, dialled with each organisation's TLS root CAs from the
//!   channel configuration (plus [`TlsClientOptions::root_cas_pem`]). A peer running in the
//!   same process registers its Endorser service in [`colocated`], and is then called
//!   directly instead of over a loopback connection.

mod broadcast;
pub mod colocated;
mod connect;
mod endorse;
pub mod error;
mod events;
pub mod options;
pub mod plan;
pub mod service;

pub use colocated::{register_colocated_endorser, ColocatedEndorser, SharedEndorserService};
pub use connect::MAX_MESSAGE_SIZE;
pub use endorse::PEER_FAILURE_PREFIXES;
pub use error::{GatewayError, Result};
pub use events::EventStream;
pub use options::{ClientIdentity, GatewayOptions, TlsClientOptions};
pub use service::{GatewayService, READERS_POLICY};

use std::pin::Pin;
use std::sync::Arc;

use cambium_channel::ChannelConfig;
use cambium_endorser::Endorser;
use cambium_ledger::StoredBlock;
use cambium_primitives::TxValidationCode;
use cambium_validator::EndorsementPolicy;

/// A boxed future, as [`PeerContext`] returns them.
pub type BoxFuture<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A boxed stream, as [`PeerContext`] returns them.
pub type BoxStream<'a, T> = Pin<Box<dyn futures_core::Stream<Item = T> + Send + 'a>>;

/// Why the peer could not answer a gateway request; becomes a gRPC status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer has not joined the channel.
    #[error("channel '{0}' not found on this peer; join the peer to the channel first")]
    ChannelNotFound(String),
    /// The ledger failed; the message says what to check.
    #[error("{0}")]
    Ledger(String),
    /// The peer is stopping.
    #[error("the peer is shutting down")]
    ShuttingDown,
}

/// The outcome of a committed transaction, as `CommitStatus` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedTx {
    /// The validation code the committing peer recorded.
    pub code: TxValidationCode,
    /// The number of the block holding the transaction.
    pub block_number: u64,
}

/// What the gateway needs from the peer that hosts it.
pub trait PeerContext: Send + Sync + 'static {
    /// The MSP ID of the hosting peer's organisation.
    fn local_msp_id(&self) -> &str;

    /// The hosting peer's endorser.
    fn endorser(&self) -> Arc<Endorser>;

    /// The current configuration of `channel_id` (it changes when a config block commits).
    fn channel_config(&self, channel_id: &str) -> Result<Arc<ChannelConfig>, PeerError>;

    /// The endorsement policy of the contract `contract` as committed on `channel_id`, or
    /// `None` when no definition is committed under that name.
    fn endorsement_policy(
        &self,
        channel_id: &str,
        contract: &str,
    ) -> Result<Option<EndorsementPolicy>, PeerError>;

    /// Resolves once `tx_id` is committed on `channel_id` (at once if it already is).
    fn commit_status(
        &self,
        channel_id: &str,
        tx_id: &str,
    ) -> BoxFuture<'static, Result<CommittedTx, PeerError>>;

    /// The committed blocks of `channel_id` from number `start` on, in order, as stored
    /// (with their `TRANSACTIONS_FILTER`); the stream waits for new blocks and ends only when
    /// the peer stops.
    fn committed_blocks(
        &self,
        channel_id: &str,
        start: u64,
    ) -> Result<BoxStream<'static, Result<StoredBlock, PeerError>>, PeerError>;

    /// The number of blocks committed on `channel_id`.
    fn height(&self, channel_id: &str) -> Result<u64, PeerError>;

    /// The number of the block holding the committed transaction `tx_id` on `channel_id`, or
    /// `None` if it is not committed. `ChaincodeEvents` uses it for `after_transaction_id`.
    ///
    /// The default reads the committed blocks from the first; a peer with a transaction index
    /// should override it.
    fn transaction_block(
        &self,
        channel_id: &str,
        tx_id: &str,
    ) -> BoxFuture<'static, Result<Option<u64>, PeerError>> {
        let scan = self
            .height(channel_id)
            .and_then(|height| Ok((height, self.committed_blocks(channel_id, 0)?)));
        let tx_id = tx_id.to_owned();
        Box::pin(async move {
            let (height, mut blocks) = scan?;
            let mut seen = 0;
            while seen < height {
                let next = std::future::poll_fn(|cx| blocks.as_mut().poll_next(cx)).await;
                let Some(stored) = next else { break };
                let stored = stored?;
                seen = stored.number + 1;
                let number = stored.number;
                let found = cambium_wire::block::StoredBlockTransactions::decode(stored.bytes)
                    .map_err(|e| PeerError::Ledger(format!("block {number}: {e}")))?
                    .transactions
                    .iter()
                    .any(|t| t.tx_id == tx_id);
                if found {
                    return Ok(Some(number));
                }
            }
            Ok(None)
        })
    }
}
