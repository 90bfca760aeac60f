//! The client-side cost of one gateway transaction in `cambium bench gateway`: building and
//! signing the proposal, and signing the prepared envelope, so the load generator's own share
//! of the measured latency is known. Run with
//! `cargo bench -p cambium-node --features bench -- --quick`.

use std::hint::black_box;

use cambium_node::client;
use criterion::{criterion_group, criterion_main, Criterion};

fn client_side(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let crypto = cambium_cryptogen::generate(
        &cambium_cryptogen::CryptoConfig::default_network(),
        dir.path(),
        cambium_cryptogen::GenerateOptions::default(),
    )
    .expect("crypto material");
    let org = crypto.org("Org1MSP").expect("Org1");
    let user = &org.users[1];
    let signer = cambium_msp::load_signing_identity(&user.msp_dir, "Org1MSP").expect("User1");
    let args: Vec<Vec<u8>> = ["CreateAsset", "asset-1", "blue", "5", "Tom", "100"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();

    c.bench_function("signed CreateAsset proposal", |b| {
        b.iter(|| {
            client::signed_proposal(black_box(&signer), "mychannel", "basic", args.clone())
                .expect("signs")
        })
    });
    let payload = vec![7u8; 1500];
    c.bench_function("sign a 1.5 KB prepared envelope", |b| {
        b.iter(|| signer.sign(black_box(&payload)).expect("signs"))
    });
}

criterion_group!(benches, client_side);
criterion_main!(benches);
