//! The operations endpoint's errors: its configuration, TLS material, the listener and log
//! filter specifications. Each message says what was wrong and what to do.

use std::path::PathBuf;

/// Why the operations endpoint could not start or a request could not be honoured.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The listen address is not an IP address and port.
    #[error("operations listenAddress '{address}' is not an IP address and port ({reason}); write it like 127.0.0.1:9443")]
    Address {
        /// The address as configured.
        address: String,
        /// Why it does not parse.
        reason: String,
    },

    /// The listener could not be bound.
    #[error(
        "cannot listen for operations on {address}: {source}; is another process using the port?"
    )]
    Bind {
        /// The address.
        address: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The TLS settings are incomplete or their files are unusable.
    #[error("operations TLS: {0}")]
    Tls(String),

    /// A key file could not be read.
    #[error("cannot read the operations TLS key {}: {reason}; check operations.tls.key", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A log filter specification does not parse.
    #[error("log spec '{spec}' is not valid: {reason}; write directives like 'info' or 'cambium_peer=debug,info'")]
    LogSpec {
        /// The specification.
        spec: String,
        /// The parser's complaint.
        reason: String,
    },

    /// An operations endpoint could not be read (see [`crate::client::get`]).
    #[error("cannot read the operations endpoint {url}: {reason}")]
    Scrape {
        /// The endpoint as given.
        url: String,
        /// What went wrong and what to do.
        reason: String,
    },

    /// The logging subscriber could not be installed or changed.
    #[error("logging: {0}")]
    Logging(String),
}

/// The operations endpoint's result type.
pub type Result<T, E = OpsError> = std::result::Result<T, E>;
