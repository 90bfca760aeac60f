//! The overlay: what recently committed blocks changed, held in memory until the store writes
//! several blocks into redb in one transaction.
//!
//! Each committed block that is not yet in redb becomes one immutable [`Layer`]: the final
//! value of every key the block wrote (`None` for a delete, metadata already resolved), the
//! history versions it added per key, its tx-ID entries and its block-file location. The
//! published overlay is an `Arc`-shared list of layers, oldest first, covering exactly the
//! blocks above redb's savepoint; a snapshot clones the list and reads it on top of a redb read
//! transaction, newest layer first. Everything is ordered (`BTreeMap`), so a range scan merges
//! the layers and redb deterministically ([`Merged`]).

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::Arc;

use crate::codec::{BlockLoc, TxRecord};
use crate::error::Result;
use crate::types::{TxLocation, Version, VersionedValue, WriteKind};

/// The effects of one committed block that redb does not hold yet.
#[derive(Debug)]
pub(crate) struct Layer {
    /// The block number.
    pub(crate) number: u64,
    /// Where the block's record is in the block files (and its header hash).
    pub(crate) loc: BlockLoc,
    /// The block's transaction records: re-applied when the layer is flushed, and read by
    /// history queries.
    pub(crate) txs: Vec<TxRecord>,
    /// State key (`namespace \0 key`) → the value after the block, `None` when deleted.
    pub(crate) state: BTreeMap<Vec<u8>, Option<VersionedValue>>,
    /// State key → history versions the block added, oldest first.
    pub(crate) history: BTreeMap<Vec<u8>, Vec<Version>>,
    /// The first occurrence of each tx ID within the block.
    pub(crate) txids: BTreeMap<String, TxLocation>,
    /// Approximate memory the layer holds (keys and values), for the flush threshold.
    pub(crate) bytes: usize,
}

/// The published overlay: contiguous layers, oldest first.
pub(crate) type Layers = Arc<Vec<Arc<Layer>>>;

impl Layer {
    /// An empty layer for block `number` stored at `loc`.
    pub(crate) fn new(number: u64, loc: BlockLoc) -> Self {
        Layer {
            number,
            loc,
            txs: Vec::new(),
            state: BTreeMap::new(),
            history: BTreeMap::new(),
            txids: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// Keeps the block's transaction records and sizes the layer from them.
    pub(crate) fn set_txs(&mut self, txs: Vec<TxRecord>) {
        // Keys and values appear in the state map and in the records; 64 bytes per write
        // stand in for map nodes, versions and history.
        self.bytes = txs
            .iter()
            .flat_map(|t| &t.writes)
            .map(|w| {
                let value = match &w.kind {
                    WriteKind::Put(v) => v.len(),
                    _ => 0,
                };
                2 * (w.namespace.len() + w.key.len() + value) + 64
            })
            .sum();
        self.txs = txs;
    }
}

/// One layer's entries within a key range.
type LayerRange<'a> = Peekable<btree_map::Range<'a, Vec<u8>, Option<VersionedValue>>>;

/// The live entries of a key range: the overlay's layers merged over the stored entries, in
/// key order. A newer layer shadows older layers and the store; a delete (`None`) hides the
/// key.
pub(crate) struct Merged<'a, I: Iterator> {
    /// Newest first, so the first layer holding a key wins.
    layers: Vec<LayerRange<'a>>,
    stored: Peekable<I>,
    /// The newest layer holding the smallest next key (`Some(None)`: every layer is done),
    /// remembered until a layer advances: while the store yields the smaller keys, the layers
    /// are not compared again for each one.
    top: Option<Option<usize>>,
}

impl<'a, I> Merged<'a, I>
where
    I: Iterator<Item = Result<(Vec<u8>, VersionedValue)>>,
{
    /// Merges `layers` (oldest first) within `(lower, upper)` over `stored`, which must
    /// yield the stored entries of the same range in key order.
    pub(crate) fn new(
        layers: &'a [Arc<Layer>],
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        stored: I,
    ) -> Self {
        Merged {
            layers: layers
                .iter()
                .rev()
                .map(|l| l.state.range::<[u8], _>((lower, upper)).peekable())
                .collect(),
            stored: stored.peekable(),
            top: None,
        }
    }

    /// The newest layer holding the smallest next key among the layers.
    fn top_layer(&mut self) -> Option<usize> {
        if let Some(top) = self.top {
            return top;
        }
        let mut top: Option<(&Vec<u8>, usize)> = None;
        for (i, it) in self.layers.iter_mut().enumerate() {
            if let Some(&(k, _)) = it.peek() {
                if top.is_none_or(|(t, _)| k < t) {
                    top = Some((k, i));
                }
            }
        }
        let winner = top.map(|(_, i)| i);
        self.top = Some(winner);
        winner
    }
}

impl<I> Iterator for Merged<'_, I>
where
    I: Iterator<Item = Result<(Vec<u8>, VersionedValue)>>,
{
    type Item = Result<(Vec<u8>, VersionedValue)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(winner) = self.top_layer() else {
                return self.stored.next();
            };
            let &(key, _) = self.layers[winner]
                .peek()
                .expect("the top layer has a next key");
            match self.stored.peek() {
                Some(Err(_)) => return self.stored.next(),
                Some(Ok((sk, _))) if sk.as_slice() < key.as_slice() => {
                    return self.stored.next();
                }
                Some(Ok((sk, _))) if sk == key => {
                    // Shadowed by the overlay.
                    self.stored.next();
                }
                _ => {}
            }
            // The layers holding `key` advance past it: the top must be found again.
            self.top = None;
            let mut value = None;
            for (i, it) in self.layers.iter_mut().enumerate() {
                if it.peek().is_some_and(|(k, _)| *k == key) {
                    let (_, v) = it.next().expect("peeked");
                    if i == winner {
                        value = Some(v);
                    }
                }
            }
            if let Some(Some(v)) = value {
                return Some(Ok((key.clone(), v.clone())));
            }
            // Deleted in the overlay: skip the key.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(number: u64, entries: &[(&str, Option<&str>)]) -> Arc<Layer> {
        let state = entries
            .iter()
            .map(|(k, v)| {
                let v = v.map(|v| VersionedValue {
                    value: v.as_bytes().to_vec(),
                    version: Version::new(number, 0),
                    metadata: Default::default(),
                });
                (k.as_bytes().to_vec(), v)
            })
            .collect();
        let loc = BlockLoc {
            file: 0,
            offset: 0,
            len: 0,
            hash: [0; 32],
        };
        let mut layer = Layer::new(number, loc);
        layer.state = state;
        Arc::new(layer)
    }

    fn stored(entries: &[&str]) -> Vec<Result<(Vec<u8>, VersionedValue)>> {
        entries
            .iter()
            .map(|k| {
                Ok((
                    k.as_bytes().to_vec(),
                    VersionedValue {
                        value: b"s".to_vec(),
                        version: Version::new(0, 0),
                        metadata: Default::default(),
                    },
                ))
            })
            .collect()
    }

    fn merged(layers: &[Arc<Layer>], store: &[&str], lower: &str, upper: &str) -> Vec<String> {
        Merged::new(
            layers,
            Bound::Included(lower.as_bytes()),
            Bound::Excluded(upper.as_bytes()),
            stored(store).into_iter().filter(|e| {
                let k = &e.as_ref().unwrap().0;
                k.as_slice() >= lower.as_bytes() && k.as_slice() < upper.as_bytes()
            }),
        )
        .map(|e| {
            let (k, v) = e.unwrap();
            format!(
                "{}={}",
                String::from_utf8(k).unwrap(),
                String::from_utf8(v.value).unwrap()
            )
        })
        .collect()
    }

    #[test]
    fn newer_layers_shadow_older_ones_and_the_store_and_deletes_hide_keys() {
        let layers = [
            layer(1, &[("b", Some("1")), ("c", None), ("e", Some("1"))]),
            layer(2, &[("b", Some("2")), ("d", Some("2")), ("e", None)]),
            layer(3, &[("c", Some("3")), ("a", None)]),
        ];
        assert_eq!(
            merged(&layers, &["a", "c", "e", "f"], "a", "z"),
            ["b=2", "c=3", "d=2", "f=s"]
        );
        assert_eq!(
            merged(&layers, &["a", "c", "e", "f"], "c", "e"),
            ["c=3", "d=2"]
        );
        assert_eq!(merged(&[], &["a", "c"], "a", "z"), ["a=s", "c=s"]);
        assert_eq!(merged(&layers[..1], &[], "a", "z"), ["b=1", "e=1"]);
    }

    #[test]
    fn runs_of_stored_keys_between_overlay_keys_keep_their_order() {
        // The layers' smallest key is found once per run of stored keys below it; each run
        // must still end where the next overlay key (or a shadowed stored key) comes.
        let layers = [
            layer(1, &[("d", Some("1")), ("k", Some("1")), ("q", None)]),
            layer(2, &[("h", Some("2")), ("k", Some("2"))]),
        ];
        let store = ["a", "b", "c", "e", "f", "g", "k", "m", "n", "q", "r"];
        assert_eq!(
            merged(&layers, &store, "a", "z"),
            ["a=s", "b=s", "c=s", "d=1", "e=s", "f=s", "g=s", "h=2", "k=2", "m=s", "n=s", "r=s"]
        );
        assert_eq!(
            merged(&layers, &store, "e", "l"),
            ["e=s", "f=s", "g=s", "h=2", "k=2"]
        );
    }

    #[test]
    fn a_store_error_is_passed_on() {
        let layers = [layer(1, &[("b", Some("1"))])];
        let store = vec![Err(crate::LedgerError::Inconsistent("boom".into()))];
        let out: Vec<_> = Merged::new(
            &layers,
            Bound::Unbounded,
            Bound::Unbounded,
            store.into_iter(),
        )
        .collect();
        assert!(out[0].is_err());
    }
}
