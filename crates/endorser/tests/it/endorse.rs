//! Endorsed proposals: the payload's shape, the signature, agreement between two endorsers, and
//! a validator accepting the transaction built from their endorsements.

use cambium_ledger::{SnapshotSource, StateReader};
use cambium_primitives::{ChaincodeEvent, Version};
use cambium_wire::decode_serialized_identity;
use cambium_wire::tx::{
    endorsement_message, parse_proposal_response_payload, parse_signed_proposal,
};

use crate::support::{check_encoding, net, proposal, transaction, Peer, CHANNEL};

#[test]
fn a_valid_proposal_is_endorsed_and_the_endorsement_verifies() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "colour", "blue"], 1);
    let response = peer.org1.process_proposal(&signed).expect("processed");
    assert_eq!(response.response.status, 200, "{:?}", response.response);
    check_encoding(&response);

    let endorsement = response.endorsement.clone().expect("endorsed");
    assert_eq!(endorsement.endorser, peer.org1.endorser_identity());
    let endorser = decode_serialized_identity(&endorsement.endorser).expect("identity");
    assert_eq!(endorser.msp_id, "Org1MSP");
    let identity = n
        .config
        .msp_manager()
        .validate(&endorser, n.org1_peer.certificate().not_before() + 60)
        .expect("the endorser is a valid Org1 identity");
    identity
        .verify(
            &endorsement_message(&response.payload, &endorsement.endorser),
            &endorsement.signature,
        )
        .expect("the endorsement signature verifies");

    let view = parse_signed_proposal(&signed).expect("proposal parses");
    let prp = parse_proposal_response_payload(&response.payload).expect("PRP decodes");
    assert_eq!(prp.proposal_hash, view.proposal_hash());
    let id = prp.action.chaincode_id.clone().expect("chaincode id");
    assert_eq!((id.name.as_str(), id.version.as_str()), ("kv", "1.0"));
    assert_eq!(prp.action.response.as_ref(), Some(&response.response));
    let rwset = prp.action.rwset().expect("rwset decodes");
    let kv = rwset.namespace("kv").expect("kv namespace");
    assert_eq!(kv.writes.len(), 1);
    assert_eq!(kv.writes[0].key, "colour");
    assert_eq!(kv.writes[0].value, b"blue");
    assert!(prp.action.event().expect("event decodes").is_none());
}

#[test]
fn two_endorsers_agree_and_the_validator_accepts_their_transaction() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "k", "v1"], 2);
    let r1 = peer.org1.process_proposal(&signed).expect("org1");
    let r2 = peer.org2.process_proposal(&signed).expect("org2");
    assert!(r1.is_endorsed() && r2.is_endorsed());
    assert_eq!(r1.payload, r2.payload, "PRPs must be byte-identical");
    assert_ne!(r1.endorsement, r2.endorsement);

    let (validation, _) = peer.commit(vec![transaction(&n.org1_client, &signed, &[&r1, &r2])]);
    assert!(
        validation.transactions[0].code.is_valid(),
        "{validation:#?}"
    );
    let stored = peer
        .ledger
        .snapshot()
        .unwrap()
        .get_state("kv", "k")
        .unwrap()
        .expect("committed");
    assert_eq!(stored.value, b"v1");
    assert_eq!(stored.version, Version::new(0, 0));

    // The next simulation reads the committed value through the snapshot, with its version.
    let read = proposal(&n.org2_client, "kv", &["incr", "counter"], 3);
    let r = peer.org1.process_proposal(&read).expect("incr");
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    let get = proposal(&n.org2_client, "kv", &["get", "k"], 4);
    let r = peer.org2.process_proposal(&get).expect("get");
    assert_eq!(r.response.payload, b"v1");
    let rwset = parse_proposal_response_payload(&r.payload)
        .unwrap()
        .action
        .rwset()
        .unwrap();
    let reads = &rwset.namespace("kv").expect("kv").reads;
    assert_eq!(reads[0].version, Some(Version::new(0, 0)));

    // A transaction with a single endorsement fails the AND policy: the validator is a real judge.
    let lone = proposal(&n.org1_client, "kv", &["put", "k", "v2"], 5);
    let r1 = peer.org1.process_proposal(&lone).expect("org1");
    let (validation, _) = peer.commit(vec![transaction(&n.org1_client, &lone, &[&r1])]);
    assert_eq!(
        validation.transactions[0].code,
        cambium_primitives::TxValidationCode::EndorsementPolicyFailure
    );
}

#[test]
fn asset_transfer_events_carry_the_contract_name_and_tx_id() {
    let peer = Peer::new();
    let n = net();
    let init = proposal(&n.org1_client, "basic", &["InitLedger"], 10);
    let r1 = peer.org1.process_proposal(&init).unwrap();
    let r2 = peer.org2.process_proposal(&init).unwrap();
    let (validation, _) = peer.commit(vec![transaction(&n.org1_client, &init, &[&r1, &r2])]);
    assert!(
        validation.transactions[0].code.is_valid(),
        "{validation:#?}"
    );

    let transfer = proposal(
        &n.org2_client,
        "basic",
        &["TransferAsset", "asset1", "Christopher"],
        11,
    );
    let r1 = peer.org1.process_proposal(&transfer).unwrap();
    let r2 = peer.org2.process_proposal(&transfer).unwrap();
    assert_eq!(r1.payload, r2.payload);
    let prp = parse_proposal_response_payload(&r1.payload).unwrap();
    let event: ChaincodeEvent = prp.action.event().unwrap().expect("event set");
    let tx_id = parse_signed_proposal(&transfer)
        .unwrap()
        .channel_header
        .tx_id;
    assert_eq!(event.chaincode_id, "basic");
    assert_eq!(event.tx_id, tx_id);
    assert_eq!(event.event_name, "TransferAsset");
    let (validation, _) = peer.commit(vec![transaction(&n.org2_client, &transfer, &[&r1, &r2])]);
    assert!(
        validation.transactions[0].code.is_valid(),
        "{validation:#?}"
    );
    let asset = peer
        .ledger
        .snapshot()
        .unwrap()
        .get_state("basic", "asset1")
        .unwrap()
        .expect("asset1");
    assert!(String::from_utf8_lossy(&asset.value).contains("Christopher"));
    assert_eq!(CHANNEL, net().config.channel_id());
}

#[test]
fn transient_data_stays_out_of_the_signed_payload() {
    let peer = Peer::new();
    let n = net();
    let signed = crate::support::proposal_with(
        &n.org1_client,
        CHANNEL,
        "kv",
        &["put", "secret-holder", "x"],
        12,
        |p| {
            p.transient
                .insert("password".to_owned(), b"hunter2".to_vec());
        },
    );
    let view = parse_signed_proposal(&signed).unwrap();
    assert!(!view.transient.is_empty());
    let r1 = peer.org1.process_proposal(&signed).unwrap();
    let r2 = peer.org2.process_proposal(&signed).unwrap();
    assert!(r1.is_endorsed());
    assert!(!r1.payload.windows(7).any(|w| w == b"hunter2"));
    let prp = parse_proposal_response_payload(&r1.payload).unwrap();
    assert_eq!(prp.proposal_hash, view.proposal_hash());
    let (validation, _) = peer.commit(vec![transaction(&n.org1_client, &signed, &[&r1, &r2])]);
    assert!(
        validation.transactions[0].code.is_valid(),
        "{validation:#?}"
    );
}
