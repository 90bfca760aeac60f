//! `From`/`TryFrom` conversions between Fabric's protobuf messages and Cambium's domain types,
//! plus byte-level encode/decode helpers so other crates never touch protobuf.
//!
//! Conversions from the domain are infallible; conversions from the wire are `TryFrom` whenever
//! the message can hold something the domain cannot (unknown enum values, negative counts,
//! nested bytes that fail to decode, unsupported principal kinds).

use cambium_primitives as dom;
use prost::Message;

use crate::error::{Result, WireError};
use crate::{common, kvrwset, msp, orderer, peer, rwset};

// ---------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------

impl From<&dom::SerializedIdentity> for msp::SerializedIdentity {
    fn from(id: &dom::SerializedIdentity) -> Self {
        msp::SerializedIdentity {
            mspid: id.msp_id.clone(),
            id_bytes: id.id_bytes.clone(),
        }
    }
}

impl From<dom::SerializedIdentity> for msp::SerializedIdentity {
    fn from(id: dom::SerializedIdentity) -> Self {
        msp::SerializedIdentity {
            mspid: id.msp_id,
            id_bytes: id.id_bytes,
        }
    }
}

impl From<msp::SerializedIdentity> for dom::SerializedIdentity {
    fn from(id: msp::SerializedIdentity) -> Self {
        dom::SerializedIdentity {
            msp_id: id.mspid,
            id_bytes: id.id_bytes,
        }
    }
}

/// The bytes of `msp.SerializedIdentity` for `id` (what goes in `SignatureHeader.creator` and
/// `Endorsement.endorser`).
pub fn encode_serialized_identity(id: &dom::SerializedIdentity) -> Vec<u8> {
    msp::SerializedIdentity::from(id).encode_to_vec()
}

/// Decodes `msp.SerializedIdentity` bytes.
pub fn decode_serialized_identity(bytes: &[u8]) -> Result<dom::SerializedIdentity> {
    msp::SerializedIdentity::decode(bytes)
        .map(Into::into)
        .map_err(WireError::decode("msp.SerializedIdentity"))
}

// ---------------------------------------------------------------------------------------------
// MSP roles and principals
// ---------------------------------------------------------------------------------------------

impl From<dom::MspRole> for common::msp_role::MspRoleType {
    fn from(role: dom::MspRole) -> Self {
        use common::msp_role::MspRoleType as P;
        match role {
            dom::MspRole::Member => P::Member,
            dom::MspRole::Admin => P::Admin,
            dom::MspRole::Client => P::Client,
            dom::MspRole::Peer => P::Peer,
            dom::MspRole::Orderer => P::Orderer,
        }
    }
}

impl From<common::msp_role::MspRoleType> for dom::MspRole {
    fn from(role: common::msp_role::MspRoleType) -> Self {
        use common::msp_role::MspRoleType as P;
        match role {
            P::Member => dom::MspRole::Member,
            P::Admin => dom::MspRole::Admin,
            P::Client => dom::MspRole::Client,
            P::Peer => dom::MspRole::Peer,
            P::Orderer => dom::MspRole::Orderer,
        }
    }
}

impl From<&dom::Principal> for common::MspPrincipal {
    fn from(principal: &dom::Principal) -> Self {
        use common::msp_principal::Classification;
        let (classification, bytes) = match principal {
            dom::Principal::Role { msp_id, role } => (
                Classification::Role,
                common::MspRole {
                    msp_identifier: msp_id.clone(),
                    role: common::msp_role::MspRoleType::from(*role) as i32,
                }
                .encode_to_vec(),
            ),
            dom::Principal::OrganizationUnit {
                msp_id,
                ou,
                certifiers_identifier,
            } => (
                Classification::OrganizationUnit,
                common::OrganizationUnit {
                    msp_identifier: msp_id.clone(),
                    organizational_unit_identifier: ou.clone(),
                    certifiers_identifier: certifiers_identifier.clone(),
                }
                .encode_to_vec(),
            ),
            dom::Principal::Identity(id) => {
                (Classification::Identity, encode_serialized_identity(id))
            }
        };
        common::MspPrincipal {
            principal_classification: classification as i32,
            principal: bytes,
        }
    }
}

impl TryFrom<&common::MspPrincipal> for dom::Principal {
    type Error = WireError;

    fn try_from(p: &common::MspPrincipal) -> Result<Self> {
        use common::msp_principal::Classification;
        let classification =
            Classification::try_from(p.principal_classification).map_err(|_| {
                WireError::UnknownEnumValue {
                    field: "common.MSPPrincipal.principal_classification",
                    enum_name: "common.MSPPrincipal.Classification",
                    value: p.principal_classification,
                }
            })?;
        match classification {
            Classification::Role => {
                let role = common::MspRole::decode(p.principal.as_slice())
                    .map_err(WireError::decode("common.MSPRole"))?;
                let role_type =
                    common::msp_role::MspRoleType::try_from(role.role).map_err(|_| {
                        WireError::UnknownEnumValue {
                            field: "common.MSPRole.role",
                            enum_name: "common.MSPRole.MSPRoleType",
                            value: role.role,
                        }
                    })?;
                Ok(dom::Principal::Role {
                    msp_id: role.msp_identifier,
                    role: role_type.into(),
                })
            }
            Classification::OrganizationUnit => {
                let ou = common::OrganizationUnit::decode(p.principal.as_slice())
                    .map_err(WireError::decode("common.OrganizationUnit"))?;
                Ok(dom::Principal::OrganizationUnit {
                    msp_id: ou.msp_identifier,
                    ou: ou.organizational_unit_identifier,
                    certifiers_identifier: ou.certifiers_identifier,
                })
            }
            Classification::Identity => Ok(dom::Principal::Identity(decode_serialized_identity(
                &p.principal,
            )?)),
            Classification::Anonymity | Classification::Combined => {
                Err(WireError::UnsupportedPrincipal {
                    classification: classification.as_str_name(),
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

/// Converts a count or index to protobuf's `int32`, saturating: a value above `i32::MAX` can
/// never be satisfied or point at a principal either way.
fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn to_u32(field: &'static str, value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| WireError::Negative { field, value })
}

impl From<&dom::SignaturePolicy> for common::SignaturePolicy {
    fn from(policy: &dom::SignaturePolicy) -> Self {
        use common::signature_policy::{NOutOf, Type};
        let ty = match policy {
            dom::SignaturePolicy::SignedBy(index) => Type::SignedBy(to_i32(*index)),
            dom::SignaturePolicy::NOutOf { n, rules } => Type::NOutOf(NOutOf {
                n: to_i32(*n),
                rules: rules.iter().map(Into::into).collect(),
            }),
        };
        common::SignaturePolicy { r#type: Some(ty) }
    }
}

impl TryFrom<&common::SignaturePolicy> for dom::SignaturePolicy {
    type Error = WireError;

    fn try_from(policy: &common::SignaturePolicy) -> Result<Self> {
        use common::signature_policy::Type;
        match &policy.r#type {
            Some(Type::SignedBy(index)) => Ok(dom::SignaturePolicy::SignedBy(to_u32(
                "common.SignaturePolicy.signed_by",
                *index,
            )?)),
            Some(Type::NOutOf(n_out_of)) => Ok(dom::SignaturePolicy::NOutOf {
                n: to_u32("common.SignaturePolicy.NOutOf.n", n_out_of.n)?,
                rules: n_out_of
                    .rules
                    .iter()
                    .map(TryInto::try_into)
                    .collect::<Result<_>>()?,
            }),
            None => Err(WireError::MissingField {
                message: "common.SignaturePolicy",
                field: "signed_by or n_out_of",
            }),
        }
    }
}

impl From<&dom::SignaturePolicyEnvelope> for common::SignaturePolicyEnvelope {
    fn from(env: &dom::SignaturePolicyEnvelope) -> Self {
        common::SignaturePolicyEnvelope {
            version: env.version,
            rule: Some((&env.rule).into()),
            identities: env.identities.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&common::SignaturePolicyEnvelope> for dom::SignaturePolicyEnvelope {
    type Error = WireError;

    fn try_from(env: &common::SignaturePolicyEnvelope) -> Result<Self> {
        let rule = env.rule.as_ref().ok_or(WireError::MissingField {
            message: "common.SignaturePolicyEnvelope",
            field: "rule",
        })?;
        Ok(dom::SignaturePolicyEnvelope {
            version: env.version,
            rule: rule.try_into()?,
            identities: env
                .identities
                .iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
        })
    }
}

/// The bytes of `common.SignaturePolicyEnvelope` for `env` (e.g. a validation parameter).
pub fn encode_signature_policy_envelope(env: &dom::SignaturePolicyEnvelope) -> Vec<u8> {
    common::SignaturePolicyEnvelope::from(env).encode_to_vec()
}

/// Decodes `common.SignaturePolicyEnvelope` bytes, including every principal.
pub fn decode_signature_policy_envelope(bytes: &[u8]) -> Result<dom::SignaturePolicyEnvelope> {
    let env = common::SignaturePolicyEnvelope::decode(bytes)
        .map_err(WireError::decode("common.SignaturePolicyEnvelope"))?;
    (&env).try_into()
}

impl From<dom::ImplicitMetaRule> for common::implicit_meta_policy::Rule {
    fn from(rule: dom::ImplicitMetaRule) -> Self {
        use common::implicit_meta_policy::Rule;
        match rule {
            dom::ImplicitMetaRule::Any => Rule::Any,
            dom::ImplicitMetaRule::All => Rule::All,
            dom::ImplicitMetaRule::Majority => Rule::Majority,
        }
    }
}

impl From<common::implicit_meta_policy::Rule> for dom::ImplicitMetaRule {
    fn from(rule: common::implicit_meta_policy::Rule) -> Self {
        use common::implicit_meta_policy::Rule;
        match rule {
            Rule::Any => dom::ImplicitMetaRule::Any,
            Rule::All => dom::ImplicitMetaRule::All,
            Rule::Majority => dom::ImplicitMetaRule::Majority,
        }
    }
}

impl From<&dom::ImplicitMetaPolicy> for common::ImplicitMetaPolicy {
    fn from(policy: &dom::ImplicitMetaPolicy) -> Self {
        common::ImplicitMetaPolicy {
            sub_policy: policy.sub_policy.clone(),
            rule: common::implicit_meta_policy::Rule::from(policy.rule) as i32,
        }
    }
}

impl TryFrom<&common::ImplicitMetaPolicy> for dom::ImplicitMetaPolicy {
    type Error = WireError;

    fn try_from(policy: &common::ImplicitMetaPolicy) -> Result<Self> {
        let rule = common::implicit_meta_policy::Rule::try_from(policy.rule).map_err(|_| {
            WireError::UnknownEnumValue {
                field: "common.ImplicitMetaPolicy.rule",
                enum_name: "common.ImplicitMetaPolicy.Rule",
                value: policy.rule,
            }
        })?;
        Ok(dom::ImplicitMetaPolicy {
            rule: rule.into(),
            sub_policy: policy.sub_policy.clone(),
        })
    }
}

impl From<&dom::Policy> for common::Policy {
    fn from(policy: &dom::Policy) -> Self {
        use common::policy::PolicyType;
        match policy {
            dom::Policy::Signature(env) => common::Policy {
                r#type: PolicyType::Signature as i32,
                value: encode_signature_policy_envelope(env),
            },
            dom::Policy::ImplicitMeta(meta) => common::Policy {
                r#type: PolicyType::ImplicitMeta as i32,
                value: common::ImplicitMetaPolicy::from(meta).encode_to_vec(),
            },
        }
    }
}

impl TryFrom<&common::Policy> for dom::Policy {
    type Error = WireError;

    fn try_from(policy: &common::Policy) -> Result<Self> {
        use common::policy::PolicyType;
        match PolicyType::try_from(policy.r#type) {
            Ok(PolicyType::Signature) => Ok(dom::Policy::Signature(
                decode_signature_policy_envelope(&policy.value)?,
            )),
            Ok(PolicyType::ImplicitMeta) => {
                let meta = common::ImplicitMetaPolicy::decode(policy.value.as_slice())
                    .map_err(WireError::decode("common.ImplicitMetaPolicy"))?;
                Ok(dom::Policy::ImplicitMeta((&meta).try_into()?))
            }
            _ => Err(WireError::UnsupportedPolicyType {
                policy_type: policy.r#type,
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation codes, header types, timestamps
// ---------------------------------------------------------------------------------------------

/// Pairs of identically named variants: generated code and domain enum share Fabric's names.
macro_rules! same_variants {
    ($dom:ty, $wire:ty, [$($v:ident),* $(,)?]) => {
        impl From<$dom> for $wire {
            fn from(value: $dom) -> Self {
                match value { $( <$dom>::$v => <$wire>::$v, )* }
            }
        }
        impl From<$wire> for $dom {
            fn from(value: $wire) -> Self {
                match value { $( <$wire>::$v => <$dom>::$v, )* }
            }
        }
    };
}

same_variants!(
    dom::TxValidationCode,
    peer::TxValidationCode,
    [
        Valid,
        NilEnvelope,
        BadPayload,
        BadCommonHeader,
        BadCreatorSignature,
        InvalidEndorserTransaction,
        InvalidConfigTransaction,
        UnsupportedTxPayload,
        BadProposalTxid,
        DuplicateTxid,
        EndorsementPolicyFailure,
        MvccReadConflict,
        PhantomReadConflict,
        UnknownTxType,
        TargetChainNotFound,
        MarshalTxError,
        NilTxaction,
        ExpiredChaincode,
        ChaincodeVersionConflict,
        BadHeaderExtension,
        BadChannelHeader,
        BadResponsePayload,
        BadRwset,
        IllegalWriteset,
        InvalidWriteset,
        InvalidChaincode,
        NotValidated,
        InvalidOtherReason,
    ]
);

same_variants!(
    dom::HeaderType,
    common::HeaderType,
    [
        Message,
        Config,
        ConfigUpdate,
        EndorserTransaction,
        OrdererTransaction,
        DeliverSeekInfo,
        ChaincodePackage,
    ]
);

/// The validation code carried as an `int32` (e.g. `CommitStatusResponse.result`).
pub fn tx_validation_code_from_i32(value: i32) -> Result<dom::TxValidationCode> {
    peer::TxValidationCode::try_from(value)
        .map(Into::into)
        .map_err(|_| WireError::UnknownEnumValue {
            field: "TxValidationCode",
            enum_name: "protos.TxValidationCode",
            value,
        })
}

/// The protobuf form of a timestamp (`google.protobuf.Timestamp`).
pub fn timestamp_to_wire(t: dom::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.seconds,
        nanos: t.nanos,
    }
}

/// The domain form of a `google.protobuf.Timestamp`.
pub fn timestamp_from_wire(t: prost_types::Timestamp) -> dom::Timestamp {
    dom::Timestamp {
        seconds: t.seconds,
        nanos: t.nanos,
    }
}

// ---------------------------------------------------------------------------------------------
// Chaincode responses, events, endorsements
// ---------------------------------------------------------------------------------------------

impl From<&dom::ChaincodeResponse> for peer::Response {
    fn from(r: &dom::ChaincodeResponse) -> Self {
        peer::Response {
            status: r.status,
            message: r.message.clone(),
            payload: r.payload.clone(),
        }
    }
}

impl From<peer::Response> for dom::ChaincodeResponse {
    fn from(r: peer::Response) -> Self {
        dom::ChaincodeResponse {
            status: r.status,
            message: r.message,
            payload: r.payload,
        }
    }
}

impl From<&dom::ChaincodeEvent> for peer::ChaincodeEvent {
    fn from(e: &dom::ChaincodeEvent) -> Self {
        peer::ChaincodeEvent {
            chaincode_id: e.chaincode_id.clone(),
            tx_id: e.tx_id.clone(),
            event_name: e.event_name.clone(),
            payload: e.payload.clone(),
        }
    }
}

impl From<peer::ChaincodeEvent> for dom::ChaincodeEvent {
    fn from(e: peer::ChaincodeEvent) -> Self {
        dom::ChaincodeEvent {
            chaincode_id: e.chaincode_id,
            tx_id: e.tx_id,
            event_name: e.event_name,
            payload: e.payload,
        }
    }
}

impl From<&dom::Endorsement> for peer::Endorsement {
    fn from(e: &dom::Endorsement) -> Self {
        peer::Endorsement {
            endorser: e.endorser.clone(),
            signature: e.signature.clone(),
        }
    }
}

impl From<peer::Endorsement> for dom::Endorsement {
    fn from(e: peer::Endorsement) -> Self {
        dom::Endorsement {
            endorser: e.endorser,
            signature: e.signature,
        }
    }
}

/// The bytes of `protos.ChaincodeEvent` (what goes in `ChaincodeAction.events`).
pub fn encode_chaincode_event(event: &dom::ChaincodeEvent) -> Vec<u8> {
    peer::ChaincodeEvent::from(event).encode_to_vec()
}

/// Decodes `protos.ChaincodeEvent` bytes.
pub fn decode_chaincode_event(bytes: &[u8]) -> Result<dom::ChaincodeEvent> {
    peer::ChaincodeEvent::decode(bytes)
        .map(Into::into)
        .map_err(WireError::decode("protos.ChaincodeEvent"))
}

// ---------------------------------------------------------------------------------------------
// Deliver requests
// ---------------------------------------------------------------------------------------------

impl From<dom::SeekPosition> for orderer::SeekPosition {
    fn from(position: dom::SeekPosition) -> Self {
        use orderer::seek_position::Type;
        let ty = match position {
            dom::SeekPosition::Newest => Type::Newest(orderer::SeekNewest {}),
            dom::SeekPosition::Oldest => Type::Oldest(orderer::SeekOldest {}),
            dom::SeekPosition::Specified(number) => {
                Type::Specified(orderer::SeekSpecified { number })
            }
            dom::SeekPosition::NextCommit => Type::NextCommit(orderer::SeekNextCommit {}),
        };
        orderer::SeekPosition { r#type: Some(ty) }
    }
}

impl TryFrom<&orderer::SeekPosition> for dom::SeekPosition {
    type Error = WireError;

    fn try_from(position: &orderer::SeekPosition) -> Result<Self> {
        use orderer::seek_position::Type;
        match &position.r#type {
            Some(Type::Newest(_)) => Ok(dom::SeekPosition::Newest),
            Some(Type::Oldest(_)) => Ok(dom::SeekPosition::Oldest),
            Some(Type::Specified(s)) => Ok(dom::SeekPosition::Specified(s.number)),
            Some(Type::NextCommit(_)) => Ok(dom::SeekPosition::NextCommit),
            None => Err(WireError::MissingField {
                message: "orderer.SeekPosition",
                field: "newest, oldest, specified or next_commit",
            }),
        }
    }
}

impl From<&dom::SeekInfo> for orderer::SeekInfo {
    fn from(info: &dom::SeekInfo) -> Self {
        use orderer::seek_info::{SeekBehavior, SeekContentType, SeekErrorResponse};
        orderer::SeekInfo {
            start: Some(info.start.into()),
            stop: Some(info.stop.into()),
            behavior: match info.behavior {
                dom::SeekBehavior::BlockUntilReady => SeekBehavior::BlockUntilReady,
                dom::SeekBehavior::FailIfNotReady => SeekBehavior::FailIfNotReady,
            } as i32,
            error_response: match info.error_response {
                dom::SeekErrorResponse::Strict => SeekErrorResponse::Strict,
                dom::SeekErrorResponse::BestEffort => SeekErrorResponse::BestEffort,
            } as i32,
            content_type: match info.content_type {
                dom::SeekContentType::Block => SeekContentType::Block,
                dom::SeekContentType::HeaderWithSig => SeekContentType::HeaderWithSig,
            } as i32,
        }
    }
}

fn seek_enum<E: TryFrom<i32>>(
    field: &'static str,
    enum_name: &'static str,
    value: i32,
) -> Result<E> {
    E::try_from(value).map_err(|_| WireError::UnknownEnumValue {
        field,
        enum_name,
        value,
    })
}

impl TryFrom<&orderer::SeekInfo> for dom::SeekInfo {
    type Error = WireError;

    fn try_from(info: &orderer::SeekInfo) -> Result<Self> {
        use orderer::seek_info::{SeekBehavior, SeekContentType, SeekErrorResponse};
        let position = |p: &Option<orderer::SeekPosition>, field| {
            p.as_ref()
                .ok_or(WireError::MissingField {
                    message: "orderer.SeekInfo",
                    field,
                })
                .and_then(dom::SeekPosition::try_from)
        };
        Ok(dom::SeekInfo {
            start: position(&info.start, "start")?,
            stop: position(&info.stop, "stop")?,
            behavior: match seek_enum(
                "orderer.SeekInfo.behavior",
                "orderer.SeekInfo.SeekBehavior",
                info.behavior,
            )? {
                SeekBehavior::BlockUntilReady => dom::SeekBehavior::BlockUntilReady,
                SeekBehavior::FailIfNotReady => dom::SeekBehavior::FailIfNotReady,
            },
            error_response: match seek_enum(
                "orderer.SeekInfo.error_response",
                "orderer.SeekInfo.SeekErrorResponse",
                info.error_response,
            )? {
                SeekErrorResponse::Strict => dom::SeekErrorResponse::Strict,
                SeekErrorResponse::BestEffort => dom::SeekErrorResponse::BestEffort,
            },
            content_type: match seek_enum(
                "orderer.SeekInfo.content_type",
                "orderer.SeekInfo.SeekContentType",
                info.content_type,
            )? {
                SeekContentType::Block => dom::SeekContentType::Block,
                SeekContentType::HeaderWithSig => dom::SeekContentType::HeaderWithSig,
            },
        })
    }
}

/// The bytes of `orderer.SeekInfo` (the `Payload.data` of a Deliver request).
pub fn encode_seek_info(info: &dom::SeekInfo) -> Vec<u8> {
    orderer::SeekInfo::from(info).encode_to_vec()
}

/// Decodes `orderer.SeekInfo` bytes; fails if start or stop is missing (Fabric answers such a
/// request with BAD_REQUEST).
pub fn decode_seek_info(bytes: &[u8]) -> Result<dom::SeekInfo> {
    let info = orderer::SeekInfo::decode(bytes).map_err(WireError::decode("orderer.SeekInfo"))?;
    (&info).try_into()
}

// ---------------------------------------------------------------------------------------------
// Read/write sets
// ---------------------------------------------------------------------------------------------

impl From<dom::Version> for kvrwset::Version {
    fn from(v: dom::Version) -> Self {
        kvrwset::Version {
            block_num: v.block_num,
            tx_num: v.tx_num,
        }
    }
}

impl From<kvrwset::Version> for dom::Version {
    fn from(v: kvrwset::Version) -> Self {
        dom::Version {
            block_num: v.block_num,
            tx_num: v.tx_num,
        }
    }
}

impl From<&dom::KvRead> for kvrwset::KvRead {
    fn from(r: &dom::KvRead) -> Self {
        kvrwset::KvRead {
            key: r.key.clone(),
            version: r.version.map(Into::into),
        }
    }
}

impl From<kvrwset::KvRead> for dom::KvRead {
    fn from(r: kvrwset::KvRead) -> Self {
        dom::KvRead {
            key: r.key,
            version: r.version.map(Into::into),
        }
    }
}

impl From<&dom::KvWrite> for kvrwset::KvWrite {
    fn from(w: &dom::KvWrite) -> Self {
        kvrwset::KvWrite {
            key: w.key.clone(),
            is_delete: w.is_delete,
            value: w.value.clone(),
        }
    }
}

impl From<kvrwset::KvWrite> for dom::KvWrite {
    fn from(w: kvrwset::KvWrite) -> Self {
        dom::KvWrite {
            key: w.key,
            is_delete: w.is_delete,
            value: w.value,
        }
    }
}

impl From<&dom::KvMetadataWrite> for kvrwset::KvMetadataWrite {
    fn from(w: &dom::KvMetadataWrite) -> Self {
        kvrwset::KvMetadataWrite {
            key: w.key.clone(),
            entries: w
                .entries
                .iter()
                .map(|e| kvrwset::KvMetadataEntry {
                    name: e.name.clone(),
                    value: e.value.clone(),
                })
                .collect(),
        }
    }
}

impl From<kvrwset::KvMetadataWrite> for dom::KvMetadataWrite {
    fn from(w: kvrwset::KvMetadataWrite) -> Self {
        dom::KvMetadataWrite {
            key: w.key,
            entries: w
                .entries
                .into_iter()
                .map(|e| dom::KvMetadataEntry {
                    name: e.name,
                    value: e.value,
                })
                .collect(),
        }
    }
}

impl From<&dom::RangeQueryInfo> for kvrwset::RangeQueryInfo {
    fn from(q: &dom::RangeQueryInfo) -> Self {
        use kvrwset::range_query_info::ReadsInfo;
        kvrwset::RangeQueryInfo {
            start_key: q.start_key.clone(),
            end_key: q.end_key.clone(),
            itr_exhausted: q.itr_exhausted,
            reads_info: q.reads.as_ref().map(|reads| match reads {
                dom::RangeQueryReads::Raw(reads) => ReadsInfo::RawReads(kvrwset::QueryReads {
                    kv_reads: reads.iter().map(Into::into).collect(),
                }),
                dom::RangeQueryReads::MerkleSummary {
                    max_degree,
                    max_level,
                    max_level_hashes,
                } => ReadsInfo::ReadsMerkleHashes(kvrwset::QueryReadsMerkleSummary {
                    max_degree: *max_degree,
                    max_level: *max_level,
                    max_level_hashes: max_level_hashes.clone(),
                }),
            }),
        }
    }
}

impl From<kvrwset::RangeQueryInfo> for dom::RangeQueryInfo {
    fn from(q: kvrwset::RangeQueryInfo) -> Self {
        use kvrwset::range_query_info::ReadsInfo;
        dom::RangeQueryInfo {
            start_key: q.start_key,
            end_key: q.end_key,
            itr_exhausted: q.itr_exhausted,
            reads: q.reads_info.map(|reads| match reads {
                ReadsInfo::RawReads(r) => {
                    dom::RangeQueryReads::Raw(r.kv_reads.into_iter().map(Into::into).collect())
                }
                ReadsInfo::ReadsMerkleHashes(m) => dom::RangeQueryReads::MerkleSummary {
                    max_degree: m.max_degree,
                    max_level: m.max_level,
                    max_level_hashes: m.max_level_hashes,
                },
            }),
        }
    }
}

/// The `kvrwset.KVRWSet` of one namespace.
fn kv_rwset_of(ns: &dom::NsRwSet) -> kvrwset::KvrwSet {
    kvrwset::KvrwSet {
        reads: ns.reads.iter().map(Into::into).collect(),
        range_queries_info: ns.range_queries.iter().map(Into::into).collect(),
        writes: ns.writes.iter().map(Into::into).collect(),
        metadata_writes: ns.metadata_writes.iter().map(Into::into).collect(),
    }
}

impl From<&dom::NsRwSet> for rwset::NsReadWriteSet {
    fn from(ns: &dom::NsRwSet) -> Self {
        rwset::NsReadWriteSet {
            namespace: ns.namespace.clone(),
            rwset: kv_rwset_of(ns).encode_to_vec(),
            collection_hashed_rwset: ns
                .collection_hashed_rwsets
                .iter()
                .map(|c| rwset::CollectionHashedReadWriteSet {
                    collection_name: c.collection_name.clone(),
                    hashed_rwset: c.hashed_rwset.clone(),
                    pvt_rwset_hash: c.pvt_rwset_hash.clone(),
                })
                .collect(),
        }
    }
}

impl TryFrom<&rwset::NsReadWriteSet> for dom::NsRwSet {
    type Error = WireError;

    fn try_from(ns: &rwset::NsReadWriteSet) -> Result<Self> {
        let kv = kvrwset::KvrwSet::decode(ns.rwset.as_slice())
            .map_err(WireError::decode("kvrwset.KVRWSet"))?;
        Ok(dom::NsRwSet {
            namespace: ns.namespace.clone(),
            reads: kv.reads.into_iter().map(Into::into).collect(),
            writes: kv.writes.into_iter().map(Into::into).collect(),
            range_queries: kv.range_queries_info.into_iter().map(Into::into).collect(),
            metadata_writes: kv.metadata_writes.into_iter().map(Into::into).collect(),
            collection_hashed_rwsets: ns
                .collection_hashed_rwset
                .iter()
                .map(|c| dom::CollectionHashedRwSet {
                    collection_name: c.collection_name.clone(),
                    hashed_rwset: c.hashed_rwset.clone(),
                    pvt_rwset_hash: c.pvt_rwset_hash.clone(),
                })
                .collect(),
        })
    }
}

impl From<&dom::TxRwSet> for rwset::TxReadWriteSet {
    fn from(rw: &dom::TxRwSet) -> Self {
        rwset::TxReadWriteSet {
            data_model: rwset::tx_read_write_set::DataModel::Kv as i32,
            ns_rwset: rw.ns.iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<&rwset::TxReadWriteSet> for dom::TxRwSet {
    type Error = WireError;

    fn try_from(rw: &rwset::TxReadWriteSet) -> Result<Self> {
        if rw.data_model != rwset::tx_read_write_set::DataModel::Kv as i32 {
            return Err(WireError::UnknownEnumValue {
                field: "rwset.TxReadWriteSet.data_model",
                enum_name: "rwset.TxReadWriteSet.DataModel",
                value: rw.data_model,
            });
        }
        Ok(dom::TxRwSet {
            ns: rw
                .ns_rwset
                .iter()
                .map(TryInto::try_into)
                .collect::<Result<_>>()?,
        })
    }
}

/// The bytes of `rwset.TxReadWriteSet` for `rw` (what goes in `ChaincodeAction.results`).
/// Encodes in the order given: call [`dom::TxRwSet::sort`] first for Fabric's canonical order.
pub fn encode_tx_rwset(rw: &dom::TxRwSet) -> Vec<u8> {
    rwset::TxReadWriteSet::from(rw).encode_to_vec()
}

/// Decodes `rwset.TxReadWriteSet` bytes, including each namespace's nested `KVRWSet`.
pub fn decode_tx_rwset(bytes: &[u8]) -> Result<dom::TxRwSet> {
    let rw =
        rwset::TxReadWriteSet::decode(bytes).map_err(WireError::decode("rwset.TxReadWriteSet"))?;
    (&rw).try_into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_counts_and_missing_rules_are_rejected() {
        let bad = common::SignaturePolicy {
            r#type: Some(common::signature_policy::Type::SignedBy(-1)),
        };
        let err = dom::SignaturePolicy::try_from(&bad).unwrap_err();
        assert!(err.to_string().contains("signed_by is -1"), "{err}");

        let env = common::SignaturePolicyEnvelope::default();
        let err = dom::SignaturePolicyEnvelope::try_from(&env).unwrap_err();
        assert!(
            matches!(err, WireError::MissingField { field: "rule", .. }),
            "{err}"
        );
    }

    #[test]
    fn unsupported_principals_and_policies_are_named() {
        let p = common::MspPrincipal {
            principal_classification: common::msp_principal::Classification::Anonymity as i32,
            principal: Vec::new(),
        };
        let err = dom::Principal::try_from(&p).unwrap_err();
        assert!(err.to_string().contains("ANONYMITY"), "{err}");

        let p = common::MspPrincipal {
            principal_classification: 9,
            principal: Vec::new(),
        };
        assert!(matches!(
            dom::Principal::try_from(&p),
            Err(WireError::UnknownEnumValue { value: 9, .. })
        ));

        let policy = common::Policy {
            r#type: common::policy::PolicyType::Msp as i32,
            value: Vec::new(),
        };
        assert!(matches!(
            dom::Policy::try_from(&policy),
            Err(WireError::UnsupportedPolicyType { policy_type: 2 })
        ));
    }

    #[test]
    fn garbage_rwset_bytes_name_the_message() {
        let rw = rwset::TxReadWriteSet {
            data_model: 0,
            ns_rwset: vec![rwset::NsReadWriteSet {
                namespace: "cc".into(),
                rwset: vec![0x0a, 0x05, 0x01],
                collection_hashed_rwset: Vec::new(),
            }],
        };
        let err = dom::TxRwSet::try_from(&rw).unwrap_err();
        assert!(err.to_string().contains("kvrwset.KVRWSet"), "{err}");
        assert!(decode_tx_rwset(&[0xff]).is_err());
    }

    #[test]
    fn validation_codes_map_by_number() {
        for &code in dom::TxValidationCode::ALL {
            let wire = peer::TxValidationCode::from(code);
            assert_eq!(wire as i32, i32::from(code.as_u8()));
            assert_eq!(dom::TxValidationCode::from(wire), code);
            assert_eq!(tx_validation_code_from_i32(wire as i32).unwrap(), code);
        }
        assert!(tx_validation_code_from_i32(100).is_err());
        for &t in dom::HeaderType::ALL {
            assert_eq!(common::HeaderType::from(t) as i32, t.as_i32());
        }
    }
}
