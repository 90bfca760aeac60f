//! The example contracts run natively against the SDK's mock stub (the first of the two test
//! passes; the second runs the same contracts as `.wasm` through the VM), and the SDK's own unit
//! tests run with the current stable cargo (the SDK is outside the root workspace, see
//! crates/sdk/Cargo.toml).

use std::process::Command;

use cambium_sdk::{JsonValue, MockStub};

use crate::common::{repo_root, target_dir};

#[test]
fn asset_transfer_runs_natively() {
    let mut stub = MockStub::new();
    let d = asset_transfer::dispatch;
    assert_eq!(stub.invoke(d, "InitLedger", &[]).status, 200);
    assert_eq!(stub.keys().len(), 6);
    let created = stub.invoke(d, "CreateAsset", &["asset7", "purple", "20", "Ana", "900"]);
    assert_eq!(created.status, 200, "{}", created.message);
    let read = stub.invoke(d, "ReadAsset", &["asset7"]);
    assert_eq!(
        String::from_utf8(read.payload).unwrap(),
        r#"{"AppraisedValue":900,"Color":"purple","ID":"asset7","Owner":"Ana","Size":20}"#
    );
    let update = stub.invoke(d, "UpdateAsset", &["asset7", "pink", "21", "Ana", "950"]);
    assert_eq!(update.status, 200);
    let missing = stub.invoke(d, "UpdateAsset", &["nope", "pink", "21", "Ana", "950"]);
    assert_eq!(
        (missing.status, missing.message.as_str()),
        (500, "the asset nope does not exist")
    );
    assert_eq!(
        stub.invoke(d, "TransferAsset", &["asset7", "Bo"]).payload,
        b"Ana"
    );
    let event = stub.events().last().unwrap();
    assert_eq!(event.name, "TransferAsset");
    assert_eq!(
        JsonValue::parse(&event.payload)
            .unwrap()
            .field::<String>("Owner")
            .unwrap(),
        "Bo"
    );
    assert_eq!(stub.invoke(d, "AssetExists", &["asset7"]).payload, b"true");
    assert_eq!(stub.invoke(d, "DeleteAsset", &["asset7"]).status, 200);
    assert_eq!(stub.invoke(d, "AssetExists", &["asset7"]).payload, b"false");
    let bad = stub.invoke(d, "CreateAsset", &["a", "b", "big", "o", "1"]);
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.message,
        "argument 'size' must be a i64 number, got 'big'"
    );
    let all = JsonValue::parse(&stub.invoke(d, "GetAllAssets", &[]).payload).unwrap();
    let owners: Vec<String> = match all {
        JsonValue::Array(items) => items
            .iter()
            .map(|a| a.field::<String>("Owner").unwrap())
            .collect(),
        other => panic!("GetAllAssets returned {other}"),
    };
    assert_eq!(
        owners,
        ["Tomoko", "Brad", "Jin Soo", "Max", "Adriana", "Michel"]
    );
    assert!(asset_transfer::manifest().contains(
        "fn CreateAsset id:string color:string size:i64 owner:string appraisedValue:i64\n"
    ));
}

#[test]
fn kv_runs_natively() {
    let mut stub = MockStub::new();
    let d = kv::dispatch;
    assert_eq!(stub.invoke(d, "incr", &["n"]).payload, b"1");
    assert_eq!(stub.invoke(d, "incr", &["n"]).payload, b"2");
    assert_eq!(stub.invoke(d, "put_many", &["p", "5", "x"]).payload, b"5");
    assert_eq!(
        stub.invoke(d, "scan", &["p0001", "p0003"]).payload,
        b"p0001,p0002"
    );
    assert_eq!(stub.invoke(d, "put_many", &["p", "10001", "x"]).status, 400);
    assert_eq!(stub.invoke(d, "del", &["n"]).status, 200);
    assert_eq!(stub.invoke(d, "get", &["n"]).status, 404);
}

/// Runs `cargo test` on a crate outside the root workspace with the current (stable) cargo.
fn cargo_test(dir: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
        {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(repo_root().join(dir))
        .args(["test", "--offline", "--quiet", "--target-dir"])
        .arg(target_dir().join("standalone-native"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo test in {dir} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test result: ok"),
        "no tests ran in {dir}:\n{stdout}"
    );
}

#[test]
fn sdk_unit_tests_pass_with_stable_cargo() {
    cargo_test("crates/sdk");
}

#[test]
fn contract_unit_tests_pass_with_stable_cargo() {
    for dir in [
        "contracts/kv",
        "contracts/asset-transfer",
        "contracts/asset-ledger-v1",
        "contracts/asset-ledger-v2",
    ] {
        cargo_test(dir);
    }
}
