//! ECDSA P-256 / SHA-256 backend comparison and the cost of Cambium's own sign and verify.
//!
//! Compares `ring`, `aws-lc-rs` and RustCrypto `p256` on the operation Fabric needs (sign a
//! message hashed with SHA-256, DER signature; verify it), then measures `cambium-msp`'s
//! `sign`/`verify`, which add low-S normalisation and strict DER checks on top of the chosen
//! backend. Run with `cargo bench -p cambium-msp --features bench -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion};

/// A message about the size of a signed proposal.
fn message() -> Vec<u8> {
    (0..600u32).map(|i| (i * 31 % 251) as u8).collect()
}

fn bench_ring(c: &mut Criterion) {
    use ring::rand::SystemRandom;
    use ring::signature::{self, EcdsaKeyPair, KeyPair};
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate key");
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("load key");
    let msg = message();
    let sig = key.sign(&rng, &msg).expect("sign");
    let public = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        key.public_key().as_ref().to_vec(),
    );
    let mut group = c.benchmark_group("ecdsa_p256/ring");
    group.bench_function("sign", |b| b.iter(|| key.sign(&rng, &msg).expect("sign")));
    group.bench_function("verify", |b| {
        b.iter(|| public.verify(&msg, sig.as_ref()).expect("verify"))
    });
    group.finish();
}

fn bench_aws_lc(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate key");
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).expect("load key");
    let msg = message();
    let sig = key.sign(&rng, &msg).expect("sign");
    let public = signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        key.public_key().as_ref().to_vec(),
    );
    let mut group = c.benchmark_group("ecdsa_p256/aws-lc-rs");
    group.bench_function("sign", |b| b.iter(|| key.sign(&rng, &msg).expect("sign")));
    group.bench_function("verify", |b| {
        b.iter(|| public.verify(&msg, sig.as_ref()).expect("verify"))
    });
    group.finish();
}

fn bench_p256(c: &mut Criterion) {
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
    let mut scalar = [0u8; 32];
    for (i, b) in scalar.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    let key = SigningKey::from_slice(&scalar).expect("valid scalar");
    let verifying = VerifyingKey::from(&key);
    let msg = message();
    let sig: DerSignature = key.sign(&msg);
    let mut group = c.benchmark_group("ecdsa_p256/p256");
    group.bench_function("sign", |b| {
        b.iter(|| {
            let s: DerSignature = key.sign(&msg);
            s
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let parsed = p256::ecdsa::Signature::from_der(sig.as_bytes()).expect("der");
            verifying.verify(&msg, &parsed).expect("verify")
        })
    });
    group.finish();
}

/// Cambium's own operations on the chosen backend: low-S signing, strict verification, a
/// cached MSP validation and a two-org AND policy evaluated over two signatures.
fn bench_cambium(c: &mut Criterion) {
    use cambium_msp::policy::{evaluate_signed_data, parse, SignedData};
    use cambium_msp::{
        verify_signature, verify_uncached, MspConfig, MspManager, NodeOusConfig,
        OuIdentifierConfig, PrivateKey, SigningIdentity,
    };
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    let (key, _) = PrivateKey::generate().expect("key");
    let msg = message();
    let sig = key.sign(&msg).expect("sign");
    let mut group = c.benchmark_group("cambium");
    group.bench_function("sign_low_s", |b| b.iter(|| key.sign(&msg).expect("sign")));
    group.bench_function("verify_strict", |b| {
        b.iter(|| verify_uncached(key.public_key(), &msg, &sig).expect("verify"))
    });
    // The same check answered by the process-wide memo of verified signatures.
    group.bench_function("verify_memo_hit", |b| {
        b.iter(|| verify_signature(key.public_key(), &msg, &sig).expect("verify"))
    });

    // Two orgs with NodeOUs, one peer each.
    let mut configs = Vec::new();
    let mut signers = Vec::new();
    for n in 1..=2 {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("ca.org{n}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("key");
        let ca_pem = ca_params.self_signed(&ca_key).expect("ca").pem();
        let mut peer_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        peer_params
            .distinguished_name
            .push(DnType::CommonName, format!("peer0.org{n}"));
        peer_params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "peer");
        let peer_key = KeyPair::generate().expect("key");
        let peer_pem = peer_params
            .signed_by(&peer_key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("peer")
            .pem();
        let ou = |name: &str| {
            Some(OuIdentifierConfig {
                certificate: Vec::new(),
                organizational_unit_identifier: name.to_owned(),
            })
        };
        configs.push(MspConfig {
            name: format!("Org{n}MSP"),
            root_certs: vec![ca_pem.into_bytes()],
            node_ous: Some(NodeOusConfig {
                enable: true,
                client_ou_identifier: ou("client"),
                peer_ou_identifier: ou("peer"),
                admin_ou_identifier: ou("admin"),
                orderer_ou_identifier: ou("orderer"),
            }),
            ..MspConfig::default()
        });
        signers.push(
            SigningIdentity::new(
                &format!("Org{n}MSP"),
                peer_pem.into_bytes(),
                peer_key.serialize_pem().as_bytes(),
            )
            .expect("signer"),
        );
    }
    // A peer certificate parsed from its PEM: a fresh parse (from DER) against the memo hit
    // every later `Certificate::from_pem` of the same bytes gets.
    let peer_pem = signers[0].certificate_pem().to_vec();
    let peer_der = cambium_msp::Certificate::from_pem(&peer_pem, "bench")
        .expect("cert")
        .der()
        .to_vec();
    group.bench_function("certificate_parse", |b| {
        b.iter(|| cambium_msp::Certificate::from_der(peer_der.clone(), "bench").expect("cert"))
    });
    group.bench_function("certificate_from_pem_memo_hit", |b| {
        b.iter(|| cambium_msp::Certificate::from_pem(&peer_pem, "bench").expect("cert"))
    });
    let msps = MspManager::from_configs(&configs).expect("msps");
    let now = 1_780_272_000;
    let sid = signers[0].serialized();
    group.bench_function("validate_cached", |b| {
        b.iter(|| msps.validate(&sid, now).expect("valid"))
    });
    let policy = parse("AND('Org1MSP.peer', 'Org2MSP.peer')").expect("policy");
    let signed: Vec<SignedData> = signers
        .iter()
        .map(|s| SignedData {
            data: msg.clone(),
            identity: s.serialized(),
            signature: s.sign(&msg).expect("sign"),
        })
        .collect();
    group.bench_function("policy_and_2_orgs", |b| {
        b.iter(|| {
            evaluate_signed_data("endorsement policy", &policy, &signed, &msps, now)
                .expect("satisfied")
        })
    });
    group.bench_function("parse_policy", |b| {
        b.iter(|| {
            parse(
                "OutOf(2, 'Org1MSP.peer', AND('Org2MSP.peer', 'Org3MSP.admin'), 'Org4MSP.member')",
            )
            .expect("ok")
        })
    });
    group.finish();
}

criterion_group!(
    backends,
    bench_ring,
    bench_aws_lc,
    bench_p256,
    bench_cambium
);
criterion_main!(backends);
