//! What the validator needs to know about the channel and its contracts.
//!
//! - [`ChannelContext`]: the channel's ID, its MSPs and its policy tree (`/Channel/...`),
//!   implemented for the channel's configuration ([`ChannelConfig`]) and, for tests and tools,
//!   by [`StaticChannel`] from an [`MspManager`] and a [`PolicyGroup`].
//! - [`EndorsementPolicies`]: the endorsement policy of each namespace, from the committed
//!   contract definitions. [`PolicyTable`] is a `BTreeMap`-backed implementation and
//!   [`LifecyclePolicies`] the one backed by committed `_lifecycle` state. [`write_policies`]
//!   makes the lookup key-aware where `_lifecycle` needs it (approval keys).
//! - [`CommittedLedger`]: the committed state and transaction-ID index, implemented for
//!   every ledger snapshot ([`StateReader`] + [`BlockReader`]).

use std::collections::BTreeMap;

use cambium_channel::ChannelConfig;
use cambium_ledger::{BlockReader, StateReader};
use cambium_lifecycle::rollout::{plan_in_force, step_between, RolloutStatus};
use cambium_lifecycle::{ContractStatus, Creator, RolloutInForce, Step};
use cambium_msp::policy::{PolicyError, PolicyGroup, VerifiedSignatures};
use cambium_msp::MspManager;
use cambium_primitives::SignaturePolicyEnvelope;

/// The namespace of Fabric's contract lifecycle system contract.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";
/// The channel policy that `_lifecycle` writes must satisfy.
pub const LIFECYCLE_ENDORSEMENT_POLICY: &str = "/Channel/Application/LifecycleEndorsement";
/// The channel policy a contract definition uses when it names no policy of its own.
pub const DEFAULT_ENDORSEMENT_POLICY: &str = "/Channel/Application/Endorsement";

/// The channel a block belongs to: its ID, MSPs and policy tree.
///
/// Implementations are shared by the validation threads, hence `Sync`.
pub trait ChannelContext: Sync {
    /// The channel's ID; transactions naming another channel are `TARGET_CHAIN_NOT_FOUND`.
    fn channel_id(&self) -> &str;

    /// The MSPs of the channel's organisations (application and orderer orgs).
    fn msps(&self) -> &MspManager;

    /// Evaluates the channel policy at an absolute path such as
    /// `/Channel/Application/Endorsement` over signers whose identities and signatures were
    /// already verified.
    fn evaluate_policy(
        &self,
        path: &str,
        signers: &VerifiedSignatures,
    ) -> std::result::Result<(), PolicyError>;

    /// The channel's policy tree (the `Channel` group), e.g. to find whether it requires
    /// signed packages (`Application/PackageSigners`, see
    /// [`cambium_lifecycle::package_signing`]).
    fn channel_policies(&self) -> &PolicyGroup;

    /// The upgrade grace window in blocks: how many blocks after a contract definition's
    /// commit block still accept transactions endorsed under the definition it replaced
    /// (see [`cambium_lifecycle::upgrade`]). The default is
    /// [`cambium_lifecycle::upgrade::DEFAULT_GRACE_BLOCKS`].
    fn upgrade_grace_blocks(&self) -> u64 {
        cambium_lifecycle::upgrade::DEFAULT_GRACE_BLOCKS
    }
}

/// A [`ChannelContext`] held in memory: a channel ID, its MSPs and its `Channel` policy group.
#[derive(Debug)]
pub struct StaticChannel {
    channel_id: String,
    msps: MspManager,
    channel_group: PolicyGroup,
}

impl StaticChannel {
    /// A channel whose root config group (the one Fabric calls `Channel`) is `channel_group`.
    pub fn new(channel_id: &str, msps: MspManager, channel_group: PolicyGroup) -> StaticChannel {
        StaticChannel {
            channel_id: channel_id.to_owned(),
            msps,
            channel_group,
        }
    }

    /// The root policy group.
    pub fn channel_group(&self) -> &PolicyGroup {
        &self.channel_group
    }
}

impl ChannelContext for StaticChannel {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }

    fn msps(&self) -> &MspManager {
        &self.msps
    }

    fn evaluate_policy(
        &self,
        path: &str,
        signers: &VerifiedSignatures,
    ) -> std::result::Result<(), PolicyError> {
        let Some(relative) = path.strip_prefix("/Channel/") else {
            return Err(PolicyError::UnknownPolicy {
                path: path.to_owned(),
                hint: "channel policy paths are absolute and start with /Channel/, e.g. \
                       /Channel/Application/Endorsement"
                    .to_owned(),
            });
        };
        self.channel_group.evaluate(relative, signers, &self.msps)
    }

    fn channel_policies(&self) -> &PolicyGroup {
        &self.channel_group
    }
}

impl ChannelContext for ChannelConfig {
    fn channel_id(&self) -> &str {
        ChannelConfig::channel_id(self)
    }

    fn msps(&self) -> &MspManager {
        self.msp_manager()
    }

    fn evaluate_policy(
        &self,
        path: &str,
        signers: &VerifiedSignatures,
    ) -> std::result::Result<(), PolicyError> {
        let Some(relative) = path.strip_prefix("/Channel/") else {
            return Err(PolicyError::UnknownPolicy {
                path: path.to_owned(),
                hint: "channel policy paths are absolute and start with /Channel/, e.g. \
                       /Channel/Application/Endorsement"
                    .to_owned(),
            });
        };
        self.policy_group()
            .evaluate(relative, signers, self.msp_manager())
    }

    fn channel_policies(&self) -> &PolicyGroup {
        self.policy_group()
    }

    /// The `Application` group's `CambiumUpgradeGraceBlocks` value; the default without it.
    /// A value that does not decode counts as 0 blocks (the strictest reading), the same on
    /// every peer.
    fn upgrade_grace_blocks(&self) -> u64 {
        let value = self
            .group("Application")
            .and_then(|g| g.values.get(cambium_lifecycle::upgrade::GRACE_BLOCKS_KEY))
            .map(|v| match &v.value {
                cambium_wire::config::Value::Raw(bytes) => bytes.clone(),
                _ => Vec::new(),
            });
        match value {
            None => cambium_lifecycle::upgrade::DEFAULT_GRACE_BLOCKS,
            Some(bytes) => cambium_lifecycle::grace_blocks_from_config(Some(&bytes)).unwrap_or(0),
        }
    }
}

/// The endorsement policy of a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndorsementPolicy {
    /// A signature policy carried by the contract definition, e.g.
    /// `AND('Org1MSP.peer', 'Org2MSP.peer')`.
    Signature(SignaturePolicyEnvelope),
    /// A reference to a channel policy, e.g. `/Channel/Application/Endorsement`.
    ChannelPolicy(String),
}

/// A policy source that failed (for example, a lifecycle state read).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicySourceError {
    /// What went wrong, and what to do about it.
    pub message: String,
}

/// The endorsement policies of the channel's namespaces, as committed contract definitions
/// set them. Shared by the validation threads, hence `Sync`.
pub trait EndorsementPolicies: Sync {
    /// The policy that writes to `namespace` must satisfy, or `None` if no contract of that
    /// name is defined on the channel (its transactions then fail with
    /// `ENDORSEMENT_POLICY_FAILURE`). `_lifecycle` answers the channel's
    /// [`LIFECYCLE_ENDORSEMENT_POLICY`].
    fn endorsement_policy(
        &self,
        namespace: &str,
    ) -> std::result::Result<Option<EndorsementPolicy>, PolicySourceError>;

    /// The policy a transaction invoking `namespace`, endorsed with contract version
    /// `version` and committed in block `block`, must satisfy, given an upgrade grace window
    /// of `grace` blocks: the current definition's policy for its version, the previous
    /// definition's within the window ([`cambium_lifecycle::upgrade`]), or a rejection
    /// (`CHAINCODE_VERSION_CONFLICT`). The default knows no versions and answers
    /// [`EndorsementPolicies::endorsement_policy`].
    fn versioned_policy(
        &self,
        namespace: &str,
        version: &str,
        origin: &TxOrigin<'_>,
        block: u64,
        grace: u64,
    ) -> std::result::Result<VersionedPolicy, PolicySourceError> {
        let _ = (version, origin, block, grace);
        Ok(VersionedPolicy::Policy(self.endorsement_policy(namespace)?))
    }

    /// The governance status (`cambium/status/<name>`) of contract `name` committed before the
    /// block, if one is stored. The default knows none.
    fn contract_status(
        &self,
        name: &str,
    ) -> std::result::Result<Option<ContractStatus>, PolicySourceError> {
        let _ = name;
        Ok(None)
    }

    /// Checks a write of `written` to the rollout key of contract `name` (a rollout step
    /// transaction) against the rollout committed before the block: `Ok(Ok(step))` for a
    /// legal step, `Ok(Err(why))` otherwise. The default knows no rollouts and refuses every
    /// step.
    fn rollout_step(
        &self,
        name: &str,
        written: &RolloutStatus,
    ) -> std::result::Result<std::result::Result<Step, String>, PolicySourceError> {
        let _ = written;
        Ok(Err(format!(
            "this validator's policy source knows no committed rollouts, so the rollout step of '{name}' cannot be checked; validate with the lifecycle's policies"
        )))
    }
}

/// Where a transaction comes from, as a rollout routes it: its ID and its creator.
#[derive(Clone, Copy, Debug)]
pub struct TxOrigin<'a> {
    /// The transaction ID.
    pub tx_id: &'a str,
    /// The creator (MSP ID, serialized identity bytes, certificate OUs).
    pub creator: Creator<'a>,
}

/// The channel policy (absolute path) that a rollout step must satisfy: `RolloutAbort` for
/// an abort, `RolloutPromote` for every other step (advance, pause, resume, promote).
pub fn rollout_step_policy(step: Step) -> String {
    let name = if step.is_abort() {
        cambium_channel::spec::ROLLOUT_ABORT
    } else {
        cambium_channel::spec::ROLLOUT_PROMOTE
    };
    format!("/Channel/Application/{name}")
}

/// What [`EndorsementPolicies::versioned_policy`] decides for an endorsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionedPolicy {
    /// The policy to check (`None`: no contract of that name is defined).
    Policy(Option<EndorsementPolicy>),
    /// The version is not acceptable in this block; what was wrong and what to do.
    VersionRejected(String),
    /// The contract is frozen or retired (see [`cambium_lifecycle::governance`]): no
    /// transaction of it is valid (`ENDORSEMENT_POLICY_FAILURE`); what was wrong and what to
    /// do.
    ContractHalted(String),
}

/// One policy that a transaction's writes to a namespace must satisfy, and what it covers
/// (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritePolicy {
    /// What the policy guards, e.g. `'basic'` or `the approval of Org1MSP in '_lifecycle'`.
    pub scope: String,
    /// The policy, or `None` if no contract of that name is defined.
    pub policy: Option<EndorsementPolicy>,
}

/// The policy guarding an org's approval keys in `_lifecycle`: a peer of that org must
/// endorse, the equivalent of Fabric's implicit-collection endorsement policy.
pub fn approval_policy(msp_id: &str) -> std::result::Result<EndorsementPolicy, PolicySourceError> {
    cambium_msp::policy::parse(&format!("OR('{msp_id}.peer')"))
        .map(EndorsementPolicy::Signature)
        .map_err(|e| PolicySourceError {
            message: format!(
                "the approval key names MSP ID '{msp_id}', which cannot form a policy: {e}"
            ),
        })
}

/// The policies writes of `keys` to `namespace` must satisfy: for `_lifecycle`, each org
/// whose approval keys (`approvals/<MSPID>/…`) are written must endorse through one of its
/// peers, rollout keys (`cambium/rollout/<name>`) are left to the rollout step check (see
/// [`rollout_step_policy`]) unless other keys are written too (a commit, covered by the
/// namespace's policy), and the other keys need the namespace's policy; elsewhere the
/// namespace's policy.
pub fn write_policies(
    policies: &dyn EndorsementPolicies,
    namespace: &str,
    keys: &[&str],
) -> std::result::Result<Vec<WritePolicy>, PolicySourceError> {
    let namespace_policy = || -> std::result::Result<WritePolicy, PolicySourceError> {
        Ok(WritePolicy {
            scope: format!("'{namespace}'"),
            policy: policies.endorsement_policy(namespace)?,
        })
    };
    if namespace != LIFECYCLE_NAMESPACE {
        return Ok(vec![namespace_policy()?]);
    }
    let mut orgs = std::collections::BTreeSet::new();
    let mut other_keys = keys.is_empty();
    for key in keys {
        match cambium_lifecycle::approval_org(key) {
            Some(org) => {
                orgs.insert(org);
            }
            None if cambium_lifecycle::rollout::rollout_name(key).is_some() => {}
            None => other_keys = true,
        }
    }
    let mut out = Vec::new();
    for org in orgs {
        out.push(WritePolicy {
            scope: format!("the approval of {org} in '{LIFECYCLE_NAMESPACE}'"),
            policy: Some(approval_policy(org)?),
        });
    }
    if other_keys {
        out.push(namespace_policy()?);
    }
    Ok(out)
}

/// Endorsement policies from committed `_lifecycle` state, read at the start of the block
/// being validated: a contract's policy is its committed definition's validation parameter
/// (a signature policy, or a channel policy reference), `_lifecycle` itself answers
/// [`LIFECYCLE_ENDORSEMENT_POLICY`], and a name without a committed definition has none.
///
/// [`LifecyclePolicies::new`] reads every committed definition once (one range scan of the
/// definitions' metadata keys plus their fields), so the value owns no reference to the
/// state and lookups during validation touch no storage. A read failure is reported by every
/// lookup, which stops the block's validation ([`crate::ValidatorError::PolicyLookup`]).
#[derive(Clone, Debug)]
pub struct LifecyclePolicies {
    policies: std::result::Result<BTreeMap<String, Contract>, PolicySourceError>,
}

/// One contract's committed definitions as a block sees them.
#[derive(Clone, Debug)]
struct Contract {
    policy: EndorsementPolicy,
    window: cambium_lifecycle::VersionWindow,
    previous_policy: Option<EndorsementPolicy>,
    sequence: i64,
    /// The stored rollout status (possibly of an earlier sequence).
    rollout: Option<RolloutStatus>,
    /// The stored governance status and the block that wrote it.
    status: Option<(ContractStatus, u64)>,
}

impl LifecyclePolicies {
    /// The policies committed in `state` (the committed state before the block).
    pub fn new(state: &dyn StateReader) -> LifecyclePolicies {
        LifecyclePolicies {
            policies: load_policies(state),
        }
    }
}

fn definition_policy(
    name: &str,
    definition: &cambium_lifecycle::Definition,
) -> std::result::Result<EndorsementPolicy, PolicySourceError> {
    let policy = definition
        .endorsement_policy()
        .map_err(|e| PolicySourceError {
            message: format!(
                "the committed definition of '{name}' (sequence {}) has an unusable endorsement policy: {e}",
                definition.sequence
            ),
        })?;
    Ok(match policy {
        cambium_lifecycle::ApplicationPolicy::Signature(env) => EndorsementPolicy::Signature(env),
        cambium_lifecycle::ApplicationPolicy::ChannelReference(path) => {
            EndorsementPolicy::ChannelPolicy(path)
        }
    })
}

fn load_policies(
    state: &dyn StateReader,
) -> std::result::Result<BTreeMap<String, Contract>, PolicySourceError> {
    let failed = |e: cambium_lifecycle::LifecycleError| PolicySourceError {
        message: format!("reading the committed contract definitions failed: {e}"),
    };
    let mut reads = cambium_lifecycle::LedgerSimulation::new(state);
    let definitions = cambium_lifecycle::committed_definitions(&mut reads).map_err(failed)?;
    let mut policies = BTreeMap::new();
    for (name, definition) in definitions {
        let policy = definition_policy(&name, &definition)?;
        let sequence_key = cambium_lifecycle::state::field_key(&name, "Sequence");
        let committed_block = state
            .get_state(LIFECYCLE_NAMESPACE, &sequence_key)
            .map_err(|e| PolicySourceError {
                message: format!("reading _lifecycle key '{sequence_key}' failed: {e}"),
            })?
            .map(|v| v.version.block_num)
            .unwrap_or(0);
        let previous = cambium_lifecycle::upgrade::previous_definition(
            &mut cambium_lifecycle::CommittedState(state),
            &name,
        )
        .map_err(failed)?;
        let previous_policy = previous
            .as_ref()
            .map(|p| definition_policy(&name, p))
            .transpose()?;
        let rollout_key = cambium_lifecycle::rollout::rollout_key(&name);
        let stored = state
            .get_state(LIFECYCLE_NAMESPACE, &rollout_key)
            .map_err(|e| PolicySourceError {
                message: format!("reading _lifecycle key '{rollout_key}' failed: {e}"),
            })?;
        let rollout_block = stored.as_ref().map_or(0, |v| v.version.block_num);
        let rollout = stored
            .map(|v| cambium_lifecycle::rollout::decode_status(&v.value))
            .transpose()
            .map_err(failed)?;
        let status_key = cambium_lifecycle::governance::status_key(&name);
        let status = state
            .get_state(LIFECYCLE_NAMESPACE, &status_key)
            .map_err(|e| PolicySourceError {
                message: format!("reading _lifecycle key '{status_key}' failed: {e}"),
            })?
            .map(|v| {
                cambium_lifecycle::governance::decode_status(&v.value)
                    .map(|s| (s, v.version.block_num))
            })
            .transpose()
            .map_err(failed)?;
        let in_force =
            plan_in_force(rollout.as_ref(), definition.sequence).map(|plan| RolloutInForce {
                plan: plan.clone(),
                changed_block: rollout_block,
            });
        policies.insert(
            name,
            Contract {
                policy,
                window: cambium_lifecycle::VersionWindow {
                    current_version: definition.version,
                    committed_block,
                    previous_version: previous.map(|p| p.version),
                    rollout: in_force,
                },
                previous_policy,
                sequence: definition.sequence,
                rollout,
                status,
            },
        );
    }
    Ok(policies)
}

impl EndorsementPolicies for LifecyclePolicies {
    fn endorsement_policy(
        &self,
        namespace: &str,
    ) -> std::result::Result<Option<EndorsementPolicy>, PolicySourceError> {
        if namespace == LIFECYCLE_NAMESPACE {
            return Ok(Some(EndorsementPolicy::ChannelPolicy(
                LIFECYCLE_ENDORSEMENT_POLICY.to_owned(),
            )));
        }
        match &self.policies {
            Ok(policies) => Ok(policies.get(namespace).map(|c| c.policy.clone())),
            Err(e) => Err(e.clone()),
        }
    }

    fn versioned_policy(
        &self,
        namespace: &str,
        version: &str,
        origin: &TxOrigin<'_>,
        block: u64,
        grace: u64,
    ) -> std::result::Result<VersionedPolicy, PolicySourceError> {
        if namespace == LIFECYCLE_NAMESPACE {
            return Ok(VersionedPolicy::Policy(self.endorsement_policy(namespace)?));
        }
        let policies = self.policies.as_ref().map_err(Clone::clone)?;
        let Some(contract) = policies.get(namespace) else {
            return Ok(VersionedPolicy::Policy(None));
        };
        if let Some((status, since)) = &contract.status {
            if let Some(why) =
                cambium_lifecycle::governance::refusal(namespace, Some(status), *since)
            {
                return Ok(VersionedPolicy::ContractHalted(why));
            }
        }
        Ok(
            match cambium_lifecycle::judge_version(
                namespace,
                &contract.window,
                version,
                contract.window.route(origin.tx_id, &origin.creator),
                block,
                grace,
            ) {
                cambium_lifecycle::VersionVerdict::Current => {
                    VersionedPolicy::Policy(Some(contract.policy.clone()))
                }
                cambium_lifecycle::VersionVerdict::Previous => {
                    VersionedPolicy::Policy(contract.previous_policy.clone())
                }
                cambium_lifecycle::VersionVerdict::Rejected(why) => {
                    VersionedPolicy::VersionRejected(why)
                }
            },
        )
    }

    fn contract_status(
        &self,
        name: &str,
    ) -> std::result::Result<Option<ContractStatus>, PolicySourceError> {
        let policies = self.policies.as_ref().map_err(Clone::clone)?;
        Ok(policies
            .get(name)
            .and_then(|c| c.status.as_ref())
            .map(|(s, _)| s.clone()))
    }

    fn rollout_step(
        &self,
        name: &str,
        written: &RolloutStatus,
    ) -> std::result::Result<std::result::Result<Step, String>, PolicySourceError> {
        let policies = self.policies.as_ref().map_err(Clone::clone)?;
        let Some(contract) = policies.get(name) else {
            return Ok(Err(format!(
                "the transaction writes the rollout of '{name}', which has no committed definition"
            )));
        };
        if written.name != name {
            return Ok(Err(format!(
                "the rollout written under '{name}' names contract '{}'",
                written.name
            )));
        }
        Ok(
            step_between(contract.rollout.as_ref(), written, contract.sequence)
                .map_err(|e| e.to_string()),
        )
    }
}

/// Endorsement policies from a `BTreeMap`, with `_lifecycle` bound to
/// [`LIFECYCLE_ENDORSEMENT_POLICY`] unless set explicitly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyTable {
    policies: BTreeMap<String, EndorsementPolicy>,
}

impl PolicyTable {
    /// A table with only `_lifecycle` defined.
    pub fn new() -> PolicyTable {
        PolicyTable::default()
    }

    /// Sets the policy of `namespace` (builder style).
    pub fn with(mut self, namespace: &str, policy: EndorsementPolicy) -> PolicyTable {
        self.insert(namespace, policy);
        self
    }

    /// Sets the policy of `namespace`.
    pub fn insert(&mut self, namespace: &str, policy: EndorsementPolicy) {
        self.policies.insert(namespace.to_owned(), policy);
    }
}

impl EndorsementPolicies for PolicyTable {
    fn endorsement_policy(
        &self,
        namespace: &str,
    ) -> std::result::Result<Option<EndorsementPolicy>, PolicySourceError> {
        if let Some(policy) = self.policies.get(namespace) {
            return Ok(Some(policy.clone()));
        }
        if namespace == LIFECYCLE_NAMESPACE {
            return Ok(Some(EndorsementPolicy::ChannelPolicy(
                LIFECYCLE_ENDORSEMENT_POLICY.to_owned(),
            )));
        }
        Ok(None)
    }
}

/// The committed ledger a block is validated against: its state at the block before, and
/// its transaction-ID index. Implemented for every [`StateReader`] + [`BlockReader`], such as
/// a ledger snapshot.
pub trait CommittedLedger {
    /// The committed state.
    fn state(&self) -> &dyn StateReader;

    /// Whether the ledger holds a transaction with this ID (valid or not), for
    /// `DUPLICATE_TXID`.
    fn contains_tx_id(&self, tx_id: &str) -> cambium_ledger::Result<bool>;
}

impl<T: StateReader + BlockReader> CommittedLedger for T {
    fn state(&self) -> &dyn StateReader {
        self
    }

    fn contains_tx_id(&self, tx_id: &str) -> cambium_ledger::Result<bool> {
        Ok(self.transaction(tx_id)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_uses_the_channel_policy_unless_overridden() {
        let table = PolicyTable::new();
        assert_eq!(
            table.endorsement_policy(LIFECYCLE_NAMESPACE).unwrap(),
            Some(EndorsementPolicy::ChannelPolicy(
                LIFECYCLE_ENDORSEMENT_POLICY.to_owned()
            ))
        );
        assert_eq!(table.endorsement_policy("basic").unwrap(), None);
        let table = PolicyTable::new().with(
            "basic",
            EndorsementPolicy::ChannelPolicy(DEFAULT_ENDORSEMENT_POLICY.to_owned()),
        );
        assert_eq!(
            table.endorsement_policy("basic").unwrap(),
            Some(EndorsementPolicy::ChannelPolicy(
                DEFAULT_ENDORSEMENT_POLICY.to_owned()
            ))
        );
    }

    #[test]
    fn lifecycle_approval_keys_need_their_own_org() {
        let table = PolicyTable::new();
        let policies = write_policies(
            &table,
            LIFECYCLE_NAMESPACE,
            &["approvals/Org2MSP/basic#1", "approvals/Org1MSP/basic#1"],
        )
        .unwrap();
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[0].scope, "the approval of Org1MSP in '_lifecycle'");
        assert_eq!(
            policies[0].policy,
            Some(approval_policy("Org1MSP").unwrap())
        );
        assert_eq!(
            policies[1].policy,
            Some(approval_policy("Org2MSP").unwrap())
        );
        // A definition write next to an approval needs the lifecycle policy as well.
        let policies = write_policies(
            &table,
            LIFECYCLE_NAMESPACE,
            &["approvals/Org1MSP/basic#1", "namespaces/metadata/basic"],
        )
        .unwrap();
        assert_eq!(
            policies.last().unwrap().policy,
            Some(EndorsementPolicy::ChannelPolicy(
                LIFECYCLE_ENDORSEMENT_POLICY.to_owned()
            ))
        );
        // Elsewhere the key does not matter.
        let policies = write_policies(&table, "basic", &["approvals/Org1MSP/x"]).unwrap();
        assert_eq!(policies.len(), 1);
        assert_eq!(policies[0].policy, None);
    }

    /// Writes `_lifecycle` keys as a simulation would, into one valid transaction of a block.
    #[derive(Default)]
    struct Writes(Vec<cambium_ledger::KeyWrite>);

    impl cambium_lifecycle::StateGet for Writes {
        fn get(&mut self, _key: &str) -> cambium_lifecycle::Result<Option<Vec<u8>>> {
            Ok(None)
        }
    }

    impl cambium_lifecycle::Simulation for Writes {
        fn put(&mut self, key: &str, value: Vec<u8>) {
            self.0.push(cambium_ledger::KeyWrite::put(
                LIFECYCLE_NAMESPACE,
                key,
                value,
            ));
        }

        fn range(
            &mut self,
            _start: &str,
            _end: &str,
        ) -> cambium_lifecycle::Result<Vec<(String, Vec<u8>)>> {
            Ok(Vec::new())
        }
    }

    /// A ledger whose block 0 committed `kv` at sequence 2 (version 2.0, with `plan`) over
    /// sequence 1 (version 1.0), as a commit of a definition with a plan writes it.
    fn canary_state(plan: &cambium_lifecycle::RolloutPlan) -> cambium_ledger::MemLedger {
        use cambium_ledger::BlockWriter;
        let v1 = cambium_lifecycle::Definition::new(1, "1.0");
        let v2 = cambium_lifecycle::Definition::new(2, "2.0").with_rollout(Some(plan.clone()));
        let mut writes = Writes::default();
        cambium_lifecycle::state::write_definition(&mut writes, "kv", &v2);
        cambium_lifecycle::upgrade::write_previous(&mut writes, "kv", &v1);
        cambium_lifecycle::rollout::write_status(
            &mut writes,
            &RolloutStatus {
                name: "kv".into(),
                sequence: 2,
                version: "2.0".into(),
                previous_sequence: 1,
                previous_version: "1.0".into(),
                plan: Some(plan.clone()),
            },
        );
        let ledger = cambium_ledger::MemLedger::new();
        ledger
            .commit_block(&cambium_ledger::BlockCommit {
                block: cambium_ledger::Block::new(0, Vec::new(), vec![b"commit".to_vec()]),
                outcomes: vec![cambium_ledger::TxOutcome::valid(writes.0)],
            })
            .expect("block commits");
        ledger
    }

    #[test]
    fn a_rollout_step_needs_rollout_abort_for_an_abort_and_rollout_promote_otherwise() {
        assert_eq!(
            rollout_step_policy(Step::Abort),
            "/Channel/Application/RolloutAbort"
        );
        for step in [Step::Advance(50), Step::Pause, Step::Resume, Step::Promote] {
            assert_eq!(
                rollout_step_policy(step),
                "/Channel/Application/RolloutPromote"
            );
        }
        let plan = cambium_lifecycle::RolloutPlan {
            weight_percent: 10,
            ..Default::default()
        };
        let ledger = canary_state(&plan);
        let snapshot = cambium_ledger::SnapshotSource::snapshot(&ledger).unwrap();
        let policies = LifecyclePolicies::new(&snapshot);
        let stored = cambium_lifecycle::rollout::stored_status(
            &mut cambium_lifecycle::CommittedState(&snapshot),
            "kv",
        )
        .unwrap();
        for step in [Step::Advance(40), Step::Pause, Step::Promote, Step::Abort] {
            let written =
                cambium_lifecycle::rollout::apply_step(stored.as_ref(), 2, step, "kv").unwrap();
            assert_eq!(policies.rollout_step("kv", &written).unwrap(), Ok(step));
        }
        // An "abort" that also rewrites the selectors is no step at all.
        let mut forged =
            cambium_lifecycle::rollout::apply_step(stored.as_ref(), 2, Step::Abort, "kv").unwrap();
        forged.plan.as_mut().unwrap().orgs.push("Org1MSP".into());
        assert!(policies.rollout_step("kv", &forged).unwrap().is_err());
        assert!(policies.rollout_step("other", &forged).unwrap().is_err());
        // A policy table knows no rollouts and refuses every step.
        assert!(PolicyTable::new()
            .rollout_step("kv", &forged)
            .unwrap()
            .is_err());
        // Rollout keys alone ask for no namespace policy (the step check decides); next to a
        // definition write they are part of a commit under LifecycleEndorsement.
        let table = PolicyTable::new();
        assert!(
            write_policies(&table, LIFECYCLE_NAMESPACE, &["cambium/rollout/kv"])
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            write_policies(
                &table,
                LIFECYCLE_NAMESPACE,
                &["cambium/rollout/kv", "namespaces/metadata/kv"]
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn a_frozen_or_retired_contract_has_no_policy_in_force_from_the_next_block() {
        use cambium_ledger::BlockWriter;
        use cambium_lifecycle::{ContractState, ContractStatus};
        // A rollout at 100 %: every transaction is on 2.0.
        let ledger = canary_state(&cambium_lifecycle::RolloutPlan {
            weight_percent: 100,
            ..Default::default()
        });
        let ous: Vec<String> = Vec::new();
        let origin = TxOrigin {
            tx_id: "00",
            creator: Creator {
                msp_id: "Org1MSP",
                identity: b"creator",
                ous: &ous,
            },
        };
        let decide = |ledger: &cambium_ledger::MemLedger| {
            let snapshot = cambium_ledger::SnapshotSource::snapshot(ledger).unwrap();
            let policies = LifecyclePolicies::new(&snapshot);
            (
                policies.contract_status("kv").unwrap(),
                policies
                    .versioned_policy("kv", "2.0", &origin, 100, 5)
                    .unwrap(),
            )
        };
        let (status, decided) = decide(&ledger);
        assert_eq!(status, None);
        assert!(matches!(decided, VersionedPolicy::Policy(Some(_))));
        for (block, state) in [(1, ContractState::Frozen), (2, ContractState::Retired)] {
            let mut writes = Writes::default();
            cambium_lifecycle::governance::write_status(
                &mut writes,
                &ContractStatus {
                    state: state as i32,
                    reason: "incident".into(),
                    name: "kv".into(),
                },
            );
            let previous = cambium_ledger::BlockReader::block(
                &cambium_ledger::SnapshotSource::snapshot(&ledger).unwrap(),
                block - 1,
            )
            .unwrap()
            .unwrap()
            .hash
            .to_vec();
            ledger
                .commit_block(&cambium_ledger::BlockCommit {
                    block: cambium_ledger::Block::new(block, previous, vec![b"act".to_vec()]),
                    outcomes: vec![cambium_ledger::TxOutcome::valid(writes.0)],
                })
                .expect("block commits");
            let (status, decided) = decide(&ledger);
            assert_eq!(status.map(|s| s.state), Some(state as i32));
            let VersionedPolicy::ContractHalted(why) = decided else {
                panic!("{state:?} contract still has a policy: {decided:?}");
            };
            let word = cambium_lifecycle::governance::state_word(state);
            assert!(
                why.starts_with(&format!(
                    "contract kv is {word} since block {block}: incident"
                )),
                "{why}"
            );
        }
        // The default policy source knows no statuses.
        assert_eq!(PolicyTable::new().contract_status("kv").unwrap(), None);
    }

    #[test]
    fn routing_decisions_are_the_same_for_every_reader_of_the_same_state() {
        let plan = cambium_lifecycle::RolloutPlan {
            weight_percent: 30,
            orgs: vec!["Org2MSP".into()],
            ..Default::default()
        };
        let ledger = canary_state(&plan);
        let snapshot = cambium_ledger::SnapshotSource::snapshot(&ledger).unwrap();
        let (a, b) = (
            LifecyclePolicies::new(&snapshot),
            LifecyclePolicies::new(&snapshot),
        );
        let ous: Vec<String> = Vec::new();
        for i in 0..200 {
            let tx_id = format!("{i:064x}");
            for msp_id in ["Org1MSP", "Org2MSP"] {
                let origin = TxOrigin {
                    tx_id: &tx_id,
                    creator: Creator {
                        msp_id,
                        identity: b"creator",
                        ous: &ous,
                    },
                };
                let assigned = cambium_lifecycle::assign(&plan, &tx_id, &origin.creator);
                for version in ["1.0", "2.0"] {
                    // Block 100 is far past the grace window of the commit in block 0.
                    let first = a.versioned_policy("kv", version, &origin, 100, 5).unwrap();
                    assert_eq!(
                        first,
                        b.versioned_policy("kv", version, &origin, 100, 5).unwrap()
                    );
                    let accepted = !matches!(first, VersionedPolicy::VersionRejected(_));
                    let expected = match assigned {
                        cambium_lifecycle::Route::New => "2.0",
                        cambium_lifecycle::Route::Previous => "1.0",
                    };
                    assert_eq!(accepted, version == expected, "{tx_id} {msp_id} {version}");
                    // Within the window after the switch both versions are accepted.
                    assert!(!matches!(
                        a.versioned_policy("kv", version, &origin, 3, 5).unwrap(),
                        VersionedPolicy::VersionRejected(_)
                    ));
                }
                if msp_id == "Org2MSP" {
                    assert_eq!(assigned, cambium_lifecycle::Route::New);
                }
            }
        }
    }

    #[test]
    fn static_channel_rejects_relative_paths() {
        let channel = StaticChannel::new(
            "ch",
            MspManager::new(Vec::new()).unwrap(),
            PolicyGroup::new(),
        );
        let err = channel
            .evaluate_policy("Application/Endorsement", &VerifiedSignatures::default())
            .unwrap_err();
        assert!(err.to_string().contains("/Channel/"), "{err}");
    }
}
