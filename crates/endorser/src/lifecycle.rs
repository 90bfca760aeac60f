//! The peer's side of `_lifecycle`: installed packages and the contracts they give.
//!
//! - [`DirPackageStore`]: a directory of installed packages (`<label>.<sha256>.tar.gz`, as
//!   Fabric names them). Installing validates the package and compiles its module through
//!   `cambium-vm`, so a contract is ready the moment it is installed; opening the directory
//!   again after a restart loads every package, and the VM's compiled-module cache (give the
//!   [`Vm`] a `cache_dir`) spares the recompilation.
//! - [`LifecycleRegistry`]: the [`ContractRegistry`] of a channel under `_lifecycle`: the
//!   definition committed in the simulation's own snapshot, this org's approval of that
//!   sequence (which names the package its peers run), and the package store. While a canary
//!   rollout is in force, a proposal the rollout assigns to the previous version runs the
//!   previous definition (`cambium/previous/<name>`) with the package this org approved for
//!   that sequence, and its `ChaincodeAction.chaincode_id.version` is the previous version.
//! - [`PeerLifecycle`]: what the endorser needs to answer `_lifecycle` proposals: the peer's
//!   local MSP (for the admin ACLs) and its package store.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use cambium_lifecycle::rollout::{assign, plan_in_force, stored_status, RolloutPlan, Route};
use cambium_lifecycle::upgrade::previous_definition;
use cambium_lifecycle::{
    committed_definition, org_approval, CommittedState, Definition, InstalledPackage,
    LifecycleError, PackageSource, PackageStore,
};
use cambium_msp::Msp;
use cambium_vm::package::{package_id, read_package};
use cambium_vm::{Contract, Vm};

use crate::endorser::LedgerView;
use crate::registry::{ContractRegistry, InstalledContract, LookupError, ProposalOrigin};

/// The file suffix of stored packages.
const PACKAGE_SUFFIX: &str = ".tar.gz";

#[derive(Clone)]
struct Entry {
    package: InstalledPackage,
    contract: Arc<Contract>,
    file: PathBuf,
}

/// Installed packages in a directory, each compiled and ready to run. See the module docs.
pub struct DirPackageStore {
    dir: PathBuf,
    vm: Arc<Vm>,
    packages: RwLock<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for DirPackageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirPackageStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn storage(what: String) -> impl FnOnce(std::io::Error) -> LifecycleError {
    move |e| LifecycleError::Storage(format!("{what}: {e}; check the peer's package directory"))
}

impl DirPackageStore {
    /// Opens (creating if needed) the package directory `dir` and loads every package in it,
    /// compiling each module with `vm` (or loading it from the VM's compiled cache).
    pub fn open(dir: impl AsRef<Path>, vm: Arc<Vm>) -> cambium_lifecycle::Result<DirPackageStore> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(storage(format!("cannot create {}", dir.display())))?;
        let store = DirPackageStore {
            dir,
            vm,
            packages: RwLock::new(BTreeMap::new()),
        };
        let listing = std::fs::read_dir(&store.dir)
            .map_err(storage(format!("cannot list {}", store.dir.display())))?;
        let mut files: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(PACKAGE_SUFFIX))
            .collect();
        files.sort();
        for file in files {
            let bytes =
                std::fs::read(&file).map_err(storage(format!("cannot read {}", file.display())))?;
            let entry = store.prepare(&bytes, file.clone()).map_err(|e| {
                LifecycleError::Storage(format!(
                    "installed package {} cannot be loaded: {e}; remove it and install the package again",
                    file.display()
                ))
            })?;
            store
                .write()
                .insert(entry.package.package_id.clone(), entry);
        }
        Ok(store)
    }

    /// The directory holding the packages.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled contract of an installed package.
    pub fn contract(&self, package_id: &str) -> Option<Arc<Contract>> {
        self.read().get(package_id).map(|e| Arc::clone(&e.contract))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.packages
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        self.packages
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Validates and compiles a package; `file` is where it is (or will be) stored.
    fn prepare(&self, bytes: &[u8], file: PathBuf) -> cambium_lifecycle::Result<Entry> {
        let package = read_package(bytes).map_err(|e| {
            LifecycleError::BadArguments(format!("failed to install chaincode: {e}"))
        })?;
        let contract = self.vm.install(&package.wasm).map_err(|e| {
            LifecycleError::BadArguments(format!(
                "failed to install chaincode: the contract module is not usable: {e}"
            ))
        })?;
        let label = package.metadata.label;
        Ok(Entry {
            package: InstalledPackage {
                package_id: package_id(&label, bytes),
                label,
            },
            contract: Arc::new(contract),
            file,
        })
    }
}

impl PackageStore for DirPackageStore {
    fn install(&self, package: &[u8]) -> cambium_lifecycle::Result<InstalledPackage> {
        // The duplicate check first: it needs only the label, not a compilation.
        let label = read_package(package)
            .map_err(|e| LifecycleError::BadArguments(format!("failed to install chaincode: {e}")))?
            .metadata
            .label;
        let id = package_id(&label, package);
        if self.read().contains_key(&id) {
            return Err(LifecycleError::Refused(format!(
                "chaincode already successfully installed (package ID '{id}'); approve it with this package ID"
            )));
        }
        let entry = self.prepare(package, PathBuf::new())?;
        // `label:hash` → `label.hash.tar.gz`, Fabric's file name.
        let file = self
            .dir
            .join(format!("{}{PACKAGE_SUFFIX}", id.replacen(':', ".", 1)));
        let tmp = file.with_extension("partial");
        std::fs::write(&tmp, package)
            .map_err(storage(format!("cannot write {}", tmp.display())))?;
        std::fs::rename(&tmp, &file)
            .map_err(storage(format!("cannot move {} into place", tmp.display())))?;
        let installed = entry.package.clone();
        self.write().insert(id, Entry { file, ..entry });
        Ok(installed)
    }

    fn installed(&self) -> cambium_lifecycle::Result<Vec<InstalledPackage>> {
        Ok(self.read().values().map(|e| e.package.clone()).collect())
    }

    fn get(&self, package_id: &str) -> cambium_lifecycle::Result<Option<InstalledPackage>> {
        Ok(self.read().get(package_id).map(|e| e.package.clone()))
    }

    fn package_bytes(&self, package_id: &str) -> cambium_lifecycle::Result<Option<Vec<u8>>> {
        let Some(file) = self.read().get(package_id).map(|e| e.file.clone()) else {
            return Ok(None);
        };
        std::fs::read(&file)
            .map(Some)
            .map_err(storage(format!("cannot read {}", file.display())))
    }
}

/// The contracts of a channel as `_lifecycle` defines them; see the module docs.
///
/// What `_lifecycle` says of a contract changes only when a block commits, while every proposal
/// asks: the registry keeps, for the newest ledger height it has seen, each contract's
/// [`Resolution`] (about eight state reads to make), and makes it again at the next height.
/// Which package this peer has installed is looked up on every call, since installing changes it
/// between blocks. A registry belongs to one channel's ledger (see `cambium-peer`'s
/// `ContractSource`), so a height names one state.
#[derive(Clone, Debug)]
pub struct LifecycleRegistry {
    msp_id: String,
    packages: Arc<DirPackageStore>,
    resolutions: Arc<Mutex<Resolutions>>,
}

/// The [`Resolution`]s made at one ledger height.
#[derive(Debug, Default)]
struct Resolutions {
    /// The savepoint of the snapshots they were made from (`Some(None)`: the empty ledger);
    /// `None` before the first.
    height: Option<Option<u64>>,
    by_name: HashMap<String, Arc<Resolution>>,
}

/// What `_lifecycle` says of one contract at one height: the definition each route runs and
/// this organisation's approval of it.
#[derive(Debug)]
struct Resolution {
    /// The rollout plan in force, which sends some proposals to `previous`.
    plan: Option<RolloutPlan>,
    /// The current definition, approved; `NotDefined` or `NotInstalled` if not runnable.
    current: Result<Approved, LookupError>,
    /// The previous definition, approved, while a plan is in force and one is recorded.
    previous: Option<Result<Approved, LookupError>>,
}

/// A definition and the package this organisation approved for it.
#[derive(Clone, Debug)]
struct Approved {
    version: String,
    init_required: bool,
    package_id: String,
}

impl LifecycleRegistry {
    /// The registry of a peer of `msp_id` running packages from `packages`.
    pub fn new(msp_id: &str, packages: Arc<DirPackageStore>) -> LifecycleRegistry {
        LifecycleRegistry {
            msp_id: msp_id.to_owned(),
            packages,
            resolutions: Arc::default(),
        }
    }
}

impl LifecycleRegistry {
    /// `name`'s resolution at `snapshot`'s height, made once per height. Errors only when the
    /// ledger cannot be read (never remembered).
    fn resolution(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
    ) -> Result<Arc<Resolution>, LookupError> {
        let height = snapshot
            .savepoint()
            .map_err(|e| LookupError::Failed(e.to_string()))?;
        let lock = || {
            self.resolutions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        {
            let cached = lock();
            if cached.height == Some(height) {
                if let Some(r) = cached.by_name.get(name) {
                    return Ok(Arc::clone(r));
                }
            }
        }
        let made = Arc::new(self.resolve_at(name, snapshot)?);
        let mut cached = lock();
        // A snapshot older than the height in the cache (a proposal that started before the
        // last block committed) is answered but not remembered.
        if cached.height.is_none_or(|h| h < height) {
            cached.height = Some(height);
            cached.by_name.clear();
        }
        if cached.height == Some(height) {
            cached.by_name.insert(name.to_owned(), Arc::clone(&made));
        }
        Ok(made)
    }

    /// Reads `name`'s resolution from `snapshot`.
    fn resolve_at(&self, name: &str, snapshot: &dyn LedgerView) -> Result<Resolution, LookupError> {
        let mut state = CommittedState(snapshot);
        let failed = |e: LifecycleError| LookupError::Failed(e.to_string());
        let Some(definition) = committed_definition(&mut state, name).map_err(failed)? else {
            return Ok(Resolution {
                plan: None,
                current: Err(LookupError::NotDefined),
                previous: None,
            });
        };
        let status = stored_status(&mut state, name).map_err(failed)?;
        let plan = plan_in_force(status.as_ref(), definition.sequence).cloned();
        let previous = match plan {
            Some(_) => previous_definition(&mut state, name)
                .map_err(failed)?
                .map(|d| self.approved(name, &mut state, d)),
            None => None,
        };
        let current = self.approved(name, &mut state, definition);
        for outcome in [Some(&current), previous.as_ref()].into_iter().flatten() {
            if let Err(LookupError::Failed(why)) = outcome {
                return Err(LookupError::Failed(why.clone()));
            }
        }
        Ok(Resolution {
            plan,
            current,
            previous,
        })
    }

    /// `definition` with the package this organisation approved for its sequence, or why this
    /// peer cannot run it.
    fn approved(
        &self,
        name: &str,
        state: &mut CommittedState<'_>,
        definition: Definition,
    ) -> Result<Approved, LookupError> {
        let sequence = definition.sequence;
        let msp = &self.msp_id;
        let approval = org_approval(state, msp, name, sequence)
            .map_err(|e| LookupError::Failed(e.to_string()))?
            .ok_or_else(|| {
                LookupError::NotInstalled(format!(
                    "chaincode definition for '{name}' exists, but {msp} has not approved sequence {sequence}; approve it with a package installed on this peer"
                ))
            })?;
        match approval.source {
            PackageSource::Local(package_id) => Ok(Approved {
                version: definition.version,
                init_required: definition.init_required,
                package_id,
            }),
            PackageSource::Unavailable => Err(LookupError::NotInstalled(format!(
                "chaincode definition for '{name}' exists, but chaincode is not installed: {msp} approved sequence {sequence} without a package; install the package and approve sequence {sequence} again with its package ID"
            ))),
        }
    }

    fn resolve(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
        origin: Option<&ProposalOrigin>,
    ) -> Result<InstalledContract, LookupError> {
        let resolution = self.resolution(name, snapshot)?;
        // The definition serving `origin`: the current one, unless a rollout in force routes
        // the proposal to the previous one (if one is recorded).
        let serving = match (origin, &resolution.plan, &resolution.previous) {
            (Some(origin), Some(plan), Some(previous))
                if assign(plan, &origin.tx_id, &origin.creator()) != Route::New =>
            {
                previous
            }
            _ => &resolution.current,
        };
        let approved = serving.clone()?;
        let contract = self.packages.contract(&approved.package_id).ok_or_else(|| {
            let msp = &self.msp_id;
            LookupError::NotInstalled(format!(
                "chaincode definition for '{name}' exists, but chaincode is not installed: package '{}' that {msp} approved is not on this peer; install it",
                approved.package_id
            ))
        })?;
        Ok(InstalledContract {
            version: approved.version,
            contract,
            init_required: approved.init_required,
        })
    }
}

impl ContractRegistry for LifecycleRegistry {
    fn contract(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
    ) -> Result<InstalledContract, LookupError> {
        self.resolve(name, snapshot, None)
    }

    fn routed_contract(
        &self,
        name: &str,
        snapshot: &dyn LedgerView,
        origin: &ProposalOrigin,
    ) -> Result<InstalledContract, LookupError> {
        self.resolve(name, snapshot, Some(origin))
    }

    fn package_contract(&self, package_id: &str) -> Option<Arc<Contract>> {
        self.packages.contract(package_id)
    }
}

/// What a peer needs to answer `_lifecycle` proposals.
#[derive(Clone)]
pub struct PeerLifecycle {
    /// The peer's local MSP: install, approve and the installed-package queries require one
    /// of its admins.
    pub local_msp: Arc<Msp>,
    /// The peer's installed packages.
    pub packages: Arc<dyn PackageStore>,
}

impl std::fmt::Debug for PeerLifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLifecycle")
            .field("msp_id", &self.local_msp.id())
            .finish_non_exhaustive()
    }
}
