//! Tests of `cambium channel …`: genesis from the sample YAML, inspect, errors.

use std::path::Path;

use crate::support::{cambium, path_arg as arg, stderr, stdout};

/// A folder with the default network's crypto material and the sample channel YAML.
fn network() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = cambium(&[
        "crypto",
        "generate",
        "--out",
        arg(&dir.path().join("crypto")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sample = cambium(&["channel", "default-config"]);
    assert!(sample.status.success(), "{}", stderr(&sample));
    std::fs::write(dir.path().join("channel.yaml"), sample.stdout).unwrap();
    dir
}

#[test]
fn genesis_writes_a_block_that_inspect_shows() {
    let dir = network();
    let yaml = dir.path().join("channel.yaml");
    let block = dir.path().join("genesis.block");
    let genesis = |out: &Path| {
        cambium(&[
            "channel",
            "genesis",
            "--config",
            arg(&yaml),
            "--out",
            arg(out),
            "--channel-id",
            "trade",
            "--timestamp",
            "1700000000",
        ])
    };
    let first = genesis(&block);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("channel trade"),
        "{}",
        stdout(&first)
    );
    let again = dir.path().join("again.block");
    assert!(genesis(&again).status.success());
    assert_eq!(
        std::fs::read(&block).unwrap(),
        std::fs::read(&again).unwrap(),
        "the same config and timestamp give the same bytes"
    );

    let text = cambium(&["channel", "inspect", arg(&block)]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    for fragment in [
        "Config block 0",
        "Channel trade (config sequence 0)",
        "application  Org1MSP (MSP Org1MSP), anchor peers peer0.org1.example.com:7051",
        "orderer      OrdererMSP (MSP OrdererMSP), endpoints orderer.example.com:7050",
        "consenters   orderer.example.com:7050",
        "timeout 2s, max 10 messages",
        "/Channel/Application/Org1MSP/Endorsement",
        "OR('Org1MSP.peer')",
        "/Channel/Application/RolloutAbort",
        "ANY Admins",
    ] {
        assert!(text.contains(fragment), "missing {fragment:?} in:\n{text}");
    }

    let json = cambium(&["channel", "inspect", arg(&block), "--json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let json: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(json["number"], 0);
    assert_eq!(json["timestamp"], 1_700_000_000);
    assert_eq!(json["config"]["channel_id"], "trade");
    assert_eq!(json["config"]["orderer"]["preferred_max_bytes"], 512 * 1024);
    let endorsement = json["config"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "/Channel/Application/Endorsement")
        .unwrap();
    assert_eq!(endorsement["type"], "ImplicitMeta");
    assert_eq!(endorsement["rule"], "MAJORITY Endorsement");
}

#[test]
fn bad_yaml_and_bad_blocks_are_reported() {
    let dir = network();
    let yaml = dir.path().join("channel.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        text.replacen(
            "Rule: \"OR('Org2MSP.peer')\"",
            "Rule: \"OR('Org2MSP.peer',)\"",
            1,
        ),
    )
    .unwrap();
    let out = cambium(&[
        "channel",
        "genesis",
        "--config",
        arg(&yaml),
        "--out",
        arg(&dir.path().join("x.block")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("/Channel/Application/Org2MSP/Endorsement") && err.contains("column"),
        "{err}"
    );
    assert!(!dir.path().join("x.block").exists());

    let junk = dir.path().join("junk.block");
    std::fs::write(&junk, b"not a block").unwrap();
    let out = cambium(&["channel", "inspect", arg(&junk)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a config block"),
        "{}",
        stderr(&out)
    );
}
