//! Policies: Fabric's signature policies and implicit meta policies as plain data.
//!
//! Parsing the policy language and evaluating policies live in `cambium-msp`; the protobuf
//! encoding lives in `cambium-wire`.

use std::fmt;

/// The role an identity must hold within its MSP (`msp.MSPRole.MSPRoleType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MspRole {
    /// Any valid identity of the MSP.
    Member,
    /// An administrator of the MSP.
    Admin,
    /// A client identity (NodeOU `client`).
    Client,
    /// A peer identity (NodeOU `peer`).
    Peer,
    /// An orderer identity (NodeOU `orderer`).
    Orderer,
}

impl MspRole {
    /// The lowercase name used in Fabric's policy language (`'Org1MSP.peer'`).
    pub fn as_str(self) -> &'static str {
        match self {
            MspRole::Member => "member",
            MspRole::Admin => "admin",
            MspRole::Client => "client",
            MspRole::Peer => "peer",
            MspRole::Orderer => "orderer",
        }
    }
}

impl fmt::Display for MspRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may satisfy a `SignedBy` leaf of a signature policy (`msp.MSPPrincipal`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// An identity of `msp_id` holding `role`.
    Role {
        /// The MSP ID, e.g. `Org1MSP`.
        msp_id: String,
        /// The role required within that MSP.
        role: MspRole,
    },
    /// An identity of `msp_id` whose certificate carries the organisational unit `ou`.
    OrganizationUnit {
        /// The MSP ID, e.g. `Org1MSP`.
        msp_id: String,
        /// The organisational unit, e.g. `department1`.
        ou: String,
        /// The hash of the certification chain the OU belongs to; may be empty.
        certifiers_identifier: Vec<u8>,
    },
    /// Exactly this serialised identity.
    Identity(crate::SerializedIdentity),
}

/// The rule tree of a signature policy (`common.SignaturePolicy`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SignaturePolicy {
    /// Satisfied by a signature of the principal at this index of the envelope's identities.
    SignedBy(u32),
    /// Satisfied when at least `n` of `rules` are satisfied.
    NOutOf {
        /// How many of `rules` must be satisfied.
        n: u32,
        /// The sub-rules.
        rules: Vec<SignaturePolicy>,
    },
}

/// A signature policy with the principals its leaves refer to (`common.SignaturePolicyEnvelope`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignaturePolicyEnvelope {
    /// Always 0 in Fabric today.
    pub version: i32,
    /// The rule tree.
    pub rule: SignaturePolicy,
    /// The principals that `SignedBy` leaves refer to by index.
    pub identities: Vec<Principal>,
}

/// How an implicit meta policy combines the same-named policies of sub-groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImplicitMetaRule {
    /// At least one sub-policy is satisfied.
    Any,
    /// Every sub-policy is satisfied.
    All,
    /// More than half of the sub-policies are satisfied.
    Majority,
}

impl fmt::Display for ImplicitMetaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImplicitMetaRule::Any => "ANY",
            ImplicitMetaRule::All => "ALL",
            ImplicitMetaRule::Majority => "MAJORITY",
        })
    }
}

/// `ANY|ALL|MAJORITY <sub_policy>` (`common.ImplicitMetaPolicy`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImplicitMetaPolicy {
    /// How the sub-policies are combined.
    pub rule: ImplicitMetaRule,
    /// The name of the sub-groups' policy to evaluate, e.g. `Admins`.
    pub sub_policy: String,
}

impl fmt::Display for ImplicitMetaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rule, self.sub_policy)
    }
}

/// A channel configuration policy (`common.Policy`) decoded by its type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// A signature policy (`Policy.type` SIGNATURE).
    Signature(SignaturePolicyEnvelope),
    /// An implicit meta policy (`Policy.type` IMPLICIT_META).
    ImplicitMeta(ImplicitMetaPolicy),
}
