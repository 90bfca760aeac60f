//! The one error type of this crate and its `Result` alias.

use std::path::PathBuf;

/// Result of every fallible operation in `cambium-cryptogen`.
pub type Result<T, E = CryptogenError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a crypto config or writing crypto material.
///
/// Each message says what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CryptogenError {
    /// The YAML could not be parsed or has an unknown key or a value of the wrong type.
    #[error(
        "invalid crypto config: {message}; fix that key or value (`cambium crypto default-config` prints a complete example with every accepted key)"
    )]
    ConfigSyntax {
        /// The parser's description, including the key path and the line where it knows them.
        message: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column of the problem, when known.
        column: Option<usize>,
    },

    /// The YAML parsed, but a value is not acceptable (empty name, bad template, duplicate host, …).
    #[error("invalid crypto config at {key}: {problem}")]
    ConfigValue {
        /// Where in the config, e.g. `PeerOrgs[0] (Org1).Domain`.
        key: String,
        /// What is wrong and what to do.
        problem: String,
    },

    /// A file or folder that generation would write already exists.
    #[error(
        "{} already exists: organisation {org} already has crypto material in this folder; to add another organisation give it a Name and Domain of its own, or pass --force to replace {org}'s material (its existing identities will stop working)",
        path.display()
    )]
    AlreadyExists {
        /// The first existing key, certificate or organisation folder found.
        path: PathBuf,
        /// The organisation (`Name (Domain)`) whose material is there.
        org: String,
    },

    /// Reading or writing the file system failed.
    #[error("could not {action} {}: {source}; check the path and its permissions", path.display())]
    Io {
        /// What was being done, e.g. `write`, `create folder`.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// rcgen refused to build a certificate from the resolved parameters.
    #[error("could not create the certificate for {subject}: {source}; check the names and SANS configured for it")]
    Certificate {
        /// Common name of the certificate being built.
        subject: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// The system random generator or the signer failed.
    #[error("could not {action}: the system's cryptographic random source or signer failed; retry, and check that /dev/urandom is readable")]
    Crypto {
        /// What was being done.
        action: &'static str,
    },
}

impl CryptogenError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn value(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::ConfigValue {
            key: key.into(),
            problem: problem.into(),
        }
    }
}
