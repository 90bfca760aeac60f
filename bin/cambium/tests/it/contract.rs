//! Tests of `cambium contract …`: scaffold, build (with whichever wasm toolchain is installed;
//! a missing toolchain fails the test with the install hint), package and inspect.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::cambium;

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "cambium failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "cambium should have failed");
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn new_build_package_inspect_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = repo().join("crates/sdk");
    ok(&cambium(&[
        "contract",
        "new",
        "my-contract",
        "--dir",
        s(dir.path()),
        "--sdk",
        s(&sdk),
    ]));
    let crate_dir = dir.path().join("my-contract");
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs"] {
        assert!(crate_dir.join(file).is_file(), "{file}");
    }
    assert!(std::fs::read_to_string(crate_dir.join("Cargo.lock"))
        .unwrap()
        .contains("version = 3"));
    // Refuses to overwrite.
    let again = failed(&cambium(&[
        "contract",
        "new",
        "my-contract",
        "--dir",
        s(dir.path()),
        "--sdk",
        s(&sdk),
    ]));
    assert!(again.contains("already exists"), "{again}");

    let built = ok(&cambium(&["contract", "build", s(&crate_dir)]));
    assert!(built.contains("my_contract.wasm"), "{built}");

    let pkg = dir.path().join("mine.tar.gz");
    let id = ok(&cambium(&[
        "contract",
        "package",
        s(&crate_dir),
        "--label",
        "mine_1.0",
        "--out",
        s(&pkg),
    ]));
    let bytes = std::fs::read(&pkg).unwrap();
    assert_eq!(id.trim(), format!("mine_1.0:{}", sha256_hex(&bytes)));

    let report: serde_json::Value =
        serde_json::from_str(&ok(&cambium(&["contract", "inspect", s(&pkg)]))).unwrap();
    assert_eq!(report["label"], "mine_1.0");
    assert_eq!(report["package_id"], id.trim());
    assert_eq!(report["manifest"]["schema_version"], 1);
    let functions: Vec<&str> = report["manifest"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["Set", "Get"]);
    assert_eq!(
        report["manifest"]["functions"][0]["args"][1]["name"],
        "value"
    );
}

#[test]
fn packaging_the_example_uses_the_default_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let wasm_dir = work.join("target");
    ok(&cambium(&[
        "contract",
        "build",
        s(&repo().join("contracts/asset-transfer")),
        "--target-dir",
        s(&wasm_dir),
    ]));
    let wasm = wasm_dir.join("wasm32-unknown-unknown/release/asset_transfer.wasm");
    let output = Command::new(env!("CARGO_BIN_EXE_cambium"))
        .args(["contract", "package", s(&wasm), "--label", "basic"])
        .current_dir(work)
        .output()
        .unwrap();
    let id = ok(&output);
    let pkg = std::fs::read(work.join("basic.tar.gz")).unwrap();
    assert_eq!(id.trim(), format!("basic:{}", sha256_hex(&pkg)));
    // Packaging is reproducible.
    let again = ok(&cambium(&[
        "contract",
        "package",
        s(&wasm),
        "--label",
        "basic",
        "--out",
        s(&work.join("b2.tar.gz")),
    ]));
    assert_eq!(again, id);
    let report: serde_json::Value = serde_json::from_str(&ok(&cambium(&[
        "contract",
        "inspect",
        s(&work.join("basic.tar.gz")),
    ])))
    .unwrap();
    assert_eq!(report["manifest"]["functions"].as_array().unwrap().len(), 8);
    assert_eq!(
        report["wasm_sha256"],
        sha256_hex(&std::fs::read(&wasm).unwrap())
    );
}

#[test]
fn bad_inputs_are_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    let err = failed(&cambium(&[
        "contract",
        "package",
        s(&junk),
        "--label",
        "x",
        "--out",
        s(&dir.path().join("x.tgz")),
    ]));
    assert!(err.contains("not a WebAssembly module"), "{err}");

    let err = failed(&cambium(&["contract", "inspect", s(&junk)]));
    assert!(err.contains("is not a contract package"), "{err}");

    let err = failed(&cambium(&["contract", "build", s(dir.path())]));
    assert!(
        err.contains("is not a contract crate") || err.contains("no Rust toolchain"),
        "{err}"
    );

    let err = failed(&cambium(&[
        "contract",
        "new",
        "9lives",
        "--dir",
        s(dir.path()),
    ]));
    assert!(err.contains("not a valid crate name"), "{err}");

    let wasm = dir.path().join("ok.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let err = failed(&cambium(&[
        "contract",
        "package",
        s(&wasm),
        "--label",
        "bad label",
        "--out",
        s(&dir.path().join("y.tgz")),
    ]));
    assert!(
        err.contains("does not export") || err.contains("label"),
        "{err}"
    );
}
