//! Criterion benches of the ordering service: the block cutter's rules, the per-envelope
//! Broadcast check (parse, creator validation, signature and `Writers` policy), and
//! Broadcast→commit on one in-process orderer (16 broadcasters, 1 KiB signed envelopes, 5 ms
//! batch timeout), and authorizing a channel config update (a batch timeout change signed by
//! the orderer admin) against the sample channel's config.

use std::time::Duration;

use cambium_orderer::loadgen::{run, LoadOptions};
use cambium_orderer::{BatchConfig, BlockCutter};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn cutter(c: &mut Criterion) {
    let mut group = c.benchmark_group("cutter");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("ordered_10k_1KiB", |b| {
        b.iter(|| {
            let mut cutter = BlockCutter::new(BatchConfig::default());
            let mut blocks = 0;
            for i in 0..10_000u32 {
                blocks += cutter.ordered(i, 1024).len();
            }
            blocks
        })
    });
    group.finish();
}

fn check(c: &mut Criterion) {
    use cambium_msp::policy::{parse, Policy, PolicyGroup};
    use cambium_msp::{load_signing_identity, MspConfig, MspManager};

    let dir = tempfile::tempdir().expect("temp dir");
    let config = cambium_cryptogen::CryptoConfig::from_yaml(
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Users:\n      Count: 1\n",
    )
    .expect("crypto config");
    let crypto = cambium_cryptogen::generate(&config, dir.path(), Default::default())
        .expect("crypto material");
    let org1 = crypto.org("Org1MSP").expect("Org1");
    let msps =
        MspManager::from_configs(&[MspConfig::from_dir(&org1.msp_dir, "Org1MSP").expect("msp")])
            .expect("msps");
    let policies = PolicyGroup::new().with_policy(
        "Writers",
        Policy::Signature(parse("OR('Org1MSP.member')").expect("policy")),
    );
    let user = load_signing_identity(&org1.users[1].msp_dir, "Org1MSP").expect("user");
    let sign = || {
        cambium_orderer::client::signed_envelope(
            &user,
            "ch",
            cambium_orderer::client::HeaderType::EndorserTransaction,
            &[0xab; 1024],
        )
        .expect("envelope")
    };
    let now = cambium_orderer::client::now().seconds;
    let check = |envelope: &[u8]| {
        let view = cambium_wire::tx::parse_envelope(envelope).expect("parses");
        let signed = [cambium_msp::policy::SignedData {
            data: view.payload_bytes,
            identity: view.creator.expect("creator"),
            signature: view.signature,
        }];
        policies
            .evaluate_signed_data("Writers", &signed, &msps, now)
            .expect("allowed")
    };
    // A fresh envelope each time, as Broadcast sees them (signing is outside the timing).
    c.bench_function("check/parse_and_writers_policy_1KiB", |b| {
        b.iter_batched(sign, |envelope| check(&envelope), BatchSize::SmallInput)
    });
    // The same envelope again: the signature memo of cambium-msp answers.
    let envelope = sign();
    // In one process the signer's own signatures are already in that memo, so the ECDSA
    // verification itself, which envelopes from other processes pay, is measured alone.
    let view = cambium_wire::tx::parse_envelope(&envelope).expect("parses");
    let cert = cambium_msp::Certificate::from_pem(
        &view.creator.as_ref().expect("creator").id_bytes,
        "creator",
    )
    .expect("certificate");
    c.bench_function("check/ecdsa_p256_verify_uncached", |b| {
        b.iter(|| {
            cambium_msp::verify_uncached(cert.public_key(), &view.payload_bytes, &view.signature)
                .expect("verifies")
        })
    });
    c.bench_function("check/parse_and_writers_policy_1KiB_repeated", |b| {
        b.iter(|| check(&envelope))
    });
}

fn broadcast(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("broadcast");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let options = LoadOptions {
        envelopes_per_broadcaster: 100,
        ..LoadOptions::default()
    };
    group.throughput(Throughput::Elements(
        (options.broadcasters * options.envelopes_per_broadcaster) as u64,
    ));
    group.bench_function("one_node_16x100_1KiB", |b| {
        b.iter(|| runtime.block_on(run(&options)).expect("load runs"))
    });
    group.finish();
}

fn config_update(c: &mut Criterion) {
    use cambium_channel::{compute_update, sign_update, Value};
    use cambium_wire::config_update::ConfigUpdateEnvelope;
    let dev = cambium_testing::DevNetwork::new("mychannel");
    let org = dev.crypto.org("OrdererMSP").unwrap();
    let admin = cambium_msp::load_signing_identity(&org.admin().msp_dir, "OrdererMSP").unwrap();
    let mut group_after = dev.channel.channel_group().clone();
    group_after
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .value = Value::BatchTimeout("250ms".into());
    let update = compute_update("mychannel", dev.channel.channel_group(), &group_after)
        .unwrap()
        .encode()
        .unwrap();
    let envelope = ConfigUpdateEnvelope {
        signatures: vec![sign_update(&update, &admin).unwrap()],
        config_update: update,
    };
    let bytes = cambium_orderer::update::config_update_envelope(
        "mychannel",
        &envelope,
        &admin,
        cambium_orderer::client::now(),
    )
    .unwrap();
    let view = cambium_wire::tx::parse_envelope(&bytes).unwrap();
    let now = cambium_orderer::client::now().seconds;
    let mut group = c.benchmark_group("config_update");
    group.bench_function("authorize_batch_timeout", |b| {
        b.iter(|| cambium_orderer::update::authorize(&dev.channel, &view, now).unwrap())
    });
    let next = cambium_orderer::update::authorize(&dev.channel, &view, now).unwrap();
    group.bench_function("signed_config_envelope", |b| {
        b.iter(|| {
            cambium_orderer::update::config_envelope(
                &next,
                &view,
                &admin,
                cambium_orderer::client::now(),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, cutter, check, broadcast, config_update);
criterion_main!(benches);
