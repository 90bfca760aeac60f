//! Policy evaluation over real signatures, through one table-driven `check` helper.

use std::sync::LazyLock;

use cambium_msp::policy::{
    self, parse, parse_implicit_meta, verify_signed_data, Policy, PolicyError, PolicyGroup,
    SignedData,
};
use cambium_msp::{MspManager, SigningIdentity};
use cambium_primitives::ImplicitMetaRule;

use crate::pki::{date, Org, AT};

/// Three NodeOU orgs and a fourth without NodeOUs (admins by admincerts).
struct Network {
    orgs: Vec<Org>,
    msps: MspManager,
    expired: crate::pki::Leaf,
    channel: PolicyGroup,
}

static NET: LazyLock<Network> = LazyLock::new(|| {
    let orgs: Vec<Org> = (1..=4).map(Org::new).collect();
    let mut configs: Vec<_> = orgs[..3].iter().map(Org::config).collect();
    configs.push(orgs[3].legacy_config());
    let msps = MspManager::from_configs(&configs).unwrap();
    let expired = orgs[0].ca.issue_valid(
        "old.org1.example.com",
        &["peer"],
        99,
        date(2019, 1, 1),
        date(2021, 1, 1),
    );
    let mut application = PolicyGroup::new()
        .with_policy(
            "Endorsement",
            Policy::ImplicitMeta(parse_implicit_meta("MAJORITY Endorsement").unwrap()),
        )
        .with_policy(
            "Admins",
            Policy::ImplicitMeta(parse_implicit_meta("ANY Admins").unwrap()),
        )
        .with_policy(
            "AllEndorse",
            Policy::ImplicitMeta(parse_implicit_meta("ALL Endorsement").unwrap()),
        )
        .with_policy(
            "Missing",
            Policy::ImplicitMeta(parse_implicit_meta("ANY NoSuchPolicy").unwrap()),
        );
    for n in 1..=3 {
        let msp = format!("Org{n}MSP");
        let org = PolicyGroup::new()
            .with_policy(
                "Endorsement",
                Policy::Signature(parse(&format!("OR('{msp}.peer')")).unwrap()),
            )
            .with_policy(
                "Admins",
                Policy::Signature(parse(&format!("OR('{msp}.admin')")).unwrap()),
            );
        application = application.with_group(&msp, org);
    }
    let channel = PolicyGroup::new().with_group("Application", application);
    Network {
        orgs,
        msps,
        expired,
        channel,
    }
});

const MSG: &[u8] = b"the bytes every signer signs";

/// Turns `"Org2.peer"` (optionally with `!badsig`, `!highs` or `!expired`) into signed data.
fn signed(spec: &str) -> SignedData {
    let (who, tamper) = spec.split_once('!').unwrap_or((spec, ""));
    let (org, role) = who.split_once('.').unwrap();
    let n: usize = org.trim_start_matches("Org").parse().unwrap();
    let msp_id = format!("Org{n}MSP");
    let org = &NET.orgs[(n - 1) % 4];
    let leaf = match (role, tamper) {
        (_, "expired") => &NET.expired,
        ("peer", _) => &org.peer,
        ("client", _) => &org.client,
        ("admin", _) => &org.admin,
        ("orderer", _) => &org.orderer,
        other => panic!("unknown signer {other:?}"),
    };
    let signer: SigningIdentity = leaf.signing(&msp_id);
    let mut signature = signer.sign(MSG).unwrap();
    match tamper {
        "badsig" => signature = signer.sign(b"something else").unwrap(),
        "highs" => signature = high_s_twin(&signature),
        _ => {}
    }
    SignedData {
        data: MSG.to_vec(),
        identity: signer.serialized(),
        signature,
    }
}

/// The other valid signature of the same (r, s): (r, n − s), which Fabric refuses.
fn high_s_twin(der: &[u8]) -> Vec<u8> {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let r_len = der[3] as usize;
    let r = &der[4..4 + r_len];
    let s = &der[4 + r_len + 2..];
    let mut s32 = [0u8; 32];
    let s_digits = if s[0] == 0 { &s[1..] } else { s };
    s32[32 - s_digits.len()..].copy_from_slice(s_digits);
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(s32[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    let mut s_int = out.to_vec();
    while s_int.len() > 1 && s_int[0] == 0 && s_int[1] & 0x80 == 0 {
        s_int.remove(0);
    }
    if s_int[0] & 0x80 != 0 {
        s_int.insert(0, 0);
    }
    let mut body = vec![0x02, r.len() as u8];
    body.extend_from_slice(r);
    body.extend_from_slice(&[0x02, s_int.len() as u8]);
    body.extend_from_slice(&s_int);
    let mut sig = vec![0x30, body.len() as u8];
    sig.extend_from_slice(&body);
    sig
}

/// `policy` is DSL, or `meta:<path>` for a policy of the channel tree. `expected` is `Ok(())`
/// or `Err(fragment)`, a piece of the error text that must appear.
fn check(policy: &str, signers: &[&str], expected: Result<(), &str>) {
    let data: Vec<SignedData> = signers.iter().map(|s| signed(s)).collect();
    let result = match policy.strip_prefix("meta:") {
        Some(path) => NET.channel.evaluate_signed_data(path, &data, &NET.msps, AT),
        None => policy::evaluate_signed_data(
            "endorsement policy",
            &parse(policy).unwrap(),
            &data,
            &NET.msps,
            AT,
        ),
    };
    match (result, expected) {
        (Ok(()), Ok(())) => {}
        (Err(e), Err(fragment)) => {
            let text = e.to_string();
            assert!(
                text.contains(fragment),
                "{policy} {signers:?}:\n  error    {text}\n  expected …{fragment}…"
            );
        }
        (got, want) => panic!("{policy} signed by {signers:?}: got {got:?}, expected {want:?}"),
    }
}

#[test]
fn signature_policies() {
    let and12 = "AND('Org1MSP.peer', 'Org2MSP.peer')";
    let cases: &[(&str, &[&str], Result<(), &str>)] = &[
        // AND / OR
        (and12, &["Org1.peer", "Org2.peer"], Ok(())),
        (and12, &["Org2.peer", "Org1.peer"], Ok(())),
        (
            and12,
            &["Org1.peer"],
            Err("endorsement policy AND('Org1MSP.peer', 'Org2MSP.peer') not satisfied: missing a signature from Org2MSP.peer"),
        ),
        (and12, &[], Err("missing signatures: none of the signers satisfied Org1MSP.peer, Org2MSP.peer")),
        ("OR('Org1MSP.peer', 'Org2MSP.peer')", &["Org2.peer"], Ok(())),
        ("OR('Org1MSP.peer', 'Org2MSP.peer')", &["Org2.client", "Org3.peer"], Err("none of the signers satisfied Org1MSP.peer, Org2MSP.peer")),
        // Duplicates: one identity counts once, however often it signs.
        ("AND('Org1MSP.member', 'Org1MSP.member')", &["Org1.peer", "Org1.peer"], Err("missing a signature from Org1MSP.member")),
        ("AND('Org1MSP.member', 'Org1MSP.member')", &["Org1.peer", "Org1.client"], Ok(())),
        ("OutOf(2, 'Org1MSP.member', 'Org2MSP.member', 'Org3MSP.member')", &["Org1.peer", "Org1.client"], Err("not satisfied")),
        // Thresholds
        ("OutOf(2, 'Org1MSP.member', 'Org2MSP.member', 'Org3MSP.member')", &["Org1.client", "Org3.peer"], Ok(())),
        ("OutOf(3, 'Org1MSP.member', 'Org2MSP.member', 'Org3MSP.member')", &["Org1.client", "Org3.peer"], Err("missing a signature from Org2MSP.member")),
        ("OutOf(0, 'Org1MSP.peer')", &[], Ok(())),
        ("OutOf(2, 'Org1MSP.peer')", &["Org1.peer"], Err("not satisfied")),
        // Roles: wrong role, admin versus member
        ("OR('Org1MSP.orderer')", &["Org1.peer"], Err("missing a signature from Org1MSP.orderer")),
        ("OR('Org1MSP.orderer')", &["Org1.orderer"], Ok(())),
        ("OR('Org1MSP.client')", &["Org1.client"], Ok(())),
        ("OR('Org1MSP.admin')", &["Org1.peer", "Org1.client"], Err("missing a signature from Org1MSP.admin")),
        ("OR('Org1MSP.admin')", &["Org1.admin"], Ok(())),
        ("OR('Org1MSP.member')", &["Org1.admin"], Ok(())),
        ("OR('Org1MSP.peer')", &["Org2.peer"], Err("missing a signature from Org1MSP.peer")),
        // Without NodeOUs: admins by admincerts, and roles cannot be told apart.
        ("OR('Org4MSP.admin')", &["Org4.admin"], Ok(())),
        ("OR('Org4MSP.admin')", &["Org4.peer"], Err("missing a signature from Org4MSP.admin")),
        ("OR('Org4MSP.member')", &["Org4.peer"], Ok(())),
        ("OR('Org4MSP.peer')", &["Org4.peer"], Err("missing a signature from Org4MSP.peer")),
        // Invalid signatures are ignored, and the error says why.
        (
            and12,
            &["Org1.peer", "Org2.peer!badsig"],
            Err("missing a signature from Org2MSP.peer; 1 signature(s) were ignored: signature #2 (Org2MSP): signature verification failed for 'CN=peer0.org2.example.com,OU=peer,C=US' of Org2MSP"),
        ),
        (and12, &["Org1.peer", "Org2.peer!highs"], Err("signature #2 (Org2MSP): signature has a high S value; Fabric requires low-S signatures")),
        (and12, &["Org2.peer!badsig", "Org2.peer", "Org1.peer"], Ok(())),
        ("OR('Org1MSP.peer')", &["Org1.peer!expired"], Err("expired at 2021-01-01T00:00:00Z")),
        ("OR('Org1MSP.peer')", &["Org5.peer", "Org1.peer"], Ok(())),
        ("OR('Org5MSP.peer')", &["Org5.peer"], Err("unknown MSP ID 'Org5MSP'; known MSPs: Org1MSP, Org2MSP, Org3MSP, Org4MSP")),
        // Nested OutOf
        (
            "OutOf(2, AND('Org1MSP.peer', 'Org2MSP.peer'), OutOf(1, 'Org3MSP.peer', 'Org3MSP.admin'), 'Org1MSP.client')",
            &["Org3.admin", "Org1.client"],
            Ok(()),
        ),
        (
            "OutOf(2, AND('Org1MSP.peer', 'Org2MSP.peer'), OutOf(1, 'Org3MSP.peer', 'Org3MSP.admin'), 'Org1MSP.client')",
            &["Org1.peer", "Org3.peer"],
            Err("missing signatures: none of the signers satisfied Org2MSP.peer, Org1MSP.client"),
        ),
        ("AND(OR('Org1MSP.peer', 'Org2MSP.peer'), OR('Org1MSP.peer', 'Org2MSP.peer'))", &["Org1.peer"], Err("not satisfied")),
        // Fabric's evaluation is greedy: a leaf takes the first fitting signer and never gives it
        // back, so signer order can matter. Cambium keeps this so that every peer agrees with Fabric.
        ("AND('Org1MSP.member', 'Org1MSP.peer')", &["Org1.client", "Org1.peer"], Ok(())),
        ("AND('Org1MSP.member', 'Org1MSP.peer')", &["Org1.peer", "Org1.client"], Err("missing a signature from Org1MSP.peer")),
        // A gate does not stop at its threshold: the first OR consumes both peers (one per
        // leaf), leaving nothing for the second OR. Fabric's cauthdsl behaves the same way.
        (
            "AND(OR('Org1MSP.peer', 'Org2MSP.peer'), OR('Org1MSP.peer', 'Org2MSP.peer'))",
            &["Org1.peer", "Org2.peer"],
            Err("not satisfied"),
        ),
        ("AND(OR('Org1MSP.peer', 'Org2MSP.peer'), OR('Org1MSP.peer', 'Org2MSP.peer'))", &["Org1.peer", "Org2.peer", "Org1.client", "Org1.admin"], Err("not satisfied")),
        ("AND(OR('Org1MSP.member', 'Org2MSP.peer'), OR('Org1MSP.member', 'Org2MSP.peer'))", &["Org1.peer", "Org1.client"], Ok(())),
    ];
    for (policy, signers, expected) in cases {
        check(policy, signers, *expected);
    }
}

#[test]
fn implicit_meta_policies() {
    let cases: &[(&str, &[&str], Result<(), &str>)] = &[
        ("meta:Application/Endorsement", &["Org1.peer", "Org3.peer"], Ok(())),
        (
            "meta:Application/Endorsement",
            &["Org1.peer", "Org1.client"],
            Err("policy Application/Endorsement (MAJORITY Endorsement) not satisfied: 1 of 3 'Endorsement' sub-policies satisfied, 2 required; policy Org2MSP/Endorsement OR('Org2MSP.peer') not satisfied: missing a signature from Org2MSP.peer"),
        ),
        ("meta:Application/Admins", &["Org2.admin"], Ok(())),
        ("meta:Application/Admins", &["Org2.peer"], Err("0 of 3 'Admins' sub-policies satisfied, 1 required")),
        ("meta:Application/AllEndorse", &["Org1.peer", "Org2.peer", "Org3.peer"], Ok(())),
        ("meta:Application/AllEndorse", &["Org1.peer", "Org2.peer"], Err("2 of 3 'Endorsement' sub-policies satisfied, 3 required")),
        ("meta:/Application/Org2MSP/Admins", &["Org2.admin"], Ok(())),
        ("meta:Application/Missing", &["Org1.admin"], Err("no policy at 'Org1MSP/NoSuchPolicy'; the group does not define it")),
        ("meta:Application/Nope", &[], Err("no policy at 'Application/Nope'; this group has the policies: Admins, AllEndorse, Endorsement, Missing")),
        ("meta:Orderer/Admins", &[], Err("there is no group 'Orderer'")),
    ];
    for (policy, signers, expected) in cases {
        check(policy, signers, *expected);
    }
}

#[test]
fn implicit_meta_over_no_children_is_satisfied_as_in_fabric() {
    // Fabric's implicitmeta.go sets the threshold to 0 when there are no sub-groups.
    let empty = PolicyGroup::new().with_policy(
        "Admins",
        Policy::ImplicitMeta(parse_implicit_meta("ANY Admins").unwrap()),
    );
    let verified = verify_signed_data(&[], &NET.msps, AT);
    empty.evaluate("Admins", &verified, &NET.msps).unwrap();
}

#[test]
fn implicit_meta_strings_parse_as_configtxgen_does() {
    let p = parse_implicit_meta("MAJORITY Endorsement").unwrap();
    assert_eq!(
        (p.rule, p.sub_policy.as_str()),
        (ImplicitMetaRule::Majority, "Endorsement")
    );
    assert_eq!(
        parse_implicit_meta("ANY Readers").unwrap().to_string(),
        "ANY Readers"
    );
    for (input, fragment) in [
        (
            "any Readers",
            "unknown rule 'any'; use ANY, ALL or MAJORITY (in capitals)",
        ),
        (
            "ANY",
            "expected two tokens separated by one space, like 'MAJORITY Endorsement', found 1",
        ),
        ("ANY  Readers", "found 3"),
        ("ANY ", "the sub-policy name is empty"),
    ] {
        let err = parse_implicit_meta(input).unwrap_err();
        assert!(matches!(err, PolicyError::BadImplicitMeta { .. }));
        assert!(err.to_string().contains(fragment), "{input}: {err}");
    }
}

#[test]
fn verified_signatures_report_duplicates_and_rejections() {
    let data: Vec<SignedData> = ["Org1.peer", "Org1.peer", "Org2.peer!badsig", "Org2.peer"]
        .iter()
        .map(|s| signed(s))
        .collect();
    let verified = verify_signed_data(&data, &NET.msps, AT);
    assert_eq!(verified.identities.len(), 2);
    assert_eq!(verified.duplicates, 1);
    assert_eq!(verified.rejected.len(), 1);
    assert_eq!(verified.rejected[0].index, 2);
    let ev = policy::evaluate(
        &parse("AND('Org1MSP.peer', 'Org3MSP.peer')").unwrap(),
        &verified,
        &NET.msps,
    )
    .unwrap();
    assert!(!ev.satisfied);
    assert_eq!(
        ev.unsatisfied,
        parse("OR('Org3MSP.peer')").unwrap().identities
    );
}

#[test]
fn malformed_envelopes_are_refused() {
    use cambium_primitives::{SignaturePolicy, SignaturePolicyEnvelope};
    let verified = verify_signed_data(&[], &NET.msps, AT);
    let bad_index = SignaturePolicyEnvelope {
        version: 0,
        rule: SignaturePolicy::SignedBy(2),
        identities: vec![],
    };
    assert_eq!(
        policy::evaluate(&bad_index, &verified, &NET.msps)
            .unwrap_err()
            .to_string(),
        "signature policy is malformed: SignedBy(2) refers to identity 2 but the policy lists 0"
    );
    let bad_version = SignaturePolicyEnvelope {
        version: 1,
        ..parse("OR('Org1MSP.peer')").unwrap()
    };
    assert!(policy::evaluate(&bad_version, &verified, &NET.msps)
        .unwrap_err()
        .to_string()
        .contains("version 1"));
}
