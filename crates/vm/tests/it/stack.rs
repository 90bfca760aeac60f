//! Contracts built by `cambium_vm::toolchain` get a `CONTRACT_STACK_BYTES` shadow stack; a call
//! that needs more traps cleanly, and pooled instances come back pristine after any call.

use std::sync::{Arc, OnceLock};

use cambium_vm::toolchain::{self, CONTRACT_STACK_BYTES};
use cambium_vm::{Env, MemState, Vm, VmConfig, VmError};

use crate::common::{call, install, modules, repo_root, target_dir, text, vm};

/// The `stack-probe` test contract (`crates/vm/tests/contracts/stack-probe`), built once.
fn stack_probe() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = repo_root().join("crates/vm/tests/contracts/stack-probe");
        let wasm = toolchain::build(&dir, &target_dir().join("contract-wasm"))
            .unwrap_or_else(|e| panic!("cannot build the stack-probe contract: {e}"));
        std::fs::read(wasm).expect("the built module is readable")
    })
}

/// The initial value of the module's first mutable `i32` global: in a Rust module, the
/// shadow stack pointer, which starts at the top of the stack.
fn stack_pointer_start(wasm: &[u8]) -> Option<i64> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::GlobalSection(globals)) = payload {
            for global in globals {
                let global = global.ok()?;
                if global.ty.mutable && global.ty.content_type == wasmparser::ValType::I32 {
                    let mut ops = global.init_expr.get_operators_reader();
                    return match ops.read().ok()? {
                        wasmparser::Operator::I32Const { value } => Some(i64::from(value)),
                        _ => None,
                    };
                }
            }
        }
    }
    None
}

#[test]
fn contracts_are_linked_with_the_documented_stack() {
    assert_eq!(
        toolchain::stack_rustflags(),
        format!("-C link-arg=-zstack-size={CONTRACT_STACK_BYTES}")
    );
    for (name, wasm) in [
        ("stack-probe", stack_probe()),
        ("asset-transfer", modules().asset_transfer.as_slice()),
        ("kv", modules().kv.as_slice()),
    ] {
        assert_eq!(
            stack_pointer_start(wasm),
            Some(i64::from(CONTRACT_STACK_BYTES)),
            "{name}: the stack pointer should start at the top of a {CONTRACT_STACK_BYTES}-byte stack"
        );
    }
}

#[test]
fn a_call_that_overflows_the_stack_traps_and_the_next_call_is_unaffected() {
    let vm = vm();
    let c = install(&vm, stack_probe());
    let env = Env::new(Arc::new(MemState::new()));
    // Each frame holds 1 KiB: 100 frames fit in the stack, 400 frames do not.
    let fits = vm.execute(&c, &call("p", "depth", &["100"]), &env).unwrap();
    assert_eq!(fits.response.status, 200, "{}", fits.response.message);
    let deep = CONTRACT_STACK_BYTES / 1024 + 144;
    let e = vm
        .execute(&c, &call("p", "depth", &[&deep.to_string()]), &env)
        .unwrap_err();
    assert!(
        matches!(&e, VmError::Trap { reason } if reason.contains("out of bounds memory access")),
        "a stack overflow should trap as an out-of-bounds access, got {e:?}"
    );
    // The same on a second engine (every peer decides alike) ...
    let other = vm_without_pool();
    let c2 = install(&other, stack_probe());
    assert_eq!(
        other
            .execute(&c2, &call("p", "depth", &[&deep.to_string()]), &env)
            .unwrap_err(),
        e
    );
    // ... and the pooled slot the trapped call used serves the next call as if fresh.
    let again = vm.execute(&c, &call("p", "depth", &["100"]), &env).unwrap();
    assert_eq!(again, fits);
}

fn vm_without_pool() -> Vm {
    Vm::new(VmConfig {
        pooling_instances: None,
        ..VmConfig::default()
    })
    .expect("engine")
}

#[test]
fn pooled_instances_start_pristine_after_every_call() {
    // A pool of one call slot, so every call reuses the memory the previous call dirtied;
    // the heap allocator's state lives in that memory, so any leftover would change the fuel.
    let pooled = Vm::new(VmConfig {
        pooling_instances: Some(1),
        ..VmConfig::default()
    })
    .expect("engine");
    let fresh = vm_without_pool();
    let env = Env::new(Arc::new(MemState::new()));
    let create = call(
        "basic",
        "CreateAsset",
        &["asset1", "blue", "5", "Tomoko", "300"],
    );
    let expected = fresh
        .execute(&install(&fresh, &modules().asset_transfer), &create, &env)
        .unwrap();
    assert_eq!(
        expected.response.status, 200,
        "{}",
        expected.response.message
    );
    let at = install(&pooled, &modules().asset_transfer);
    let probe = install(&pooled, stack_probe());
    for round in 0..5 {
        // Dirty the slot with another module and a deep stack in between.
        let deep = pooled
            .execute(&probe, &call("p", "depth", &["200"]), &env)
            .unwrap();
        assert_eq!(deep.response.status, 200, "round {round}");
        let got = pooled.execute(&at, &create, &env).unwrap();
        assert_eq!(got, expected, "round {round}: {}", text(&got));
    }
}
