//! `qscc` queries over the committed ledger, endorsed like any proposal.

use cambium_wire::tx::{envelope_bytes, parse_proposal_response_payload, parse_signed_proposal};
use cambium_wire::{common, peer, Message};

use crate::support::{net, proposal, transaction, Peer};

#[test]
fn chain_info_blocks_and_transactions() {
    let peer = Peer::new();
    let n = net();
    let put = proposal(&n.org1_client, "kv", &["put", "q", "1"], 80);
    let r1 = peer.org1.process_proposal(&put).unwrap();
    let r2 = peer.org2.process_proposal(&put).unwrap();
    let envelope = transaction(&n.org1_client, &put, &[&r1, &r2]);
    let (_, stored) = peer.commit(vec![envelope.clone()]);
    let tx_id = parse_signed_proposal(&put).unwrap().channel_header.tx_id;

    let query = |args: &[&str], nonce: u8| {
        let r = peer
            .org2
            .process_proposal(&proposal(&n.org2_client, "qscc", args, nonce))
            .unwrap();
        assert_eq!(r.response.status, 200, "{:?}", r.response);
        assert!(r.is_endorsed(), "qscc answers are endorsed");
        let prp = parse_proposal_response_payload(&r.payload).unwrap();
        assert_eq!(prp.action.chaincode_id.as_ref().unwrap().name, "qscc");
        assert!(prp.action.rwset().unwrap().ns.is_empty());
        r.response.payload
    };

    let info = common::BlockchainInfo::decode(query(&["GetChainInfo", "mychannel"], 81).as_slice())
        .unwrap();
    assert_eq!(info.height, 1);
    assert_eq!(info.current_block_hash, stored.hash);
    assert!(info.previous_block_hash.is_empty());

    assert_eq!(
        query(&["GetBlockByNumber", "mychannel", "0"], 82),
        stored.bytes
    );
    assert_eq!(
        query(&["GetBlockByTxID", "mychannel", &tx_id], 83),
        stored.bytes
    );
    let processed = peer::ProcessedTransaction::decode(
        query(&["GetTransactionByID", "mychannel", &tx_id], 84).as_slice(),
    )
    .unwrap();
    assert_eq!(processed.validation_code, 0);
    let env = processed.transaction_envelope.unwrap();
    assert_eq!(envelope_bytes(&env.payload, &env.signature), envelope);

    let digest = String::from_utf8(query(&["GetStateDigest", "mychannel"], 85)).unwrap();
    let (height, hex) = digest.split_once(' ').expect("'<height> <digest>'");
    assert_eq!(height, "1");
    assert_eq!(hex.len(), 64, "{digest}");
    assert_ne!(
        hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "the committed write is in the digest (this is the digest of nothing)"
    );
    let on_org1 = peer
        .org1
        .process_proposal(&proposal(
            &n.org1_client,
            "qscc",
            &["GetStateDigest", "mychannel"],
            86,
        ))
        .unwrap()
        .response
        .payload;
    assert_eq!(
        String::from_utf8(on_org1).unwrap(),
        digest,
        "two peers that committed the same blocks have the same digest"
    );
}

#[test]
fn qscc_errors_are_500_responses() {
    let peer = Peer::new();
    let n = net();
    let ask = |args: &[&str], nonce: u8| {
        peer.org1
            .process_proposal(&proposal(&n.org1_client, "qscc", args, nonce))
            .unwrap()
    };
    for (args, needle, nonce) in [
        (
            &["GetBlockByNumber", "mychannel", "7"][..],
            "Failed to get block number 7",
            90,
        ),
        (
            &["GetChainInfo", "elsewhere"][..],
            "Invalid chain ID, elsewhere",
            91,
        ),
        (
            &["GetChainInfo"][..],
            "Incorrect number of arguments, 1",
            92,
        ),
        (
            &["Nope", "mychannel"][..],
            "Requested function Nope not found",
            93,
        ),
        (
            &["GetTransactionByID", "mychannel", "missing"][..],
            "Failed to get transaction with id missing",
            94,
        ),
    ] {
        let r = ask(args, nonce);
        assert_eq!(r.response.status, 500, "{args:?}: {:?}", r.response);
        assert!(
            r.response.message.contains(needle),
            "{:?}",
            r.response.message
        );
        assert!(r.endorsement.is_none());
        assert!(!r.payload.is_empty(), "a 500 carries the payload");
    }
}
