//! The gateway's own overhead on the Endorse and Submit round trip, over gRPC against the
//! in-process test network of `tests/it` (real endorsers, ledgers and orderer).
//!
//! - `endorser_direct`: the local endorser's `process_proposal` alone (the floor).
//! - `gateway_endorse_local`: Endorse through the gateway for a one-org (OR) policy; minus
//!   the floor, this is the gateway's overhead (gRPC, parsing, planning, envelope).
//! - `gateway_endorse_submit_local`: Endorse, client signature and Submit (accepted by the
//!   orderer, not waiting for the commit).
//! - `gateway_endorse_two_orgs`: Endorse for the channel's MAJORITY policy (local plus a
//!   remote endorser over gRPC).

#[path = "../tests/it/support.rs"]
#[allow(dead_code, unreachable_pub)]
mod support;

use std::time::Duration;

use cambium_wire::gateway::{EndorseRequest, SubmitRequest};
use cambium_wire::Message;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use support::{material, proposal, Net, CHANNEL};

fn endorse_request(signed: cambium_wire::peer::SignedProposal) -> EndorseRequest {
    EndorseRequest {
        transaction_id: String::new(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed),
        endorsing_organizations: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let net = rt.block_on(Net::start());
    let mut group = c.benchmark_group("gateway");
    group.measurement_time(Duration::from_secs(5));

    let counter = std::cell::Cell::new(0u64);
    let next_key = || {
        counter.set(counter.get() + 1);
        format!("bench{}", counter.get())
    };

    group.bench_function("endorser_direct", |b| {
        b.iter_batched(
            || {
                proposal("solo", &["put", &next_key(), "v"])
                    .1
                    .encode_to_vec()
            },
            |bytes| {
                let response = net.peer.endorser.process_proposal(&bytes).unwrap();
                assert!(response.is_endorsed());
            },
            BatchSize::SmallInput,
        );
    });

    group.bench_function("gateway_endorse_local", |b| {
        b.iter_batched(
            || proposal("solo", &["put", &next_key(), "v"]).1,
            |signed| {
                let mut client = net.client.clone();
                rt.block_on(client.endorse(endorse_request(signed)))
                    .unwrap();
            },
            BatchSize::SmallInput,
        );
    });

    group.bench_function("gateway_endorse_submit_local", |b| {
        b.iter_batched(
            || proposal("solo", &["put", &next_key(), "v"]),
            |(tx_id, signed)| {
                let mut client = net.client.clone();
                rt.block_on(async {
                    let mut envelope = client
                        .endorse(endorse_request(signed))
                        .await
                        .unwrap()
                        .into_inner()
                        .prepared_transaction
                        .unwrap();
                    envelope.signature = material().org1_client.sign(&envelope.payload).unwrap();
                    client
                        .submit(SubmitRequest {
                            transaction_id: tx_id,
                            channel_id: CHANNEL.into(),
                            prepared_transaction: Some(envelope),
                        })
                        .await
                        .unwrap();
                });
            },
            BatchSize::SmallInput,
        );
    });

    group.bench_function("gateway_endorse_two_orgs", |b| {
        b.iter_batched(
            || proposal("kv", &["put", &next_key(), "v"]).1,
            |signed| {
                let mut client = net.client.clone();
                rt.block_on(client.endorse(endorse_request(signed)))
                    .unwrap();
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
