//! Which contracts a channel can run: the [`ContractRegistry`] seam and a map-backed
//! [`StaticRegistry`]. The `_lifecycle`-backed [`crate::LifecycleRegistry`] (committed
//! definitions plus installed packages) implements the same trait, reading the definition
//! from the same ledger snapshot the simulation runs on, and routes each proposal
//! ([`ProposalOrigin`]) to the version a canary rollout assigns it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cambium_vm::{Contract, ContractResolver};

use crate::endorser::LedgerView;

/// A contract ready to run on a channel: the definition's version string (it goes into
/// `ChaincodeAction.chaincode_id.version`) and the installed module.
#[derive(Clone, Debug)]
pub struct InstalledContract {
    /// The version string of the contract's definition on the channel; Fabric's validator
    /// rejects an empty one.
    pub version: String,
    /// The installed, compiled module.
    pub contract: Arc<Contract>,
    /// Whether the definition requires the init call (`ChaincodeInput.is_init`) before any
    /// other invoke.
    pub init_required: bool,
}

/// Why a registry has no runnable contract under a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// No definition of that name is committed on the channel.
    NotDefined,
    /// The name is defined but this peer cannot run it; the message says why and what to do.
    NotInstalled(String),
    /// Reading the definition failed.
    Failed(String),
}

/// Where a proposal comes from, as a canary rollout routes it: its transaction ID and its
/// creator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalOrigin {
    /// The transaction ID.
    pub tx_id: String,
    /// The creator's MSP ID.
    pub msp_id: String,
    /// The creator's `SerializedIdentity` bytes, as in the proposal header.
    pub identity: Vec<u8>,
    /// The OUs of the creator's certificate.
    pub ous: Vec<String>,
}

impl ProposalOrigin {
    /// The creator as rollout selectors see it.
    pub fn creator(&self) -> cambium_lifecycle::Creator<'_> {
        cambium_lifecycle::Creator {
            msp_id: &self.msp_id,
            identity: &self.identity,
            ous: &self.ous,
        }
    }
}

/// Looks up the contract a proposal names.
pub trait ContractRegistry: Send + Sync {
    /// The contract defined and installed under `name`, as of `snapshot` (the ledger view the
    /// simulation reads, so the definition and the state agree): the current definition's.
    fn contract(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
    ) -> Result<InstalledContract, LookupError>;

    /// The contract that serves the proposal `origin` under `name`: with a canary rollout in
    /// progress, the version the rollout assigns it (the same answer on every peer and in the
    /// validator). The default routes nothing and answers [`ContractRegistry::contract`].
    fn routed_contract(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
        origin: &ProposalOrigin,
    ) -> Result<InstalledContract, LookupError> {
        let _ = origin;
        self.contract(name, snapshot)
    }

    /// The compiled contract of an installed package, for running a committed definition's
    /// migration before the definition is in force. The default has no packages.
    fn package_contract(&self, package_id: &str) -> Option<Arc<Contract>> {
        let _ = package_id;
        None
    }
}

/// A [`ContractRegistry`] held in a `BTreeMap`, for tests, tools and fixed deployments.
#[derive(Clone, Debug, Default)]
pub struct StaticRegistry {
    contracts: BTreeMap<String, InstalledContract>,
}

impl StaticRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `contract` under `name` at `version` (builder style).
    pub fn with(mut self, name: &str, version: &str, contract: Arc<Contract>) -> Self {
        self.insert(name, version, contract);
        self
    }

    /// Adds or replaces `name`.
    pub fn insert(&mut self, name: &str, version: &str, contract: Arc<Contract>) {
        self.contracts.insert(
            name.to_owned(),
            InstalledContract {
                version: version.to_owned(),
                contract,
                init_required: false,
            },
        );
    }

    /// The names registered, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }
}

impl ContractRegistry for StaticRegistry {
    fn contract(
        &self,
        name: &str,
        _snapshot: &dyn LedgerView,
    ) -> Result<InstalledContract, LookupError> {
        self.contracts
            .get(name)
            .cloned()
            .ok_or(LookupError::NotDefined)
    }
}

/// Lets contracts call each other (`invoke_contract`) through a registry, at the snapshot of
/// the calling simulation. A called contract is routed by the calling transaction's origin,
/// like the called one. A called contract that is frozen or retired (its committed governance
/// status) does not run: the VM answers the caller that it is not available, and the first such
/// refusal is kept ([`RegistryResolver::refusal`]) so the endorser refuses the whole proposal
/// with the same message a direct proposal gets.
pub(crate) struct RegistryResolver {
    registry: Arc<dyn ContractRegistry>,
    snapshot: Arc<dyn LedgerView>,
    origin: ProposalOrigin,
    refusal: Mutex<Option<String>>,
}

impl RegistryResolver {
    pub(crate) fn new(
        registry: Arc<dyn ContractRegistry>,
        snapshot: Arc<dyn LedgerView>,
        origin: ProposalOrigin,
    ) -> RegistryResolver {
        RegistryResolver {
            registry,
            snapshot,
            origin,
            refusal: Mutex::new(None),
        }
    }

    /// The first refusal of a called contract: `<name>, which refuses it: <why>`.
    pub(crate) fn refusal(&self) -> Option<String> {
        self.refusal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn refuse(&self, name: &str, why: String) {
        self.refusal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(|| format!("{name}, which refuses it: {why}"));
    }
}

impl ContractResolver for RegistryResolver {
    fn resolve(&self, name: &str) -> Option<Arc<Contract>> {
        match crate::endorser::governance_refusal(self.snapshot.as_ref(), name) {
            Ok(None) => {}
            Ok(Some(why)) | Err(crate::endorser::Refusal(why)) => {
                self.refuse(name, why);
                return None;
            }
        }
        self.registry
            .routed_contract(name, self.snapshot.as_ref(), &self.origin)
            .ok()
            .map(|c| c.contract)
    }
}
