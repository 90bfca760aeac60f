//! The durable ledger: block files for blocks, one redb database for state, history, indexes
//! and the savepoint.
//!
//! ```text
//! DIR/blocks/blockfile_NNNNNN   append-only block records (see blockfile)
//! DIR/index.redb                state, history, block/hash/tx-ID indexes, savepoint
//! ```
//!
//! A commit (1) appends the block record and `fdatasync`s it — from then on the block is
//! committed and the call may acknowledge it — then (2) applies the block's writes into an
//! immutable in-memory layer (see the `overlay` module) and publishes it, so snapshots see the
//! block at once. Older state for that comes from the writer's own map of keys written since
//! the last flush (with each key's stored row, read once), then from the flush in flight, then
//! from redb. (3) Every [`LedgerOptions::flush_every_blocks`] blocks (or
//! [`LedgerOptions::flush_every_bytes`] of overlay) the pending layers and that map go to the
//! flush thread (or, without [`LedgerOptions::flush_in_background`], are written by the
//! commit), which writes the state, history, indexes and savepoint of all of them into redb in
//! one transaction, reading nothing, and then drops the flushed layers. At most one flush is in
//! flight; a commit that fills the next overlay first waits for it. The block files are the
//! write-ahead log: redb's savepoint says which blocks the state already holds, and opening
//! applies every block above it again, in order, from its record — so a crash between flushes
//! loses only the overlay, which the replay rebuilds. The redb transaction is atomic; it is
//! synced to disk once [`LedgerOptions::sync_state_every`] blocks have gone in since the last
//! synced one. A failed flush poisons the ledger: commits are refused, readers keep every
//! acknowledged block, and reopening replays them.
//!
//! A snapshot clones the published layer list, then starts a redb read transaction and keeps
//! the layers above the savepoint that transaction sees. Layers are published before redb
//! gets their blocks and removed only after, so the two always cover one contiguous height.
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
use std::sync::{Arc, Mutex, RwLock};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::block::{self, ApplyTarget, Block, BlockCommit};
use crate::blockfile::{self, BlockFiles, ScanEnd};
use crate::codec::{self, BlockLoc, TxRecord};
use crate::error::{LedgerError, Result};
use crate::memory::{delegate_to_snapshot, effective_start};
use crate::overlay::{Layer, Layers, Merged};
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
    /// Make the state database durable (fsync) once this many blocks went into it since the
    /// last synced commit; in between, state commits are atomic but not synced. Acknowledged
    /// blocks are always durable in the block files, and opening replays whatever state a
    /// crash lost. 1 syncs every state commit.
    pub sync_state_every: u64,
    /// Write the overlay (the blocks committed since the last state commit, held in memory)
    /// into the state database once it holds this many blocks. 1 writes every block's state
    /// as it commits.
    pub flush_every_blocks: u64,
    /// … or once the overlay holds about this many bytes of keys and values, whichever comes
    /// first.
    pub flush_every_bytes: usize,
    /// Write the overlay into the state database on a background thread while blocks keep
    /// committing (at most one flush in flight; a commit waits when the next overlay is full
    /// before the last flush finished). Otherwise the commit that fills the overlay writes it.
    pub flush_in_background: bool,
    /// `fdatasync` each block's record before [`BlockWriter::commit_block`] returns (the
    /// default: a committed block survives a crash). Turned off, a commit only writes the record
    /// and [`Ledger::sync_blocks`] makes every block so far durable with one `fdatasync`, so a
    /// caller that can re-derive lost blocks (the orderer, from its Raft log) pays one fsync per
    /// group of blocks. Then a crash may lose blocks committed since the last sync — never one
    /// the state database or an index already holds, since every state flush syncs the block
    /// files first — and opening cuts the lost tail off the last block file, treating any
    /// damaged record in it as the start of that tail.
    pub sync_each_block: bool,
    /// Keep the transaction-ID index ([`BlockReader::transaction`],
    /// [`BlockReader::block_by_tx_id`]); the default. A store whose readers never look a
    /// transaction up by ID (the orderer's: Deliver reads blocks by number) can turn it off
    /// and save an insert per transaction; lookups then find no transaction of the blocks
    /// committed meanwhile.
    pub index_tx_ids: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            max_block_file_len: 64 * 1024 * 1024,
            verify_on_open: true,
            cache_bytes: 512 * 1024 * 1024,
            sync_state_every: 16,
            flush_every_blocks: 16,
            flush_every_bytes: 16 * 1024 * 1024,
            flush_in_background: true,
            sync_each_block: true,
            index_tx_ids: true,
        }
    }
}

#[derive(Debug)]
struct WriterState {
    height: u64,
    tip: Option<[u8; 32]>,
    poisoned: Option<String>,
    /// Blocks written into the state database since its last synced commit.
    unsynced: u64,
    /// [`Layer::bytes`] summed over the published overlay.
    overlay_bytes: usize,
    /// Every key the overlay's pending layers wrote, with its newest value and its row in
    /// redb (or in the in-flight flush).
    touched: Touches,
    /// The layers not handed to a flush yet, oldest first.
    pending: Vec<Arc<Layer>>,
    /// The `touched` map of the flush running in the background, until it is reaped.
    in_flight: Option<Arc<Touches>>,
    /// The background flush thread, when [`LedgerOptions::flush_in_background`] is set.
    flusher: Option<Flusher>,
}

/// Per written key, what the writer knows (see [`Touched`]).
type Touches = BTreeMap<Vec<u8>, Touched>;

/// The background flush thread and the channels to it.
#[derive(Debug)]
struct Flusher {
    jobs: std::sync::mpsc::SyncSender<FlushJob>,
    done: std::sync::mpsc::Receiver<Result<()>>,
    thread: std::thread::JoinHandle<()>,
}

/// Layers for the flush thread to write, with their `touched` map.
struct FlushJob {
    touched: Arc<Touches>,
    layers: Vec<Arc<Layer>>,
    sync: bool,
}

/// What the writer knows of a key written since the last state flush.
#[derive(Clone, Debug)]
struct Touched {
    /// The value after the newest overlay block (`None`: deleted or never set).
    value: Option<VersionedValue>,
    /// The key's history head in redb (the start of its stored chain).
    stored_head: Option<Version>,
    /// That head is in [`DELETED_HEADS`] (the key has no state row).
    stored_deleted: bool,
    /// The newest history version the overlay added.
    head: Option<Version>,
}

impl Touched {
    /// Makes `version` the key's history head and says whether that is a new history entry;
    /// the same transaction writing a key twice makes one entry.
    fn note_history(&mut self, version: Version) -> bool {
        if self.head == Some(version) {
            return false;
        }
        self.head = Some(version);
        true
    }
}

/// A ledger on disk; see the module docs.
#[derive(Debug)]
pub struct Ledger {
    dir: PathBuf,
    db: Arc<redb::Database>,
    files: Arc<BlockFiles>,
    writer: Mutex<WriterState>,
    /// The overlay: every committed block above redb's savepoint, oldest first.
    layers: Arc<RwLock<Layers>>,
    sync_every: u64,
    flush_blocks: usize,
    flush_bytes: usize,
    index_tx_ids: bool,
}

/// The state table as a snapshot reads it.
type StateTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A consistent read-only view of a [`Ledger`]: a redb read transaction and the overlay
/// layers above its savepoint.
pub struct LedgerSnapshot {
    /// The state table of `txn`, opened at the first state read and kept for the next ones
    /// (an endorsement reads several keys, and opening a table costs more than a lookup).
    state: std::sync::OnceLock<StateTable>,
    txn: redb::ReadTransaction,
    /// The savepoint `txn` sees.
    stored: Option<u64>,
    layers: Layers,
    /// Index of the first layer above `stored`.
    first: usize,
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
        Self::recover(dir, db, options, Arc::default())
    }

    #[cfg(test)]
    pub(crate) fn open_with_faults(
        dir: &Path,
        options: LedgerOptions,
        faults: Arc<blockfile::Faults>,
    ) -> Result<Self> {
        let db = open_db(dir, &options, Some(faults.clone()))?;
        Self::recover(dir.to_path_buf(), db, options, faults)
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn recover(
        dir: PathBuf,
        db: redb::Database,
        options: LedgerOptions,
        faults: Arc<blockfile::Faults>,
    ) -> Result<Self> {
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
        let unsynced_tail = !options.sync_each_block;
        let scan = scan_blocks(&blocks_dir, start, savepoint, true, unsynced_tail)?;
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
            options.sync_each_block,
            faults,
        )?;
        let background = options.flush_in_background;
        let ledger = Ledger {
            dir,
            db: Arc::new(db),
            files: Arc::new(files),
            writer: Mutex::new(WriterState {
                height,
                tip,
                poisoned: None,
                unsynced: 0,
                overlay_bytes: 0,
                touched: BTreeMap::new(),
                pending: Vec::new(),
                in_flight: None,
                flusher: None,
            }),
            layers: Arc::new(RwLock::new(Arc::new(Vec::new()))),
            sync_every: options.sync_state_every.max(1),
            flush_blocks: usize::try_from(options.flush_every_blocks.max(1)).unwrap_or(usize::MAX),
            flush_bytes: options.flush_every_bytes.max(1),
            index_tx_ids: options.index_tx_ids,
        };
        let replay: Vec<Scanned> = scan
            .blocks
            .into_iter()
            .filter(|b| Some(b.number) > savepoint)
            .collect();
        // Replay through the overlay, flushing (synced) every overlay's worth and at the end.
        {
            let mut writer = ledger.writer.lock().expect("writer lock");
            for b in replay {
                let payload = b.payload.expect("payloads are kept above the savepoint");
                let (_, section) = blockfile::split_payload(&payload)?;
                tracing::info!(block = b.number, "replaying block above the savepoint");
                let txs = codec::decode_tx_records(section)?;
                let layer = ledger.build_layer(&mut writer, b.number, b.loc, txs)?;
                writer.pending.push(Arc::new(layer));
                if writer.pending.len() >= ledger.flush_blocks {
                    ledger.flush_locked(&mut writer, None)?;
                }
            }
            ledger.flush_locked(&mut writer, None)?;
            if background {
                writer.flusher = Some(spawn_flusher(
                    ledger.db.clone(),
                    ledger.files.clone(),
                    ledger.layers.clone(),
                )?);
            }
        }
        Ok(ledger)
    }

    /// Re-reads every block file and checks every checksum, the block numbering, the header
    /// hash chain, each block's data hash and that the index points at each record. Returns the
    /// number of blocks checked.
    pub fn verify_chain(&self) -> Result<u64> {
        let _writer = self.writer.lock().expect("writer lock");
        let scan = scan_blocks(
            &self.dir.join(BLOCKS_DIR),
            (0, 0, 0),
            Some(u64::MAX),
            false,
            false,
        )?;
        let view = self.snapshot()?;
        let height = view.height()?;
        for b in &scan.blocks {
            if b.number >= height {
                return Err(LedgerError::Inconsistent(format!(
                    "block {} is in the block files above the ledger height {height}; reopen the ledger to replay it",
                    b.number
                )));
            }
            if view.block_loc(b.number)? != Some(b.loc) {
                return Err(LedgerError::Inconsistent(format!(
                    "the index entry of block {} does not point at its record",
                    b.number
                )));
            }
        }
        Ok(scan.blocks.len() as u64)
    }

    /// Applies block `number` (stored at `loc`, with transaction records `txs`) on top of
    /// the current state into a new overlay layer, noting each written key's stored row in
    /// the writer's `touched` map on the way.
    fn build_layer(
        &self,
        writer: &mut WriterState,
        number: u64,
        loc: BlockLoc,
        txs: Vec<TxRecord>,
    ) -> Result<Layer> {
        let txn = self.db.begin_read().map_err(se("starting a read"))?;
        let mut builder = LayerBuilder {
            touched: &mut writer.touched,
            in_flight: writer.in_flight.as_deref(),
            state: txn.open_table(STATE).map_err(se("reading state"))?,
            deleted: txn
                .open_table(DELETED_HEADS)
                .map_err(se("reading the history heads"))?,
            layer: Layer::new(number, loc),
            index_tx_ids: self.index_tx_ids,
        };
        block::apply(number, &txs, &mut builder)?;
        let mut layer = builder.layer;
        layer.set_txs(txs);
        Ok(layer)
    }

    /// Makes every committed block durable in the block files with one `fdatasync` and returns
    /// the height this covers: blocks below it survive a crash. Needed only with
    /// [`LedgerOptions::sync_each_block`] off; otherwise every commit already synced its block.
    /// On failure nothing new counts as durable; the blocks stay readable and the next sync
    /// tries again.
    pub fn sync_blocks(&self) -> Result<u64> {
        // Read the height first: every block below it is already in the files, so the sync
        // covers them (blocks committed meanwhile may be covered too, but are not claimed).
        let height = self.writer.lock().expect("writer lock").height;
        self.files.sync()?;
        Ok(height)
    }

    /// Writes the overlay into the state database and makes every block and every state
    /// commit so far durable, so that the next open replays nothing.
    pub fn sync(&self) -> Result<()> {
        let mut writer = self.writer.lock().expect("writer lock");
        if let Some(why) = &writer.poisoned {
            return Err(LedgerError::Poisoned(why.clone()));
        }
        self.sync_locked(&mut writer)
    }

    fn sync_locked(&self, writer: &mut WriterState) -> Result<()> {
        self.reap(writer, true)?;
        self.files.sync()?;
        if !writer.pending.is_empty() {
            return self.flush_locked(writer, None);
        }
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

    /// The published overlay.
    fn current_layers(&self) -> Layers {
        self.layers.read().expect("overlay lock").clone()
    }

    /// Writes the pending layers and then `new` (a block not yet published) into redb in one
    /// transaction on this thread and drops them from the published overlay. Synced when
    /// `new` is `None` (an explicit sync) or enough blocks went in unsynced. On failure
    /// nothing is published and the ledger is poisoned: the blocks are durable in the block
    /// files, and reopening replays them.
    fn flush_locked(&self, writer: &mut WriterState, new: Option<&Layer>) -> Result<()> {
        let pending = std::mem::take(&mut writer.pending);
        let all: Vec<&Layer> = pending.iter().map(|l| &**l).chain(new).collect();
        let (Some(first), Some(last)) = (all.first(), all.last()) else {
            return Ok(());
        };
        let (first, last) = (first.number, last.number);
        let count = all.len() as u64;
        let sync = new.is_none() || writer.unsynced + count >= self.sync_every;
        let touched = std::mem::take(&mut writer.touched);
        // The index may point only at durable records.
        let written = self
            .files
            .sync()
            .and_then(|()| write_layers(&self.db, &touched, &all, sync));
        if let Err(e) = written {
            writer.poisoned = Some(format!(
                "blocks {first}..={last} are in the block store but writing their state failed: {e}"
            ));
            return Err(e);
        }
        drop_flushed(&self.layers, last);
        writer.overlay_bytes = 0;
        writer.unsynced = if sync { 0 } else { writer.unsynced + count };
        Ok(())
    }

    /// Whether the pending layers fill an overlay.
    fn overlay_full(&self, writer: &WriterState) -> bool {
        writer.pending.len() >= self.flush_blocks || writer.overlay_bytes >= self.flush_bytes
    }

    /// Hands the pending layers to the flush thread (none may be in flight).
    fn hand_off(&self, writer: &mut WriterState) -> Result<()> {
        debug_assert!(writer.in_flight.is_none());
        let Some(flusher) = writer.flusher.as_ref() else {
            return Err(LedgerError::Poisoned(
                "the state flush thread is gone".into(),
            ));
        };
        let layers = std::mem::take(&mut writer.pending);
        let count = layers.len() as u64;
        let sync = writer.unsynced + count >= self.sync_every;
        let touched = Arc::new(std::mem::take(&mut writer.touched));
        let job = FlushJob {
            touched: touched.clone(),
            layers,
            sync,
        };
        if flusher.jobs.send(job).is_err() {
            let why = "the state flush thread stopped; reopen the ledger".to_string();
            writer.poisoned = Some(why.clone());
            return Err(LedgerError::Poisoned(why));
        }
        writer.in_flight = Some(touched);
        writer.overlay_bytes = 0;
        writer.unsynced = if sync { 0 } else { writer.unsynced + count };
        Ok(())
    }

    /// Collects the result of the flush in flight, waiting for it when `wait` is set. A
    /// failed flush poisons the ledger.
    fn reap(&self, writer: &mut WriterState, wait: bool) -> Result<()> {
        if writer.in_flight.is_none() {
            return Ok(());
        }
        let Some(flusher) = writer.flusher.as_ref() else {
            return Ok(());
        };
        let received = if wait {
            flusher.done.recv().ok()
        } else {
            match flusher.done.try_recv() {
                Ok(r) => Some(r),
                Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(()),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
            }
        };
        writer.in_flight = None;
        let result = received.unwrap_or_else(|| {
            Err(LedgerError::Poisoned(
                "the state flush thread stopped".into(),
            ))
        });
        if let Err(e) = &result {
            writer.poisoned = Some(format!(
                "a background state flush failed (its blocks are in the block store and \
                 reopening the ledger replays them): {e}"
            ));
        }
        result
    }
}

/// Drops the layers of blocks up to `last` from the published overlay (redb holds them).
fn drop_flushed(layers: &RwLock<Layers>, last: u64) {
    let mut published = layers.write().expect("overlay lock");
    let kept: Vec<_> = published
        .iter()
        .filter(|l| l.number > last)
        .cloned()
        .collect();
    *published = Arc::new(kept);
}

/// Starts the background flush thread: it writes each job's layers into redb, drops them
/// from the published overlay and reports the result.
fn spawn_flusher(
    db: Arc<redb::Database>,
    files: Arc<BlockFiles>,
    layers: Arc<RwLock<Layers>>,
) -> Result<Flusher> {
    let (jobs, job_rx) = std::sync::mpsc::sync_channel::<FlushJob>(1);
    let (done_tx, done) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("ledger-flush".into())
        .spawn(move || {
            for job in job_rx {
                let refs: Vec<&Layer> = job.layers.iter().map(|l| &**l).collect();
                // The index may point only at durable records (a no-op when every commit
                // synced its own).
                let result = files
                    .sync()
                    .and_then(|()| write_layers(&db, &job.touched, &refs, job.sync));
                if result.is_ok() {
                    if let Some(last) = refs.last() {
                        drop_flushed(&layers, last.number);
                    }
                }
                if done_tx.send(result).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| LedgerError::store("starting the state flush thread", e))?;
    Ok(Flusher { jobs, done, thread })
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // Best effort: the overlay and any lost state commit are replayed from the block files
        // on the next open.
        if let Ok(mut writer) = self.writer.lock() {
            if writer.poisoned.is_none() {
                if let Err(e) = self.sync_locked(&mut writer) {
                    tracing::warn!(error = %e, "could not sync the state database on close");
                }
            }
            if let Some(flusher) = writer.flusher.take() {
                drop(flusher.jobs);
                if flusher.thread.join().is_err() {
                    tracing::warn!("the state flush thread panicked");
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
    let locked = |e: redb::DatabaseError| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => LedgerError::Locked(dir.to_path_buf()),
        e => se("opening the index database")(e),
    };
    let db = match faults {
        None => builder.create(&path).map_err(locked)?,
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
                .map_err(locked)?
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
/// `keep_above`. Cuts a torn tail off the last file when `repair` is set; with
/// `unsynced_tail` any damaged record of the last file starts that tail (see
/// [`LedgerOptions::sync_each_block`]).
fn scan_blocks(
    dir: &Path,
    start: (u32, u64, u64),
    keep_above: Option<u64>,
    repair: bool,
    unsynced_tail: bool,
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
        let last_file = numbers.last() == Some(&file_no);
        let end =
            blockfile::scan_file(&path, unsynced_tail && last_file, |offset, len, payload| {
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
                        reason: format!(
                            "expected block {expected} but found block {}",
                            block.number
                        ),
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

/// Writes the state, history, indexes and savepoint of the consecutive overlay blocks
/// `layers` in one redb transaction, synced to disk when `sync` is set, from the
/// writer's `touched` map. Inserts go in key order and a key several
/// blocks wrote is written once; nothing is read from redb.
fn write_layers(
    db: &redb::Database,
    touched: &Touches,
    layers: &[&Layer],
    sync: bool,
) -> Result<()> {
    let Some(last) = layers.last().map(|l| l.number) else {
        return Ok(());
    };
    let effects = effects(touched, layers)?;
    let mut txn = db
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
        flush(
            effects,
            Tables {
                state: &mut state,
                log: &mut log,
                deleted: &mut deleted,
                txids: &mut txids,
            },
        )?;
        let mut blocks_table = txn
            .open_table(BLOCKS)
            .map_err(se("opening the block index"))?;
        let mut hashes = txn
            .open_table(HASHES)
            .map_err(se("opening the hash index"))?;
        for l in layers {
            blocks_table
                .insert(l.number, l.loc.encode().as_slice())
                .map_err(se("indexing the block"))?;
            hashes
                .insert(l.loc.hash.as_slice(), l.number)
                .map_err(se("indexing the block hash"))?;
        }
        let mut meta = txn.open_table(META).map_err(se("opening the meta table"))?;
        meta.insert(SAVEPOINT, last)
            .map_err(se("moving the savepoint"))?;
    }
    txn.commit().map_err(se("committing the blocks' state"))
}

/// A key's final state after the blocks being flushed.
enum Pending {
    /// Set to this value, version and metadata.
    Put {
        value: Vec<u8>,
        version: Version,
        metadata: KeyMetadata,
    },
    Delete,
}

/// The newest history entry of a key the flushed blocks wrote.
struct Head {
    version: Version,
    /// The key's stored head is in [`DELETED_HEADS`], so a put must remove it there.
    was_deleted: bool,
}

/// What a flush writes.
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

/// Writes a flush: state in key order (each row carrying its key's history head), then the
/// history log (an append: its keys start with the flushed blocks' numbers), then the tx-ID
/// index. A tx ID already indexed by an earlier block is put back (the first occurrence wins).
fn flush(effects: Effects, t: Tables<'_, '_>) -> Result<()> {
    let Effects {
        overlay,
        heads,
        mut log,
        txids,
    } = effects;
    for (k, pending) in overlay {
        let head = heads.get(&k).ok_or_else(|| {
            LedgerError::Inconsistent(format!(
                "state key {} is written without a history entry",
                block::hex(&k)
            ))
        })?;
        match pending {
            Pending::Put {
                value,
                version,
                metadata,
            } => {
                let new = VersionedValue {
                    value,
                    version,
                    metadata,
                };
                t.state
                    .insert(
                        k.as_slice(),
                        codec::encode_state(&new, head.version).as_slice(),
                    )
                    .map_err(se("writing state"))?;
                if head.was_deleted {
                    t.deleted
                        .remove(k.as_slice())
                        .map_err(se("writing the history heads"))?;
                }
            }
            Pending::Delete => {
                t.state.remove(k.as_slice()).map_err(se("deleting state"))?;
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

/// Applies a block into a new [`Layer`], reading older state from the writer's `touched`
/// map and then redb (which only the writer changes, so it is the state below the overlay).
struct LayerBuilder<'a> {
    touched: &'a mut Touches,
    /// The keys of the flush in flight: newer than redb.
    in_flight: Option<&'a Touches>,
    state: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    deleted: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    layer: Layer,
    /// See [`LedgerOptions::index_tx_ids`].
    index_tx_ids: bool,
}

impl LayerBuilder<'_> {
    /// The writer's entry for state key `k`, loaded from redb on first use.
    fn touch(&mut self, k: &[u8]) -> Result<&mut Touched> {
        // One search of the writer's map whether the key is there or not (a migration's block
        // touches thousands of keys, each once).
        match self.touched.entry(k.to_vec()) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let loaded = match self.in_flight.and_then(|f| f.get(k)) {
                    // What redb will hold once the flush in flight is written.
                    Some(t) => {
                        let head = t.head.or(t.stored_head);
                        Touched {
                            value: t.value.clone(),
                            stored_head: head,
                            stored_deleted: t.value.is_none() && head.is_some(),
                            head: None,
                        }
                    }
                    None => load(&self.state, &self.deleted, k)?,
                };
                Ok(e.insert(loaded))
            }
        }
    }

    fn set(&mut self, k: Vec<u8>, value: Option<VersionedValue>) -> Result<()> {
        self.touch(&k)?.value.clone_from(&value);
        self.layer.state.insert(k, value);
        Ok(())
    }
}

/// Key `k`'s row in redb: its value and history head, or the head of a deleted key.
fn load(
    state: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    deleted: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    k: &[u8],
) -> Result<Touched> {
    let loaded = match state.get(k).map_err(se("reading state"))? {
        Some(g) => {
            let (value, head) = codec::decode_state(g.value())?;
            Touched {
                value: Some(value),
                stored_head: Some(head),
                stored_deleted: false,
                head: None,
            }
        }
        None => {
            let head = deleted
                .get(k)
                .map_err(se("reading the history heads"))?
                .map(|g| codec::decode_version(g.value()))
                .transpose()?;
            Touched {
                value: None,
                stored_head: head,
                stored_deleted: head.is_some(),
                head: None,
            }
        }
    };
    Ok(loaded)
}

impl ApplyTarget for LayerBuilder<'_> {
    fn get(&mut self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        let k = codec::state_key(namespace, key);
        if let Some(t) = self
            .touched
            .get(&k)
            .or_else(|| self.in_flight.and_then(|f| f.get(&k)))
        {
            return Ok(t.value.clone());
        }
        let v = self.state.get(k.as_slice()).map_err(se("reading state"))?;
        v.map(|g| codec::decode_value(g.value())).transpose()
    }
    fn put(&mut self, namespace: &str, key: &str, value: VersionedValue) -> Result<()> {
        self.set(codec::state_key(namespace, key), Some(value))
    }
    fn delete(&mut self, namespace: &str, key: &str) -> Result<()> {
        self.set(codec::state_key(namespace, key), None)
    }
    fn put_with_history(
        &mut self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        version: Version,
    ) -> Result<()> {
        // The trait's `put_keep_metadata` then `add_history`, with the key built and found once
        // (a migration's block puts thousands of keys).
        let k = codec::state_key(namespace, key);
        let t = self.touch(&k)?;
        let metadata = t
            .value
            .as_ref()
            .map_or_else(KeyMetadata::new, |old| old.metadata.clone());
        let value = VersionedValue {
            value,
            version,
            metadata,
        };
        t.value = Some(value.clone());
        let new_history = t.note_history(version);
        self.layer.state.insert(k.clone(), Some(value));
        if new_history {
            self.layer.history.entry(k).or_default().push(version);
        }
        Ok(())
    }
    fn add_history(&mut self, namespace: &str, key: &str, version: Version) -> Result<()> {
        let k = codec::state_key(namespace, key);
        if self.touch(&k)?.note_history(version) {
            self.layer.history.entry(k).or_default().push(version);
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
        if !self.index_tx_ids {
            return Ok(());
        }
        self.layer
            .txids
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

/// What flushing `layers` writes, from the writer's `touched` map: each key's final value
/// and history head, the history-log entries linked newest to oldest (the first overlay
/// entry of a key links to its stored head), and each tx ID's first occurrence.
fn effects(touched: &Touches, layers: &[&Layer]) -> Result<Effects> {
    let mut log = Vec::new();
    let mut last: BTreeMap<&[u8], Version> = BTreeMap::new();
    let mut txids = BTreeMap::new();
    for layer in layers {
        for (k, versions) in &layer.history {
            let (namespace, key) = codec::split_state_key(k)?;
            for v in versions {
                let prev = match last.get(k.as_slice()) {
                    Some(p) => Some(*p),
                    None => touched.get(k).and_then(|t| t.stored_head),
                };
                log.push((codec::history_log_key(&namespace, &key, *v), prev));
                last.insert(k, *v);
            }
        }
        for (id, loc) in &layer.txids {
            txids
                .entry(id.clone())
                .or_insert_with(|| codec::encode_tx_loc(loc.block_num, loc.tx_num, loc.code));
        }
    }
    let mut overlay = BTreeMap::new();
    let mut heads = BTreeMap::new();
    for (k, t) in touched {
        if let Some(version) = t.head.or(t.stored_head) {
            heads.insert(
                k.clone(),
                Head {
                    version,
                    was_deleted: t.stored_deleted,
                },
            );
        }
        let pending = match &t.value {
            Some(v) => Pending::Put {
                value: v.value.clone(),
                version: v.version,
                metadata: v.metadata.clone(),
            },
            None => Pending::Delete,
        };
        overlay.insert(k.clone(), pending);
    }
    Ok(Effects {
        overlay,
        heads,
        log,
        txids,
    })
}

impl BlockWriter for Ledger {
    fn commit_block(&self, commit: &BlockCommit) -> Result<StoredBlock> {
        let mut writer = self.writer.lock().expect("writer lock");
        if let Some(why) = &writer.poisoned {
            return Err(LedgerError::Poisoned(why.clone()));
        }
        if writer.flusher.is_some() {
            // Collect a finished flush; wait for it if the overlay is already full again.
            let full = self.overlay_full(&writer);
            self.reap(&mut writer, full)?;
            if full {
                self.hand_off(&mut writer)?;
            }
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
        // The block is durable. Build its layer over the current view; only this thread
        // changes the view, so it is the state just below the block.
        let layer = self.build_layer(&mut writer, prepared.number, loc, prepared.txs);
        let layer = match layer {
            Ok(layer) => layer,
            Err(e) => {
                writer.poisoned = Some(format!(
                    "block {} is in the block store but applying its writes failed: {e}",
                    prepared.number
                ));
                return Err(e);
            }
        };
        let overlay_bytes = writer.overlay_bytes + layer.bytes;
        let full =
            writer.pending.len() + 1 >= self.flush_blocks || overlay_bytes >= self.flush_bytes;
        if full && writer.flusher.is_none() {
            // Readers stay at the previous block if this fails.
            self.flush_locked(&mut writer, Some(&layer))?;
        } else {
            let layer = Arc::new(layer);
            {
                let mut published = self.layers.write().expect("overlay lock");
                let mut next = Vec::with_capacity(published.len() + 1);
                next.extend(published.iter().cloned());
                next.push(layer.clone());
                *published = Arc::new(next);
            }
            writer.pending.push(layer);
            writer.overlay_bytes = overlay_bytes;
        }
        writer.height += 1;
        writer.tip = Some(prepared.hash);
        if full && writer.flusher.is_some() && writer.in_flight.is_none() {
            // The block is committed whatever happens to the flush: a failure to hand it
            // off poisons the ledger and the next call reports it.
            if let Err(e) = self.hand_off(&mut writer) {
                tracing::error!(error = %e, "could not start a state flush");
            }
        }
        Ok(StoredBlock {
            number: prepared.number,
            hash: prepared.hash,
            bytes: prepared.bytes,
        })
    }
}

/// A ledger opened for reading without writing a byte: for inspecting a stopped peer's
/// ledger (`cambium ledger inspect`). It sees the state database as its last clean close left
/// it, and the blocks it indexes.
///
/// Only a ledger that needs no recovery opens this way: its state database was closed cleanly
/// and every block in the block files is in the state (which a clean close guarantees).
/// Otherwise [`LedgerError::NeedsRecovery`] says what to do; [`Ledger::open`] recovers it. A
/// ledger open in another process is refused ([`LedgerError::Locked`]), as a writer is.
pub struct ReadOnlyLedger {
    /// Declared before the database so that its read transaction ends first.
    view: LedgerSnapshot,
    _db: redb::ReadOnlyDatabase,
}

impl std::fmt::Debug for ReadOnlyLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyLedger").finish_non_exhaustive()
    }
}

impl ReadOnlyLedger {
    /// Opens the ledger in `dir` for reading; nothing in `dir` is created, repaired or written.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(INDEX_FILE);
        if !path.is_file() {
            return Err(LedgerError::NotALedger(dir.to_path_buf()));
        }
        let needs_recovery = |reason: String| LedgerError::NeedsRecovery {
            dir: dir.to_path_buf(),
            reason,
        };
        let db = redb::Builder::new()
            .open_read_only(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => LedgerError::Locked(dir.to_path_buf()),
                redb::DatabaseError::RepairAborted => needs_recovery(
                    "its state database was not closed cleanly (the process that had it open \
                     stopped without shutting down)"
                        .to_owned(),
                ),
                e => se("opening the index database")(e),
            })?;
        let txn = db.begin_read().map_err(se("starting a read"))?;
        let format = {
            let meta = txn
                .open_table(META)
                .map_err(se("reading the index format"))?;
            let v = meta.get(FORMAT).map_err(se("reading the index format"))?;
            v.map(|g| g.value())
        };
        if format != Some(FORMAT_VERSION) {
            return Err(LedgerError::Inconsistent(format!(
                "{} has index layout {} but this version reads layout {FORMAT_VERSION}; open the \
                 ledger normally to rebuild the index from the block files (after deleting that file)",
                path.display(),
                format.unwrap_or(1)
            )));
        }
        let savepoint = read_savepoint(&txn)?;
        let start = match savepoint {
            Some(s) => {
                let loc = block_loc(&txn, s)?.ok_or_else(|| {
                    LedgerError::Inconsistent(format!(
                        "the savepoint is block {s} but the index has no location for it"
                    ))
                })?;
                (loc.file, loc.offset, s)
            }
            None => (0, 0, 0),
        };
        let blocks_dir = dir.join(BLOCKS_DIR);
        // From the savepoint's own record on, keeping no payloads and cutting nothing: what
        // lies above the savepoint decides whether the state is complete.
        let scan = scan_blocks(&blocks_dir, start, Some(u64::MAX), false, false)?;
        let last = scan.blocks.last().map(|b| b.number);
        if let (Some(s), None) = (savepoint, last) {
            return Err(LedgerError::Inconsistent(format!(
                "the index says block {s} is committed but {} holds no blocks from it on",
                blocks_dir.display()
            )));
        }
        if let Some(last) = last.filter(|l| Some(*l) > savepoint) {
            return Err(needs_recovery(format!(
                "blocks {}..={last} are in its block files but not yet in its state database",
                savepoint.map_or(0, |s| s + 1)
            )));
        }
        let files = BlockFiles::open_read_only(
            &blocks_dir,
            scan.tail_file,
            scan.tail_len,
            LedgerOptions::default().max_block_file_len,
        )?;
        Ok(ReadOnlyLedger {
            view: LedgerSnapshot {
                state: std::sync::OnceLock::new(),
                txn,
                stored: savepoint,
                layers: Arc::default(),
                first: 0,
                files: Arc::new(files),
            },
            _db: db,
        })
    }

    /// The ledger's blocks and state.
    pub fn view(&self) -> &LedgerSnapshot {
        &self.view
    }
}

impl SnapshotSource for Ledger {
    type Snapshot = LedgerSnapshot;

    fn snapshot(&self) -> Result<LedgerSnapshot> {
        // The layers first, then the read transaction: layers leave the overlay only after
        // redb holds their blocks, so these layers reach down to the savepoint `txn` sees
        // (or redb has moved past all of them, and the view is redb alone).
        let layers = self.current_layers();
        let txn = self.db.begin_read().map_err(se("starting a read"))?;
        let stored = read_savepoint(&txn)?;
        let first = layers.partition_point(|l| Some(l.number) <= stored);
        Ok(LedgerSnapshot {
            state: std::sync::OnceLock::new(),
            txn,
            stored,
            layers,
            first,
            files: self.files.clone(),
        })
    }
}

impl LedgerSnapshot {
    /// The state table of this view's read transaction, opened once.
    fn state_table(&self, action: &'static str) -> Result<&StateTable> {
        if let Some(table) = self.state.get() {
            return Ok(table);
        }
        let table = self.txn.open_table(STATE).map_err(se(action))?;
        Ok(self.state.get_or_init(|| table))
    }

    /// The overlay layers this view includes, oldest first.
    fn overlay(&self) -> &[Arc<Layer>] {
        &self.layers[self.first..]
    }

    /// The overlay layer of block `number`, if the block is in the overlay.
    fn layer(&self, number: u64) -> Option<&Layer> {
        let overlay = self.overlay();
        let first = overlay.first()?.number;
        let i = usize::try_from(number.checked_sub(first)?).ok()?;
        overlay.get(i).map(|l| &**l)
    }

    /// Where block `number` is stored.
    fn block_loc(&self, number: u64) -> Result<Option<BlockLoc>> {
        match self.overlay().first() {
            Some(first) if number >= first.number => Ok(self.layer(number).map(|l| l.loc)),
            _ => block_loc(&self.txn, number),
        }
    }

    fn read_block(&self, number: u64) -> Result<Option<(StoredBlock, Vec<u8>)>> {
        let Some(loc) = self.block_loc(number)? else {
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

    /// The live state entries with raw keys in `(lower, upper)`, overlay merged over redb.
    fn scan_state(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        f: &mut dyn FnMut(Vec<u8>, VersionedValue) -> Result<bool>,
    ) -> Result<()> {
        let state = self.state_table("scanning state")?;
        let stored = state
            .range::<&[u8]>((lower, upper))
            .map_err(se("scanning state"))?
            .map(|item| {
                let (k, v) = item.map_err(se("scanning state"))?;
                Ok((k.value().to_vec(), codec::decode_value(v.value())?))
            });
        for item in Merged::new(self.overlay(), lower, upper, stored) {
            let (k, v) = item?;
            if !f(k, v)? {
                break;
            }
        }
        Ok(())
    }

    /// The stored history of the state key `k` (redb's chain), newest first, appended to
    /// `out`.
    fn stored_history(
        &self,
        namespace: &str,
        key: &str,
        k: &[u8],
        out: &mut Vec<HistoryEntry>,
    ) -> Result<()> {
        let state = self.state_table("reading state")?;
        let mut next = match state.get(k).map_err(se("reading state"))? {
            Some(g) => Some(codec::decode_state(g.value())?.1),
            None => {
                let deleted = self
                    .txn
                    .open_table(DELETED_HEADS)
                    .map_err(se("reading history"))?;
                let g = deleted.get(k).map_err(se("reading history"))?;
                g.map(|g| codec::decode_version(g.value())).transpose()?
            }
        };
        let log = self
            .txn
            .open_table(HISTORY_LOG)
            .map_err(se("reading history"))?;
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
            out.push(history_entry(&txs, version, namespace, key)?);
        }
        Ok(())
    }
}

/// The history entry of `(namespace, key)` written at `version` by one of `txs`.
fn history_entry(
    txs: &[TxRecord],
    version: Version,
    namespace: &str,
    key: &str,
) -> Result<HistoryEntry> {
    let tx = txs.get(version.tx_num as usize).ok_or_else(|| {
        LedgerError::Inconsistent(format!("history names missing transaction {version:?}"))
    })?;
    Ok(HistoryEntry {
        version,
        tx_id: tx.tx_id.clone(),
        value: block::value_written(tx, namespace, key).flatten(),
        timestamp: tx.timestamp,
    })
}

impl BlockReader for LedgerSnapshot {
    fn height(&self) -> Result<u64> {
        Ok(self.savepoint()?.map_or(0, |s| s + 1))
    }

    fn block(&self, number: u64) -> Result<Option<StoredBlock>> {
        Ok(self.read_block(number)?.map(|(b, _)| b))
    }

    fn block_by_hash(&self, hash: &[u8]) -> Result<Option<StoredBlock>> {
        if let Some(l) = self.overlay().iter().find(|l| l.loc.hash == hash) {
            return self.block(l.number);
        }
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
        // The first occurrence wins: stored blocks are older than the overlay's.
        let txids = self
            .txn
            .open_table(TXIDS)
            .map_err(se("reading the tx-ID index"))?;
        if let Some(v) = txids.get(tx_id).map_err(se("reading the tx-ID index"))? {
            let (block_num, tx_num, code) = codec::decode_tx_loc(v.value())?;
            return Ok(Some(TxLocation {
                tx_id: tx_id.to_string(),
                block_num,
                tx_num,
                code,
            }));
        }
        Ok(self
            .overlay()
            .iter()
            .find_map(|l| l.txids.get(tx_id))
            .cloned())
    }
}

impl StateReader for LedgerSnapshot {
    fn savepoint(&self) -> Result<Option<u64>> {
        Ok(self.overlay().last().map(|l| l.number).or(self.stored))
    }

    fn get_state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>> {
        let k = codec::state_key(namespace, key);
        for layer in self.overlay().iter().rev() {
            if let Some(v) = layer.state.get(&k) {
                return Ok(v.clone());
            }
        }
        let state = self.state_table("reading state")?;
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
        let mut page = RangePage::default();
        self.scan_state(
            Bound::Included(lower.as_slice()),
            Bound::Excluded(upper.as_slice()),
            &mut |k, value| {
                let (_, key) = codec::split_state_key(&k)?;
                if limit != 0 && page.entries.len() == limit {
                    page.bookmark = Some(key);
                    return Ok(false);
                }
                page.entries.push(StateEntry { key, value });
                Ok(true)
            },
        )?;
        Ok(page)
    }

    fn get_history_for_key(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>> {
        let k = codec::state_key(namespace, key);
        let mut out = Vec::new();
        for layer in self.overlay().iter().rev() {
            if let Some(versions) = layer.history.get(&k) {
                for v in versions.iter().rev() {
                    out.push(history_entry(&layer.txs, *v, namespace, key)?);
                }
            }
        }
        self.stored_history(namespace, key, &k, &mut out)?;
        Ok(out)
    }

    fn for_each_state(
        &self,
        f: &mut dyn FnMut(&str, &str, &VersionedValue) -> Result<()>,
    ) -> Result<()> {
        self.scan_state(Bound::Unbounded, Bound::Unbounded, &mut |k, v| {
            let (ns, key) = codec::split_state_key(&k)?;
            f(&ns, &key, &v)?;
            Ok(true)
        })
    }
}

delegate_to_snapshot!(Ledger);

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::testkit::{ChainBuilder, TestTx};
    use crate::{KeyWrite, MemLedger};

    /// Every block's state goes into redb, synced, as it commits.
    fn options() -> LedgerOptions {
        LedgerOptions {
            sync_state_every: 1,
            flush_every_blocks: 1,
            flush_in_background: false,
            ..LedgerOptions::default()
        }
    }

    fn tx(id: &str, key: &str, value: &str) -> TestTx {
        TestTx::valid(id, vec![KeyWrite::put("ns", key, value.as_bytes())])
    }

    /// Flushes every `n` blocks as the commit that fills the overlay, syncing every flush.
    fn flush_every(n: u64) -> LedgerOptions {
        LedgerOptions {
            flush_every_blocks: n,
            sync_state_every: 1,
            flush_in_background: false,
            ..LedgerOptions::default()
        }
    }

    fn stored_savepoint(l: &Ledger) -> Option<u64> {
        read_savepoint(&l.db.begin_read().unwrap()).unwrap()
    }

    #[test]
    fn the_overlay_is_flushed_every_k_blocks_and_reads_see_it_before() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), flush_every(3)).unwrap();
        let mut chain = ChainBuilder::new();
        let model = MemLedger::new();
        let blocks = [
            chain.block(&[tx("t0", "a", "1"), tx("t1", "b", "1")]),
            chain.block(&[TestTx::valid("t2", vec![KeyWrite::delete("ns", "a")])]),
            chain.block(&[tx("t3", "c", "3")]),
            chain.block(&[tx("t4", "b", "4"), tx("t5", "a", "5")]),
            chain.block(&[tx("t6", "d", "6")]),
        ];
        let savepoints = [None, None, Some(2), Some(2), Some(2)];
        for (b, want) in blocks.iter().zip(savepoints) {
            let stored = ledger.commit_block(b).unwrap();
            assert_eq!(stored, model.commit_block(b).unwrap());
            assert_eq!(
                stored_savepoint(&ledger),
                want,
                "after block {}",
                stored.number
            );
            assert_eq!(ledger.height().unwrap(), stored.number + 1);
            assert_eq!(
                ledger.state_digest().unwrap(),
                model.state_digest().unwrap()
            );
            assert_eq!(ledger.block_by_hash(&stored.hash).unwrap(), Some(stored));
        }
        // History crosses from the overlay (blocks 3, 4) into redb (blocks 0..=2).
        let versions: Vec<_> = ledger
            .get_history_for_key("ns", "a")
            .unwrap()
            .into_iter()
            .map(|e| (e.version, e.tx_id, e.value))
            .collect();
        assert_eq!(
            versions,
            [
                (Version::new(3, 1), "t5".to_string(), Some(b"5".to_vec())),
                (Version::new(1, 0), "t2".to_string(), None),
                (Version::new(0, 0), "t0".to_string(), Some(b"1".to_vec())),
            ]
        );
        let page = ledger.get_state_range("ns", "", "", 0, None).unwrap();
        let keys: Vec<_> = page.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(
            ledger.transaction("t4").unwrap(),
            model.transaction("t4").unwrap()
        );
        assert_eq!(ledger.verify_chain().unwrap(), 5);
        ledger.sync().unwrap();
        assert_eq!(
            stored_savepoint(&ledger),
            Some(4),
            "sync writes the overlay"
        );
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap()
        );
    }

    #[test]
    fn a_snapshot_keeps_its_view_while_the_overlay_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), flush_every(2)).unwrap();
        let mut chain = ChainBuilder::new();
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "0")]))
            .unwrap();
        let before = ledger.snapshot().unwrap();
        assert_eq!(before.overlay().len(), 1, "block 0 is in the overlay");
        ledger
            .commit_block(&chain.block(&[tx("t1", "a", "1")]))
            .unwrap();
        assert_eq!(
            stored_savepoint(&ledger),
            Some(1),
            "the second block flushed"
        );
        let after = ledger.snapshot().unwrap();
        assert!(after.overlay().is_empty());
        assert_eq!(before.height().unwrap(), 1);
        assert_eq!(before.get_state("ns", "a").unwrap().unwrap().value, b"0");
        assert_eq!(before.get_history_for_key("ns", "a").unwrap().len(), 1);
        assert_eq!(before.transaction("t1").unwrap(), None);
        assert_eq!(before.block(1).unwrap(), None);
        assert_eq!(after.get_state("ns", "a").unwrap().unwrap().value, b"1");
        assert_eq!(after.get_history_for_key("ns", "a").unwrap().len(), 2);
    }

    #[test]
    fn a_tx_id_seen_again_in_the_overlay_keeps_its_first_block() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), flush_every(2)).unwrap();
        let mut chain = ChainBuilder::new();
        let dup = |code| TestTx::invalid("dup", code, Vec::new());
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "0")]))
            .unwrap();
        ledger
            .commit_block(&chain.block(&[tx("dup", "a", "1")]))
            .unwrap();
        // Blocks 0 and 1 are in redb; block 2 and 3 repeat the ID from the overlay.
        ledger
            .commit_block(&chain.block(&[dup(TxValidationCode::DuplicateTxid)]))
            .unwrap();
        let first = ledger.transaction("dup").unwrap().unwrap();
        assert_eq!((first.block_num, first.code), (1, TxValidationCode::Valid));
        ledger
            .commit_block(&chain.block(&[dup(TxValidationCode::DuplicateTxid)]))
            .unwrap();
        let first = ledger.transaction("dup").unwrap().unwrap();
        assert_eq!((first.block_num, first.code), (1, TxValidationCode::Valid));
    }

    #[test]
    fn the_overlay_is_flushed_once_it_holds_enough_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let options = LedgerOptions {
            flush_every_blocks: 1000,
            flush_every_bytes: 10_000,
            flush_in_background: false,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_with(dir.path(), options).unwrap();
        let mut chain = ChainBuilder::new();
        let big = "x".repeat(3000);
        let mut flushed_at = None;
        for i in 0..4 {
            ledger
                .commit_block(&chain.block(&[tx(&format!("t{i}"), &format!("k{i}"), &big)]))
                .unwrap();
            if flushed_at.is_none() && stored_savepoint(&ledger).is_some() {
                flushed_at = Some(i);
            }
        }
        // Each block holds ~6 KB of key and value copies: the second reaches 10 KB.
        assert_eq!(flushed_at, Some(1));
    }

    #[test]
    fn background_flushes_keep_reads_whole_and_build_on_the_flush_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let options = LedgerOptions {
            flush_every_blocks: 2,
            flush_in_background: true,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open_with(dir.path(), options).unwrap();
        let model = MemLedger::new();
        let mut chain = ChainBuilder::new();
        let mut meta = KeyMetadata::new();
        meta.insert("VALIDATION_PARAMETER".into(), b"p".to_vec());
        // Keys are written, deleted, re-put and given metadata across many flushes, so that
        // blocks keep reading keys whose newest state is in the flush in flight.
        for i in 0..40u64 {
            let k = format!("k{}", i % 5);
            let writes = match i % 4 {
                0 => vec![KeyWrite::put("ns", &k, format!("v{i}").as_bytes())],
                1 => vec![KeyWrite::delete("ns", &k)],
                2 => vec![KeyWrite::metadata("ns", "k0", meta.clone())],
                _ => vec![
                    KeyWrite::put("ns", &k, b"x"),
                    KeyWrite::put("ns", "k0", format!("w{i}").as_bytes()),
                ],
            };
            let b = chain.block(&[TestTx::valid(format!("t{i}"), writes)]);
            assert_eq!(
                ledger.commit_block(&b).unwrap(),
                model.commit_block(&b).unwrap()
            );
            assert_eq!(
                ledger.state_digest().unwrap(),
                model.state_digest().unwrap(),
                "after block {i}"
            );
        }
        for k in 0..5 {
            let k = format!("k{k}");
            assert_eq!(
                ledger.get_history_for_key("ns", &k).unwrap(),
                model.get_history_for_key("ns", &k).unwrap()
            );
        }
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(
            stored_savepoint(&ledger),
            Some(39),
            "closing wrote the overlay"
        );
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap()
        );
        assert_eq!(
            ledger.get_history_for_key("ns", "k0").unwrap(),
            model.get_history_for_key("ns", "k0").unwrap()
        );
    }

    #[test]
    fn a_failed_background_flush_stops_commits_and_reopen_replays_the_acknowledged_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(blockfile::Faults::default());
        let options = LedgerOptions {
            flush_in_background: true,
            ..options()
        };
        let ledger = Ledger::open_with_faults(dir.path(), options, faults.clone()).unwrap();
        let mut chain = ChainBuilder::new();
        let model = MemLedger::new();
        let b0 = chain.block(&[tx("t0", "a", "1")]);
        let b1 = chain.block(&[tx("t1", "a", "2")]);
        ledger.commit_block(&b0).unwrap();
        model.commit_block(&b0).unwrap();
        ledger.sync().unwrap();
        faults.store_sync.store(true, Ordering::SeqCst);
        // Acknowledged: durable in the block file and visible; its flush fails behind it.
        ledger.commit_block(&b1).unwrap();
        model.commit_block(&b1).unwrap();
        assert_eq!(ledger.height().unwrap(), 2);
        // Waiting for the flush reports its failure; from then on commits are refused.
        let err = ledger.sync().unwrap_err();
        assert!(matches!(err, LedgerError::Store { .. }), "{err}");
        let again = ledger.commit_block(&chain.block(&[])).unwrap_err();
        assert!(matches!(again, LedgerError::Poisoned(_)), "{again}");
        assert_eq!(
            ledger.height().unwrap(),
            2,
            "readers keep the acknowledged blocks"
        );
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap()
        );
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.height().unwrap(), 2);
        assert_eq!(
            ledger.state_digest().unwrap(),
            model.state_digest().unwrap()
        );
        assert_eq!(ledger.verify_chain().unwrap(), 2);
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

    /// Blocks synced in groups: overlays flushed by the commit that fills them.
    fn grouped(flush_blocks: u64) -> LedgerOptions {
        LedgerOptions {
            sync_each_block: false,
            flush_every_blocks: flush_blocks,
            flush_in_background: false,
            ..LedgerOptions::default()
        }
    }

    #[test]
    fn grouped_sync_loses_only_the_unsynced_tail_even_when_it_was_written_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(BLOCKS_DIR).join(blockfile::file_name(0));
        let ledger = Ledger::open_with(dir.path(), grouped(64)).unwrap();
        let mut chain = ChainBuilder::new();
        for i in 0..3 {
            let id = format!("t{i}");
            ledger
                .commit_block(&chain.block(&[tx(&id, "a", &id)]))
                .unwrap();
        }
        assert_eq!(ledger.sync_blocks().unwrap(), 3);
        let durable_len = std::fs::metadata(&file).unwrap().len();
        for i in 3..5 {
            let id = format!("t{i}");
            ledger
                .commit_block(&chain.block(&[tx(&id, "a", &id)]))
                .unwrap();
        }
        // Unsynced blocks are committed for readers all the same.
        assert_eq!(ledger.height().unwrap(), 5);
        assert_eq!(ledger.get_state("ns", "a").unwrap().unwrap().value, b"t4");
        drop(ledger);

        // A crash wrote block 4's page but not block 3's: a hole followed by a whole record.
        // The state database never saw either (it is rebuilt from the block files here).
        std::fs::remove_file(dir.path().join(INDEX_FILE)).unwrap();
        let data = std::fs::read(&file).unwrap();
        let mut torn = data.clone();
        let hole = durable_len as usize..durable_len as usize + 40;
        torn[hole].fill(0);
        std::fs::write(&file, &torn).unwrap();
        // A ledger that syncs every block calls that corruption…
        let err = Ledger::open_with(dir.path(), LedgerOptions::default()).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt { offset, .. } if offset == durable_len));
        std::fs::remove_file(dir.path().join(INDEX_FILE)).unwrap();
        // …one that syncs in groups cuts the unsynced tail off and goes on from the last sync.
        let ledger = Ledger::open_with(dir.path(), grouped(64)).unwrap();
        assert_eq!(ledger.height().unwrap(), 3);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), durable_len);
        assert_eq!(ledger.get_state("ns", "a").unwrap().unwrap().value, b"t2");
        let mut again = ChainBuilder::new();
        let blocks: Vec<_> = (0..4)
            .map(|i| {
                let id = format!("t{i}");
                again.block(&[tx(&id, "a", &id)])
            })
            .collect();
        ledger.commit_block(&blocks[3]).unwrap();
        assert_eq!(ledger.sync_blocks().unwrap(), 4);
        drop(ledger);
        let ledger = Ledger::open_with(dir.path(), grouped(64)).unwrap();
        assert_eq!(ledger.height().unwrap(), 4);
        assert_eq!(ledger.verify_chain().unwrap(), 4);
    }

    #[test]
    fn the_index_never_points_at_a_block_the_block_files_did_not_sync() {
        let dir = tempfile::tempdir().unwrap();
        let faults = Arc::new(blockfile::Faults::default());
        let ledger = Ledger::open_with_faults(dir.path(), grouped(2), faults.clone()).unwrap();
        let mut chain = ChainBuilder::new();
        ledger
            .commit_block(&chain.block(&[tx("t0", "a", "1")]))
            .unwrap();
        assert_eq!(stored_savepoint(&ledger), None);
        // The second block fills the overlay; its flush must sync the block files first, and
        // when that fails the savepoint stays where it was.
        faults.block_sync.store(true, Ordering::SeqCst);
        let err = ledger
            .commit_block(&chain.block(&[tx("t1", "a", "2")]))
            .unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(stored_savepoint(&ledger), None);
        drop(ledger);
        let ledger = Ledger::open_with(dir.path(), grouped(2)).unwrap();
        assert_eq!(ledger.height().unwrap(), 2, "both records were written");
        assert_eq!(stored_savepoint(&ledger), Some(1), "replayed and flushed");
        assert_eq!(ledger.get_state("ns", "a").unwrap().unwrap().value, b"2");

        // A failed explicit sync claims nothing and the next one succeeds.
        let faults = Arc::new(blockfile::Faults::default());
        drop(ledger);
        let ledger = Ledger::open_with_faults(dir.path(), grouped(64), faults.clone()).unwrap();
        ledger
            .commit_block(&chain.block(&[tx("t2", "a", "3")]))
            .unwrap();
        faults.block_sync.store(true, Ordering::SeqCst);
        assert!(ledger.sync_blocks().is_err());
        assert_eq!(ledger.sync_blocks().unwrap(), 3);
    }

    #[test]
    fn without_the_tx_id_index_blocks_read_back_and_no_transaction_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let options = LedgerOptions {
            index_tx_ids: false,
            ..flush_every(2)
        };
        let ledger = Ledger::open_with(dir.path(), options.clone()).unwrap();
        let mut chain = ChainBuilder::new();
        let blocks: Vec<_> = (0..3)
            .map(|i| {
                let id = format!("t{i}");
                chain.block(&[tx(&id, "a", &id)])
            })
            .collect();
        for b in &blocks {
            ledger.commit_block(b).unwrap();
        }
        // Block 0 and 1 are flushed into redb, block 2 is in the overlay: neither indexes.
        assert_eq!(stored_savepoint(&ledger), Some(1));
        for id in ["t0", "t2"] {
            assert_eq!(ledger.transaction(id).unwrap(), None, "{id}");
        }
        drop(ledger);
        let ledger = Ledger::open_with(dir.path(), options).unwrap();
        assert_eq!(
            ledger.transaction("t2").unwrap(),
            None,
            "nor does the replay"
        );
        let stored = ledger.block(2).unwrap().unwrap();
        assert_eq!(ledger.block_by_hash(&stored.hash).unwrap(), Some(stored));
        assert_eq!(ledger.get_state("ns", "a").unwrap().unwrap().value, b"t2");
        // The default keeps the index.
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open_with(dir.path(), flush_every(2)).unwrap();
        ledger.commit_block(&blocks[0]).unwrap();
        assert_eq!(ledger.transaction("t0").unwrap().unwrap().block_num, 0);
    }
}
