//! Which contracts a channel can run: the [`ContractRegistry`] seam and a map-backed
//! [`StaticRegistry`]. The `_lifecycle`-backed registry (committed definitions plus installed
//! packages) implements the same trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use cambium_vm::{Contract, ContractResolver};

/// A contract ready to run on a channel: the definition's version string (it goes into
/// `ChaincodeAction.chaincode_id.version`) and the installed module.
#[derive(Clone, Debug)]
pub struct InstalledContract {
    /// The version string of the contract's definition on the channel; Fabric's validator
    /// rejects an empty one.
    pub version: String,
    /// The installed, compiled module.
    pub contract: Arc<Contract>,
}

/// Looks up the contract a proposal names.
pub trait ContractRegistry: Send + Sync {
    /// The contract defined and installed under `name`, or `None`.
    fn contract(&self, name: &str) -> Option<InstalledContract>;
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
            },
        );
    }

    /// The names registered, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }
}

impl ContractRegistry for StaticRegistry {
    fn contract(&self, name: &str) -> Option<InstalledContract> {
        self.contracts.get(name).cloned()
    }
}

/// Lets contracts call each other (`invoke_contract`) through a registry.
pub(crate) struct RegistryResolver(pub(crate) Arc<dyn ContractRegistry>);

impl ContractResolver for RegistryResolver {
    fn resolve(&self, name: &str) -> Option<Arc<Contract>> {
        self.0.contract(name).map(|c| c.contract)
    }
}
