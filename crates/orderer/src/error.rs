//! The orderer's error type.

/// Everything that can go wrong in the ordering service.
#[derive(Debug, thiserror::Error)]
pub enum OrdererError {
    /// A channel this orderer has not joined.
    #[error("channel '{0}' does not exist on this orderer; join it with its genesis block first")]
    ChannelNotFound(String),
    /// A join for a channel that is already joined.
    #[error("channel '{0}' is already joined; remove it first to join it again")]
    ChannelExists(String),
    /// A block that cannot be used as a genesis block or a settings value that is invalid.
    #[error("invalid channel configuration: {0}")]
    Config(String),
    /// The block store failed.
    #[error("block store: {0}")]
    Ledger(#[from] cambium_ledger::LedgerError),
    /// Signing or identity handling failed.
    #[error("identity: {0}")]
    Msp(#[from] cambium_msp::MspError),
    /// A message could not be decoded.
    #[error("message: {0}")]
    Wire(#[from] cambium_wire::WireError),
    /// The Raft log or vote store failed.
    #[error("raft store ({action}): {message}")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        message: String,
    },
    /// The Raft node failed or refused a request.
    #[error("raft: {0}")]
    Raft(String),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A network listener or connection failed.
    #[error("network: {0}")]
    Network(String),
}

impl OrdererError {
    pub(crate) fn store(action: &'static str, err: impl std::fmt::Display) -> Self {
        OrdererError::Store {
            action,
            message: err.to_string(),
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        OrdererError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result of orderer operations.
pub type Result<T, E = OrdererError> = std::result::Result<T, E>;
