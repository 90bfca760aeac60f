//! Criterion benches of the contract runtime: instantiate-and-call, host round trips, compile
//! and cached load, and example-contract calls.
//!
//! Run with `cargo bench -p cambium-vm --features bench -- --quick`. The example contracts are
//! built for wasm32 first (the same way the tests build them).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use cambium_vm::{Call, Env, MemState, Version, Vm, VmConfig};
use criterion::{criterion_group, criterion_main, Criterion};

const TRIVIAL: &str = r#"(module
  (import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "cambium_invoke") (call $respond (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))"#;

/// Does `ROUNDS` state_get + state_put pairs on one key per call.
const ROUNDS: u64 = 1_000;
const GET_PUT: &str = r#"(module
  (import "cambium" "state_get" (func $get (param i32 i32) (result i64)))
  (import "cambium" "state_put" (func $put (param i32 i32 i32 i32)))
  (import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "key1value")
  (func (export "cambium_invoke") (local $i i32)
    (loop $l
      (drop (call $get (i32.const 0) (i32.const 4)))
      (call $put (i32.const 0) (i32.const 4) (i32.const 4) (i32.const 5))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (call $respond (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))"#;

fn contract_wasm(name: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/contract-wasm");
    let wasm = cambium_vm::toolchain::build(&root.join("contracts").join(name), &out)
        .unwrap_or_else(|e| panic!("cannot build {name}: {e}"));
    std::fs::read(wasm).unwrap()
}

fn calls(c: &mut Criterion) {
    let env = {
        let mut state = MemState::new();
        state.put(
            "b",
            "key1",
            b"value",
            Version {
                block_num: 1,
                tx_num: 0,
            },
        );
        state.put(
            "kv",
            "n",
            b"41",
            Version {
                block_num: 1,
                tx_num: 0,
            },
        );
        Env::new(Arc::new(state))
    };
    let trivial = wat::parse_str(TRIVIAL).unwrap();
    let get_put = wat::parse_str(GET_PUT).unwrap();

    let kv_wasm = contract_wasm("kv");
    let at_wasm = contract_wasm("asset-transfer");
    // "on-demand" is the old default (mmap/munmap per call); "pooling" is today's default.
    for (name, config) in [
        (
            "on-demand",
            VmConfig {
                pooling_instances: None,
                ..VmConfig::default()
            },
        ),
        ("pooling", VmConfig::default()),
    ] {
        let vm = Vm::new(config).unwrap();
        let contract = vm.install(&trivial).unwrap();
        let call = Call::new("b", "f", &[]);
        c.bench_function(&format!("instantiate_and_call_trivial/{name}"), |b| {
            b.iter(|| black_box(vm.execute(&contract, &call, &env).unwrap()))
        });
        let contract = vm.install(&get_put).unwrap();
        c.bench_function(&format!("get_put_x{ROUNDS}/{name}"), |b| {
            b.iter(|| black_box(vm.execute(&contract, &call, &env).unwrap()))
        });
        let kv = vm.install(&kv_wasm).unwrap();
        let incr = Call::new("kv", "incr", &["n"]);
        c.bench_function(&format!("kv_incr_call/{name}"), |b| {
            b.iter(|| black_box(vm.execute(&kv, &incr, &env).unwrap()))
        });
        let at = vm.install(&at_wasm).unwrap();
        let create = Call::new(
            "b",
            "CreateAsset",
            &["asset9", "blue", "5", "Tomoko", "300"],
        );
        c.bench_function(&format!("asset_transfer_create_call/{name}"), |b| {
            b.iter(|| black_box(vm.execute(&at, &create, &env).unwrap()))
        });
    }
}

fn install(c: &mut Criterion) {
    let wasm = contract_wasm("asset-transfer");
    let mut group = c.benchmark_group("asset_transfer_install");
    group.sample_size(10);
    let vm = Vm::new(VmConfig::default()).unwrap();
    group.bench_function("compile", |b| {
        b.iter(|| black_box(vm.install(&wasm).unwrap()))
    });
    let dir = tempfile::tempdir().unwrap();
    let cached = Vm::new(VmConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..VmConfig::default()
    })
    .unwrap();
    assert!(!cached.install(&wasm).unwrap().from_cache());
    group.bench_function("load_cached", |b| {
        b.iter(|| {
            let contract = cached.install(&wasm).unwrap();
            assert!(contract.from_cache());
            black_box(contract)
        })
    });
    group.finish();
}

criterion_group!(benches, calls, install);
criterion_main!(benches);
