//! The TLS domain's error type.

use std::path::PathBuf;

/// What went wrong loading TLS material or checking a peer; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file or folder could not be read.
    #[error("reading {}: {reason}; check the path in the TLS settings", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Bytes that should hold certificates do not.
    #[error("{source_name}: {reason}; give a PEM file of X.509 certificates")]
    BadCertificate {
        /// Where the bytes came from (a path or a description).
        source_name: String,
        /// Why they were refused.
        reason: String,
    },
    /// Bytes that should hold a private key do not.
    #[error("{source_name}: no usable private key: {reason}; give the PEM key that belongs to the TLS certificate (e.g. tls/server.key)")]
    BadKey {
        /// Where the bytes came from.
        source_name: String,
        /// Why they were refused.
        reason: String,
    },
    /// The key is not the certificate's key.
    #[error("the key in {key} does not belong to the certificate in {cert} ({reason}); use the key generated with that certificate")]
    KeyMismatch {
        /// The certificate's source.
        cert: String,
        /// The key's source.
        key: String,
        /// rustls' reason.
        reason: String,
    },
    /// A trust set is empty where one is needed.
    #[error("no trusted CA certificates for {what}; list at least one TLS CA certificate (e.g. tls/ca.crt)")]
    NoRoots {
        /// What the roots were for.
        what: String,
    },
    /// An address could not be made into an endpoint.
    #[error("bad address '{addr}': {reason}; use host:port")]
    BadAddress {
        /// The address as given.
        addr: String,
        /// Why.
        reason: String,
    },
    /// tonic refused the TLS settings.
    #[error("TLS settings refused: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
    /// A peer's certificate is not trusted.
    #[error("{reason}")]
    Untrusted {
        /// Why.
        reason: String,
    },
}

/// Result of TLS operations.
pub type Result<T, E = TlsError> = std::result::Result<T, E>;
