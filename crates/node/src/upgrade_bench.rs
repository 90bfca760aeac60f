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
//! Reported: every failed transaction (an error seen by a client or a commit that is not
//! VALID), throughput in each phase and the dip during the upgrade, how many blocks after the
//! upgrade's commit the new version first served a transaction (read from the blocks), and
//! whether every peer ends with the same state digest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::admin::Admin;
use crate::blocks::{endorser_transactions, read_blocks, EndorserTx};
use crate::client;
use crate::connect::connect;
use crate::deploy::{self, DeployOptions};
use crate::error::{NodeError, Result};
use crate::load::{LoadClient, WriteOutcome};
use crate::profile::ConnectionProfile;
use crate::upgrade::{self, RolloutPlan, RolloutState, RolloutStep, UpgradeOptions};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepTiming {
    /// What was done.
    pub step: String,
    /// The block its transaction committed in.
    pub block: u64,
    /// Wall time of the step, ms.
    pub ms: u64,
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
    pub throughput_dip_pct: f64,
    /// Blocks from the upgrade's commit to the first block with a transaction that ran on the
    /// new version (target: at most 1); `None` if it served nothing before the next step. With
    /// a small canary and small blocks the first such transaction can come later simply
    /// because few are assigned to it: see `assigned_before_serving`.
    pub blocks_to_serve: Option<u64>,
    /// Transactions the canary assigned to the new version that still ran on the old one
    /// before it first served (endorsed before the switch; a new version that was not ready
    /// would show many).
    pub assigned_before_serving: u64,
    /// The lifecycle steps, in order.
    pub steps: Vec<StepTiming>,
    /// Each peer's (height, state digest) once the load has drained.
    pub state_digests: BTreeMap<String, String>,
    /// Whether every peer ended with the same state digest.
    pub state_digests_equal: bool,
}

/// Valid commits completed in `[from, to)`, per second.
fn rate(done: &[Instant], from: Instant, to: Instant) -> f64 {
    let seconds = to.saturating_duration_since(from).as_secs_f64();
    if seconds <= 0.0 {
        return 0.0;
    }
    done.iter().filter(|t| **t >= from && **t < to).count() as f64 / seconds
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

    let done = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let failures = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let submitted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..options.clients {
        let load = load.clone();
        let (done, failures, submitted, stop) = (
            Arc::clone(&done),
            Arc::clone(&failures),
            Arc::clone(&submitted),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                submitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match load.create(client, n).await {
                    WriteOutcome::Valid { .. } => done.lock().unwrap().push(Instant::now()),
                    WriteOutcome::Failed(cause) => {
                        *failures.lock().unwrap().entry(cause).or_default() += 1
                    }
                }
            }
        }));
    }

    progress("phase 1: version 1 only");
    tokio::time::sleep(options.phase).await;
    let upgrade_started = Instant::now();
    progress("phase 2: upgrade with migration and canary, advance, abort, roll out again, promote");
    let mut steps = Vec::new();
    let admin = &admins[0];
    let peer = admin.peer_name(None)?;
    let plan = RolloutPlan {
        weight_percent: options.canary,
        state: RolloutState::Active,
        ..RolloutPlan::default()
    };
    let t = Instant::now();
    let first = upgrade::upgrade(
        profile,
        &options.v2,
        &UpgradeOptions {
            name: name.clone(),
            plan: Some(plan.clone()),
            allow_breaking: true,
            ..UpgradeOptions::default()
        },
        &|_| {},
    )
    .await?;
    let upgrade_block = first.commit.as_ref().map_or(0, |c| c.block);
    let new_version = first.definition.version.clone();
    steps.push(StepTiming {
        step: format!("upgrade to {new_version} with a {}% canary", options.canary),
        block: upgrade_block,
        ms: t.elapsed().as_millis() as u64,
    });
    let step_gap = options.phase / 4;
    for (label, step) in [
        (
            format!("advance to {}%", (options.canary * 3).min(99)),
            RolloutStep::Advance((options.canary * 3).min(99)),
        ),
        ("abort".to_owned(), RolloutStep::Abort),
    ] {
        tokio::time::sleep(step_gap).await;
        let t = Instant::now();
        let outcome = upgrade::rollout(admin, &peer, &name, &step).await?;
        steps.push(StepTiming {
            step: label,
            block: outcome.commit.map_or(0, |c| c.block),
            ms: t.elapsed().as_millis() as u64,
        });
    }
    tokio::time::sleep(step_gap).await;
    let t = Instant::now();
    let again = upgrade::upgrade(
        profile,
        &options.v2_again,
        &UpgradeOptions {
            name: name.clone(),
            plan: Some(plan),
            allow_breaking: true,
            ..UpgradeOptions::default()
        },
        &|_| {},
    )
    .await?;
    steps.push(StepTiming {
        step: format!(
            "roll out {} again with a {}% canary",
            again.definition.version, options.canary
        ),
        block: again.commit.as_ref().map_or(0, |c| c.block),
        ms: t.elapsed().as_millis() as u64,
    });
    tokio::time::sleep(step_gap).await;
    let t = Instant::now();
    let promoted = upgrade::rollout(admin, &peer, &name, &RolloutStep::Promote).await?;
    steps.push(StepTiming {
        step: "promote".to_owned(),
        block: promoted.commit.map_or(0, |c| c.block),
        ms: t.elapsed().as_millis() as u64,
    });
    let remaining = options.phase.saturating_sub(upgrade_started.elapsed());
    tokio::time::sleep(remaining).await;
    let upgrade_done = Instant::now();
    progress("phase 3: version 2 only");
    tokio::time::sleep(options.phase).await;
    let end = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await
            .map_err(|e| NodeError::Rejected(format!("a bench client failed: {e}")))?;
    }

    progress("checking the blocks and every peer's state");
    let next_step = steps.get(1).map_or(u64::MAX, |s| s.block);
    let served = serving(
        profile,
        &name,
        &new_version,
        options.canary,
        upgrade_block,
        next_step,
    )
    .await?;
    let state_digests = settled_digests(profile).await?;
    let state_digests_equal = {
        let mut values = state_digests.values();
        let first = values.next();
        first.is_some() && values.all(|v| Some(v) == first)
    };

    let done = done.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    let before = rate(&done, started, upgrade_started);
    let during = rate(&done, upgrade_started, upgrade_done);
    let after = rate(&done, upgrade_done, end);
    Ok(UpgradeBenchReport {
        clients: options.clients,
        submitted: submitted.load(std::sync::atomic::Ordering::Relaxed),
        valid: done.len() as u64,
        failed: failures.values().sum(),
        failures,
        throughput_before: before,
        throughput_during: during,
        throughput_after: after,
        throughput_dip_pct: if before > 0.0 {
            (before - during) / before * 100.0
        } else {
            0.0
        },
        blocks_to_serve: served.map(|(blocks, _)| blocks),
        assigned_before_serving: served.map_or(0, |(_, n)| n),
        steps,
        state_digests,
        state_digests_equal,
    })
}

/// How soon after `commit_block` the new `version` of `name` served: the number of blocks to
/// the first one with a transaction that ran on it, and how many transactions that a canary
/// of `weight` percent assigns to the new version (by transaction ID, the peers' rule) still
/// ran on the old one before that. Those were endorsed before the switch and are valid within
/// the grace window; a new version that was not ready at commit would show many of them and
/// many blocks. Only blocks before `until` (the next rollout step) count. `None` if the new
/// version served nothing in that span.
async fn serving(
    profile: &ConnectionProfile,
    name: &str,
    version: &str,
    weight: u32,
    commit_block: u64,
    until: u64,
) -> Result<Option<(u64, u64)>> {
    let signer = profile.signing_identity("Org1", "User1")?;
    let (_, node) = profile.peer_of("Org1", None)?;
    let channel_id = profile.channel()?.to_owned();
    let blocks = read_blocks(
        connect(node, None).await?,
        &node.url,
        &signer,
        &channel_id,
        commit_block + 1,
        |_| {},
    )
    .await?;
    let mut assigned_on_old = 0;
    for block in blocks
        .iter()
        .filter(|b| b.header.as_ref().is_some_and(|h| h.number < until))
    {
        let txs = endorser_transactions(block)?;
        let ours = || txs.iter().filter(|t| t.is_valid() && t.chaincode == name);
        let ran_new = |t: &EndorserTx| {
            t.action.chaincode_id.as_ref().map(|c| c.version.as_str()) == Some(version)
        };
        if let Some(first) = ours().find(|t| ran_new(t)) {
            return Ok(Some((first.block - commit_block, assigned_on_old)));
        }
        assigned_on_old += ours()
            .filter(|t| cambium_lifecycle::rollout::bucket(&t.tx_id) < weight)
            .count() as u64;
    }
    Ok(None)
}

/// The peers of the organisation keyed `org` in the profile.
fn org_peers(profile: &ConnectionProfile, org: &str) -> Result<Vec<String>> {
    Ok(profile.organization(org)?.1.peers.clone())
}

/// `peer`'s height and state digest (`qscc GetStateDigest`), asked as `org`'s User1.
async fn state_digest(profile: &ConnectionProfile, org: &str, peer: &str) -> Result<(u64, String)> {
    let signer = profile.signing_identity(org, "User1")?;
    let channel_id = profile.channel()?;
    let proposal = client::signed_proposal(
        &signer,
        channel_id,
        "qscc",
        vec![b"GetStateDigest".to_vec(), channel_id.as_bytes().to_vec()],
    )?;
    let (_, node) = profile.peer(peer)?;
    let response =
        client::process_proposal(connect(node, None).await?, &node.url, &proposal).await?;
    let payload = client::response_payload(&response, peer, "GetStateDigest")?;
    let text = String::from_utf8_lossy(&payload).into_owned();
    let parsed = text
        .split_once(' ')
        .and_then(|(h, d)| Some((h.parse::<u64>().ok()?, d.to_owned())));
    parsed.ok_or_else(|| {
        NodeError::Rejected(format!(
            "{peer} answered GetStateDigest with '{text}', not '<height> <digest>'"
        ))
    })
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
                let (height, digest) = state_digest(profile, org, &peer).await?;
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
