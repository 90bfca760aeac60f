//! Benchmarks of crypto material generation: parsing, planning, and writing whole networks.
//!
//! Run with `cargo bench -p cambium-cryptogen --features bench`.

use std::hint::black_box;
use std::path::Path;

use cambium_cryptogen::{generate, plan, CryptoConfig, GenerateOptions, DEFAULT_CONFIG_YAML};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn large_network() -> CryptoConfig {
    let mut config = CryptoConfig::default_network();
    config.peer_orgs.truncate(1);
    config.peer_orgs[0].template.count = 10;
    config.peer_orgs[0].users.count = 40;
    config
}

fn benches(c: &mut Criterion) {
    c.bench_function("parse_default_config", |b| {
        b.iter(|| CryptoConfig::from_yaml(black_box(DEFAULT_CONFIG_YAML)).unwrap())
    });
    let default = CryptoConfig::default_network();
    c.bench_function("plan_default_network", |b| {
        b.iter(|| plan(black_box(&default), Path::new("out")).unwrap())
    });

    let mut group = c.benchmark_group("generate");
    group.sample_size(20);
    for (name, config) in [
        ("default_network_8_identities", default.clone()),
        ("one_org_51_identities", large_network()),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| {
                    generate(&config, dir.path(), GenerateOptions::default()).unwrap();
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
