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

/// Kills the orderer process when the test ends, pass or fail.
struct Orderer(std::process::Child);

impl Drop for Orderer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs a block to the channel participation API; returns the HTTP status line.
fn join(admin_port: u16, block: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", admin_port)).unwrap();
    let head = format!(
        "POST /participation/v1/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        block.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(block).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_string()
}

fn start_orderer(dir: &Path, grpc: u16, admin: u16) -> Orderer {
    let config = dir.join("orderer.yaml");
    std::fs::write(
        &config,
        format!(
            "listenAddress: 127.0.0.1:{grpc}\nadminListenAddress: 127.0.0.1:{admin}\ndataDir: data\nmsp:\n  dir: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/msp\n  id: OrdererMSP\n"
        ),
    )
    .unwrap();
    let log_path = dir.join("orderer.log");
    let ready_lines = || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .matches("orderer listening")
            .count()
    };
    let before = ready_lines();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("orderer.log"))
        .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cambium"))
        .args(["orderer", "start", "--config", arg(&config)])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Ready once it says so (after reopening its channels) and its admin port answers.
    while ready_lines() == before || std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the orderer did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Orderer(child)
}

#[test]
fn update_with_signatures_collected_by_signconfigtx_changes_a_running_channel() {
    let dir = network();
    let (grpc, admin) = (free_port(), free_port());
    // The sample channel with its one consenter on loopback.
    let sample = std::fs::read_to_string(dir.path().join("channel.yaml")).unwrap();
    let yaml = sample
        .replace("Host: orderer.example.com", "Host: 127.0.0.1")
        .replace("Port: 7050", &format!("Port: {grpc}"));
    std::fs::write(dir.path().join("channel.yaml"), &yaml).unwrap();
    let block = dir.path().join("genesis.block");
    let out = cambium(&[
        "channel",
        "genesis",
        "--config",
        arg(&dir.path().join("channel.yaml")),
        "--out",
        arg(&block),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let orderer = start_orderer(dir.path(), grpc, admin);
    let status = join(admin, &std::fs::read(&block).unwrap());
    assert!(status.contains("201"), "{status}");

    let crypto = dir.path().join("crypto");
    let admin_msp = |org: &str, domain: &str| {
        crypto
            .join(format!("{org}/{domain}/users/Admin@{domain}/msp"))
            .display()
            .to_string()
    };
    let org1 = admin_msp("peerOrganizations", "org1.example.com");
    let org2 = admin_msp("peerOrganizations", "org2.example.com");
    let orderer_admin = admin_msp("ordererOrganizations", "example.com");
    let address = format!("127.0.0.1:{grpc}");

    // The new config: a shorter batch timeout (an orderer admin's call) and a looser
    // application endorsement policy (a majority of the application orgs' admins).
    let updated = yaml
        .replace("BatchTimeout: 2s", "BatchTimeout: 250ms")
        .replacen(
            "    Endorsement:\n      Type: ImplicitMeta\n      Rule: \"MAJORITY Endorsement\"",
            "    Endorsement:\n      Type: ImplicitMeta\n      Rule: \"ANY Endorsement\"",
            1,
        );
    assert_ne!(updated, yaml);
    std::fs::write(dir.path().join("updated.yaml"), &updated).unwrap();
    let file = dir.path().join("update.tx");
    let out = cambium(&[
        "channel",
        "update",
        "--channel",
        "mychannel",
        "--orderer",
        &address,
        "--config",
        arg(&dir.path().join("updated.yaml")),
        "--signer",
        &format!("Org1MSP={org1}"),
        "--out",
        arg(&file),
    ]);
    assert!(
        out.status.success(),
        "{}\norderer log:\n{}",
        stderr(&out),
        std::fs::read_to_string(dir.path().join("orderer.log")).unwrap_or_default()
    );
    assert!(stdout(&out).contains("1 signature(s)"), "{}", stdout(&out));

    // Org2's admin signs (MSP ID given separately); the orderer admin is still missing.
    let out = cambium(&[
        "channel",
        "signconfigtx",
        arg(&file),
        "--signer",
        &org2,
        "--msp-id",
        "Org2MSP",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 signature(s)"), "{}", stdout(&out));
    let submit = |json: bool| {
        let mut args = vec![
            "channel",
            "update",
            "--channel",
            "mychannel",
            "--orderer",
            &address,
            "--file",
            arg(&file),
            "--identity",
        ];
        let identity = format!("Org1MSP={org1}");
        args.push(&identity);
        if json {
            args.push("--json");
        }
        cambium(&args)
    };
    let refused = submit(false);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("/Channel/Orderer/Admins"),
        "{}",
        stderr(&refused)
    );

    let out = cambium(&[
        "channel",
        "signconfigtx",
        arg(&file),
        "--signer",
        &format!("OrdererMSP={orderer_admin}"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["signatures"], 3);

    let out = submit(true);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(v["block"], 1, "{v}");
    assert_eq!(v["sequence"], 1, "{v}");
    assert_eq!(v["batchTimeout"], "250ms", "{v}");

    // An edit flag with the signer's MSP found from the channel config, after a restart of
    // the orderer: the update is computed from the config block 1 it keeps.
    drop(orderer);
    let _orderer = start_orderer(dir.path(), grpc, admin);
    let out = cambium(&[
        "channel",
        "update",
        "--channel",
        "mychannel",
        "--orderer",
        &address,
        "--max-message-count",
        "3",
        "--signer",
        &orderer_admin,
        "--identity",
        &format!("Org1MSP={org1}"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Fetched config block 1"), "{text}");
    assert!(
        text.contains(
            "config block 2, sequence 2 (batch timeout 250ms, max message count 3, organisations Org1MSP, Org2MSP)"
        ),
        "{text}"
    );
}
