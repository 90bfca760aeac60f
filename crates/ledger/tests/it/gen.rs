//! Random blocks for the crash and property tests, from a small deterministic generator.

use cambium_ledger::testkit::{ChainBuilder, TestTx};
use cambium_ledger::{BlockCommit, KeyMetadata, KeyWrite, TxValidationCode};

/// xorshift64*: deterministic, seedable, no dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NAMESPACES: [&str; 2] = ["basic", "marbles"];

fn random_write(rng: &mut Rng) -> KeyWrite {
    let ns = NAMESPACES[rng.below(2) as usize];
    let key = if rng.below(5) == 0 {
        format!(
            "\u{0}color\u{0}c{}\u{0}k{}\u{0}",
            rng.below(4),
            rng.below(40)
        )
    } else {
        format!("key{:03}", rng.below(150))
    };
    match rng.below(10) {
        0 => KeyWrite::delete(ns, key),
        1 => {
            let md: KeyMetadata = [(
                "VALIDATION_PARAMETER".to_string(),
                vec![rng.below(256) as u8; 3],
            )]
            .into();
            KeyWrite::metadata(ns, key, md)
        }
        _ => {
            let len = if rng.below(8) == 0 {
                500 + rng.below(3000)
            } else {
                rng.below(64)
            };
            let value = (0..len)
                .map(|i| (i as u8) ^ (rng.0 as u8))
                .collect::<Vec<u8>>();
            KeyWrite::put(ns, key, value)
        }
    }
}

/// A block of up to `max_txs` random transactions (some invalid, some with repeated IDs).
pub(crate) fn random_block(chain: &mut ChainBuilder, rng: &mut Rng, max_txs: u64) -> BlockCommit {
    let n = rng.below(max_txs + 1);
    let height = chain.next_number();
    let txs: Vec<TestTx> = (0..n)
        .map(|i| {
            let id = if rng.below(20) == 0 {
                format!("dup-{}", rng.below(3))
            } else {
                format!("tx-{height}-{i}-{:x}", rng.next())
            };
            let writes = (0..1 + rng.below(3)).map(|_| random_write(rng)).collect();
            match rng.below(10) {
                0 => TestTx::invalid(id, TxValidationCode::MvccReadConflict, writes),
                1 => TestTx::invalid(id, TxValidationCode::EndorsementPolicyFailure, writes),
                _ => {
                    let mut tx = TestTx::valid(id, writes);
                    tx.timestamp_seconds = 1_700_000_000 + height as i64;
                    tx
                }
            }
        })
        .collect();
    chain.block(&txs)
}
