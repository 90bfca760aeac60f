//! Criterion benches: building a genesis block, decoding a config block (which builds the
//! MSPs), and evaluating `MAJORITY Endorsement` through the config over two real signatures.

use std::time::{SystemTime, UNIX_EPOCH};

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{genesis_block, ChannelConfig, Timestamp, DEFAULT_CHANNEL_YAML};
use cambium_cryptogen::{CryptoConfig, GenerateOptions};
use cambium_msp::policy::SignedData;
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let network = cambium_cryptogen::generate(
        &CryptoConfig::default_network(),
        &dir.path().join("crypto"),
        GenerateOptions::default(),
    )
    .unwrap();
    let yaml_path = dir.path().join("channel.yaml");
    std::fs::write(&yaml_path, DEFAULT_CHANNEL_YAML).unwrap();
    let spec = yaml::load(&yaml_path, &LoadOptions::default()).unwrap();
    let config = ChannelConfig::from_spec(&spec).unwrap();
    let t = Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    };
    let block = genesis_block(&config, t);

    c.bench_function("yaml_load_sample", |b| {
        b.iter(|| yaml::load(&yaml_path, &LoadOptions::default()).unwrap())
    });
    c.bench_function("genesis_block_3_orgs", |b| {
        b.iter(|| genesis_block(&config, t))
    });
    c.bench_function("from_config_block_3_orgs", |b| {
        b.iter(|| ChannelConfig::from_config_block(&block).unwrap())
    });

    let data = b"proposal response payload".to_vec();
    let signed: Vec<SignedData> = ["Org1MSP", "Org2MSP"]
        .iter()
        .map(|msp| {
            let org = network.org(msp).unwrap();
            let id = cambium_msp::load_signing_identity(&org.nodes[0].msp_dir, msp).unwrap();
            SignedData {
                data: data.clone(),
                identity: id.serialized(),
                signature: id.sign(&data).unwrap(),
            }
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    c.bench_function("evaluate_majority_endorsement_2_orgs", |b| {
        b.iter(|| {
            config
                .evaluate("/Channel/Application/Endorsement", &signed, now)
                .unwrap()
        })
    });
}

criterion_group!(channel, benches);
criterion_main!(channel);
