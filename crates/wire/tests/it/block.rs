//! Transactions, validation codes and events read out of blocks.

use std::collections::BTreeMap;

use cambium_primitives as dom;
use cambium_wire::block;
use cambium_wire::tx::{self, ChannelHeaderFields, ProposalParts};
use cambium_wire::{common, peer, Message, WireError};

/// The envelope bytes of an endorsed transaction, with an event if `event_name` is set.
fn endorsed_envelope(nonce: u8, event_name: Option<&str>) -> (String, Vec<u8>) {
    endorsed_envelope_with(nonce, Vec::new(), |tx_id| {
        event_name.map(|name| dom::ChaincodeEvent {
            chaincode_id: "basic".into(),
            tx_id: tx_id.to_owned(),
            event_name: name.into(),
            payload: b"event-payload".to_vec(),
        })
    })
}

/// An endorsed transaction of `basic` whose action holds `results` and the event `event`
/// makes for the transaction ID.
fn endorsed_envelope_with(
    nonce: u8,
    results: Vec<u8>,
    event: impl FnOnce(&str) -> Option<dom::ChaincodeEvent>,
) -> (String, Vec<u8>) {
    let unsigned = tx::build_proposal(&ProposalParts {
        channel_id: "mychannel".into(),
        chaincode_name: "basic".into(),
        args: vec![b"Create".to_vec()],
        transient: BTreeMap::new(),
        creator: cambium_wire::encode_serialized_identity(&dom::SerializedIdentity {
            msp_id: "Org1MSP".into(),
            id_bytes: b"cert".to_vec(),
        }),
        nonce: vec![nonce; tx::NONCE_SIZE],
        timestamp: dom::Timestamp::default(),
    });
    let proposal =
        tx::parse_signed_proposal(&tx::signed_proposal_bytes(&unsigned.proposal_bytes, b"s"))
            .unwrap();
    let events = event(&unsigned.tx_id)
        .map(|e| cambium_wire::encode_chaincode_event(&e))
        .unwrap_or_default();
    let action = tx::ChaincodeActionFields {
        results,
        events,
        response: Some(dom::ChaincodeResponse::ok(Vec::new())),
        chaincode_id: Some(tx::ChaincodeIdFields {
            name: "basic".into(),
            version: "1".into(),
        }),
    };
    let prp = tx::proposal_response_payload_bytes(&proposal.proposal_hash(), &action.encode());
    let payload = tx::endorser_transaction_payload(&proposal, &prp, &[]);
    (unsigned.tx_id, tx::envelope_bytes(&payload, b"s"))
}

fn config_envelope() -> Vec<u8> {
    let ch = ChannelHeaderFields {
        header_type: dom::HeaderType::Config.as_i32(),
        channel_id: "mychannel".into(),
        ..Default::default()
    }
    .encode();
    tx::envelope_bytes(&tx::payload_bytes(&ch, &[], b""), b"")
}

fn block_of(number: u64, data: Vec<Vec<u8>>, filter: Vec<u8>) -> common::Block {
    common::Block {
        header: Some(common::BlockHeader {
            number,
            previous_hash: Vec::new(),
            data_hash: Vec::new(),
        }),
        data: Some(common::BlockData { data }),
        metadata: Some(common::BlockMetadata {
            metadata: vec![Vec::new(), Vec::new(), filter, Vec::new(), Vec::new()],
        }),
    }
}

/// Block 7: two endorser transactions with an event (one valid, one not), one without, an
/// empty and an undecodable envelope, and a config transaction; with their tx IDs.
fn mixed_block() -> ([String; 3], common::Block) {
    let (tx0, env0) = endorsed_envelope(0, Some("Created"));
    let (tx1, env1) = endorsed_envelope(1, None);
    let (tx5, env5) = endorsed_envelope(5, Some("Created"));
    let data = vec![env0, env1, Vec::new(), config_envelope(), vec![0xff], env5];
    ([tx0, tx1, tx5], block_of(7, data, vec![0, 11, 0, 0, 0, 10]))
}

#[test]
fn transactions_events_and_filtered_blocks() {
    let ([tx0, tx1, tx5], block) = mixed_block();

    let txs = block::block_transactions(&block).unwrap();
    assert_eq!(
        txs.iter().map(|t| t.index).collect::<Vec<_>>(),
        [0, 1, 3, 5],
        "empty and undecodable envelopes are skipped"
    );
    assert_eq!(txs[0].tx_id, tx0);
    assert_eq!(
        txs[1].known_validation_code(),
        Some(dom::TxValidationCode::MvccReadConflict)
    );
    assert_eq!(txs[1].events, Some(Vec::new()));
    assert_eq!(txs[2].header_type, dom::HeaderType::Config.as_i32());
    assert_eq!(txs[2].events, None);
    assert_eq!(txs[0].events.as_ref().unwrap()[0].payload, b"event-payload");

    let filtered = block::filtered_block(&block).unwrap();
    assert_eq!(filtered.number, 7);
    assert_eq!(filtered.channel_id, "mychannel");
    let ids: Vec<&str> = filtered
        .filtered_transactions
        .iter()
        .map(|t| t.txid.as_str())
        .collect();
    assert_eq!(ids, [tx0.as_str(), tx1.as_str(), "", tx5.as_str()]);
    let codes: Vec<i32> = filtered
        .filtered_transactions
        .iter()
        .map(|t| t.tx_validation_code)
        .collect();
    assert_eq!(codes, [0, 11, 0, 10]);
    let Some(peer::filtered_transaction::Data::TransactionActions(actions)) =
        &filtered.filtered_transactions[0].data
    else {
        panic!("an endorser transaction carries its actions");
    };
    let event = actions.chaincode_actions[0]
        .chaincode_event
        .as_ref()
        .unwrap();
    assert_eq!(
        (
            event.chaincode_id.as_str(),
            event.event_name.as_str(),
            event.tx_id.as_str()
        ),
        ("basic", "Created", tx0.as_str())
    );
    assert!(event.payload.is_empty(), "filtered events carry no payload");
    assert!(matches!(
        &filtered.filtered_transactions[1].data,
        Some(peer::filtered_transaction::Data::TransactionActions(a)) if a.chaincode_actions.is_empty()
    ));
    assert!(
        filtered.filtered_transactions[2].data.is_none(),
        "config transactions carry no actions"
    );
    // The filtered block survives the wire.
    assert_eq!(
        peer::FilteredBlock::decode(filtered.encode_to_vec().as_slice()).unwrap(),
        filtered
    );

    // Only the valid transaction's event reaches Gateway ChaincodeEvents.
    let events = block::chaincode_events(&block, "basic").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, 0);
    assert_eq!(events[0].1.tx_id, tx0);
    assert!(block::chaincode_events(&block, "other").unwrap().is_empty());
}

#[test]
fn a_block_without_a_filter_is_not_validated() {
    let (_, env) = endorsed_envelope(0, None);
    let mut block = block_of(1, vec![env], Vec::new());
    block.metadata = None;
    assert!(block::transactions_filter(&block).is_empty());
    let txs = block::block_transactions(&block).unwrap();
    assert_eq!(
        txs[0].known_validation_code(),
        Some(dom::TxValidationCode::NotValidated)
    );
}

#[test]
fn a_malformed_payload_names_the_block_and_transaction() {
    let (_, env) = endorsed_envelope(0, None);
    let bad = common::Envelope {
        payload: vec![0x0a, 0x10, 0x01],
        signature: Vec::new(),
    }
    .encode_to_vec();
    let block = block_of(9, vec![env, bad], vec![0, 0]);
    let stored = block::StoredBlockTransactions::decode(block.encode_to_vec()).unwrap_err();
    assert_eq!(
        stored.to_string(),
        block::block_transactions(&block).unwrap_err().to_string(),
        "stored bytes are refused alike"
    );
    let err = block::block_transactions(&block).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::InBlock {
                block: 9,
                index: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("transaction 1 of block 9: malformed common.Payload"),
        "{err}"
    );
}

#[test]
fn stored_block_bytes_read_as_the_decoded_block_does() {
    let (_, block) = mixed_block();

    let stored = block::StoredBlockTransactions::decode(block.encode_to_vec()).unwrap();
    assert_eq!(stored.number, 7);
    assert_eq!(
        stored.transactions,
        block::block_transactions(&block).unwrap()
    );
    assert_eq!(
        stored.chaincode_events("basic"),
        block::chaincode_events(&block, "basic").unwrap()
    );
    assert_eq!(
        stored.into_filtered_block(),
        block::filtered_block(&block).unwrap()
    );

    // Without metadata nothing is validated yet.
    let mut bare = block_of(2, vec![endorsed_envelope(2, None).1], Vec::new());
    bare.metadata = None;
    let stored = block::StoredBlockTransactions::decode(bare.encode_to_vec()).unwrap();
    assert_eq!(
        stored.transactions[0].known_validation_code(),
        Some(dom::TxValidationCode::NotValidated)
    );
}

#[test]
fn a_large_read_write_set_does_not_change_what_a_filtered_block_holds() {
    // A migration's commit: a megabyte of results beside the event.
    let (tx_id, env) = endorsed_envelope_with(9, vec![7; 1 << 20], |tx_id| {
        Some(dom::ChaincodeEvent {
            chaincode_id: "assets".into(),
            tx_id: tx_id.to_owned(),
            event_name: "AssetsMigrated".into(),
            payload: b"12000".to_vec(),
        })
    });
    let block = block_of(3, vec![env], vec![0]);

    let stored = block::StoredBlockTransactions::decode(block.encode_to_vec()).unwrap();
    let events = stored.chaincode_events("assets");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1.payload, b"12000");
    let filtered = stored.into_filtered_block();
    assert_eq!(filtered.filtered_transactions[0].txid, tx_id);
    assert!(
        filtered.encoded_len() < 1024,
        "the filtered block leaves the read/write set out"
    );
}

#[test]
fn stored_bytes_that_are_not_a_block_are_refused() {
    let err = block::StoredBlockTransactions::decode(vec![0x0a, 0x10, 0x01]).unwrap_err();
    assert!(err.to_string().contains("malformed common.Block"), "{err}");
}
