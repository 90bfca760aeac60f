//! The error type of every fallible decoding and conversion in this crate.

/// What was malformed in bytes or messages received from the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Bytes could not be decoded as the named protobuf message.
    #[error("malformed {message}: {source}; the bytes are not a valid Fabric {message}")]
    Decode {
        /// The Fabric message the bytes should hold, e.g. `common.ChannelHeader`.
        message: &'static str,
        /// What the protobuf decoder reported.
        #[source]
        source: prost::DecodeError,
    },
    /// A field that must be set is missing.
    #[error("{message}.{field} is missing; a Fabric {message} must set it")]
    MissingField {
        /// The Fabric message, e.g. `common.Payload`.
        message: &'static str,
        /// The field, e.g. `header`.
        field: &'static str,
    },
    /// An enum field holds a number Fabric does not define.
    #[error("{field} is {value}, which is not a defined {enum_name} value")]
    UnknownEnumValue {
        /// The field holding the value.
        field: &'static str,
        /// The protobuf enum, e.g. `common.MSPRole.MSPRoleType`.
        enum_name: &'static str,
        /// The value received.
        value: i32,
    },
    /// A count or index that must not be negative is negative.
    #[error("{field} is {value}; it must be zero or more")]
    Negative {
        /// The field, e.g. `common.SignaturePolicy.NOutOf.n`.
        field: &'static str,
        /// The value received.
        value: i32,
    },
    /// An MSP principal of a kind Cambium does not support (anonymity, combined).
    #[error(
        "MSP principal classification {classification} is not supported; \
         use ROLE, ORGANIZATION_UNIT or IDENTITY principals"
    )]
    UnsupportedPrincipal {
        /// The classification's Fabric name.
        classification: &'static str,
    },
    /// A `common.Policy` of a type that has no domain representation.
    #[error(
        "policy type {policy_type} is not supported; \
         use a SIGNATURE (1) or IMPLICIT_META (3) policy"
    )]
    UnsupportedPolicyType {
        /// The `Policy.type` received.
        policy_type: i32,
    },
    /// A transaction inside a block is malformed.
    #[error("transaction {index} of block {block}: {source}")]
    InBlock {
        /// The block number.
        block: u64,
        /// The transaction's index in the block.
        index: usize,
        /// What was malformed.
        #[source]
        source: Box<WireError>,
    },
}

impl WireError {
    /// A [`WireError::Decode`] for `message`.
    pub(crate) fn decode(message: &'static str) -> impl FnOnce(prost::DecodeError) -> WireError {
        move |source| WireError::Decode { message, source }
    }
}

/// The result of decoding or converting wire data.
pub type Result<T, E = WireError> = std::result::Result<T, E>;
