//! The contract's own error: a deterministic status and message that goes on the ledger.

use std::fmt;

/// An error a contract returns to its caller, carried as Fabric's `Response{status, message}`.
///
/// Statuses follow Fabric's shim: 400–499 are "bad request" errors, 500 and above are errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    /// The response status, 400 or higher.
    pub status: i32,
    /// A message for the client; it must be deterministic (no addresses, clocks or randomness).
    pub message: String,
}

impl ContractError {
    /// A contract failure with status 500 (Fabric's `shim.Error`).
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_status(500, message)
    }

    /// A failure with an explicit status; values below 400 are raised to 500.
    pub fn with_status(status: i32, message: impl Into<String>) -> Self {
        let status = if status < 400 { 500 } else { status };
        ContractError {
            status,
            message: message.into(),
        }
    }

    /// A malformed call (status 400): wrong function, argument count or argument format.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::with_status(400, message)
    }

    /// Something the call named does not exist (status 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::with_status(404, message)
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (status {})", self.message, self.status)
    }
}

impl std::error::Error for ContractError {}

impl From<String> for ContractError {
    fn from(message: String) -> Self {
        ContractError::new(message)
    }
}

impl From<&str> for ContractError {
    fn from(message: &str) -> Self {
        ContractError::new(message)
    }
}
