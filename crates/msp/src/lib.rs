//! Identities, signing, verification, MSP folders and signature policies.
//!
//! - [`signer`] and [`verify`]: ECDSA P-256 over SHA-256 with DER, low-S signatures, exactly as
//!   Fabric signs and checks them (backend: `ring`, chosen by the `ecdsa` bench).
//! - [`identity`]: X.509 certificates, validated [`Identity`]s and [`SigningIdentity`]s.
//! - [`msp`]: [`MspConfig`] (also read from Fabric's MSP folder layout), [`Msp`] validation with
//!   chains, CRLs and NodeOUs, and the [`MspManager`] of a channel.
//! - [`policy`]: Fabric's signature policy language, its evaluation over signed data, and
//!   implicit meta policies over a policy tree.

pub mod error;
pub mod identity;
pub mod msp;
pub mod policy;
pub mod signer;
pub(crate) mod verified;
pub mod verify;

pub use error::{MspError, Result};
pub use identity::{check_well_formed, Certificate, Identity, OuIdentifier, SigningIdentity};
pub use msp::{
    load_signing_identity, Msp, MspConfig, MspManager, NodeOusConfig, OuIdentifierConfig,
};
pub use signer::{random_bytes, PrivateKey};
pub use verify::{verify_signature, verify_uncached, Curve};
