//! Plain domain types shared by every Cambium crate.
//!
//! Nothing here knows protobuf: `cambium-wire` converts between these types and Fabric's
//! messages. Types are small, owned and comparable so that tests can build them by hand.

pub mod chaincode;
pub mod deliver;
pub mod header;
pub mod identity;
pub mod policy;
pub mod rwset;
pub mod validation;

pub use chaincode::{ChaincodeEvent, ChaincodeResponse, Endorsement};
pub use deliver::{SeekBehavior, SeekContentType, SeekErrorResponse, SeekInfo, SeekPosition};
pub use header::{HeaderType, Timestamp};
pub use identity::SerializedIdentity;
pub use policy::{
    ImplicitMetaPolicy, ImplicitMetaRule, MspRole, Policy, Principal, SignaturePolicy,
    SignaturePolicyEnvelope,
};
pub use rwset::{
    CollectionHashedRwSet, KvMetadataEntry, KvMetadataWrite, KvRead, KvWrite, NsRwSet,
    RangeQueryInfo, RangeQueryReads, TxRwSet, Version,
};
pub use validation::TxValidationCode;
