//! Independent bytes: messages built and signed by the official Fabric Node libraries verify in
//! Cambium, and messages built and signed by Cambium verify in Node.
//!
//! The Node side is `clients/node/interop.js`, which uses only `@hyperledger/fabric-gateway`,
//! `@hyperledger/fabric-protos` and Node's own crypto. `scripts/setup` installs those packages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use cambium_cryptogen::GeneratedNetwork;
use cambium_msp::{load_signing_identity, MspConfig, MspManager};
use cambium_primitives::{HeaderType, Timestamp};
use cambium_testing::workspace_root;
use cambium_wire::tx::{self, ChannelHeaderFields};

fn node_script() -> PathBuf {
    let dir = workspace_root().join("clients/node");
    assert!(
        dir.join("node_modules/@hyperledger/fabric-gateway")
            .is_dir(),
        "the Fabric Gateway client for Node is not installed in {}; run scripts/setup",
        dir.display()
    );
    dir.join("interop.js")
}

fn node(args: &[&str]) -> Output {
    Command::new("node")
        .arg(node_script())
        .args(args)
        .output()
        .expect("node runs (install Node.js 20 or later)")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn network(dir: &Path) -> GeneratedNetwork {
    cambium_testing::default_crypto(dir)
}

fn channel_msps(net: &GeneratedNetwork) -> MspManager {
    let configs: Vec<MspConfig> = net
        .peer_orgs()
        .map(|org| MspConfig::from_dir(&org.msp_dir, &org.msp_id).expect("org MSP folder loads"))
        .collect();
    MspManager::from_configs(&configs).expect("channel MSPs build")
}

/// Has the Fabric Gateway client build and sign a proposal as `identity` of `msp_id`; returns
/// the SignedProposal bytes and the JSON summary the script printed.
fn sign_proposal_in_node(
    dir: &Path,
    identity: &cambium_cryptogen::Identity,
    msp_id: &str,
    function: &str,
    args: &[&str],
    transient: &[&str],
) -> (Vec<u8>, serde_json::Value) {
    let out = dir.join(format!("{function}.proposal"));
    let mut cmd: Vec<&str> = vec![
        "sign-proposal",
        "--cert",
        identity.cert.to_str().unwrap(),
        "--key",
        identity.key.to_str().unwrap(),
        "--msp-id",
        msp_id,
        "--channel",
        "mychannel",
        "--chaincode",
        "basic",
        "--function",
        function,
        "--out",
        out.to_str().unwrap(),
    ];
    for arg in args {
        cmd.extend(["--arg", arg]);
    }
    for kv in transient {
        cmd.extend(["--transient", kv]);
    }
    let output = node(&cmd);
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = serde_json::from_slice(&output.stdout).expect("node printed a JSON summary");
    (std::fs::read(&out).unwrap(), summary)
}

#[test]
fn a_proposal_signed_by_the_fabric_gateway_client_verifies_in_cambium() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(&tmp.path().join("crypto"));
    let org1 = net.org("Org1MSP").expect("Org1MSP generated");
    let user = &org1.users[1];
    let (bytes, summary) = sign_proposal_in_node(
        tmp.path(),
        user,
        "Org1MSP",
        "CreateAsset",
        &["asset1", "blue"],
        &["secret=hush"],
    );
    let view =
        tx::parse_signed_proposal(&bytes).expect("Cambium decodes the client's SignedProposal");
    assert_eq!(view.channel_header.tx_id, summary["txId"].as_str().unwrap());
    assert_eq!(
        view.channel_header.tx_id,
        view.expected_tx_id(),
        "tx_id = SHA-256(nonce ‖ creator)"
    );
    assert_eq!(
        view.channel_header.known_header_type(),
        Some(HeaderType::EndorserTransaction)
    );
    assert_eq!(view.channel_header.channel_id, "mychannel");
    assert_eq!(view.channel_header.epoch, 0);
    assert_eq!(view.chaincode_name.as_deref(), Some("basic"));
    assert_eq!(view.nonce.len(), tx::NONCE_SIZE);
    let args: Vec<&[u8]> = view.args.iter().map(Vec::as_slice).collect();
    assert_eq!(args, [&b"CreateAsset"[..], b"asset1", b"blue"]);
    assert_eq!(
        view.transient.get("secret").map(Vec::as_slice),
        Some(&b"hush"[..])
    );

    // The creator is a valid Org1 client and its signature over proposal_bytes verifies.
    let msps = channel_msps(&net);
    let creator = view
        .creator
        .clone()
        .expect("the proposal names its creator");
    assert_eq!(creator.msp_id, "Org1MSP");
    assert_eq!(
        creator.id_bytes,
        std::fs::read(&user.cert).unwrap(),
        "PEM bytes as supplied"
    );
    let identity = msps
        .validate(&creator, now())
        .expect("creator validates against Org1MSP");
    identity
        .verify(&view.proposal_bytes, &view.signature)
        .expect("the client's signature verifies");

    // The same signature over different bytes does not verify, and the identity is not Org2's.
    let mut tampered = view.proposal_bytes.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(identity.verify(&tampered, &view.signature).is_err());
    let mut as_org2 = creator.clone();
    as_org2.msp_id = "Org2MSP".into();
    let err = msps.validate(&as_org2, now()).unwrap_err().to_string();
    assert!(err.contains("Org2MSP"), "error names the MSP: {err}");
}

/// Builds an endorser-transaction-shaped envelope signed by `signer`, as a Cambium client would.
fn cambium_envelope(net: &GeneratedNetwork) -> (Vec<u8>, String) {
    let org2 = net.org("Org2MSP").expect("Org2MSP generated");
    let admin = org2.admin();
    let signer = load_signing_identity(&admin.msp_dir, "Org2MSP").expect("admin identity loads");
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let nonce: Vec<u8> = (0..tx::NONCE_SIZE as u8).collect();
    let tx_id = tx::compute_tx_id(&nonce, &creator);
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::EndorserTransaction.as_i32(),
        version: 0,
        timestamp: Some(Timestamp {
            seconds: now(),
            nanos: 0,
        }),
        channel_id: "mychannel".into(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: tx::chaincode_header_extension_bytes("basic"),
        tls_cert_hash: Vec::new(),
    }
    .encode();
    let signature_header = tx::signature_header_bytes(&creator, &nonce);
    let payload = tx::payload_bytes(&channel_header, &signature_header, b"transaction data");
    let signature = signer.sign(&payload).expect("signing works");
    (tx::envelope_bytes(&payload, &signature), tx_id)
}

#[test]
fn an_envelope_signed_by_cambium_verifies_in_node() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(&tmp.path().join("crypto"));
    let (envelope, tx_id) = cambium_envelope(&net);
    let path = tmp.path().join("envelope.bin");
    std::fs::write(&path, &envelope).unwrap();

    let output = node(&["verify-envelope", "--in", path.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "node printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(
        output.status.success(),
        "node rejected the envelope: {report}"
    );
    assert_eq!(report["ok"], true);
    assert_eq!(report["mspId"], "Org2MSP");
    assert_eq!(report["channelId"], "mychannel");
    assert_eq!(report["txId"], tx_id.as_str());
    assert_eq!(report["type"], 3);

    // Node's check is real: one flipped payload byte fails it.
    let view = tx::parse_envelope(&envelope).unwrap();
    let mut payload = view.payload_bytes.clone();
    let last = payload.len() - 1;
    payload[last] ^= 0x01;
    std::fs::write(&path, tx::envelope_bytes(&payload, &view.signature)).unwrap();
    let output = node(&["verify-envelope", "--in", path.to_str().unwrap()]);
    assert!(
        !output.status.success(),
        "a tampered envelope must not verify in Node"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let failures = report["failures"].to_string();
    assert!(failures.contains("does not verify"), "{failures}");
}

#[test]
fn transient_data_never_reaches_the_proposal_hash() {
    // Two client-built proposals that differ only in transient data hash alike once the
    // transient map is stripped, as Fabric's validator recomputes it.
    let tmp = tempfile::tempdir().unwrap();
    let net = network(&tmp.path().join("crypto"));
    let user = &net.org("Org1MSP").unwrap().users[1];
    let (bytes, _) = sign_proposal_in_node(
        tmp.path(),
        user,
        "Org1MSP",
        "ReadAsset",
        &["asset1"],
        &["k=v"],
    );
    let view = tx::parse_signed_proposal(&bytes).unwrap();
    assert!(!view.transient.is_empty());
    let without = view.payload_without_transient();
    assert_ne!(
        without, view.payload_bytes,
        "the client's payload carries transient data"
    );
    let reparsed = tx::proposal_hash(
        &view.channel_header_bytes,
        &view.signature_header_bytes,
        &tx::chaincode_proposal_payload_bytes(&view.input_bytes, &BTreeMap::new()),
    );
    assert_eq!(view.proposal_hash(), reparsed);
}
