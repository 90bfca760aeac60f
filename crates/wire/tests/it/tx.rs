//! protoutil helpers: building and parsing proposals and envelopes byte for byte.

use std::collections::BTreeMap;

use cambium_primitives as dom;
use cambium_wire::tx::{self, ChannelHeaderFields, ProposalParts};
use cambium_wire::{common, peer, Message, WireError};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::strategies::*;

fn creator() -> Vec<u8> {
    cambium_wire::encode_serialized_identity(&dom::SerializedIdentity {
        msp_id: "Org1MSP".into(),
        id_bytes: b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec(),
    })
}

fn parts() -> ProposalParts {
    ProposalParts {
        channel_id: "mychannel".into(),
        chaincode_name: "basic".into(),
        args: vec![b"CreateAsset".to_vec(), b"asset1".to_vec(), vec![0, 255]],
        transient: BTreeMap::from([("secret".to_string(), b"s3cr3t".to_vec())]),
        creator: creator(),
        nonce: (0u8..24).collect(),
        timestamp: dom::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_000_000,
        },
    }
}

#[test]
fn tx_id_is_hex_sha256_of_nonce_and_creator() {
    // Computed independently: sha256(bytes(range(24)) + b"creator").hexdigest() in Python.
    let nonce: Vec<u8> = (0u8..24).collect();
    assert_eq!(
        tx::compute_tx_id(&nonce, b"creator"),
        "151635d156b87fcdd972bf6d45d83eb75864e6b9caff423a784c5c4e58051968"
    );
    assert_eq!(
        tx::compute_tx_id(&[], &[]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn a_built_proposal_parses_back_with_the_exact_bytes() {
    let parts = parts();
    let unsigned = tx::build_proposal(&parts);
    let signed = tx::signed_proposal_bytes(&unsigned.proposal_bytes, b"sig");
    let view = tx::parse_signed_proposal(&signed).unwrap();

    assert_eq!(view.proposal_bytes, unsigned.proposal_bytes);
    assert_eq!(view.signature, b"sig");
    assert_eq!(
        view.channel_header.known_header_type(),
        Some(dom::HeaderType::EndorserTransaction)
    );
    assert_eq!(view.channel_header.channel_id, "mychannel");
    assert_eq!(view.channel_header.tx_id, unsigned.tx_id);
    assert_eq!(view.expected_tx_id(), unsigned.tx_id);
    assert_eq!(view.channel_header.epoch, 0);
    assert_eq!(view.channel_header.timestamp, Some(parts.timestamp));
    assert_eq!(view.chaincode_name.as_deref(), Some("basic"));
    assert_eq!(view.spec_chaincode_name, "basic");
    assert_eq!(view.creator_bytes, parts.creator);
    assert_eq!(
        view.creator.as_ref().map(|c| c.msp_id.as_str()),
        Some("Org1MSP")
    );
    assert_eq!(view.nonce, parts.nonce);
    assert_eq!(view.args, parts.args);
    assert_eq!(view.transient, parts.transient);
    assert!(!view.is_init);

    // The raw header parts are the bytes inside the proposal, not re-encodings.
    let proposal = peer::Proposal::decode(unsigned.proposal_bytes.as_slice()).unwrap();
    let header = common::Header::decode(proposal.header.as_slice()).unwrap();
    assert_eq!(view.channel_header_bytes, header.channel_header);
    assert_eq!(view.signature_header_bytes, header.signature_header);
    assert_eq!(view.payload_bytes, proposal.payload);
}

#[test]
fn proposal_hash_excludes_the_transient_map() {
    let view = tx::parse_signed_proposal(&tx::signed_proposal_bytes(
        &tx::build_proposal(&parts()).proposal_bytes,
        b"sig",
    ))
    .unwrap();
    // Recompute independently from the pieces: payload re-encoded with input only.
    let without_transient = peer::ChaincodeProposalPayload {
        input: view.input_bytes.clone(),
        transient_map: BTreeMap::new(),
    }
    .encode_to_vec();
    assert_eq!(view.payload_without_transient(), without_transient);
    assert_ne!(
        view.payload_bytes, without_transient,
        "the proposal did carry transient data"
    );
    let mut hasher = Sha256::new();
    hasher.update(&view.channel_header_bytes);
    hasher.update(&view.signature_header_bytes);
    hasher.update(&without_transient);
    let expected: [u8; 32] = hasher.finalize().into();
    assert_eq!(view.proposal_hash(), expected);

    // Same call without transient data: same hash only if the headers are the same bytes.
    let mut no_transient = parts();
    no_transient.transient.clear();
    let other = tx::parse_signed_proposal(&tx::signed_proposal_bytes(
        &tx::build_proposal(&no_transient).proposal_bytes,
        b"sig",
    ))
    .unwrap();
    assert_eq!(other.proposal_hash(), view.proposal_hash());
}

#[test]
fn an_envelope_parses_back_with_the_exact_bytes() {
    let ch = ChannelHeaderFields {
        header_type: dom::HeaderType::DeliverSeekInfo.as_i32(),
        channel_id: "mychannel".into(),
        timestamp: Some(dom::Timestamp {
            seconds: 5,
            nanos: 0,
        }),
        ..Default::default()
    }
    .encode();
    let sh = tx::signature_header_bytes(&creator(), &[]);
    let payload = tx::payload_bytes(&ch, &sh, b"seek");
    let env = tx::parse_envelope(&tx::envelope_bytes(&payload, b"sig")).unwrap();
    assert_eq!(env.payload_bytes, payload);
    assert_eq!(env.signature, b"sig");
    assert_eq!(env.channel_header_bytes, ch);
    assert_eq!(env.signature_header_bytes, sh);
    assert_eq!(
        env.channel_header.known_header_type(),
        Some(dom::HeaderType::DeliverSeekInfo)
    );
    assert_eq!(env.channel_header.channel_id, "mychannel");
    assert_eq!(env.creator.unwrap().msp_id, "Org1MSP");
    assert!(env.nonce.is_empty());
    assert_eq!(env.data, b"seek");
    assert_eq!(env.channel_header.chaincode_name().unwrap(), None);
}

#[test]
fn the_header_extension_names_the_chaincode() {
    let mut fields = ChannelHeaderFields {
        extension: tx::chaincode_header_extension_bytes("basic"),
        ..Default::default()
    };
    assert_eq!(fields.chaincode_name().unwrap().as_deref(), Some("basic"));
    fields.extension = vec![0x12, 0x09];
    let err = fields.chaincode_name().unwrap_err();
    assert!(
        err.to_string().contains("protos.ChaincodeHeaderExtension"),
        "{err}"
    );
}

#[test]
fn malformed_input_says_which_message_is_broken() {
    let err = tx::parse_signed_proposal(&[0x0a, 0x05, 0x01]).unwrap_err();
    assert!(err.to_string().contains("protos.SignedProposal"), "{err}");

    // A proposal whose header bytes are not a common.Header.
    let proposal = peer::Proposal {
        header: vec![0xff, 0xff],
        ..Default::default()
    }
    .encode_to_vec();
    let err = tx::parse_signed_proposal(&tx::signed_proposal_bytes(&proposal, b"")).unwrap_err();
    assert!(err.to_string().contains("common.Header"), "{err}");

    // A creator that is not a SerializedIdentity.
    let ch = ChannelHeaderFields::default().encode();
    let payload = tx::payload_bytes(&ch, &tx::signature_header_bytes(&[0x0a, 0x09], &[]), b"");
    let err = tx::parse_envelope(&tx::envelope_bytes(&payload, b"")).unwrap_err();
    assert!(err.to_string().contains("msp.SerializedIdentity"), "{err}");

    // A payload without a header.
    let payload = common::Payload {
        header: None,
        data: vec![1],
    }
    .encode_to_vec();
    let err = tx::parse_envelope(&tx::envelope_bytes(&payload, b"")).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::MissingField {
                message: "common.Payload",
                field: "header"
            }
        ),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proposals_round_trip(channel_id in text(), chaincode_name in text(), args in proptest::collection::vec(bytes(), 0..4),
                            transient in byte_map(), creator_id in identity(), nonce in bytes(), ts in timestamp(), sig in bytes()) {
        let parts = ProposalParts {
            channel_id, chaincode_name, args, transient,
            creator: cambium_wire::encode_serialized_identity(&creator_id),
            nonce, timestamp: ts,
        };
        let unsigned = tx::build_proposal(&parts);
        let view = tx::parse_signed_proposal(&tx::signed_proposal_bytes(&unsigned.proposal_bytes, &sig)).unwrap();
        prop_assert_eq!(&view.proposal_bytes, &unsigned.proposal_bytes);
        prop_assert_eq!(&view.signature, &sig);
        prop_assert_eq!(&view.channel_header.tx_id, &unsigned.tx_id);
        prop_assert_eq!(view.expected_tx_id(), unsigned.tx_id);
        prop_assert_eq!(view.chaincode_name.as_deref(), Some(parts.chaincode_name.as_str()));
        prop_assert_eq!(&view.channel_header.channel_id, &parts.channel_id);
        prop_assert_eq!(&view.args, &parts.args);
        prop_assert_eq!(&view.transient, &parts.transient);
        prop_assert_eq!(view.channel_header.timestamp, Some(ts));
        let expected_creator = if parts.creator.is_empty() { None } else { Some(creator_id) };
        prop_assert_eq!(view.creator, expected_creator);
    }

    #[test]
    fn envelopes_round_trip(ty in -2i32..9, channel in text(), tx_id in text(), epoch in any::<u64>(), ext in bytes(),
                            creator_id in identity(), nonce in bytes(), data in bytes(), sig in bytes()) {
        let fields = ChannelHeaderFields { header_type: ty, version: 0, timestamp: None, channel_id: channel, tx_id, epoch, extension: ext, tls_cert_hash: Vec::new() };
        let ch = fields.encode();
        prop_assert_eq!(ChannelHeaderFields::decode(&ch).unwrap(), fields.clone());
        let creator = cambium_wire::encode_serialized_identity(&creator_id);
        let payload = tx::payload_bytes(&ch, &tx::signature_header_bytes(&creator, &nonce), &data);
        let view = tx::parse_envelope(&tx::envelope_bytes(&payload, &sig)).unwrap();
        prop_assert_eq!(view.payload_bytes, payload);
        prop_assert_eq!(view.signature, sig);
        prop_assert_eq!(view.channel_header, fields);
        prop_assert_eq!(view.creator_bytes, creator);
        prop_assert_eq!(view.nonce, nonce);
        prop_assert_eq!(view.data, data);
    }
}

#[test]
fn endorse_prepare_and_validate_a_transaction() {
    let proposal = tx::parse_signed_proposal(&tx::signed_proposal_bytes(
        &tx::build_proposal(&parts()).proposal_bytes,
        b"client-sig",
    ))
    .unwrap();

    // Endorser: simulate, then build the chaincode action and the signed payload.
    let mut ns = dom::NsRwSet::new("basic");
    ns.writes.push(dom::KvWrite {
        key: "asset1".into(),
        is_delete: false,
        value: b"{}".to_vec(),
    });
    let rwset = dom::TxRwSet { ns: vec![ns] };
    let event = dom::ChaincodeEvent {
        chaincode_id: "basic".into(),
        tx_id: proposal.channel_header.tx_id.clone(),
        event_name: "Created".into(),
        payload: b"asset1".to_vec(),
    };
    let action = tx::ChaincodeActionFields {
        results: cambium_wire::encode_tx_rwset(&rwset),
        events: cambium_wire::encode_chaincode_event(&event),
        response: Some(dom::ChaincodeResponse::ok(b"result".to_vec())),
        chaincode_id: Some(tx::ChaincodeIdFields {
            name: "basic".into(),
            version: "1.0".into(),
        }),
    };
    let prp = tx::proposal_response_payload_bytes(&proposal.proposal_hash(), &action.encode());
    let endorser = b"peer0-identity".to_vec();
    assert_eq!(
        tx::endorsement_message(&prp, &endorser),
        [prp.as_slice(), endorser.as_slice()].concat()
    );
    let endorsement = dom::Endorsement {
        endorser: endorser.clone(),
        signature: b"peer-sig".to_vec(),
    };
    let response_bytes =
        tx::proposal_response_bytes(&action.response.clone().unwrap(), &prp, Some(&endorsement));
    let response = tx::parse_proposal_response(&response_bytes).unwrap();
    assert_eq!(response.version, 1);
    assert_eq!(response.payload, prp);
    assert_eq!(response.endorsement.as_ref(), Some(&endorsement));
    assert!(response.response.is_success());

    // Gateway: prepare the transaction; the duplicate endorsement is dropped.
    let other = dom::Endorsement {
        endorser: b"peer1-identity".to_vec(),
        signature: b"sig1".to_vec(),
    };
    let payload = tx::endorser_transaction_payload(
        &proposal,
        &response.payload,
        &[endorsement.clone(), endorsement.clone(), other.clone()],
    );
    let envelope = tx::parse_envelope(&tx::envelope_bytes(&payload, b"client-sig")).unwrap();
    assert_eq!(
        envelope.channel_header_bytes, proposal.channel_header_bytes,
        "header reused byte for byte"
    );
    assert_eq!(
        envelope.signature_header_bytes,
        proposal.signature_header_bytes
    );
    assert_eq!(envelope.channel_header.tx_id, proposal.channel_header.tx_id);

    // Validator: decode the action and recompute the proposal hash from the transaction bytes.
    let actions = tx::parse_transaction(&envelope.data).unwrap();
    assert_eq!(actions.len(), 1);
    let a = &actions[0];
    assert_eq!(a.header_bytes, proposal.signature_header_bytes);
    assert_eq!(
        a.chaincode_proposal_payload,
        proposal.payload_without_transient()
    );
    assert_eq!(a.proposal_response_payload, prp);
    assert_eq!(a.endorsements, vec![endorsement, other]);
    assert_eq!(a.proposal_hash, proposal.proposal_hash());
    assert_eq!(
        a.expected_proposal_hash(&envelope.channel_header_bytes),
        proposal.proposal_hash()
    );
    assert_eq!(a.action, action);
    assert_eq!(a.action.rwset().unwrap(), rwset);
    assert_eq!(a.action.event().unwrap(), Some(event));
    // What the Gateway client reads as the transaction result.
    assert_eq!(a.action.response.as_ref().unwrap().payload, b"result");
    // No transient data anywhere in the transaction.
    assert!(!payload.windows(6).any(|w| w == b"s3cr3t"));
}

#[test]
fn a_transaction_action_without_an_endorsed_action_is_rejected() {
    let cap = peer::ChaincodeActionPayload {
        chaincode_proposal_payload: vec![1],
        action: None,
    };
    let transaction = peer::Transaction {
        actions: vec![peer::TransactionAction {
            header: Vec::new(),
            payload: cap.encode_to_vec(),
        }],
    };
    let err = tx::parse_transaction(&transaction.encode_to_vec()).unwrap_err();
    assert!(
        err.to_string()
            .contains("protos.ChaincodeActionPayload.action is missing"),
        "{err}"
    );
    let action = tx::ChaincodeActionFields::default();
    assert_eq!(action.event().unwrap(), None);
}
