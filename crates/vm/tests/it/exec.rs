//! Calls through the real VM: the example contracts compiled to wasm32, Fabric stub behaviour,
//! determinism across engines, and misbehaving contracts.

use std::collections::BTreeMap;
use std::sync::Arc;

use cambium_vm::limits::{MAX_KEY_BYTES, MAX_RANGE_RESULTS, MAX_VALUE_BYTES};
use cambium_vm::{
    Contract, ContractResolver, Env, KvRead, KvWrite, MemState, Version, Vm, VmError,
};

use crate::common::{call, install, modules, text, vm, vm_with, Ledger};

#[test]
fn asset_transfer_behaves_like_the_fabric_sample() {
    let vm = vm();
    let c = install(&vm, &modules().asset_transfer);
    let mut ledger = Ledger::new();
    let init = ledger
        .run(&vm, &c, &call("basic", "InitLedger", &[]))
        .unwrap();
    assert_eq!(init.response.status, 200);
    let ns = init.rwset.namespace("basic").unwrap();
    assert_eq!(
        ns.writes.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
        ["asset1", "asset2", "asset3", "asset4", "asset5", "asset6"]
    );
    assert!(ns.reads.is_empty());

    let read = ledger
        .run(&vm, &c, &call("basic", "ReadAsset", &["asset1"]))
        .unwrap();
    assert_eq!(
        text(&read),
        r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
    );
    assert_eq!(
        read.rwset.namespace("basic").unwrap().reads,
        vec![KvRead {
            key: "asset1".into(),
            version: Some(Version {
                block_num: 1,
                tx_num: 0
            })
        }]
    );

    let transfer = ledger
        .run(
            &vm,
            &c,
            &call("basic", "TransferAsset", &["asset1", "Alice"]),
        )
        .unwrap();
    assert_eq!(text(&transfer), "Tomoko");
    let event = transfer.event.expect("transfer sets an event");
    assert_eq!(event.name, "TransferAsset");
    assert!(String::from_utf8(event.payload)
        .unwrap()
        .contains(r#""Owner":"Alice""#));

    let missing = ledger
        .run(&vm, &c, &call("basic", "ReadAsset", &["asset9"]))
        .unwrap();
    assert_eq!(
        (missing.response.status, missing.response.message.as_str()),
        (500, "the asset asset9 does not exist")
    );
    // A miss is still a read, recorded without a version.
    assert_eq!(
        missing.rwset.namespace("basic").unwrap().reads,
        vec![KvRead {
            key: "asset9".into(),
            version: None
        }]
    );

    let dup = ledger
        .run(
            &vm,
            &c,
            &call("basic", "CreateAsset", &["asset2", "x", "1", "y", "2"]),
        )
        .unwrap();
    assert_eq!(dup.response.message, "the asset asset2 already exists");
    assert_eq!(
        ledger
            .run(&vm, &c, &call("basic", "DeleteAsset", &["asset2"]))
            .unwrap()
            .response
            .status,
        200
    );
    assert_eq!(
        text(
            &ledger
                .run(&vm, &c, &call("basic", "AssetExists", &["asset2"]))
                .unwrap()
        ),
        "false"
    );

    let all = ledger
        .run(&vm, &c, &call("basic", "GetAllAssets", &[]))
        .unwrap();
    assert_eq!(text(&all).matches("\"ID\"").count(), 5);
    let range = &all.rwset.namespace("basic").unwrap().range_queries;
    assert_eq!(range.len(), 1);
    assert_eq!(
        (
            range[0].start_key.as_str(),
            range[0].end_key.as_str(),
            range[0].itr_exhausted
        ),
        ("\u{1}", "", true)
    );
    assert_eq!(range[0].reads.len(), 5);

    let unknown = ledger.run(&vm, &c, &call("basic", "Nope", &[])).unwrap();
    assert_eq!(unknown.response.status, 400);
    assert!(unknown
        .response
        .message
        .starts_with("no function named 'Nope'"));
}

#[test]
fn kv_writes_are_sorted_and_last_write_wins() {
    let vm = vm();
    let c = install(&vm, &modules().kv);
    let mut ledger = Ledger::new();
    let out = ledger
        .run(&vm, &c, &call("kv", "put_many", &["k", "3", "v"]))
        .unwrap();
    let writes = &out.rwset.namespace("kv").unwrap().writes;
    assert_eq!(
        writes.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
        ["k0000", "k0001", "k0002"]
    );
    assert_eq!(
        text(&ledger.run(&vm, &c, &call("kv", "incr", &["n"])).unwrap()),
        "1"
    );
    let second = ledger.run(&vm, &c, &call("kv", "incr", &["n"])).unwrap();
    assert_eq!(text(&second), "2");
    assert_eq!(
        second.rwset.namespace("kv").unwrap().writes,
        vec![KvWrite {
            key: "n".into(),
            is_delete: false,
            value: b"2".to_vec()
        }]
    );
    let del = ledger.run(&vm, &c, &call("kv", "del", &["n"])).unwrap();
    assert_eq!(
        del.rwset.namespace("kv").unwrap().writes,
        vec![KvWrite {
            key: "n".into(),
            is_delete: true,
            value: Vec::new()
        }]
    );
    assert_eq!(
        ledger
            .run(&vm, &c, &call("kv", "get", &["n"]))
            .unwrap()
            .response
            .status,
        404
    );
}

#[test]
fn two_engines_give_byte_identical_results() {
    let m = modules();
    let mut state = MemState::new();
    for i in 0..20 {
        state.put(
            "basic",
            &format!("asset{i:02}"),
            format!(
                r#"{{"AppraisedValue":{i},"Color":"c","ID":"asset{i:02}","Owner":"o","Size":1}}"#
            )
            .as_bytes(),
            Version {
                block_num: 3,
                tx_num: i,
            },
        );
    }
    let env = Env::new(Arc::new(state));
    let calls = [
        call("basic", "GetAllAssets", &[]),
        call("basic", "TransferAsset", &["asset07", "Zed"]),
        call("basic", "CreateAsset", &["new", "red", "3", "Me", "10"]),
    ];
    let run = || {
        let vm = vm();
        let c = install(&vm, &m.asset_transfer);
        calls
            .iter()
            .map(|cl| serde_json::to_vec(&vm.execute(&c, cl, &env).unwrap()).unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    // The comparison covers fuel too: it is part of the outcome.
    assert!(String::from_utf8_lossy(&a[0]).contains("\"fuel_used\":"));
}

#[test]
fn floats_give_canonical_nans() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let env = Env::new(Arc::new(MemState::new()));
    // On x86 the hardware's 0/0 is the negative NaN 0xfff8…; canonicalization makes it positive.
    let nan64 = vm
        .execute(&c, &call("t", "nan64", &["1.5", "-2"]), &env)
        .unwrap();
    assert_eq!(text(&nan64), "7ff8000000000000");
    let nan32 = vm
        .execute(&c, &call("t", "nan32", &["3", "4"]), &env)
        .unwrap();
    assert_eq!(text(&nan32), "7fc00000");
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let vm = vm_with(5_000_000, 16 << 20);
    let c = install(&vm, &modules().testbed);
    let e = vm
        .execute(
            &c,
            &call("t", "spin", &["7"]),
            &Env::new(Arc::new(MemState::new())),
        )
        .unwrap_err();
    assert_eq!(e, VmError::OutOfFuel { limit: 5_000_000 });
    assert!(e.to_string().starts_with("out of fuel"));
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let vm = vm_with(1_000_000_000, 16 << 20);
    let c = install(&vm, &modules().testbed);
    let env = Env::new(Arc::new(MemState::new()));
    let e = vm
        .execute(&c, &call("t", "hog", &["64"]), &env)
        .unwrap_err();
    assert_eq!(
        e,
        VmError::ResourceLimit {
            what: "memory bytes",
            limit: 16 << 20
        }
    );
    // Within the limit the same function works.
    assert_eq!(
        text(&vm.execute(&c, &call("t", "hog", &["2"]), &env).unwrap()),
        (2u64 << 20).to_string()
    );
}

#[test]
fn a_panic_is_a_contract_error_with_its_message() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let out = vm
        .execute(
            &c,
            &call("t", "boom", &["kaput"]),
            &Env::new(Arc::new(MemState::new())),
        )
        .unwrap();
    assert_eq!(out.response.status, 500);
    assert!(
        out.response
            .message
            .starts_with("contract panicked at src/lib.rs:"),
        "{}",
        out.response.message
    );
    assert!(
        out.response.message.ends_with("boom: kaput"),
        "{}",
        out.response.message
    );
}

#[test]
fn oversized_host_inputs_get_deterministic_errors() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let env = Env::new(Arc::new(MemState::new()));
    let cases = [
        (
            "big_key",
            (MAX_KEY_BYTES + 1).to_string(),
            "state_put",
            "key length",
            MAX_KEY_BYTES as u64 + 1,
            MAX_KEY_BYTES as u64,
        ),
        (
            "big_value",
            (MAX_VALUE_BYTES + 1).to_string(),
            "state_put",
            "value length",
            MAX_VALUE_BYTES as u64 + 1,
            MAX_VALUE_BYTES as u64,
        ),
        (
            "big_range",
            (MAX_RANGE_RESULTS + 1).to_string(),
            "state_range",
            "page size",
            u64::from(MAX_RANGE_RESULTS) + 1,
            u64::from(MAX_RANGE_RESULTS),
        ),
    ];
    for (function, arg, host_call, what, size, limit) in cases {
        let e = vm
            .execute(&c, &call("t", function, &[&arg]), &env)
            .unwrap_err();
        assert_eq!(
            e,
            VmError::HostLimit {
                call: host_call,
                what,
                size,
                limit
            },
            "{function}"
        );
    }
    // At the limit, fine.
    assert_eq!(
        vm.execute(
            &c,
            &call("t", "big_key", &[&MAX_KEY_BYTES.to_string()]),
            &env
        )
        .unwrap()
        .response
        .status,
        200
    );
}

#[test]
fn contract_statuses_pass_through() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let out = vm
        .execute(
            &c,
            &call("t", "refuse", &["403", "not yours"]),
            &Env::new(Arc::new(MemState::new())),
        )
        .unwrap();
    assert_eq!(
        (out.response.status, out.response.message.as_str()),
        (403, "not yours")
    );
    assert!(!out.response.is_ok());
}

#[test]
fn the_stub_exposes_identity_transient_and_timestamp() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let mut cl = call("t", "whoami", &[]);
    cl.creator.cert = b"-----BEGIN CERTIFICATE-----".to_vec();
    cl.creator.attributes = BTreeMap::from([
        ("role".to_string(), "auditor".to_string()),
        ("hf.EnrollmentID".to_string(), "u1".to_string()),
    ]);
    cl.transient = BTreeMap::from([("price".to_string(), b"42".to_vec())]);
    let out = vm
        .execute(&c, &cl, &Env::new(Arc::new(MemState::new())))
        .unwrap();
    assert_eq!(
        text(&out),
        "mychannel|tx-whoami|1700000000000000005|Org1MSP|-----BEGIN CERTIFICATE-----|hf.EnrollmentID=u1,role=auditor|price=42"
    );
}

#[test]
fn history_and_composite_keys() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let mut ledger = Ledger::new();
    for i in 0..2 {
        // big_key with length 1 writes "k" = "v".
        let mut cl = call("t", "big_key", &["1"]);
        cl.tx_id = format!("tx{i}");
        cl.timestamp.seconds = 100 + i;
        ledger.run(&vm, &c, &cl).unwrap();
    }
    let hist = ledger.run(&vm, &c, &call("t", "history", &["k"])).unwrap();
    assert_eq!(text(&hist), "tx1:v:false:101,tx0:v:false:100");

    for (color, name) in [("blue", "b1"), ("red", "r1"), ("blue", "b2")] {
        ledger
            .run(&vm, &c, &call("t", "tag", &[color, name]))
            .unwrap();
    }
    assert_eq!(
        text(
            &ledger
                .run(&vm, &c, &call("t", "by_color", &["blue"]))
                .unwrap()
        ),
        "b1,b2"
    );
    let red = ledger
        .run(&vm, &c, &call("t", "by_color", &["red"]))
        .unwrap();
    let ranges = &red.rwset.namespace("t").unwrap().range_queries;
    assert_eq!(ranges[0].start_key, "\u{0}color~name\u{0}red\u{0}");
    assert_eq!(ranges[0].end_key, "\u{0}color~name\u{0}red\u{0}\u{10FFFF}");

    // An empty range start skips composite keys, as Fabric's GetStateByRange does.
    assert_eq!(
        text(
            &ledger
                .run(&vm, &c, &call("t", "page", &["10", ""]))
                .unwrap()
        ),
        "k|"
    );
}

#[test]
fn pages_carry_a_bookmark() {
    let vm = vm();
    let c = install(&vm, &modules().testbed);
    let mut state = MemState::new();
    for k in ["a", "b", "c", "d", "e"] {
        state.put(
            "t",
            k,
            b"x",
            Version {
                block_num: 1,
                tx_num: 0,
            },
        );
    }
    let env = Env::new(Arc::new(state));
    let p1 = vm
        .execute(&c, &call("t", "page", &["2", ""]), &env)
        .unwrap();
    assert_eq!(text(&p1), "a,b|c");
    assert!(!p1.rwset.namespace("t").unwrap().range_queries[0].itr_exhausted);
    let p3 = vm
        .execute(&c, &call("t", "page", &["2", "e"]), &env)
        .unwrap();
    assert_eq!(text(&p3), "e|");
    assert!(p3.rwset.namespace("t").unwrap().range_queries[0].itr_exhausted);
}

#[test]
fn contracts_call_each_other_on_the_same_channel() {
    let vm = vm();
    let testbed = install(&vm, &modules().testbed);
    let kv = install(&vm, &modules().kv);
    let mut contracts: BTreeMap<String, Arc<Contract>> = BTreeMap::new();
    contracts.insert("kv".into(), kv);
    let resolver: Arc<dyn ContractResolver> = Arc::new(contracts);
    let env = Env::with_contracts(Arc::new(MemState::new()), resolver);
    let out = vm
        .execute(
            &testbed,
            &call("t", "call", &["kv", "incr", "counter"]),
            &env,
        )
        .unwrap();
    assert_eq!(text(&out), "200||1");
    let kv_ns = out
        .rwset
        .namespace("kv")
        .expect("the callee's writes are in its namespace");
    assert_eq!(
        kv_ns.writes,
        vec![KvWrite {
            key: "counter".into(),
            is_delete: false,
            value: b"1".to_vec()
        }]
    );
    assert_eq!(
        kv_ns.reads,
        vec![KvRead {
            key: "counter".into(),
            version: None
        }]
    );

    let missing = vm
        .execute(&testbed, &call("t", "call", &["nope", "x", "y"]), &env)
        .unwrap();
    assert_eq!(
        text(&missing),
        "404|contract 'nope' is not defined on channel 'mychannel'|"
    );

    // The callee's failure comes back as its response, not a VM error.
    let failed = vm
        .execute(&testbed, &call("t", "call", &["kv", "get", "absent"]), &env)
        .unwrap();
    assert_eq!(text(&failed), "404|key 'absent' does not exist|");

    // Fuel is shared: a callee that loops exhausts the caller's budget.
    let small = vm_with(3_000_000, 16 << 20);
    let looping: BTreeMap<String, Arc<Contract>> =
        BTreeMap::from([("loop".to_string(), install(&small, &modules().testbed))]);
    let env = Env::with_contracts(Arc::new(MemState::new()), Arc::new(looping));
    let caller = install(&small, &modules().testbed);
    let e = small
        .execute(&caller, &call("t", "call", &["loop", "spin", "1"]), &env)
        .unwrap_err();
    assert_eq!(e, VmError::OutOfFuel { limit: 3_000_000 });
}

#[test]
fn wat_traps_and_bad_pointers_are_vm_errors() {
    let vm = Vm::new(Default::default()).unwrap();
    let env = Env::new(Arc::new(MemState::new()));
    let div = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "cambium_invoke") (drop (i32.div_s (i32.const 1) (i32.const 0)))))"#,
    )
    .unwrap();
    let e = vm
        .execute(&install(&vm, &div), &call("w", "f", &[]), &env)
        .unwrap_err();
    assert_eq!(
        e,
        VmError::Trap {
            reason: "wasm trap: integer divide by zero".into()
        }
    );

    let oob = wat::parse_str(
        r#"(module (import "cambium" "state_get" (func $get (param i32 i32) (result i64)))
             (memory (export "memory") 1)
             (func (export "cambium_invoke") (drop (call $get (i32.const 65530) (i32.const 100)))))"#,
    )
    .unwrap();
    let e = vm
        .execute(&install(&vm, &oob), &call("w", "f", &[]), &env)
        .unwrap_err();
    assert_eq!(
        e,
        VmError::HostInput {
            call: "state_get",
            problem: "100 bytes at 65530 are outside the contract's memory".into()
        }
    );

    let silent =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "cambium_invoke")))"#)
            .unwrap();
    assert_eq!(
        vm.execute(&install(&vm, &silent), &call("w", "f", &[]), &env)
            .unwrap_err(),
        VmError::NoResponse
    );

    let grow = wat::parse_str(
        r#"(module (memory (export "memory") 1)
             (func (export "cambium_invoke")
               (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
               unreachable))"#,
    )
    .unwrap();
    let e = vm
        .execute(&install(&vm, &grow), &call("w", "f", &[]), &env)
        .unwrap_err();
    assert!(
        matches!(
            e,
            VmError::ResourceLimit {
                what: "memory bytes",
                ..
            }
        ),
        "{e}"
    );
}
