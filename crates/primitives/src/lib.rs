//! Plain domain types shared by every Cambium crate.
//!
//! Nothing here knows protobuf: `cambium-wire` converts between these types and Fabric's
//! messages. Types are small, owned and comparable so that tests can build them by hand.

pub mod identity;
pub mod policy;

pub use identity::SerializedIdentity;
pub use policy::{
    ImplicitMetaPolicy, ImplicitMetaRule, MspRole, Principal, SignaturePolicy,
    SignaturePolicyEnvelope,
};
