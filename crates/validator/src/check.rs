//! The checks of one transaction that need no ledger state: decoding, headers, the creator's
//! signature, the transaction ID, the endorsed action's structure, and the endorsement
//! policies. They are independent of every other transaction, so they run in parallel.
//!
//! Each check gives a verdict in one of two stages, because Fabric looks the transaction ID up
//! in the ledger between them: a transaction that fails an *early* check gets that code even
//! if its ID is a duplicate, and a duplicate ID wins over any *late* failure.

use cambium_msp::policy::{evaluate, verify_signed_data, SignedData, VerifiedSignatures};
use cambium_msp::{check_well_formed, MspManager};
use cambium_primitives::{HeaderType, TxRwSet, TxValidationCode as Code};
use cambium_wire::tx::{parse_envelope, parse_transaction, EndorsedActionView, EnvelopeView};
use cambium_wire::{decode_serialized_identity, WireError};

use crate::context::{
    rollout_step_policy, write_policies, ChannelContext, EndorsementPolicies, EndorsementPolicy,
    TxOrigin, VersionedPolicy, WritePolicy, LIFECYCLE_NAMESPACE,
};
use crate::error::{Result, ValidatorError};
use cambium_lifecycle::Creator;
use cambium_msp::Identity;

/// System namespaces that no transaction may write (Fabric's non-invokable system
/// chaincodes).
const FORBIDDEN_NAMESPACES: &[&str] = &["lscc", "qscc", "cscc"];

/// A failed check: the code and a sentence saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) code: Code,
    pub(crate) reason: String,
}

fn reject(code: Code, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
    }
}

/// The kind of transaction, as far as the checks got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not decodable far enough to tell.
    Unknown,
    /// An endorser transaction.
    Endorser,
    /// A config transaction.
    Config,
}

/// The verdict of the order-independent checks of one transaction.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub(crate) kind: Kind,
    /// The transaction ID from the channel header, once the header decoded.
    pub(crate) tx_id: Option<String>,
    /// Checks before Fabric's ledger duplicate lookup.
    pub(crate) early: std::result::Result<(), Rejection>,
    /// Checks after it (chaincode, rwset, endorsement policy).
    pub(crate) late: std::result::Result<(), Rejection>,
    /// The decoded read/write set of an endorser transaction that passed every check.
    pub(crate) rwset: Option<TxRwSet>,
    /// The contract and version its chaincode action says ran (endorser transactions whose
    /// action decoded), for per-version metrics.
    pub(crate) chaincode: Option<(String, String)>,
}

impl Checked {
    fn early_failure(kind: Kind, tx_id: Option<String>, rejection: Rejection) -> Checked {
        Checked {
            kind,
            tx_id,
            early: Err(rejection),
            late: Ok(()),
            rwset: None,
            chaincode: None,
        }
    }
}

/// What the checks of one block share.
pub(crate) struct CheckEnv<'a> {
    pub(crate) block: u64,
    pub(crate) tx_count: usize,
    pub(crate) channel: &'a dyn ChannelContext,
    pub(crate) policies: &'a dyn EndorsementPolicies,
    /// Unix seconds at which identities must be within their validity period.
    pub(crate) identity_time: i64,
}

/// The code for an envelope that `parse_envelope` could not decode, by the part that failed.
fn envelope_decode_code(err: &WireError) -> Code {
    match err {
        WireError::Decode {
            message: "common.Envelope",
            ..
        } => Code::InvalidOtherReason,
        WireError::Decode {
            message: "common.Payload",
            ..
        } => Code::BadPayload,
        WireError::Decode {
            message: "common.ChannelHeader",
            ..
        } => Code::BadChannelHeader,
        WireError::Decode {
            message: "msp.SerializedIdentity",
            ..
        } => Code::BadCreatorSignature,
        WireError::MissingField { .. }
        | WireError::Decode {
            message: "common.SignatureHeader",
            ..
        } => Code::BadCommonHeader,
        _ => Code::BadPayload,
    }
}

/// Runs every order-independent check of transaction `index` (`bytes` is `data[index]`).
pub(crate) fn check_transaction(env: &CheckEnv<'_>, index: usize, bytes: &[u8]) -> Result<Checked> {
    if bytes.is_empty() {
        return Ok(Checked::early_failure(
            Kind::Unknown,
            None,
            reject(Code::NilEnvelope, "the envelope is empty"),
        ));
    }
    let envelope = match parse_envelope(bytes) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Ok(Checked::early_failure(
                Kind::Unknown,
                None,
                reject(envelope_decode_code(&e), e.to_string()),
            ))
        }
    };
    let header = &envelope.channel_header;
    let tx_id = Some(header.tx_id.clone());
    let kind = match header.known_header_type() {
        Some(HeaderType::EndorserTransaction) => Kind::Endorser,
        Some(HeaderType::Config) => Kind::Config,
        other => {
            let name = other.map_or_else(|| header.header_type.to_string(), |t| t.to_string());
            return Ok(Checked::early_failure(
                Kind::Unknown,
                tx_id,
                reject(
                    Code::UnknownTxType,
                    format!("header type {name} is not a transaction a block may carry; only ENDORSER_TRANSACTION and CONFIG are"),
                ),
            ));
        }
    };
    let creator_ous = match check_headers(env, &envelope) {
        Ok(identity) => identity.certificate().organizational_units().to_vec(),
        Err(rejection) => return Ok(Checked::early_failure(kind, tx_id, rejection)),
    };
    match kind {
        Kind::Endorser => check_endorser(env, index, envelope, &creator_ous),
        _ => Ok(Checked {
            kind,
            tx_id,
            early: check_config(env, &envelope),
            late: Ok(()),
            rwset: None,
            chaincode: None,
        }),
    }
}

/// Header fields, the channel, and the creator's signature over the payload; returns the
/// creator's validated identity.
fn check_headers(
    env: &CheckEnv<'_>,
    envelope: &EnvelopeView,
) -> std::result::Result<Identity, Rejection> {
    let header = &envelope.channel_header;
    if header.epoch != 0 {
        return Err(reject(
            Code::BadChannelHeader,
            format!(
                "the channel header's epoch is {}; it must be 0",
                header.epoch
            ),
        ));
    }
    if envelope.nonce.is_empty() {
        return Err(reject(
            Code::BadCommonHeader,
            "the signature header has no nonce",
        ));
    }
    let Some(creator) = &envelope.creator else {
        return Err(reject(
            Code::BadCommonHeader,
            "the signature header has no creator",
        ));
    };
    if header.channel_id != env.channel.channel_id() {
        return Err(reject(
            Code::TargetChainNotFound,
            format!(
                "the transaction is for channel '{}' but this block is on channel '{}'",
                header.channel_id,
                env.channel.channel_id()
            ),
        ));
    }
    let bad_creator = |what: String| reject(Code::BadCreatorSignature, what);
    check_well_formed(creator)
        .map_err(|e| bad_creator(format!("the creator is malformed: {e}")))?;
    let identity = env
        .channel
        .msps()
        .validate(creator, env.identity_time)
        .map_err(|e| bad_creator(format!("the creator is not valid on this channel: {e}")))?;
    identity
        .verify(&envelope.payload_bytes, &envelope.signature)
        .map_err(|e| {
            bad_creator(format!(
                "the creator's signature over the payload is invalid: {e}"
            ))
        })?;
    Ok(identity)
}

/// A CONFIG transaction: structural checks only (see the crate documentation).
fn check_config(env: &CheckEnv<'_>, envelope: &EnvelopeView) -> std::result::Result<(), Rejection> {
    let invalid = |reason: String| reject(Code::InvalidConfigTransaction, reason);
    if env.tx_count != 1 {
        return Err(invalid(format!(
            "a config transaction must be alone in its block, but block {} holds {} transactions",
            env.block, env.tx_count
        )));
    }
    cambium_channel::ChannelConfig::from_config_envelope_bytes(
        env.channel.channel_id(),
        &envelope.data,
    )
    .map(drop)
    .map_err(|e| invalid(format!("the config cannot be used: {e}")))
}

fn check_endorser(
    env: &CheckEnv<'_>,
    index: usize,
    envelope: EnvelopeView,
    creator_ous: &[String],
) -> Result<Checked> {
    let tx_id = envelope.channel_header.tx_id.clone();
    let fail_early = |rejection: Rejection| {
        Ok(Checked::early_failure(
            Kind::Endorser,
            Some(tx_id.clone()),
            rejection,
        ))
    };
    let expected = cambium_wire::tx::compute_tx_id(&envelope.nonce, &envelope.creator_bytes);
    if tx_id != expected {
        return fail_early(reject(
            Code::BadProposalTxid,
            format!("transaction ID '{tx_id}' is not SHA-256(nonce ‖ creator) = '{expected}'"),
        ));
    }
    let mut actions = match parse_transaction(&envelope.data) {
        Ok(actions) => actions,
        Err(WireError::Decode {
            message: "protos.ChaincodeAction",
            source,
        }) => {
            return Ok(Checked {
                kind: Kind::Endorser,
                tx_id: Some(tx_id),
                early: Ok(()),
                late: Err(reject(
                    Code::BadResponsePayload,
                    format!("the chaincode action cannot be decoded: {source}"),
                )),
                rwset: None,
                chaincode: None,
            })
        }
        Err(e) => {
            return fail_early(reject(
                Code::InvalidEndorserTransaction,
                format!("the transaction cannot be decoded: {e}"),
            ))
        }
    };
    if actions.len() != 1 {
        return fail_early(reject(
            Code::InvalidEndorserTransaction,
            format!(
                "the transaction has {} actions; exactly one is allowed",
                actions.len()
            ),
        ));
    }
    let action = actions.remove(0);
    let expected_hash = action.expected_proposal_hash(&envelope.channel_header_bytes);
    if action.proposal_hash != expected_hash {
        return fail_early(reject(
            Code::InvalidEndorserTransaction,
            "the proposal hash the endorsers signed does not match the transaction's header and proposal payload",
        ));
    }
    let (late, rwset) = match check_action(env, index, &envelope, &action, creator_ous)? {
        Ok(rwset) => (Ok(()), Some(rwset)),
        Err(rejection) => (Err(rejection), None),
    };
    let chaincode = action.action.chaincode_id.map(|id| (id.name, id.version));
    Ok(Checked {
        kind: Kind::Endorser,
        tx_id: Some(tx_id),
        early: Ok(()),
        late,
        rwset,
        chaincode,
    })
}

/// The chaincode action, its read/write set and the endorsement policies; returns the
/// read/write set when everything holds.
fn check_action(
    env: &CheckEnv<'_>,
    index: usize,
    envelope: &EnvelopeView,
    action: &EndorsedActionView,
    creator_ous: &[String],
) -> Result<std::result::Result<TxRwSet, Rejection>> {
    let chaincode = match envelope.channel_header.chaincode_name() {
        Ok(Some(name)) if !name.is_empty() => name,
        Ok(_) => {
            return Ok(Err(reject(
                Code::InvalidChaincode,
                "the channel header's extension names no chaincode",
            )))
        }
        Err(e) => {
            return Ok(Err(reject(
                Code::BadHeaderExtension,
                format!("the channel header's extension cannot be decoded: {e}"),
            )))
        }
    };
    let Some(id) = &action.action.chaincode_id else {
        return Ok(Err(reject(
            Code::InvalidChaincode,
            "the chaincode action does not say which chaincode ran",
        )));
    };
    if id.name != chaincode {
        return Ok(Err(reject(
            Code::InvalidChaincode,
            format!(
                "the chaincode action is from '{}' but the transaction invokes '{chaincode}'",
                id.name
            ),
        )));
    }
    if id.version.is_empty() {
        return Ok(Err(reject(
            Code::InvalidChaincode,
            format!("the chaincode action of '{chaincode}' has an empty version"),
        )));
    }
    match action.action.event() {
        Ok(Some(event)) if event.chaincode_id != chaincode => {
            return Ok(Err(reject(
                Code::InvalidOtherReason,
                format!(
                    "the chaincode event is from '{}' but the transaction invokes '{chaincode}'",
                    event.chaincode_id
                ),
            )))
        }
        Ok(_) => {}
        Err(e) => {
            return Ok(Err(reject(
                Code::InvalidOtherReason,
                format!("the chaincode event cannot be decoded: {e}"),
            )))
        }
    }
    let rwset = match action.action.rwset() {
        Ok(rwset) => rwset,
        Err(e) => {
            return Ok(Err(reject(
                Code::BadRwset,
                format!("the read/write set cannot be decoded: {e}"),
            )))
        }
    };
    if let Some(ns) = rwset.repeated_namespace() {
        return Ok(Err(reject(
            Code::IllegalWriteset,
            format!("namespace '{ns}' appears more than once in the read/write set"),
        )));
    }
    if let Some(ns) = rwset
        .ns
        .iter()
        .find(|ns| ns.has_writes() && FORBIDDEN_NAMESPACES.contains(&ns.namespace.as_str()))
    {
        return Ok(Err(reject(
            Code::IllegalWriteset,
            format!(
                "the transaction writes to system namespace '{}', which no transaction may write",
                ns.namespace
            ),
        )));
    }
    let mut written: Vec<(&str, Vec<&str>)> = rwset
        .ns
        .iter()
        .filter(|ns| ns.has_writes())
        .map(|ns| {
            let keys = ns
                .writes
                .iter()
                .map(|w| w.key.as_str())
                .chain(ns.metadata_writes.iter().map(|w| w.key.as_str()))
                .collect();
            (ns.namespace.as_str(), keys)
        })
        .collect();
    if written.is_empty() {
        written.push((&chaincode, Vec::new()));
    }
    // The invoked contract's policy depends on the version the transaction was endorsed
    // with (the current definition, or the previous one within the upgrade grace window).
    let creator_msp = envelope.creator.as_ref().map_or("", |c| c.msp_id.as_str());
    let origin = TxOrigin {
        tx_id: &envelope.channel_header.tx_id,
        creator: Creator {
            msp_id: creator_msp,
            identity: &envelope.creator_bytes,
            ous: creator_ous,
        },
    };
    let invoked = env
        .policies
        .versioned_policy(
            &chaincode,
            &id.version,
            &origin,
            env.block,
            env.channel.upgrade_grace_blocks(),
        )
        .map_err(|e| ValidatorError::PolicyLookup {
            block: env.block,
            index,
            namespace: chaincode.clone(),
            problem: e.message,
        })?;
    let invoked_policy = match invoked {
        VersionedPolicy::Policy(policy) => policy,
        VersionedPolicy::VersionRejected(why) => {
            return Ok(Err(reject(Code::ChaincodeVersionConflict, why)))
        }
        VersionedPolicy::ContractHalted(why) => {
            return Ok(Err(reject(Code::EndorsementPolicyFailure, why)))
        }
    };
    let signers = verify_endorsements(env.channel.msps(), action, env.identity_time);
    if let Some(lifecycle) = rwset
        .ns
        .iter()
        .find(|ns| ns.namespace == LIFECYCLE_NAMESPACE)
    {
        if let Err(rejection) = check_rollout_steps(env, index, envelope, action, lifecycle)? {
            return Ok(Err(rejection));
        }
        if let Err(rejection) = check_governance(env, index, envelope, lifecycle)? {
            return Ok(Err(rejection));
        }
        if let Err(rejection) = check_approved_packages(env, lifecycle) {
            return Ok(Err(rejection));
        }
    }
    for (namespace, keys) in written {
        let lookup_failed = |e: crate::context::PolicySourceError| ValidatorError::PolicyLookup {
            block: env.block,
            index,
            namespace: namespace.to_owned(),
            problem: e.message,
        };
        let policies = if namespace == chaincode.as_str() && namespace != LIFECYCLE_NAMESPACE {
            vec![WritePolicy {
                scope: format!("'{namespace}'"),
                policy: invoked_policy.clone(),
            }]
        } else {
            write_policies(env.policies, namespace, &keys).map_err(lookup_failed)?
        };
        for policy in policies {
            if let Err(rejection) = check_policy(env, namespace, policy, &signers) {
                return Ok(Err(rejection));
            }
        }
    }
    Ok(Ok(rwset))
}

/// A `_lifecycle` write set that writes rollout keys and nothing of a definition is a rollout
/// step: each written status must be a legal step from the committed rollout, the key must be
/// read (so MVCC orders steps), and the step's policy ([`rollout_step_policy`]) must be met by
/// the endorsers together with the transaction's creator.
fn check_rollout_steps(
    env: &CheckEnv<'_>,
    index: usize,
    envelope: &EnvelopeView,
    action: &EndorsedActionView,
    lifecycle: &cambium_primitives::NsRwSet,
) -> Result<std::result::Result<(), Rejection>> {
    let is_rollout = |key: &str| cambium_lifecycle::rollout::rollout_name(key).is_some();
    let rollout_writes: Vec<_> = lifecycle
        .writes
        .iter()
        .filter(|w| is_rollout(&w.key))
        .collect();
    let definition_written = lifecycle
        .writes
        .iter()
        .any(|w| !is_rollout(&w.key) && cambium_lifecycle::approval_org(&w.key).is_none());
    if rollout_writes.is_empty() || definition_written {
        return Ok(Ok(()));
    }
    let failure = |reason: String| Ok(Err(reject(Code::EndorsementPolicyFailure, reason)));
    let mut signed = endorsement_signed_data(action);
    if let Some(creator) = &envelope.creator {
        signed.push(SignedData {
            data: envelope.payload_bytes.clone(),
            identity: creator.clone(),
            signature: envelope.signature.clone(),
        });
    }
    let signers = verify_signed_data(&signed, env.channel.msps(), env.identity_time);
    for write in rollout_writes {
        let name = cambium_lifecycle::rollout::rollout_name(&write.key).unwrap_or_default();
        if write.is_delete {
            return failure(format!(
                "the transaction deletes the rollout of '{name}'; a rollout is only ever moved by a step"
            ));
        }
        if !lifecycle.reads.iter().any(|r| r.key == write.key) {
            return failure(format!(
                "the rollout step of '{name}' does not read the rollout it changes; endorse the step with a Cambium peer"
            ));
        }
        let written = match cambium_lifecycle::rollout::decode_status(&write.value) {
            Ok(status) => status,
            Err(e) => return failure(format!("the rollout step of '{name}' writes {e}")),
        };
        let step = match env.policies.rollout_step(name, &written).map_err(|e| {
            ValidatorError::PolicyLookup {
                block: env.block,
                index,
                namespace: LIFECYCLE_NAMESPACE.to_owned(),
                problem: e.message,
            }
        })? {
            Ok(step) => step,
            Err(why) => {
                return failure(format!(
                    "the rollout step of '{name}' is not a legal step: {why}; query the rollout and endorse the step again"
                ))
            }
        };
        let policy = rollout_step_policy(step);
        if let Err(e) = env.channel.evaluate_policy(&policy, &signers) {
            return failure(format!(
                "{} of '{name}' must satisfy the channel policy {policy} over its endorsers and its creator, which it does not: {e}; submit it as an identity the policy names, with enough endorsements",
                step.function()
            ));
        }
    }
    Ok(Ok(()))
}

/// Governance in a `_lifecycle` write set ([`cambium_lifecycle::governance`]): each written
/// contract status must be read (so MVCC orders acts), be the legal result of an act from the
/// status committed before the block, and come from a creator who is a valid admin of a
/// channel org (the endorsements' `LifecycleEndorsement` is checked with the namespace's
/// other writes); and no definition of a retired contract may be written. Failures are
/// `ENDORSEMENT_POLICY_FAILURE`.
fn check_governance(
    env: &CheckEnv<'_>,
    index: usize,
    envelope: &EnvelopeView,
    lifecycle: &cambium_primitives::NsRwSet,
) -> Result<std::result::Result<(), Rejection>> {
    use cambium_lifecycle::governance::{self, ContractState};
    let failure = |reason: String| Ok(Err(reject(Code::EndorsementPolicyFailure, reason)));
    let lookup = |e: crate::context::PolicySourceError| ValidatorError::PolicyLookup {
        block: env.block,
        index,
        namespace: LIFECYCLE_NAMESPACE.to_owned(),
        problem: e.message,
    };
    for write in &lifecycle.writes {
        let Some(name) = write
            .key
            .strip_prefix(cambium_lifecycle::state::METADATA_PREFIX)
        else {
            continue;
        };
        let status = env.policies.contract_status(name).map_err(lookup)?;
        if governance::state_of_opt(status.as_ref()) == ContractState::Retired {
            return failure(format!(
                "the transaction writes a definition of '{name}', which is retired; retiring is final, so deploy the contract under a new name"
            ));
        }
    }
    let status_writes: Vec<_> = lifecycle
        .writes
        .iter()
        .filter(|w| governance::status_name(&w.key).is_some())
        .collect();
    if status_writes.is_empty() {
        return Ok(Ok(()));
    }
    let admin = envelope.creator.as_ref().and_then(|creator| {
        env.channel
            .msps()
            .validate(creator, env.identity_time)
            .ok()
            .filter(Identity::is_admin)
    });
    for write in status_writes {
        let name = governance::status_name(&write.key).unwrap_or_default();
        if write.is_delete {
            return failure(format!(
                "the transaction deletes the status of '{name}'; a contract's status is only ever changed by FreezeContract, UnfreezeContract or RetireContract"
            ));
        }
        if !lifecycle.reads.iter().any(|r| r.key == write.key) {
            return failure(format!(
                "the governance act on '{name}' does not read the status it changes; endorse it with a Cambium peer"
            ));
        }
        let written = match governance::decode_status(&write.value) {
            Ok(status) => status,
            Err(e) => return failure(format!("the governance act on '{name}' writes {e}")),
        };
        let committed = env.policies.contract_status(name).map_err(lookup)?;
        let act = match governance::act_between(committed.as_ref(), &written, name) {
            Ok(act) => act,
            Err(e) => {
                return failure(format!(
                    "the governance act on '{name}' is not legal from its committed status: {e}; query the contract's status and endorse the act again"
                ))
            }
        };
        if admin.is_none() {
            return failure(format!(
                "{} of '{name}' must be submitted by an admin of a channel org, and its creator ({}) is not one; sign it with an org admin's identity",
                act.function(),
                envelope
                    .creator
                    .as_ref()
                    .map_or("an unknown identity", |c| c.msp_id.as_str())
            ));
        }
    }
    Ok(Ok(()))
}

/// The endorsements of `action` as signed data: each endorser's signature over
/// `prp ‖ endorser`. Endorsers that do not decode are left out (they satisfy no principal).
/// On a channel that requires signed packages (`Application/PackageSigners`), every approval
/// the transaction writes with a local package must record owner signatures that satisfy the
/// policy, evaluated with the channel's MSPs at the block's identity time
/// ([`cambium_lifecycle::package_signing`]); otherwise `ENDORSEMENT_POLICY_FAILURE`. The
/// endorsing peer checked that the signatures are over the package it has installed; here the
/// channel judges who signed.
fn check_approved_packages(
    env: &CheckEnv<'_>,
    lifecycle: &cambium_primitives::NsRwSet,
) -> std::result::Result<(), Rejection> {
    use cambium_lifecycle::package_signing;
    let policies = env.channel.channel_policies();
    if package_signing::requirement(policies).is_none() {
        return Ok(());
    }
    for write in &lifecycle.writes {
        let Some(org) = cambium_lifecycle::approval_org(&write.key) else {
            continue;
        };
        if write.is_delete {
            continue;
        }
        let fail = |why: String| reject(Code::EndorsementPolicyFailure, why);
        let approval = cambium_lifecycle::Approval::decode(&write.value)
            .map_err(|e| fail(format!("the approval of {org} cannot be decoded: {e}")))?;
        let Some(package_id) = approval.source.package_id() else {
            continue;
        };
        let signatures = package_signing::from_message(&write.value)
            .map_err(|e| fail(format!("the approval of {org}: {e}")))?;
        package_signing::check_requirement(
            policies,
            Some(env.channel.msps()),
            env.identity_time,
            signatures.as_ref(),
            &format!("package '{package_id}' that {org} approved"),
        )
        .map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

fn endorsement_signed_data(action: &EndorsedActionView) -> Vec<SignedData> {
    action
        .endorsements
        .iter()
        .filter_map(|e| {
            let identity = decode_serialized_identity(&e.endorser).ok()?;
            Some(SignedData {
                data: cambium_wire::tx::endorsement_message(
                    &action.proposal_response_payload,
                    &e.endorser,
                ),
                identity,
                signature: e.signature.clone(),
            })
        })
        .collect()
}

/// Validates every endorser and verifies its signature over `prp ‖ endorser`, each identity
/// counted once.
fn verify_endorsements(
    msps: &MspManager,
    action: &EndorsedActionView,
    identity_time: i64,
) -> VerifiedSignatures {
    let signed = endorsement_signed_data(action);
    verify_signed_data(&signed, msps, identity_time)
}

fn check_policy(
    env: &CheckEnv<'_>,
    namespace: &str,
    policy: WritePolicy,
    signers: &VerifiedSignatures,
) -> std::result::Result<(), Rejection> {
    let failure = |reason: String| Err(reject(Code::EndorsementPolicyFailure, reason));
    let scope = policy.scope;
    let Some(policy) = policy.policy else {
        return failure(format!(
            "no contract named '{namespace}' is defined on this channel, so nothing may write to it; commit a definition for '{namespace}' first"
        ));
    };
    match policy {
        EndorsementPolicy::Signature(envelope) => {
            match evaluate(&envelope, signers, env.channel.msps()) {
                Ok(ev) if ev.satisfied => Ok(()),
                Ok(ev) => {
                    let missing: Vec<String> = ev
                        .unsatisfied
                        .iter()
                        .map(|p| cambium_msp::policy::DisplayPrincipal(p).to_string())
                        .collect();
                    failure(format!(
                        "the endorsement policy {} of {scope} is not satisfied: missing {}; {} endorsement(s) ignored; collect endorsements that satisfy it",
                        cambium_msp::policy::format(&envelope),
                        if missing.is_empty() { "signatures".to_owned() } else { missing.join(", ") },
                        signers.rejected.len()
                    ))
                }
                Err(e) => failure(format!(
                    "the endorsement policy of {scope} is malformed: {e}"
                )),
            }
        }
        EndorsementPolicy::ChannelPolicy(path) => match env.channel.evaluate_policy(&path, signers)
        {
            Ok(()) => Ok(()),
            Err(e) => failure(format!(
                "the endorsement policy {path} of {scope} is not satisfied: {e}; collect endorsements that satisfy it"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_failures_map_to_fabric_codes() {
        let decode = |message: &'static str| {
            // Any malformed bytes give a real prost error to wrap.
            use cambium_wire::Message;
            let source = cambium_wire::common::Envelope::decode(&[0xff_u8][..]).unwrap_err();
            WireError::Decode { message, source }
        };
        assert_eq!(
            envelope_decode_code(&decode("common.Envelope")),
            Code::InvalidOtherReason
        );
        assert_eq!(
            envelope_decode_code(&decode("common.Payload")),
            Code::BadPayload
        );
        assert_eq!(
            envelope_decode_code(&decode("common.ChannelHeader")),
            Code::BadChannelHeader
        );
        assert_eq!(
            envelope_decode_code(&decode("common.SignatureHeader")),
            Code::BadCommonHeader
        );
        assert_eq!(
            envelope_decode_code(&decode("msp.SerializedIdentity")),
            Code::BadCreatorSignature
        );
        let missing = WireError::MissingField {
            message: "common.Payload",
            field: "header",
        };
        assert_eq!(envelope_decode_code(&missing), Code::BadCommonHeader);
    }
}
