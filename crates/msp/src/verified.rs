//! A process-wide memo of signatures already verified.
//!
//! ECDSA verification is a pure function of (public key, message, signature), and it is
//! the largest per-transaction cost of a Cambium node: one transaction's signatures are
//! checked by the gateway's endorsers, the orderer and every committing peer. When several
//! of those run in one process (`cambium up`, or a peer that endorses and then validates its
//! own endorsement), they all ask the same question. This memo remembers the answer "valid"
//! for a bounded number of recent triples, so a repeated check costs two SHA-256 hashes
//! instead of a scalar multiplication. Signatures this process produces are recorded as they
//! are made ([`crate::PrivateKey::sign`]): a signature made with a key is valid for it.
//!
//! Only successful verifications are remembered, and the key covers the exact public key,
//! message digest and signature bytes, so a hit returns exactly what a fresh verification
//! would. Nothing here affects determinism: the answer is the same with or without the memo.

use std::collections::HashSet;
use std::sync::Mutex;

use ring::digest::{Context, SHA256};

/// Shards, to keep lock contention low when validation threads verify in parallel.
const SHARDS: usize = 16;
/// Entries per generation per shard; two generations are kept, so the memo holds between
/// `SHARDS * GENERATION` and `2 * SHARDS * GENERATION` recent triples (about 5 MiB at most).
const GENERATION: usize = 4096;

/// Two generations of 32-byte keys: lookups check both, inserts go to the young one, and
/// when it is full the old one is dropped. A cheap approximation of LRU.
#[derive(Default)]
struct Shard {
    young: HashSet<[u8; 32]>,
    old: HashSet<[u8; 32]>,
}

static MEMO: [Mutex<Option<Shard>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

/// The memo key of a (public key, message, signature) triple:
/// SHA-256(len(pk) ‖ pk ‖ SHA-256(message) ‖ signature).
pub(crate) fn key(public_key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
    let message_digest = ring::digest::digest(&SHA256, message);
    let mut ctx = Context::new(&SHA256);
    ctx.update(&(public_key.len() as u32).to_be_bytes());
    ctx.update(public_key);
    ctx.update(message_digest.as_ref());
    ctx.update(signature);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn shard(key: &[u8; 32]) -> &'static Mutex<Option<Shard>> {
    &MEMO[usize::from(key[0]) % SHARDS]
}

/// Whether the triple behind `key` was verified (or signed) in this process recently.
pub(crate) fn contains(key: &[u8; 32]) -> bool {
    let guard = shard(key).lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .is_some_and(|s| s.young.contains(key) || s.old.contains(key))
}

/// Remembers that the triple behind `key` is a valid signature.
pub(crate) fn insert(key: [u8; 32]) {
    let mut guard = shard(&key).lock().unwrap_or_else(|e| e.into_inner());
    let shard = guard.get_or_insert_with(Shard::default);
    if shard.young.len() >= GENERATION {
        shard.old = std::mem::take(&mut shard.young);
    }
    shard.young.insert(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_when_any_part_differs() {
        let base = key(b"pk", b"message", b"sig");
        assert_ne!(base, key(b"pk2", b"message", b"sig"));
        assert_ne!(base, key(b"pk", b"message2", b"sig"));
        assert_ne!(base, key(b"pk", b"message", b"sig2"));
        // The length prefix keeps (pk ‖ digest) boundaries unambiguous.
        assert_ne!(key(b"ab", b"m", b"s"), key(b"a", b"m", b"s"));
    }

    #[test]
    fn memo_is_bounded_and_keeps_recent_entries() {
        // Fill one shard well past two generations; the newest entries stay, the oldest go.
        let mut keys = Vec::new();
        let mut n = 0u32;
        while keys.len() < 3 * GENERATION {
            let k = key(b"bounded", &n.to_be_bytes(), b"s");
            n += 1;
            if usize::from(k[0]) % SHARDS == 3 {
                keys.push(k);
            }
        }
        for k in &keys {
            insert(*k);
        }
        assert!(contains(keys.last().unwrap()));
        assert!(!contains(&keys[0]));
        let guard = MEMO[3].lock().unwrap();
        let s = guard.as_ref().unwrap();
        assert!(s.young.len() + s.old.len() <= 2 * GENERATION);
    }
}
