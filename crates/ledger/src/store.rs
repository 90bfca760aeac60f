//! The durable ledger: block files for blocks, one redb database for state, history, indexes
//! and the savepoint.
//!
//! ```text
//! DIR/blocks/blockfile_NNNNNN   append-only block records (see blockfile)
//! DIR/index.redb                state, history, block/hash/tx-ID indexes, savepoint
//! ```
//!
//! A commit (1) appends the block record and `fdatasync`s it — from then on the block is
//! committed and the call may acknowledge it — then (2) writes state, history, indexes and the
//! savepoint in one redb transaction. That transaction is atomic; it is synced to disk every
//! [`LedgerOptions::sync_state_every`] blocks rather than every block, because whatever state a
//! crash loses is replayed from the block files on open: the savepoint says which blocks the
//! state already holds, and every block above it is applied again, in order, from its record.
//!
//! History is a chain per key, laid out so that a commit appends instead of touching one
//! B-tree leaf per written key: the `history_log` table is keyed `block ‖ tx ‖ key` (so a
//! block's entries sort after every earlier block's) and each entry holds the version of the
//! key's previous entry. The chain's head — the key's newest entry — rides in the key's state
//! row, whose leaf the commit rewrites anyway; a deleted key's head moves to the small
//! `history_heads_deleted` table. Reading a key's history walks the chain newest first. The
//! index records its layout under `meta/format`; an index of another layout is refused with a
//! hint to delete it, after which opening rebuilds it from the block files.
//!
//! Opening reads the block files (all of them with [`LedgerOptions::verify_on_open`], else from
//! the savepoint's record), checks checksums, numbering, the header-hash chain and data hashes,
//! cuts a torn record off the tail of the last file with a warning, and refuses anything else
//! that is damaged with an error naming the file and offset.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::block::{self, ApplyTarget, Block, BlockCommit, PreparedBlock};
use crate::blockfile::{self, BlockFiles, ScanEnd};
use crate::codec::{self, BlockLoc};
use crate::error::{LedgerError, Result};
use crate::memory::{delegate_to_snapshot, effective_start};
use crate::traits::{BlockReader, BlockWriter, SnapshotSource, StateReader};
use crate::types::{
    HistoryEntry, RangePage, StateEntry, StoredBlock, TxLocation, TxValidationCode, Version,
    VersionedValue,
};
use crate::KeyMetadata;

const STATE: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("state");
/// The history log: `block ‖ tx ‖ key` → the key's previous history version (empty for none).
const HISTORY_LOG: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("history_log");
/// History heads of deleted keys (a live key's head is in its state row).
const DELETED_HEADS: TableDefinition<'static, &[u8], &[u8]> =
    TableDefinition::new("history_heads_deleted");
const BLOCKS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("blocks");
const HASHES: TableDefinition<'static, &[u8], u64> = TableDefinition::new("block_hashes");
const TXIDS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("txids");
const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
/// The META key holding the number of the last block whose state is committed.
const SAVEPOINT: &str = "savepoint";
/// The META key holding the index layout version.
const FORMAT: &str = "format";
/// The index layout this code writes: 2 = history as a per-key chain in an append-only log.
const FORMAT_VERSION: u64 = 2;

/// Name of the index database inside a ledger directory.
pub const INDEX_FILE: &str = "index.redb";
/// Name of the block-file directory inside a ledger directory.
pub const BLOCKS_DIR: &str = "blocks";

/// How to open a [`Ledger`].
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// A block file rolls over to the next once it would pass this many bytes.
    pub max_block_file_len: u64,
    /// Check every record's checksum and the whole hash chain on open (otherwise only from
    /// the savepoint on). Costs one sequential read of the block files.
    pub verify_on_open: bool,
    /// redb's page cache, in bytes.
    pub cache_bytes: usize,
    /// Make the state database durable (fsync) every this many blocks; in between, state
    /// commits are atomic but not synced. Acknowledged blocks are always durable in the block
    /// files, and opening replays whatever state a crash lost. 1 syncs every block.
    pub sync_state_every: u64,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            max_block_file_len: 64 * 1024 * 1024,
            verify_on_open: true,
            cache_bytes: 512 * 1024 * 1024,
            sync_state_every: 16,
        }
    }
}

#[derive(Debug)]
struct WriterState {
    height: u64,
    tip: Option<[u8; 32]>,
    poisoned: Option<String>,
    /// State commits since the last synced one.
    unsynced: u64,
}

/// A ledger on disk; see the module docs.
#[derive(Debug)]
pub struct Ledger {
    dir: PathBuf,
    db: redb::Database,
    files: Arc<BlockFiles>,
    writer: Mutex<WriterState>,
    sync_every: u64,
}

/// A consistent read-only view of a [`Ledger`] (a redb read transaction).
pub struct LedgerSnapshot {
    txn: redb::ReadTransaction,
    files: Arc<BlockFiles>,
}

impl std::fmt::Debug for LedgerSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSnapshot").finish_non_exhaustive()
    }
}

fn store_err(action: &'static str) -> impl FnOnce(redb::Error) -> LedgerError {
    move |e| LedgerError::store(action, e)
}

/// redb's many error types all convert into `redb::Error`.
fn se<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> LedgerError {
    move |e| store_err(action)(e.into())
}

/// One record found while scanning the block files.
struct Scanned {
    number: u64,
    loc: BlockLoc,
    payload: Option<Vec<u8>>,
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir` with default options, recovering from a crash.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, LedgerOptions::default())
    }

    /// Opens (or creates) the ledger in `dir`.
    ///
    /// Recovery: a torn record at the tail of the last block file is cut off (with a warning);
    /// blocks above the savepoint are replayed; a damaged record elsewhere or a broken hash
    /// chain is an error naming the file and offset.
    pub fn open_with(dir: impl AsRef<Path>, options: LedgerOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let db = open_db(&dir, &options, None)?;
        Self::recover(dir, db, options)
    }

    #[cfg(test)]
    pub(crate) fn open_with_faults(
        dir: &Path,
        options: LedgerOptions,
        faults: Arc<blockfile::Faults>,
    ) -> Result<Self> {
        let db = open_db(dir, &options, Some(faults.clone()))?;
        let mut ledger = Self::recover(dir.to_path_buf(), db, options)?;
        Arc::get_mut(&mut ledger.files)
            .expect("fresh block files")
            .faults = faults;
        Ok(ledger)
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn recover(dir: PathBuf, db: redb::Database, options: LedgerOptions) -> Result<Self> {
        let blocks_dir = dir.join(BLOCKS_DIR);
        let (savepoint, savepoint_loc) = {
            let txn = db.begin_read().map_err(se("reading the savepoint"))?;
            let savepoint = read_savepoint(&txn)?;
            let loc = match savepoint {
                Some(s) => Some(block_loc(&txn, s)?.ok_or_else(|| {
                    LedgerError::Inconsistent(format!(
                        "the savepoint is block {s} but the index has no location for it"
                    ))
                })?),
                None => None,
            };
            (savepoint, loc)
        };
        // Where to start reading: everything, or the savepoint's own record.
        let start = match (options.verify_on_open, savepoint, savepoint_loc) {
            (false, Some(s), Some(loc)) => (loc.file, loc.offset, s),
            _ => (0, 0, 0),
        };
        let scan = scan_blocks(&blocks_dir, start, savepoint, true)?;
        let last = scan.blocks.last();
        match (savepoint, last) {
            (Some(s), None) => {
                return Err(LedgerError::Inconsistent(format!(
                    "the index says block {s} is committed but {} holds no blocks",
                    blocks_dir.display()
                )))
            }
            (Some(s), Some(b)) if b.number < s => {
                return Err(LedgerError::Inconsistent(format!(
                    "the index says block {s} is committed but the block files end at block {}",
                    b.number
                )))
            }
            _ => {}
        }
        if let (Some(s), Some(loc)) = (savepoint, savepoint_loc) {
            let found = scan.blocks.iter().find(|b| b.number == s);
            if let Some(b) = found {
                if b.loc != loc {
                    return Err(LedgerError::Inconsistent(format!(
                        "block {s} is at file {} offset {} with hash {} but the index expects file {} offset {} with hash {}",
                        b.loc.file,
                        b.loc.offset,
                        block::hex(&b.loc.hash),
                        loc.file,
                        loc.offset,
                        block::hex(&loc.hash)
                    )));
                }
            }
        }
        let height = last.map_or(0, |b| b.number + 1);
        let tip = last.map(|b| b.loc.hash);
        let files = BlockFiles::open(
            &blocks_dir,
            scan.tail_file,
            scan.tail_len,
            options.max_block_file_len,
        )?;
        let ledger = Ledger {
            dir,
            db,
            files: Arc::new(files),
            writer: Mutex::new(WriterState {
                height,
                tip,
                poisoned: None,
                unsynced: 0,
            }),
            sync_every: options.sync_state_every.max(1),
        };
        let replay: Vec<Scanned> = scan
            .blocks
            .into_iter()
            .filter(|b| Some(b.number) > savepoint)
            .collect();
        let last_replayed = replay.last().map(|b| b.number);
        for b in replay {
            let payload = b.payload.expect("payloads are kept above the savepoint");
            let (bytes, section) = blockfile::split_payload(&payload)?;
            let prepared = PreparedBlock {
                number: b.number,
                hash: b.loc.hash,
                bytes: bytes.to_vec(),
                txs: codec::decode_tx_records(section)?,
            };
            tracing::info!(block = b.number, "replaying block above the savepoint");
            ledger.write_index(&prepared, b.loc, Some(b.number) == last_replayed)?;
        }
        Ok(ledger)
    }

    /// Re-reads every block file and checks every checksum, the block numbering, the header
    /// hash chain, each block's data hash and that the index points at each record. Returns the
    /// number of blocks checked.
    pub fn verify_chain(&self) -> Result<u64> {
        let _writer = self.writer.lock().expect("writer lock");
        let scan = scan_blocks(&self.dir.join(BLOCKS_DIR), (0, 0, 0), Some(u64::MAX), false)?;
        let txn = self.db.begin_read().map_err(se("verifying the chain"))?;
        let savepoint = read_savepoint(&txn)?;
        for b in &scan.blocks {
            if Some(b.number) > savepoint {
                return Err(LedgerError::Inconsistent(format!(
                    "block {} is in the block files above the savepoint {savepoint:?}; reopen the ledger to replay it",
                    b.number
                )));
            }
            if block_loc(&txn, b.number)? != Some(b.loc) {
                return Err(LedgerError::Inconsistent(format!(
                    "the index entry of block {} does not point at its record",
                    b.number
                )));
            }
        }
        Ok(scan.blocks.len() as u64)
    }

    /// Writes state, history, indexes and the savepoint of one block in one redb transaction,
    /// synced to disk when `sync` is set. Inserts go in key order: the block's effects are
    /// collected first, which halves redb's work on random keys.
    fn write_index(&self, prepared: &PreparedBlock, loc: BlockLoc, sync: bool) -> Result<()> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(se("starting the state transaction"))?;
        let durability = if sync {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| LedgerError::store("setting durability", e))?;
        {
            let mut state = txn
                .open_table(STATE)
                .map_err(se("opening the state table"))?;
            let mut log = txn
                .open_table(HISTORY_LOG)
                .map_err(se("opening the history log"))?;
            let mut deleted = txn
                .open_table(DELETED_HEADS)
                .map_err(se("opening the history heads"))?;
            let mut txids = txn
                .open_table(TXIDS)
                .map_err(se("opening the tx-ID index"))?;
            let mut batch = Batch {
                state: &state,
                deleted: &deleted,
                overlay: BTreeMap::new(),
                heads: BTreeMap::new(),
                log: Vec::new(),
                new_txids: BTreeMap::new(),
            };
            block::apply(prepared, &mut batch)?;
            let Batch {
                overlay,
                heads,
                log: new_log,
                new_txids,
                ..
            } = batch;
            flush(
                Effects {
                    overlay,
                    heads,
                    log: new_log,
                    txids: new_txids,
                },
                Tables {
                    state: &mut state,
                    log: &mut log,
                    deleted: &mut deleted,
                    txids: &mut txids,
                },
            )?;
            let mut blocks = txn
                .open_table(BLOCKS)
                .map_err(se("opening the block index"))?;
            blocks
                .insert(prepared.number, loc.encode().as_slice())
                .map_err(se("indexing the block"))?;
            let mut hashes = txn
                .open_table(HASHES)
                .map_err(se("opening the hash index"))?;
            hashes
                .insert(prepared.hash.as_slice(), prepared.number)
                .map_err(se("indexing the block hash"))?;
            let mut meta = txn.open_table(META).map_err(se("opening the meta table"))?;
            meta.insert(SAVEPOINT, prepared.number)
                .map_err(se("moving the savepoint"))?;
        }
        txn.commit().map_err(se("committing the block's state"))
    }

    /// Makes every state commit so far durable (an empty synced redb transaction).
    pub fn sync(&self) -> Result<()> {
        let mut writer = self.writer.lock().expect("writer lock");
        self.sync_locked(&mut writer)
    }

    fn sync_locked(&self, writer: &mut WriterState) -> Result<()> {
        if writer.unsynced == 0 {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(se("starting a sync"))?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| LedgerError::store("setting durability", e))?;
        txn.commit().map_err(se("syncing the state database"))?;
        writer.unsynced = 0;
        Ok(())
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // Best effort: a lost state commit is replayed from the block files on the next open.
        if let Ok(mut writer) = self.writer.lock() {
            if writer.poisoned.is_none() {
                if let Err(e) = self.sync_locked(&mut writer) {
                    tracing::warn!(error = %e, "could not sync the state database on close");
                }
            }
        }
    }
}

fn open_db(
    dir: &Path,
    options: &LedgerOptions,
    faults: Option<Arc<blockfile::Faults>>,
) -> Result<redb::Database> {
    let blocks_dir = dir.join(BLOCKS_DIR);
    std::fs::create_dir_all(&blocks_dir)
        .map_err(|e| LedgerError::io("creating", &blocks_dir, e))?;
    let path = dir.join(INDEX_FILE);
    let mut builder = redb::Builder::new();
    builder.set_cache_size(options.cache_bytes);
    let db = match faults {
        None => builder
            .create(&path)
            .map_err(se("opening the index database"))?,
        Some(faults) => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| LedgerError::io("opening", &path, e))?;
            let inner =
                redb::backends::FileBackend::new(file).map_err(se("opening the index database"))?;
            builder
                .create_with_backend(faulty::FaultyBackend { inner, faults })
                .map_err(se("opening the index database"))?
        }
    };
    let txn = db.begin_write().map_err(se("creating tables"))?;
    txn.open_table(STATE).map_err(se("creating tables"))?;
    txn.open_table(HISTORY_LOG).map_err(se("creating tables"))?;
    txn.open_table(DELETED_HEADS)
        .map_err(se("creating tables"))?;
    txn.open_table(BLOCKS).map_err(se("creating tables"))?;
    txn.open_table(HASHES).map_err(se("creating tables"))?;
    txn.open_table(TXIDS).map_err(se("creating tables"))?;
    {
        let mut meta = txn.open_table(META).map_err(se("creating tables"))?;
        let format = meta
            .get(FORMAT)
            .map_err(se("reading the index format"))?
            .map(|g| g.value());
        let fresh = meta
            .get(SAVEPOINT)
            .map_err(se("reading the savepoint"))?
            .is_none();
        match format {
            Some(FORMAT_VERSION) => {}
            None if fresh => {
                meta.insert(FORMAT, FORMAT_VERSION)
                    .map_err(se("writing the index format"))?;
            }
            other => {
                return Err(LedgerError::Inconsistent(format!(
                    "{} has index layout {} but this version reads layout {FORMAT_VERSION}; \
                     delete that file and open the ledger again to rebuild it from the block files",
                    path.display(),
                    other.unwrap_or(1)
                )))
            }
        }
    }
    txn.commit().map_err(se("creating tables"))?;
    Ok(db)
}

/// The fault-injecting redb backend used by the commit-failure tests.
mod faulty {
    /// Wraps redb's file backend; in tests it can fail the next `sync_data`.
    #[derive(Debug)]
    pub(super) struct FaultyBackend {
        pub(super) inner: redb::backends::FileBackend,
        #[cfg_attr(not(test), allow(dead_code))]
        pub(super) faults: std::sync::Arc<crate::blockfile::Faults>,
    }

    impl redb::StorageBackend for FaultyBackend {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.inner.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
            self.inner.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.inner.set_len(len)
        }
        fn sync_data(&self) -> Result<(), std::io::Error> {
            #[cfg(test)]
            if self
                .faults
                .store_sync
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "injected: no space left on device",
                ));
            }
            self.inner.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            self.inner.write(offset, data)
        }
        fn close(&self) -> Result<(), std::io::Error> {
            self.inner.close()
        }
    }
}

/// What a scan of the block files found.
struct Scan {
    blocks: Vec<Scanned>,
    tail_file: u32,
    tail_len: u64,
}

/// The block file numbers in `dir`, checked to be contiguous from 0.
fn block_file_numbers(dir: &Path) -> Result<Vec<u32>> {
    let mut numbers = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| LedgerError::io("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LedgerError::io("listing", dir, e))?;
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_prefix("blockfile_")) else {
            continue;
        };
        let n: u32 = n.parse().map_err(|_| {
            LedgerError::Inconsistent(format!("unexpected file {:?} in {}", name, dir.display()))
        })?;
        numbers.push(n);
    }
    numbers.sort_unstable();
    for (i, n) in numbers.iter().enumerate() {
        if *n != i as u32 {
            return Err(LedgerError::Inconsistent(format!(
                "block file {} is missing from {}",
                blockfile::file_name(i as u32),
                dir.display()
            )));
        }
    }
    Ok(numbers)
}

/// Scans block files from `(file, offset)` where block `first` is expected, checking
/// checksums, numbering, the hash chain and data hashes. Keeps payloads of blocks above
/// `keep_above`. Cuts a torn tail off the last file when `repair` is set.
fn scan_blocks(
    dir: &Path,
    start: (u32, u64, u64),
    keep_above: Option<u64>,
    repair: bool,
) -> Result<Scan> {
    let numbers = block_file_numbers(dir)?;
    let (start_file, start_offset, mut expected) = start;
    let mut prev_hash: Option<[u8; 32]> = None;
    let mut blocks: Vec<Scanned> = Vec::new();
    let mut tail = (start_file, start_offset);
    for &file_no in numbers.iter().filter(|n| **n >= start_file) {
        let path = dir.join(blockfile::file_name(file_no));
        let skip = if file_no == start_file {
            start_offset
        } else {
            0
        };
        let end = blockfile::scan_file(&path, |offset, len, payload| {
            if offset < skip {
                return Ok(());
            }
            let (bytes, _) = blockfile::split_payload(payload)?;
            let block = Block::decode(bytes).map_err(|e| LedgerError::Corrupt {
                path: path.clone(),
                offset,
                reason: format!("the record's block does not decode: {e}"),
            })?;
            if block.number != expected {
                return Err(LedgerError::Corrupt {
                    path: path.clone(),
                    offset,
                    reason: format!("expected block {expected} but found block {}", block.number),
                });
            }
            if let Some(prev) = prev_hash {
                if block.previous_hash != prev {
                    return Err(LedgerError::BrokenChain {
                        number: block.number,
                        path: path.clone(),
                        offset,
                        expected: block::hex(&prev),
                        found: block::hex(&block.previous_hash),
                    });
                }
            }
            let data_hash = crate::hash::block_data_hash(&block.data);
            if block.data_hash != data_hash {
                return Err(LedgerError::Corrupt {
                    path: path.clone(),
                    offset,
                    reason: format!("block {} does not match its data hash", block.number),
                });
            }
            let hash = block.header_hash();
            prev_hash = Some(hash);
            expected += 1;
            let keep = Some(block.number) > keep_above;
            blocks.push(Scanned {
                number: block.number,
                loc: BlockLoc {
                    file: file_no,
                    offset,
                    len,
                    hash,
                },
                payload: keep.then(|| payload.to_vec()),
            });
            Ok(())
        })?;
        let len = match end {
            ScanEnd::Clean { len } => len,
            ScanEnd::TornTail {
                valid_len,
                file_len,
                reason,
            } => {
                if file_no != *numbers.last().expect("at least this file") {
                    return Err(LedgerError::Corrupt {
                        path,
                        offset: valid_len,
                        reason: format!("{reason}, but later block files exist"),
                    });
                }
                if repair {
                    tracing::warn!(
                        file = %path.display(),
                        offset = valid_len,
                        cut_bytes = file_len - valid_len,
                        reason = %reason,
                        "truncating a torn write at the tail of a block file"
                    );
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|e| LedgerError::io("opening for truncation", &path, e))?;
                    f.set_len(valid_len)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| LedgerError::io("truncating a torn write in", &path, e))?;
                }
                valid_len
            }
        };
        tail = (file_no, len);
    }
    Ok(Scan {
        blocks,
        tail_file: tail.0,
        tail_len: tail.1,
    })
}

fn read_savepoint(txn: &redb::ReadTransaction) -> Result<Option<u64>> {
    let meta = txn.open_table(META).map_err(se("reading the savepoint"))?;
    let v = meta.get(SAVEPOINT).map_err(se("reading the savepoint"))?;
    Ok(v.map(|g| g.value()))
}

fn block_loc(txn: &redb::ReadTransaction, number: u64) -> Result<Option<BlockLoc>> {
    let blocks = txn
        .open_table(BLOCKS)
        .map_err(se("reading the block index"))?;
    let v = blocks.get(number).map_err(se("reading the block index"))?;
    v.map(|g| BlockLoc::decode(g.value())).transpose()
}

/// A key's new state within one block's batch.
enum Pending {
    /// Set to this value; `None` as metadata means "whatever the stored key has".
    Put {
        value: Vec<u8>,
        version: Version,
        metadata: Option<KeyMetadata>,
    },
    Delete,
}

/// The newest history entry of a key touched by the block being applied.
#[derive(Clone)]
struct Head {
    version: Version,
    /// The head was loaded from [`DELETED_HEADS`], so a put must remove it there.
    was_deleted: bool,
    /// The key's metadata as stored before this block (read together with the head, so the
    /// flush writes the row without reading it again).
    stored_metadata: Option<KeyMetadata>,
}

/// One block's effects, collected in key order before they are written.
struct Batch<'a, 't> {
    state: &'a redb::Table<'t, &'static [u8], &'static [u8]>,
    deleted: &'a redb::Table<'t, &'static [u8], &'static [u8]>,
    overlay: BTreeMap<Vec<u8>, Pending>,
    /// History heads of the keys this block wrote, by state key.
    heads: BTreeMap<Vec<u8>, Head>,
    /// New history-log entries and the previous version each links to.
    log: Vec<(Vec<u8>, Option<Version>)>,
    /// First occurrence within the block; earlier blocks win at flush time.
    new_txids: BTreeMap<String, Vec<u8>>,
}

/// What a batch writes.
struct Effects {
    overlay: BTreeMap<Vec<u8>, Pending>,
    heads: BTreeMap<Vec<u8>, Head>,
    log: Vec<(Vec<u8>, Option<Version>)>,
    txids: BTreeMap<String, Vec<u8>>,
}

/// The tables a batch is flushed into.
struct Tables<'a, 't> {
    state: &'a mut redb::Table<'t, &'static [u8], &'static [u8]>,
    log: &'a mut redb::Table<'t, &'static [u8], &'static [u8]>,
    deleted: &'a mut redb::Table<'t, &'static [u8], &'static [u8]>,
    txids: &'a mut redb::Table<'t, &'static str, &'static [u8]>,
}

impl Batch<'_, '_> {
    fn stored(&self, k: &[u8]) -> Result<Option<VersionedValue>> {
        let v = self.state.get(k).map_err(se("reading state"))?;
        v.map(|g| codec::decode_value(g.value())).transpose()
    }

    /// The key's history head as stored before this block.
    fn stored_head(&self, k: &[u8]) -> Result<Option<Head>> {
        if let Some(g) = self.state.get(k).map_err(se("reading state"))? {
            let (old, version) = codec::decode_state(g.value())?;
            return Ok(Some(Head {
                version,
                was_deleted: false,
                stored_metadata: Some(old.metadata),
            }));
        }
        let g = self
            .deleted
            .get(k)
            .map_err(se("reading the history heads"))?;
        g.map(|g| {
            Ok(Head {
                version: codec::decode_version(g.value())?,
                was_deleted: true,
                stored_metadata: None,
            })
        })
        .transpose()
    }
}

/// Writes a batch: state in key order, then the history log (an append: its keys start with
/// this block's number), then the tx-ID index. A state row carries its key's history head; a
/// put that keeps metadata takes the old metadata read while applying (only a metadata-only
/// write reads the row again). A tx ID already indexed by an earlier block is put back (the
/// first occurrence wins).
fn flush(effects: Effects, t: Tables<'_, '_>) -> Result<()> {
    let Effects {
        overlay,
        heads,
        mut log,
        txids,
    } = effects;
    for (k, pending) in overlay {
        let head = heads.get(&k);
        match pending {
            Pending::Put {
                value,
                version,
                metadata,
            } => {
                // A key this block wrote history for was read then; only a metadata write
                // without history needs the stored row now.
                let (old_metadata, old_head) = match head {
                    Some(h) => (h.stored_metadata.clone(), None),
                    None => match t
                        .state
                        .get(k.as_slice())
                        .map_err(se("reading state"))?
                        .map(|g| codec::decode_state(g.value()))
                        .transpose()?
                    {
                        Some((v, h)) => (Some(v.metadata), Some(h)),
                        None => (None, None),
                    },
                };
                let new = VersionedValue {
                    value,
                    version,
                    metadata: metadata.or(old_metadata).unwrap_or_default(),
                };
                let head_version = head.map(|h| h.version).or(old_head).ok_or_else(|| {
                    LedgerError::Inconsistent(format!(
                        "state key {} is written without a history entry",
                        block::hex(&k)
                    ))
                })?;
                t.state
                    .insert(
                        k.as_slice(),
                        codec::encode_state(&new, head_version).as_slice(),
                    )
                    .map_err(se("writing state"))?;
                if head.is_some_and(|h| h.was_deleted) {
                    t.deleted
                        .remove(k.as_slice())
                        .map_err(se("writing the history heads"))?;
                }
            }
            Pending::Delete => {
                t.state.remove(k.as_slice()).map_err(se("deleting state"))?;
                let head = head.ok_or_else(|| {
                    LedgerError::Inconsistent(format!(
                        "state key {} is deleted without a history entry",
                        block::hex(&k)
                    ))
                })?;
                t.deleted
                    .insert(k.as_slice(), codec::encode_version(head.version).as_slice())
                    .map_err(se("writing the history heads"))?;
            }
        }
    }
    log.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (k, prev) in log {
        let link = prev.map(codec::encode_version);
        t.log
            .insert(k.as_slice(), link.as_ref().map_or(&[][..], |l| &l[..]))
            .map_err(se("writing history"))?;
    }
    for (id, entry) in txids {
        let old = t
            .txids
            .insert(id.as_str(), entry.as_slice())
            .map_err(se("writing the tx-ID index"))?
            .map(|g| g.value().to_vec());
        if let Some(old) = old {
            t.txids
                .insert(id.as_str(), old.as_slice())
                .map_err(se("writing the tx-ID index"))?;
        }
    }
    Ok(())
}

impl ApplyTarget for Batch<'_, '_> {
    fn get(&mut self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        let k = codec::state_key(namespace, key);
        match self.overlay.get(&k) {
            None => self.stored(&k),
            Some(Pending::Delete) => Ok(None),
            Some(Pending::Put {
                value,
                version,
                metadata,
            }) => {
                let metadata = match metadata {
                    Some(m) => m.clone(),
                    None => self.stored(&k)?.map(|v| v.metadata).unwrap_or_default(),
                };
                Ok(Some(VersionedValue {
                    value: value.clone(),
                    version: *version,
                    metadata,
                }))
            }
        }
    }
    fn put(&mut self, namespace: &str, key: &str, value: VersionedValue) -> Result<()> {
        self.overlay.insert(
            codec::state_key(namespace, key),
            Pending::Put {
                value: value.value,
                version: value.version,
                metadata: Some(value.metadata),
            },
        );
        Ok(())
    }
    fn put_keep_metadata(
        &mut self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        version: Version,
    ) -> Result<()> {
        let k = codec::state_key(namespace, key);
        // Within the block the key's metadata may already be known.
        let metadata = match self.overlay.get(&k) {
            Some(Pending::Delete) => Some(KeyMetadata::new()),
            Some(Pending::Put { metadata, .. }) => metadata.clone(),
            None => None,
        };
        self.overlay.insert(
            k,
            Pending::Put {
                value,
                version,
                metadata,
            },
        );
        Ok(())
    }
    fn delete(&mut self, namespace: &str, key: &str) -> Result<()> {
        self.overlay
            .insert(codec::state_key(namespace, key), Pending::Delete);
        Ok(())
    }
    fn add_history(&mut self, namespace: &str, key: &str, version: Version) -> Result<()> {
        let k = codec::state_key(namespace, key);
        let current = match self.heads.get(&k) {
            Some(h) => Some(h.clone()),
            None => self.stored_head(&k)?,
        };
        if current.as_ref().is_some_and(|h| h.version == version) {
            // The same transaction wrote the key twice: one history entry.
            return Ok(());
        }
        self.log.push((
            codec::history_log_key(namespace, key, version),
            current.as_ref().map(|h| h.version),
        ));
        let (was_deleted, stored_metadata) = match current {
            Some(h) => (h.was_deleted, h.stored_metadata),
            None => (false, None),
        };
        self.heads.insert(
            k,
            Head {
                version,
                was_deleted,
                stored_metadata,
            },
        );
        Ok(())
    }
    fn index_tx(
        &mut self,
        tx_id: &str,
        block_num: u64,
        tx_num: u64,
        code: TxValidationCode,
    ) -> Result<()> {
        self.new_txids
            .entry(tx_id.to_string())
            .or_insert_with(|| codec::encode_tx_loc(block_num, tx_num, code));
        Ok(())
    }
}

impl BlockWriter for Ledger {
    fn commit_block(&self, commit: &BlockCommit) -> Result<StoredBlock> {
        let mut writer = self.writer.lock().expect("writer lock");
        if let Some(why) = &writer.poisoned {
            return Err(LedgerError::Poisoned(why.clone()));
        }
        let prepared = block::prepare(commit, writer.height, writer.tip)?;
        let record =
            blockfile::encode_record(&prepared.bytes, &codec::encode_tx_records(&prepared.txs));
        let (file, offset, len) = match self.files.append(&record) {
            Ok(loc) => loc,
            Err(e) => {
                if let LedgerError::Poisoned(why) = &e {
                    writer.poisoned = Some(why.clone());
                }
                return Err(e);
            }
        };
        let loc = BlockLoc {
            file,
            offset,
            len,
            hash: prepared.hash,
        };
        let sync = writer.unsynced + 1 >= self.sync_every;
        if let Err(e) = self.write_index(&prepared, loc, sync) {
            // The block is durable but its state is not: readers stay at the previous block,
            // and reopening replays the block from its record.
            writer.poisoned = Some(format!(
                "block {} is in the block store but its state commit failed: {e}",
                prepared.number
            ));
            return Err(e);
        }
        writer.height += 1;
        writer.tip = Some(prepared.hash);
        writer.unsynced = if sync { 0 } else { writer.unsynced + 1 };
        Ok(StoredBlock {
            number: prepared.number,
            hash: prepared.hash,
            bytes: prepared.bytes,
        })
    }
}

impl SnapshotSource for Ledger {
    type Snapshot = LedgerSnapshot;

    fn snapshot(&self) -> Result<LedgerSnapshot> {
        Ok(LedgerSnapshot {
            txn: self.db.begin_read().map_err(se("starting a read"))?,
            files: self.files.clone(),
        })
    }
}

impl LedgerSnapshot {
    fn read_block(&self, number: u64) -> Result<Option<(StoredBlock, Vec<u8>)>> {
        let Some(loc) = block_loc(&self.txn, number)? else {
            return Ok(None);
        };
        let payload = self.files.read_payload(loc.file, loc.offset, loc.len)?;
        let (bytes, _) = blockfile::split_payload(&payload)?;
        let stored = StoredBlock {
            number,
            hash: loc.hash,
            bytes: bytes.to_vec(),
        };
        Ok(Some((stored, payload)))
    }
}

impl BlockReader for LedgerSnapshot {
    fn height(&self) -> Result<u64> {
        Ok(read_savepoint(&self.txn)?.map_or(0, |s| s + 1))
    }

    fn block(&self, number: u64) -> Result<Option<StoredBlock>> {
        Ok(self.read_block(number)?.map(|(b, _)| b))
    }

    fn block_by_hash(&self, hash: &[u8]) -> Result<Option<StoredBlock>> {
        let hashes = self
            .txn
            .open_table(HASHES)
            .map_err(se("reading the hash index"))?;
        let n = hashes
            .get(hash)
            .map_err(se("reading the hash index"))?
            .map(|g| g.value());
        match n {
            Some(n) => self.block(n),
            None => Ok(None),
        }
    }

    fn transaction(&self, tx_id: &str) -> Result<Option<TxLocation>> {
        let txids = self
            .txn
            .open_table(TXIDS)
            .map_err(se("reading the tx-ID index"))?;
        let v = txids.get(tx_id).map_err(se("reading the tx-ID index"))?;
        let Some(v) = v else { return Ok(None) };
        let (block_num, tx_num, code) = codec::decode_tx_loc(v.value())?;
        Ok(Some(TxLocation {
            tx_id: tx_id.to_string(),
            block_num,
            tx_num,
            code,
        }))
    }
}

impl StateReader for LedgerSnapshot {
    fn savepoint(&self) -> Result<Option<u64>> {
        read_savepoint(&self.txn)
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        let state = self.txn.open_table(STATE).map_err(se("reading state"))?;
        let k = codec::state_key(namespace, key);
        let v = state.get(k.as_slice()).map_err(se("reading state"))?;
        v.map(|g| codec::decode_value(g.value())).transpose()
    }

    fn get_state_range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
        bookmark: Option<&str>,
    ) -> Result<RangePage> {
        codec::check_namespace(namespace)?;
        let from = effective_start(start, end, bookmark)?;
        let lower = codec::state_key(namespace, from);
        let upper = if end.is_empty() {
            // Every key of the namespace sorts below "namespace\x01".
            let mut u = namespace.as_bytes().to_vec();
            u.push(1);
            u
        } else {
            codec::state_key(namespace, end)
        };
        let state = self.txn.open_table(STATE).map_err(se("scanning state"))?;
        let range = state
            .range::<&[u8]>((
                Bound::Included(lower.as_slice()),
                Bound::Excluded(upper.as_slice()),
            ))
            .map_err(se("scanning state"))?;
        let mut page = RangePage::default();
        for item in range {
            let (k, v) = item.map_err(se("scanning state"))?;
            let (_, key) = codec::split_state_key(k.value())?;
            if limit != 0 && page.entries.len() == limit {
                page.bookmark = Some(key);
                break;
            }
            page.entries.push(StateEntry {
                key,
                value: codec::decode_value(v.value())?,
            });
        }
        Ok(page)
    }

    fn get_history_for_key(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>> {
        let k = codec::state_key(namespace, key);
        let state = self.txn.open_table(STATE).map_err(se("reading state"))?;
        let mut next = match state.get(k.as_slice()).map_err(se("reading state"))? {
            Some(g) => Some(codec::decode_state(g.value())?.1),
            None => {
                let deleted = self
                    .txn
                    .open_table(DELETED_HEADS)
                    .map_err(se("reading history"))?;
                let g = deleted.get(k.as_slice()).map_err(se("reading history"))?;
                g.map(|g| codec::decode_version(g.value())).transpose()?
            }
        };
        let log = self
            .txn
            .open_table(HISTORY_LOG)
            .map_err(se("reading history"))?;
        let mut out = Vec::new();
        while let Some(version) = next {
            let link = log
                .get(codec::history_log_key(namespace, key, version).as_slice())
                .map_err(se("reading history"))?
                .ok_or_else(|| {
                    LedgerError::Inconsistent(format!(
                        "the history of {namespace}/{key} names {version:?} but the history log \
                         has no such entry; delete the index file and reopen to rebuild it"
                    ))
                })?;
            next = match link.value() {
                [] => None,
                raw => Some(codec::decode_version(raw)?),
            };
            if next.is_some_and(|prev| prev >= version) {
                return Err(LedgerError::Inconsistent(format!(
                    "the history of {namespace}/{key} links {version:?} to a later entry; \
                     delete the index file and reopen to rebuild it"
                )));
            }
            let (_, payload) = self.read_block(version.block_num)?.ok_or_else(|| {
                LedgerError::Inconsistent(format!(
                    "history names block {} which is not indexed",
                    version.block_num
                ))
            })?;
            let (_, section) = blockfile::split_payload(&payload)?;
            let txs = codec::decode_tx_records(section)?;
            let tx = txs.get(version.tx_num as usize).ok_or_else(|| {
                LedgerError::Inconsistent(format!("history names missing transaction {version:?}"))
            })?;
            out.push(HistoryEntry {
                version,
                tx_id: tx.tx_id.clone(),
                value: block::value_written(tx, namespace, key).flatten(),
                timestamp: tx.timestamp,
            });
        }
        Ok(out)
    }

    fn for_each_state(
        &self,
        f: &mut dyn FnMut(&str, &str, &VersionedValue) -> Result<()>,
    ) -> Result<()> {
        let state = self.txn.open_table(STATE).map_err(se("scanning state"))?;
        for item in state.iter().map_err(se("scanning state"))? {
            let (k, v) = item.map_err(se("scanning state"))?;
            let (ns, key) = codec::split_state_key(k.value())?;
            f(&ns, &key, &codec::decode_value(v.value())?)?;
        }
        Ok(())
    }
}

delegate_to_snapshot!(Ledger);

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::testkit::{ChainBuilder, TestTx};
    use crate::{KeyWrite, MemLedger};

    fn options() -> LedgerOptions {
        LedgerOptions {
            sync_state_every: 1,
            ..LedgerOptions::default()
        }
    }

    fn tx(id: &str, key: &str, value: &str) -> TestTx {
        TestTx::valid(id, vec![KeyWrite::put("ns", key, value.as_bytes())])
    }

    #[test]
    fn a_deleted_key_keeps_its_history_and_a_later_put_continues_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), options()).unwrap();
        let mut chain = ChainBuilder::new();
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "1")]))
            .unwrap();
        ledger
            .commit_block(&chain.block(&[TestTx::valid("t1", vec![KeyWrite::delete("ns", "a")])]))
            .unwrap();
        let deleted_heads = |l: &Ledger| {
            use redb::ReadableTableMetadata;
            let txn = l.db.begin_read().unwrap();
            let t = txn.open_table(DELETED_HEADS).unwrap();
            t.len().unwrap()
        };
        assert_eq!(deleted_heads(&ledger), 1);
        let versions = |l: &Ledger| -> Vec<Version> {
            l.get_history_for_key("ns", "a")
                .unwrap()
                .iter()
                .map(|e| e.version)
                .collect()
        };
        assert_eq!(versions(&ledger), [Version::new(1, 0), Version::new(0, 0)]);
        ledger
            .commit_block(&chain.block(&[tx("t2", "b", "x")]))
            .unwrap();
        ledger
            .commit_block(&chain.block(&[tx("t3", "a", "3")]))
            .unwrap();
        assert_eq!(deleted_heads(&ledger), 0, "the put took the head back");
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(
            versions(&ledger),
            [Version::new(3, 0), Version::new(1, 0), Version::new(0, 0)]
        );
        assert_eq!(
            ledger.get_history_for_key("ns", "b").unwrap()[0].version,
            Version::new(2, 0)
        );
    }

    #[test]
    fn an_index_of_another_layout_is_refused_and_rebuilt_once_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), options()).unwrap();
        let mut chain = ChainBuilder::new();
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "1")]))
            .unwrap();
        {
            let txn = ledger.db.begin_write().unwrap();
            txn.open_table(META).unwrap().remove(FORMAT).unwrap();
            txn.commit().unwrap();
        }
        drop(ledger);
        let err = Ledger::open(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("layout 1") && msg.contains("delete that file"),
            "{msg}"
        );
        std::fs::remove_file(dir.path().join(INDEX_FILE)).unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.height().unwrap(), 1);
        assert_eq!(ledger.get_history_for_key("ns", "a").unwrap().len(), 1);
    }

    #[test]
    fn a_full_disk_during_the_block_append_leaves_the_previous_block() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(blockfile::Faults::default());
        let ledger = Ledger::open_with_faults(dir.path(), options(), faults.clone()).unwrap();
        let mut chain = ChainBuilder::new();
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "1")]))
            .unwrap();
        let digest = ledger.state_digest().unwrap();
        let file = dir.path().join(BLOCKS_DIR).join(blockfile::file_name(0));
        let len = std::fs::metadata(&file).unwrap().len();

        let b1 = chain.block(&[tx("t1", "a", "2")]);
        faults.block_write.store(true, Ordering::SeqCst);
        let err = ledger.commit_block(&b1).unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(ledger.height().unwrap(), 1);
        assert_eq!(ledger.state_digest().unwrap(), digest);
        assert_eq!(ledger.transaction("t1").unwrap(), None);
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            len,
            "no half record is left"
        );

        // The same block commits once the disk has room again, and survives a reopen.
        ledger.commit_block(&b1).unwrap();
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.height().unwrap(), 2);
        assert_eq!(ledger.verify_chain().unwrap(), 2);
        assert_eq!(ledger.get_state("ns", "a").unwrap().unwrap().value, b"2");
    }

    #[test]
    fn a_failed_state_commit_keeps_readers_at_the_previous_block_and_reopen_replays() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(blockfile::Faults::default());
        let ledger = Ledger::open_with_faults(dir.path(), options(), faults.clone()).unwrap();
        let mut chain = ChainBuilder::new();
        let b0 = chain.block(&[tx("t0", "a", "1")]);
        let b1 = chain.block(&[tx("t1", "a", "2"), tx("t2", "b", "2")]);
        ledger.commit_block(&b0).unwrap();
        let digest = ledger.state_digest().unwrap();

        faults.store_sync.store(true, Ordering::SeqCst);
        let err = ledger.commit_block(&b1).unwrap_err();
        assert!(matches!(err, LedgerError::Store { .. }), "{err}");
        assert_eq!(
            ledger.height().unwrap(),
            1,
            "readers stay at the previous block"
        );
        assert_eq!(
            ledger.state_digest().unwrap(),
            digest,
            "no half-written state"
        );
        let again = ledger.commit_block(&chain.block(&[])).unwrap_err();
        assert!(matches!(again, LedgerError::Poisoned(_)), "{again}");
        drop(ledger);

        // The block reached the block store before the state commit failed: it is replayed.
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.height().unwrap(), 2);
        let model = MemLedger::new();
        model.commit_block(&b0).unwrap();
        model.commit_block(&b1).unwrap();
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap()
        );
        assert_eq!(ledger.verify_chain().unwrap(), 2);
    }
}
