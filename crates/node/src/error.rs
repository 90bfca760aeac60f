//! The one error type of this crate: what went wrong while setting up, running or talking to a
//! development network, each variant saying what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong in `cambium-node`.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A port the network needs is taken by another process.
    #[error("port {port} is in use; pass {flag} PORT (or --base-port) or stop the other process")]
    PortInUse {
        /// The port.
        port: u16,
        /// The command-line flag that moves it.
        flag: &'static str,
    },
    /// The data directory exists but is not (or no longer) a Cambium network.
    #[error("{}: {reason}", dir.display())]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The connection profile is missing, unreadable or incomplete.
    #[error("connection profile {}: {reason}", path.display())]
    Profile {
        /// The profile file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A name given on the command line is not in the network.
    #[error("{what} '{name}' is not in this network; known: {known}")]
    Unknown {
        /// What kind of thing (organization, peer, user).
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", …).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating crypto material failed.
    #[error("generating crypto material: {0}")]
    Crypto(#[from] cambium_cryptogen::CryptogenError),
    /// Building the channel failed.
    #[error("building channel configuration: {0}")]
    Channel(#[from] cambium_channel::ChannelError),
    /// Loading or using an identity failed.
    #[error("identity: {0}")]
    Msp(#[from] cambium_msp::MspError),
    /// The orderer failed.
    #[error("orderer: {0}")]
    Orderer(#[from] cambium_orderer::OrdererError),
    /// A protobuf message could not be decoded.
    #[error("decoding a reply: {0}")]
    Wire(#[from] cambium_wire::WireError),
    /// A contract package could not be built or read.
    #[error("contract package: {0}")]
    Package(String),
    /// Connecting to a node failed.
    #[error("cannot reach {endpoint}: {reason}; is the network running (`cambium up`)?")]
    Connect {
        /// The `host:port` or URL.
        endpoint: String,
        /// The cause.
        reason: String,
    },
    /// A node answered a call with a gRPC error.
    #[error("{endpoint} refused {call}: {message}")]
    Rpc {
        /// The node.
        endpoint: String,
        /// The call, e.g. `ProcessProposal`.
        call: &'static str,
        /// The status and message the node sent.
        message: String,
    },
    /// A peer or orderer said no, with its own message.
    #[error("{0}")]
    Rejected(String),
    /// Something did not happen in time.
    #[error("timed out after {seconds:.1} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: f64,
    },
}

impl NodeError {
    /// An [`NodeError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> NodeError {
        NodeError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A [`NodeError::DataDir`] for `dir`.
    pub fn data_dir(dir: impl Into<PathBuf>, reason: impl Into<String>) -> NodeError {
        NodeError::DataDir {
            dir: dir.into(),
            reason: reason.into(),
        }
    }
}

/// This crate's result type.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
