//! What signed packages cost: hashing a package, adding a signature, and the check an endorser
//! (without MSPs) and the validator (with the channel's MSPs) run per approval with two
//! signatures under `AND('Org1MSP.admin','Org2MSP.admin')`.
//!
//! `cargo bench -p cambium-lifecycle --features bench -- --quick`

use std::hint::black_box;

use cambium_cryptogen::{CryptoConfig, GenerateOptions, Role};
use cambium_lifecycle::package_signing::{self, PackageParts};
use cambium_msp::policy::{parse, Policy, PolicyGroup};
use cambium_msp::{load_signing_identity, Msp, MspConfig, MspManager};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let net = cambium_cryptogen::generate(
        &CryptoConfig::default_network(),
        dir.path(),
        GenerateOptions::default(),
    )
    .expect("crypto");
    let admin = |msp: &str| {
        let org = net.org(msp).expect("org");
        let id = org
            .users
            .iter()
            .find(|i| i.role == Role::Admin)
            .expect("admin");
        load_signing_identity(&id.msp_dir, msp).expect("identity")
    };
    let (admin1, admin2) = (admin("Org1MSP"), admin("Org2MSP"));
    let msps = MspManager::new(["Org1MSP", "Org2MSP"].map(|m| {
        Msp::new(&MspConfig::from_dir(&net.org(m).expect("org").msp_dir, m).expect("config"))
            .expect("msp")
    }))
    .expect("manager");
    let channel = PolicyGroup::new().with_group(
        "Application",
        PolicyGroup::new().with_policy(
            package_signing::POLICY_NAME,
            Policy::Signature(parse("AND('Org1MSP.admin','Org2MSP.admin')").expect("policy")),
        ),
    );
    // A package the size of a small contract's (64 KiB of code).
    let code: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    let unsigned = package_signing::write_parts(&PackageParts {
        metadata: br#"{"path":"","type":"wasm","label":"kv_1"}"#.to_vec(),
        code,
        label: "kv_1".into(),
        signatures: None,
    })
    .expect("package");
    let signed = package_signing::sign(
        &package_signing::sign(&unsigned, &admin1).expect("sign"),
        &admin2,
    )
    .expect("sign");
    let parts = package_signing::read_parts(&signed).expect("parts");
    let signatures = parts.signatures.clone().expect("signed");
    let hash = parts.hash();
    let at = admin1.certificate().not_before() + 3600;

    c.bench_function("read_parts_and_hash_64k", |b| {
        b.iter(|| {
            package_signing::read_parts(black_box(&signed))
                .expect("parts")
                .hash()
        })
    });
    c.bench_function("sign_64k", |b| {
        b.iter(|| package_signing::sign(black_box(&unsigned), &admin1).expect("sign"))
    });
    c.bench_function("endorser_check_2_signatures", |b| {
        b.iter(|| {
            package_signing::check_integrity(&signatures, &hash, "kv_1:x").expect("intact");
            package_signing::check_requirement(&channel, None, 0, Some(&signatures), "p")
                .expect("orgs could satisfy")
        })
    });
    c.bench_function("validator_check_2_signatures", |b| {
        b.iter(|| {
            package_signing::check_requirement(&channel, Some(&msps), at, Some(&signatures), "p")
                .expect("satisfied")
        })
    });
    // The checks above find the signatures in the MSP's process-wide memo of verified
    // signatures after the first iteration (as a validator does after its own peer's endorser
    // checked them); a first sight costs two full P-256 verifications:
    let keys = [
        admin1.certificate().public_key(),
        admin2.certificate().public_key(),
    ];
    let statements: Vec<Vec<u8>> = signatures
        .signatures
        .iter()
        .map(|s| package_signing::statement(&hash, &s.signer))
        .collect();
    c.bench_function("two_p256_verifications_uncached", |b| {
        b.iter(|| {
            for ((key, message), s) in keys.iter().zip(&statements).zip(&signatures.signatures) {
                cambium_msp::verify_uncached(key, message, &s.signature).expect("verifies");
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
