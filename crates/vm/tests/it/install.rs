//! Install-time checks on bad modules, and the compiled-module cache.

use cambium_vm::limits::MAX_MODULE_BYTES;
use cambium_vm::{Call, Env, MemState, Vm, VmConfig, VmError};
use std::sync::Arc;

use crate::common::{install, modules, vm, vm_with};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid WAT")
}

/// A minimal valid contract: answers every call with status 200 and payload "ok".
const OK_MODULE: &str = r#"(module
  (import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ok")
  (func (export "cambium_invoke") (call $respond (i32.const 200) (i32.const 16) (i32.const 2) (i32.const 0) (i32.const 0))))"#;

fn refused(wasm: &[u8]) -> VmError {
    vm().install(wasm)
        .expect_err("install must refuse this module")
}

#[test]
fn a_minimal_module_installs_and_answers() {
    let vm = vm();
    let contract = install(&vm, &wat(OK_MODULE));
    assert!(contract.manifest().is_none());
    let out = vm
        .execute(
            &contract,
            &Call::new("c", "any", &[]),
            &Env::new(Arc::new(MemState::new())),
        )
        .unwrap();
    assert_eq!(
        (out.response.status, out.response.payload.as_slice()),
        (200, &b"ok"[..])
    );
    assert!(out.rwset.namespaces.is_empty());
    assert!(out.fuel_used > 0);
}

#[test]
fn not_wasm_is_refused() {
    for bytes in [&b""[..], b"hello world", b"\0asm\x0d\0\x01\0"] {
        let e = refused(bytes);
        assert!(matches!(e, VmError::NotWasm { .. }), "{e}");
        assert!(e.to_string().contains("not a WebAssembly module"));
    }
    // Right header, garbage after it.
    let e = refused(b"\0asm\x01\0\0\0\xff\xff\xff");
    assert!(
        matches!(e, VmError::NotWasm { .. } | VmError::Compile { .. }),
        "{e}"
    );
}

#[test]
fn oversized_modules_are_refused_before_parsing() {
    let mut big = b"\0asm\x01\0\0\0".to_vec();
    big.resize(MAX_MODULE_BYTES + 1, 0);
    let e = refused(&big);
    assert_eq!(
        e,
        VmError::ModuleTooLarge {
            size: MAX_MODULE_BYTES + 1,
            limit: MAX_MODULE_BYTES
        }
    );
    assert!(e.to_string().contains("over the limit"));
}

#[test]
fn forbidden_imports_are_named() {
    let cases = [
        (
            r#"(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))"#,
            "wasi_snapshot_preview1",
            "clock_time_get",
        ),
        (
            r#"(import "cambium" "random" (func (result i64)))"#,
            "cambium",
            "random",
        ),
        (
            r#"(import "cambium" "tx_id" (global i32))"#,
            "cambium",
            "tx_id",
        ),
        (r#"(import "env" "memory" (memory 1))"#, "env", "memory"),
    ];
    for (import, module, name) in cases {
        let text = format!(
            r#"(module {import} (memory (export "memory") 1) (func (export "cambium_invoke")))"#
        );
        let e = refused(&wat(&text));
        assert_eq!(
            e,
            VmError::ForbiddenImport {
                module: module.into(),
                name: name.into()
            },
            "{import}"
        );
        assert!(e.to_string().contains(&format!("'{module}.{name}'")));
    }
}

#[test]
fn wrong_import_signatures_are_refused() {
    let e = refused(&wat(
        r#"(module (import "cambium" "state_get" (func (param i32) (result i64)))
           (memory (export "memory") 1) (func (export "cambium_invoke")))"#,
    ));
    assert_eq!(
        e,
        VmError::ImportSignature {
            name: "state_get".into(),
            expected: "(i32, i32) -> (i64)".into()
        }
    );
}

#[test]
fn missing_exports_are_named() {
    let e = refused(&wat(r#"(module (memory (export "memory") 1))"#));
    assert!(
        e.to_string().contains("function 'cambium_invoke' () -> ()"),
        "{e}"
    );
    let e = refused(&wat(
        r#"(module (memory 1) (func (export "cambium_invoke")))"#,
    ));
    assert!(e.to_string().contains("memory 'memory'"), "{e}");
    let e = refused(&wat(
        r#"(module (memory (export "memory") 1) (func (export "cambium_invoke") (param i32)))"#,
    ));
    assert!(matches!(e, VmError::MissingExport { .. }), "{e}");
}

#[test]
fn a_malformed_manifest_is_refused() {
    let e = refused(&wat(
        r#"(module (@custom "cambium_manifest" "cambium-manifest 1\nfn X") (memory (export "memory") 1) (func (export "cambium_invoke")))"#,
    ));
    assert!(
        matches!(&e, VmError::BadManifest { reason } if reason.contains("no 'schema'")),
        "{e}"
    );
}

#[test]
fn compiled_modules_are_cached_by_hash_and_engine() {
    let dir = tempfile::tempdir().unwrap();
    let config = VmConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..VmConfig::default()
    };
    let wasm = wat(OK_MODULE);
    let first = Vm::new(config.clone()).unwrap();
    assert!(!first.install(&wasm).unwrap().from_cache());
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].ends_with(&format!("-{}.cwasm", first.fingerprint())),
        "{files:?}"
    );

    // A restart (new engine, same settings) loads instead of compiling, and the code works.
    let second = Vm::new(config.clone()).unwrap();
    assert_eq!(second.fingerprint(), first.fingerprint());
    let cached = second.install(&wasm).unwrap();
    assert!(cached.from_cache());
    let out = second
        .execute(
            &cached,
            &Call::new("c", "f", &[]),
            &Env::new(Arc::new(MemState::new())),
        )
        .unwrap();
    assert_eq!(out.response.payload, b"ok");

    // A damaged artifact is replaced by a fresh compile.
    let path = dir.path().join(&files[0]);
    std::fs::write(&path, b"garbage").unwrap();
    assert!(!second.install(&wasm).unwrap().from_cache());
    assert!(Vm::new(config)
        .unwrap()
        .install(&wasm)
        .unwrap()
        .from_cache());
}

#[test]
fn sdk_contracts_install_with_their_manifest() {
    let m = modules();
    let vm = vm_with(100_000_000, 16 << 20);
    let contract = install(&vm, &m.asset_transfer);
    let manifest = contract.manifest().expect("the SDK embeds a manifest");
    assert_eq!(manifest.schema_version, 1);
    let names: Vec<&str> = manifest.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "InitLedger",
            "CreateAsset",
            "ReadAsset",
            "UpdateAsset",
            "DeleteAsset",
            "AssetExists",
            "TransferAsset",
            "GetAllAssets"
        ]
    );
    let create = &manifest.functions[1];
    assert_eq!(
        create
            .args
            .iter()
            .map(|a| format!("{}:{}", a.name, a.ty))
            .collect::<Vec<_>>()
            .join(" "),
        "id:string color:string size:i64 owner:string appraisedValue:i64"
    );
    assert_eq!(
        Vm::validate(&m.asset_transfer).unwrap().as_ref(),
        Some(manifest)
    );
}

/// Counts calls in a global and in memory, and answers with the count as one byte.
const COUNTER_MODULE: &str = r#"(module
  (import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (func (export "cambium_invoke")
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (global.get $calls)))
    (call $respond (i32.const 200) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))"#;

#[test]
fn calls_beyond_the_pool_wait_for_a_slot_instead_of_failing() {
    let vm = Arc::new(
        Vm::new(VmConfig {
            pooling_instances: Some(1),
            ..VmConfig::default()
        })
        .unwrap(),
    );
    let contract = Arc::new(install(&vm, &wat(COUNTER_MODULE)));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (vm, contract) = (vm.clone(), contract.clone());
            std::thread::spawn(move || {
                let env = Env::new(Arc::new(MemState::new()));
                (0..20)
                    .map(|_| {
                        vm.execute(&contract, &Call::new("c", "f", &[]), &env)
                            .map(|out| out.response.payload)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for out in t.join().unwrap() {
            assert_eq!(out.unwrap(), [1]);
        }
    }
}

#[test]
fn a_pool_of_zero_calls_is_refused() {
    let err = Vm::new(VmConfig {
        pooling_instances: Some(0),
        ..VmConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("pooling_instances"), "{err}");
}

#[test]
fn every_call_starts_from_a_clean_instance() {
    for pooling in [None, Some(4)] {
        let vm = Vm::new(VmConfig {
            pooling_instances: pooling,
            ..VmConfig::default()
        })
        .unwrap();
        let contract = install(&vm, &wat(COUNTER_MODULE));
        let env = Env::new(Arc::new(MemState::new()));
        for _ in 0..6 {
            let out = vm
                .execute(&contract, &Call::new("c", "f", &[]), &env)
                .unwrap();
            assert_eq!(out.response.payload, [1], "pooling {pooling:?}");
        }
    }
}
