//! Criterion bench: validating a block of 500 endorsed transactions, each signed by an Org1
//! client and endorsed by a peer of Org1 and of Org2 under `AND('Org1MSP.peer',
//! 'Org2MSP.peer')`, each writing one new key. Run with
//! `cargo bench -p cambium-validator --features bench -- --quick`.

use std::hint::black_box;

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions, GeneratedNetwork, Role};
use cambium_ledger::{Block, MemLedger, SnapshotSource};
use cambium_msp::policy::{parse, PolicyGroup};
use cambium_msp::{load_signing_identity, MspConfig, MspManager, SigningIdentity};
use cambium_primitives::{ChaincodeResponse, Endorsement, KvWrite, NsRwSet, Timestamp, TxRwSet};
use cambium_validator::{
    validate_block, EndorsementPolicy, PolicyTable, StaticChannel, ValidationOptions,
};
use cambium_wire::encode_serialized_identity;
use cambium_wire::tx::{
    build_proposal, endorsement_message, endorser_transaction_payload, envelope_bytes,
    parse_signed_proposal, proposal_response_payload_bytes, signed_proposal_bytes,
    ChaincodeActionFields, ChaincodeIdFields, ProposalParts,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CHANNEL: &str = "benchchannel";
const TXS: usize = 500;

fn identity(net: &GeneratedNetwork, msp_id: &str, role: Role) -> SigningIdentity {
    let org = net.org(msp_id).expect("org generated");
    let id = org
        .nodes
        .iter()
        .chain(&org.users)
        .find(|i| i.role == role)
        .expect("identity of that role");
    load_signing_identity(&id.msp_dir, msp_id).expect("signing identity loads")
}

/// One endorsed transaction writing `key`, as a Gateway client and two peers build it.
fn transaction(
    client: &SigningIdentity,
    endorsers: &[&SigningIdentity],
    nonce: usize,
    key: &str,
) -> Vec<u8> {
    let mut nonce_bytes = vec![0u8; 24];
    nonce_bytes[..8].copy_from_slice(&(nonce as u64).to_be_bytes());
    let proposal = build_proposal(&ProposalParts {
        channel_id: CHANNEL.to_owned(),
        chaincode_name: "basic".to_owned(),
        args: vec![b"Create".to_vec(), key.as_bytes().to_vec()],
        transient: Default::default(),
        creator: encode_serialized_identity(&client.serialized()),
        nonce: nonce_bytes,
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
    });
    let signature = client.sign(&proposal.proposal_bytes).expect("sign");
    let view = parse_signed_proposal(&signed_proposal_bytes(&proposal.proposal_bytes, &signature))
        .expect("proposal parses");
    let mut ns = NsRwSet::new("basic");
    ns.writes = vec![KvWrite {
        key: key.to_owned(),
        is_delete: false,
        value: vec![7; 100],
    }];
    let action = ChaincodeActionFields {
        results: cambium_wire::encode_tx_rwset(&TxRwSet { ns: vec![ns] }),
        events: Vec::new(),
        response: Some(ChaincodeResponse::ok(Vec::new())),
        chaincode_id: Some(ChaincodeIdFields {
            name: "basic".to_owned(),
            version: "1.0".to_owned(),
        }),
    }
    .encode();
    let prp = proposal_response_payload_bytes(&view.proposal_hash(), &action);
    let endorsements: Vec<Endorsement> = endorsers
        .iter()
        .map(|e| {
            let endorser = encode_serialized_identity(&e.serialized());
            Endorsement {
                signature: e.sign(&endorsement_message(&prp, &endorser)).expect("sign"),
                endorser,
            }
        })
        .collect();
    let payload = endorser_transaction_payload(&view, &prp, &endorsements);
    envelope_bytes(&payload, &client.sign(&payload).expect("sign"))
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let net = generate(
        &CryptoConfig::default_network(),
        dir.path(),
        GenerateOptions::default(),
    )
    .expect("crypto material");
    let configs: Vec<MspConfig> = ["Org1MSP", "Org2MSP"]
        .iter()
        .map(|id| MspConfig::from_dir(&net.org(id).expect("org").msp_dir, id).expect("MSP"))
        .collect();
    let channel = StaticChannel::new(
        CHANNEL,
        MspManager::from_configs(&configs).expect("MSPs"),
        PolicyGroup::new(),
    );
    let policies = PolicyTable::new().with(
        "basic",
        EndorsementPolicy::Signature(parse("AND('Org1MSP.peer', 'Org2MSP.peer')").expect("policy")),
    );
    let client = identity(&net, "Org1MSP", Role::Client);
    let peer1 = identity(&net, "Org1MSP", Role::Peer);
    let peer2 = identity(&net, "Org2MSP", Role::Peer);
    let options = ValidationOptions::at(peer1.certificate().not_before() + 3600);
    let data: Vec<Vec<u8>> = (0..TXS)
        .map(|i| transaction(&client, &[&peer1, &peer2], i, &format!("asset{i:05}")))
        .collect();
    let block = Block::new(0, Vec::new(), data);
    let ledger = MemLedger::new();
    let snapshot = ledger.snapshot().expect("snapshot");

    let check = validate_block(&block, &channel, &policies, &snapshot, &options).expect("valid");
    assert!(check.transactions.iter().all(|t| t.code.is_valid()));

    let mut group = c.benchmark_group("validate_block");
    group.throughput(Throughput::Elements(TXS as u64));
    group.sample_size(10);
    for threads in [1, 0] {
        let name = if threads == 1 {
            "500tx_2endorsements_1thread".to_owned()
        } else {
            "500tx_2endorsements_all_cores".to_owned()
        };
        let options = options.with_threads(threads);
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    validate_block(&block, &channel, &policies, &snapshot, &options)
                        .expect("validates"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
