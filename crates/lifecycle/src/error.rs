//! The lifecycle's error type: every refusal of a `_lifecycle` function, with the response
//! status Fabric gives it ([`LifecycleError::status`]).

use thiserror::Error;

/// Result with [`LifecycleError`].
pub type Result<T, E = LifecycleError> = std::result::Result<T, E>;

/// Why a `_lifecycle` function refused or failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LifecycleError {
    /// No definition is committed under this name (status 404).
    #[error("namespace {name} is not defined; commit a chaincode definition for '{name}' first")]
    Undefined {
        /// The contract name.
        name: String,
    },
    /// No package is installed with this ID (status 404).
    #[error("chaincode install package '{package_id}' not found; install it on this peer first (QueryInstalledChaincodes lists what is installed)")]
    PackageNotFound {
        /// The package ID asked for.
        package_id: String,
    },
    /// The arguments are malformed or contradict each other.
    #[error("{0}")]
    BadArguments(String),
    /// A sequence that is not the one the rules allow.
    #[error(
        "requested sequence is {requested}, but new definition must be sequence {expected}; {hint}"
    )]
    Sequence {
        /// The sequence asked for.
        requested: i64,
        /// The sequence the rule expects.
        expected: i64,
        /// What to do.
        hint: String,
    },
    /// A rule refused the call (redefinition, missing approval, wrong org, ...).
    #[error("{0}")]
    Refused(String),
    /// Reading state, or the package store, failed.
    #[error("{0}")]
    Storage(String),
}

impl LifecycleError {
    /// The `Response.status` Fabric answers this with: 404 for an undefined namespace or a
    /// missing package, 500 otherwise.
    pub fn status(&self) -> i32 {
        match self {
            LifecycleError::Undefined { .. } | LifecycleError::PackageNotFound { .. } => 404,
            _ => 500,
        }
    }
}
