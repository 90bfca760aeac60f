//! The example upgrade pair costs alike per call: `asset-ledger-v2`'s calls, run through the
//! real VM as compiled `.wasm`, use about the fuel of `asset-ledger-v1`'s and write values of
//! about the same size, so a live upgrade's throughput is not lowered by the new version
//! itself (see `cambium bench upgrade`). Fuel is deterministic, so these bounds are exact
//! checks, not timings.

use std::path::Path;
use std::sync::Arc;

use cambium_vm::{Call, CallOutcome, Env, MemState, Version, Vm, VmConfig};

use crate::support::contract_wasm;

const NS: &str = "assets";

/// A ledger with one record in v1's format (`asset/old`) and, with `v2_record`, one in v2's.
fn env(v2_record: Option<&[u8]>) -> Env {
    let mut state = MemState::new();
    let at = Version {
        block_num: 1,
        tx_num: 0,
    };
    state.put(NS, "asset/old", b"owner-1,10", at);
    if let Some(value) = v2_record {
        state.put(NS, "asset/new", value, at);
    }
    for i in 0..100 {
        state.put(NS, &format!("asset/load-{i:04}"), b"owner-2,10", at);
    }
    Env::new(Arc::new(state))
}

fn call(vm: &Vm, contract: &cambium_vm::Contract, env: &Env, args: &[&str]) -> CallOutcome {
    let out = vm
        .execute(contract, &Call::new(NS, args[0], &args[1..]), env)
        .expect("the call runs");
    assert_eq!(
        out.response.status, 200,
        "{args:?}: {}",
        out.response.message
    );
    out
}

fn written(out: &CallOutcome) -> usize {
    out.rwset
        .namespace(NS)
        .map_or(0, |ns| ns.writes.iter().map(|w| w.value.len()).sum())
}

#[test]
fn asset_ledger_v2_costs_about_what_v1_costs_per_call() {
    let vm = Vm::new(VmConfig::default()).unwrap();
    let v1 = vm
        .install(&contract_wasm(Path::new("asset-ledger-v1")))
        .unwrap();
    let v2 = vm
        .install(&contract_wasm(Path::new("asset-ledger-v2")))
        .unwrap();
    let create = ["CreateAsset", "load-0badc0de-c3-42", "owner-3", "10"];

    let plain = env(None);
    let c1 = call(&vm, &v1, &plain, &create);
    let c2 = call(&vm, &v2, &plain, &create);
    let v2_value = c2.rwset.namespace(NS).unwrap().writes[0].value.clone();
    let with_v2 = env(Some(&v2_value));
    let r1 = call(&vm, &v1, &plain, &["ReadAsset", "old"]);
    let r2_old = call(&vm, &v2, &plain, &["ReadAsset", "old"]);
    let r2_new = call(&vm, &v2, &with_v2, &["ReadAsset", "new"]);
    let t1 = call(&vm, &v1, &plain, &["TransferAsset", "old", "Max"]);
    let t2 = call(&vm, &v2, &with_v2, &["TransferAsset", "new", "Max"]);
    let migrated = vm
        .migrate(&v2, &Call::new(NS, "unused", &[]), "1.0", &plain)
        .expect("the migration runs");
    assert_eq!(migrated.response.status, 200);
    let records = migrated.rwset.namespace(NS).unwrap().writes.len() as u64;
    assert_eq!(records, 101);
    eprintln!(
        "fuel v1/v2: CreateAsset {}/{} ({} / {} value bytes), ReadAsset {}/{} (v1 record) {} (v2 record), TransferAsset {}/{}, migration {} per record",
        c1.fuel_used,
        c2.fuel_used,
        written(&c1),
        written(&c2),
        r1.fuel_used,
        r2_old.fuel_used,
        r2_new.fuel_used,
        t1.fuel_used,
        t2.fuel_used,
        migrated.fuel_used / records
    );
    // v2 encodes its records by hand; a JSON tree per call cost several times v1's fuel.
    for (what, one, two) in [
        ("CreateAsset", c1.fuel_used, c2.fuel_used),
        ("ReadAsset", r1.fuel_used, r2_new.fuel_used),
        ("TransferAsset", t1.fuel_used, t2.fuel_used),
    ] {
        assert!(
            two * 100 <= one * 125,
            "{what}: v2 uses {two} fuel, more than 25 % over v1's {one}"
        );
    }
    // The stored value grows by the tag and the currency only.
    assert_eq!(written(&c2), written(&c1) + 4);
    assert_eq!(
        r2_new.response.payload,
        br#"{"currency":"USD","id":"new","owner":"owner-3","value":10}"#
    );
}
