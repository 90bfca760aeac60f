//! Shared helpers: the example contracts built for wasm32 once per test process, and shortcuts
//! to install and call them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cambium_vm::{
    Call, CallOutcome, Contract, Env, MemState, Result, Timestamp, Version, Vm, VmConfig,
};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Cargo's target directory, found from this test binary's path (`<target>/<profile>/deps/it-…`).
pub(crate) fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The compiled example contracts.
pub(crate) struct Modules {
    pub(crate) kv: Vec<u8>,
    pub(crate) asset_transfer: Vec<u8>,
    pub(crate) testbed: Vec<u8>,
    pub(crate) asset_ledger_v1: Vec<u8>,
    pub(crate) asset_ledger_v2: Vec<u8>,
}

/// Builds the example contracts for wasm32 (once per process; cargo makes repeats no-ops).
/// Fails with the toolchain error, which says what to install, if no wasm toolchain exists.
pub(crate) fn modules() -> &'static Modules {
    static MODULES: OnceLock<Modules> = OnceLock::new();
    MODULES.get_or_init(|| {
        let out = target_dir().join("contract-wasm");
        let build = |name: &str| -> Vec<u8> {
            let dir = repo_root().join("contracts").join(name);
            let wasm = cambium_vm::toolchain::build(&dir, &out)
                .unwrap_or_else(|e| panic!("cannot build contract '{name}' for wasm32: {e}"));
            std::fs::read(&wasm).expect("the built module is readable")
        };
        Modules {
            kv: build("kv"),
            asset_transfer: build("asset-transfer"),
            testbed: build("testbed"),
            asset_ledger_v1: build("asset-ledger-v1"),
            asset_ledger_v2: build("asset-ledger-v2"),
        }
    })
}

/// A VM with default settings except the given fuel and memory limit.
pub(crate) fn vm_with(fuel: u64, max_memory_bytes: usize) -> Vm {
    Vm::new(VmConfig {
        fuel,
        max_memory_bytes,
        ..VmConfig::default()
    })
    .expect("engine")
}

/// A VM with default settings.
pub(crate) fn vm() -> Vm {
    Vm::new(VmConfig::default()).expect("engine")
}

/// Installs a module, panicking with the VM's message on failure.
pub(crate) fn install(vm: &Vm, wasm: &[u8]) -> Arc<Contract> {
    Arc::new(
        vm.install(wasm)
            .unwrap_or_else(|e| panic!("install failed: {e}")),
    )
}

/// A call with fixed transaction facts.
pub(crate) fn call(contract: &str, function: &str, args: &[&str]) -> Call {
    let mut c = Call::new(contract, function, args);
    c.channel_id = "mychannel".into();
    c.tx_id = format!("tx-{function}");
    c.timestamp = Timestamp {
        seconds: 1_700_000_000,
        nanos: 5,
    };
    c.creator.msp_id = "Org1MSP".into();
    c
}

/// A ledger stand-in: state plus a block counter; `commit` applies a successful call.
pub(crate) struct Ledger {
    pub(crate) state: MemState,
    pub(crate) block: u64,
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Ledger {
            state: MemState::new(),
            block: 0,
        }
    }

    pub(crate) fn env(&self) -> Env {
        Env::new(Arc::new(self.state.clone()))
    }

    /// Runs a call against the current state and commits it if the contract succeeded.
    pub(crate) fn run(&mut self, vm: &Vm, contract: &Contract, call: &Call) -> Result<CallOutcome> {
        let outcome = vm.execute(contract, call, &self.env())?;
        if outcome.response.is_ok() {
            self.block += 1;
            self.state.apply(
                &outcome.rwset,
                Version {
                    block_num: self.block,
                    tx_num: 0,
                },
                &call.tx_id,
                call.timestamp,
            );
        }
        Ok(outcome)
    }
}

/// The payload as text.
pub(crate) fn text(outcome: &CallOutcome) -> String {
    String::from_utf8_lossy(&outcome.response.payload).into_owned()
}
