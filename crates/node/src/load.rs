//! A client that writes through a peer's Gateway service the way a Fabric application does
//! (Endorse → sign → Submit → CommitStatus), over a pool of connections, for load that runs
//! alongside other work (`cambium bench upgrade`).

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use tonic::transport::Channel;

use crate::client::{self, validation_code_name};
use crate::error::{NodeError, Result};
use crate::invoke::{submit, AppUser};
use crate::profile::ConnectionProfile;

/// How one write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed VALID in this block.
    Valid {
        /// The block number.
        block: u64,
    },
    /// Failed: the validation code's name, or which step failed and why.
    Failed(String),
}

struct Inner {
    user: AppUser,
    contract: String,
    connections: Vec<Channel>,
    run_id: u32,
}

/// A pool of Gateway connections writing as one client identity; cheap to clone.
#[derive(Clone)]
pub struct LoadClient {
    inner: Arc<Inner>,
}

impl LoadClient {
    /// Connects `connections` times to the gateway of `org`'s peer (`peer`, or its first) as
    /// `user`, to call `contract` on the profile's channel.
    pub async fn open(
        profile: &ConnectionProfile,
        org: &str,
        user: &str,
        peer: Option<&str>,
        contract: &str,
        connections: usize,
    ) -> Result<LoadClient> {
        let user = AppUser::load(profile, org, user, peer, None)?;
        let mut pool = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            pool.push(user.connect().await?);
        }
        Ok(LoadClient {
            inner: Arc::new(Inner {
                user,
                contract: contract.to_owned(),
                connections: pool,
                run_id: rand::thread_rng().gen(),
            }),
        })
    }

    /// Writes `count` records with `CreateAsset(id, owner, value)`, ten at a time; fails on
    /// the first that does not commit VALID.
    pub async fn seed(&self, count: usize) -> Result<()> {
        let mut next = 0;
        while next < count {
            let batch: Vec<_> = (next..count.min(next + 10))
                .map(|i| {
                    let this = self.clone();
                    tokio::spawn(async move {
                        let id = format!("seed-{:08x}-{i}", this.inner.run_id);
                        let outcome = this
                            .write(
                                i,
                                vec![
                                    b"CreateAsset".to_vec(),
                                    id.into_bytes(),
                                    b"seeder".to_vec(),
                                    b"100".to_vec(),
                                ],
                            )
                            .await;
                        (i, outcome)
                    })
                })
                .collect();
            for task in batch {
                let (i, outcome) = task
                    .await
                    .map_err(|e| NodeError::Rejected(format!("a seeding task failed: {e}")))?;
                if let WriteOutcome::Failed(cause) = outcome {
                    return Err(NodeError::Rejected(format!(
                        "seeding record {i} failed: {cause}"
                    )));
                }
            }
            next = count.min(next + 10);
        }
        Ok(())
    }

    /// Client `client`'s `n`-th new record: `CreateAsset(id, owner, value)` with a fresh ID.
    pub async fn create(&self, client: usize, n: u64) -> WriteOutcome {
        let id = format!("load-{:08x}-c{client}-{n}", self.inner.run_id);
        self.write(
            client,
            vec![
                b"CreateAsset".to_vec(),
                id.into_bytes(),
                format!("owner-{client}").into_bytes(),
                b"10".to_vec(),
            ],
        )
        .await
    }

    /// One write with `args` over connection `slot` (modulo the pool size).
    pub async fn write(&self, slot: usize, args: Vec<Vec<u8>>) -> WriteOutcome {
        match self.try_write(slot, args).await {
            Ok(block) => WriteOutcome::Valid { block },
            Err(cause) => WriteOutcome::Failed(cause),
        }
    }

    async fn try_write(&self, slot: usize, args: Vec<Vec<u8>>) -> std::result::Result<u64, String> {
        let inner = &self.inner;
        let channel = inner.connections[slot % inner.connections.len()].clone();
        gateway_write(&inner.user, &inner.contract, channel, args)
            .await
            .map(|w| w.block)
    }
}

/// One write that committed VALID.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Written {
    /// The block it committed in.
    pub(crate) block: u64,
    /// The Endorse, Submit and CommitStatus times, ms (each with the client's signing).
    pub(crate) phases_ms: [f64; 3],
}

/// One write through a gateway as `user`: Endorse, sign, Submit, CommitStatus. A failure is
/// its category: the validation code's name, or the step that failed and why.
pub(crate) async fn gateway_write(
    user: &AppUser,
    contract: &str,
    channel: Channel,
    args: Vec<Vec<u8>>,
) -> std::result::Result<Written, String> {
    let started = Instant::now();
    let proposal = client::signed_proposal(&user.signer, &user.channel_id, contract, args)
        .map_err(|e| format!("sign: {e}"))?;
    let submitted = submit(user, channel, &proposal, Vec::new(), started)
        .await
        .map_err(|e| e.category())?;
    if submitted.code != 0 {
        return Err(validation_code_name(submitted.code));
    }
    Ok(Written {
        block: submitted.block,
        phases_ms: submitted.phases_ms,
    })
}
