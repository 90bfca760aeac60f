//! One channel on this orderer: its block store, its Raft node and the leader's block cutter.
//!
//! Envelopes that passed Broadcast's checks enter the cutter loop. On the leader, each cut
//! batch becomes a block (numbered and chained on the leader's tip, signed) proposed to Raft;
//! proposals are pipelined in order, and a separate task waits for each to be committed and
//! applied before answering its envelopes `SUCCESS`. A stale proposal (the tip moved under a
//! deposed leader) is re-cut on the current tip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cambium_ledger::{
    Block, BlockCommit, BlockReader, BlockWriter, Ledger, LedgerOptions, TxOutcome,
    TxValidationCode,
};
use cambium_msp::SigningIdentity;
use cambium_ops::metrics::RaftState;
use cambium_ops::Metrics;
use openraft::{BasicNode, Config, SnapshotPolicy};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::deadline::Deadline;

use crate::block::assemble_block;
use crate::blocks::Blocks;
use crate::cluster::{BlockPuller, ClusterNetwork, Connections, SharedTrust};
use crate::cutter::BlockCutter;
use crate::error::{OrdererError, Result};
use crate::node::NodeInner;
use crate::raft::{
    open_store, ChainStateMachine, ChannelRaft, LogStore, RaftRequest, RaftResponse, SnapshotDue,
};
use crate::settings::ChannelSettings;
use crate::status::Rejection;
use crate::update::ChannelState;

/// How often a proposal is re-cut after landing on a stale tip before its envelopes fail.
const MAX_RETRIES: u32 = 3;

/// An envelope accepted by Broadcast, waiting for its block to commit.
pub(crate) struct Submission {
    pub(crate) envelope: Vec<u8>,
    /// A CONFIG_UPDATE envelope: authorized again at cut time and ordered, wrapped in a
    /// CONFIG envelope, alone in its own block.
    pub(crate) config_update: bool,
    pub(crate) done: oneshot::Sender<Result<(), Rejection>>,
}

/// Entries kept in the Raft log below a snapshot, so a follower a few blocks behind catches up
/// by replication rather than by installing the snapshot and pulling blocks (Fabric's etcdraft
/// keeps a few too, `SnapshotCatchUpEntries`).
const LOGS_KEPT_AFTER_SNAPSHOT: u64 = 64;

/// Raft timing: heartbeats every 100 ms and elections after 300–600 ms of silence, so a new
/// leader serves well within Fabric users' expectations after a crash.
pub(crate) fn raft_config(channel: &str) -> Result<Arc<Config>> {
    let config = Config {
        cluster_name: channel.to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Snapshots are taken by the bytes of blocks since the last one, Fabric's
        // `SnapshotIntervalSize` ([`take_snapshots`]), not by entry count; after each, openraft
        // purges the log below it but for the last `LOGS_KEPT_AFTER_SNAPSHOT` entries.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: LOGS_KEPT_AFTER_SNAPSHOT,
        max_payload_entries: 64,
        ..Default::default()
    };
    Ok(Arc::new(
        config
            .validate()
            .map_err(|e| OrdererError::Raft(e.to_string()))?,
    ))
}

/// redb's page cache of a channel's block store. The orderer's store holds only the block
/// index (Deliver reads blocks from the block files), and redb keeps every page it writes in
/// its cache until the cache is full: with the ledger's default of 512 MiB, an orderer under
/// load grew by several MB a second for minutes.
const BLOCK_STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A joined channel.
pub(crate) struct Chain {
    /// The configuration in force, replaced when a config block is applied.
    pub(crate) state: watch::Receiver<Arc<ChannelState>>,
    pub(crate) raft: ChannelRaft,
    /// The chain: the block store and the committed blocks on their way into it.
    pub(crate) blocks: Arc<Blocks>,
    pub(crate) height: watch::Receiver<u64>,
    pub(crate) node_id: u64,
    pub(crate) dir: PathBuf,
    /// Mutual TLS towards and from the channel's other orderers; `None` without TLS.
    pub(crate) trust: SharedTrust,
    /// Becomes `true` when the channel stops; Deliver streams end on it.
    pub(crate) stopped: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    /// The Raft store, without keeping it open.
    released: Released,
    submit: mpsc::Sender<Submission>,
    tasks: Vec<JoinHandle<()>>,
}

/// A weak handle on a channel's Raft store, kept by the chain for health checks so that it
/// does not keep the store open itself.
#[derive(Clone)]
pub(crate) struct Released {
    raft_store: std::sync::Weak<redb::Database>,
}

/// A channel's stores, held while its tasks wind down after it stopped.
pub(crate) struct Stores {
    raft_store: Option<Arc<redb::Database>>,
    ledger: Arc<Ledger>,
}

impl Stores {
    /// Waits until nothing else holds the stores (for at most `limit`), then closes them on
    /// this task, so their files are unlocked when it returns; returns whether it could.
    pub(crate) async fn close(self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let raft_free = self
                .raft_store
                .as_ref()
                .is_none_or(|db| Arc::strong_count(db) == 1);
            if raft_free && Arc::strong_count(&self.ledger) == 1 {
                // Dropping the last handles closes the files (the ledger syncs and joins its
                // flush thread).
                drop(self);
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Chain {
    /// Opens the channel in `dir` (creating it from `genesis` if new) as consenter `node_id`.
    pub(crate) async fn open(
        dir: &Path,
        genesis: &[u8],
        settings: ChannelSettings,
        node_id: u64,
        node: &NodeInner,
    ) -> Result<Chain> {
        let (signer, connections, metrics) = (
            node.signer.clone(),
            node.connections.clone(),
            node.metrics.clone(),
        );
        std::fs::create_dir_all(dir).map_err(|e| OrdererError::io("creating", dir, e))?;
        // Blocks above the genesis block are re-derived from the Raft log after a crash, so the
        // block writer syncs them in groups (see `raft::write_loop`); Deliver reads blocks by
        // number and nothing here looks a transaction up by ID, so there is no tx-ID index.
        let options = LedgerOptions {
            sync_each_block: false,
            index_tx_ids: false,
            cache_bytes: BLOCK_STORE_CACHE_BYTES,
            ..LedgerOptions::default()
        };
        let ledger = Arc::new(Ledger::open_with(dir.join("ledger"), options)?);
        if ledger.height()? == 0 {
            let block = Block::decode(genesis)?;
            if block.number != 0 {
                return Err(OrdererError::Config(format!(
                    "the join block is block {}, not a genesis block; give block 0 of channel '{}'",
                    block.number, settings.channel_id
                )));
            }
            let outcomes =
                vec![TxOutcome::invalid(TxValidationCode::NotValidated); block.data.len()];
            ledger.commit_block(&BlockCommit { block, outcomes })?;
            // The genesis block is in no Raft log: it must not be lost.
            ledger.sync_blocks()?;
        }
        let given = Block::decode(genesis)?.header_hash();
        let stored = ledger.block(0)?.map(|b| b.hash);
        if stored != Some(given) {
            return Err(OrdererError::Config(format!(
                "the genesis block given for channel '{}' differs from the one this orderer already holds; use the channel's original genesis block or remove the channel first",
                settings.channel_id
            )));
        }
        let state = load_state(&ledger, genesis, settings)?;
        let settings = (*state.settings).clone();
        let trust = SharedTrust::new(
            connections
                .trust(&settings.orderer_tls_roots)
                .map_err(OrdererError::Config)?,
        );
        let blocks = Arc::new(Blocks::new(ledger.clone())?);
        let (height_tx, height_rx) = watch::channel(blocks.height());
        let (state_tx, state_rx) = watch::channel(Arc::new(state));
        let state_tx = Arc::new(state_tx);
        let db = open_store(&dir.join("raft.redb"))?;
        let released = Released {
            raft_store: Arc::downgrade(&db),
        };
        let state_machine = ChainStateMachine::new(
            db.clone(),
            blocks.clone(),
            height_tx,
            state_tx,
            node_id,
            BlockPuller::new(&settings.channel_id, connections.clone(), trust.clone()),
        )?;
        let snapshot_due = state_machine.snapshot_due();
        let raft = ChannelRaft::new(
            node_id,
            raft_config(&settings.channel_id)?,
            ClusterNetwork::new(&settings.channel_id, connections.clone(), trust.clone()),
            LogStore::new(db),
            state_machine,
        )
        .await
        .map_err(|e| OrdererError::Raft(e.to_string()))?;
        if !raft
            .is_initialized()
            .await
            .map_err(|e| OrdererError::Raft(e.to_string()))?
        {
            let members: BTreeMap<u64, BasicNode> = settings
                .consenters
                .iter()
                .map(|c| (c.id, BasicNode::new(&c.address)))
                .collect();
            // Every consenter initializes with the same membership, which openraft allows.
            if let Err(e) = raft.initialize(members).await {
                tracing::debug!(channel = %settings.channel_id, "raft already initialized: {e}");
            }
        }
        let (submit, rx) = mpsc::channel(16 * 1024);
        let (feedback_tx, feedback_rx) = mpsc::unbounded_channel();
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let cutter = CutterLoop {
            raft: raft.clone(),
            blocks: blocks.clone(),
            state: state_rx.clone(),
            signer,
            node_id,
            tip: None,
            acks: ack_tx,
            in_flight: 0,
            cut_when_idle: node.config.cut_when_idle,
            last_cut: None,
        };
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(cutter.run(rx, feedback_rx)),
            tokio::spawn(ack_loop(ack_rx, feedback_tx)),
            tokio::spawn(follow_trust(state_rx.clone(), connections, trust.clone())),
            tokio::spawn(take_snapshots(raft.clone(), snapshot_due)),
            tokio::spawn(report_metrics(
                settings.channel_id.clone(),
                raft.metrics(),
                height_rx.clone(),
                metrics,
            )),
        ];
        Ok(Chain {
            state: state_rx,
            raft,
            blocks,
            height: height_rx,
            node_id,
            dir: dir.to_path_buf(),
            trust,
            stopped,
            stop,
            released,
            submit,
            tasks,
        })
    }

    /// Hands an accepted envelope to the cutter; the receiver resolves when its block is
    /// committed (or the envelope fails).
    pub(crate) async fn enqueue(
        &self,
        envelope: Vec<u8>,
        config_update: bool,
    ) -> Result<oneshot::Receiver<Result<(), Rejection>>, Rejection> {
        let (done, rx) = oneshot::channel();
        self.submit
            .send(Submission {
                envelope,
                config_update,
                done,
            })
            .await
            .map_err(|_| {
                Rejection::unavailable("the channel is shutting down; retry on another orderer")
            })?;
        Ok(rx)
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> Arc<ChannelSettings> {
        self.state.borrow().settings.clone()
    }

    /// The configuration in force.
    pub(crate) fn current(&self) -> Arc<ChannelState> {
        self.state.borrow().clone()
    }

    /// The current Raft leader's node ID, if known.
    pub(crate) fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// The gRPC address of consenter `id`.
    pub(crate) fn address_of(&self, id: u64) -> Option<String> {
        self.settings()
            .consenters
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.address.clone())
    }

    /// Reads the Raft store once, to tell that it still answers.
    pub(crate) fn check_raft_store(&self) -> std::result::Result<(), String> {
        let db = self
            .released
            .raft_store
            .upgrade()
            .ok_or("the Raft store is closed")?;
        crate::raft::check_store(&db)
    }

    /// The channel's Raft store, while it is open.
    #[cfg(test)]
    pub(crate) fn raft_store(&self) -> Option<Arc<redb::Database>> {
        self.released.raft_store.upgrade()
    }

    /// The channel's stores, to close once it stopped (see [`Stores::close`]).
    pub(crate) fn stores(&self) -> Stores {
        Stores {
            raft_store: self.released.raft_store.upgrade(),
            ledger: self.blocks.ledger().clone(),
        }
    }

    /// Stops the Raft node, the cutter and the Deliver streams of the channel.
    pub(crate) async fn shutdown(&self) {
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(channel = %self.settings().channel_id, "raft shutdown: {e}");
        }
    }
}

/// What the acknowledging task tells the cutter loop.
enum Feedback {
    /// These envelopes' block landed on a stale tip: cut them again.
    Retry(Vec<Submission>, u32),
    /// The proposal failed (e.g. leadership lost): forget the tip.
    Reset,
    /// A proposal was answered, either way: it is no longer in flight.
    Answered,
}

/// A proposal in flight.
struct InFlight {
    rx: oneshot::Receiver<openraft::raft::ClientWriteResult<crate::raft::TypeConfig>>,
    batch: Vec<Submission>,
    attempt: u32,
}

struct CutterLoop {
    raft: ChannelRaft,
    blocks: Arc<Blocks>,
    state: watch::Receiver<Arc<ChannelState>>,
    signer: Arc<SigningIdentity>,
    node_id: u64,
    /// Next block number and the previous header hash, as this leader has proposed.
    tip: Option<(u64, Vec<u8>)>,
    acks: mpsc::UnboundedSender<InFlight>,
    /// Blocks proposed and not yet answered by Raft.
    in_flight: usize,
    /// Cut a batch at once when no block is in flight (see `NodeConfig::cut_when_idle`).
    cut_when_idle: bool,
    /// When the last block was proposed.
    last_cut: Option<std::time::Instant>,
}

/// The least time between a block and the next one cut for the orderer being idle (at most
/// `BatchTimeout`). The first envelope after a quiet spell is cut at once; under load, blocks
/// come no more often than this, so the CPU a block costs stays bounded. Measured against
/// `cambium up` with `cambium bench gateway` (see `crates/orderer/README.md`): 0, 1, 2, 3 and
/// 4 ms gave p50 at 16 clients of 11.3–12.2, 11.9, 11.1–11.4, 11.7 and 12.3 ms at 1,090–1,169,
/// 1,059, 1,034–1,084, 987 and 944–955 µs of CPU per transaction; cutting only by Fabric's rules
/// gave 13.8–14.3 ms at 877–914 µs.
const IDLE_CUT_GAP: Duration = Duration::from_millis(4);

impl CutterLoop {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Submission>,
        mut feedback: mpsc::UnboundedReceiver<Feedback>,
    ) {
        let mut batch_config = self.state.borrow_and_update().settings.batch;
        let mut cutter: BlockCutter<Submission> = BlockCutter::new(batch_config);
        // Armed when a batch starts, or for the idle-cut gap.
        let timer = match Deadline::new("batch-timer") {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the batch timer thread; this channel cuts no blocks until the orderer restarts");
                return;
            }
        };
        // When the armed timer fires (`None`: not armed), mirrored so the loop need not lock
        // the timer to know.
        let mut deadline: Option<std::time::Instant> = None;
        let arm = |deadline: &mut Option<std::time::Instant>, at: Option<std::time::Instant>| {
            if *deadline != at {
                timer.set(at);
                *deadline = at;
            }
        };
        loop {
            if self.state.has_changed().unwrap_or(false) {
                // A config block was applied: its batch settings apply from now on.
                batch_config = self.state.borrow_and_update().settings.batch;
                cutter.set_config(batch_config);
            }
            let timeout = batch_config.timeout;
            let mut batches: Vec<(Vec<Submission>, u32)> = tokio::select! {
                biased;
                fb = feedback.recv() => match fb {
                    Some(Feedback::Retry(batch, attempt)) => { self.tip = None; vec![(batch, attempt)] }
                    Some(Feedback::Reset) => { self.tip = None; Vec::new() }
                    Some(Feedback::Answered) => {
                        self.in_flight = self.in_flight.saturating_sub(1);
                        Vec::new()
                    }
                    None => return,
                },
                sub = rx.recv() => {
                    let Some(sub) = sub else { return };
                    if sub.config_update {
                        // A config block is cut alone: the pending batch goes first.
                        arm(&mut deadline, None);
                        let pending = cutter.cut();
                        if !pending.is_empty() {
                            self.propose(pending, 0).await;
                        }
                        self.propose_config(sub).await;
                        continue;
                    }
                    let size = sub.envelope.len();
                    let cut = cutter.ordered(sub, size);
                    if !cutter.has_pending() {
                        arm(&mut deadline, None);
                    } else if deadline.is_none() || !cut.is_empty() {
                        // A new batch starts: it is cut by the timeout at the latest.
                        arm(&mut deadline, Some(std::time::Instant::now() + timeout));
                    }
                    cut.into_iter().map(|b| (b, 0)).collect()
                }
                _ = timer.fired(), if deadline.is_some() => {
                    deadline = None;
                    vec![(cutter.cut(), 0)]
                }
            };
            if batches.is_empty()
                && self.cut_when_idle
                && self.in_flight == 0
                && cutter.has_pending()
            {
                // No block is on its way through Raft, so waiting for the batch timeout would
                // only delay the pending envelopes: cut them now, or once the last cut is
                // IDLE_CUT_GAP old, so a busy channel still gathers a few envelopes per block.
                let now = std::time::Instant::now();
                let gap = IDLE_CUT_GAP.min(timeout);
                match self.last_cut.map(|t| t + gap).filter(|at| *at > now) {
                    None => {
                        arm(&mut deadline, None);
                        batches.push((cutter.cut(), 0));
                    }
                    Some(at) => {
                        if deadline.is_none_or(|d| at < d) {
                            arm(&mut deadline, Some(at));
                        }
                    }
                }
            }
            for (batch, attempt) in batches {
                if !batch.is_empty() {
                    self.propose(batch, attempt).await;
                }
            }
        }
    }

    fn current_tip(&mut self) -> Result<(u64, Vec<u8>)> {
        if let Some(tip) = &self.tip {
            return Ok(tip.clone());
        }
        let (height, hash) = self.blocks.tip();
        Ok((height, hash.map(|h| h.to_vec()).unwrap_or_default()))
    }

    async fn propose(&mut self, batch: Vec<Submission>, attempt: u32) {
        let fail = |batch: Vec<Submission>, why: Rejection| {
            for s in batch {
                let _ = s.done.send(Err(why.clone()));
            }
        };
        if self.raft.metrics().borrow().current_leader != Some(self.node_id) {
            self.tip = None;
            return fail(
                batch,
                Rejection::unavailable(
                    "this orderer lost Raft leadership while ordering; resubmit",
                ),
            );
        }
        let (number, previous) = match self.current_tip() {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    batch,
                    Rejection::internal(format!("reading the chain tip: {e}")),
                )
            }
        };
        // The envelopes move into the block; the batch keeps what answers them.
        let (envelopes, batch): (Vec<Vec<u8>>, Vec<Submission>) = batch
            .into_iter()
            .map(|mut s| (std::mem::take(&mut s.envelope), s))
            .unzip();
        let block = match assemble_block(
            number,
            previous,
            envelopes,
            self.state.borrow().settings.last_config,
            &self.signer,
        ) {
            Ok(mut b) => {
                // Replicated as the block store keeps it, so applying need not re-encode.
                crate::raft::set_unvalidated_filter(&mut b);
                b
            }
            Err(e) => {
                return fail(
                    batch,
                    Rejection::internal(format!("signing block {number}: {e}")),
                )
            }
        };
        let hash = block.header_hash().to_vec();
        let bytes = block.encode();
        // The envelopes go back to their submissions, in case the block lands on a stale tip
        // and they are cut again.
        let mut batch = batch;
        for (s, envelope) in batch.iter_mut().zip(block.data) {
            s.envelope = envelope;
        }
        match self
            .raft
            .client_write_ff(RaftRequest::Block { number, bytes })
            .await
        {
            Ok(rx) => {
                self.tip = Some((number + 1, hash));
                self.in_flight += 1;
                self.last_cut = Some(std::time::Instant::now());
                let _ = self.acks.send(InFlight { rx, batch, attempt });
            }
            Err(e) => {
                self.tip = None;
                fail(
                    batch,
                    Rejection::unavailable(format!("raft refused the block: {e}")),
                );
            }
        }
    }
}

impl CutterLoop {
    /// Orders a CONFIG_UPDATE alone in its own block: authorizes it against the config in
    /// force now (another config may have committed since Broadcast checked it), wraps the
    /// result in a signed CONFIG envelope, proposes the block (its LAST_CONFIG is itself) and
    /// waits until it is applied, so no block is cut under the old config after it.
    async fn propose_config(&mut self, sub: Submission) {
        let result = self.order_config(&sub.envelope).await;
        if result.is_err() {
            self.tip = None;
        }
        let _ = sub.done.send(result);
    }

    async fn order_config(&mut self, update: &[u8]) -> Result<(), Rejection> {
        if self.raft.metrics().borrow().current_leader != Some(self.node_id) {
            return Err(Rejection::unavailable(
                "this orderer lost Raft leadership while ordering; resubmit",
            ));
        }
        let view = cambium_wire::tx::parse_envelope(update)
            .map_err(|e| Rejection::bad_request(format!("malformed envelope: {e}")))?;
        let current = self.state.borrow().clone();
        let config = current.config.clone().ok_or_else(no_config)?;
        let now = crate::service::now_secs();
        let next = crate::update::authorize(&config, &view, now)?;
        let envelope = crate::update::config_envelope(
            &next,
            &view,
            &self.signer,
            cambium_primitives::Timestamp {
                seconds: now,
                nanos: 0,
            },
        )?;
        let (number, previous) = self
            .current_tip()
            .map_err(|e| Rejection::internal(format!("reading the chain tip: {e}")))?;
        let block = assemble_block(number, previous, vec![envelope], number, &self.signer)
            .map_err(|e| Rejection::internal(format!("signing block {number}: {e}")))?;
        let hash = block.header_hash().to_vec();
        let bytes = block.encode();
        let rx = self
            .raft
            .client_write_ff(RaftRequest::Block { number, bytes })
            .await
            .map_err(|e| Rejection::unavailable(format!("raft refused the block: {e}")))?;
        match rx.await {
            Ok(Ok(response)) => match response.data {
                RaftResponse::Applied { .. } => {
                    self.tip = Some((number + 1, hash));
                    tracing::info!(
                        channel = %config.channel_id(),
                        block = number,
                        sequence = next.sequence(),
                        "config update ordered"
                    );
                    Ok(())
                }
                other => Err(Rejection::unavailable(format!(
                    "the config block could not be appended ({other:?}); resubmit the update"
                ))),
            },
            Ok(Err(e)) => Err(Rejection::unavailable(format!(
                "the config block was not committed: {e}; resubmit to the current leader"
            ))),
            Err(_) => Err(Rejection::unavailable("the Raft node stopped; resubmit")),
        }
    }
}

/// Keeps the channel's cluster trust in step with the config: after each config block, the
/// TLS CAs of the channel's orderer organisations as it names them.
async fn follow_trust(
    mut state: watch::Receiver<Arc<ChannelState>>,
    connections: Connections,
    trust: SharedTrust,
) {
    state.borrow_and_update();
    while state.changed().await.is_ok() {
        let settings = state.borrow_and_update().settings.clone();
        match connections.trust(&settings.orderer_tls_roots) {
            Ok(t) => trust.replace(t),
            Err(e) => tracing::error!(
                channel = %settings.channel_id,
                "the updated orderer TLS CAs are unusable; keeping the previous ones: {e}"
            ),
        }
    }
}

/// Keeps the operations endpoint's gauges of the channel (Raft term, leader, applied index,
/// block height) in step with the Raft node and the chain.
/// Asks openraft for a snapshot each time the state machine says one is due (the channel's
/// `SnapshotIntervalSize` of blocks since the last); ends with the Raft node.
async fn take_snapshots(raft: ChannelRaft, due: Arc<SnapshotDue>) {
    loop {
        due.wait().await;
        if let Err(e) = raft.trigger().snapshot().await {
            tracing::debug!("no snapshot: the Raft node stopped ({e})");
            return;
        }
    }
}

async fn report_metrics(
    channel: String,
    mut raft: watch::Receiver<openraft::RaftMetrics<u64, BasicNode>>,
    mut height: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
) {
    loop {
        {
            let m = raft.borrow_and_update();
            let leader = m.current_leader;
            metrics.set_raft(
                &channel,
                RaftState {
                    term: m.current_term,
                    leader_id: leader.unwrap_or(0),
                    is_leader: leader == Some(m.id),
                    commit_index: m.last_applied.map_or(0, |l| l.index),
                    snapshot_index: m.snapshot.map_or(0, |l| l.index),
                    purged_index: m.purged.map_or(0, |l| l.index),
                },
            );
        }
        metrics.set_height(&channel, *height.borrow_and_update());
        tokio::select! {
            changed = raft.changed() => if changed.is_err() { return },
            changed = height.changed() => if changed.is_err() { return },
        }
    }
}

/// The rejection for a config update on a channel whose config this orderer cannot read.
pub(crate) fn no_config() -> Rejection {
    Rejection::bad_request(
        "this channel was joined with a block the orderer cannot read as a channel config, so          it cannot authorize config updates; join it with a genesis block made by cambium          channel create or configtxgen",
    )
}

/// The configuration in force for a chain held in `ledger`: from the block the tip's
/// LAST_CONFIG names when a config update has committed, else from the genesis block (the
/// `joined` settings, plus the genesis config when it decodes). The Raft consenters always
/// come from `joined`.
fn load_state(ledger: &Ledger, genesis: &[u8], joined: ChannelSettings) -> Result<ChannelState> {
    let height = ledger.height()?;
    let last_config = match height {
        0 | 1 => 0,
        h => match ledger.block(h - 1)? {
            Some(stored) => crate::block::block_signatures(&Block::decode(&stored.bytes)?)
                .map(|s| s.last_config)
                .unwrap_or(0),
            None => 0,
        },
    };
    let initial = ChannelState {
        config: cambium_channel::ChannelConfig::from_config_block(genesis)
            .ok()
            .map(Arc::new),
        settings: Arc::new(joined),
    };
    if last_config == 0 {
        return Ok(initial);
    }
    let block = ledger.block(last_config)?.ok_or_else(|| {
        OrdererError::Config(format!(
            "the chain's LAST_CONFIG names block {last_config}, which is missing; the block store is damaged, remove the channel and join again"
        ))
    })?;
    let block = Block::decode(&block.bytes)?;
    let config = crate::update::block_config(&block)
        .ok_or_else(|| {
            OrdererError::Config(format!(
                "the chain's LAST_CONFIG names block {last_config}, which is not a config block"
            ))
        })?
        .map_err(|e| OrdererError::Config(format!("config block {last_config}: {e}")))?;
    initial
        .after_config(config, last_config)
        .map_err(|e| OrdererError::Config(format!("config block {last_config}: {e}")))
}

/// Waits for proposals in order and answers their envelopes.
async fn ack_loop(
    mut rx: mpsc::UnboundedReceiver<InFlight>,
    feedback: mpsc::UnboundedSender<Feedback>,
) {
    while let Some(InFlight { rx, batch, attempt }) = rx.recv().await {
        let outcome = match rx.await {
            Ok(Ok(response)) => match response.data {
                RaftResponse::Applied { .. } => Ok(()),
                RaftResponse::Stale { .. } if attempt < MAX_RETRIES => {
                    let _ = feedback.send(Feedback::Retry(batch, attempt + 1));
                    let _ = feedback.send(Feedback::Answered);
                    continue;
                }
                other => Err(Rejection::unavailable(format!(
                    "the block could not be appended ({other:?}); resubmit"
                ))),
            },
            Ok(Err(e)) => Err(Rejection::unavailable(format!(
                "the block was not committed: {e}; resubmit to the current leader"
            ))),
            Err(_) => Err(Rejection::unavailable("the Raft node stopped; resubmit")),
        };
        if outcome.is_err() {
            let _ = feedback.send(Feedback::Reset);
        }
        let _ = feedback.send(Feedback::Answered);
        for s in batch {
            let _ = s.done.send(outcome.clone());
        }
    }
}

/// How long a follower waits for a leader to be known before it gives up on a Broadcast.
pub(crate) const LEADER_WAIT: Duration = Duration::from_secs(3);
