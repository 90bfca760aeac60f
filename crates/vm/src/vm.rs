//! The engine: configuration, install (validate, compile or load from the cache) and execution.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{Engine, ExternType, InstancePre, Linker, Module, ValType};

use crate::error::{Result, VmError};
use crate::host::{
    self, AbiType, HostState, Limiter, RunEnd, ENTRY_EXPORT, HOST_FUNCTIONS, HOST_MODULE,
    MEMORY_EXPORT, MIGRATE_EXPORT, MIGRATE_FUNCTION,
};
use crate::limits::*;
use crate::manifest::{check_header, Manifest};
use crate::rwset::{ReadWriteSet, RwSetBuilder};
use crate::state::{StateView, Timestamp};

/// Engine settings. Every peer of a channel must use the same values, or results may differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmConfig {
    /// Fuel for one call (nested calls share it).
    pub fuel: u64,
    /// Limit of a contract's linear memory, in bytes.
    pub max_memory_bytes: usize,
    /// Limit of a contract's table elements.
    pub max_table_elements: usize,
    /// WebAssembly stack limit, in bytes.
    pub max_wasm_stack: usize,
    /// Where compiled modules are cached (`None`: compile on every install).
    pub cache_dir: Option<PathBuf>,
    /// Use wasmtime's pooling allocator sized for this many concurrent calls (`None`: allocate
    /// every instance on demand, with no bound on concurrent calls).
    ///
    /// Each concurrent call gets room for [`MAX_CALL_DEPTH`]` + 1` instances (its nested calls),
    /// with linear-memory reservations sized to [`VmConfig::max_memory_bytes`]. A call that
    /// finds every slot taken waits until one is released; it never fails for lack of a slot.
    /// Pooling makes instantiation cheap: no `mmap`/`munmap` (and so no TLB shootdown) per call.
    /// The default is [`DEFAULT_CONCURRENT_CALLS`].
    pub pooling_instances: Option<u32>,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            fuel: DEFAULT_FUEL,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            cache_dir: None,
            pooling_instances: Some(DEFAULT_CONCURRENT_CALLS),
        }
    }
}

/// The identity of the client that signed the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creator {
    /// MSP ID, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The certificate, PEM bytes as in the serialized identity.
    pub cert: Vec<u8>,
    /// Certificate attributes (Fabric CA `attrs`), already extracted by the caller.
    pub attributes: BTreeMap<String, String>,
}

/// One contract call: what Fabric's stub exposes about the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Call {
    /// The channel.
    pub channel_id: String,
    /// The transaction ID.
    pub tx_id: String,
    /// The proposal's timestamp.
    pub timestamp: Timestamp,
    /// The contract's name, which is also its state namespace.
    pub contract: String,
    /// The arguments; the first is the function name.
    pub args: Vec<Vec<u8>>,
    /// The client.
    pub creator: Creator,
    /// Transient data (never written to the ledger).
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl Call {
    /// A call of `function` with string arguments, other fields empty.
    pub fn new(contract: &str, function: &str, args: &[&str]) -> Call {
        let mut all = vec![function.as_bytes().to_vec()];
        all.extend(args.iter().map(|a| a.as_bytes().to_vec()));
        Call {
            contract: contract.to_string(),
            args: all,
            ..Call::default()
        }
    }
}

/// Fabric's `peer.Response`: 200–399 success, 400 and above the contract's own error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response {
    /// The status.
    pub status: i32,
    /// The error message (empty on success).
    pub message: String,
    /// The result bytes.
    pub payload: Vec<u8>,
}

impl Response {
    /// Whether the status means success (below 400, as Fabric's endorser decides).
    pub fn is_ok(&self) -> bool {
        self.status < 400
    }
}

/// The event a call set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEvent {
    /// The event name.
    pub name: String,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Everything a finished call produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// The contract's response (a contract error is a response with status ≥ 400).
    pub response: Response,
    /// The read/write set, sorted.
    pub rwset: ReadWriteSet,
    /// The event set by the called contract, if any.
    pub event: Option<ContractEvent>,
    /// Fuel used, including nested calls.
    pub fuel_used: u64,
}

/// Finds the contracts a call may invoke on the same channel.
pub trait ContractResolver: Send + Sync {
    /// The installed contract under `name`, if there is one.
    fn resolve(&self, name: &str) -> Option<Arc<Contract>>;
}

impl ContractResolver for BTreeMap<String, Arc<Contract>> {
    fn resolve(&self, name: &str) -> Option<Arc<Contract>> {
        self.get(name).cloned()
    }
}

/// The world a call runs against: committed state and the other contracts of the channel.
#[derive(Clone)]
pub struct Env {
    /// Committed state (a snapshot).
    pub state: Arc<dyn StateView>,
    /// Contracts callable with `invoke_contract`.
    pub contracts: Arc<dyn ContractResolver>,
}

impl Env {
    /// An environment with `state` and no other contracts.
    pub fn new(state: Arc<dyn StateView>) -> Env {
        Env {
            state,
            contracts: Arc::new(BTreeMap::<String, Arc<Contract>>::new()),
        }
    }

    /// An environment with `state` and the contracts `contracts` can resolve.
    pub fn with_contracts(state: Arc<dyn StateView>, contracts: Arc<dyn ContractResolver>) -> Env {
        Env { state, contracts }
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env { .. }")
    }
}

/// An installed contract: validated, compiled and linked, ready to instantiate per call.
pub struct Contract {
    hash: [u8; 32],
    pre: InstancePre<HostState>,
    manifest: Option<Manifest>,
    has_migrate: bool,
    from_cache: bool,
    size: usize,
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contract")
            .field("hash", &hex::encode(self.hash))
            .field("size", &self.size)
            .field("from_cache", &self.from_cache)
            .field("has_migrate", &self.has_migrate)
            .finish_non_exhaustive()
    }
}

impl Contract {
    /// SHA-256 of the module bytes.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The embedded interface manifest, if the module has one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Whether the contract exports a migration (`cambium_migrate`), to be run with
    /// [`Vm::migrate`] when its definition replaces an earlier one.
    pub fn has_migrate(&self) -> bool {
        self.has_migrate
    }

    /// Whether install loaded the compiled code from the cache instead of compiling.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The module size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn instance_pre(&self) -> &InstancePre<HostState> {
        &self.pre
    }
}

/// The contract runtime: one per process, shared by all calls.
pub struct Vm {
    engine: Engine,
    linker: Linker<HostState>,
    config: VmConfig,
    fingerprint: String,
    /// Bounds concurrent top-level calls to what the instance pool holds (`None`: no pool).
    slots: Option<CallSlots>,
}

/// A counting semaphore over the pool's call slots: a call takes one for its whole run (nested
/// calls included) and waits while none is free.
struct CallSlots {
    free: Mutex<u32>,
    released: Condvar,
}

impl CallSlots {
    fn new(count: u32) -> CallSlots {
        CallSlots {
            free: Mutex::new(count),
            released: Condvar::new(),
        }
    }

    /// Blocks until a slot is free and takes it; the guard gives it back.
    fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard { slots: self }
    }
}

/// One taken call slot, released on drop (also when the call unwinds).
struct SlotGuard<'a> {
    slots: &'a CallSlots,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut free = self
            .slots
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        drop(free);
        self.slots.released.notify_one();
    }
}

impl fmt::Debug for Vm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vm")
            .field("config", &self.config)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// Feeds `Hash` output into SHA-256, to fingerprint the engine's compilation settings.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn engine_error(e: wasmtime::Error) -> VmError {
    VmError::Engine {
        reason: e.to_string(),
    }
}

impl Vm {
    /// Creates the engine, configured for determinism: fuel metering, NaN canonicalization, no
    /// threads, no relaxed SIMD, bounded stack; memory and table limits apply per store.
    pub fn new(config: VmConfig) -> Result<Vm> {
        let mut wc = wasmtime::Config::new();
        // Threads and shared memories are off because wasmtime is built without its `threads`
        // feature; GC and component-model features are not compiled in either.
        wc.consume_fuel(true)
            .epoch_interruption(false)
            .cranelift_nan_canonicalization(true)
            .wasm_relaxed_simd(false)
            .wasm_memory64(false)
            .max_wasm_stack(config.max_wasm_stack);
        let slots = match config.pooling_instances {
            Some(0) => {
                return Err(VmError::Engine {
                    reason: "pooling_instances is 0: give at least 1 concurrent call, or None to \
                             allocate on demand"
                        .into(),
                })
            }
            Some(calls) => {
                // Room for every nested call of every concurrent call.
                let instances = calls.saturating_mul(MAX_CALL_DEPTH + 1);
                let memory = u64::try_from(config.max_memory_bytes).unwrap_or(u64::MAX);
                // Reserve exactly the memory limit per slot (not wasmtime's 4 GiB default), so a
                // large pool stays a modest address-space reservation; bounds checks stay explicit.
                wc.memory_reservation(memory)
                    .memory_reservation_for_growth(0)
                    .memory_guard_size(POOL_GUARD_BYTES);
                let mut pool = wasmtime::PoolingAllocationConfig::default();
                pool.total_core_instances(instances)
                    .total_memories(instances)
                    .total_tables(instances)
                    .max_memory_size(config.max_memory_bytes)
                    .table_elements(config.max_table_elements)
                    // Reset small memories by zeroing in place instead of `madvise`, which costs
                    // page faults and TLB shootdowns on every call.
                    .linear_memory_keep_resident(POOL_KEEP_RESIDENT_BYTES)
                    .table_keep_resident(POOL_KEEP_RESIDENT_BYTES)
                    // Where the kernel has `PAGEMAP_SCAN` (Linux 6.7+), reset only the pages a
                    // call actually wrote (up to the keep-resident bytes) instead of zeroing the
                    // lowest keep-resident bytes whole: a Rust contract's untouched shadow stack
                    // then costs nothing, and its heap stays resident without page faults.
                    // Elsewhere this falls back to the zeroing above. Either way the memory a
                    // call sees is reset to the module's image, so results are unchanged.
                    .pagemap_scan(wasmtime::Enabled::Auto);
                wc.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
                Some(CallSlots::new(calls))
            }
            None => None,
        };
        let engine = Engine::new(&wc).map_err(engine_error)?;
        let linker = host::linker(&engine).map_err(engine_error)?;
        // wasmtime's compatibility hash ignores NaN canonicalization (see dependencies.md), so
        // our own determinism-relevant settings go into the cache key too.
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.write(b"nan-canonicalization=1;fuel=1;threads=0;relaxed-simd=0;abi=1");
        let fingerprint = hex::encode(&hasher.0.finalize()[..16]);
        Ok(Vm {
            engine,
            linker,
            config,
            fingerprint,
            slots,
        })
    }

    /// The configuration this VM runs with.
    pub fn config(&self) -> &VmConfig {
        &self.config
    }

    /// The fuel one migration gets: [`MIGRATION_FUEL_FACTOR`] times a call's.
    pub fn migration_fuel(&self) -> u64 {
        self.config.fuel.saturating_mul(MIGRATION_FUEL_FACTOR)
    }

    /// A hex fingerprint of the engine's compilation settings (part of every cache key).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Checks a module without compiling it: size, header and manifest. Imports and exports are
    /// checked by [`Vm::install`] on the compiled module.
    pub fn validate(wasm: &[u8]) -> Result<Option<Manifest>> {
        if wasm.len() > MAX_MODULE_BYTES {
            return Err(VmError::ModuleTooLarge {
                size: wasm.len(),
                limit: MAX_MODULE_BYTES,
            });
        }
        check_header(wasm)?;
        Manifest::from_module(wasm)
    }

    /// Validates, compiles (or loads the cached compiled module) and links a contract.
    pub fn install(&self, wasm: &[u8]) -> Result<Contract> {
        let manifest = Self::validate(wasm)?;
        let hash: [u8; 32] = Sha256::digest(wasm).into();
        let (module, from_cache) = self.compile_cached(wasm, &hash)?;
        let has_migrate = check_interface(&module)?;
        if let Some(m) = &manifest {
            if m.migrate != has_migrate {
                let reason = if m.migrate {
                    format!("the manifest declares 'migrate' but the module does not export '{MIGRATE_EXPORT}'")
                } else {
                    format!("the module exports '{MIGRATE_EXPORT}' but its manifest has no 'migrate' line")
                };
                return Err(VmError::MigrationMismatch { reason });
            }
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| VmError::Compile {
                reason: e.to_string(),
            })?;
        Ok(Contract {
            hash,
            pre,
            manifest,
            has_migrate,
            from_cache,
            size: wasm.len(),
        })
    }

    fn cache_path(&self, hash: &[u8; 32]) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        Some(dir.join(format!("{}-{}.cwasm", hex::encode(hash), self.fingerprint)))
    }

    fn compile_cached(&self, wasm: &[u8], hash: &[u8; 32]) -> Result<(Module, bool)> {
        let Some(path) = self.cache_path(hash) else {
            return Ok((self.compile(wasm)?, false));
        };
        // Read into memory rather than `deserialize_file`: a memory-mapped artifact that someone
        // truncates later would crash the peer with SIGBUS.
        if let Ok(bytes) = std::fs::read(&path) {
            // SAFETY: the file was written by `Module::serialize` of an engine with the same
            // fingerprint (it is in the file name), in a directory only the peer writes; wasmtime
            // still checks its header and engine compatibility.
            if let Ok(module) = unsafe { Module::deserialize(&self.engine, &bytes) } {
                return Ok((module, true));
            }
            // A stale or damaged artifact: fall through and replace it.
        }
        let module = self.compile(wasm)?;
        let bytes = module.serialize().map_err(|e| VmError::Compile {
            reason: e.to_string(),
        })?;
        write_atomically(&path, &bytes)?;
        Ok((module, false))
    }

    fn compile(&self, wasm: &[u8]) -> Result<Module> {
        Module::from_binary(&self.engine, wasm).map_err(|e| VmError::Compile {
            reason: e.to_string(),
        })
    }

    /// Runs one call on a fresh instance against `env`.
    ///
    /// With the pooling allocator, this blocks while [`VmConfig::pooling_instances`] calls are
    /// already running; call it from a thread that may block (e.g. `spawn_blocking`).
    ///
    /// `Ok` carries the contract's response (success or its own error) with the read/write set;
    /// `Err` means the VM stopped the call (trap, fuel, limit) or state failed.
    pub fn execute(&self, contract: &Contract, call: &Call, env: &Env) -> Result<CallOutcome> {
        self.check_call(call)?;
        let input = host::encode_list(&call.args);
        self.run(contract, ENTRY_EXPORT, input, call, env)
    }

    /// Runs a contract's migration (its `cambium_migrate` export) on a fresh instance against
    /// `env`, as the commit of a definition that replaces version `from_version` does.
    ///
    /// `call` gives the transaction facts the migration sees (channel, tx ID, timestamp,
    /// creator) and, in `call.contract`, the namespace it reads and writes; `call.args` and
    /// `call.transient` are not used: the migration's input is `["migrate", from_version]`.
    /// Memory and the determinism settings are those of [`Vm::execute`]; since a migration
    /// converts a whole namespace in one call, it gets [`MIGRATION_FUEL_FACTOR`] times the
    /// call fuel and may write up to [`MAX_WRITES_PER_MIGRATION`] keys. Reads and writes are
    /// recorded as for a call, so the caller can put the outcome's read/write set into
    /// the commit's simulation.
    ///
    /// `Ok` carries the migration's response: status 200 when it succeeded, or its own error
    /// (status ≥ 400, its message); `fuel_used` is reported either way. `Err` is
    /// [`VmError::NoMigration`] for a contract without one (see [`Contract::has_migrate`]), or
    /// the VM stopping it (trap, out of fuel, limit), with a deterministic reason.
    pub fn migrate(
        &self,
        contract: &Contract,
        call: &Call,
        from_version: &str,
        env: &Env,
    ) -> Result<CallOutcome> {
        if !contract.has_migrate {
            return Err(VmError::NoMigration);
        }
        let args = [MIGRATE_FUNCTION.as_bytes(), from_version.as_bytes()];
        let input_bytes = from_version.len();
        if input_bytes > MAX_INPUT_BYTES {
            return Err(VmError::CallTooLarge {
                what: "argument bytes",
                size: input_bytes,
                limit: MAX_INPUT_BYTES,
            });
        }
        let migration = Call {
            args: args.iter().map(|a| a.to_vec()).collect(),
            transient: BTreeMap::new(),
            ..call.clone()
        };
        let input = host::encode_list(&args);
        self.run(contract, MIGRATE_EXPORT, input, &migration, env)
    }

    fn check_call(&self, call: &Call) -> Result<()> {
        let input_bytes: usize = call.args.iter().map(Vec::len).sum();
        if input_bytes > MAX_INPUT_BYTES {
            return Err(VmError::CallTooLarge {
                what: "argument bytes",
                size: input_bytes,
                limit: MAX_INPUT_BYTES,
            });
        }
        if call.args.len() > MAX_ARGS {
            return Err(VmError::CallTooLarge {
                what: "argument count",
                size: call.args.len(),
                limit: MAX_ARGS,
            });
        }
        Ok(())
    }

    /// Runs export `entry` of a fresh instance with `input` as the call's input.
    fn run(
        &self,
        contract: &Contract,
        entry: &str,
        input: Vec<u8>,
        call: &Call,
        env: &Env,
    ) -> Result<CallOutcome> {
        let namespace = call.contract.clone();
        // A migration converts a whole namespace in one call, so it gets more room.
        let (fuel, max_writes) = if entry == MIGRATE_EXPORT {
            (self.migration_fuel(), MAX_WRITES_PER_MIGRATION)
        } else {
            (self.config.fuel, MAX_WRITES_PER_CALL)
        };
        let shared = Arc::new(host::CallShared {
            call: call.clone(),
            env: env.clone(),
            fuel_limit: fuel,
            max_writes,
        });
        let data = HostState {
            shared,
            namespace,
            input,
            depth: 0,
            rwset: RwSetBuilder::default(),
            result: Vec::new(),
            response: None,
            panic: None,
            event: None,
            limiter: Limiter {
                max_memory_bytes: self.config.max_memory_bytes,
                max_table_elements: self.config.max_table_elements,
                hit: None,
            },
            memory: None,
        };
        let slot = self.slots.as_ref().map(CallSlots::acquire);
        let (data, end, left) = host::run_instance(&contract.pre, entry, data, fuel);
        drop(slot);
        match end {
            RunEnd::Responded(response) => Ok(CallOutcome {
                response,
                rwset: data.rwset.build(),
                event: data.event,
                fuel_used: fuel.saturating_sub(left),
            }),
            RunEnd::Failed(e) => Err(e),
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let cache_err = |e: std::io::Error| VmError::Cache {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(cache_err)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(cache_err)?;
    std::fs::rename(&tmp, path).map_err(cache_err)
}

fn abi_matches(expected: &[AbiType], actual: impl ExactSizeIterator<Item = ValType>) -> bool {
    expected.len() == actual.len()
        && expected.iter().zip(actual).all(|(e, a)| match e {
            AbiType::I32 => matches!(a, ValType::I32),
            AbiType::I64 => matches!(a, ValType::I64),
        })
}

fn signature(params: &[AbiType], results: &[AbiType]) -> String {
    let list = |t: &[AbiType]| {
        t.iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

/// Checks imports against the allow-list and the required exports; returns whether the module
/// exports a migration.
fn check_interface(module: &Module) -> Result<bool> {
    for import in module.imports() {
        let forbidden = || VmError::ForbiddenImport {
            module: import.module().to_string(),
            name: import.name().to_string(),
        };
        if import.module() != HOST_MODULE {
            return Err(forbidden());
        }
        let Some((name, params, results)) =
            HOST_FUNCTIONS.iter().find(|(n, _, _)| *n == import.name())
        else {
            return Err(forbidden());
        };
        let ExternType::Func(ft) = import.ty() else {
            return Err(forbidden());
        };
        if !abi_matches(params, ft.params()) || !abi_matches(results, ft.results()) {
            return Err(VmError::ImportSignature {
                name: name.to_string(),
                expected: signature(params, results),
            });
        }
    }
    match module.get_export(MEMORY_EXPORT) {
        Some(ExternType::Memory(_)) => {}
        _ => {
            return Err(VmError::MissingExport {
                what: format!("memory '{MEMORY_EXPORT}'"),
            })
        }
    }
    match module.get_export(ENTRY_EXPORT) {
        Some(ExternType::Func(ft)) if ft.params().len() == 0 && ft.results().len() == 0 => {}
        _ => {
            return Err(VmError::MissingExport {
                what: format!("function '{ENTRY_EXPORT}' () -> ()"),
            })
        }
    }
    match module.get_export(MIGRATE_EXPORT) {
        None => Ok(false),
        Some(ExternType::Func(ft)) if ft.params().len() == 0 && ft.results().len() == 0 => Ok(true),
        Some(_) => Err(VmError::MissingExport {
            what: format!(
                "function '{MIGRATE_EXPORT}' () -> () (it exports something else under that name)"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_across_threads<T: Send + Sync>() {}

    #[test]
    fn the_engine_and_contracts_are_shareable() {
        shared_across_threads::<Vm>();
        shared_across_threads::<Contract>();
        shared_across_threads::<Env>();
    }

    #[test]
    fn oversized_calls_are_refused_before_running() {
        let vm = Vm::new(VmConfig::default()).unwrap();
        let wasm = b"\0asm\x01\0\0\0";
        // A module without exports cannot be installed; the call check comes first anyway.
        assert!(vm.install(wasm).is_err());
        let too_many = Call {
            args: vec![Vec::new(); MAX_ARGS + 1],
            ..Call::default()
        };
        let env = Env::new(Arc::new(crate::MemState::new()));
        let module = Module::from_binary(&vm.engine, b"\0asm\x01\0\0\0").unwrap();
        let pre = vm.linker.instantiate_pre(&module).unwrap();
        let contract = Contract {
            hash: [0; 32],
            pre,
            manifest: None,
            has_migrate: false,
            from_cache: false,
            size: 8,
        };
        assert_eq!(
            vm.execute(&contract, &too_many, &env).unwrap_err(),
            VmError::CallTooLarge {
                what: "argument count",
                size: MAX_ARGS + 1,
                limit: MAX_ARGS
            }
        );
        let too_big = Call {
            args: vec![vec![0; MAX_INPUT_BYTES + 1]],
            ..Call::default()
        };
        assert!(matches!(
            vm.execute(&contract, &too_big, &env).unwrap_err(),
            VmError::CallTooLarge {
                what: "argument bytes",
                ..
            }
        ));
    }
}
