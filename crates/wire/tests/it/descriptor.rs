//! Cambium's descriptors against Fabric's, via the Python check in
//! `tests/fabric_descriptor_compat.py` (Fabric's descriptors come from PyPI's
//! `hyperledger-fabric-protos`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cambium_wire::Message;
use prost_types::{DescriptorProto, FileDescriptorSet};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fabric_descriptor_compat.py")
}

/// Runs the check on `descriptor_set`, failing the test with advice if Python cannot run it.
fn run_check(descriptor_set: &[u8]) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("cambium_descriptor.bin");
    std::fs::write(&path, descriptor_set).expect("write descriptor set");
    let output = Command::new("python3").arg(script()).arg(&path).output().unwrap_or_else(|e| {
        panic!("cannot run python3 ({e}); install Python 3, then run `pip install --pre hyperledger-fabric-protos`")
    });
    assert_ne!(
        output.status.code(),
        Some(2),
        "Fabric's descriptors are not available: {}{}\nrun `pip install --pre hyperledger-fabric-protos`",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_message_enum_and_service_matches_fabric() {
    let output = run_check(cambium_wire::FILE_DESCRIPTOR_SET);
    let report = text(&output);
    assert!(
        output.status.success(),
        "Cambium's protobuf definitions differ from Fabric's:\n{report}"
    );
    assert!(
        report.contains(": 0 mismatches"),
        "unexpected report:\n{report}"
    );
    // Cambium's own extension package is compiled but not compared: Fabric does not have it.
    assert!(
        report.contains(
            "skipped Cambium extension files (package cambium.*): cambium/lifecycle.proto"
        ),
        "unexpected report:\n{report}"
    );
}

#[test]
fn the_check_reports_a_wrong_field_number_and_an_unknown_message() {
    let mut set =
        FileDescriptorSet::decode(cambium_wire::FILE_DESCRIPTOR_SET).expect("valid descriptor set");
    let common = set
        .file
        .iter_mut()
        .find(|f| f.name() == "common/common.proto")
        .expect("common/common.proto is compiled");
    let header = common
        .message_type
        .iter_mut()
        .find(|m| m.name() == "ChannelHeader")
        .expect("ChannelHeader is defined");
    let tx_id = header
        .field
        .iter_mut()
        .find(|f| f.name() == "tx_id")
        .expect("tx_id field");
    tx_id.number = Some(15);
    common.message_type.push(DescriptorProto {
        name: Some("NotInFabric".into()),
        ..Default::default()
    });

    let output = run_check(&set.encode_to_vec());
    let report = text(&output);
    assert!(
        !output.status.success(),
        "a tampered descriptor set passed:\n{report}"
    );
    assert!(
        report.contains(".common.ChannelHeader: field 15 (tx_id) is not in Fabric"),
        "{report}"
    );
    assert!(
        report.contains(".common.ChannelHeader: Fabric's field 5 (tx_id) is missing"),
        "{report}"
    );
    assert!(
        report.contains("message .common.NotInFabric is not defined by Fabric"),
        "{report}"
    );
}

#[test]
fn the_check_fails_with_advice_when_python_lacks_the_packages() {
    // `-S` hides site-packages, where protobuf and Fabric's descriptors are installed.
    let output = Command::new("python3")
        .arg("-S")
        .arg(script())
        .arg("unused.bin")
        .output()
        .expect("python3 runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("pip install --pre hyperledger-fabric-protos"),
        "{}",
        text(&output)
    );
}
