//! What recording costs the committer per block, and what a scrape costs: one 100-transaction
//! block's metrics (100 validation codes, height, commit latency), and encoding `/metrics` with
//! 10 channels and 5 contracts recorded; and one endorsement recorded per contract version
//! through a kept handle, against a lookup by labels per call.

use cambium_ops::{EndorsementResult, Metrics};
use criterion::{criterion_group, criterion_main, Criterion};

fn record_block(c: &mut Criterion) {
    let metrics = Metrics::new();
    let mut height = 0u64;
    c.bench_function("record a 100-transaction block", |b| {
        b.iter(|| {
            for i in 0..100 {
                let code = if i % 10 == 0 {
                    "MVCC_READ_CONFLICT"
                } else {
                    "VALID"
                };
                metrics.record_transaction("mychannel", code);
            }
            height += 1;
            metrics.set_height("mychannel", height);
            metrics.observe_block_commit("mychannel", 0.004);
        })
    });
}

fn encode(c: &mut Criterion) {
    let metrics = Metrics::new();
    for ch in 0..10 {
        let channel = format!("channel{ch}");
        metrics.set_height(&channel, 1000);
        metrics.record_transaction(&channel, "VALID");
        metrics.observe_block_commit(&channel, 0.01);
        for contract in 0..5 {
            let name = format!("contract{contract}");
            metrics.observe_endorsement(&channel, &name, "success", 0.002);
            metrics.record_invocation(&channel, &name, "1.0");
        }
    }
    c.bench_function("encode /metrics (10 channels, 5 contracts)", |b| {
        b.iter(|| std::hint::black_box(metrics.encode()).len())
    });
}

fn record_endorsement(c: &mut Criterion) {
    let metrics = Metrics::new();
    let handle = metrics.contract_version("mychannel", "basic", "2.0");
    c.bench_function("record an endorsement (kept handle)", |b| {
        b.iter(|| handle.record(EndorsementResult::Ok, 0.000_2))
    });
    c.bench_function("record an endorsement (labels per call)", |b| {
        b.iter(|| {
            metrics
                .contract_version("mychannel", "basic", "2.0")
                .record(EndorsementResult::Ok, 0.000_2)
        })
    });
}

criterion_group!(benches, record_block, encode, record_endorsement);
criterion_main!(benches);
