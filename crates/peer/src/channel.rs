//! One joined channel: its ledger, its current configuration, the committer's status and the
//! hub that tells waiters about committed blocks and transactions.
//!
//! The hub keeps no blocks in memory. A commit-status waiter is a one-shot sender keyed by
//! transaction ID; block subscribers hold only the next block number they want and read
//! blocks from the ledger, waiting on a height watch when they have caught up. A slow
//! subscriber therefore costs nothing while it lags: it catches up from the ledger.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use cambium_channel::ChannelConfig;
use cambium_gateway::{BoxFuture, BoxStream, CommittedTx, PeerError};
use cambium_ledger::{BlockReader, Ledger, SnapshotSource, StoredBlock};
use cambium_primitives::TxValidationCode;
use cambium_validator::EndorsementPolicy;
use tokio::sync::{oneshot, watch};

/// What a channel's committer is doing, for logs and the operations endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitterState {
    /// Connecting to (or waiting to retry) an orderer.
    Connecting {
        /// The orderer being tried.
        orderer: String,
        /// Why the previous attempt ended, if one did.
        last_error: Option<String>,
    },
    /// Receiving blocks from an orderer.
    Receiving {
        /// The orderer delivering blocks.
        orderer: String,
    },
    /// Stopped at the last good block because a block could not be verified or committed;
    /// the reason says what and what to do. The committer retries (another orderer may send a
    /// good block) but the ledger does not move until a block passes.
    Stalled {
        /// Why.
        reason: String,
    },
    /// The peer is shutting down.
    Stopped,
}

/// A channel's committer status: its state and the ledger height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitterStatus {
    /// The channel.
    pub channel_id: String,
    /// Number of blocks committed.
    pub height: u64,
    /// What the committer is doing.
    pub state: CommitterState,
}

type Waiters = BTreeMap<String, Vec<(u64, oneshot::Sender<CommittedTx>)>>;

/// Endorsement policies the gateway looked up, valid while the announced height is `height`.
#[derive(Default)]
struct PolicyMemo {
    height: u64,
    policies: BTreeMap<String, Option<EndorsementPolicy>>,
}

/// At most this many contracts' policies are remembered per height.
const POLICY_MEMO_SIZE: usize = 256;

/// A joined channel.
pub(crate) struct ChannelState {
    pub(crate) id: String,
    pub(crate) ledger: Arc<Ledger>,
    config: RwLock<Arc<ChannelConfig>>,
    height: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    waiters: Mutex<Waiters>,
    next_waiter: Mutex<u64>,
    state: RwLock<CommitterState>,
    policy_memo: Mutex<PolicyMemo>,
}

fn ledger_error(e: cambium_ledger::LedgerError) -> PeerError {
    PeerError::Ledger(e.to_string())
}

impl ChannelState {
    pub(crate) fn new(
        id: &str,
        ledger: Arc<Ledger>,
        config: ChannelConfig,
        height: u64,
    ) -> ChannelState {
        ChannelState {
            id: id.to_owned(),
            ledger,
            config: RwLock::new(Arc::new(config)),
            height: watch::Sender::new(height),
            closed: watch::Sender::new(false),
            waiters: Mutex::new(BTreeMap::new()),
            next_waiter: Mutex::new(0),
            state: RwLock::new(CommitterState::Connecting {
                orderer: String::new(),
                last_error: None,
            }),
            policy_memo: Mutex::new(PolicyMemo::default()),
        }
    }

    /// The channel configuration in force for the next block.
    pub(crate) fn config(&self) -> Arc<ChannelConfig> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_config(&self, config: Arc<ChannelConfig>) {
        *self
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    /// Number of committed blocks, as last published.
    pub(crate) fn height(&self) -> u64 {
        *self.height.borrow()
    }

    pub(crate) fn set_state(&self, state: CommitterState) {
        *self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }

    pub(crate) fn status(&self) -> CommitterStatus {
        CommitterStatus {
            channel_id: self.id.clone(),
            height: self.height(),
            state: self
                .state
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    /// Tells waiters about the transactions of a block that is now committed, then announces
    /// the new height to block subscribers.
    pub(crate) fn publish(&self, number: u64, transactions: &[(String, TxValidationCode)]) {
        {
            let mut waiters = self
                .waiters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !waiters.is_empty() {
                for (tx_id, code) in transactions {
                    if let Some(list) = waiters.remove(tx_id) {
                        for (_, tx) in list {
                            let _ = tx.send(CommittedTx {
                                code: *code,
                                block_number: number,
                            });
                        }
                    }
                }
            }
        }
        self.height.send_replace(number + 1);
    }

    /// The endorsement policy of `contract`, read with `read` from a ledger snapshot the first
    /// time it is asked for at the current height and remembered until the next block is
    /// announced (only a committed block can change a definition). The height is read before
    /// the snapshot is taken, so a remembered answer is never older than the height it is
    /// filed under. Errors are not remembered.
    pub(crate) fn endorsement_policy(
        &self,
        contract: &str,
        read: impl FnOnce() -> Result<Option<EndorsementPolicy>, PeerError>,
    ) -> Result<Option<EndorsementPolicy>, PeerError> {
        let height = self.height();
        {
            let memo = self
                .policy_memo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if memo.height == height {
                if let Some(policy) = memo.policies.get(contract) {
                    return Ok(policy.clone());
                }
            }
        }
        let policy = read()?;
        let mut memo = self
            .policy_memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if memo.height != height || memo.policies.len() >= POLICY_MEMO_SIZE {
            memo.height = height;
            memo.policies.clear();
        }
        memo.policies.insert(contract.to_owned(), policy.clone());
        Ok(policy)
    }

    /// Ends every subscription: waiters see [`PeerError::ShuttingDown`].
    pub(crate) fn close(&self) {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.closed.send_replace(true);
        self.set_state(CommitterState::Stopped);
    }

    fn committed(&self, tx_id: &str) -> Result<Option<CommittedTx>, PeerError> {
        let snapshot = self.ledger.snapshot().map_err(ledger_error)?;
        Ok(snapshot
            .transaction(tx_id)
            .map_err(ledger_error)?
            .map(|loc| CommittedTx {
                code: loc.code,
                block_number: loc.block_num,
            }))
    }

    /// Resolves once `tx_id` is committed. The waiter is registered before the ledger is
    /// checked, so a commit between the two cannot be missed.
    pub(crate) fn commit_status(
        self: &Arc<Self>,
        tx_id: &str,
    ) -> BoxFuture<'static, Result<CommittedTx, PeerError>> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut next = self
                .next_waiter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *next += 1;
            *next
        };
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tx_id.to_owned())
            .or_default()
            .push((id, tx));
        let guard = WaiterGuard {
            channel: Arc::clone(self),
            tx_id: tx_id.to_owned(),
            id,
        };
        let found = self.committed(tx_id);
        Box::pin(async move {
            if let Some(done) = found? {
                return Ok(done);
            }
            let result = rx.await.map_err(|_| PeerError::ShuttingDown);
            drop(guard);
            result
        })
    }

    /// Committed blocks from `start` on, read from the ledger; waits for new blocks when it
    /// has caught up and ends when the peer stops.
    pub(crate) fn committed_blocks(
        self: &Arc<Self>,
        start: u64,
    ) -> BoxStream<'static, Result<StoredBlock, PeerError>> {
        let state = BlockCursor {
            channel: Arc::clone(self),
            height: self.height.subscribe(),
            closed: self.closed.subscribe(),
            next: start,
            done: false,
        };
        Box::pin(futures_util::stream::unfold(
            state,
            |mut cursor| async move {
                if cursor.done {
                    return None;
                }
                let item = cursor.next_block().await;
                match item {
                    Some(Ok(block)) => {
                        cursor.next += 1;
                        Some((Ok(block), cursor))
                    }
                    Some(Err(e)) => {
                        cursor.done = true;
                        Some((Err(e), cursor))
                    }
                    None => None,
                }
            },
        ))
    }

    /// A subscription to the height, for the Deliver service.
    pub(crate) fn height_watch(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// A subscription that turns `true` when the peer stops.
    pub(crate) fn closed_watch(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Block `number` from the ledger.
    pub(crate) fn block(&self, number: u64) -> Result<Option<StoredBlock>, PeerError> {
        self.ledger
            .snapshot()
            .map_err(ledger_error)?
            .block(number)
            .map_err(ledger_error)
    }
}

/// Removes a commit-status waiter when its future completes or is dropped (for example at the
/// client's deadline), so abandoned waits do not accumulate.
struct WaiterGuard {
    channel: Arc<ChannelState>,
    tx_id: String,
    id: u64,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut waiters = self
            .channel
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(list) = waiters.get_mut(&self.tx_id) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                waiters.remove(&self.tx_id);
            }
        }
    }
}

struct BlockCursor {
    channel: Arc<ChannelState>,
    height: watch::Receiver<u64>,
    closed: watch::Receiver<bool>,
    next: u64,
    done: bool,
}

impl BlockCursor {
    /// The next block, waiting until it is committed; `None` when the peer stops.
    async fn next_block(&mut self) -> Option<Result<StoredBlock, PeerError>> {
        loop {
            let height = *self.height.borrow_and_update();
            if self.next < height {
                return match self.channel.block(self.next) {
                    Ok(Some(block)) => Some(Ok(block)),
                    Ok(None) => Some(Err(PeerError::Ledger(format!(
                        "block {} of channel '{}' is missing below the height {height}",
                        self.next, self.channel.id
                    )))),
                    Err(e) => Some(Err(e)),
                };
            }
            tokio::select! {
                changed = self.height.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = self.closed.wait_for(|closed| *closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_ledger::{BlockCommit, BlockWriter, TxOutcome};
    use futures_util::StreamExt;
    use std::time::Duration;

    fn waiter_count(channel: &ChannelState) -> usize {
        channel.waiters.lock().unwrap().values().map(Vec::len).sum()
    }

    fn channel(dir: &std::path::Path) -> Arc<ChannelState> {
        let dev = cambium_testing::DevNetwork::new("hubtest");
        let ledger = Arc::new(Ledger::open(dir).unwrap());
        let genesis = cambium_channel::genesis_block(
            &dev.channel,
            cambium_primitives::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            },
        );
        let block = cambium_ledger::Block::decode(&genesis).unwrap();
        ledger
            .commit_block(&BlockCommit {
                outcomes: vec![TxOutcome::valid(Vec::new())],
                block,
            })
            .unwrap();
        Arc::new(ChannelState::new("hubtest", ledger, dev.channel, 1))
    }

    #[tokio::test]
    async fn commit_waiters_resolve_on_publish_and_leave_no_trace_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let ch = channel(dir.path());
        let abandoned = ch.commit_status("t1");
        assert_eq!(waiter_count(&ch), 1, "registered before the ledger check");
        drop(abandoned);
        assert_eq!(waiter_count(&ch), 0, "a dropped wait cleans up");

        let waiting = tokio::spawn(ch.commit_status("t2"));
        ch.publish(7, &[("t2".to_owned(), TxValidationCode::MvccReadConflict)]);
        let done = waiting.await.unwrap().unwrap();
        assert_eq!(done.block_number, 7);
        assert_eq!(done.code, TxValidationCode::MvccReadConflict);
        assert_eq!(waiter_count(&ch), 0);
        assert_eq!(ch.height(), 8);

        let pending = tokio::spawn(ch.commit_status("t3"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        ch.close();
        assert_eq!(pending.await.unwrap(), Err(PeerError::ShuttingDown));
    }

    #[test]
    fn endorsement_policies_are_remembered_until_the_next_block() {
        let dir = tempfile::tempdir().unwrap();
        let ch = channel(dir.path());
        let reads = std::cell::Cell::new(0);
        let policy =
            |name: &str| EndorsementPolicy::Signature(cambium_msp::policy::parse(name).unwrap());
        let read = |p: Option<EndorsementPolicy>| {
            reads.set(reads.get() + 1);
            Ok(p)
        };
        let first = policy("OR('Org1MSP.peer')");
        let second = policy("AND('Org1MSP.peer', 'Org2MSP.peer')");
        assert_eq!(
            ch.endorsement_policy("basic", || read(Some(first.clone()))),
            Ok(Some(first.clone()))
        );
        assert_eq!(
            ch.endorsement_policy("basic", || read(Some(second.clone()))),
            Ok(Some(first.clone()))
        );
        assert_eq!(ch.endorsement_policy("other", || read(None)), Ok(None));
        assert_eq!(
            ch.endorsement_policy("other", || read(Some(second.clone()))),
            Ok(None)
        );
        assert_eq!(reads.get(), 2);
        // A failed read is reported and not remembered.
        let failed = ch.endorsement_policy("broken", || Err(PeerError::Ledger("disk".into())));
        assert_eq!(failed, Err(PeerError::Ledger("disk".into())));
        assert_eq!(ch.endorsement_policy("broken", || read(None)), Ok(None));
        assert_eq!(reads.get(), 3);
        // A new block may have changed any definition: read again.
        ch.publish(1, &[]);
        assert_eq!(
            ch.endorsement_policy("basic", || read(Some(second.clone()))),
            Ok(Some(second))
        );
        assert_eq!(reads.get(), 4);
    }

    #[tokio::test]
    async fn block_streams_read_the_ledger_then_wait_and_end_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let ch = channel(dir.path());
        let mut blocks = ch.committed_blocks(0);
        assert_eq!(blocks.next().await.unwrap().unwrap().number, 0);
        let next = tokio::time::timeout(Duration::from_millis(100), blocks.next()).await;
        assert!(next.is_err(), "waits at the height");
        ch.close();
        assert!(blocks.next().await.is_none(), "ends when the peer stops");
        // A subscriber asking beyond a stale announced height reports the gap, not a hang.
        ch.publish(1, &[]);
        let mut gap = ch.committed_blocks(1);
        assert!(matches!(gap.next().await, Some(Err(PeerError::Ledger(_)))));
    }
}
