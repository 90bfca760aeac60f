//! Contracts built by `cambium_vm::toolchain` start with `CONTRACT_INITIAL_MEMORY_BYTES` of
//! linear memory, and the SDK's allocator serves a typical call from it: the call never grows
//! memory (each grow costs the pooled VM two page-protection changes). A call that needs more
//! still grows, up to the VM's limit, and fails the same way on every run beyond it.

use std::sync::{Arc, OnceLock};

use cambium_vm::toolchain::{self, CONTRACT_INITIAL_MEMORY_BYTES, CONTRACT_STACK_BYTES};
use cambium_vm::{Call, Env, MemState, Version, Vm, VmConfig, VmError};

use crate::common::{call, install, modules, target_dir, vm, Ledger};

/// A WebAssembly page.
const PAGE: u64 = 64 * 1024;
/// The default memory limit, for the reference runs.
const UNLIMITED: u64 = cambium_vm::limits::DEFAULT_MAX_MEMORY_BYTES as u64;

/// The module's initial memory, in bytes.
fn initial_memory(wasm: &[u8]) -> u64 {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::MemorySection(memories)) = payload {
            if let Some(Ok(memory)) = memories.into_iter().next() {
                return memory.initial * PAGE;
            }
        }
    }
    panic!("the module has no memory section")
}

/// A VM (with the default instance pool) whose memory limit is `bytes`.
fn vm_limited_to(bytes: u64) -> Vm {
    Vm::new(VmConfig {
        max_memory_bytes: usize::try_from(bytes).expect("fits"),
        ..VmConfig::default()
    })
    .expect("engine")
}

/// One step of a scenario: a call, or a migration from the given version.
enum Step {
    Call(Call),
    Migrate(&'static str),
}

/// Runs `steps` in order on one ledger with a VM limited to `limit` bytes of memory; returns each
/// step's response status and fuel, or the first VM error (with the step's index).
fn run(
    wasm: &[u8],
    limit: u64,
    ledger: &mut Ledger,
    steps: &[Step],
) -> Result<Vec<(i32, u64)>, String> {
    let vm = vm_limited_to(limit);
    let contract = install(&vm, wasm);
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let outcome = match step {
            Step::Call(c) => ledger.run(&vm, &contract, c),
            Step::Migrate(from) => {
                let migration = call("ledger", "migrate", &[]);
                vm.migrate(&contract, &migration, from, &ledger.env())
                    .inspect(|outcome| {
                        // Commit the migrated records, as the definition's commit would.
                        ledger.block += 1;
                        let version = Version {
                            block_num: ledger.block,
                            tx_num: 0,
                        };
                        let (tx, ts) = (&migration.tx_id, migration.timestamp);
                        ledger.state.apply(&outcome.rwset, version, tx, ts);
                    })
            }
        }
        .map_err(|e| format!("step {i}: {e}"))?;
        out.push((outcome.response.status, outcome.fuel_used));
    }
    Ok(out)
}

/// Asserts that every step of `steps` runs without growing memory: on a VM whose memory limit is
/// the module's initial memory, each gives the same status and fuel as on a default VM.
fn check_no_growth(name: &str, wasm: &[u8], steps: &[Step]) {
    let initial = initial_memory(wasm);
    assert_eq!(
        initial,
        u64::from(CONTRACT_INITIAL_MEMORY_BYTES),
        "{name}: the toolchain should link the documented initial memory"
    );
    let baseline = run(wasm, UNLIMITED, &mut Ledger::new(), steps).unwrap();
    for (i, (status, _)) in baseline.iter().enumerate() {
        assert!(
            *status < 400,
            "{name}: step {i} failed with status {status}"
        );
    }
    match run(wasm, initial, &mut Ledger::new(), steps) {
        Ok(limited) => assert_eq!(limited, baseline, "{name}: results differ under the limit"),
        Err(e) => {
            // Say how much memory the scenario needs, to size the constant.
            let needed = (initial / PAGE..1024)
                .find(|&pages| run(wasm, pages * PAGE, &mut Ledger::new(), steps).is_ok())
                .unwrap_or(1024);
            panic!(
                "{name}: a typical call grew memory beyond the initial {initial} bytes ({e}); \
                 the calls need {needed} pages ({} KiB): raise CONTRACT_INITIAL_MEMORY_BYTES or \
                 find what allocates",
                needed * PAGE / 1024
            );
        }
    }
}

fn at(function: &str, args: &[&str]) -> Step {
    Step::Call(call("basic", function, args))
}

fn ledger_call(function: &str, args: &[&str]) -> Step {
    Step::Call(call("ledger", function, args))
}

#[test]
fn typical_asset_transfer_calls_never_grow_memory() {
    check_no_growth(
        "asset-transfer",
        &modules().asset_transfer,
        &[
            at("CreateAsset", &["asset1", "blue", "5", "Tomoko", "300"]),
            at("ReadAsset", &["asset1"]),
            at("AssetExists", &["asset1"]),
            at("TransferAsset", &["asset1", "Max"]),
            at("UpdateAsset", &["asset1", "red", "7", "Max", "450"]),
            at("InitLedger", &[]),
            at("GetAllAssets", &[]),
            at("DeleteAsset", &["asset1"]),
        ],
    );
}

#[test]
fn typical_kv_calls_never_grow_memory() {
    let kv = |function: &str, args: &[&str]| Step::Call(call("kv", function, args));
    check_no_growth(
        "kv",
        &modules().kv,
        &[
            kv("put", &["a", "1"]),
            kv("incr", &["n"]),
            kv("incr", &["n"]),
            kv("get", &["a"]),
            kv("put_many", &["k", "100", "value"]),
            kv("scan", &["k", "l"]),
            kv("del", &["a"]),
        ],
    );
}

#[test]
fn typical_asset_ledger_calls_and_a_small_migration_never_grow_memory() {
    let v1_calls = [
        ledger_call("CreateAsset", &["a1", "Tomoko", "300"]),
        ledger_call("CreateAsset", &["a2", "Brad", "400"]),
        ledger_call("ReadAsset", &["a1"]),
        ledger_call("TransferAsset", &["a1", "Max"]),
        ledger_call("ListAssets", &[]),
    ];
    check_no_growth("asset-ledger-v1", &modules().asset_ledger_v1, &v1_calls);
    // v2 migrates the records v1 wrote, then serves calls on the new format.
    let setup: Vec<Step> = (0..20)
        .map(|i| ledger_call("CreateAsset", &[&format!("a{i}"), "Tomoko", "300"]))
        .collect();
    let v1 = &modules().asset_ledger_v1;
    let v2 = &modules().asset_ledger_v2;
    let steps = [
        Step::Migrate("1.0"),
        ledger_call("ReadAsset", &["a1"]),
        ledger_call("SetCurrency", &["a1", "EUR"]),
        ledger_call("TransferAsset", &["a2", "Max"]),
        ledger_call("CreateAsset", &["b1", "Brad", "400"]),
        ledger_call("ListAssets", &[]),
    ];
    // The v1 records are the state the migration starts from, so seed them through v1 first.
    let seeded = |limit: u64| {
        let mut ledger = Ledger::new();
        run(v1, UNLIMITED, &mut ledger, &setup).unwrap();
        run(v2, limit, &mut ledger, &steps)
    };
    let baseline = seeded(UNLIMITED).unwrap();
    assert_eq!(initial_memory(v2), u64::from(CONTRACT_INITIAL_MEMORY_BYTES));
    assert!(
        baseline.iter().all(|(status, _)| *status < 400),
        "{baseline:?}"
    );
    assert_eq!(
        seeded(initial_memory(v2)),
        Ok(baseline),
        "asset-ledger-v2: a migration of 20 records or a typical call grew memory"
    );
}

#[test]
fn a_loop_that_allocates_and_frees_runs_in_the_initial_memory() {
    // `put_many` formats a fresh 48-byte key for each of 10,000 writes and frees it: 640 KB of
    // 64-byte blocks in total, more than the initial heap, so this fits only because freed
    // blocks are reused.
    let kv = |function: &str, args: &[&str]| Step::Call(call("kv", function, args));
    check_no_growth(
        "kv",
        &modules().kv,
        &[kv(
            "put_many",
            &["a-key-prefix-long-enough-for-64-byte-blocks-", "10000", "v"],
        )],
    );
}

#[test]
fn a_migration_of_a_thousand_records_never_grows_memory() {
    let setup: Vec<Step> = (0..1000)
        .map(|i| ledger_call("CreateAsset", &[&format!("a{i:04}"), "Tomoko", "300"]))
        .collect();
    let (v1, v2) = (&modules().asset_ledger_v1, &modules().asset_ledger_v2);
    let migrated = |limit: u64| {
        let mut ledger = Ledger::new();
        run(v1, UNLIMITED, &mut ledger, &setup).unwrap();
        run(v2, limit, &mut ledger, &[Step::Migrate("1.0")])
    };
    let baseline = migrated(UNLIMITED).unwrap();
    assert_eq!(baseline[0].0, 200);
    assert_eq!(migrated(initial_memory(v2)), Ok(baseline));
}

#[test]
fn a_call_that_needs_more_memory_grows_it_and_the_limit_still_holds() {
    let wasm = &modules().kv;
    let initial = initial_memory(wasm);
    // A value bigger than the whole initial memory: the input copy alone needs more pages.
    let value = "v".repeat(usize::try_from(initial).unwrap() + 100_000);
    let put = call("kv", "put", &["big", &value]);
    let env = Env::new(Arc::new(MemState::new()));
    let default = vm();
    let c = install(&default, wasm);
    let grown = default.execute(&c, &put, &env).unwrap();
    assert_eq!(grown.response.status, 200, "{}", grown.response.message);
    // Without room to grow, the allocator's null ends the call at the memory limit, the same
    // way each time.
    let limited = vm_limited_to(initial);
    let c = install(&limited, wasm);
    for _ in 0..2 {
        assert_eq!(
            limited.execute(&c, &put, &env).unwrap_err(),
            VmError::ResourceLimit {
                what: "memory bytes",
                limit: usize::try_from(initial).unwrap(),
            }
        );
    }
    // The slot that call used serves a small call normally afterwards.
    let small = limited
        .execute(&c, &call("kv", "put", &["a", "1"]), &env)
        .unwrap();
    assert_eq!(small.response.status, 200);
}

#[test]
fn the_flags_name_the_documented_sizes() {
    assert_eq!(
        toolchain::contract_rustflags(),
        format!(
            "-C link-arg=-zstack-size={CONTRACT_STACK_BYTES} \
             -C link-arg=--initial-memory={CONTRACT_INITIAL_MEMORY_BYTES}"
        )
    );
    assert_eq!(u64::from(CONTRACT_INITIAL_MEMORY_BYTES) % PAGE, 0);
    assert!(
        usize::try_from(CONTRACT_INITIAL_MEMORY_BYTES).unwrap()
            <= cambium_vm::limits::POOL_KEEP_RESIDENT_BYTES,
        "the initial memory should be reset in place by the pool"
    );
}

/// A contract whose data alone does not fit in the initial memory, built once.
fn big_data_contract() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"big-data\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [workspace]\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        // 512 KiB of initialised data: with the 256 KiB stack it exceeds the initial memory.
        std::fs::write(
            dir.path().join("src/lib.rs"),
            "#[no_mangle]\npub static BIG: [u8; 524288] = [7; 524288];\n",
        )
        .unwrap();
        let wasm = toolchain::build(dir.path(), &target_dir().join("contract-wasm-big"))
            .unwrap_or_else(|e| panic!("a contract with big data should still build: {e}"));
        std::fs::read(wasm).expect("the built module is readable")
    })
}

#[test]
fn a_contract_whose_data_does_not_fit_is_linked_with_the_default_size() {
    let initial = initial_memory(big_data_contract());
    assert!(
        initial > u64::from(CONTRACT_INITIAL_MEMORY_BYTES),
        "initial memory {initial} should hold the stack and the 512 KiB of data"
    );
}
