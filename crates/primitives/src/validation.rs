//! Transaction validation codes (`protos.TxValidationCode`) as a plain enum.
//!
//! The numeric values are Fabric's: they are written one byte per transaction into a block's
//! `TRANSACTIONS_FILTER` metadata and returned by the Gateway's `CommitStatus`.

use std::fmt;

macro_rules! validation_codes {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal => $name:literal, )*) => {
        /// Why a transaction in a block is valid or not (`protos.TxValidationCode`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum TxValidationCode {
            $( $(#[$doc])* $variant = $value, )*
        }

        impl TxValidationCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [TxValidationCode] = &[$(TxValidationCode::$variant,)*];

            /// The code's numeric value, as stored in `TRANSACTIONS_FILTER`.
            pub fn as_u8(self) -> u8 {
                self as u8
            }

            /// The code with this numeric value, or `None` if Fabric defines no such code.
            pub fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(TxValidationCode::$variant), )*
                    _ => None,
                }
            }

            /// Fabric's name of the code, e.g. `MVCC_READ_CONFLICT`.
            pub fn name(self) -> &'static str {
                match self {
                    $( TxValidationCode::$variant => $name, )*
                }
            }

            /// The code with this Fabric name, or `None` if there is none.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $name => Some(TxValidationCode::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

validation_codes! {
    /// The transaction is valid and its writes were applied.
    Valid = 0 => "VALID",
    /// The envelope was empty.
    NilEnvelope = 1 => "NIL_ENVELOPE",
    /// The payload could not be decoded.
    BadPayload = 2 => "BAD_PAYLOAD",
    /// The header could not be decoded or is incomplete.
    BadCommonHeader = 3 => "BAD_COMMON_HEADER",
    /// The creator's signature over the payload is invalid.
    BadCreatorSignature = 4 => "BAD_CREATOR_SIGNATURE",
    /// The endorser transaction is malformed (e.g. proposal hash mismatch).
    InvalidEndorserTransaction = 5 => "INVALID_ENDORSER_TRANSACTION",
    /// The configuration transaction is invalid.
    InvalidConfigTransaction = 6 => "INVALID_CONFIG_TRANSACTION",
    /// The payload type is not supported.
    UnsupportedTxPayload = 7 => "UNSUPPORTED_TX_PAYLOAD",
    /// The transaction ID does not match the nonce and creator.
    BadProposalTxid = 8 => "BAD_PROPOSAL_TXID",
    /// The transaction ID was already committed or appears earlier in the block.
    DuplicateTxid = 9 => "DUPLICATE_TXID",
    /// The endorsements do not satisfy the endorsement policy.
    EndorsementPolicyFailure = 10 => "ENDORSEMENT_POLICY_FAILURE",
    /// A key read has changed since it was read.
    MvccReadConflict = 11 => "MVCC_READ_CONFLICT",
    /// A range query would now return different keys.
    PhantomReadConflict = 12 => "PHANTOM_READ_CONFLICT",
    /// The header type is unknown.
    UnknownTxType = 13 => "UNKNOWN_TX_TYPE",
    /// The channel does not exist.
    TargetChainNotFound = 14 => "TARGET_CHAIN_NOT_FOUND",
    /// The transaction could not be decoded.
    MarshalTxError = 15 => "MARSHAL_TX_ERROR",
    /// The transaction has no action.
    NilTxaction = 16 => "NIL_TXACTION",
    /// The chaincode version has expired.
    ExpiredChaincode = 17 => "EXPIRED_CHAINCODE",
    /// The chaincode version conflicts with the committed one.
    ChaincodeVersionConflict = 18 => "CHAINCODE_VERSION_CONFLICT",
    /// The header extension is malformed.
    BadHeaderExtension = 19 => "BAD_HEADER_EXTENSION",
    /// The channel header is malformed.
    BadChannelHeader = 20 => "BAD_CHANNEL_HEADER",
    /// The response payload is malformed.
    BadResponsePayload = 21 => "BAD_RESPONSE_PAYLOAD",
    /// The read/write set is malformed.
    BadRwset = 22 => "BAD_RWSET",
    /// The write set is not allowed (e.g. a repeated namespace).
    IllegalWriteset = 23 => "ILLEGAL_WRITESET",
    /// The write set is invalid.
    InvalidWriteset = 24 => "INVALID_WRITESET",
    /// The chaincode ID in the action is missing or wrong.
    InvalidChaincode = 25 => "INVALID_CHAINCODE",
    /// The transaction has not been validated yet.
    NotValidated = 254 => "NOT_VALIDATED",
    /// The transaction is invalid for another reason.
    InvalidOtherReason = 255 => "INVALID_OTHER_REASON",
}

impl TxValidationCode {
    /// Whether the transaction's writes were applied.
    pub fn is_valid(self) -> bool {
        self == TxValidationCode::Valid
    }
}

impl fmt::Display for TxValidationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_number_and_name() {
        assert_eq!(TxValidationCode::ALL.len(), 28);
        for &code in TxValidationCode::ALL {
            assert_eq!(TxValidationCode::from_u8(code.as_u8()), Some(code));
            assert_eq!(TxValidationCode::from_name(code.name()), Some(code));
        }
    }

    #[test]
    fn values_match_fabric() {
        assert_eq!(TxValidationCode::MvccReadConflict.as_u8(), 11);
        assert_eq!(TxValidationCode::InvalidChaincode.as_u8(), 25);
        assert_eq!(TxValidationCode::NotValidated.as_u8(), 254);
        assert_eq!(TxValidationCode::InvalidOtherReason.as_u8(), 255);
        assert_eq!(TxValidationCode::from_u8(26), None);
        assert_eq!(TxValidationCode::from_u8(253), None);
        assert_eq!(
            TxValidationCode::EndorsementPolicyFailure.to_string(),
            "ENDORSEMENT_POLICY_FAILURE"
        );
        assert!(TxValidationCode::Valid.is_valid());
        assert!(!TxValidationCode::DuplicateTxid.is_valid());
    }
}
