//! An in-memory ledger: the reference implementation for tests and the model the durable
//! ledger is checked against.
//!
//! A commit builds the next version of the whole ledger and swaps it in, so a snapshot is an
//! `Arc` of one version and is never touched by later commits.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock};

use crate::block::{self, ApplyTarget, BlockCommit, PreparedBlock};
use crate::codec::TxRecord;
use crate::error::{LedgerError, Result};
use crate::traits::{BlockReader, BlockWriter, SnapshotSource, StateReader};
use crate::types::{
    HistoryEntry, RangePage, StateEntry, StoredBlock, TxLocation, TxValidationCode, Version,
    VersionedValue,
};

#[derive(Debug)]
struct MemBlock {
    stored: StoredBlock,
    txs: Vec<TxRecord>,
}

#[derive(Clone, Debug, Default)]
struct MemState {
    blocks: Vec<Arc<MemBlock>>,
    by_hash: BTreeMap<[u8; 32], u64>,
    txids: BTreeMap<String, TxLocation>,
    state: BTreeMap<(String, String), VersionedValue>,
    /// Oldest first; readers reverse.
    history: BTreeMap<(String, String), Vec<Version>>,
}

/// A ledger held in memory; see the module docs.
#[derive(Debug, Default)]
pub struct MemLedger {
    current: RwLock<Arc<MemState>>,
    writer: Mutex<()>,
}

impl MemLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Arc<MemState> {
        self.current.read().expect("ledger lock").clone()
    }
}

/// A consistent view of a [`MemLedger`].
#[derive(Clone, Debug)]
pub struct MemSnapshot(Arc<MemState>);

impl SnapshotSource for MemLedger {
    type Snapshot = MemSnapshot;

    fn snapshot(&self) -> Result<MemSnapshot> {
        Ok(MemSnapshot(self.current()))
    }
}

impl ApplyTarget for MemState {
    fn get(&mut self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        Ok(self
            .state
            .get(&(namespace.to_string(), key.to_string()))
            .cloned())
    }
    fn put(&mut self, namespace: &str, key: &str, value: VersionedValue) -> Result<()> {
        self.state
            .insert((namespace.to_string(), key.to_string()), value);
        Ok(())
    }
    fn delete(&mut self, namespace: &str, key: &str) -> Result<()> {
        self.state.remove(&(namespace.to_string(), key.to_string()));
        Ok(())
    }
    fn add_history(&mut self, namespace: &str, key: &str, version: Version) -> Result<()> {
        let versions = self
            .history
            .entry((namespace.to_string(), key.to_string()))
            .or_default();
        if versions.last() != Some(&version) {
            versions.push(version);
        }
        Ok(())
    }
    fn index_tx(
        &mut self,
        tx_id: &str,
        block_num: u64,
        tx_num: u64,
        code: TxValidationCode,
    ) -> Result<()> {
        self.txids
            .entry(tx_id.to_string())
            .or_insert_with(|| TxLocation {
                tx_id: tx_id.to_string(),
                block_num,
                tx_num,
                code,
            });
        Ok(())
    }
}

impl BlockWriter for MemLedger {
    fn commit_block(&self, commit: &BlockCommit) -> Result<StoredBlock> {
        let _writer = self.writer.lock().expect("writer lock");
        let base = self.current();
        let tip = base.blocks.last().map(|b| b.stored.hash);
        let prepared: PreparedBlock = block::prepare(commit, base.blocks.len() as u64, tip)?;
        let mut next = (*base).clone();
        block::apply(prepared.number, &prepared.txs, &mut next)?;
        let stored = StoredBlock {
            number: prepared.number,
            hash: prepared.hash,
            bytes: prepared.bytes,
        };
        next.by_hash.insert(stored.hash, stored.number);
        next.blocks.push(Arc::new(MemBlock {
            stored: stored.clone(),
            txs: prepared.txs,
        }));
        *self.current.write().expect("ledger lock") = Arc::new(next);
        Ok(stored)
    }
}

impl BlockReader for MemSnapshot {
    fn height(&self) -> Result<u64> {
        Ok(self.0.blocks.len() as u64)
    }
    fn block(&self, number: u64) -> Result<Option<StoredBlock>> {
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| self.0.blocks.get(n))
            .map(|b| b.stored.clone()))
    }
    fn block_by_hash(&self, hash: &[u8]) -> Result<Option<StoredBlock>> {
        let Ok(hash) = <[u8; 32]>::try_from(hash) else {
            return Ok(None);
        };
        match self.0.by_hash.get(&hash) {
            Some(n) => self.block(*n),
            None => Ok(None),
        }
    }
    fn transaction(&self, tx_id: &str) -> Result<Option<TxLocation>> {
        Ok(self.0.txids.get(tx_id).cloned())
    }
}

impl StateReader for MemSnapshot {
    fn savepoint(&self) -> Result<Option<u64>> {
        Ok((self.0.blocks.len() as u64).checked_sub(1))
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        Ok(self
            .0
            .state
            .get(&(namespace.to_string(), key.to_string()))
            .cloned())
    }

    fn get_state_range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
        bookmark: Option<&str>,
    ) -> Result<RangePage> {
        crate::codec::check_namespace(namespace)?;
        let from = effective_start(start, end, bookmark)?;
        let lower = Bound::Included((namespace.to_string(), from.to_string()));
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded((namespace.to_string(), end.to_string()))
        };
        let mut page = RangePage::default();
        for ((ns, key), value) in self.0.state.range((lower, upper)) {
            if ns != namespace {
                break;
            }
            if limit != 0 && page.entries.len() == limit {
                page.bookmark = Some(key.clone());
                break;
            }
            page.entries.push(StateEntry {
                key: key.clone(),
                value: value.clone(),
            });
        }
        Ok(page)
    }

    fn get_history_for_key(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>> {
        let Some(versions) = self
            .0
            .history
            .get(&(namespace.to_string(), key.to_string()))
        else {
            return Ok(Vec::new());
        };
        versions
            .iter()
            .rev()
            .map(|v| {
                let tx = self
                    .0
                    .blocks
                    .get(v.block_num as usize)
                    .and_then(|b| b.txs.get(v.tx_num as usize))
                    .ok_or_else(|| {
                        LedgerError::Inconsistent(format!(
                            "history names missing transaction {v:?}"
                        ))
                    })?;
                Ok(HistoryEntry {
                    version: *v,
                    tx_id: tx.tx_id.clone(),
                    value: block::value_written(tx, namespace, key).flatten(),
                    timestamp: tx.timestamp,
                })
            })
            .collect()
    }

    fn for_each_state(
        &self,
        f: &mut dyn FnMut(&str, &str, &VersionedValue) -> Result<()>,
    ) -> Result<()> {
        for ((ns, key), value) in &self.0.state {
            f(ns, key, value)?;
        }
        Ok(())
    }
}

/// The key a range scan starts at: `start`, or the bookmark when it lies inside the range.
pub(crate) fn effective_start<'a>(
    start: &'a str,
    end: &str,
    bookmark: Option<&'a str>,
) -> Result<&'a str> {
    if !end.is_empty() && start > end {
        return Err(LedgerError::InvalidRange(format!(
            "start key {start:?} is after end key {end:?}; swap them"
        )));
    }
    match bookmark {
        None | Some("") => Ok(start),
        Some(b) if b < start || (!end.is_empty() && b > end) => Err(LedgerError::InvalidRange(format!(
            "bookmark {b:?} lies outside [{start:?}, {end:?}); pass the bookmark of the previous page of the same range"
        ))),
        Some(b) => Ok(b),
    }
}

macro_rules! delegate_to_snapshot {
    ($ty:ty) => {
        impl BlockReader for $ty {
            fn height(&self) -> Result<u64> {
                self.snapshot()?.height()
            }
            fn block(&self, number: u64) -> Result<Option<StoredBlock>> {
                self.snapshot()?.block(number)
            }
            fn block_by_hash(&self, hash: &[u8]) -> Result<Option<StoredBlock>> {
                self.snapshot()?.block_by_hash(hash)
            }
            fn transaction(&self, tx_id: &str) -> Result<Option<TxLocation>> {
                self.snapshot()?.transaction(tx_id)
            }
        }

        impl StateReader for $ty {
            fn savepoint(&self) -> Result<Option<u64>> {
                self.snapshot()?.savepoint()
            }
            fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
                self.snapshot()?.get_state(namespace, key)
            }
            fn get_state_range(
                &self,
                namespace: &str,
                start: &str,
                end: &str,
                limit: usize,
                bookmark: Option<&str>,
            ) -> Result<RangePage> {
                self.snapshot()?
                    .get_state_range(namespace, start, end, limit, bookmark)
            }
            fn get_history_for_key(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>> {
                self.snapshot()?.get_history_for_key(namespace, key)
            }
            fn for_each_state(
                &self,
                f: &mut dyn FnMut(&str, &str, &VersionedValue) -> Result<()>,
            ) -> Result<()> {
                self.snapshot()?.for_each_state(f)
            }
        }
    };
}
pub(crate) use delegate_to_snapshot;

delegate_to_snapshot!(MemLedger);
