//! One table of blocks and the codes the validator must give them, through one `check`
//! helper: every rule of Fabric's commit-time validation, each broken on its own.

use cambium_primitives::{HeaderType, NsRwSet, TxValidationCode as Code};
use cambium_wire::encode_serialized_identity;
use cambium_wire::tx::{
    envelope_bytes, payload_bytes, signature_header_bytes, ChannelHeaderFields,
};

use crate::support::{
    net, options, range, read, validate_next, validate_next_on, write, TxBuilder, CHANNEL,
};

/// Validates `data` as the block after the base ledger and compares the codes with
/// `expected`; valid transactions must carry their writes and invalid ones a reason and no
/// writes. Returns the reasons, for cases that check why.
fn check(case: &str, data: Vec<Vec<u8>>, expected: &[Code]) -> Vec<Option<String>> {
    let validation = validate_next(data, &options());
    assert_eq!(validation.codes(), expected, "{case}: {validation:#?}");
    assert_eq!(
        validation.transactions_filter(),
        expected.iter().map(|c| c.as_u8()).collect::<Vec<u8>>(),
        "{case}"
    );
    for tx in &validation.transactions {
        if tx.code.is_valid() {
            assert!(tx.reason.is_none(), "{case}: {tx:?}");
        } else {
            assert!(
                tx.reason.is_some(),
                "{case}: an invalid tx needs a reason: {tx:?}"
            );
            assert!(tx.writes.is_empty(), "{case}: an invalid tx writes: {tx:?}");
        }
    }
    validation
        .transactions
        .into_iter()
        .map(|t| t.reason)
        .collect()
}

fn basic(
    reads: Vec<cambium_primitives::KvRead>,
    writes: Vec<cambium_primitives::KvWrite>,
) -> NsRwSet {
    let mut ns = NsRwSet::new("basic");
    ns.reads = reads;
    ns.writes = writes;
    ns
}

/// Reads `k1` at its committed version and writes it.
fn update_k1() -> Vec<NsRwSet> {
    vec![basic(
        vec![read("k1", Some((0, 0)))],
        vec![write("k1", "new")],
    )]
}

fn tx(nonce: u8) -> TxBuilder<'static> {
    TxBuilder::new(nonce, update_k1())
}

fn reason_of(reasons: &[Option<String>], index: usize) -> String {
    reasons[index].clone().unwrap_or_default()
}

/// An envelope with a hand-made header, signed by the Org1 client.
fn raw_envelope(header_type: HeaderType, nonce: &[u8], data: &[u8]) -> Vec<u8> {
    let client = &net().org1_client;
    let creator = encode_serialized_identity(&client.serialized());
    let channel_header = ChannelHeaderFields {
        header_type: header_type.as_i32(),
        channel_id: CHANNEL.to_owned(),
        tx_id: cambium_wire::tx::compute_tx_id(nonce, &creator),
        ..Default::default()
    }
    .encode();
    let payload = payload_bytes(
        &channel_header,
        &signature_header_bytes(&creator, nonce),
        data,
    );
    envelope_bytes(&payload, &client.sign(&payload).unwrap())
}

#[test]
fn a_valid_transaction_endorsed_by_both_orgs_writes_its_rwset() {
    let validation = validate_next(vec![tx(1).build()], &options());
    assert_eq!(validation.codes(), [Code::Valid]);
    let t = &validation.transactions[0];
    assert_eq!(
        t.writes,
        vec![cambium_ledger::KeyWrite::put("basic", "k1", "new")]
    );
    assert!(!t.is_config);
    assert_eq!(t.tx_id.as_deref().map(str::len), Some(64));
}

#[test]
fn endorsement_policies() {
    let n = net();
    let mut missing_org2 = tx(1);
    missing_org2.endorsers = vec![&n.org1_peer];
    check(
        "missing Org2 endorsement",
        vec![missing_org2.build()],
        &[Code::EndorsementPolicyFailure],
    );

    let mut client_endorses = tx(1);
    client_endorses.endorsers = vec![&n.org1_peer, &n.org2_client];
    let reasons = check(
        "a client endorses instead of a peer",
        vec![client_endorses.build()],
        &[Code::EndorsementPolicyFailure],
    );
    assert!(
        reason_of(&reasons, 0).contains("Org2MSP.peer"),
        "{reasons:?}"
    );

    let mut repeated = tx(1);
    repeated.endorsers = vec![&n.org1_peer, &n.org1_peer];
    check(
        "one peer endorsing twice counts once",
        vec![repeated.build()],
        &[Code::EndorsementPolicyFailure],
    );

    let mut tampered = tx(1);
    let mut other = update_k1();
    other[0].writes = vec![write("k1", "stolen")];
    tampered.tamper_results = Some(cambium_wire::encode_tx_rwset(
        &cambium_primitives::TxRwSet { ns: other },
    ));
    check(
        "PRP changed after endorsement",
        vec![tampered.build()],
        &[Code::EndorsementPolicyFailure],
    );

    let mut undefined = tx(1);
    let mut nobody = NsRwSet::new("nobody");
    nobody.writes = vec![write("x", "y")];
    undefined.rwset.ns.push(nobody);
    let reasons = check(
        "write to an undefined namespace",
        vec![undefined.build()],
        &[Code::EndorsementPolicyFailure],
    );
    assert!(reason_of(&reasons, 0).contains("nobody"), "{reasons:?}");

    // Channel policy references: MAJORITY of two orgs needs both, ANY needs one.
    let on = |chaincode: &str, endorsers: Vec<&'static cambium_msp::SigningIdentity>| {
        let mut ns = NsRwSet::new(chaincode);
        ns.writes = vec![write("k", "v")];
        let mut b = TxBuilder::new(1, vec![ns]);
        b.chaincode = chaincode.to_owned();
        b.endorsers = endorsers;
        b.build()
    };
    check(
        "MAJORITY Endorsement, both orgs",
        vec![on("majority", vec![&n.org1_peer, &n.org2_peer])],
        &[Code::Valid],
    );
    check(
        "MAJORITY Endorsement, one org",
        vec![on("majority", vec![&n.org2_peer])],
        &[Code::EndorsementPolicyFailure],
    );
    check(
        "ANY Endorsement, one org",
        vec![on("anyorg", vec![&n.org2_peer])],
        &[Code::Valid],
    );
    check(
        "_lifecycle, both orgs",
        vec![on("_lifecycle", vec![&n.org1_peer, &n.org2_peer])],
        &[Code::Valid],
    );
    check(
        "_lifecycle, one org",
        vec![on("_lifecycle", vec![&n.org1_peer])],
        &[Code::EndorsementPolicyFailure],
    );

    // A transaction that writes nothing still needs its chaincode's endorsement.
    let mut read_only = TxBuilder::new(1, vec![basic(vec![read("k1", Some((0, 0)))], vec![])]);
    read_only.endorsers = vec![&n.org1_peer];
    check(
        "read-only, one org",
        vec![read_only.build()],
        &[Code::EndorsementPolicyFailure],
    );
}

#[test]
fn creators_and_signatures() {
    let n = net();
    let mut bad_sig = tx(1);
    bad_sig.envelope_signer = &n.org2_client;
    check(
        "envelope signed by someone else",
        vec![bad_sig.build()],
        &[Code::BadCreatorSignature],
    );

    let mut expired = tx(1);
    expired.client = &n.expired_client;
    expired.envelope_signer = &n.expired_client;
    let reasons = check(
        "expired creator certificate",
        vec![expired.build()],
        &[Code::BadCreatorSignature],
    );
    assert!(reason_of(&reasons, 0).contains("expired"), "{reasons:?}");

    let mut expired_endorser = tx(1);
    expired_endorser.endorsers = vec![&n.org1_peer, &n.org2_peer, &n.expired_client];
    check(
        "an expired extra endorser is ignored",
        vec![expired_endorser.build()],
        &[Code::Valid],
    );

    let mut foreign = tx(1);
    foreign.client = &n.foreign_client;
    foreign.envelope_signer = &n.foreign_client;
    check(
        "creator from an unknown CA",
        vec![foreign.build()],
        &[Code::BadCreatorSignature],
    );

    let mut foreign_endorser = tx(1);
    foreign_endorser.endorsers = vec![&n.org1_peer, &n.foreign_client];
    check(
        "endorser from an unknown CA",
        vec![foreign_endorser.build()],
        &[Code::EndorsementPolicyFailure],
    );
}

#[test]
fn envelopes_headers_and_actions() {
    check("empty envelope", vec![Vec::new()], &[Code::NilEnvelope]);
    check(
        "not an envelope",
        vec![vec![0xff, 0xff, 0xff]],
        &[Code::InvalidOtherReason],
    );
    check(
        "payload not a payload",
        vec![envelope_bytes(&[0xff, 0xff], b"sig")],
        &[Code::BadPayload],
    );
    check(
        "missing header",
        vec![envelope_bytes(&[], b"sig")],
        &[Code::BadCommonHeader],
    );
    check(
        "empty nonce",
        vec![raw_envelope(HeaderType::EndorserTransaction, &[], b"")],
        &[Code::BadCommonHeader],
    );
    check(
        "MESSAGE header type",
        vec![raw_envelope(HeaderType::Message, &[7; 24], b"")],
        &[Code::UnknownTxType],
    );
    check(
        "endorser transaction without actions",
        vec![raw_envelope(HeaderType::EndorserTransaction, &[7; 24], b"")],
        &[Code::InvalidEndorserTransaction],
    );

    let mut wrong_channel = tx(1);
    wrong_channel.channel = "otherchannel".to_owned();
    check(
        "another channel",
        vec![wrong_channel.build()],
        &[Code::TargetChainNotFound],
    );

    let mut bad_tx_id = tx(1);
    bad_tx_id.tx_id_override = Some("00".repeat(32));
    check(
        "tx ID not derived from nonce and creator",
        vec![bad_tx_id.build()],
        &[Code::BadProposalTxid],
    );

    let mut bad_hash = tx(1);
    bad_hash.proposal_hash_override = Some(vec![0; 32]);
    check(
        "proposal hash mismatch",
        vec![bad_hash.build()],
        &[Code::InvalidEndorserTransaction],
    );

    let mut no_version = tx(1);
    no_version.version = String::new();
    check(
        "empty chaincode version",
        vec![no_version.build()],
        &[Code::InvalidChaincode],
    );

    let mut bad_rwset = tx(1);
    bad_rwset.raw_results = Some(vec![0xff, 0xff]);
    check(
        "undecodable rwset",
        vec![bad_rwset.build()],
        &[Code::BadRwset],
    );

    let repeated = TxBuilder::new(
        1,
        vec![
            basic(vec![], vec![write("a", "1")]),
            basic(vec![], vec![write("b", "2")]),
        ],
    );
    check(
        "repeated namespace",
        vec![repeated.build()],
        &[Code::IllegalWriteset],
    );

    let mut system = NsRwSet::new("lscc");
    system.writes = vec![write("x", "y")];
    check(
        "write to lscc",
        vec![TxBuilder::new(1, vec![system]).build()],
        &[Code::IllegalWriteset],
    );
}

#[test]
fn duplicate_transaction_ids() {
    let first = tx(1).build();
    check(
        "same tx twice in a block",
        vec![first.clone(), first, tx(2).build()],
        &[Code::Valid, Code::DuplicateTxid, Code::MvccReadConflict],
    );

    // Nonce 200 by the Org1 client is already committed in block 0 (signatures differ).
    let mut seen = NsRwSet::new("basic");
    seen.writes = vec![write("seen", "again")];
    let reasons = check(
        "tx ID already in the ledger",
        vec![TxBuilder::new(200, vec![seen.clone()]).build()],
        &[Code::DuplicateTxid],
    );
    assert!(reason_of(&reasons, 0).contains("ledger"), "{reasons:?}");

    // Fabric looks the ID up before the endorsement policy: the duplicate wins.
    let mut unendorsed = TxBuilder::new(200, vec![seen]);
    unendorsed.endorsers = vec![];
    check(
        "ledger duplicate without endorsements",
        vec![unendorsed.build()],
        &[Code::DuplicateTxid],
    );

    // An invalid first occurrence does not claim the ID in the block.
    let mut invalid_first = tx(3);
    invalid_first.endorsers = vec![];
    check(
        "invalid first occurrence",
        vec![invalid_first.build(), tx(3).build()],
        &[Code::EndorsementPolicyFailure, Code::Valid],
    );
}

#[test]
fn mvcc_and_phantoms() {
    check(
        "two updates of one key",
        vec![tx(1).build(), tx(2).build()],
        &[Code::Valid, Code::MvccReadConflict],
    );

    // Unrelated keys do not conflict.
    let other = TxBuilder::new(
        2,
        vec![basic(
            vec![read("k2", Some((0, 0)))],
            vec![write("k2", "z")],
        )],
    );
    check(
        "two updates of different keys",
        vec![tx(1).build(), other.build()],
        &[Code::Valid, Code::Valid],
    );

    let stale = TxBuilder::new(
        1,
        vec![basic(
            vec![read("k2", Some((0, 5)))],
            vec![write("k2", "z")],
        )],
    );
    let reasons = check(
        "stale read against committed state",
        vec![stale.build()],
        &[Code::MvccReadConflict],
    );
    assert!(reason_of(&reasons, 0).contains("k2"), "{reasons:?}");

    let absent = TxBuilder::new(
        1,
        vec![basic(vec![read("k2", None)], vec![write("k2", "z")])],
    );
    check(
        "read as absent but committed",
        vec![absent.build()],
        &[Code::MvccReadConflict],
    );
    let missing = TxBuilder::new(
        1,
        vec![basic(vec![read("nope", None)], vec![write("nope", "z")])],
    );
    check(
        "read as absent and still absent",
        vec![missing.build()],
        &[Code::Valid],
    );

    // An invalid transaction's writes do not count for later ones.
    let mut unendorsed = tx(1);
    unendorsed.endorsers = vec![&net().org1_peer];
    check(
        "conflict only with valid writes",
        vec![unendorsed.build(), tx(2).build()],
        &[Code::EndorsementPolicyFailure, Code::Valid],
    );

    let scan = |nonce: u8, reads| {
        let mut ns = basic(vec![], vec![write("out", "1")]);
        ns.range_queries = vec![range("r0", "r9", reads)];
        TxBuilder::new(nonce, vec![ns])
    };
    let both = || vec![read("r1", Some((0, 0))), read("r3", Some((0, 0)))];
    check(
        "range still the same",
        vec![scan(1, both()).build()],
        &[Code::Valid],
    );
    check(
        "range missed a committed key",
        vec![scan(1, vec![read("r1", Some((0, 0)))]).build()],
        &[Code::PhantomReadConflict],
    );
    check(
        "range saw a key at an old version",
        vec![scan(1, vec![read("r1", Some((0, 0))), read("r3", Some((0, 9)))]).build()],
        &[Code::PhantomReadConflict],
    );
    let insert = TxBuilder::new(2, vec![basic(vec![], vec![write("r2", "new")])]);
    check(
        "an earlier tx of the block inserts into the range",
        vec![insert.build(), scan(3, both()).build()],
        &[Code::Valid, Code::PhantomReadConflict],
    );
    let outside = TxBuilder::new(2, vec![basic(vec![], vec![write("s5", "new")])]);
    check(
        "an insert outside the range",
        vec![outside.build(), scan(3, both()).build()],
        &[Code::Valid, Code::Valid],
    );
    // A scan that stopped after r1 only vouches for keys up to r1.
    let mut partial = scan(1, vec![read("r1", Some((0, 0)))]);
    partial.rwset.ns[0].range_queries[0].itr_exhausted = false;
    check(
        "partial scan, later key inserted",
        vec![insert.build(), partial.build()],
        &[Code::Valid, Code::Valid],
    );
}

#[test]
fn config_transactions_are_checked_structurally() {
    let config = cambium_wire::config::encode_config_envelope(&net().config.config_envelope());
    let validation = validate_next(
        vec![raw_envelope(HeaderType::Config, &[9; 24], &config)],
        &options(),
    );
    assert_eq!(validation.codes(), [Code::Valid], "{validation:#?}");
    assert!(validation.transactions[0].is_config);
    assert!(validation.transactions[0].writes.is_empty());

    check(
        "config with another transaction",
        vec![
            raw_envelope(HeaderType::Config, &[9; 24], &config),
            tx(1).build(),
        ],
        &[Code::InvalidConfigTransaction, Code::Valid],
    );
    check(
        "config without a channel group",
        vec![raw_envelope(HeaderType::Config, &[9; 24], b"")],
        &[Code::InvalidConfigTransaction],
    );
    check(
        "config that is not a config envelope",
        vec![raw_envelope(HeaderType::Config, &[9; 24], &[0xff, 0xff])],
        &[Code::InvalidConfigTransaction],
    );
}

/// The channel configuration built by `cambium-channel` from the sample YAML works as the
/// validator's channel: its MSPs check creators and its `/Channel/Application/Endorsement`
/// (MAJORITY of the orgs' `OR('OrgN.peer')`) checks endorsements.
#[test]
fn the_channel_config_is_a_channel_context() {
    let n = net();
    let on = |endorsers: Vec<&'static cambium_msp::SigningIdentity>| {
        let mut ns = NsRwSet::new("majority");
        ns.writes = vec![write("k", "v")];
        let mut b = TxBuilder::new(1, vec![ns]);
        b.chaincode = "majority".to_owned();
        b.endorsers = endorsers;
        b.build()
    };
    let both = validate_next_on(
        &n.config,
        vec![on(vec![&n.org1_peer, &n.org2_peer])],
        &options(),
    );
    assert_eq!(both.codes(), [Code::Valid], "{both:#?}");
    let one = validate_next_on(&n.config, vec![on(vec![&n.org1_peer])], &options());
    assert_eq!(one.codes(), [Code::EndorsementPolicyFailure], "{one:#?}");
    let mut foreign = tx(2);
    foreign.client = &n.foreign_client;
    foreign.envelope_signer = &n.foreign_client;
    let foreign = validate_next_on(&n.config, vec![foreign.build()], &options());
    assert_eq!(foreign.codes(), [Code::BadCreatorSignature]);
}
