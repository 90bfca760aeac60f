//! Repository invariants that a test can enforce (in the spirit of rust-analyzer's tidy test).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cambium_testing::workspace_root;

/// Crates that may depend on protobuf and gRPC code generation and runtime.
/// No other crate may be added here.
const PROTOBUF_CRATES: &[&str] = &["cambium-wire"];
/// Dependencies that mean "this crate knows protobuf".
const PROTOBUF_DEPS: &[&str] = &[
    "prost",
    "prost-types",
    "tonic-prost",
    "tonic-prost-build",
    "protox",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "target" && name != "node_modules" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc_comment() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("bin"), &mut files);
    assert!(
        !files.is_empty(),
        "no Rust files found under {}",
        root.display()
    );
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = fs::read_to_string(path).expect("readable source file");
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            !first.starts_with("//!") && !first.starts_with("#![")
        })
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files do not start with a `//!` comment saying what they are for:\n  {}",
        offenders.join("\n  ")
    );
}

/// Direct normal and build dependencies of every workspace package, by package name.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let mut deps = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages array") {
        let name = package["name"].as_str().expect("package name").to_string();
        let names = package["dependencies"]
            .as_array()
            .expect("dependencies array")
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .map(|d| d["name"].as_str().expect("dependency name").to_string())
            .collect();
        deps.insert(name, names);
    }
    deps
}

#[test]
fn only_cambium_wire_knows_protobuf() {
    let deps = workspace_dependencies();
    assert!(
        deps.contains_key("cambium-wire"),
        "the workspace has no cambium-wire"
    );
    let offenders: Vec<String> = deps
        .iter()
        .filter(|(name, _)| !PROTOBUF_CRATES.contains(&name.as_str()))
        .flat_map(|(name, ds)| {
            ds.iter()
                .filter(|d| PROTOBUF_DEPS.contains(&d.as_str()))
                .map(move |d| format!("{name} depends on {d}"))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "only cambium-wire may depend on protobuf crates; use cambium-wire's conversions instead:\n  {}",
        offenders.join("\n  ")
    );
}

/// Every workspace crate reachable from `from` through normal dependencies.
fn reachable(deps: &BTreeMap<String, Vec<String>>, from: &str) -> Vec<String> {
    let mut seen = vec![from.to_string()];
    let mut i = 0;
    while i < seen.len() {
        if let Some(ds) = deps.get(&seen[i]) {
            for d in ds {
                if deps.contains_key(d) && !seen.contains(d) {
                    seen.push(d.clone());
                }
            }
        }
        i += 1;
    }
    seen
}

#[test]
fn the_validator_never_executes_contract_code() {
    let deps = workspace_dependencies();
    if let Some(validator) = deps.keys().find(|n| n.as_str() == "cambium-validator") {
        let reach = reachable(&deps, validator);
        assert!(
            !reach.iter().any(|c| c == "cambium-vm"),
            "cambium-validator reaches cambium-vm through {reach:?}; validation must not run contracts"
        );
    }
    // The check itself must see the graph: the binary reaches the library crates.
    let from_bin = reachable(&deps, "cambium");
    assert!(
        from_bin.iter().any(|c| c == "cambium-cryptogen"),
        "dependency walk is broken: {from_bin:?}"
    );
}
