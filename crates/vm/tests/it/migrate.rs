//! Migrations through the real VM: the example upgrade pair (asset-ledger v1 → v2) compiled to
//! wasm32, and hand-written modules whose migration traps, loops or lies about itself.

use std::sync::Arc;

use cambium_vm::limits::{MAX_WRITES_PER_CALL, MIGRATION_FUEL_FACTOR};
use cambium_vm::{Call, Env, MemState, Vm, VmError};

use crate::common::{call, install, modules, text, vm, vm_with, Ledger};

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid WAT")
}

/// The host functions the test modules import: `$respond` (`response_set`) and `$put`
/// (`state_put`).
const HOST_IMPORTS: &str = r#"(import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (import "cambium" "state_put" (func $put (param i32 i32 i32 i32)))"#;

/// A module whose `cambium_invoke` answers 200 and whose `cambium_migrate` is `body`, with a
/// manifest saying `manifest_migrate`.
fn module_with_migrate(body: &str, manifest: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module
  {HOST_IMPORTS}
  (@custom "cambium_manifest" "{manifest}")
  (memory (export "memory") 1)
  (data (i32.const 16) "key")
  (func (export "cambium_invoke") (call $respond (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "cambium_migrate") {body}))"#
    ))
}

const WITH_MIGRATE: &str = r"cambium-manifest 1\nschema 2\nmigrate\n";

fn migration_call() -> Call {
    call("assets", "unused", &[])
}

fn empty_env() -> Env {
    Env::new(Arc::new(MemState::new()))
}

#[test]
fn v2_migrates_every_v1_record_with_its_reads_and_writes_recorded() {
    let vm = vm();
    let v1 = install(&vm, &modules().asset_ledger_v1);
    let v2 = install(&vm, &modules().asset_ledger_v2);
    assert!(!v1.has_migrate());
    assert!(v2.has_migrate());
    assert!(v2.manifest().expect("v2 has a manifest").migrate);
    assert!(!v1.manifest().expect("v1 has a manifest").migrate);

    let mut ledger = Ledger::new();
    for (id, owner, value) in [("a1", "Tomoko", "300"), ("a2", "Brad", "400")] {
        let out = ledger
            .run(
                &vm,
                &v1,
                &call("assets", "CreateAsset", &[id, owner, value]),
            )
            .unwrap();
        assert_eq!(out.response.status, 200, "{}", out.response.message);
    }

    let out = vm
        .migrate(&v2, &migration_call(), "1.0", &ledger.env())
        .unwrap();
    assert_eq!(out.response.status, 200, "{}", out.response.message);
    assert!(out.fuel_used > 0);
    let ns = out
        .rwset
        .namespace("assets")
        .expect("writes in the contract's namespace");
    assert_eq!(
        ns.writes
            .iter()
            .map(|w| (w.key.as_str(), w.is_delete, w.value.as_slice()))
            .collect::<Vec<_>>(),
        [
            ("asset/a1", false, &b"\xFEUSD300,Tomoko"[..]),
            ("asset/a2", false, &b"\xFEUSD400,Brad"[..]),
        ]
    );
    // The range the migration scanned is in the read set, so a concurrent write conflicts.
    assert_eq!(ns.range_queries.len(), 1);
    assert_eq!(ns.range_queries[0].reads.len(), 2);
    assert_eq!(out.rwset.namespaces.len(), 1);
    let event = out.event.as_ref().expect("the migration sets its event");
    assert_eq!(
        (event.name.as_str(), event.payload.as_slice()),
        ("AssetsMigrated", &b"2"[..])
    );

    // Applied, v2 reads the new format; migrating again writes nothing.
    ledger.block += 1;
    ledger.state.apply(
        &out.rwset,
        cambium_vm::Version {
            block_num: ledger.block,
            tx_num: 0,
        },
        "tx-migrate",
        cambium_vm::Timestamp::default(),
    );
    let read = ledger
        .run(&vm, &v2, &call("assets", "ReadAsset", &["a2"]))
        .unwrap();
    assert_eq!(
        text(&read),
        r#"{"currency":"USD","id":"a2","owner":"Brad","value":400}"#
    );
    let again = vm
        .migrate(&v2, &migration_call(), "1.0", &ledger.env())
        .unwrap();
    assert_eq!(again.response.status, 200);
    assert!(again.rwset.namespace("assets").unwrap().writes.is_empty());
}

#[test]
fn the_same_migration_gives_the_same_outcome_on_every_engine() {
    let mut ledger = Ledger::new();
    let vm_a = vm();
    let v1 = install(&vm_a, &modules().asset_ledger_v1);
    for i in 0..20 {
        let id = format!("a{i:02}");
        let out = ledger
            .run(
                &vm_a,
                &v1,
                &call("assets", "CreateAsset", &[&id, "Owner", "1"]),
            )
            .unwrap();
        assert_eq!(out.response.status, 200);
    }
    let vm_b = vm_with(cambium_vm::limits::DEFAULT_FUEL, 32 * 1024 * 1024);
    let a = vm_a
        .migrate(
            &install(&vm_a, &modules().asset_ledger_v2),
            &migration_call(),
            "1.0",
            &ledger.env(),
        )
        .unwrap();
    let b = vm_b
        .migrate(
            &install(&vm_b, &modules().asset_ledger_v2),
            &migration_call(),
            "1.0",
            &ledger.env(),
        )
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.rwset.namespace("assets").unwrap().writes.len(), 20);
}

#[test]
fn a_migration_that_refuses_a_record_is_the_contracts_own_error() {
    let vm = vm();
    let v2 = install(&vm, &modules().asset_ledger_v2);
    let mut state = MemState::new();
    let version = cambium_vm::Version {
        block_num: 1,
        tx_num: 0,
    };
    state.put("assets", "asset/x", b"garbage", version);
    let out = vm
        .migrate(&v2, &migration_call(), "1.0", &Env::new(Arc::new(state)))
        .unwrap();
    assert_eq!(out.response.status, 500);
    assert!(
        out.response.message.contains("cannot migrate 'asset/x'"),
        "{}",
        out.response.message
    );
    assert!(out.fuel_used > 0);
}

#[test]
fn contracts_without_a_migration_are_refused() {
    let vm = vm();
    let kv = install(&vm, &modules().kv);
    assert!(!kv.has_migrate());
    let e = vm
        .migrate(&kv, &migration_call(), "1.0", &empty_env())
        .unwrap_err();
    assert_eq!(e, VmError::NoMigration);
    assert!(e.to_string().contains("cambium_migrate"), "{e}");
}

#[test]
fn a_trapping_migration_is_an_error_with_the_trap() {
    let vm = vm();
    // It writes a key, then traps: the error carries no writes.
    let c = install(
        &vm,
        &module_with_migrate(
            "(call $put (i32.const 16) (i32.const 3) (i32.const 16) (i32.const 3)) unreachable",
            WITH_MIGRATE,
        ),
    );
    assert!(c.has_migrate());
    let e = vm
        .migrate(&c, &migration_call(), "1.0", &empty_env())
        .unwrap_err();
    assert!(
        matches!(&e, VmError::Trap { reason } if reason.contains("unreachable")),
        "{e}"
    );
    // Normal calls of the same contract are unaffected.
    let ok = vm.execute(&c, &migration_call(), &empty_env()).unwrap();
    assert_eq!(ok.response.status, 200);
}

#[test]
fn a_looping_migration_runs_out_of_fuel() {
    let vm = vm_with(200_000, 16 * 1024 * 1024);
    let c = install(&vm, &module_with_migrate("(loop $l (br $l))", WITH_MIGRATE));
    let e = vm
        .migrate(&c, &migration_call(), "1.0", &empty_env())
        .unwrap_err();
    assert_eq!(
        e,
        VmError::OutOfFuel {
            limit: 200_000 * MIGRATION_FUEL_FACTOR
        }
    );
    assert!(e.to_string().contains("out of fuel"), "{e}");
}

#[test]
fn a_migration_that_sets_no_response_is_an_error() {
    let vm = vm();
    let c = install(&vm, &module_with_migrate("", WITH_MIGRATE));
    let e = vm
        .migrate(&c, &migration_call(), "1.0", &empty_env())
        .unwrap_err();
    assert_eq!(e, VmError::NoResponse);
}

#[test]
fn the_manifest_and_the_export_must_agree() {
    let vm = vm();
    let e = vm
        .install(&module_with_migrate("", r"cambium-manifest 1\nschema 2\n"))
        .unwrap_err();
    assert!(
        matches!(&e, VmError::MigrationMismatch { reason } if reason.contains("no 'migrate' line")),
        "{e}"
    );
    let no_export = wat(
        r#"(module (@custom "cambium_manifest" "cambium-manifest 1\nschema 2\nmigrate\n")
             (memory (export "memory") 1) (func (export "cambium_invoke")))"#,
    );
    let e = vm.install(&no_export).unwrap_err();
    assert!(
        matches!(&e, VmError::MigrationMismatch { reason } if reason.contains("does not export 'cambium_migrate'")),
        "{e}"
    );
    let wrong_type = wat(
        r#"(module (memory (export "memory") 1) (func (export "cambium_invoke"))
             (func (export "cambium_migrate") (param i32)))"#,
    );
    let e = vm.install(&wrong_type).unwrap_err();
    assert!(
        matches!(&e, VmError::MissingExport { what } if what.contains("cambium_migrate")),
        "{e}"
    );
}

#[test]
fn a_migration_sees_the_transaction_and_its_input() {
    // The migration reads its input through the same host call as a normal call.
    let vm: Vm = vm();
    let c = install(
        &vm,
        &wat(r#"(module
  (import "cambium" "input" (func $input (result i64)))
  (import "cambium" "result_read" (func $read (param i32)))
  (import "cambium" "response_set" (func $respond (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "cambium_invoke"))
  (func (export "cambium_migrate") (local $len i32)
    (local.set $len (i32.wrap_i64 (call $input)))
    (call $read (i32.const 64))
    (call $respond (i32.const 200) (i32.const 64) (local.get $len) (i32.const 0) (i32.const 0))))"#),
    );
    let out = vm
        .migrate(&c, &migration_call(), "1.4", &empty_env())
        .unwrap();
    // The input list: count 2, then "migrate", then "1.4".
    let mut expected = 2u32.to_le_bytes().to_vec();
    expected.extend(7u32.to_le_bytes());
    expected.extend(b"migrate");
    expected.extend(3u32.to_le_bytes());
    expected.extend(b"1.4");
    assert_eq!(out.response.payload, expected);
}

#[test]
fn the_example_pair_is_a_compatible_upgrade_with_a_migration() {
    let old = cambium_vm::Vm::validate(&modules().asset_ledger_v1)
        .unwrap()
        .expect("v1 has a manifest");
    let new = cambium_vm::Vm::validate(&modules().asset_ledger_v2)
        .unwrap()
        .expect("v2 has a manifest");
    let report = cambium_vm::check_compat(&old, &new);
    assert!(!report.is_breaking(), "{report}");
    assert_eq!(
        report.notes(),
        [
            "function SetCurrency(id:string, currency:string) is added",
            "the state schema changes from 1 to 2; the new version's migration rewrites it when the definition commits",
        ]
    );
    // Downgrading is breaking: SetCurrency disappears and the schema goes back without a migration.
    let back = cambium_vm::check_compat(&new, &old);
    assert_eq!(back.breaking_changes().len(), 2, "{back}");
}

/// A module whose `cambium_invoke` and `cambium_migrate` both run `body` and answer 200; `body`
/// may call `$put` (`state_put`) and use the local `$i`.
fn module_running_in_both(body: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module
  {HOST_IMPORTS}
  (@custom "cambium_manifest" "{WITH_MIGRATE}")
  (memory (export "memory") 1)
  (data (i32.const 32) "v")
  (func $body (local $i i32) {body})
  (func (export "cambium_invoke")
    (call $body)
    (call $respond (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
  (func (export "cambium_migrate")
    (call $body)
    (call $respond (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))"#
    ))
}

#[test]
fn a_migration_may_write_a_whole_namespace_where_a_call_is_held_to_the_call_limit() {
    // Writes keys "aaaa", "baaa", ... : key i spells i's four low nibbles as letters a-p.
    let writes = MAX_WRITES_PER_CALL + 1;
    let body = format!(
        r#"(loop $l
      (i32.store8 (i32.const 16) (i32.add (i32.const 97) (i32.and (local.get $i) (i32.const 15))))
      (i32.store8 (i32.const 17) (i32.add (i32.const 97) (i32.and (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 15))))
      (i32.store8 (i32.const 18) (i32.add (i32.const 97) (i32.and (i32.shr_u (local.get $i) (i32.const 8)) (i32.const 15))))
      (i32.store8 (i32.const 19) (i32.add (i32.const 97) (i32.and (i32.shr_u (local.get $i) (i32.const 12)) (i32.const 15))))
      (call $put (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const {writes}))))"#
    );
    let vm = vm();
    let c = install(&vm, &module_running_in_both(&body));

    let e = vm
        .execute(&c, &call("assets", "anything", &[]), &empty_env())
        .unwrap_err();
    assert_eq!(
        e,
        VmError::HostLimit {
            call: "state_put",
            what: "distinct keys written",
            size: writes as u64,
            limit: MAX_WRITES_PER_CALL as u64,
        }
    );

    let out = vm
        .migrate(&c, &migration_call(), "1.0", &empty_env())
        .unwrap();
    assert_eq!(out.response.status, 200, "{}", out.response.message);
    let ns = out
        .rwset
        .namespace("assets")
        .expect("the migration's writes");
    assert_eq!(ns.writes.len(), writes);
}

#[test]
fn a_migration_gets_more_fuel_than_a_call() {
    // About 4 million fuel: over a call's 1 million, within a migration's 10 million.
    let body = r#"(loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 500000))))"#;
    let vm = vm_with(1_000_000, 16 * 1024 * 1024);
    let c = install(&vm, &module_running_in_both(body));
    let e = vm
        .execute(&c, &call("assets", "anything", &[]), &empty_env())
        .unwrap_err();
    assert_eq!(e, VmError::OutOfFuel { limit: 1_000_000 });
    let out = vm
        .migrate(&c, &migration_call(), "1.0", &empty_env())
        .unwrap();
    assert_eq!(out.response.status, 200, "{}", out.response.message);
    assert!(
        out.fuel_used > 1_000_000 && out.fuel_used < 1_000_000 * MIGRATION_FUEL_FACTOR,
        "{}",
        out.fuel_used
    );
}
