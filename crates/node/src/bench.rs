//! `cambium bench gateway`: a load generator that talks to a peer's Gateway service exactly as
//! a Fabric client application does. Each of N concurrent clients loops until the time is up:
//! a write is Endorse → sign → Submit → CommitStatus (latency measured to the commit), a read
//! is one Evaluate. The report has throughput, latency percentiles and failures by cause.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::EvaluateRequest;
use rand::Rng;
use serde::Serialize;
use tonic::transport::Channel;

use crate::client;
use crate::connect::MAX_MESSAGE_BYTES;
use crate::error::{NodeError, Result};
use crate::invoke::AppUser;
use crate::profile::ConnectionProfile;

/// Which keys writes and reads touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Every write creates a new key (`CreateAsset`), as Fabric's reference measurement does;
    /// reads pick one of the keys this client wrote.
    New,
    /// Writes update (`UpdateAsset`) and reads read a key drawn uniformly from this many
    /// keys, created before the run; concurrent updates of one key conflict (MVCC).
    Uniform(u64),
}

impl std::str::FromStr for KeyDistribution {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "new" {
            return Ok(KeyDistribution::New);
        }
        let n = s
            .strip_prefix("uniform:")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!("'{s}' is not a key distribution; use `new` or `uniform:N` (N > 0 keys)")
            })?;
        Ok(KeyDistribution::Uniform(n))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Concurrent clients.
    pub clients: usize,
    /// Connections to the gateway the clients share, round robin (each a TLS connection with
    /// HTTP/2 streams multiplexed on it, as one application process shares one gRPC
    /// channel); `None`: one per client, as separate client processes would.
    pub connections: Option<usize>,
    /// How long to send new transactions (in-flight ones are awaited).
    pub duration: Duration,
    /// Percentage of operations that are reads (Evaluate), 0–100.
    pub read_percent: u8,
    /// Key distribution.
    pub keys: KeyDistribution,
    /// The contract (deployed asset-transfer) name.
    pub contract: String,
    /// The organisation whose user signs and whose gateway peer is used.
    pub org: String,
    /// The user, e.g. `User1`.
    pub user: String,
    /// The gateway peer; default the organisation's first.
    pub peer: Option<String>,
    /// The channel; default the profile's.
    pub channel: Option<String>,
    /// Counts writes committed VALID and reads answered as they happen, for a progress
    /// display (the report has the final figures).
    pub done: Arc<AtomicU64>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            clients: 16,
            connections: None,
            duration: Duration::from_secs(10),
            read_percent: 0,
            keys: KeyDistribution::New,
            contract: "basic".to_owned(),
            org: "Org1".to_owned(),
            user: "User1".to_owned(),
            peer: None,
            channel: None,
            done: Arc::default(),
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BenchReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Connections they shared.
    pub connections: usize,
    /// Seconds from the first request to the last commit.
    pub elapsed_s: f64,
    /// Committed VALID writes per second.
    pub throughput: f64,
    /// Median write latency (Endorse to commit status), ms.
    pub p50_ms: f64,
    /// 90th percentile write latency, ms.
    pub p90_ms: f64,
    /// 99th percentile write latency, ms.
    pub p99_ms: f64,
    /// Writes submitted (endorsed and accepted by the orderer, or failed on the way).
    pub submitted: u64,
    /// Writes committed VALID.
    pub valid: u64,
    /// Writes that failed, at any step.
    pub failed: u64,
    /// Failures by cause: a validation code (`MVCC_READ_CONFLICT`) or the step that failed.
    pub failures: BTreeMap<String, u64>,
    /// Reads (Evaluate) completed.
    pub reads: u64,
    /// Median read latency, ms.
    pub read_p50_ms: f64,
    /// Reads per second.
    pub read_throughput: f64,
    /// Median time of the Endorse call of a valid write, ms.
    pub endorse_p50_ms: f64,
    /// Median time of the Submit call (the orderer's acknowledgement) of a valid write, ms.
    pub submit_p50_ms: f64,
    /// Median time of the CommitStatus call (the wait for the commit) of a valid write, ms.
    pub commit_p50_ms: f64,
}

/// The clients' identity and gateway, and the contract they call.
#[derive(Clone)]
struct Target {
    user: Arc<AppUser>,
    contract: String,
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    write_ms: Vec<f64>,
    /// Endorse, Submit and CommitStatus times of each valid write, ms.
    phase_ms: [Vec<f64>; 3],
    read_ms: Vec<f64>,
    submitted: u64,
    failures: BTreeMap<String, u64>,
}

/// Runs the load against the gateway of `options.org`'s peer in `profile`.
pub async fn run(profile: &ConnectionProfile, options: &BenchOptions) -> Result<BenchReport> {
    if options.clients == 0 {
        return Err(NodeError::Rejected(
            "--clients must be at least 1".to_owned(),
        ));
    }
    if options.read_percent > 100 {
        return Err(NodeError::Rejected(
            "--read-percent must be 0 to 100".to_owned(),
        ));
    }
    let user = Arc::new(AppUser::load(
        profile,
        &options.org,
        &options.user,
        options.peer.as_deref(),
        options.channel.as_deref(),
    )?);
    let target = Target {
        user: Arc::clone(&user),
        contract: options.contract.clone(),
    };
    let connections = options.connections.unwrap_or(options.clients);
    if connections == 0 || connections > options.clients {
        return Err(NodeError::Rejected(format!(
            "--connections must be 1 to the number of clients ({}), got {connections}",
            options.clients
        )));
    }
    let mut shared = Vec::with_capacity(connections);
    for _ in 0..connections {
        shared.push(user.connect().await?);
    }
    let channels: Vec<Channel> = (0..options.clients)
        .map(|i| shared[i % connections].clone())
        .collect();
    let run_id: u32 = rand::thread_rng().gen();
    if let KeyDistribution::Uniform(n) = options.keys {
        create_key_space(&target, &channels, run_id, n).await?;
    }
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut tasks = Vec::with_capacity(options.clients);
    for (i, channel) in channels.into_iter().enumerate() {
        let target = target.clone();
        let keys = options.keys;
        let read_percent = options.read_percent;
        let done = Arc::clone(&options.done);
        tasks.push(tokio::spawn(async move {
            client_loop(
                &target,
                channel,
                run_id,
                i,
                keys,
                read_percent,
                deadline,
                &done,
            )
            .await
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task
            .await
            .map_err(|e| NodeError::Rejected(format!("a bench client failed: {e}")))?;
        all.write_ms.extend(t.write_ms);
        all.read_ms.extend(t.read_ms);
        for (all, phase) in all.phase_ms.iter_mut().zip(t.phase_ms) {
            all.extend(phase);
        }
        all.submitted += t.submitted;
        for (k, v) in t.failures {
            *all.failures.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.write_ms.sort_by(f64::total_cmp);
    all.read_ms.sort_by(f64::total_cmp);
    for phase in &mut all.phase_ms {
        phase.sort_by(f64::total_cmp);
    }
    let valid = all.write_ms.len() as u64;
    Ok(BenchReport {
        clients: options.clients,
        connections,
        elapsed_s: elapsed,
        throughput: valid as f64 / elapsed,
        p50_ms: percentile(&all.write_ms, 50.0),
        p90_ms: percentile(&all.write_ms, 90.0),
        p99_ms: percentile(&all.write_ms, 99.0),
        submitted: all.submitted,
        valid,
        failed: all.failures.values().sum(),
        failures: all.failures,
        reads: all.read_ms.len() as u64,
        read_p50_ms: percentile(&all.read_ms, 50.0),
        read_throughput: all.read_ms.len() as f64 / elapsed,
        endorse_p50_ms: percentile(&all.phase_ms[0], 50.0),
        submit_p50_ms: percentile(&all.phase_ms[1], 50.0),
        commit_p50_ms: percentile(&all.phase_ms[2], 50.0),
    })
}

/// The value at percentile `p` of sorted samples (nearest rank), 0 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn create_key_space(
    target: &Target,
    channels: &[Channel],
    run_id: u32,
    n: u64,
) -> Result<()> {
    let mut next = 0u64;
    while next < n {
        let mut batch = Vec::new();
        for channel in channels {
            if next >= n {
                break;
            }
            let target = target.clone();
            let channel = channel.clone();
            let key = uniform_key(run_id, next);
            next += 1;
            batch.push(tokio::spawn(async move {
                write(&target, channel, asset_args("CreateAsset", &key))
                    .await
                    .map(|_| ())
            }));
        }
        for task in batch {
            task.await
                .map_err(|e| NodeError::Rejected(format!("creating keys: {e}")))?
                .map_err(|cause| {
                    NodeError::Rejected(format!(
                        "creating the key space failed ({cause}); is asset-transfer deployed as '{}'?",
                        target.contract
                    ))
                })?;
        }
    }
    Ok(())
}

fn uniform_key(run_id: u32, k: u64) -> String {
    format!("bench-{run_id:08x}-k{k}")
}

fn asset_args(function: &str, id: &str) -> Vec<Vec<u8>> {
    [function, id, "blue", "5", "bench", "100"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

#[allow(clippy::too_many_arguments)] // one client's whole configuration, from `run`
async fn client_loop(
    target: &Target,
    channel: Channel,
    run_id: u32,
    index: usize,
    keys: KeyDistribution,
    read_percent: u8,
    deadline: Instant,
    done: &AtomicU64,
) -> Tally {
    let mut tally = Tally::default();
    let mut written: Vec<String> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let (roll, pick) = {
            let mut rng = rand::thread_rng();
            (rng.gen_range(0..100u8), rng.gen::<u64>())
        };
        let read_key = match keys {
            KeyDistribution::New if !written.is_empty() => {
                Some(written[(pick % written.len() as u64) as usize].clone())
            }
            KeyDistribution::New => None,
            KeyDistribution::Uniform(space) => Some(uniform_key(run_id, pick % space)),
        };
        if roll < read_percent {
            if let Some(key) = read_key {
                let started = Instant::now();
                match evaluate(target, channel.clone(), &key).await {
                    Ok(()) => {
                        tally.read_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(cause) => *tally.failures.entry(format!("read: {cause}")).or_default() += 1,
                }
                continue;
            }
        }
        let args = match keys {
            KeyDistribution::New => {
                let key = format!("bench-{run_id:08x}-c{index}-{n}");
                n += 1;
                let args = asset_args("CreateAsset", &key);
                written.push(key);
                args
            }
            KeyDistribution::Uniform(space) => {
                asset_args("UpdateAsset", &uniform_key(run_id, pick % space))
            }
        };
        let started = Instant::now();
        tally.submitted += 1;
        match write(target, channel.clone(), args).await {
            Ok(phases) => {
                done.fetch_add(1, Ordering::Relaxed);
                tally
                    .write_ms
                    .push(started.elapsed().as_secs_f64() * 1000.0);
                for (all, ms) in tally.phase_ms.iter_mut().zip(phases) {
                    all.push(ms);
                }
            }
            Err(cause) => *tally.failures.entry(cause).or_default() += 1,
        }
    }
    tally
}

fn gateway(channel: Channel) -> GatewayClient<Channel> {
    GatewayClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// One write through the gateway: the Endorse, Submit and CommitStatus times in ms (each
/// including the client's signing for that step), or the failure's category.
async fn write(
    target: &Target,
    channel: Channel,
    args: Vec<Vec<u8>>,
) -> std::result::Result<[f64; 3], String> {
    crate::load::gateway_write(&target.user, &target.contract, channel, args)
        .await
        .map(|w| w.phases_ms)
}

async fn evaluate(target: &Target, channel: Channel, key: &str) -> std::result::Result<(), String> {
    let proposal = client::signed_proposal(
        &target.user.signer,
        &target.user.channel_id,
        &target.contract,
        vec![b"ReadAsset".to_vec(), key.as_bytes().to_vec()],
    )
    .map_err(|e| format!("sign: {e}"))?;
    gateway(channel)
        .evaluate(EvaluateRequest {
            transaction_id: proposal.tx_id.clone(),
            channel_id: target.user.channel_id.clone(),
            proposed_transaction: Some(proposal.message),
            target_organizations: Vec::new(),
        })
        .await
        .map_err(|s| format!("{:?}", s.code()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 50.0);
        assert_eq!(percentile(&samples, 90.0), 90.0);
        assert_eq!(percentile(&samples, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn key_distributions_parse_or_explain() {
        assert_eq!("new".parse::<KeyDistribution>(), Ok(KeyDistribution::New));
        assert_eq!(
            "uniform:1000".parse::<KeyDistribution>(),
            Ok(KeyDistribution::Uniform(1000))
        );
        let err = "zipf".parse::<KeyDistribution>().unwrap_err();
        assert!(err.contains("use `new` or `uniform:N`"), "{err}");
        assert!("uniform:0".parse::<KeyDistribution>().is_err());
    }
}
