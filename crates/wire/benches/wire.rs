//! Speed of the wire operations on Cambium's hot paths: block codec, proposal parsing and
//! hashing, read/write set codec, and decoding an endorsed transaction.

use std::collections::BTreeMap;
use std::hint::black_box;

use cambium_primitives as dom;
use cambium_wire::common::{Block, BlockData, BlockHeader, BlockMetadata, Envelope};
use cambium_wire::tx::{self, ProposalParts};
use cambium_wire::Message;
use criterion::{criterion_group, criterion_main, Criterion};

fn block_of(envelopes: usize, size: usize) -> Block {
    let data = (0..envelopes)
        .map(|i| {
            Envelope {
                payload: vec![(i % 251) as u8; size],
                signature: vec![7; 72],
            }
            .encode_to_vec()
        })
        .collect();
    Block {
        header: Some(BlockHeader {
            number: 42,
            previous_hash: vec![1; 32],
            data_hash: vec![2; 32],
        }),
        data: Some(BlockData { data }),
        metadata: Some(BlockMetadata {
            metadata: vec![Vec::new(); 5],
        }),
    }
}

fn block_codec(c: &mut Criterion) {
    let block = block_of(100, 3000);
    let bytes = block.encode_to_vec();
    c.bench_function("block_100x3KB_encode", |b| {
        b.iter(|| black_box(&block).encode_to_vec())
    });
    c.bench_function("block_100x3KB_decode", |b| {
        b.iter(|| Block::decode(black_box(bytes.as_slice())).expect("valid block"))
    });
}

/// A proposal shaped like a Gateway client's, with an 800-byte certificate.
fn signed_proposal() -> Vec<u8> {
    let creator = cambium_wire::encode_serialized_identity(&dom::SerializedIdentity {
        msp_id: "Org1MSP".into(),
        id_bytes: vec![b'A'; 800],
    });
    let parts = ProposalParts {
        channel_id: "mychannel".into(),
        chaincode_name: "basic".into(),
        args: vec![b"CreateAsset".to_vec(), b"asset1".to_vec(), vec![b'x'; 100]],
        transient: BTreeMap::from([("k".to_string(), vec![1; 32])]),
        creator,
        nonce: vec![9; tx::NONCE_SIZE],
        timestamp: dom::Timestamp::from_millis(1_700_000_000_000),
    };
    let unsigned = tx::build_proposal(&parts);
    tx::signed_proposal_bytes(&unsigned.proposal_bytes, &[3; 71])
}

fn proposals(c: &mut Criterion) {
    let bytes = signed_proposal();
    let view = tx::parse_signed_proposal(&bytes).expect("valid proposal");
    c.bench_function("parse_signed_proposal", |b| {
        b.iter(|| tx::parse_signed_proposal(black_box(&bytes)).expect("valid proposal"))
    });
    c.bench_function("proposal_hash", |b| {
        b.iter(|| black_box(&view).proposal_hash())
    });
    c.bench_function("compute_tx_id", |b| {
        b.iter(|| tx::compute_tx_id(black_box(&view.nonce), black_box(&view.creator_bytes)))
    });
}

fn rwset_of(keys: usize) -> dom::TxRwSet {
    let mut ns = dom::NsRwSet::new("basic");
    for i in 0..keys {
        ns.reads.push(dom::KvRead {
            key: format!("key{i:06}"),
            version: Some(dom::Version::new(i as u64, 0)),
        });
        ns.writes.push(dom::KvWrite {
            key: format!("key{i:06}"),
            is_delete: false,
            value: vec![b'v'; 100],
        });
    }
    dom::TxRwSet { ns: vec![ns] }
}

fn rwsets(c: &mut Criterion) {
    let rw = rwset_of(10);
    let bytes = cambium_wire::encode_tx_rwset(&rw);
    c.bench_function("tx_rwset_10rw_encode", |b| {
        b.iter(|| cambium_wire::encode_tx_rwset(black_box(&rw)))
    });
    c.bench_function("tx_rwset_10rw_decode", |b| {
        b.iter(|| cambium_wire::decode_tx_rwset(black_box(&bytes)).expect("valid rwset"))
    });
}

fn endorsed_transactions(c: &mut Criterion) {
    let proposal = tx::parse_signed_proposal(&signed_proposal()).expect("valid proposal");
    let action = tx::ChaincodeActionFields {
        results: cambium_wire::encode_tx_rwset(&rwset_of(2)),
        events: Vec::new(),
        response: Some(dom::ChaincodeResponse::ok(b"ok".to_vec())),
        chaincode_id: Some(tx::ChaincodeIdFields {
            name: "basic".into(),
            version: "1.0".into(),
        }),
    };
    let prp = tx::proposal_response_payload_bytes(&proposal.proposal_hash(), &action.encode());
    let endorsements: Vec<dom::Endorsement> = (0..2u8)
        .map(|i| dom::Endorsement {
            endorser: vec![i; 850],
            signature: vec![i; 71],
        })
        .collect();
    let payload = tx::endorser_transaction_payload(&proposal, &prp, &endorsements);
    let envelope = tx::envelope_bytes(&payload, &[5; 71]);
    c.bench_function("endorser_transaction_payload", |b| {
        b.iter(|| tx::endorser_transaction_payload(black_box(&proposal), &prp, &endorsements))
    });
    c.bench_function("parse_envelope_and_transaction", |b| {
        b.iter(|| {
            let env = tx::parse_envelope(black_box(&envelope)).expect("valid envelope");
            tx::parse_transaction(&env.data).expect("valid transaction")
        })
    });
}

criterion_group!(
    benches,
    block_codec,
    proposals,
    rwsets,
    endorsed_transactions
);
criterion_main!(benches);
