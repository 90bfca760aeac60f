//! Fabric's `common.Status` answers: a refused envelope or request with its reason.

use cambium_wire::common::Status;

/// Why Broadcast or Deliver refused a request: a Fabric status code and a message that says
/// what was wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The status code (never `SUCCESS`).
    pub status: Status,
    /// Human-readable reason.
    pub info: String,
}

impl Rejection {
    /// A rejection with `status`.
    pub fn new(status: Status, info: impl Into<String>) -> Self {
        Rejection {
            status,
            info: info.into(),
        }
    }

    /// `BAD_REQUEST`.
    pub fn bad_request(info: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, info)
    }

    /// `FORBIDDEN`.
    pub fn forbidden(info: impl Into<String>) -> Self {
        Self::new(Status::Forbidden, info)
    }

    /// `NOT_FOUND`.
    pub fn not_found(info: impl Into<String>) -> Self {
        Self::new(Status::NotFound, info)
    }

    /// `SERVICE_UNAVAILABLE`.
    pub fn unavailable(info: impl Into<String>) -> Self {
        Self::new(Status::ServiceUnavailable, info)
    }

    /// `INTERNAL_SERVER_ERROR`.
    pub fn internal(info: impl Into<String>) -> Self {
        Self::new(Status::InternalServerError, info)
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_str_name(), self.info)
    }
}
