//! The Raft group of one channel on openraft: entry types, the redb-backed log and vote store,
//! and the state machine that appends replicated blocks to the channel's chain.
//!
//! Like Fabric's etcdraft, the leader cuts and signs a block and replicates the whole block;
//! applying an entry writes it as-is, so every node's chain is byte-identical. Applying is
//! deterministic: a block whose number or previous hash does not extend the chain (proposed
//! by a deposed leader on a stale tip) is skipped on every node alike and reported as
//! [`RaftResponse::Stale`], so its proposer re-cuts the envelopes on the current tip.
//!
//! The Raft log is the only fsync between a block's proposal and its acknowledgement: an
//! applied block is on the chain in memory at once and reaches the block store on a writer
//! thread, which fsyncs it with the other blocks of its group and moves the applied mark only
//! after that fsync (see [`crate::blocks`]).

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cambium_ledger::{
    Block, BlockCommit, BlockReader, BlockWriter, TxOutcome, TxValidationCode, METADATA_SLOTS,
    TRANSACTIONS_FILTER,
};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::blocks::Blocks;
use crate::cluster::BlockPuller;
use crate::error::{OrdererError, Result};
use crate::update::{block_config, ChannelState};

/// A replicated command: one block, cut and signed by the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRequest {
    /// A block to append, as `common.Block` bytes.
    Block {
        /// The block number (also inside `bytes`), so stale proposals are cheap to spot.
        number: u64,
        /// The encoded block.
        #[serde(with = "byte_buf")]
        bytes: Vec<u8>,
    },
}

/// Serializes a block's bytes as one byte string rather than a sequence of numbers: bincode
/// writes the same bytes either way (a length, then the bytes), but a sequence is encoded and
/// decoded one element at a time, which cost more than the Raft log write itself.
pub(crate) mod byte_buf {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// What applying a [`RaftRequest`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftResponse {
    /// The block was appended; its header hash.
    Applied {
        /// Block number.
        number: u64,
        /// Header hash.
        hash: Vec<u8>,
    },
    /// The block did not extend the chain of height `height`; nothing was written.
    Stale {
        /// Height of the chain when the entry was applied.
        height: u64,
    },
    /// Not a block entry (blank or membership).
    #[default]
    None,
}

openraft::declare_raft_types!(
    /// Raft type configuration of a channel's group.
    pub TypeConfig:
        D = RaftRequest,
        R = RaftResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The openraft node type of a channel.
pub type ChannelRaft = openraft::Raft<TypeConfig>;
type StErr = StorageError<u64>;

const LOG: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE_KEY: &str = "vote";
const COMMITTED_KEY: &str = "committed";
const PURGED_KEY: &str = "last_purged";
const APPLIED_KEY: &str = "applied";
/// The block store's height when the applied mark was written (written with it).
const APPLIED_HEIGHT_KEY: &str = "applied_height";
/// The last snapshot built or installed: its meta and data.
const SNAPSHOT_KEY: &str = "snapshot";
const MEMBERSHIP_KEY: &str = "membership";
/// Meta key the log flusher writes to make its synced commit non-empty.
const FLUSH_KEY: &str = "flushed_batch";

fn io_err(make: fn(AnyError) -> StorageIOError<u64>, e: impl std::fmt::Display) -> StErr {
    StErr::IO {
        source: make(AnyError::error(e)),
    }
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("raft types always serialize")
}

fn dec<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> std::result::Result<T, String> {
    bincode::deserialize(bytes).map_err(|e| e.to_string())
}

/// redb's page cache of a Raft store: the log is appended and read back only near its end
/// (replication to followers), while redb's default of 1 GiB kept every appended block in
/// memory until full.
const RAFT_STORE_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Opens (or creates) the channel's Raft store file.
pub(crate) fn open_store(path: &Path) -> Result<Arc<Database>> {
    let db = redb::Builder::new()
        .set_cache_size(RAFT_STORE_CACHE_BYTES)
        .create(path)
        .map_err(|e| OrdererError::store("opening the raft store", e))?;
    let txn = db
        .begin_write()
        .map_err(|e| OrdererError::store("opening the raft store", e))?;
    txn.open_table(LOG)
        .map_err(|e| OrdererError::store("creating the log table", e))?;
    txn.open_table(META)
        .map_err(|e| OrdererError::store("creating the meta table", e))?;
    txn.commit()
        .map_err(|e| OrdererError::store("opening the raft store", e))?;
    Ok(Arc::new(db))
}

fn read_meta<T: for<'de> Deserialize<'de>>(
    db: &Database,
    key: &str,
) -> std::result::Result<Option<T>, String> {
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    let table = txn.open_table(META).map_err(|e| e.to_string())?;
    let value = table.get(key).map_err(|e| e.to_string())?;
    value.map(|v| dec(v.value())).transpose()
}

/// Reads the stored vote, to tell that the store answers.
pub(crate) fn check_store(db: &Database) -> std::result::Result<(), String> {
    read_meta::<Vote<u64>>(db, VOTE_KEY).map(|_| ())
}

/// Writes metadata pairs; `durable` fsyncs them before returning, otherwise they become durable
/// with the next durable commit (for marks that are safe to lose in a crash).
fn write_meta(
    db: &Database,
    pairs: &[(&str, Vec<u8>)],
    durable: bool,
) -> std::result::Result<(), String> {
    let mut txn = db.begin_write().map_err(|e| e.to_string())?;
    if !durable {
        txn.set_durability(redb::Durability::None)
            .map_err(|e| e.to_string())?;
    }
    {
        let mut table = txn.open_table(META).map_err(|e| e.to_string())?;
        for (k, v) in pairs {
            table.insert(*k, v.as_slice()).map_err(|e| e.to_string())?;
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

/// The committed mark openraft gave last, until a log transaction writes it.
type PendingCommitted = Arc<std::sync::Mutex<Option<Option<LogId<u64>>>>>;

/// Takes the committed mark waiting to be written, if any.
fn take_committed(pending: &PendingCommitted) -> Option<Option<LogId<u64>>> {
    pending.lock().expect("committed mark lock").take()
}

/// Writes `entries` and the committed mark waiting, if any, in one unsynced transaction:
/// readable at once, durable once the flusher's synced commit follows.
fn append_txn(
    db: &Database,
    entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    committed: &PendingCommitted,
) -> std::result::Result<(), String> {
    let mut txn = db.begin_write().map_err(|e| e.to_string())?;
    txn.set_durability(redb::Durability::None)
        .map_err(|e| e.to_string())?;
    {
        let mut table = txn.open_table(LOG).map_err(|e| e.to_string())?;
        for entry in entries {
            table
                .insert(entry.log_id.index, enc(&entry).as_slice())
                .map_err(|e| e.to_string())?;
        }
        if let Some(committed) = take_committed(committed) {
            let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
            meta.insert(COMMITTED_KEY, enc(&committed).as_slice())
                .map_err(|e| e.to_string())?;
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

/// The flusher's synced commit: persists every unsynced commit before it. It carries the
/// committed mark if one is waiting, else a small mark, so that it is never an empty
/// transaction redb could skip.
fn flush_txn(
    db: &Database,
    committed: &PendingCommitted,
    batch: usize,
) -> std::result::Result<(), String> {
    let pair = match take_committed(committed) {
        Some(c) => (COMMITTED_KEY, enc(&c)),
        None => (FLUSH_KEY, enc(&batch)),
    };
    write_meta(db, &[pair], true)
}

/// Makes queued appends durable: one synced commit for all callbacks waiting, then reports
/// them flushed (or failed).
fn flush_loop(
    db: &Database,
    committed: &PendingCommitted,
    pending: &std::sync::mpsc::Receiver<LogFlushed<TypeConfig>>,
) {
    while let Ok(first) = pending.recv() {
        let mut callbacks = vec![first];
        callbacks.extend(pending.try_iter());
        let result = flush_txn(db, committed, callbacks.len());
        for callback in callbacks {
            callback.log_io_completed(result.clone().map_err(std::io::Error::other));
        }
    }
}

/// The Raft log and vote, persisted in redb; every write is durable before it is reported.
///
/// Appended entries are committed without an fsync, so they are readable at once as openraft
/// requires, and a background flusher makes them durable with one synced commit for every
/// append that queued up meanwhile (group commit) before it reports them flushed. The Raft core
/// thus never waits on the disk, and under load one fsync covers several blocks.
///
/// Metadata costs no transaction of its own on the way: the committed mark openraft reports
/// after each block is kept in memory and written by the next append's transaction or the
/// flusher's synced commit, whichever comes first. Only a vote (an election) and the rare
/// truncate or purge write a transaction outside an append.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    flusher: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
    committed: PendingCommitted,
}

impl LogStore {
    /// The log store over an opened Raft store.
    pub(crate) fn new(db: Arc<Database>) -> Self {
        let (flusher, pending) = std::sync::mpsc::channel();
        let flush_db = db.clone();
        let committed = PendingCommitted::default();
        let flush_committed = committed.clone();
        // The thread ends when the last clone of the store is dropped.
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || flush_loop(&flush_db, &flush_committed, &pending))
            .expect("spawning the Raft log flusher");
        LogStore {
            db,
            flusher,
            committed,
        }
    }

    fn entries(
        &self,
        start: u64,
        end_exclusive: u64,
    ) -> std::result::Result<Vec<Entry<TypeConfig>>, String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let table = txn.open_table(LOG).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for item in table
            .range(start..end_exclusive)
            .map_err(|e| e.to_string())?
        {
            let (_, v) = item.map_err(|e| e.to_string())?;
            out.push(dec(v.value())?);
        }
        Ok(out)
    }

    /// Removes the entries in `range` (and writes `extra` in the same transaction), durably.
    fn remove_range(
        &self,
        range: impl std::ops::RangeBounds<u64>,
        extra: Option<(&str, Vec<u8>)>,
    ) -> std::result::Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut table = txn.open_table(LOG).map_err(|e| e.to_string())?;
            table
                .retain_in::<u64, _>(range, |_, _| false)
                .map_err(|e| e.to_string())?;
            if let Some((key, value)) = extra {
                let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
                meta.insert(key, value.as_slice())
                    .map_err(|e| e.to_string())?;
            }
        }
        txn.commit().map_err(|e| e.to_string())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<
        RB: std::ops::RangeBounds<u64> + Clone + std::fmt::Debug + Send,
    >(
        &mut self,
        range: RB,
    ) -> std::result::Result<Vec<Entry<TypeConfig>>, StErr> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => u64::MAX,
        };
        self.entries(start, end)
            .map_err(|e| io_err(StorageIOError::read_logs, e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> std::result::Result<LogState<TypeConfig>, StErr> {
        let purged: Option<LogId<u64>> =
            read_meta(&self.db, PURGED_KEY).map_err(|e| io_err(StorageIOError::read_logs, e))?;
        let last = (|| -> std::result::Result<Option<LogId<u64>>, String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = txn.open_table(LOG).map_err(|e| e.to_string())?;
            let last = table.last().map_err(|e| e.to_string())?;
            last.map(|(_, v)| dec::<Entry<TypeConfig>>(v.value()).map(|e| e.log_id))
                .transpose()
        })()
        .map_err(|e| io_err(StorageIOError::read_logs, e))?;
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> std::result::Result<(), StErr> {
        write_meta(&self.db, &[(VOTE_KEY, enc(vote))], true)
            .map_err(|e| io_err(StorageIOError::write_vote, e))
    }

    async fn read_vote(&mut self) -> std::result::Result<Option<Vote<u64>>, StErr> {
        read_meta(&self.db, VOTE_KEY).map_err(|e| io_err(StorageIOError::read_vote, e))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> std::result::Result<(), StErr> {
        // openraft treats the committed mark as a hint it may lose (it is re-learned from the
        // leader), so it need not cost an fsync, nor a transaction, per block: the next log
        // transaction writes it (see `LogStore`).
        *self.committed.lock().expect("committed mark lock") = Some(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> std::result::Result<Option<LogId<u64>>, StErr> {
        if let Some(waiting) = *self.committed.lock().expect("committed mark lock") {
            return Ok(waiting);
        }
        Ok(read_meta::<Option<LogId<u64>>>(&self.db, COMMITTED_KEY)
            .map_err(|e| io_err(StorageIOError::read_logs, e))?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> std::result::Result<(), StErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let result = append_txn(&self.db, entries, &self.committed);
        match result {
            Ok(()) => {
                if let Err(std::sync::mpsc::SendError(callback)) = self.flusher.send(callback) {
                    callback.log_io_completed(Err(std::io::Error::other(
                        "the Raft log flusher stopped",
                    )));
                }
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                Err(io_err(StorageIOError::write_logs, e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> std::result::Result<(), StErr> {
        self.remove_range(log_id.index.., None)
            .map_err(|e| io_err(StorageIOError::write_logs, e))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> std::result::Result<(), StErr> {
        // Only entries at or below a snapshot are purged, and a snapshot never passes the
        // applied mark, whose blocks are durable in the block store (see `crate::blocks`).
        self.remove_range(..=log_id.index, Some((PURGED_KEY, enc(&log_id))))
            .map_err(|e| io_err(StorageIOError::write_logs, e))
    }
}

/// A snapshot's content: a height mark on the chain, like Fabric's etcdraft snapshots, which
/// hold the last block. The chain is the state machine and every block below the mark is in
/// the block store of the node that made the snapshot, so the snapshot itself is a few bytes; a
/// node that installs it pulls the blocks it lacks from that node (or another orderer of the
/// channel) over the cluster transport ([`crate::cluster::BlockPuller`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainMark {
    /// The chain height the snapshot covers: blocks `0..height`. It may count blocks of entries
    /// just after the snapshot's log ID too (a node re-applying those finds them in place).
    pub height: u64,
    /// Header hash of block `height - 1`.
    pub tip: Vec<u8>,
    /// The Raft ID of a node that holds every block below the mark.
    pub source: u64,
}

/// A snapshot as kept: its meta and its data (an encoded [`ChainMark`]).
type StoredSnapshot = (SnapshotMeta<u64, BasicNode>, Vec<u8>);

/// Committed blocks held in memory for the block store before applying waits for it.
const MAX_UNWRITTEN: usize = 64;

/// Work for the block writer, in log order.
enum Job {
    /// Append a committed block to the block store, then move the applied mark to `log_id`
    /// (none for blocks from a snapshot, whose mark is written once they all are).
    Block {
        block: Box<Block>,
        log_id: Option<LogId<u64>>,
    },
    /// An entry that wrote no block: move the applied mark (and the membership) once every
    /// block before it is in the block store.
    Mark {
        log_id: LogId<u64>,
        membership: Option<StoredMembership<u64, BasicNode>>,
    },
    /// Answer once everything queued before is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Most jobs the block writer takes from its queue at once.
const MAX_GROUP: usize = 32;

/// Written blocks whose fsync may wait for more blocks to share it. They are in the Raft log,
/// which is durable, so waiting risks nothing but re-applying them after a crash; it keeps a
/// lightly loaded orderer, whose blocks come one at a time, from paying an fsync per block.
/// Well under [`MAX_UNWRITTEN`], so the wait never holds up Raft's apply.
const MAX_UNSYNCED: usize = 16;

/// The longest a written block waits for its fsync.
const SYNC_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// What the block writer has written and not yet made durable.
#[derive(Default)]
struct Unsynced {
    /// Blocks written to the block store since its last fsync.
    blocks: Vec<u64>,
    /// The applied mark to write once they are durable.
    mark: Option<LogId<u64>>,
    /// A membership change to write, durably, with the mark.
    membership: Option<StoredMembership<u64, BasicNode>>,
    /// Flush requests, answered after the next fsync.
    flushed: Vec<tokio::sync::oneshot::Sender<()>>,
    /// When the oldest of these was written.
    since: Option<std::time::Instant>,
}

impl Unsynced {
    /// Whether to sync now rather than wait for more blocks to share the fsync.
    fn due(&self) -> bool {
        !self.flushed.is_empty()
            || self.membership.is_some()
            || self.blocks.len() >= MAX_UNSYNCED
            || self.since.is_some_and(|t| t.elapsed() >= SYNC_DELAY)
    }
}

/// Appends committed blocks to the block store, makes them durable with one fsync per group
/// (at most [`MAX_UNSYNCED`] blocks or [`SYNC_DELAY`] apart, or when a flush is asked for), and
/// only then advances the applied mark, so that the mark never passes a block the block store
/// could lose in a crash (see [`crate::blocks`]). Ends when every sender is gone, after
/// writing and syncing what was queued.
fn write_loop(db: &Database, blocks: &Blocks, jobs: &std::sync::mpsc::Receiver<Job>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut unsynced = Unsynced::default();
    loop {
        let next = match unsynced.since {
            None => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(since) => jobs.recv_timeout(SYNC_DELAY.saturating_sub(since.elapsed())),
        };
        let stop = match next {
            Ok(first) => {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match jobs.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                write_jobs(blocks, group, &mut unsynced);
                if !unsynced.due() {
                    continue;
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        for done in sync(db, blocks, std::mem::take(&mut unsynced)) {
            let _ = done.send(());
        }
        if stop {
            return;
        }
    }
}

/// Writes a group of jobs' blocks to the block store without an fsync, and notes them (and
/// the marks and flush requests) in `unsynced`.
fn write_jobs(blocks: &Blocks, group: Vec<Job>, unsynced: &mut Unsynced) {
    for job in group {
        if blocks.failure().is_some() {
            if let Job::Flush(done) = job {
                unsynced.flushed.push(done);
            }
            continue;
        }
        match job {
            Job::Block { block, log_id } => {
                let number = block.number;
                let outcomes =
                    vec![TxOutcome::invalid(TxValidationCode::NotValidated); block.data.len()];
                let commit = BlockCommit {
                    block: *block,
                    outcomes,
                };
                match blocks.ledger().commit_block(&commit) {
                    Ok(_) => {
                        unsynced.blocks.push(number);
                        if log_id.is_some() {
                            unsynced.mark = log_id;
                        }
                    }
                    Err(e) => {
                        tracing::error!(
                            block = number,
                            "writing block {number} to the block store failed: {e}"
                        );
                        blocks.fail(format!("block {number}: {e}"));
                    }
                }
            }
            Job::Mark {
                log_id,
                membership: m,
            } => {
                unsynced.mark = Some(log_id);
                if m.is_some() {
                    unsynced.membership = m;
                }
            }
            Job::Flush(done) => unsynced.flushed.push(done),
        }
        unsynced.since.get_or_insert_with(std::time::Instant::now);
    }
}

/// Makes the written blocks durable with one fsync, then the applied mark of the last entry
/// whose block (and every block before it) that fsync covered. Returns the flush requests, to
/// answer once it is done.
fn sync(
    db: &Database,
    blocks: &Blocks,
    unsynced: Unsynced,
) -> Vec<tokio::sync::oneshot::Sender<()>> {
    let Unsynced {
        blocks: written,
        mark,
        membership,
        flushed,
        since: _,
    } = unsynced;
    #[cfg(test)]
    if blocks
        .crash_before_sync
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        // The process "dies" here: the blocks are in the block file but not synced, and
        // nothing after this point happens.
        return flushed;
    }
    if !written.is_empty() {
        if let Err(e) = blocks.ledger().sync_blocks() {
            tracing::error!("syncing the block store failed: {e}");
            blocks.fail(format!("syncing blocks {written:?}: {e}"));
        }
    }
    if blocks.failure().is_some() {
        // The mark stays where the last successful sync left it.
        return flushed;
    }
    for number in written {
        blocks.written(number);
    }
    if mark.is_some() || membership.is_some() {
        let mut pairs = Vec::new();
        if let Some(mark) = mark {
            pairs.push((APPLIED_KEY, enc(&Some(mark))));
            // Every block of an entry up to the mark is in the block store, which only this
            // thread writes: its height now is at least the chain's height at the mark. A
            // snapshot taken at the mark covers that many blocks.
            match blocks.ledger().height() {
                Ok(height) => pairs.push((APPLIED_HEIGHT_KEY, enc(&height))),
                Err(e) => {
                    tracing::error!("reading the block store's height failed: {e}");
                    blocks.fail(format!("reading the block store's height: {e}"));
                    return flushed;
                }
            }
        }
        if let Some(m) = &membership {
            pairs.push((MEMBERSHIP_KEY, enc(m)));
        }
        // The mark may lag after a crash (re-applying a block the block store holds is
        // recognised by its hash); membership changes are rare and kept durable.
        if let Err(e) = write_meta(db, &pairs, membership.is_some()) {
            tracing::error!("writing the Raft applied mark failed: {e}");
            blocks.fail(format!("the applied mark: {e}"));
        }
    }
    flushed
}

/// Sets `block`'s `TRANSACTIONS_FILTER` metadata to what the block store writes for an
/// orderer's blocks (every transaction `NOT_VALIDATED`, which peers replace when they
/// validate); returns whether it changed. The metadata is outside the header hash.
pub(crate) fn set_unvalidated_filter(block: &mut Block) -> bool {
    let filter = vec![TxValidationCode::NotValidated.as_u8(); block.data.len()];
    if block.metadata.get(TRANSACTIONS_FILTER) == Some(&filter) {
        return false;
    }
    if block.metadata.len() < METADATA_SLOTS {
        block.metadata.resize(METADATA_SLOTS, Vec::new());
    }
    block.metadata[TRANSACTIONS_FILTER] = filter;
    true
}

/// The channel's chain as a Raft state machine: applying a block entry puts the block on the
/// chain (readable at once) and queues it for the block store; applying a config block
/// replaces the channel's [`ChannelState`].
#[derive(Clone)]
pub struct ChainStateMachine {
    db: Arc<Database>,
    blocks: Arc<Blocks>,
    jobs: std::sync::mpsc::Sender<Job>,
    height: watch::Sender<u64>,
    state: Arc<watch::Sender<Arc<ChannelState>>>,
    /// This node's Raft ID.
    node_id: u64,
    /// Where blocks below an installed snapshot's mark come from.
    puller: BlockPuller,
    /// The last snapshot built or installed (shared with the builders openraft clones).
    snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
    /// Bytes of blocks applied since the last snapshot.
    due: Arc<SnapshotDue>,
}

/// Counts the bytes of blocks applied since the last snapshot and says when the channel's
/// `SnapshotIntervalSize` is reached; the chain then asks openraft for a snapshot, after
/// which openraft purges the log below it.
#[derive(Default)]
pub(crate) struct SnapshotDue {
    bytes: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
}

impl SnapshotDue {
    /// Adds `bytes` applied; notifies (once) when `interval` is reached.
    fn add(&self, bytes: u64, interval: u64) {
        use std::sync::atomic::Ordering;
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total >= interval {
            self.bytes.store(0, Ordering::Relaxed);
            self.notify.notify_one();
        }
    }

    /// Starts counting again (a snapshot was installed).
    fn reset(&self) {
        self.bytes.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Resolves when a snapshot is due.
    pub(crate) async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl ChainStateMachine {
    /// The state machine over `blocks`, publishing the chain height on `height` and the
    /// configuration in force on `state`; starts the block writer thread, which ends once the
    /// state machine and its clones are dropped and what they queued is written.
    ///
    /// `node_id` is this node's Raft ID; `puller` fetches the blocks an installed snapshot
    /// covers from the channel's other orderers.
    pub(crate) fn new(
        db: Arc<Database>,
        blocks: Arc<Blocks>,
        height: watch::Sender<u64>,
        state: Arc<watch::Sender<Arc<ChannelState>>>,
        node_id: u64,
        puller: BlockPuller,
    ) -> Result<Self> {
        let snapshot: Option<StoredSnapshot> = read_meta(&db, SNAPSHOT_KEY).map_err(|e| {
            OrdererError::Raft(format!(
                "reading the last snapshot from the Raft store: {e}"
            ))
        })?;
        let (jobs, queued) = std::sync::mpsc::channel();
        let (writer_db, writer_blocks) = (db.clone(), blocks.clone());
        std::thread::Builder::new()
            .name("block-writer".into())
            .spawn(move || write_loop(&writer_db, &writer_blocks, &queued))
            .expect("spawning the block writer");
        Ok(ChainStateMachine {
            db,
            blocks,
            jobs,
            height,
            state,
            node_id,
            puller,
            snapshot: Arc::new(Mutex::new(snapshot)),
            due: Arc::default(),
        })
    }

    /// Says when a snapshot is due.
    pub(crate) fn snapshot_due(&self) -> Arc<SnapshotDue> {
        self.due.clone()
    }

    /// Keeps `meta` and `data` as the current snapshot, durably (a restarted node serves it
    /// to followers whose entries were purged).
    fn keep_snapshot(
        &self,
        meta: &SnapshotMeta<u64, BasicNode>,
        data: Vec<u8>,
    ) -> std::result::Result<(), String> {
        let stored: StoredSnapshot = (meta.clone(), data);
        write_meta(&self.db, &[(SNAPSHOT_KEY, enc(&stored))], true)?;
        *self.snapshot.lock().expect("snapshot lock") = Some(stored);
        Ok(())
    }

    /// The orderers to pull blocks from for `mark`, as (Raft ID, address): the snapshot's
    /// source first, then the other members of `membership`, never this node.
    fn sources(
        &self,
        membership: &StoredMembership<u64, BasicNode>,
        mark: &ChainMark,
    ) -> Vec<(u64, String)> {
        let mut sources: Vec<(u64, String)> = membership
            .nodes()
            .filter(|(id, _)| **id != self.node_id)
            .map(|(id, node)| (*id, node.addr.clone()))
            .collect();
        sources.sort_by_key(|(id, _)| *id != mark.source);
        sources
    }

    /// Extends the chain up to `mark` with blocks pulled from the channel's other orderers,
    /// retrying (with a growing pause, up to 5 s) while none of them answers. Fails only if
    /// the pulled chain does not extend this node's, or does not end at the mark's tip.
    async fn pull_to(
        &self,
        membership: &StoredMembership<u64, BasicNode>,
        mark: &ChainMark,
    ) -> std::result::Result<(), String> {
        let sources = self.sources(membership, mark);
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            let height = self.blocks.height();
            if height >= mark.height {
                break;
            }
            let mut pulled = None;
            for (id, addr) in &sources {
                match self.puller.pull(addr, height, mark.height).await {
                    Ok(blocks) if !blocks.is_empty() => {
                        pulled = Some((*id, blocks));
                        break;
                    }
                    Ok(_) => {
                        tracing::debug!(source = id, "orderer {addr} has no block {height} yet")
                    }
                    Err(e) => tracing::warn!(
                        source = id,
                        "pulling block {height} from orderer {addr} failed: {e}"
                    ),
                }
            }
            let Some((source, blocks)) = pulled else {
                tracing::warn!(
                    "no orderer of the channel served block {height} (the snapshot covers up to block {}); retrying in {pause:?}",
                    mark.height - 1
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
                continue;
            };
            pause = std::time::Duration::from_millis(100);
            for (expected, bytes) in (height..).zip(blocks) {
                let number = Block::decode(&bytes)
                    .map_err(|e| format!("block {expected} from orderer {source}: {e}"))?
                    .number;
                if number != expected {
                    return Err(format!(
                        "orderer {source} sent block {number} where block {expected} was asked for"
                    ));
                }
                if let RaftResponse::Stale { height } = self.apply_block(number, bytes, None)? {
                    return Err(format!(
                        "block {number} of the snapshot does not extend the local chain of height {height}; the local chain has forked, remove the channel and join again"
                    ));
                }
            }
            if self.blocks.unwritten() > MAX_UNWRITTEN {
                self.flush().await?;
            }
        }
        let tip = self
            .blocks
            .block(mark.height - 1)
            .map_err(|e| e.to_string())?
            .map(|b| b.hash);
        if tip.as_ref().map(|t| t.as_slice()) != Some(mark.tip.as_slice()) {
            return Err(format!(
                "block {} differs from the snapshot's; the local chain has forked, remove the channel and join again",
                mark.height - 1
            ));
        }
        Ok(())
    }

    fn queue(&self, job: Job) -> std::result::Result<(), String> {
        self.jobs
            .send(job)
            .map_err(|_| "the block writer stopped".to_string())
    }

    /// Waits until everything queued so far is in the block store.
    async fn flush(&self) -> std::result::Result<(), String> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.queue(Job::Flush(done))?;
        wait.await
            .map_err(|_| "the block writer stopped".to_string())?;
        match self.blocks.failure() {
            Some(why) => Err(format!("writing the block store failed: {why}")),
            None => Ok(()),
        }
    }

    /// After block `block` is appended: if it is a config block, its config is in force from
    /// the next block. Every node applies the same blocks, so every node ends in the same
    /// state; a config the orderer cannot use (never ordered by a Cambium leader, which
    /// validates first) leaves the state as it was.
    fn apply_config(&self, block: &Block) {
        let Some(config) = block_config(block) else {
            return;
        };
        let current = self.state.borrow().clone();
        let next = config
            .map_err(|e| e.to_string())
            .and_then(|c| current.after_config(c, block.number));
        match next {
            Ok(next) => {
                tracing::info!(
                    channel = %next.settings.channel_id,
                    block = block.number,
                    sequence = next.config.as_ref().map_or(0, |c| c.sequence()),
                    "channel configuration updated"
                );
                self.state.send_replace(Arc::new(next));
            }
            Err(e) => tracing::error!(
                block = block.number,
                "config block {} is not usable; keeping the previous configuration: {e}",
                block.number
            ),
        }
    }

    /// Puts the block of entry `log_id` on the chain if it extends it; queues it (or, if it
    /// wrote nothing, the applied mark) for the writer.
    fn apply_block(
        &self,
        number: u64,
        bytes: Vec<u8>,
        log_id: Option<LogId<u64>>,
    ) -> std::result::Result<RaftResponse, String> {
        if let Some(why) = self.blocks.failure() {
            return Err(format!(
                "the block store failed ({why}); restart the orderer to re-derive the chain from the Raft log"
            ));
        }
        let mark = |response: RaftResponse| -> std::result::Result<RaftResponse, String> {
            if let Some(log_id) = log_id {
                self.queue(Job::Mark {
                    log_id,
                    membership: None,
                })?;
            }
            Ok(response)
        };
        let (height, tip) = self.blocks.tip();
        if number < height {
            // Already applied before a crash between the block commit and the applied mark.
            let stored = self.blocks.block(number).map_err(|e| e.to_string())?;
            if let Some(stored) = stored.filter(|s| {
                Block::decode(&bytes)
                    .map(|b| b.header_hash() == s.hash)
                    .unwrap_or(false)
            }) {
                return mark(RaftResponse::Applied {
                    number,
                    hash: stored.hash.to_vec(),
                });
            }
            return mark(RaftResponse::Stale { height });
        }
        if number > height {
            return mark(RaftResponse::Stale { height });
        }
        let block = Block::decode(&bytes).map_err(|e| e.to_string())?;
        if height > 0 && tip.map(|t| t.to_vec()) != Some(block.previous_hash.clone()) {
            return mark(RaftResponse::Stale { height });
        }
        let hash = block.header_hash();
        let is_config = block_config(&block).is_some();
        // Readers get the bytes the block store will hold, before and after it holds them.
        let mut block = block;
        let bytes = if set_unvalidated_filter(&mut block) {
            block.encode()
        } else {
            bytes
        };
        if log_id.is_some() {
            let interval = self.state.borrow().settings.snapshot_interval_bytes;
            self.due.add(bytes.len() as u64, interval);
        }
        self.blocks.push(number, Arc::new(bytes), hash);
        if is_config {
            self.apply_config(&block);
        }
        self.queue(Job::Block {
            block: Box::new(block),
            log_id,
        })?;
        self.height.send_replace(number + 1);
        Ok(RaftResponse::Applied {
            number,
            hash: hash.to_vec(),
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for ChainStateMachine {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot<TypeConfig>, StErr> {
        let err = |e: String| io_err(StorageIOError::read_state_machine, e);
        // The applied mark trails the chain in memory: bring it up to date first.
        self.flush().await.map_err(err)?;
        let Applied {
            log_id: applied,
            membership,
            height,
        } = read_applied(&self.db).map_err(err)?;
        let height = match height {
            Some(h) => h,
            // A store written before the height was kept with the mark: the block store
            // holds at least the blocks the mark covers.
            None => self
                .blocks
                .ledger()
                .height()
                .map_err(|e| err(e.to_string()))?,
        };
        let tip = self
            .blocks
            .block(height.saturating_sub(1))
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| {
                err(format!(
                    "block {} is missing from the block store",
                    height - 1
                ))
            })?
            .hash;
        let data = enc(&ChainMark {
            height,
            tip: tip.to_vec(),
            source: self.node_id,
        });
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id: format!(
                "{}-{}-{height}",
                applied.map_or(0, |l| l.leader_id.term),
                applied.map_or(0, |l| l.index)
            ),
        };
        self.keep_snapshot(&meta, data.clone()).map_err(err)?;
        tracing::info!(
            channel = %self.state.borrow().settings.channel_id,
            height,
            log_index = applied.map_or(0, |l| l.index),
            "took a Raft snapshot; the log below it will be purged"
        );
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// What the state machine has applied, as stored: read together, in one read transaction.
struct Applied {
    /// The applied mark.
    log_id: Option<LogId<u64>>,
    /// The membership in force at the mark.
    membership: StoredMembership<u64, BasicNode>,
    /// The block store's height written with the mark (none in stores that predate it).
    height: Option<u64>,
}

fn read_applied(db: &Database) -> std::result::Result<Applied, String> {
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    let table = txn.open_table(META).map_err(|e| e.to_string())?;
    let get = |key: &str| -> std::result::Result<Option<Vec<u8>>, String> {
        Ok(table
            .get(key)
            .map_err(|e| e.to_string())?
            .map(|v| v.value().to_vec()))
    };
    let log_id: Option<Option<LogId<u64>>> = get(APPLIED_KEY)?.map(|v| dec(&v)).transpose()?;
    let membership: Option<StoredMembership<u64, BasicNode>> =
        get(MEMBERSHIP_KEY)?.map(|v| dec(&v)).transpose()?;
    Ok(Applied {
        log_id: log_id.flatten(),
        membership: membership.unwrap_or_default(),
        height: get(APPLIED_HEIGHT_KEY)?.map(|v| dec(&v)).transpose()?,
    })
}

impl RaftStateMachine<TypeConfig> for ChainStateMachine {
    type SnapshotBuilder = ChainStateMachine;

    async fn applied_state(
        &mut self,
    ) -> std::result::Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StErr> {
        let applied =
            read_applied(&self.db).map_err(|e| io_err(StorageIOError::read_state_machine, e))?;
        Ok((applied.log_id, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> std::result::Result<Vec<RaftResponse>, StErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let response = match entry.payload {
                EntryPayload::Blank => {
                    self.queue(Job::Mark {
                        log_id,
                        membership: None,
                    })
                    .map_err(|e| io_err(StorageIOError::write_state_machine, e))?;
                    RaftResponse::None
                }
                EntryPayload::Membership(m) => {
                    self.queue(Job::Mark {
                        log_id,
                        membership: Some(StoredMembership::new(Some(log_id), m)),
                    })
                    .map_err(|e| io_err(StorageIOError::write_state_machine, e))?;
                    RaftResponse::None
                }
                EntryPayload::Normal(RaftRequest::Block { number, bytes }) => self
                    .apply_block(number, bytes, Some(log_id))
                    .map_err(|e| io_err(StorageIOError::write_state_machine, e))?,
            };
            responses.push(response);
        }
        if self.blocks.unwritten() > MAX_UNWRITTEN {
            // The block store fell behind (a slow disk): hold Raft's apply, and with it new
            // acknowledgements, until it caught up, so memory stays bounded.
            self.flush()
                .await
                .map_err(|e| io_err(StorageIOError::write_state_machine, e))?;
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> std::result::Result<Box<Cursor<Vec<u8>>>, StErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> std::result::Result<(), StErr> {
        let err = |e: String| io_err(StorageIOError::write_state_machine, e);
        let data = snapshot.into_inner();
        let mark: ChainMark =
            dec(&data).map_err(|e| io_err(|e| StorageIOError::read_snapshot(None, e), e))?;
        tracing::info!(
            channel = %self.state.borrow().settings.channel_id,
            height = self.blocks.height(),
            snapshot_height = mark.height,
            source = mark.source,
            "installing a Raft snapshot: pulling the blocks this node lacks"
        );
        self.pull_to(&meta.last_membership, &mark)
            .await
            .map_err(err)?;
        self.flush().await.map_err(err)?;
        let height = self
            .blocks
            .ledger()
            .height()
            .map_err(|e| err(e.to_string()))?;
        write_meta(
            &self.db,
            &[
                (APPLIED_KEY, enc(&meta.last_log_id)),
                (APPLIED_HEIGHT_KEY, enc(&height)),
                (MEMBERSHIP_KEY, enc(&meta.last_membership)),
            ],
            true,
        )
        .map_err(err)?;
        // This node now holds every block below the mark: it is the source of its snapshot.
        let own = ChainMark {
            source: self.node_id,
            ..mark
        };
        self.keep_snapshot(meta, enc(&own)).map_err(err)?;
        self.due.reset();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> std::result::Result<Option<Snapshot<TypeConfig>>, StErr> {
        Ok(self
            .snapshot
            .lock()
            .expect("snapshot lock")
            .clone()
            .map(|(meta, data)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The number of the last block entry at or below the applied mark stored in the Raft
    /// store at `path` (opened while no node holds it).
    pub(crate) fn stored_applied_block(path: &Path) -> Option<u64> {
        let db = Database::create(path).unwrap();
        let applied: Option<LogId<u64>> = read_meta::<Option<LogId<u64>>>(&db, APPLIED_KEY)
            .unwrap()
            .flatten();
        let applied = applied?;
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(LOG).unwrap();
        let found = table
            .range(..=applied.index)
            .unwrap()
            .rev()
            .map(|item| dec::<Entry<TypeConfig>>(item.unwrap().1.value()).unwrap())
            .find_map(|entry| match entry.payload {
                EntryPayload::Normal(RaftRequest::Block { number, .. }) => Some(number),
                _ => None,
            });
        found
    }

    /// The indexes of the entries in the Raft log stored in `db`.
    pub(crate) fn log_indexes(db: &Database) -> Vec<u64> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(LOG).unwrap();
        table
            .iter()
            .unwrap()
            .map(|item| item.unwrap().0.value())
            .collect()
    }

    #[test]
    fn written_blocks_wait_for_company_before_their_fsync_unless_asked() {
        let fresh = |blocks: usize| Unsynced {
            blocks: (0..blocks as u64).collect(),
            since: Some(std::time::Instant::now()),
            ..Unsynced::default()
        };
        // A lone block waits for others to share its fsync, up to MAX_UNSYNCED of them …
        assert!(!fresh(1).due());
        assert!(!fresh(MAX_UNSYNCED - 1).due());
        assert!(fresh(MAX_UNSYNCED).due());
        // … or SYNC_DELAY.
        let old = Unsynced {
            since: std::time::Instant::now().checked_sub(SYNC_DELAY),
            ..fresh(1)
        };
        assert!(old.due());
        // A flush request and a membership change are synced at once.
        let (done, _rx) = tokio::sync::oneshot::channel();
        assert!(Unsynced {
            flushed: vec![done],
            ..fresh(1)
        }
        .due());
        assert!(Unsynced {
            membership: Some(StoredMembership::default()),
            ..fresh(0)
        }
        .due());
        const { assert!(MAX_UNSYNCED + MAX_GROUP <= MAX_UNWRITTEN) };
    }

    use openraft::entry::RaftEntry;

    fn stored_committed(db: &Database) -> Option<Option<LogId<u64>>> {
        read_meta(db, COMMITTED_KEY).unwrap()
    }

    #[tokio::test]
    async fn the_committed_mark_rides_on_the_next_log_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_store(&dir.path().join("raft.redb")).unwrap();
        let mut store = LogStore::new(db.clone());
        let id = |index| LogId::new(openraft::CommittedLeaderId::new(1, 1), index);
        append_txn(
            &db,
            [Entry::<TypeConfig>::new_blank(id(1))],
            &store.committed,
        )
        .unwrap();

        store.save_committed(Some(id(1))).await.unwrap();
        assert_eq!(stored_committed(&db), None, "no transaction of its own");
        assert_eq!(store.read_committed().await.unwrap(), Some(id(1)));
        // The next append writes it together with its entries…
        append_txn(&db, [Entry::new_blank(id(2))], &store.committed).unwrap();
        assert_eq!(stored_committed(&db), Some(Some(id(1))));
        assert_eq!(store.entries(1, 3).unwrap().len(), 2);
        // …or the flusher's synced commit, whichever comes first; once written it is not
        // written again.
        store.save_committed(Some(id(2))).await.unwrap();
        flush_txn(&db, &store.committed, 1).unwrap();
        assert_eq!(stored_committed(&db), Some(Some(id(2))));
        assert_eq!(take_committed(&store.committed), None);
        flush_txn(&db, &store.committed, 1).unwrap();
        assert_eq!(read_meta::<usize>(&db, FLUSH_KEY).unwrap(), Some(1));
        assert_eq!(store.read_committed().await.unwrap(), Some(id(2)));
    }

    /// The layout a block entry had when its bytes were a plain `Vec<u8>` field.
    #[derive(Serialize)]
    enum SeqRequest {
        Block { number: u64, bytes: Vec<u8> },
    }

    #[test]
    fn block_bytes_encode_as_before_and_round_trip() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let request = RaftRequest::Block {
            number: 7,
            bytes: bytes.clone(),
        };
        let encoded = enc(&request);
        // Logs written by earlier versions decode unchanged.
        assert_eq!(
            encoded,
            enc(&SeqRequest::Block {
                number: 7,
                bytes: bytes.clone()
            })
        );
        assert_eq!(dec::<RaftRequest>(&encoded).unwrap(), request);
        // serde_json has no byte strings: the sequence form still decodes.
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<RaftRequest>(&json).unwrap(), request);
    }
}
