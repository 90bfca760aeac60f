//! Encode/decode speed of the messages on Cambium's hot paths.

use cambium_wire::common::{Block, BlockData, BlockHeader, BlockMetadata, Envelope};
use criterion::{criterion_group, criterion_main, Criterion};
use prost::Message;
use std::hint::black_box;

fn block_of(envelopes: usize, size: usize) -> Block {
    let data = (0..envelopes)
        .map(|i| {
            Envelope {
                payload: vec![(i % 251) as u8; size],
                signature: vec![7; 72],
            }
            .encode_to_vec()
        })
        .collect();
    Block {
        header: Some(BlockHeader {
            number: 42,
            previous_hash: vec![1; 32],
            data_hash: vec![2; 32],
        }),
        data: Some(BlockData { data }),
        metadata: Some(BlockMetadata {
            metadata: vec![Vec::new(); 5],
        }),
    }
}

fn block_codec(c: &mut Criterion) {
    let block = block_of(100, 3000);
    let bytes = block.encode_to_vec();
    c.bench_function("block_100x3KB_encode", |b| {
        b.iter(|| black_box(&block).encode_to_vec())
    });
    c.bench_function("block_100x3KB_decode", |b| {
        b.iter(|| Block::decode(black_box(bytes.as_slice())).expect("valid block"))
    });
}

criterion_group!(benches, block_codec);
criterion_main!(benches);
