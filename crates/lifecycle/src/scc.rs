//! The `_lifecycle` system contract's functions, their ACLs and their responses.
//!
//! A call has exactly two arguments: the function name and the protobuf bytes of
//! `<Function>Args`; success answers the bytes of `<Function>Result` with status 200, an
//! undefined namespace or a missing package 404, anything else 500, with the message
//! `failed to invoke backing implementation of '<Function>': <what was wrong and what to do>`.
//!
//! # Rules (Fabric v2)
//!
//! - **Approve** (`ApproveChaincodeDefinitionForMyOrg`): the creator's org must be the peer's
//!   org. The sequence must be the committed one plus one, or the committed one itself, in
//!   which case the parameters must equal the committed definition (an org joining late
//!   approves what is already in force, possibly with its own package). The approval is
//!   written under the org's approval key. Approving with a package ID requires the package
//!   to be installed on the endorsing peer; approving without one (`unavailable`) is allowed.
//! - **Commit** (`CommitChaincodeDefinition`): the sequence must be the committed one plus
//!   one. Every channel org's approval key for `<name>#<sequence>` is read (so the reads are in
//!   the read/write set and MVCC invalidates the commit if an approval changes), and the
//!   endorsing peer's own org must have approved exactly these parameters. Whether enough
//!   orgs stand behind the commit is decided at validation: the commit's endorsements must
//!   satisfy `/Channel/Application/LifecycleEndorsement`.
//!   **Cambium addition (ready at commit):** the commit is refused when the orgs that are
//!   ready (approved these parameters with a local package, see [`crate::readiness`]) cannot
//!   satisfy the new definition's endorsement policy; the error names the orgs that are not
//!   ready and the policy.
//! - **Readiness** (`CheckCommitReadiness`): the commit's checks without writing: which orgs
//!   approved these exact parameters, and for the others that approved something different,
//!   which fields differ; plus, as the Cambium extension field, each org's readiness
//!   ([`ReadinessReport`], also appended to `QueryChaincodeDefinition`'s result).
//! - **Queries**: `QueryApprovedChaincodeDefinition` (this org's approval; sequence 0 means
//!   the next sequence if approved, else the committed one), `QueryChaincodeDefinition` (with
//!   the approvals of the committed definition), `QueryChaincodeDefinitions`.
//! - **Peer-local**: `InstallChaincode`, `QueryInstalledChaincode`,
//!   `QueryInstalledChaincodes`, `GetInstalledChaincodePackage` over a [`PackageStore`].
//!
//! # Cambium additions: upgrade policy ([`crate::upgrade_policy`])
//!
//! Approve, readiness and commit read an optional upgrade policy (signature policy DSL) at
//! field 1002 of their arguments; it is part of the approved definition (`UpgradePolicy` in
//! the mismatches), stored as the field `UpgradePolicy`, and reported at field 1002 of
//! `QueryApprovedChaincodeDefinition` and `QueryChaincodeDefinition`. A commit is refused
//! unless the orgs that approved it exactly satisfy the committed definition's upgrade policy
//! and, when it changes, the new one.
//!
//! # Cambium additions: signed packages ([`crate::package_signing`])
//!
//! On a channel whose configuration has the Application policy `PackageSigners`, approving
//! with a local package needs owner signatures of that package (field 1003 of the arguments,
//! or in the installed package file) that satisfy the policy; they are recorded with the
//! approval. A commit is refused unless every org that approved it with a local package
//! recorded signatures that satisfy the policy in force at commit.
//!
//! # Cambium additions: governance ([`crate::governance`])
//!
//! `FreezeContract`, `UnfreezeContract`, `RetireContract` (ACL [`Acl::ChannelAdmins`]) take a
//! `ContractStateArgs{name, reason}`, rewrite `cambium/status/<name>` and answer the new
//! `ContractStatus`; `QueryContractStatus` (channel Writers) answers the current one. Approving
//! or committing a definition of a retired contract is refused.
//!
//! # Cambium additions: canary rollouts ([`crate::rollout`])
//!
//! - Approve, readiness and commit read an optional `cambium.lifecycle.RolloutPlan` at field
//!   1001 of their arguments. The plan must have a weight within 0–100 %, selectors naming
//!   channel orgs, and something to roll from (a plan on sequence 1 is refused). It is part of
//!   the approved definition (`Rollout` in the mismatches). Committing a definition with a plan
//!   stores its [`RolloutStatus`] under `cambium/rollout/<name>`; committing while a rollout is
//!   ACTIVE or PAUSED is refused (promote or abort it first). After an aborted rollout, the
//!   definition recorded as previous stays the one that was serving (the one before the
//!   aborted sequence).
//! - The steps `AdvanceRollout`, `PauseRollout`, `ResumeRollout`, `PromoteRollout`,
//!   `AbortRollout` take a `RolloutStepArgs{name, weight_percent}`, rewrite the rollout key and
//!   answer the new `RolloutStatus`; `QueryRollout` answers the current one (with no plan when
//!   the current definition was committed without one). Their ACL is [`Acl::ChannelAdmins`]
//!   (the query: channel Writers); the validator checks a step's write against the channel's
//!   `RolloutPromote` or `RolloutAbort` policy.

use std::collections::BTreeMap;

use cambium_msp::policy::PolicyGroup;
use cambium_msp::MspManager;
use cambium_primitives::ChaincodeResponse;
use cambium_wire::lifecycle::{self as pb};
use cambium_wire::Message;

use crate::definition::{Approval, Definition, PackageSource};
use crate::error::{LifecycleError, Result};
use crate::governance::{self, refuse_if_retired, Act, ContractStateArgs, ContractStatus};
use crate::package::PackageStore;
use crate::package_signing;
use crate::readiness::{
    append_report, describe_policy, orgs_satisfy, OrgReadiness, ReadinessReport,
};
use crate::rollout::{
    append_plan, apply_step, check_plan, in_progress, plan_from_message, stored_status,
    write_status, RolloutStatus, RolloutStepArgs, Step,
};
use crate::state::{
    approval_key, committed_definition, committed_definitions, committed_sequence, org_approval,
    write_definition, Simulation, StateGet,
};
use crate::upgrade::{previous_definition, write_previous};

/// `InstallChaincode`.
pub const INSTALL: &str = "InstallChaincode";
/// `QueryInstalledChaincode`.
pub const QUERY_INSTALLED: &str = "QueryInstalledChaincode";
/// `QueryInstalledChaincodes`.
pub const QUERY_INSTALLED_ALL: &str = "QueryInstalledChaincodes";
/// `GetInstalledChaincodePackage`.
pub const GET_PACKAGE: &str = "GetInstalledChaincodePackage";
/// `ApproveChaincodeDefinitionForMyOrg`.
pub const APPROVE: &str = "ApproveChaincodeDefinitionForMyOrg";
/// `CheckCommitReadiness`.
pub const CHECK_READINESS: &str = "CheckCommitReadiness";
/// `CommitChaincodeDefinition`.
pub const COMMIT: &str = "CommitChaincodeDefinition";
/// `QueryApprovedChaincodeDefinition`.
pub const QUERY_APPROVED: &str = "QueryApprovedChaincodeDefinition";
/// `QueryChaincodeDefinition`.
pub const QUERY_DEFINITION: &str = "QueryChaincodeDefinition";
/// `QueryChaincodeDefinitions`.
pub const QUERY_DEFINITIONS: &str = "QueryChaincodeDefinitions";
pub use crate::governance::{FREEZE, QUERY_STATUS, RETIRE, UNFREEZE};
pub use crate::rollout::{ABORT, ADVANCE, PAUSE, PROMOTE, QUERY as QUERY_ROLLOUT, RESUME};

/// Who may call a function (Fabric's default ACLs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acl {
    /// An admin of the peer's own (local) MSP.
    LocalAdmins,
    /// The channel's `/Channel/Application/Writers` policy.
    ChannelWriters,
    /// An admin of one of the channel's orgs (the rollout steps and the governance acts).
    ChannelAdmins,
}

/// The channel policy behind [`Acl::ChannelWriters`].
pub const WRITERS_POLICY: &str = "/Channel/Application/Writers";

/// The ACL of `function`, or `None` for a function `_lifecycle` does not have.
pub fn acl(function: &str) -> Option<Acl> {
    match function {
        INSTALL | QUERY_INSTALLED | QUERY_INSTALLED_ALL | GET_PACKAGE | APPROVE
        | QUERY_APPROVED => Some(Acl::LocalAdmins),
        COMMIT | CHECK_READINESS | QUERY_DEFINITION | QUERY_DEFINITIONS | QUERY_ROLLOUT
        | QUERY_STATUS => Some(Acl::ChannelWriters),
        ADVANCE | PAUSE | RESUME | PROMOTE | ABORT | FREEZE | UNFREEZE | RETIRE => {
            Some(Acl::ChannelAdmins)
        }
        _ => None,
    }
}

/// Whether `function` works on the peer alone (no channel needed): the install functions.
pub fn is_peer_local(function: &str) -> bool {
    matches!(
        function,
        INSTALL | QUERY_INSTALLED | QUERY_INSTALLED_ALL | GET_PACKAGE
    )
}

/// Splits a call's arguments into the function name and its `Args` bytes.
pub fn split_args(args: &[Vec<u8>]) -> Result<(&str, &[u8])> {
    let [function, input] = args else {
        return Err(LifecycleError::BadArguments(format!(
            "lifecycle scc must be invoked with two arguments (the function name and its Args protobuf), not {}",
            args.len()
        )));
    };
    let function = std::str::from_utf8(function)
        .map_err(|_| LifecycleError::BadArguments("the function name is not UTF-8".to_owned()))?;
    Ok((function, input))
}

/// The response to a call of `function` that ended with `result`.
pub fn respond(function: &str, result: Result<Vec<u8>>) -> ChaincodeResponse {
    match result {
        Ok(payload) => ChaincodeResponse::ok(payload),
        Err(e) => ChaincodeResponse {
            status: e.status(),
            message: format!("failed to invoke backing implementation of '{function}': {e}"),
            payload: Vec::new(),
        },
    }
}

/// The chaincodes on each channel that use a package: channel → `(name, version)`.
pub type References = BTreeMap<String, Vec<(String, String)>>;

/// Finds, for a package ID, the committed chaincodes using it on each joined channel.
pub type ReferenceLookup<'a> = &'a dyn Fn(&str) -> Result<References>;

/// What a channel call knows besides state: the channel, its orgs, the peer and the caller.
#[derive(Clone, Copy, Debug)]
pub struct ChannelContext<'a> {
    /// The channel ID.
    pub channel_id: &'a str,
    /// The MSP IDs of the channel's application orgs.
    pub orgs: &'a [String],
    /// The MSP ID of the endorsing peer.
    pub peer_msp_id: &'a str,
    /// The MSP ID of the proposal's creator (ACLs were checked before the call).
    pub creator_msp_id: &'a str,
    /// The channel's policy tree (rooted at `Channel`), for resolving a definition's
    /// channel policy reference when checking readiness at commit.
    pub policies: &'a PolicyGroup,
}

fn decode<M: Message + Default>(bytes: &[u8], function: &str) -> Result<M> {
    M::decode(bytes).map_err(|e| {
        LifecycleError::BadArguments(format!(
            "failed to decode input arg to '{function}': {e}; send the {function}Args protobuf"
        ))
    })
}

/// Runs a peer-local function (install and the install queries).
pub fn invoke_local(
    packages: &dyn PackageStore,
    references: ReferenceLookup<'_>,
    function: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    match function {
        INSTALL => {
            let args: pb::InstallChaincodeArgs = decode(input, function)?;
            let installed = packages.install(&args.chaincode_install_package)?;
            Ok(pb::InstallChaincodeResult {
                package_id: installed.package_id,
                label: installed.label,
            }
            .encode_to_vec())
        }
        QUERY_INSTALLED => {
            let args: pb::QueryInstalledChaincodeArgs = decode(input, function)?;
            let installed =
                packages
                    .get(&args.package_id)?
                    .ok_or_else(|| LifecycleError::PackageNotFound {
                        package_id: args.package_id.clone(),
                    })?;
            let references = references(&installed.package_id)?
                .into_iter()
                .map(|(channel, chaincodes)| {
                    let chaincodes =
                        chaincodes
                            .into_iter()
                            .map(|(name, version)| {
                                pb::query_installed_chaincode_result::Chaincode { name, version }
                            })
                            .collect();
                    (
                        channel,
                        pb::query_installed_chaincode_result::References { chaincodes },
                    )
                })
                .collect();
            Ok(pb::QueryInstalledChaincodeResult {
                package_id: installed.package_id,
                label: installed.label,
                references,
            }
            .encode_to_vec())
        }
        QUERY_INSTALLED_ALL => {
            let _: pb::QueryInstalledChaincodesArgs = decode(input, function)?;
            let mut installed_chaincodes = Vec::new();
            for installed in packages.installed()? {
                let references = references(&installed.package_id)?
                    .into_iter()
                    .map(|(channel, chaincodes)| {
                        let chaincodes = chaincodes
                            .into_iter()
                            .map(|(name, version)| {
                                pb::query_installed_chaincodes_result::Chaincode { name, version }
                            })
                            .collect();
                        (
                            channel,
                            pb::query_installed_chaincodes_result::References { chaincodes },
                        )
                    })
                    .collect();
                installed_chaincodes.push(
                    pb::query_installed_chaincodes_result::InstalledChaincode {
                        package_id: installed.package_id,
                        label: installed.label,
                        references,
                    },
                );
            }
            Ok(pb::QueryInstalledChaincodesResult {
                installed_chaincodes,
            }
            .encode_to_vec())
        }
        GET_PACKAGE => {
            let args: pb::GetInstalledChaincodePackageArgs = decode(input, function)?;
            let bytes = packages.package_bytes(&args.package_id)?.ok_or_else(|| {
                LifecycleError::PackageNotFound {
                    package_id: args.package_id.clone(),
                }
            })?;
            Ok(pb::GetInstalledChaincodePackageResult {
                chaincode_install_package: bytes,
            }
            .encode_to_vec())
        }
        other => Err(unknown_function(other)),
    }
}

fn unknown_function(function: &str) -> LifecycleError {
    LifecycleError::BadArguments(format!(
        "unknown function '{function}'; _lifecycle offers InstallChaincode, QueryInstalledChaincode, QueryInstalledChaincodes, GetInstalledChaincodePackage, ApproveChaincodeDefinitionForMyOrg, CheckCommitReadiness, CommitChaincodeDefinition, QueryApprovedChaincodeDefinition, QueryChaincodeDefinition, QueryChaincodeDefinitions, AdvanceRollout, PauseRollout, ResumeRollout, PromoteRollout, AbortRollout, QueryRollout, FreezeContract, UnfreezeContract, RetireContract and QueryContractStatus"
    ))
}

/// Runs any `_lifecycle` function on a channel, reading and writing through `sim`.
///
/// Package signatures ([`crate::package_signing`]) are checked without the channel's MSPs:
/// each signature must verify over the installed package with its certificate's key and the
/// signers' organisations must be able to satisfy the channel's `PackageSigners` policy; the
/// validator evaluates the policy in full. [`invoke_channel_with_msps`] evaluates it in full
/// here too.
pub fn invoke_channel(
    ctx: &ChannelContext<'_>,
    sim: &mut dyn Simulation,
    packages: &dyn PackageStore,
    references: ReferenceLookup<'_>,
    function: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    invoke(ctx, None, sim, packages, references, function, input)
}

/// [`invoke_channel`] with the channel's MSPs: package signatures are evaluated against the
/// channel's `PackageSigners` policy exactly as the validator evaluates them, validating the
/// signers' identities at `at` (unix seconds; pass the proposal's timestamp so every endorser
/// of a proposal judges at the same moment).
#[allow(clippy::too_many_arguments)]
pub fn invoke_channel_with_msps(
    ctx: &ChannelContext<'_>,
    msps: &MspManager,
    at: i64,
    sim: &mut dyn Simulation,
    packages: &dyn PackageStore,
    references: ReferenceLookup<'_>,
    function: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    invoke(
        ctx,
        Some((msps, at)),
        sim,
        packages,
        references,
        function,
        input,
    )
}

/// The channel's MSPs and the moment identities are validated at, when the caller has them.
type Judge<'a> = Option<(&'a MspManager, i64)>;

fn invoke(
    ctx: &ChannelContext<'_>,
    judge: Judge<'_>,
    sim: &mut dyn Simulation,
    packages: &dyn PackageStore,
    references: ReferenceLookup<'_>,
    function: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    match function {
        APPROVE => {
            let args: pb::ApproveChaincodeDefinitionForMyOrgArgs = decode(input, function)?;
            approve(
                ctx,
                judge,
                sim,
                packages,
                &args,
                input,
                plan_from_message(input)?,
            )?;
            Ok(pb::ApproveChaincodeDefinitionForMyOrgResult {}.encode_to_vec())
        }
        COMMIT => {
            let args: pb::CommitChaincodeDefinitionArgs = decode(input, function)?;
            let definition = Definition::from_args(
                &args.name,
                args.sequence,
                &args.version,
                &args.endorsement_plugin,
                &args.validation_plugin,
                &args.validation_parameter,
                args.collections.as_ref(),
                args.init_required,
            )?
            .with_rollout(plan_from_message(input)?)
            .with_upgrade_policy(crate::upgrade_policy::from_message(input)?);
            refuse_if_retired(sim, &args.name, function)?;
            crate::upgrade_policy::check_syntax(&definition)?;
            check_definition_plan(ctx, sim, &args.name, &definition)?;
            commit(ctx, judge, sim, &args.name, &definition)?;
            Ok(pb::CommitChaincodeDefinitionResult {}.encode_to_vec())
        }
        CHECK_READINESS => {
            let args: pb::CheckCommitReadinessArgs = decode(input, function)?;
            let definition = Definition::from_args(
                &args.name,
                args.sequence,
                &args.version,
                &args.endorsement_plugin,
                &args.validation_plugin,
                &args.validation_parameter,
                args.collections.as_ref(),
                args.init_required,
            )?
            .with_rollout(plan_from_message(input)?)
            .with_upgrade_policy(crate::upgrade_policy::from_message(input)?);
            check_definition_plan(ctx, sim, &args.name, &definition)?;
            check_next_sequence(sim, &args.name, definition.sequence)?;
            let status = approval_status(ctx, sim, &args.name, &definition)?;
            let mut result = pb::CheckCommitReadinessResult {
                approvals: status.approved.clone(),
                mismatches: status
                    .mismatches
                    .clone()
                    .into_iter()
                    .map(|(org, items)| {
                        (org, pb::check_commit_readiness_result::Mismatches { items })
                    })
                    .collect(),
            }
            .encode_to_vec();
            append_report(&status.report(), &mut result);
            Ok(result)
        }
        QUERY_APPROVED => {
            let args: pb::QueryApprovedChaincodeDefinitionArgs = decode(input, function)?;
            let approval = query_approved(ctx, sim, &args.name, args.sequence)?;
            Ok(approval.encode())
        }
        QUERY_DEFINITION => {
            let args: pb::QueryChaincodeDefinitionArgs = decode(input, function)?;
            let definition = committed_definition(sim, &args.name)?.ok_or_else(|| {
                LifecycleError::Undefined {
                    name: args.name.clone(),
                }
            })?;
            let status = approval_status(ctx, sim, &args.name, &definition)?;
            let report = status.report();
            let rollout = definition.rollout.clone();
            let upgrade_policy = definition.upgrade_policy.clone();
            let mut result = pb::QueryChaincodeDefinitionResult {
                sequence: definition.sequence,
                version: definition.version,
                endorsement_plugin: definition.endorsement_plugin,
                validation_plugin: definition.validation_plugin,
                validation_parameter: definition.validation_parameter,
                collections: None,
                init_required: definition.init_required,
                approvals: status.approved,
            }
            .encode_to_vec();
            append_report(&report, &mut result);
            if let Some(plan) = &rollout {
                append_plan(plan, &mut result);
            }
            if let Some(policy) = &upgrade_policy {
                crate::upgrade_policy::append(policy, &mut result);
            }
            Ok(result)
        }
        QUERY_DEFINITIONS => {
            let _: pb::QueryChaincodeDefinitionsArgs = decode(input, function)?;
            let chaincode_definitions = committed_definitions(sim)?
                .into_iter()
                .map(
                    |(name, d)| pb::query_chaincode_definitions_result::ChaincodeDefinition {
                        name,
                        sequence: d.sequence,
                        version: d.version,
                        endorsement_plugin: d.endorsement_plugin,
                        validation_plugin: d.validation_plugin,
                        validation_parameter: d.validation_parameter,
                        collections: None,
                        init_required: d.init_required,
                    },
                )
                .collect();
            Ok(pb::QueryChaincodeDefinitionsResult {
                chaincode_definitions,
            }
            .encode_to_vec())
        }
        QUERY_ROLLOUT => {
            let args: RolloutStepArgs = decode(input, function)?;
            Ok(query_rollout(sim, &args.name)?.encode_to_vec())
        }
        step if crate::rollout::is_step(step) => {
            let args: RolloutStepArgs = decode(input, function)?;
            let step = Step::from_function(step, &args)
                .unwrap_or_else(|| unreachable!("is_step names only steps"));
            Ok(rollout_step(sim, &args.name, step)?.encode_to_vec())
        }
        QUERY_STATUS => {
            let args: ContractStateArgs = decode(input, function)?;
            require_definition(sim, &args.name)?;
            let status = governance::stored_status(sim, &args.name)?.unwrap_or(ContractStatus {
                name: args.name.clone(),
                ..Default::default()
            });
            Ok(status.encode_to_vec())
        }
        act if governance::is_act(act) => {
            let args: ContractStateArgs = decode(input, function)?;
            let act =
                Act::from_function(act).unwrap_or_else(|| unreachable!("is_act names only acts"));
            Ok(governance_act(sim, &args, act)?.encode_to_vec())
        }
        other if is_peer_local(other) => invoke_local(packages, references, other, input),
        other => Err(unknown_function(other)),
    }
}

/// Checks the rollout plan a definition carries, if any: a valid plan, and a committed
/// definition to roll from.
fn check_definition_plan(
    ctx: &ChannelContext<'_>,
    sim: &mut dyn Simulation,
    name: &str,
    definition: &Definition,
) -> Result<()> {
    let Some(plan) = &definition.rollout else {
        return Ok(());
    };
    check_plan(plan, ctx.orgs)?;
    if definition.sequence <= 1 || committed_sequence(sim, name)? == 0 {
        return Err(LifecycleError::BadArguments(format!(
            "sequence {} of '{name}' carries a rollout plan, but there is no committed definition to roll from; commit the first definition without a plan",
            definition.sequence
        )));
    }
    Ok(())
}

/// The committed definition of `name`, or the 404 error.
fn require_definition(sim: &mut dyn Simulation, name: &str) -> Result<Definition> {
    committed_definition(sim, name)?.ok_or_else(|| LifecycleError::Undefined {
        name: name.to_owned(),
    })
}

/// `QueryRollout`: the stored status of the current sequence, or one without a plan.
fn query_rollout(sim: &mut dyn Simulation, name: &str) -> Result<RolloutStatus> {
    let definition = require_definition(sim, name)?;
    if let Some(status) = stored_status(sim, name)?.filter(|s| s.sequence == definition.sequence) {
        return Ok(status);
    }
    let previous = previous_definition(sim, name)?;
    Ok(RolloutStatus {
        name: name.to_owned(),
        sequence: definition.sequence,
        version: definition.version,
        previous_sequence: previous.as_ref().map_or(0, |p| p.sequence),
        previous_version: previous.map(|p| p.version).unwrap_or_default(),
        plan: None,
    })
}

/// A governance act: the contract must be defined; reads the stored status (so MVCC orders
/// acts) and writes the next one.
fn governance_act(
    sim: &mut dyn Simulation,
    args: &ContractStateArgs,
    act: Act,
) -> Result<ContractStatus> {
    if args.name.is_empty() {
        return Err(LifecycleError::BadArguments(format!(
            "{}: no contract name given; name the contract to {}",
            act.function(),
            governance::state_word(act.target())
        )));
    }
    require_definition(sim, &args.name)?;
    let current = governance::stored_status(sim, &args.name)?;
    let next = governance::apply(current.as_ref(), act, &args.name, &args.reason)?;
    governance::write_status(sim, &next);
    Ok(next)
}

/// A rollout step: reads the stored status (so MVCC orders steps) and writes the next one.
fn rollout_step(sim: &mut dyn Simulation, name: &str, step: Step) -> Result<RolloutStatus> {
    let definition = require_definition(sim, name)?;
    let status = stored_status(sim, name)?;
    let next = apply_step(status.as_ref(), definition.sequence, step, name)?;
    write_status(sim, &next);
    Ok(next)
}

fn approve(
    ctx: &ChannelContext<'_>,
    judge: Judge<'_>,
    sim: &mut dyn Simulation,
    packages: &dyn PackageStore,
    args: &pb::ApproveChaincodeDefinitionForMyOrgArgs,
    input: &[u8],
    rollout: Option<crate::rollout::RolloutPlan>,
) -> Result<()> {
    if ctx.creator_msp_id != ctx.peer_msp_id {
        return Err(LifecycleError::Refused(format!(
            "cannot approve for another org: the creator belongs to {} but this peer belongs to {}; send {}'s approval to a peer of {}",
            ctx.creator_msp_id, ctx.peer_msp_id, ctx.creator_msp_id, ctx.creator_msp_id
        )));
    }
    let name = &args.name;
    let definition = Definition::from_args(
        name,
        args.sequence,
        &args.version,
        &args.endorsement_plugin,
        &args.validation_plugin,
        &args.validation_parameter,
        args.collections.as_ref(),
        args.init_required,
    )?
    .with_rollout(rollout)
    .with_upgrade_policy(crate::upgrade_policy::from_message(input)?);
    refuse_if_retired(sim, name, APPROVE)?;
    crate::upgrade_policy::check_syntax(&definition)?;
    check_definition_plan(ctx, sim, name, &definition)?;
    let source = PackageSource::from_wire(args.source.as_ref());
    let mut signatures = None;
    if let Some(id) = source.package_id() {
        if packages.get(id)?.is_none() {
            return Err(LifecycleError::PackageNotFound {
                package_id: id.to_owned(),
            });
        }
        signatures = approved_signatures(ctx, judge, packages, id, input)?;
    }
    let committed = committed_sequence(sim, name)?;
    let sequence = definition.sequence;
    if sequence == committed {
        let current = committed_definition(sim, name)?
            .ok_or_else(|| LifecycleError::Undefined { name: name.clone() })?;
        let mismatches = current.mismatches(&definition);
        if !mismatches.is_empty() {
            return Err(LifecycleError::Refused(format!(
                "attempted to redefine the current committed sequence ({committed}) for namespace {name} with different parameters: {}; to change the definition, approve sequence {}",
                mismatches.join(", "),
                committed + 1
            )));
        }
    } else if sequence != committed + 1 {
        return Err(LifecycleError::Sequence {
            requested: sequence,
            expected: committed + 1,
            hint: if committed == 0 {
                format!("'{name}' has no committed definition yet; approve sequence 1")
            } else {
                format!(
                    "'{name}' is committed at sequence {committed}; approve sequence {} for a new definition, or {committed} to approve the current one",
                    committed + 1
                )
            },
        });
    }
    let mut value = Approval { definition, source }.encode();
    if let Some(signatures) = &signatures {
        package_signing::append(signatures, &mut value);
    }
    sim.put(&approval_key(ctx.peer_msp_id, name, sequence), value);
    Ok(())
}

/// The owner signatures an approval with the installed package `package_id` records: those
/// in the arguments (field 1003), else, on a channel that requires signatures, those in the
/// installed package file. Each must verify
/// over the package as installed on this peer, and with the channel's `PackageSigners`
/// requirement they must satisfy it (see [`crate::package_signing`]).
fn approved_signatures(
    ctx: &ChannelContext<'_>,
    judge: Judge<'_>,
    packages: &dyn PackageStore,
    package_id: &str,
    input: &[u8],
) -> Result<Option<package_signing::PackageSignatures>> {
    let from_args = package_signing::from_message(input)?;
    if from_args.is_none() && package_signing::requirement(ctx.policies).is_none() {
        // Nothing to check or record: the package file is not opened.
        return Ok(None);
    }
    let bytes =
        packages
            .package_bytes(package_id)?
            .ok_or_else(|| LifecycleError::PackageNotFound {
                package_id: package_id.to_owned(),
            })?;
    let parts = package_signing::read_parts(&bytes)?;
    let hash = parts.hash();
    let given = from_args.or(parts.signatures);
    let Some(mut signatures) = given.filter(|s| !s.signatures.is_empty()) else {
        package_signing::check_requirement(
            ctx.policies,
            None,
            0,
            None,
            &format!("package '{package_id}'"),
        )?;
        return Ok(None);
    };
    if signatures.package_hash.is_empty() {
        signatures.package_hash = hash.to_vec();
    }
    package_signing::check_integrity(&signatures, &hash, package_id)?;
    let (msps, at) = judge.map_or((None, 0), |(m, at)| (Some(m), at));
    package_signing::check_requirement(
        ctx.policies,
        msps,
        at,
        Some(&signatures),
        &format!("package '{package_id}'"),
    )?;
    Ok(Some(signatures))
}

/// At commit, with the channel's `PackageSigners` requirement: the approval of every org that
/// approved exactly `definition` with a local package must carry owner signatures satisfying
/// the policy in force now.
fn check_committed_packages(
    ctx: &ChannelContext<'_>,
    judge: Judge<'_>,
    sim: &mut dyn Simulation,
    name: &str,
    definition: &Definition,
    status: &ApprovalStatus,
) -> Result<()> {
    if package_signing::requirement(ctx.policies).is_none() {
        return Ok(());
    }
    let (msps, at) = judge.map_or((None, 0), |(m, at)| (Some(m), at));
    for (org, package_id) in &status.packages {
        let signatures = approval_signatures(sim, org, name, definition.sequence)?;
        package_signing::check_requirement(
            ctx.policies,
            msps,
            at,
            signatures.as_ref(),
            &format!("package '{package_id}' that {org} approved"),
        )
        .map_err(|e| {
            LifecycleError::Refused(format!(
                "refusing to commit sequence {} of '{name}': {e}; then {org} approves sequence {} again",
                definition.sequence, definition.sequence
            ))
        })?;
    }
    Ok(())
}

/// The owner signatures recorded with `msp_id`'s approval of `name` at `sequence`, if any.
pub fn approval_signatures(
    state: &mut dyn StateGet,
    msp_id: &str,
    name: &str,
    sequence: i64,
) -> Result<Option<package_signing::PackageSignatures>> {
    let Some(bytes) = state.get(&approval_key(msp_id, name, sequence))? else {
        return Ok(None);
    };
    package_signing::from_message(&bytes)
        .map_err(|e| LifecycleError::Storage(format!("a stored approval's {e}")))
}

fn check_next_sequence(sim: &mut dyn Simulation, name: &str, sequence: i64) -> Result<()> {
    let committed = committed_sequence(sim, name)?;
    if sequence == committed + 1 {
        return Ok(());
    }
    Err(LifecycleError::Sequence {
        requested: sequence,
        expected: committed + 1,
        hint: if sequence == committed {
            format!("sequence {committed} of '{name}' is already committed; approve and commit sequence {} to change it", committed + 1)
        } else {
            format!("commit sequence {} of '{name}'", committed + 1)
        },
    })
}

fn commit(
    ctx: &ChannelContext<'_>,
    judge: Judge<'_>,
    sim: &mut dyn Simulation,
    name: &str,
    definition: &Definition,
) -> Result<()> {
    check_next_sequence(sim, name, definition.sequence)?;
    let status = approval_status(ctx, sim, name, definition)?;
    if !status
        .approved
        .get(ctx.peer_msp_id)
        .copied()
        .unwrap_or(false)
    {
        let approved: Vec<&str> = status
            .approved
            .iter()
            .filter(|(_, ok)| **ok)
            .map(|(org, _)| org.as_str())
            .collect();
        return Err(LifecycleError::Refused(format!(
            "chaincode definition not agreed to by this org ({}); {} must approve sequence {} of '{name}' with these exact parameters before its peers endorse the commit (approved so far: {})",
            ctx.peer_msp_id,
            ctx.peer_msp_id,
            definition.sequence,
            if approved.is_empty() { "none".to_owned() } else { approved.join(", ") }
        )));
    }
    check_ready(ctx, name, definition, &status)?;
    check_committed_packages(ctx, judge, sim, name, definition, &status)?;
    let current = committed_definition(sim, name)?;
    let approved: std::collections::BTreeSet<String> = status
        .approved
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(org, _)| org.clone())
        .collect();
    crate::upgrade_policy::check(name, current.as_ref(), definition, &approved)?;
    let rollout = stored_status(sim, name)?;
    // The definition that serves traffic now is the one the new definition replaces: the
    // current one, or after an aborted rollout, the one before it.
    let mut replaced = current.clone();
    if let (Some(current), Some(rollout)) = (&current, &rollout) {
        if in_progress(rollout, current.sequence) {
            return Err(LifecycleError::Refused(format!(
                "refusing to commit sequence {} of '{name}': the rollout of sequence {} (version '{}') is in progress ({}); promote it (PromoteRollout) or abort it (AbortRollout) first",
                definition.sequence,
                current.sequence,
                current.version,
                rollout.plan.as_ref().map(crate::rollout::describe).unwrap_or_default()
            )));
        }
        let aborted = rollout.sequence == current.sequence
            && rollout.plan.as_ref().map(crate::rollout::state_of)
                == Some(crate::rollout::RolloutState::Aborted);
        if aborted {
            if let Some(serving) = previous_definition(sim, name)? {
                replaced = Some(serving);
            }
        }
    }
    if let Some(previous) = &replaced {
        write_previous(sim, name, previous);
    }
    write_definition(sim, name, definition);
    if let (Some(plan), Some(previous)) = (&definition.rollout, &replaced) {
        write_status(
            sim,
            &RolloutStatus {
                name: name.to_owned(),
                sequence: definition.sequence,
                version: definition.version.clone(),
                previous_sequence: previous.sequence,
                previous_version: previous.version.clone(),
                plan: Some(plan.clone()),
            },
        );
    }
    Ok(())
}

/// Refuses a commit whose ready orgs cannot satisfy the new definition's endorsement policy.
fn check_ready(
    ctx: &ChannelContext<'_>,
    name: &str,
    definition: &Definition,
    status: &ApprovalStatus,
) -> Result<()> {
    let policy = definition.endorsement_policy()?;
    let ready: std::collections::BTreeSet<String> = status
        .ready
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(org, _)| org.clone())
        .collect();
    if orgs_satisfy(&policy, ctx.policies, &ready)? {
        return Ok(());
    }
    let not_ready: Vec<String> = status
        .ready
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(org, _)| {
            let why = if !status.approved.get(org).copied().unwrap_or(false) {
                "has not approved these parameters"
            } else {
                "approved without a package installed"
            };
            format!("{org} ({why})")
        })
        .collect();
    Err(LifecycleError::Refused(format!(
        "refusing to commit sequence {} of '{name}': the orgs ready to endorse it ({}) cannot satisfy its endorsement policy ({}); not ready: {}; each of those orgs must install the package on its peers and approve sequence {} with its package ID",
        definition.sequence,
        if ready.is_empty() { "none".to_owned() } else { ready.into_iter().collect::<Vec<_>>().join(", ") },
        describe_policy(&policy),
        if not_ready.is_empty() { "none".to_owned() } else { not_ready.join(", ") },
        definition.sequence,
    )))
}

/// Which orgs approved a definition, and where the others' approvals differ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalStatus {
    /// Every channel org → whether it approved exactly this definition.
    pub approved: BTreeMap<String, bool>,
    /// Orgs that approved this sequence with other parameters → the fields that differ.
    pub mismatches: BTreeMap<String, Vec<String>>,
    /// Every channel org → whether it approved exactly this definition with a local package
    /// (so its endorsing peers hold the package compiled; see [`crate::readiness`]).
    pub ready: BTreeMap<String, bool>,
    /// Orgs that approved exactly this definition with a local package → the package ID.
    pub packages: BTreeMap<String, String>,
}

impl ApprovalStatus {
    /// The Cambium extension report of this status.
    pub fn report(&self) -> ReadinessReport {
        ReadinessReport {
            orgs: self
                .approved
                .iter()
                .map(|(org, approved)| {
                    (
                        org.clone(),
                        OrgReadiness {
                            approved: *approved,
                            package_id: self.packages.get(org).cloned().unwrap_or_default(),
                            ready: self.ready.get(org).copied().unwrap_or(false),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Reads every channel org's approval of `name` at `definition.sequence` and compares it.
pub fn approval_status(
    ctx: &ChannelContext<'_>,
    state: &mut dyn StateGet,
    name: &str,
    definition: &Definition,
) -> Result<ApprovalStatus> {
    let mut status = ApprovalStatus::default();
    for org in ctx.orgs {
        let approval = org_approval(state, org, name, definition.sequence)?;
        let mismatches = approval
            .as_ref()
            .map(|a| a.definition.mismatches(definition));
        let approved = mismatches.as_ref().is_some_and(Vec::is_empty);
        let mismatches = mismatches.unwrap_or_default();
        let package = approval
            .as_ref()
            .filter(|_| approved)
            .and_then(|a| a.source.package_id());
        if let Some(id) = package {
            status.packages.insert(org.clone(), id.to_owned());
        }
        status.approved.insert(org.clone(), approved);
        status.ready.insert(org.clone(), package.is_some());
        if !mismatches.is_empty() {
            status.mismatches.insert(org.clone(), mismatches);
        }
    }
    Ok(status)
}

fn query_approved(
    ctx: &ChannelContext<'_>,
    sim: &mut dyn Simulation,
    name: &str,
    sequence: i64,
) -> Result<Approval> {
    let org = ctx.peer_msp_id;
    let sequence = if sequence > 0 {
        sequence
    } else {
        let committed = committed_sequence(sim, name)?;
        if org_approval(sim, org, name, committed + 1)?.is_some() {
            committed + 1
        } else {
            committed
        }
    };
    org_approval(sim, org, name, sequence)?.ok_or_else(|| {
        LifecycleError::Refused(format!(
            "could not fetch approved chaincode definition (name: '{name}', sequence: '{sequence}') on channel '{}': {org} has not approved it; approve it with ApproveChaincodeDefinitionForMyOrg",
            ctx.channel_id
        ))
    })
}

#[cfg(test)]
mod tests;
