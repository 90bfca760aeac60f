//! Proposals the endorser refuses, each with Fabric's status and message.

use std::sync::Arc;

use cambium_endorser::{EndorserError, ProposalResponse, StaticRegistry};
use cambium_vm::{Vm, VmConfig};
use cambium_wire::tx::{parse_signed_proposal, signed_proposal_bytes};

use crate::support::{check_encoding, endorser, net, proposal, proposal_with, transaction, Peer};

/// Asserts a refusal: `Response{status, message containing each of needles}`, nothing else.
fn check(response: &ProposalResponse, status: i32, needles: &[&str]) {
    assert_eq!(response.response.status, status, "{:?}", response.response);
    for needle in needles {
        assert!(
            response.response.message.contains(needle),
            "message {:?} lacks {needle:?}",
            response.response.message
        );
    }
    assert!(response.endorsement.is_none());
    check_encoding(response);
}

fn refused(response: &ProposalResponse, needles: &[&str]) {
    check(response, 500, needles);
    assert!(response.payload.is_empty());
}

#[test]
fn unsigned_and_badly_signed_proposals() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "a", "b"], 20);
    let view = parse_signed_proposal(&signed).unwrap();

    let unsigned = signed_proposal_bytes(&view.proposal_bytes, &[]);
    refused(
        &peer.org1.process_proposal(&unsigned).unwrap(),
        &["error validating proposal: empty signature bytes"],
    );

    // Signed by Org2's client while claiming to be Org1's.
    let forged = signed_proposal_bytes(
        &view.proposal_bytes,
        &n.org2_client.sign(&view.proposal_bytes).unwrap(),
    );
    refused(
        &peer.org1.process_proposal(&forged).unwrap(),
        &[
            "error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]",
            "signature",
        ],
    );

    refused(
        &peer.org1.process_proposal(b"not a proposal").unwrap(),
        &["error unpacking proposal"],
    );
}

#[test]
fn unknown_msp_foreign_ca_and_clients_outside_writers() {
    let peer = Peer::new();
    let n = net();
    refused(
        &peer
            .org1
            .process_proposal(&proposal(
                &n.unknown_msp_client,
                "kv",
                &["put", "a", "b"],
                21,
            ))
            .unwrap(),
        &["access denied: channel [mychannel] creator org [Org9MSP]"],
    );
    refused(
        &peer
            .org1
            .process_proposal(&proposal(&n.foreign_client, "kv", &["put", "a", "b"], 22))
            .unwrap(),
        &["access denied: channel [mychannel] creator org [Org1MSP]"],
    );
    // A peer is a valid Org1 member but not in Writers (admins and clients only).
    let as_peer = proposal(&n.org1_peer, "kv", &["put", "a", "b"], 23);
    refused(
        &peer.org1.process_proposal(&as_peer).unwrap(),
        &[
            "access denied: channel [mychannel] creator org [Org1MSP]",
            "/Channel/Application/Writers",
        ],
    );
}

#[test]
fn header_checks_in_fabric_order() {
    let peer = Peer::new();
    let n = net();
    // A transaction ID that is not SHA-256(nonce ‖ creator): build_proposal always computes
    // the right one, so replace it in the signed bytes (it is stored as text) and re-sign.
    let signed = proposal(&n.org1_client, "kv", &["put", "a", "b"], 24);
    let view = parse_signed_proposal(&signed).unwrap();
    let good_id = view.channel_header.tx_id;
    let bad_id = format!("00000000{}", &good_id[8..]);
    let mut bytes = view.proposal_bytes;
    let at = bytes
        .windows(good_id.len())
        .position(|w| w == good_id.as_bytes())
        .expect("the tx id is in the header bytes");
    bytes[at..at + good_id.len()].copy_from_slice(bad_id.as_bytes());
    let resigned = signed_proposal_bytes(&bytes, &n.org1_client.sign(&bytes).unwrap());
    refused(
        &peer.org1.process_proposal(&resigned).unwrap(),
        &[&format!(
            "error validating proposal: incorrectly computed txid '{bad_id}' -- expected '{good_id}'"
        )],
    );

    refused(
        &peer
            .org1
            .process_proposal(&proposal_with(
                &n.org1_client,
                "otherchannel",
                "kv",
                &["put", "a", "b"],
                26,
                |_| {},
            ))
            .unwrap(),
        &["channel 'otherchannel' not found"],
    );
    refused(
        &peer
            .org1
            .process_proposal(&proposal_with(
                &n.org1_client,
                "mychannel",
                "kv",
                &["x"],
                27,
                |p| {
                    p.nonce.clear();
                },
            ))
            .unwrap(),
        &["error validating proposal: nonce is empty"],
    );
    refused(
        &peer
            .org1
            .process_proposal(&proposal(&n.org1_client, "", &["put"], 28))
            .unwrap(),
        &["ChaincodeHeaderExtension.ChaincodeId.Name is empty"],
    );
    refused(
        &peer
            .org1
            .process_proposal(&proposal(&n.org1_client, "kv", &[], 29))
            .unwrap(),
        &["chaincode input did not contain any input"],
    );
}

#[test]
fn duplicate_transaction_ids_are_refused() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "d", "1"], 30);
    let r1 = peer.org1.process_proposal(&signed).unwrap();
    let r2 = peer.org2.process_proposal(&signed).unwrap();
    peer.commit(vec![transaction(&n.org1_client, &signed, &[&r1, &r2])]);
    let tx_id = parse_signed_proposal(&signed).unwrap().channel_header.tx_id;
    refused(
        &peer.org1.process_proposal(&signed).unwrap(),
        &[&format!("duplicate transaction found [{tx_id}]. Creator [")],
    );
}

#[test]
fn unknown_contracts_and_contract_errors() {
    let peer = Peer::new();
    let n = net();
    refused(
        &peer
            .org1
            .process_proposal(&proposal(&n.org1_client, "nosuch", &["put"], 40))
            .unwrap(),
        &["error in simulation: make sure the chaincode nosuch has been successfully defined on channel mychannel and try again"],
    );

    // A contract error below 500: the response only, no payload.
    let bad_call = peer
        .org1
        .process_proposal(&proposal(&n.org1_client, "kv", &["nosuchfunction"], 41))
        .unwrap();
    assert!(
        (400..500).contains(&bad_call.response.status),
        "{:?}",
        bad_call.response
    );
    check(&bad_call, bad_call.response.status, &[]);
    assert!(bad_call.payload.is_empty());

    // A contract error of 500: the response and the payload, no endorsement.
    let missing = peer
        .org1
        .process_proposal(&proposal(
            &n.org1_client,
            "basic",
            &["ReadAsset", "nope"],
            42,
        ))
        .unwrap();
    check(&missing, 500, &["the asset nope does not exist"]);
    let prp = cambium_wire::tx::parse_proposal_response_payload(&missing.payload)
        .expect("a 500 response carries the payload");
    assert_eq!(prp.action.response.unwrap().status, 500);
}

#[test]
fn running_out_of_fuel_is_a_deterministic_500() {
    let n = net();
    let vm = Arc::new(
        Vm::new(VmConfig {
            fuel: 200_000,
            ..VmConfig::default()
        })
        .unwrap(),
    );
    let kv = Arc::new(vm.install(&std::fs::read(kv_wasm_path()).unwrap()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(cambium_ledger::Ledger::open(dir.path()).unwrap());
    let e = endorser(
        vm,
        Arc::clone(&n.org1_peer),
        ledger,
        StaticRegistry::new().with("kv", "1.0", kv),
    );
    let signed = proposal(&n.org1_client, "kv", &["put_many", "p", "10000", "v"], 50);
    let first = e.process_proposal(&signed).unwrap();
    refused(&first, &["error in simulation: out of fuel"]);
    assert_eq!(e.process_proposal(&signed).unwrap(), first);
}

#[test]
fn expired_clients_fail_the_call_like_fabrics_filter() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "a", "b"], 60);
    let after = n.org1_client.certificate().not_after() + 1;
    let err = peer.org1.process_proposal_at(&signed, after).unwrap_err();
    assert!(
        matches!(err, EndorserError::IdentityExpired { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("proposal client identity expired"));
}

fn kv_wasm_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/kv");
    cambium_vm::toolchain::build(&dir, &target.join("contract-wasm")).unwrap()
}
