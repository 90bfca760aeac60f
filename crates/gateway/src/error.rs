//! The gateway's error type, for what can go wrong outside a single RPC's status: settings
//! that cannot be used and policies that cannot be planned.
//!
//! Every RPC answers with a `tonic::Status` built the way Fabric's gateway builds it (see
//! [`crate::service`]); [`GatewayError`] is what the gateway's own building blocks return.

use thiserror::Error;

/// Result with [`GatewayError`].
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

/// Why the gateway could not set something up or plan an endorsement.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GatewayError {
    /// A TLS setting cannot be used.
    #[error(
        "invalid TLS settings for {target}: {reason}; check the CA and client certificate files"
    )]
    Tls {
        /// The peer or orderer address the TLS settings were for.
        target: String,
        /// What was wrong.
        reason: String,
    },
    /// An address from the channel configuration cannot be dialled.
    #[error(
        "cannot dial '{address}': {reason}; fix the channel's anchor peers or orderer endpoints"
    )]
    Address {
        /// The address as configured.
        address: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The endorsement policy cannot be turned into a plan.
    #[error("{0}")]
    Planning(String),
}
