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

/// One row of the table: a block (validated as the block after the base ledger) and the
/// code each of its transactions must get, optionally with words its reason must contain.
struct Case {
    name: &'static str,
    data: Vec<Vec<u8>>,
    expected: Vec<Code>,
    reason: Option<(usize, &'static str)>,
}

fn case(name: &'static str, data: Vec<Vec<u8>>, expected: &[Code]) -> Case {
    Case {
        name,
        data,
        expected: expected.to_vec(),
        reason: None,
    }
}

impl Case {
    /// Also requires the reason of transaction `index` to mention `words`.
    fn because(self, index: usize, words: &'static str) -> Case {
        Case {
            reason: Some((index, words)),
            ..self
        }
    }
}

/// Validates a case and compares codes, `TRANSACTIONS_FILTER` bytes and reasons; valid
/// transactions must carry no reason, invalid ones a reason and no writes.
fn check(case: Case) {
    let name = case.name;
    let validation = validate_next(case.data, &options());
    assert_eq!(validation.codes(), case.expected, "{name}: {validation:#?}");
    assert_eq!(
        validation.transactions_filter(),
        case.expected.iter().map(|c| c.as_u8()).collect::<Vec<u8>>(),
        "{name}"
    );
    for tx in &validation.transactions {
        if tx.code.is_valid() {
            assert!(tx.reason.is_none(), "{name}: {tx:?}");
        } else {
            assert!(
                tx.reason.is_some(),
                "{name}: an invalid tx needs a reason: {tx:?}"
            );
            assert!(tx.writes.is_empty(), "{name}: an invalid tx writes: {tx:?}");
        }
    }
    if let Some((index, words)) = case.reason {
        let reason = validation.transactions[index]
            .reason
            .clone()
            .unwrap_or_default();
        assert!(
            reason.contains(words),
            "{name}: reason '{reason}' lacks '{words}'"
        );
    }
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

/// An envelope with a hand-made header, signed by the Org1 client.
fn raw_envelope(header_type: HeaderType, nonce: &[u8], data: &[u8]) -> Vec<u8> {
    raw_envelope_at_epoch(header_type, nonce, data, 0)
}

/// [`raw_envelope`] with a chosen channel header epoch.
fn raw_envelope_at_epoch(
    header_type: HeaderType,
    nonce: &[u8],
    data: &[u8],
    epoch: u64,
) -> Vec<u8> {
    let client = &net().org1_client;
    let creator = encode_serialized_identity(&client.serialized());
    let channel_header = ChannelHeaderFields {
        header_type: header_type.as_i32(),
        channel_id: CHANNEL.to_owned(),
        tx_id: cambium_wire::tx::compute_tx_id(nonce, &creator),
        epoch,
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

fn endorsement_policies(cases: &mut Vec<Case>) {
    let n = net();
    let mut missing_org2 = tx(1);
    missing_org2.endorsers = vec![&n.org1_peer];
    cases.push(case(
        "missing Org2 endorsement",
        vec![missing_org2.build()],
        &[Code::EndorsementPolicyFailure],
    ));

    let mut client_endorses = tx(1);
    client_endorses.endorsers = vec![&n.org1_peer, &n.org2_client];
    cases.push(
        case(
            "a client endorses instead of a peer",
            vec![client_endorses.build()],
            &[Code::EndorsementPolicyFailure],
        )
        .because(0, "Org2MSP.peer"),
    );

    let mut repeated = tx(1);
    repeated.endorsers = vec![&n.org1_peer, &n.org1_peer];
    cases.push(case(
        "one peer endorsing twice counts once",
        vec![repeated.build()],
        &[Code::EndorsementPolicyFailure],
    ));

    let mut tampered = tx(1);
    let mut other = update_k1();
    other[0].writes = vec![write("k1", "stolen")];
    tampered.tamper_results = Some(cambium_wire::encode_tx_rwset(
        &cambium_primitives::TxRwSet { ns: other },
    ));
    cases.push(case(
        "PRP changed after endorsement",
        vec![tampered.build()],
        &[Code::EndorsementPolicyFailure],
    ));

    let mut undefined = tx(1);
    let mut nobody = NsRwSet::new("nobody");
    nobody.writes = vec![write("x", "y")];
    undefined.rwset.ns.push(nobody);
    cases.push(
        case(
            "write to an undefined namespace",
            vec![undefined.build()],
            &[Code::EndorsementPolicyFailure],
        )
        .because(0, "nobody"),
    );

    // Channel policy references: MAJORITY of two orgs needs both, ANY needs one.
    let on = |chaincode: &str, endorsers: Vec<&'static cambium_msp::SigningIdentity>| {
        let mut ns = NsRwSet::new(chaincode);
        ns.writes = vec![write("k", "v")];
        let mut b = TxBuilder::new(1, vec![ns]);
        b.chaincode = chaincode.to_owned();
        b.endorsers = endorsers;
        b.build()
    };
    cases.push(case(
        "MAJORITY Endorsement, both orgs",
        vec![on("majority", vec![&n.org1_peer, &n.org2_peer])],
        &[Code::Valid],
    ));
    cases.push(case(
        "MAJORITY Endorsement, one org",
        vec![on("majority", vec![&n.org2_peer])],
        &[Code::EndorsementPolicyFailure],
    ));
    cases.push(case(
        "ANY Endorsement, one org",
        vec![on("anyorg", vec![&n.org2_peer])],
        &[Code::Valid],
    ));
    cases.push(case(
        "_lifecycle, both orgs",
        vec![on("_lifecycle", vec![&n.org1_peer, &n.org2_peer])],
        &[Code::Valid],
    ));
    cases.push(case(
        "_lifecycle, one org",
        vec![on("_lifecycle", vec![&n.org1_peer])],
        &[Code::EndorsementPolicyFailure],
    ));

    // A transaction that writes nothing still needs its chaincode's endorsement.
    let mut read_only = TxBuilder::new(1, vec![basic(vec![read("k1", Some((0, 0)))], vec![])]);
    read_only.endorsers = vec![&n.org1_peer];
    cases.push(case(
        "read-only, one org",
        vec![read_only.build()],
        &[Code::EndorsementPolicyFailure],
    ));
}

fn creators_and_signatures(cases: &mut Vec<Case>) {
    let n = net();
    let mut bad_sig = tx(1);
    bad_sig.envelope_signer = &n.org2_client;
    cases.push(case(
        "envelope signed by someone else",
        vec![bad_sig.build()],
        &[Code::BadCreatorSignature],
    ));

    let mut expired = tx(1);
    expired.client = &n.expired_client;
    expired.envelope_signer = &n.expired_client;
    cases.push(
        case(
            "expired creator certificate",
            vec![expired.build()],
            &[Code::BadCreatorSignature],
        )
        .because(0, "expired"),
    );

    let mut expired_endorser = tx(1);
    expired_endorser.endorsers = vec![&n.org1_peer, &n.org2_peer, &n.expired_client];
    cases.push(case(
        "an expired extra endorser is ignored",
        vec![expired_endorser.build()],
        &[Code::Valid],
    ));

    let mut foreign = tx(1);
    foreign.client = &n.foreign_client;
    foreign.envelope_signer = &n.foreign_client;
    cases.push(case(
        "creator from an unknown CA",
        vec![foreign.build()],
        &[Code::BadCreatorSignature],
    ));

    let mut foreign_endorser = tx(1);
    foreign_endorser.endorsers = vec![&n.org1_peer, &n.foreign_client];
    cases.push(case(
        "endorser from an unknown CA",
        vec![foreign_endorser.build()],
        &[Code::EndorsementPolicyFailure],
    ));
}

fn envelopes_headers_and_actions(cases: &mut Vec<Case>) {
    cases.push(case(
        "epoch other than 0",
        vec![raw_envelope_at_epoch(
            HeaderType::EndorserTransaction,
            &[7; 24],
            b"",
            1,
        )],
        &[Code::BadChannelHeader],
    ));
    cases.push(case(
        "empty envelope",
        vec![Vec::new()],
        &[Code::NilEnvelope],
    ));
    cases.push(case(
        "not an envelope",
        vec![vec![0xff, 0xff, 0xff]],
        &[Code::InvalidOtherReason],
    ));
    cases.push(case(
        "payload not a payload",
        vec![envelope_bytes(&[0xff, 0xff], b"sig")],
        &[Code::BadPayload],
    ));
    cases.push(case(
        "missing header",
        vec![envelope_bytes(&[], b"sig")],
        &[Code::BadCommonHeader],
    ));
    cases.push(case(
        "empty nonce",
        vec![raw_envelope(HeaderType::EndorserTransaction, &[], b"")],
        &[Code::BadCommonHeader],
    ));
    cases.push(case(
        "MESSAGE header type",
        vec![raw_envelope(HeaderType::Message, &[7; 24], b"")],
        &[Code::UnknownTxType],
    ));
    cases.push(case(
        "endorser transaction without actions",
        vec![raw_envelope(HeaderType::EndorserTransaction, &[7; 24], b"")],
        &[Code::InvalidEndorserTransaction],
    ));

    let mut wrong_channel = tx(1);
    wrong_channel.channel = "otherchannel".to_owned();
    cases.push(case(
        "another channel",
        vec![wrong_channel.build()],
        &[Code::TargetChainNotFound],
    ));

    let mut bad_tx_id = tx(1);
    bad_tx_id.tx_id_override = Some("00".repeat(32));
    cases.push(case(
        "tx ID not derived from nonce and creator",
        vec![bad_tx_id.build()],
        &[Code::BadProposalTxid],
    ));

    let mut bad_hash = tx(1);
    bad_hash.proposal_hash_override = Some(vec![0; 32]);
    cases.push(case(
        "proposal hash mismatch",
        vec![bad_hash.build()],
        &[Code::InvalidEndorserTransaction],
    ));

    let mut no_version = tx(1);
    no_version.version = String::new();
    cases.push(case(
        "empty chaincode version",
        vec![no_version.build()],
        &[Code::InvalidChaincode],
    ));

    let mut bad_rwset = tx(1);
    bad_rwset.raw_results = Some(vec![0xff, 0xff]);
    cases.push(case(
        "undecodable rwset",
        vec![bad_rwset.build()],
        &[Code::BadRwset],
    ));

    let repeated = TxBuilder::new(
        1,
        vec![
            basic(vec![], vec![write("a", "1")]),
            basic(vec![], vec![write("b", "2")]),
        ],
    );
    cases.push(case(
        "repeated namespace",
        vec![repeated.build()],
        &[Code::IllegalWriteset],
    ));

    let mut system = NsRwSet::new("lscc");
    system.writes = vec![write("x", "y")];
    cases.push(case(
        "write to lscc",
        vec![TxBuilder::new(1, vec![system]).build()],
        &[Code::IllegalWriteset],
    ));
}

fn duplicate_transaction_ids(cases: &mut Vec<Case>) {
    let first = tx(1).build();
    cases.push(case(
        "same tx twice in a block",
        vec![first.clone(), first, tx(2).build()],
        &[Code::Valid, Code::DuplicateTxid, Code::MvccReadConflict],
    ));

    // Nonce 200 by the Org1 client is already committed in block 0 (signatures differ).
    let mut seen = NsRwSet::new("basic");
    seen.writes = vec![write("seen", "again")];
    cases.push(
        case(
            "tx ID already in the ledger",
            vec![TxBuilder::new(200, vec![seen.clone()]).build()],
            &[Code::DuplicateTxid],
        )
        .because(0, "ledger"),
    );

    // Fabric looks the ID up before the endorsement policy: the duplicate wins.
    let mut unendorsed = TxBuilder::new(200, vec![seen]);
    unendorsed.endorsers = vec![];
    cases.push(case(
        "ledger duplicate without endorsements",
        vec![unendorsed.build()],
        &[Code::DuplicateTxid],
    ));

    // An invalid first occurrence does not claim the ID in the block.
    let mut invalid_first = tx(3);
    invalid_first.endorsers = vec![];
    cases.push(case(
        "invalid first occurrence",
        vec![invalid_first.build(), tx(3).build()],
        &[Code::EndorsementPolicyFailure, Code::Valid],
    ));
}

fn mvcc_and_phantoms(cases: &mut Vec<Case>) {
    cases.push(case(
        "two updates of one key",
        vec![tx(1).build(), tx(2).build()],
        &[Code::Valid, Code::MvccReadConflict],
    ));

    // Unrelated keys do not conflict.
    let other = TxBuilder::new(
        2,
        vec![basic(
            vec![read("k2", Some((0, 0)))],
            vec![write("k2", "z")],
        )],
    );
    cases.push(case(
        "two updates of different keys",
        vec![tx(1).build(), other.build()],
        &[Code::Valid, Code::Valid],
    ));

    let stale = TxBuilder::new(
        1,
        vec![basic(
            vec![read("k2", Some((0, 5)))],
            vec![write("k2", "z")],
        )],
    );
    cases.push(
        case(
            "stale read against committed state",
            vec![stale.build()],
            &[Code::MvccReadConflict],
        )
        .because(0, "k2"),
    );

    let absent = TxBuilder::new(
        1,
        vec![basic(vec![read("k2", None)], vec![write("k2", "z")])],
    );
    cases.push(case(
        "read as absent but committed",
        vec![absent.build()],
        &[Code::MvccReadConflict],
    ));
    let missing = TxBuilder::new(
        1,
        vec![basic(vec![read("nope", None)], vec![write("nope", "z")])],
    );
    cases.push(case(
        "read as absent and still absent",
        vec![missing.build()],
        &[Code::Valid],
    ));

    // An invalid transaction's writes do not count for later ones.
    let mut unendorsed = tx(1);
    unendorsed.endorsers = vec![&net().org1_peer];
    cases.push(case(
        "conflict only with valid writes",
        vec![unendorsed.build(), tx(2).build()],
        &[Code::EndorsementPolicyFailure, Code::Valid],
    ));

    let scan = |nonce: u8, reads| {
        let mut ns = basic(vec![], vec![write("out", "1")]);
        ns.range_queries = vec![range("r0", "r9", reads)];
        TxBuilder::new(nonce, vec![ns])
    };
    let both = || vec![read("r1", Some((0, 0))), read("r3", Some((0, 0)))];
    cases.push(case(
        "range still the same",
        vec![scan(1, both()).build()],
        &[Code::Valid],
    ));
    cases.push(case(
        "range missed a committed key",
        vec![scan(1, vec![read("r1", Some((0, 0)))]).build()],
        &[Code::PhantomReadConflict],
    ));
    cases.push(case(
        "range saw a key at an old version",
        vec![scan(1, vec![read("r1", Some((0, 0))), read("r3", Some((0, 9)))]).build()],
        &[Code::PhantomReadConflict],
    ));
    let insert = TxBuilder::new(2, vec![basic(vec![], vec![write("r2", "new")])]);
    cases.push(case(
        "an earlier tx of the block inserts into the range",
        vec![insert.build(), scan(3, both()).build()],
        &[Code::Valid, Code::PhantomReadConflict],
    ));
    let outside = TxBuilder::new(2, vec![basic(vec![], vec![write("s5", "new")])]);
    cases.push(case(
        "an insert outside the range",
        vec![outside.build(), scan(3, both()).build()],
        &[Code::Valid, Code::Valid],
    ));
    // A scan that stopped after r1 only vouches for keys up to r1.
    let mut partial = scan(1, vec![read("r1", Some((0, 0)))]);
    partial.rwset.ns[0].range_queries[0].itr_exhausted = false;
    cases.push(case(
        "partial scan, later key inserted",
        vec![insert.build(), partial.build()],
        &[Code::Valid, Code::Valid],
    ));

    // A definition commit's migration (a `_lifecycle` transaction that writes
    // `namespaces/metadata/basic` and migrates `basic`): keys inserted into its scan since are
    // allowed, keys it returned must be unchanged.
    let migration = |nonce: u8| {
        let mut lifecycle = NsRwSet::new("_lifecycle");
        lifecycle.writes = vec![write("namespaces/metadata/basic", "definition")];
        let mut ns = basic(
            vec![],
            vec![write("r1", "migrated"), write("r3", "migrated")],
        );
        ns.range_queries = vec![range("r0", "r9", both())];
        let mut b = TxBuilder::new(nonce, vec![lifecycle, ns]);
        b.chaincode = "_lifecycle".to_owned();
        b
    };
    cases.push(case(
        "migration scan, key inserted since",
        vec![insert.build(), migration(3).build()],
        &[Code::Valid, Code::Valid],
    ));
    let change = TxBuilder::new(2, vec![basic(vec![], vec![write("r3", "changed")])]);
    cases.push(case(
        "migration scan, returned key changed since",
        vec![change.build(), migration(3).build()],
        &[Code::Valid, Code::MvccReadConflict],
    ));
    let mut not_a_commit = migration(3);
    not_a_commit.rwset.ns[0].writes = vec![write("approvals/Org1MSP/basic#2", "a")];
    cases.push(case(
        "a scan in a _lifecycle transaction that commits no definition keeps the phantom rule",
        vec![insert.build(), not_a_commit.build()],
        &[Code::Valid, Code::PhantomReadConflict],
    ));
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

    check(case(
        "config with another transaction",
        vec![
            raw_envelope(HeaderType::Config, &[9; 24], &config),
            tx(1).build(),
        ],
        &[Code::InvalidConfigTransaction, Code::Valid],
    ));
    check(case(
        "config without a channel group",
        vec![raw_envelope(HeaderType::Config, &[9; 24], b"")],
        &[Code::InvalidConfigTransaction],
    ));
    check(case(
        "config that is not a config envelope",
        vec![raw_envelope(HeaderType::Config, &[9; 24], &[0xff, 0xff])],
        &[Code::InvalidConfigTransaction],
    ));
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

/// Every rule of commit-time validation, broken one at a time, in one table.
#[test]
fn every_rule_gives_fabrics_code() {
    let mut cases = Vec::new();
    envelopes_headers_and_actions(&mut cases);
    creators_and_signatures(&mut cases);
    endorsement_policies(&mut cases);
    duplicate_transaction_ids(&mut cases);
    mvcc_and_phantoms(&mut cases);
    let covered: std::collections::BTreeSet<Code> = cases
        .iter()
        .flat_map(|c| c.expected.iter().copied())
        .collect();
    for code in [
        Code::Valid,
        Code::NilEnvelope,
        Code::BadPayload,
        Code::BadCommonHeader,
        Code::BadChannelHeader,
        Code::BadCreatorSignature,
        Code::InvalidEndorserTransaction,
        Code::BadProposalTxid,
        Code::DuplicateTxid,
        Code::EndorsementPolicyFailure,
        Code::MvccReadConflict,
        Code::PhantomReadConflict,
        Code::UnknownTxType,
        Code::TargetChainNotFound,
        Code::BadRwset,
        Code::IllegalWriteset,
        Code::InvalidChaincode,
        Code::InvalidOtherReason,
    ] {
        assert!(covered.contains(&code), "no case gives {code}");
    }
    for case in cases {
        check(case);
    }
}
