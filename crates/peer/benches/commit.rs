//! Broadcast → commit on a peer: 100 pre-endorsed kv puts are broadcast to the in-process
//! orderer, and the clock stops when the last one is committed on the peer (pulled over
//! Deliver, orderer signature checked, validated with two endorsements each, committed).
//!
//! `cargo bench -p cambium-peer --features bench -- --quick`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/it/support.rs"]
mod support;

use support::{broadcast, committed, endorse, proposal, Net};

const TXS: usize = 100;

fn commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (net, p1, p2) = runtime.block_on(async {
        let net = Net::new().await;
        let p1 = net.peer("Org1MSP", "peer1").await;
        let p2 = net.peer("Org2MSP", "peer2").await;
        (net, p1, p2)
    });
    let client = net.client("Org1MSP");
    let mut round = 0u64;
    let mut group = c.benchmark_group("peer");
    group.throughput(Throughput::Elements(TXS as u64));
    group.sample_size(10);
    group.bench_function("broadcast_to_commit_100_puts", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    round += 1;
                    let mut envelopes = Vec::with_capacity(TXS);
                    let mut last = String::new();
                    for i in 0..TXS {
                        let key = format!("k{round}-{i}");
                        let (signed, tx_id) = proposal(&client, &["put", &key, "value"]);
                        envelopes.push(endorse(&client, &signed, &[&p1, &p2]).await);
                        last = tx_id;
                    }
                    let start = Instant::now();
                    broadcast(&net.orderer.addr, &envelopes).await;
                    committed(&p1, &last).await;
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
    runtime.block_on(async {
        p1.shutdown().await;
        p2.shutdown().await;
        net.orderer.stop().await;
    });
}

criterion_group!(benches, commit);
criterion_main!(benches);
