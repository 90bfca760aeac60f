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

criterion_group!(backends, bench_ring, bench_aws_lc, bench_p256);
criterion_main!(backends);
