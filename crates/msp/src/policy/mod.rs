//! Signature policies and implicit meta policies, as Fabric's `common/policydsl`,
//! `common/cauthdsl` and `common/policies` define them.
//!
//! - [`parse`] turns `AND('Org1MSP.peer', OutOf(1, 'Org2MSP.member', 'Org3MSP.member'))` into a
//!   [`SignaturePolicyEnvelope`] shaped exactly as Fabric's `policydsl.FromString` shapes it, so
//!   that approvals carrying policy bytes match across organisations; [`format()`] prints it back.
//! - [`verify_signed_data`] checks each signature once through the MSPs; [`evaluate`] then runs
//!   Fabric's greedy rule evaluation in which each identity satisfies at most one leaf.
//! - [`PolicyGroup`] is a tree of named policies where `ANY|ALL|MAJORITY Sub` combines the `Sub`
//!   policies of the child groups.

mod dsl;
mod eval;
mod implicit;

use std::fmt;

pub use cambium_primitives::{
    ImplicitMetaPolicy, ImplicitMetaRule, MspRole, Principal, SignaturePolicy,
    SignaturePolicyEnvelope,
};
pub use dsl::{check_msp_ids, format, parse, ALLOWED_ROLES};
pub use eval::{
    evaluate, evaluate_signed_data, verify_signed_data, Evaluation, RejectedSignature, SignedData,
    VerifiedSignatures,
};
pub use implicit::{parse_implicit_meta, Policy, PolicyGroup};

/// A policy that cannot be parsed, is malformed, or is not satisfied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A syntax error in the signature policy language.
    #[error("column {column}: {message}")]
    Syntax {
        /// 1-based column (in characters) where the problem starts.
        column: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// A policy that names an MSP the channel does not have.
    #[error("policy names '{msp_id}', which is not a member of this channel; known MSPs: {known}")]
    UnknownMsp {
        /// The MSP ID named by the policy.
        msp_id: String,
        /// The channel's MSP IDs, comma-separated.
        known: String,
    },
    /// A signature policy envelope that cannot be evaluated.
    #[error("signature policy is malformed: {problem}")]
    Malformed {
        /// What is wrong.
        problem: String,
    },
    /// An implicit meta policy string that is not `ANY|ALL|MAJORITY <SubPolicy>`.
    #[error("implicit meta policy '{input}' is invalid: {problem}")]
    BadImplicitMeta {
        /// The input.
        input: String,
        /// What is wrong and what to write instead.
        problem: String,
    },
    /// A policy path that names no policy.
    #[error("no policy at '{path}'; {hint}")]
    UnknownPolicy {
        /// The path asked for.
        path: String,
        /// What exists there.
        hint: String,
    },
    /// Signatures that do not satisfy a policy.
    #[error("{name} {policy} not satisfied: {reason}")]
    NotSatisfied {
        /// What the policy is for, e.g. "endorsement policy".
        name: String,
        /// The policy, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')` or `MAJORITY Endorsement`.
        policy: String,
        /// Which principals or sub-policies were missing, and which signatures were ignored.
        reason: String,
    },
}

/// Result alias for [`PolicyError`].
pub type Result<T, E = PolicyError> = std::result::Result<T, E>;

/// Displays a principal as the policy language writes it.
pub struct DisplayPrincipal<'a>(pub &'a Principal);

impl fmt::Display for DisplayPrincipal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::msp::principal_to_string(self.0))
    }
}
