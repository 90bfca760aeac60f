//! `cambium bench upgrade`: a live upgrade under load, measured the way its users would judge it.
//!
//! Setup (not measured): deploy version 1 under a fresh name, seed records in its state format,
//! and install version 2 on every peer (installing is per peer and off the ledger, so a real
//! operator does it ahead of time too). Then N clients submit through the Gateway without pause
//! (`CreateAsset` of a new key each time) while the script runs, each phase lasting `phase`:
//!
//! 1. **before**: version 1 only;
//! 2. **during**: upgrade to version 2 with its migration and a canary, advance the canary,
//!    abort it, roll out again (a new sequence, migrating again) and promote;
//! 3. **after**: version 2 only.
//!
//! Reported:
//!
//! - every failed transaction (an error seen by a client or a commit that is not VALID);
//! - throughput in each phase and **the dip**, `(before − during) / before` (the issue's
//!   figure). Because "after" runs only version 2 and "before" only version 1, the dip also
//!   holds any difference in speed between the two versions; `throughput_dip_vs_mean_pct`
//!   compares "during" with the mean of "before" and "after" instead, to separate what the
//!   upgrade steps cost from what the new version costs. Each step also reports the throughput
//!   while it ran, and `throughput_between_steps` the rest of the upgrade phase.
//! - **blocks to serve** (`blocks_to_serve`), for every step that changes which version
//!   serves (the upgrade, the advance, the abort, the second roll-out, the promotion): a block
//!   follower on the gateway peer notes, on the bench's clock, when each block arrived; for a
//!   step committed in block N, the transactions that count are those *proposed after the bench
//!   learned that N committed* (their channel-header timestamp, set by the bench's own
//!   clients, is later than the arrival of block N). The figure is `B − N` for the first block
//!   `B > N` from which every such transaction committed VALID and ran the version the rollout
//!   assigns it (by transaction ID, the peers' rule); a call that failed after it was proposed
//!   counts as one not served in the block after the newest the bench had seen when it failed.
//!   1 means the new assignment serves from the block after the commit. A peer that kept
//!   serving the old version, or failed calls while the new one starts (as Fabric does while a
//!   chaincode container starts), push it up. Transactions proposed before the commit was known
//!   are in flight (endorsed under the previous assignment, valid in the grace window) and say
//!   nothing about when the new version serves, so they do not count here; the headline is the
//!   largest value over the steps.
//! - `blocks_to_first_new_version_tx`: the earlier figure, blocks from the upgrade's commit to
//!   the first block holding a transaction that ran the new version. With many clients in
//!   flight it counts the pipeline (the blocks cut during one transaction latency after N hold
//!   only transactions proposed before N), not when the new version started serving.
//! - the `_lifecycle` transactions of the upgrade phase by validation code (a migration that
//!   conflicted with the load and was tried again shows up here), and whether every peer ends
//!   with the same state digest.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cambium_primitives::{SeekInfo, SeekPosition};
use cambium_wire::peer::deliver_client::DeliverClient;
use cambium_wire::peer::deliver_response;
use serde::Serialize;

use crate::admin::Admin;
use crate::blocks::{endorser_transactions, read_blocks, EndorserTx};
use crate::client::{deliver_envelope, DeliverRequests, NEVER};
use crate::connect::{connect, MAX_MESSAGE_BYTES};
use crate::deploy::{self, DeployOptions};
use crate::error::{NodeError, Result};
use crate::load::{LoadClient, WriteOutcome};
use crate::profile::ConnectionProfile;
use crate::upgrade::{self, RolloutPlan, RolloutState, RolloutStatus, RolloutStep, UpgradeOptions};

/// What to run.
#[derive(Clone, Debug)]
pub struct UpgradeBenchOptions {
    /// Concurrent clients.
    pub clients: usize,
    /// Length of the before and after phases (the upgrade phase lasts as long as its steps,
    /// at least this long).
    pub phase: Duration,
    /// Version 1's package (its label names the package).
    pub v1: Vec<u8>,
    /// Version 2's package, which exports `migrate`.
    pub v2: Vec<u8>,
    /// Version 2 again under another label, for the roll-out after the abort.
    pub v2_again: Vec<u8>,
    /// Records version 1 writes before the load starts, for the migration to convert.
    pub seed: usize,
    /// The canary's first weight, percent.
    pub canary: u32,
    /// The contract name (a fresh one per run by default).
    pub name: String,
}

/// One lifecycle step of the upgrade phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepTiming {
    /// What was done.
    pub step: String,
    /// The block its transaction committed in.
    pub block: u64,
    /// Wall time of the step, ms (for an upgrade: compatibility check, approvals, commit with
    /// the migration, and waiting until every endorser reports the new definition).
    pub ms: u64,
    /// Valid commits per second of the load while the step ran.
    pub throughput: f64,
    /// Blocks from this step's commit until the version assignment it made served every
    /// transaction proposed after the commit was known (see the module docs); `None` if no
    /// such transaction committed before the next step.
    pub blocks_to_serve: Option<u64>,
    /// The transactions that counted for `blocks_to_serve`: proposed after the commit was
    /// known, committed before the next step.
    pub judged: u64,
    /// Of those, how many the assignment gave the version this step started serving (the new
    /// version, or the previous one after an abort).
    pub judged_on_switched: u64,
    /// Of those, how many failed or ran a version other than the one assigned.
    pub misserved: u64,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpgradeBenchReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Transactions submitted.
    pub submitted: u64,
    /// Transactions committed VALID.
    pub valid: u64,
    /// Transactions that failed in any way (target: 0).
    pub failed: u64,
    /// Failures by cause (validation code or client error).
    pub failures: BTreeMap<String, u64>,
    /// Valid commits per second before the upgrade.
    pub throughput_before: f64,
    /// Valid commits per second while the upgrade steps ran.
    pub throughput_during: f64,
    /// Valid commits per second after the promotion.
    pub throughput_after: f64,
    /// How far throughput fell during the upgrade, percent of before (negative: it rose).
    /// The figure; it includes any difference in speed between the versions.
    pub throughput_dip_pct: f64,
    /// How far "during" fell below the mean of "before" and "after", percent of that mean:
    /// the cost of the upgrade steps with the versions' own speeds averaged out.
    pub throughput_dip_vs_mean_pct: f64,
    /// Valid commits per second in the upgrade phase outside the steps (the pauses between
    /// them, with the canary serving).
    pub throughput_between_steps: f64,
    /// The largest `blocks_to_serve` of the steps (target: at most 1): blocks from a step's
    /// commit until every transaction proposed after the commit was known ran the version
    /// the rollout assigns. `None` if no step had such transactions to judge.
    pub blocks_to_serve: Option<u64>,
    /// Blocks from the upgrade's commit to the first block with a transaction that ran on the
    /// new version (the pipeline of in-flight transactions included); `None` if it served
    /// nothing before the next step.
    pub blocks_to_first_new_version_tx: Option<u64>,
    /// Transactions the canary assigned to the new version that still ran on the old one
    /// before the first new-version transaction (proposed before the switch, valid in the
    /// grace window).
    pub assigned_before_serving: u64,
    /// Valid commits in each second of the run, from the start of "before" (the upgrade phase
    /// begins at second `before_seconds`): shows drift over the run apart from the steps.
    pub per_second: Vec<u64>,
    /// Length of the "before" phase, seconds.
    pub before_seconds: f64,
    /// Length of the upgrade phase, seconds.
    pub during_seconds: f64,
    /// The `_lifecycle` transactions committed during the upgrade phase, by validation code.
    pub lifecycle_transactions: BTreeMap<String, u64>,
    /// The lifecycle steps, in order.
    pub steps: Vec<StepTiming>,
    /// Each peer's (height, state digest) once the load has drained.
    pub state_digests: BTreeMap<String, String>,
    /// Whether every peer ended with the same state digest.
    pub state_digests_equal: bool,
}

/// Several runs of the benchmark in one invocation, summarised. This machine kind is shared and
/// its speed wanders by ±10 % between seconds, as much as the dip being measured, so one run's
/// dip is as much the noise of its windows as the upgrade's cost; the median over runs is the
/// figure to quote. Each run deploys its own contract and runs the whole script.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpgradeBenchSummary {
    /// How many runs.
    pub runs: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Transactions submitted, all runs.
    pub submitted: u64,
    /// Transactions committed VALID, all runs.
    pub valid: u64,
    /// Transactions that failed in any way, all runs (target: 0).
    pub failed: u64,
    /// Failures by cause, all runs.
    pub failures: BTreeMap<String, u64>,
    /// Median over the runs of their "before" throughput.
    pub throughput_before: f64,
    /// Median over the runs of their "during" throughput.
    pub throughput_during: f64,
    /// Median over the runs of their "after" throughput.
    pub throughput_after: f64,
    /// Median over the runs of their dip (each run's `(before − during) / before`).
    pub throughput_dip_pct: f64,
    /// Median over the runs of their dip against the mean of "before" and "after".
    pub throughput_dip_vs_mean_pct: f64,
    /// The smallest and largest dip of a run.
    pub throughput_dip_pct_range: [f64; 2],
    /// The largest `blocks_to_serve` of any run (`None` only if no run had transactions to
    /// judge).
    pub blocks_to_serve: Option<u64>,
    /// Whether every run ended with every peer at the same state digest.
    pub state_digests_equal: bool,
    /// Each run's report, in order.
    pub per_run: Vec<UpgradeBenchReport>,
}

impl UpgradeBenchSummary {
    /// The summary of `runs` (at least one).
    pub fn of(runs: Vec<UpgradeBenchReport>) -> UpgradeBenchSummary {
        let median_of =
            |field: fn(&UpgradeBenchReport) -> f64| median(runs.iter().map(field).collect());
        let dips: Vec<f64> = runs.iter().map(|r| r.throughput_dip_pct).collect();
        let mut failures = BTreeMap::new();
        for run in &runs {
            for (cause, n) in &run.failures {
                *failures.entry(cause.clone()).or_insert(0) += n;
            }
        }
        UpgradeBenchSummary {
            runs: runs.len(),
            clients: runs.first().map_or(0, |r| r.clients),
            submitted: runs.iter().map(|r| r.submitted).sum(),
            valid: runs.iter().map(|r| r.valid).sum(),
            failed: runs.iter().map(|r| r.failed).sum(),
            failures,
            throughput_before: median_of(|r| r.throughput_before),
            throughput_during: median_of(|r| r.throughput_during),
            throughput_after: median_of(|r| r.throughput_after),
            throughput_dip_pct: median(dips.clone()),
            throughput_dip_vs_mean_pct: median_of(|r| r.throughput_dip_vs_mean_pct),
            throughput_dip_pct_range: [
                dips.iter().copied().fold(f64::INFINITY, f64::min),
                dips.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ],
            blocks_to_serve: runs.iter().map(|r| r.blocks_to_serve).max().flatten(),
            state_digests_equal: !runs.is_empty() && runs.iter().all(|r| r.state_digests_equal),
            per_run: runs,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count; 0 for none).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Valid commits completed in `[from, to)`, per second.
fn rate(done: &[Instant], from: Instant, to: Instant) -> f64 {
    let seconds = to.saturating_duration_since(from).as_secs_f64();
    if seconds <= 0.0 {
        return 0.0;
    }
    done.iter().filter(|t| **t >= from && **t < to).count() as f64 / seconds
}

/// `100 × (reference − value) / reference`, 0 without a reference.
fn dip_pct(reference: f64, value: f64) -> f64 {
    if reference > 0.0 {
        (reference - value) / reference * 100.0
    } else {
        0.0
    }
}

/// Nanoseconds since the Unix epoch of `t` (0 before it).
fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// A call of the load that failed: when it was proposed (at the latest) and when it failed,
/// Unix nanoseconds on the bench's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedCall {
    /// When the call started (its proposal's timestamp is no earlier).
    pub proposed: u128,
    /// When the client saw it fail.
    pub failed: u128,
}

/// One committed transaction of the benchmarked contract, as the blocks show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxSummary {
    /// The block it committed in.
    pub block: u64,
    /// Its proposal's channel-header timestamp, Unix nanoseconds.
    pub proposed: u128,
    /// Its rollout bucket, 0-99 (`cambium_lifecycle::rollout::bucket` of its ID).
    pub bucket: u32,
    /// The contract version its endorsers ran.
    pub version: String,
    /// Whether the peers committed it VALID.
    pub valid: bool,
}

impl TxSummary {
    fn of(tx: &EndorserTx) -> TxSummary {
        let ts = &tx.timestamp;
        TxSummary {
            block: tx.block,
            proposed: u128::try_from(ts.seconds).unwrap_or(0) * 1_000_000_000
                + u128::try_from(ts.nanos).unwrap_or(0),
            bucket: cambium_lifecycle::rollout::bucket(&tx.tx_id),
            version: tx
                .action
                .chaincode_id
                .as_ref()
                .map(|c| c.version.clone())
                .unwrap_or_default(),
            valid: tx.is_valid(),
        }
    }
}

/// Which version serves which transaction after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignment {
    /// One version serves everything.
    Only(String),
    /// Transactions whose bucket is below `weight` go to `new`, the rest to `previous`.
    Canary {
        /// The version of the new definition.
        new: String,
        /// The version it replaces.
        previous: String,
        /// The canary's share, percent.
        weight: u32,
    },
}

impl Assignment {
    /// The version assigned to a transaction in `bucket`.
    pub fn version(&self, bucket: u32) -> &str {
        match self {
            Assignment::Only(v) => v,
            Assignment::Canary {
                new,
                previous,
                weight,
            } => {
                if bucket < *weight {
                    new
                } else {
                    previous
                }
            }
        }
    }
}

impl Assignment {
    /// The assignment a rollout status makes, as the peers route (the bench uses no
    /// selectors), and the version the step that left it started serving: the previous one
    /// after an abort, else the status' own.
    pub fn of_status(status: &RolloutStatus) -> (Assignment, String) {
        let new = status.version.clone();
        let previous = status.previous_version.clone();
        match &status.plan {
            None => (Assignment::Only(new.clone()), new),
            Some(plan) => match plan.state {
                RolloutState::Aborted => (Assignment::Only(previous.clone()), previous),
                RolloutState::Complete => (Assignment::Only(new.clone()), new),
                RolloutState::Active | RolloutState::Paused => (
                    Assignment::Canary {
                        new: new.clone(),
                        previous,
                        weight: plan.weight_percent,
                    },
                    new,
                ),
            },
        }
    }
}

/// What [`blocks_to_serve`] found for one step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Blocks from the commit to the first block from which every judged transaction was
    /// served as assigned; `None` without any judged transaction.
    pub blocks: Option<u64>,
    /// Transactions judged (proposed after the commit was known).
    pub judged: u64,
    /// Judged transactions assigned `switched_to`.
    pub judged_on_switched: u64,
    /// Judged transactions that failed or ran another version than assigned, and failed calls
    /// proposed after the commit was known.
    pub misserved: u64,
}

/// The blocks a step is judged over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepWindow {
    /// The block the step's transaction committed in.
    pub commit_block: u64,
    /// When the bench learned that block committed, Unix nanoseconds.
    pub learned_at: u128,
    /// The first block of the next step (its assignment ends there), exclusive.
    pub until: u64,
}

/// Counts blocks to serve for the step of `window`, whose assignment is `assignment`.
///
/// `txs` are the contract's committed transactions, `failures` the calls that failed, and
/// `arrivals` the bench's arrival time of each block (to place a failure after the newest
/// block seen when it failed). `switched_to` is the version the step starts serving (counted
/// in [`Served::judged_on_switched`]). See the module docs.
pub fn blocks_to_serve(
    txs: &[TxSummary],
    failures: &[FailedCall],
    arrivals: &BTreeMap<u64, u128>,
    window: &StepWindow,
    assignment: &Assignment,
    switched_to: &str,
) -> Served {
    let StepWindow {
        commit_block,
        learned_at,
        until,
    } = *window;
    let mut served = Served::default();
    let mut last_bad: Option<u64> = None;
    for tx in txs
        .iter()
        .filter(|t| t.block > commit_block && t.block < until && t.proposed > learned_at)
    {
        served.judged += 1;
        let assigned = assignment.version(tx.bucket);
        if assigned == switched_to {
            served.judged_on_switched += 1;
        }
        if !tx.valid || tx.version != assigned {
            served.misserved += 1;
            last_bad = last_bad.max(Some(tx.block));
        }
    }
    for f in failures.iter().filter(|f| f.proposed > learned_at) {
        // The newest block the bench had seen when the call failed; it would have committed
        // in a later one.
        let seen = arrivals
            .iter()
            .filter(|(_, at)| **at <= f.failed)
            .map(|(b, _)| *b)
            .max()
            .unwrap_or(commit_block);
        let block = seen.max(commit_block) + 1;
        if block < until {
            served.misserved += 1;
            last_bad = last_bad.max(Some(block));
        }
    }
    if served.judged == 0 {
        return served;
    }
    served.blocks = Some(last_bad.map_or(1, |b| b + 1 - commit_block));
    served
}

/// The earlier figure: blocks from `commit_block` to the first with a transaction of `name`
/// that ran `version`, and how many that a canary of `weight` percent assigns to the new
/// version still ran on the old one before it. Only blocks before `until` count.
fn first_new_version_tx(
    txs: &[TxSummary],
    version: &str,
    weight: u32,
    commit_block: u64,
    until: u64,
) -> Option<(u64, u64)> {
    let mut assigned_on_old = 0;
    for tx in txs
        .iter()
        .filter(|t| t.block > commit_block && t.block < until && t.valid)
    {
        if tx.version == version {
            return Some((tx.block - commit_block, assigned_on_old));
        }
        if tx.bucket < weight {
            assigned_on_old += 1;
        }
    }
    None
}

/// Follows the channel's blocks on `org`'s first peer (the load's gateway peer) from the
/// newest on, noting when each arrived on the bench's clock.
async fn follow_blocks(
    profile: &ConnectionProfile,
    arrivals: Arc<Mutex<BTreeMap<u64, u128>>>,
) -> Result<tokio::task::JoinHandle<()>> {
    let signer = profile.signing_identity("Org1", "User1")?;
    let (_, node) = profile.peer_of("Org1", None)?;
    let channel_id = profile.channel()?.to_owned();
    let seek = SeekInfo::new(SeekPosition::Newest, SeekPosition::Specified(NEVER));
    let envelope = deliver_envelope(&signer, &channel_id, &seek)?;
    let mut deliver = DeliverClient::new(connect(node, None).await?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (requests, sender) = DeliverRequests::open();
    sender
        .send(envelope)
        .await
        .map_err(|_| NodeError::Rejected("the Deliver request could not be queued".into()))?;
    let mut stream = deliver
        .deliver_filtered(requests)
        .await
        .map_err(|s| NodeError::Rpc {
            endpoint: node.url.clone(),
            call: "DeliverFiltered",
            message: crate::connect::status_text(&s),
        })?
        .into_inner();
    Ok(tokio::spawn(async move {
        let _keep_open = sender;
        while let Ok(Some(message)) = stream.message().await {
            if let Some(deliver_response::Type::FilteredBlock(block)) = message.r#type {
                let now = unix_nanos(SystemTime::now());
                arrivals.lock().unwrap().insert(block.number, now);
            }
        }
    }))
}

/// Runs the benchmark against `profile`'s network; `progress` gets a line per stage.
pub async fn run(
    profile: &ConnectionProfile,
    options: &UpgradeBenchOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<UpgradeBenchReport> {
    if options.clients == 0 {
        return Err(NodeError::Rejected("--clients must be at least 1".into()));
    }
    if options.canary == 0 || options.canary >= 100 {
        return Err(NodeError::Rejected(format!(
            "--canary {}% must be between 1 and 99 so that both versions serve",
            options.canary
        )));
    }
    let name = options.name.clone();
    progress(&format!("deploying version 1 as '{name}'"));
    deploy::deploy(
        profile,
        &options.v1,
        &DeployOptions {
            name: name.clone(),
            ..DeployOptions::default()
        },
        &|_| {},
    )
    .await?;
    progress("installing version 2 on every peer");
    let admins: Vec<Admin> = profile
        .organizations
        .keys()
        .map(|org| Admin::new(profile.clone(), org, None))
        .collect::<Result<_>>()?;
    for admin in &admins {
        for peer in org_peers(profile, &admin.org)? {
            admin.install(&peer, &options.v2).await?;
            admin.install(&peer, &options.v2_again).await?;
        }
    }
    let load = LoadClient::open(profile, "Org1", "User1", None, &name, options.clients).await?;
    progress(&format!("seeding {} version 1 records", options.seed));
    load.seed(options.seed).await?;

    let arrivals = Arc::new(Mutex::new(BTreeMap::<u64, u128>::new()));
    let follower = follow_blocks(profile, Arc::clone(&arrivals)).await?;
    let done = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let failures = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let failed_calls = Arc::new(Mutex::new(Vec::<FailedCall>::new()));
    let submitted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..options.clients {
        let load = load.clone();
        let (done, failures, failed_calls, submitted, stop) = (
            Arc::clone(&done),
            Arc::clone(&failures),
            Arc::clone(&failed_calls),
            Arc::clone(&submitted),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                submitted.fetch_add(1, Ordering::Relaxed);
                let proposed = unix_nanos(SystemTime::now());
                match load.create(client, n).await {
                    WriteOutcome::Valid { .. } => done.lock().unwrap().push(Instant::now()),
                    WriteOutcome::Failed(cause) => {
                        *failures.lock().unwrap().entry(cause).or_default() += 1;
                        failed_calls.lock().unwrap().push(FailedCall {
                            proposed,
                            failed: unix_nanos(SystemTime::now()),
                        });
                    }
                }
            }
        }));
    }

    progress("phase 1: version 1 only");
    tokio::time::sleep(options.phase).await;
    let upgrade_started = Instant::now();
    progress("phase 2: upgrade with migration and canary, advance, abort, roll out again, promote");
    // Each step: its timing, its wall-clock span, and the assignment it leaves.
    let mut steps: Vec<(StepTiming, Instant, Instant, (Assignment, String))> = Vec::new();
    let admin = &admins[0];
    let peer = admin.peer_name(None)?;
    let plan = RolloutPlan {
        weight_percent: options.canary,
        state: RolloutState::Active,
        ..RolloutPlan::default()
    };
    let upgrade_options = |plan: &RolloutPlan| UpgradeOptions {
        name: name.clone(),
        plan: Some(plan.clone()),
        allow_breaking: true,
        ..UpgradeOptions::default()
    };
    let timing = |step: String, block: u64, t: Instant| StepTiming {
        step,
        block,
        ms: t.elapsed().as_millis() as u64,
        throughput: 0.0,
        blocks_to_serve: None,
        judged: 0,
        judged_on_switched: 0,
        misserved: 0,
    };
    let phase_start_block = arrivals
        .lock()
        .unwrap()
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    let t = Instant::now();
    let first = upgrade::upgrade(profile, &options.v2, &upgrade_options(&plan), &|_| {}).await?;
    let status = admin.query_rollout(&peer, &name).await?;
    let upgrade_block = first.commit.as_ref().map_or(0, |c| c.block);
    let new_version = first.definition.version.clone();
    steps.push((
        timing(
            format!("upgrade to {new_version} with a {}% canary", options.canary),
            upgrade_block,
            t,
        ),
        t,
        Instant::now(),
        Assignment::of_status(&status),
    ));
    let step_gap = options.phase / 4;
    let advanced = (options.canary * 3).min(99);
    for (label, step) in [
        (
            format!("advance to {advanced}%"),
            RolloutStep::Advance(advanced),
        ),
        ("abort".to_owned(), RolloutStep::Abort),
    ] {
        tokio::time::sleep(step_gap).await;
        let t = Instant::now();
        let outcome = upgrade::rollout(admin, &peer, &name, &step).await?;
        let block = outcome.commit.map_or(0, |c| c.block);
        steps.push((
            timing(label, block, t),
            t,
            Instant::now(),
            Assignment::of_status(&outcome.status),
        ));
    }
    tokio::time::sleep(step_gap).await;
    let t = Instant::now();
    let again =
        upgrade::upgrade(profile, &options.v2_again, &upgrade_options(&plan), &|_| {}).await?;
    let status = admin.query_rollout(&peer, &name).await?;
    steps.push((
        timing(
            format!(
                "roll out {} again with a {}% canary",
                again.definition.version, options.canary
            ),
            again.commit.as_ref().map_or(0, |c| c.block),
            t,
        ),
        t,
        Instant::now(),
        Assignment::of_status(&status),
    ));
    tokio::time::sleep(step_gap).await;
    let t = Instant::now();
    let promoted = upgrade::rollout(admin, &peer, &name, &RolloutStep::Promote).await?;
    steps.push((
        timing(
            "promote".to_owned(),
            promoted.commit.map_or(0, |c| c.block),
            t,
        ),
        t,
        Instant::now(),
        Assignment::of_status(&promoted.status),
    ));
    let remaining = options.phase.saturating_sub(upgrade_started.elapsed());
    tokio::time::sleep(remaining).await;
    let upgrade_done = Instant::now();
    progress("phase 3: version 2 only");
    tokio::time::sleep(options.phase).await;
    let end = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await
            .map_err(|e| NodeError::Rejected(format!("a bench client failed: {e}")))?;
    }
    follower.abort();

    progress("checking the blocks and every peer's state");
    let last_step_block = steps.last().map_or(upgrade_block, |s| s.0.block);
    let (txs, lifecycle_transactions) =
        contract_transactions(profile, &name, phase_start_block + 1, last_step_block).await?;
    let arrivals = arrivals.lock().unwrap().clone();
    let failed_calls = failed_calls.lock().unwrap().clone();
    let done = done.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    let blocks: Vec<u64> = steps.iter().map(|s| s.0.block).collect();
    let mut timings = Vec::with_capacity(steps.len());
    for (i, (mut timing, from, to, (assignment, switched))) in steps.into_iter().enumerate() {
        let until = blocks.get(i + 1).copied().unwrap_or(u64::MAX);
        let learned_at = arrivals.get(&timing.block).copied().ok_or_else(|| {
            NodeError::Rejected(format!(
                "the bench's block follower never saw block {} (the step '{}'); the gateway \
                 peer's Deliver stream ended early: check that the peer is healthy and run \
                 again",
                timing.block, timing.step
            ))
        })?;
        let served = blocks_to_serve(
            &txs,
            &failed_calls,
            &arrivals,
            &StepWindow {
                commit_block: timing.block,
                learned_at,
                until,
            },
            &assignment,
            &switched,
        );
        timing.throughput = rate(&done, from, to);
        timing.blocks_to_serve = served.blocks;
        timing.judged = served.judged;
        timing.judged_on_switched = served.judged_on_switched;
        timing.misserved = served.misserved;
        timings.push((timing, from, to));
    }
    let first_new = first_new_version_tx(
        &txs,
        &new_version,
        options.canary,
        upgrade_block,
        blocks.get(1).copied().unwrap_or(u64::MAX),
    );
    let state_digests = settled_digests(profile).await?;
    let state_digests_equal = {
        let mut values = state_digests.values();
        let first = values.next();
        first.is_some() && values.all(|v| Some(v) == first)
    };

    let before = rate(&done, started, upgrade_started);
    let during = rate(&done, upgrade_started, upgrade_done);
    let after = rate(&done, upgrade_done, end);
    let in_steps: usize = timings
        .iter()
        .map(|(_, from, to)| done.iter().filter(|t| **t >= *from && **t < *to).count())
        .sum();
    let steps_secs: f64 = timings
        .iter()
        .map(|(_, from, to)| to.saturating_duration_since(*from).as_secs_f64())
        .sum();
    let phase_secs = upgrade_done
        .saturating_duration_since(upgrade_started)
        .as_secs_f64();
    let in_phase = done
        .iter()
        .filter(|t| **t >= upgrade_started && **t < upgrade_done)
        .count();
    let between = if phase_secs - steps_secs > 0.0 {
        in_phase.saturating_sub(in_steps) as f64 / (phase_secs - steps_secs)
    } else {
        0.0
    };
    let steps: Vec<StepTiming> = timings.into_iter().map(|(t, _, _)| t).collect();
    let mut per_second = vec![0u64; end.saturating_duration_since(started).as_secs() as usize + 1];
    for t in &done {
        let second = t.saturating_duration_since(started).as_secs() as usize;
        if let Some(n) = per_second.get_mut(second) {
            *n += 1;
        }
    }
    Ok(UpgradeBenchReport {
        clients: options.clients,
        submitted: submitted.load(Ordering::Relaxed),
        valid: done.len() as u64,
        failed: failures.values().sum(),
        failures,
        throughput_before: before,
        throughput_during: during,
        throughput_after: after,
        throughput_dip_pct: dip_pct(before, during),
        throughput_dip_vs_mean_pct: dip_pct((before + after) / 2.0, during),
        throughput_between_steps: between,
        blocks_to_serve: steps.iter().filter_map(|s| s.blocks_to_serve).max(),
        blocks_to_first_new_version_tx: first_new.map(|(blocks, _)| blocks),
        assigned_before_serving: first_new.map_or(0, |(_, n)| n),
        per_second,
        before_seconds: upgrade_started
            .saturating_duration_since(started)
            .as_secs_f64(),
        during_seconds: phase_secs,
        lifecycle_transactions,
        steps,
        state_digests,
        state_digests_equal,
    })
}

/// The committed transactions of `name` from block `from` on (Org1's first peer's blocks),
/// and the `_lifecycle` transactions up to block `last` by validation code.
async fn contract_transactions(
    profile: &ConnectionProfile,
    name: &str,
    from: u64,
    last: u64,
) -> Result<(Vec<TxSummary>, BTreeMap<String, u64>)> {
    let signer = profile.signing_identity("Org1", "User1")?;
    let (_, node) = profile.peer_of("Org1", None)?;
    let channel_id = profile.channel()?.to_owned();
    let blocks = read_blocks(
        connect(node, None).await?,
        &node.url,
        &signer,
        &channel_id,
        from,
        |_| {},
    )
    .await?;
    let mut txs = Vec::new();
    let mut lifecycle = BTreeMap::new();
    for block in &blocks {
        for tx in endorser_transactions(block)? {
            if tx.chaincode == name {
                txs.push(TxSummary::of(&tx));
            } else if tx.chaincode == "_lifecycle" && tx.block <= last {
                *lifecycle.entry(tx.validation_name()).or_default() += 1;
            }
        }
    }
    Ok((txs, lifecycle))
}

/// The peers of the organisation keyed `org` in the profile.
fn org_peers(profile: &ConnectionProfile, org: &str) -> Result<Vec<String>> {
    Ok(profile.organization(org)?.1.peers.clone())
}

/// Every peer's state digest once all peers report the same height (they commit the same
/// blocks; a peer still catching up is waited for, up to a limit).
async fn settled_digests(profile: &ConnectionProfile) -> Result<BTreeMap<String, String>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut digests = BTreeMap::new();
        let mut heights = Vec::new();
        for org in profile.organizations.keys() {
            for peer in org_peers(profile, org)? {
                let (height, digest) = crate::chaininfo::state_digest(profile, org, &peer).await?;
                heights.push(height);
                digests.insert(peer, format!("{height} {digest}"));
            }
        }
        let settled = heights.windows(2).all(|w| w[0] == w[1]);
        if settled || Instant::now() > deadline {
            return Ok(digests);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u128 = 1_000_000_000;

    /// A transaction proposed at `proposed` s, committed in `block`, in `bucket`, run by
    /// `version`.
    fn tx(block: u64, proposed: u128, bucket: u32, version: &str) -> TxSummary {
        TxSummary {
            block,
            proposed: proposed * SECOND,
            bucket,
            version: version.into(),
            valid: true,
        }
    }

    fn canary(weight: u32) -> Assignment {
        Assignment::Canary {
            new: "v2".into(),
            previous: "v1".into(),
            weight,
        }
    }

    /// Block 10 commits the step and reaches the bench at 100 s; blocks arrive 1 s apart.
    fn arrivals() -> BTreeMap<u64, u128> {
        (0..40u64)
            .map(|b| (b, (90 + u128::from(b)) * SECOND))
            .collect()
    }

    const WINDOW: StepWindow = StepWindow {
        commit_block: 10,
        learned_at: 100 * SECOND,
        until: 30,
    };

    fn check(txs: &[TxSummary], failures: &[FailedCall], expected: Option<u64>) -> Served {
        let served = blocks_to_serve(txs, failures, &arrivals(), &WINDOW, &canary(10), "v2");
        assert_eq!(served.blocks, expected, "{served:?}");
        served
    }

    #[test]
    fn in_flight_transactions_on_the_old_version_do_not_count() {
        // Proposed before the commit was known: canary-assigned but endorsed on v1 (valid in
        // the grace window), in the blocks right after the commit.
        let mut txs = vec![
            tx(11, 99, 3, "v1"),
            tx(12, 99, 5, "v1"),
            tx(13, 99, 50, "v1"),
        ];
        // Proposed after it: served as assigned from the first block they reach.
        txs.extend([
            tx(14, 101, 3, "v2"),
            tx(14, 101, 50, "v1"),
            tx(15, 102, 7, "v2"),
        ]);
        let served = check(&txs, &[], Some(1));
        assert_eq!(
            (served.judged, served.judged_on_switched, served.misserved),
            (3, 2, 0)
        );
        // The earlier figure counts the pipeline instead.
        assert_eq!(
            first_new_version_tx(&txs, "v2", 10, 10, 30),
            Some((4, 2)),
            "first v2 transaction in block 14, two assigned ones ran v1 before it"
        );
    }

    #[test]
    fn a_peer_that_keeps_serving_the_old_version_counts_until_it_stops() {
        // Proposed after the commit was known, assigned v2, still run on v1 until block 16.
        let txs = vec![
            tx(13, 101, 3, "v1"),
            tx(14, 101, 50, "v1"),
            tx(16, 103, 4, "v1"),
            tx(17, 104, 4, "v2"),
            tx(18, 105, 60, "v1"),
        ];
        let served = check(&txs, &[], Some(7));
        assert_eq!(served.misserved, 2);
        // Running the new version for a transaction the canary leaves on the old one is
        // wrong too.
        check(&[tx(12, 101, 60, "v2"), tx(13, 101, 1, "v2")], &[], Some(3));
    }

    #[test]
    fn invalid_transactions_and_failed_calls_count_as_not_served() {
        let mut invalid = tx(12, 101, 3, "v2");
        invalid.valid = false;
        check(&[invalid, tx(13, 102, 3, "v2")], &[], Some(3));
        // A call proposed after the commit was known that failed at 105.5 s, when block 15 was
        // the newest seen: it could have committed in block 16 at the earliest.
        let failed = FailedCall {
            proposed: 101 * SECOND,
            failed: 105 * SECOND + SECOND / 2,
        };
        let served = check(&[tx(12, 101, 3, "v2")], &[failed], Some(7));
        assert_eq!(served.misserved, 1);
        // One that started before the commit was known is in flight, like the transactions.
        let early = FailedCall {
            proposed: 99 * SECOND,
            ..failed
        };
        check(&[tx(12, 101, 3, "v2")], &[early], Some(1));
    }

    #[test]
    fn only_the_steps_window_counts_and_nothing_to_judge_is_none() {
        // After the next step (block 30) another assignment holds.
        check(&[tx(12, 101, 3, "v2"), tx(30, 120, 3, "v1")], &[], Some(1));
        // Nothing proposed after the commit was known: no figure.
        let served = check(&[tx(11, 99, 3, "v1")], &[], None);
        assert_eq!(served.judged, 0);
        // An abort: everything goes back to v1 from the next block.
        let abort = Assignment::Only("v1".into());
        let served = blocks_to_serve(
            &[tx(12, 101, 3, "v1"), tx(13, 101, 80, "v1")],
            &[],
            &arrivals(),
            &WINDOW,
            &abort,
            "v1",
        );
        assert_eq!((served.blocks, served.judged_on_switched), (Some(1), 2));
        let late = blocks_to_serve(
            &[tx(12, 101, 3, "v2"), tx(13, 101, 80, "v1")],
            &[],
            &arrivals(),
            &WINDOW,
            &abort,
            "v1",
        );
        assert_eq!(late.blocks, Some(3));
    }

    #[test]
    fn rollout_statuses_become_assignments() {
        let status = |plan: Option<RolloutPlan>| RolloutStatus {
            name: "c".into(),
            sequence: 3,
            version: "v2".into(),
            previous_sequence: 1,
            previous_version: "v1".into(),
            plan,
        };
        let plan = |weight_percent, state| {
            Some(RolloutPlan {
                weight_percent,
                state,
                ..RolloutPlan::default()
            })
        };
        assert_eq!(
            Assignment::of_status(&status(plan(10, RolloutState::Active))),
            (canary(10), "v2".to_owned())
        );
        assert_eq!(
            Assignment::of_status(&status(plan(30, RolloutState::Aborted))),
            (Assignment::Only("v1".into()), "v1".to_owned())
        );
        assert_eq!(
            Assignment::of_status(&status(plan(10, RolloutState::Complete))),
            (Assignment::Only("v2".into()), "v2".to_owned())
        );
        assert_eq!(
            Assignment::of_status(&status(None)),
            (Assignment::Only("v2".into()), "v2".to_owned())
        );
    }

    #[test]
    fn assignments_follow_the_bucket_rule() {
        assert_eq!(canary(10).version(9), "v2");
        assert_eq!(canary(10).version(10), "v1");
        assert_eq!(Assignment::Only("v3".into()).version(0), "v3");
        assert_eq!(dip_pct(1000.0, 950.0), 5.0);
        assert_eq!(dip_pct(0.0, 5.0), 0.0);
        let t = Instant::now();
        let done = [
            t,
            t + Duration::from_millis(500),
            t + Duration::from_secs(2),
        ];
        assert_eq!(rate(&done, t, t + Duration::from_secs(1)), 2.0);
    }

    fn report(dip: f64, failed: u64, blocks: Option<u64>, equal: bool) -> UpgradeBenchReport {
        UpgradeBenchReport {
            clients: 64,
            submitted: 1000,
            valid: 1000 - failed,
            failed,
            failures: if failed > 0 {
                BTreeMap::from([("MVCC_READ_CONFLICT".to_owned(), failed)])
            } else {
                BTreeMap::new()
            },
            throughput_before: 1000.0,
            throughput_during: 1000.0 - dip * 10.0,
            throughput_after: 1000.0,
            throughput_dip_pct: dip,
            throughput_dip_vs_mean_pct: dip,
            throughput_between_steps: 1000.0,
            blocks_to_serve: blocks,
            blocks_to_first_new_version_tx: None,
            assigned_before_serving: 0,
            per_second: Vec::new(),
            before_seconds: 5.0,
            during_seconds: 6.0,
            lifecycle_transactions: BTreeMap::new(),
            steps: Vec::new(),
            state_digests: BTreeMap::new(),
            state_digests_equal: equal,
        }
    }

    #[test]
    fn a_summary_takes_medians_of_the_figures_and_keeps_every_failure_and_the_worst_run() {
        let summary = UpgradeBenchSummary::of(vec![
            report(12.0, 0, Some(1), true),
            report(2.0, 3, None, true),
            report(4.0, 1, Some(2), true),
        ]);
        assert_eq!(summary.runs, 3);
        assert_eq!(summary.throughput_dip_pct, 4.0, "the median, not the mean");
        assert_eq!(summary.throughput_dip_pct_range, [2.0, 12.0]);
        assert_eq!(summary.throughput_during, 960.0);
        assert_eq!(
            (summary.failed, summary.submitted, summary.valid),
            (4, 3000, 2996)
        );
        assert_eq!(summary.failures["MVCC_READ_CONFLICT"], 4);
        assert_eq!(summary.blocks_to_serve, Some(2), "the worst run's");
        assert!(summary.state_digests_equal);
        assert_eq!(summary.per_run.len(), 3);

        // An even count takes the mean of the middle two; one run with different digests
        // makes the whole summary say so.
        let summary = UpgradeBenchSummary::of(vec![
            report(1.0, 0, None, true),
            report(3.0, 0, None, false),
        ]);
        assert_eq!(summary.throughput_dip_pct, 2.0);
        assert_eq!(summary.blocks_to_serve, None);
        assert!(!summary.state_digests_equal);
    }
}
