//! The error type of identities, keys, signatures and MSPs.
//!
//! Every message says what was wrong and what to do about it, because these errors end up in
//! front of operators (a peer refusing a client, `cambium` refusing an MSP folder).

use std::path::PathBuf;

/// A failure of `cambium-msp` outside the policy language (see [`crate::policy::PolicyError`]).
#[derive(Debug, thiserror::Error)]
pub enum MspError {
    /// Bytes that should hold a PEM block do not.
    #[error("{what} is not valid PEM ({reason}); expected a '-----BEGIN {expected}-----' block")]
    MalformedPem {
        /// What was being read, e.g. "the identity's certificate".
        what: String,
        /// Why decoding failed.
        reason: String,
        /// The PEM label that was expected.
        expected: &'static str,
    },
    /// A DER certificate, CRL or key that does not parse.
    #[error(
        "{what} could not be parsed: {reason}; check that it is an X.509 {kind} in PEM or DER form"
    )]
    MalformedDer {
        /// What was being read.
        what: String,
        /// Why parsing failed.
        reason: String,
        /// "certificate", "CRL" or "private key".
        kind: &'static str,
    },
    /// A key or certificate uses an algorithm Cambium does not support.
    #[error("{what} uses {found}; Cambium verifies ECDSA P-256 and P-384 keys and signs with P-256: regenerate it with an EC P-256 key")]
    UnsupportedAlgorithm {
        /// What was being read.
        what: String,
        /// The algorithm or curve found.
        found: String,
    },
    /// A signature that is not a strict DER `ECDSA-Sig-Value`.
    #[error("signature is not a DER-encoded ECDSA signature ({reason}); Fabric signatures are DER SEQUENCE {{ r INTEGER, s INTEGER }}")]
    NonDerSignature {
        /// What is wrong with the encoding.
        reason: String,
    },
    /// A signature whose S is above half the curve order.
    #[error("signature has a high S value; Fabric requires low-S signatures: re-sign with a Fabric-compatible signer")]
    HighS,
    /// A well-formed signature that does not verify.
    #[error("signature verification failed{context}: the signature was not made by this identity's key over these bytes")]
    InvalidSignature {
        /// Who was expected to have signed, e.g. " for 'CN=peer0' of Org1MSP"; may be empty.
        context: String,
    },
    /// The system random number generator failed while signing.
    #[error("signing failed: the system random number generator is unavailable")]
    Rng,
    /// A private key that is not the key of the certificate it is paired with.
    #[error("private key does not match certificate '{subject}': the key belongs to another certificate; use the key that was generated with this certificate")]
    KeyMismatch {
        /// The certificate's subject.
        subject: String,
    },
    /// A private key that ring refuses (wrong curve, corrupt, unsupported PKCS#8 form).
    #[error("{what} is not a usable EC P-256 private key ({reason}); expected PKCS#8 'PRIVATE KEY' or SEC1 'EC PRIVATE KEY' PEM")]
    BadPrivateKey {
        /// What was being read.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// A file or folder of an MSP directory could not be read.
    #[error("cannot read {path}: {source}; check the MSP folder layout (cacerts/, signcerts/, keystore/, …)")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An MSP folder that lacks something it must have.
    #[error("MSP folder {path}: {problem}")]
    BadFolder {
        /// The folder.
        path: PathBuf,
        /// What is missing or wrong, and what to do.
        problem: String,
    },
    /// `config.yaml` of an MSP folder is not valid.
    #[error("{path} is not a valid MSP config.yaml: {reason}")]
    BadConfigYaml {
        /// The file.
        path: PathBuf,
        /// The YAML error.
        reason: String,
    },
    /// An MSP configuration that cannot be set up.
    #[error("MSP {msp_id} is misconfigured: {problem}")]
    BadConfig {
        /// The MSP ID.
        msp_id: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A serialized identity that names another MSP than the one asked to validate it.
    #[error(
        "identity belongs to MSP '{found}', not to {expected}; send it to the MSP that issued it"
    )]
    WrongMsp {
        /// The MSP that was asked.
        expected: String,
        /// The MSP named by the identity.
        found: String,
    },
    /// An MSP ID that no MSP of the manager has.
    #[error("unknown MSP ID '{msp_id}'; known MSPs: {known}")]
    UnknownMsp {
        /// The MSP ID asked for.
        msp_id: String,
        /// The MSP IDs that exist, comma-separated.
        known: String,
    },
    /// A certificate that no CA of the MSP issued.
    #[error("certificate for '{subject}' was not issued by any CA of {msp_id}; check that the client uses an identity of this org")]
    UnknownIssuer {
        /// The certificate's subject.
        subject: String,
        /// The MSP ID.
        msp_id: String,
    },
    /// A CA certificate presented as an identity.
    #[error("certificate for '{subject}' is a CA certificate and cannot be used as an identity of {msp_id}; use a certificate issued by the CA")]
    CaAsIdentity {
        /// The certificate's subject.
        subject: String,
        /// The MSP ID.
        msp_id: String,
    },
    /// A certificate outside its validity window.
    #[error("certificate for '{subject}' {problem}; renew the certificate")]
    OutsideValidity {
        /// The certificate's subject.
        subject: String,
        /// "expired at … (unix time …)" or "is not valid before …".
        problem: String,
    },
    /// A certificate listed in a CRL of its issuer.
    #[error("certificate for '{subject}' (serial {serial}) has been revoked by a CRL of {msp_id}; use a certificate that has not been revoked")]
    Revoked {
        /// The certificate's subject.
        subject: String,
        /// The serial number in hex.
        serial: String,
        /// The MSP ID.
        msp_id: String,
    },
    /// An identity that breaks one of the MSP's rules (OUs, NodeOUs, certification tree).
    #[error("certificate for '{subject}' is not a valid identity of {msp_id}: {problem}")]
    InvalidIdentity {
        /// The certificate's subject.
        subject: String,
        /// The MSP ID.
        msp_id: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// A serialised identity that is not in the canonical form Fabric's validator requires.
    #[error("identity of {msp_id} is not well-formed: {problem}; send the certificate's PEM exactly as issued")]
    NotWellFormed {
        /// The MSP ID the identity names.
        msp_id: String,
        /// What is not canonical.
        problem: String,
    },
    /// An identity that does not satisfy a principal.
    #[error("identity '{subject}' of {msp_id} does not satisfy principal {principal}: {reason}")]
    PrincipalNotSatisfied {
        /// The identity's subject.
        subject: String,
        /// The identity's MSP ID.
        msp_id: String,
        /// The principal, e.g. `Org1MSP.admin`.
        principal: String,
        /// Why.
        reason: String,
    },
}

/// Result alias for [`MspError`].
pub type Result<T, E = MspError> = std::result::Result<T, E>;
