//! The peer node's errors: configuration, identities, TLS material, ledgers, channels and the
//! network. Each message says what was wrong and what to do.

use std::path::PathBuf;

/// Why the peer could not start, join a channel or serve.
#[derive(Debug, thiserror::Error)]
pub enum PeerNodeError {
    /// The peer configuration is invalid.
    #[error("peer configuration: {0}")]
    Config(String),

    /// A file named by the configuration could not be read.
    #[error("cannot read {what} at {}: {source}; check the path in the peer configuration", path.display())]
    ReadFile {
        /// What the file is for, e.g. "the TLS certificate".
        what: &'static str,
        /// The path as resolved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The peer's signing identity could not be loaded.
    #[error("cannot load the peer's signing identity from {}: {source}; point msp.dir at a local MSP folder with signcerts/ and keystore/", dir.display())]
    Identity {
        /// The MSP folder.
        dir: PathBuf,
        /// The MSP error.
        #[source]
        source: cambium_msp::MspError,
    },

    /// A channel's ledger failed.
    #[error("ledger of channel '{channel}': {source}")]
    Ledger {
        /// The channel.
        channel: String,
        /// The ledger error.
        #[source]
        source: cambium_ledger::LedgerError,
    },

    /// A block that should be a channel's genesis or config block is not usable.
    #[error("{0}")]
    Channel(String),

    /// The peer has already joined this channel.
    #[error("the peer has already joined channel '{0}'; nothing to do")]
    AlreadyJoined(String),

    /// The contract VM could not start.
    #[error("cannot start the contract VM: {0}")]
    Vm(String),

    /// Binding or serving the gRPC listener failed.
    #[error("network: {0}")]
    Network(String),

    /// Writing the peer's data folder failed.
    #[error("I/O error while {action} {}: {source}; check the disk (space, permissions)", path.display())]
    Io {
        /// What the peer was doing.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl PeerNodeError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PeerNodeError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn ledger(channel: &str, source: cambium_ledger::LedgerError) -> Self {
        PeerNodeError::Ledger {
            channel: channel.to_owned(),
            source,
        }
    }
}

/// The peer node's result type.
pub type Result<T, E = PeerNodeError> = std::result::Result<T, E>;
