//! Criterion benches of the contract runtime: instantiate-and-call, host round trips, compile
//! and cached load, example-contract calls, a migration of N records and the compatibility
//! check.
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

/// The example upgrade pair: v2's migration rewriting 100 and 1,000 v1 records (one
/// `migrate` call, as the commit of v2's definition runs it), and the compatibility check.
fn migrations(c: &mut Criterion) {
    let vm = Vm::new(VmConfig::default()).unwrap();
    let v1 = contract_wasm("asset-ledger-v1");
    let v2 = vm.install(&contract_wasm("asset-ledger-v2")).unwrap();
    for records in [100u32, 1_000] {
        let mut state = MemState::new();
        for i in 0..records {
            state.put(
                "assets",
                &format!("asset/a{i:05}"),
                format!("Owner{i},{i}").as_bytes(),
                Version {
                    block_num: 1,
                    tx_num: 0,
                },
            );
        }
        let env = Env::new(Arc::new(state));
        let call = Call::new("assets", "unused", &[]);
        let out = vm.migrate(&v2, &call, "1.0", &env).unwrap();
        assert_eq!(out.response.status, 200, "{}", out.response.message);
        assert_eq!(
            out.rwset.namespace("assets").unwrap().writes.len(),
            records as usize
        );
        eprintln!("migrating {records} records uses {} fuel", out.fuel_used);
        c.bench_function(
            &format!("migrate/asset-ledger v1->v2 {records} records"),
            |b| b.iter(|| black_box(vm.migrate(&v2, &call, "1.0", &env).unwrap())),
        );
    }
    let old = Vm::validate(&v1).unwrap().unwrap();
    let new = v2.manifest().unwrap().clone();
    c.bench_function("compat/check asset-ledger v1 vs v2", |b| {
        b.iter(|| black_box(cambium_vm::check_compat(black_box(&old), black_box(&new))))
    });
}

criterion_group!(benches, calls, install, migrations);
criterion_main!(benches);
