//! Criterion benches of the ordering service: the block cutter's rules, and Broadcast→commit
//! on one in-process orderer (16 broadcasters, 1 KiB signed envelopes, 5 ms batch timeout).

use std::time::Duration;

use cambium_orderer::loadgen::{run, LoadOptions};
use cambium_orderer::{BatchConfig, BlockCutter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

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

criterion_group!(benches, cutter, broadcast);
criterion_main!(benches);
