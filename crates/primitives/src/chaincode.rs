//! What a chaincode call produces and what endorsers sign: responses, events, endorsements.

/// Fabric's status for a successful chaincode response (`shim.OK`).
pub const STATUS_OK: i32 = 200;
/// Responses with a status at or above this are errors (`shim.ERRORTHRESHOLD`).
pub const STATUS_ERROR_THRESHOLD: i32 = 400;
/// Fabric's status for a failed chaincode call (`shim.ERROR`).
pub const STATUS_ERROR: i32 = 500;

/// A chaincode's response, like an HTTP response (`protos.Response`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChaincodeResponse {
    /// 200 for success; 400 and above are errors.
    pub status: i32,
    /// A message, usually set on errors.
    pub message: String,
    /// The result returned to the client.
    pub payload: Vec<u8>,
}

impl ChaincodeResponse {
    /// A successful response carrying `payload`.
    pub fn ok(payload: Vec<u8>) -> Self {
        ChaincodeResponse {
            status: STATUS_OK,
            message: String::new(),
            payload,
        }
    }

    /// An error response with status 500 and `message`.
    pub fn error(message: impl Into<String>) -> Self {
        ChaincodeResponse {
            status: STATUS_ERROR,
            message: message.into(),
            payload: Vec::new(),
        }
    }

    /// Whether the status is below the error threshold (Fabric endorses such responses).
    pub fn is_success(&self) -> bool {
        self.status < STATUS_ERROR_THRESHOLD
    }
}

/// An event set by a chaincode during a transaction (`protos.ChaincodeEvent`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChaincodeEvent {
    /// The chaincode name (set by the peer).
    pub chaincode_id: String,
    /// The transaction ID (set by the peer).
    pub tx_id: String,
    /// The event's name, chosen by the chaincode.
    pub event_name: String,
    /// The event's payload; stripped in filtered blocks.
    pub payload: Vec<u8>,
}

/// A peer's endorsement: its serialized identity and its signature over the proposal response
/// payload bytes followed by the endorser bytes (`protos.Endorsement`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endorsement {
    /// The endorser's `msp.SerializedIdentity` bytes.
    pub endorser: Vec<u8>,
    /// The signature over `proposal_response_payload ‖ endorser`.
    pub signature: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_below_the_error_threshold() {
        assert!(ChaincodeResponse::ok(b"x".to_vec()).is_success());
        assert!(ChaincodeResponse {
            status: 399,
            ..Default::default()
        }
        .is_success());
        assert!(!ChaincodeResponse {
            status: 400,
            ..Default::default()
        }
        .is_success());
        let err = ChaincodeResponse::error("boom");
        assert!(!err.is_success());
        assert_eq!(err.status, 500);
        assert_eq!(err.message, "boom");
    }
}
