//! Fabric v2's contract lifecycle (`_lifecycle`) as plain, deterministic rules.
//!
//! - [`Definition`]: what a channel agrees for a contract name (sequence, version, endorsement
//!   policy, plugins, init-required; collections must be empty), and [`ApplicationPolicy`],
//!   the endorsement policy it carries.
//! - [`state`]: the layout of the public `_lifecycle` namespace, following Fabric's key names
//!   (`namespaces/metadata/<name>`, `namespaces/fields/<name>/<Field>`), plus Cambium's public
//!   per-org approval keys (`approvals/<MSPID>/<name>#<sequence>`, see [`state`] for why they
//!   are public), and the small state traits the rules run over ([`StateGet`],
//!   [`Simulation`]), with [`LedgerSimulation`] recording reads and writes over a ledger
//!   snapshot.
//! - [`readiness`]: which orgs are ready to endorse a definition at commit (approved with a
//!   compiled package), whether they can satisfy its endorsement policy, and the Cambium
//!   extension that reports it alongside Fabric's results.
//! - [`upgrade`]: which contract versions a block accepts across an upgrade (the current
//!   one, and the previous one within the channel's grace window), and the previous
//!   definition each commit records.
//! - [`rollout`]: canary rollout plans (weight by a hash of the tx ID, selectors by org,
//!   client or OU), the deterministic assignment of a transaction to the new or the previous
//!   version, the rollout state kept under `cambium/rollout/<name>` and the steps (advance,
//!   pause, resume, promote, abort) that move it.
//! - [`governance`]: freezing, unfreezing and retiring a contract (`cambium/status/<name>`),
//!   the legal acts, and the refusals endorsers and the validator give a frozen or retired
//!   contract's transactions.
//! - [`upgrade_policy`]: a definition's own upgrade policy (extension field 1002): the next
//!   definition's commit must satisfy it, over the orgs whose admins approved.
//! - [`package_signing`]: signed contract packages: the package hash owners sign, the
//!   signatures in the package file and on the ledger (extension field 1003), and the
//!   channel's `PackageSigners` requirement checked at approve and commit.
//! - [`scc`]: the `_lifecycle` functions with Fabric's argument and result protobufs
//!   (`ApproveChaincodeDefinitionForMyOrg`, `CheckCommitReadiness`,
//!   `CommitChaincodeDefinition`, the queries, and the peer-local `InstallChaincode`,
//!   `QueryInstalledChaincode(s)`, `GetInstalledChaincodePackage` over a [`PackageStore`]),
//!   Cambium's rollout functions (`AdvanceRollout`, `PauseRollout`, `ResumeRollout`,
//!   `PromoteRollout`, `AbortRollout`, `QueryRollout`), their ACLs ([`scc::acl`]) and their
//!   responses (200, 404, 500 as Fabric).
//!
//! Cambium's own extension messages (rollout plan and status, readiness report, grace window
//! value) are the `cambium.lifecycle` protobufs of `cambium-wire`; this crate holds only the
//! rules over them and does not depend on a protobuf library.
//!
//! This crate never runs contract code and does not depend on `cambium-vm`: the validator
//! reads committed definitions through it.

pub mod definition;
pub mod error;
pub mod governance;
pub mod package;
pub mod package_signing;
pub mod readiness;
pub mod rollout;
pub mod scc;
pub mod state;
pub mod upgrade;
pub mod upgrade_policy;

pub use definition::{ApplicationPolicy, Approval, Definition, PackageSource};
pub use error::{LifecycleError, Result};
pub use governance::{Act, ContractState, ContractStateArgs, ContractStatus};
pub use package::{InstalledPackage, PackageStore};
pub use readiness::{
    append_report, orgs_satisfy, ready_orgs, report_from_result, OrgReadiness, ReadinessReport,
};
pub use rollout::{
    assign, Creator, RolloutPlan, RolloutState, RolloutStatus, RolloutStepArgs, Route, Step,
};
pub use scc::{Acl, ChannelContext};
pub use state::{
    approval_key, approval_org, committed_definition, committed_definitions, org_approval,
    CommittedState, LedgerSimulation, Simulation, StateGet,
};
pub use upgrade::{
    grace_blocks_from_config, judge_version, RolloutInForce, UpgradeGraceBlocks, VersionVerdict,
    VersionWindow,
};

/// The namespace (and system contract name) of the lifecycle.
pub const NAMESPACE: &str = "_lifecycle";

/// The channel policy a definition's endorsement policy defaults to.
pub const DEFAULT_ENDORSEMENT_POLICY: &str = "/Channel/Application/Endorsement";

/// The channel policy that commits of definitions (writes to `_lifecycle` other than
/// approvals) must satisfy.
pub const LIFECYCLE_ENDORSEMENT_POLICY: &str = "/Channel/Application/LifecycleEndorsement";

/// The endorsement plugin a definition names when it names none.
pub const DEFAULT_ENDORSEMENT_PLUGIN: &str = "escc";

/// The validation plugin a definition names when it names none.
pub const DEFAULT_VALIDATION_PLUGIN: &str = "vscc";

/// The version string system contracts put in `ChaincodeAction.chaincode_id`.
pub const SYSTEM_CHAINCODE_VERSION: &str = "syscc";
