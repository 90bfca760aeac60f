//! The endorser's error type.
//!
//! Most refusals are not errors at this level: Fabric's endorser answers them with a
//! `ProposalResponse` carrying `Response{500, message}`, and so does
//! [`crate::Endorser::process_proposal`]. [`EndorserError`] covers what Fabric answers with a
//! gRPC error instead, and failures to set up an endorser.

use thiserror::Error;

/// Result with [`EndorserError`].
pub type Result<T, E = EndorserError> = std::result::Result<T, E>;

/// What stops the endorser from producing a proposal response at all.
#[derive(Debug, Error)]
pub enum EndorserError {
    /// The client's certificate expired before the proposal was received (Fabric's
    /// expiration filter answers this with a gRPC error, before the endorser runs).
    #[error("proposal client identity expired at unix time {expired_at}; renew the client's enrollment certificate")]
    IdentityExpired {
        /// When the certificate stopped being valid (unix seconds).
        expired_at: i64,
    },
    /// The peer's signing identity cannot be serialized or used.
    #[error("the peer's signing identity cannot be used: {reason}; check the peer's MSP folder")]
    Signer {
        /// What failed.
        reason: String,
    },
    /// A simulation thread was lost (panicked or cancelled).
    #[error("the endorsement task did not finish: {reason}")]
    Task {
        /// What the runtime reported.
        reason: String,
    },
}
