//! The ordering load generator behind `cambium bench ordering`: one or more in-process
//! orderers on loopback, fresh crypto material, and concurrent broadcasters that each keep a
//! window of signed envelopes in flight on one Broadcast stream, either as fast as the window
//! allows (saturation) or at a fixed offered rate ([`LoadOptions::rate`]). Two latencies are
//! measured per envelope, both from sending it (or, when paced, from when it was due): to its
//! `SUCCESS` reply, which comes once the Raft entry of the block holding it is committed and
//! applied, and to the arrival of that block on a Deliver stream from the leader (the issue's
//! Broadcast→block latency, which does not depend on when Broadcast answers).
//!
//! With [`LoadOptions::tls`] (the default) every gRPC connection is TLS with the generated
//! certificates: broadcasters use server-only TLS as Caliper does, orderers talk mutual TLS.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions};
use cambium_msp::policy::{parse, Policy, PolicyGroup};
use cambium_msp::{load_signing_identity, MspConfig, MspManager};
use cambium_primitives::{HeaderType, SeekInfo, SeekPosition};
use cambium_wire::common::{self, Status};
use cambium_wire::orderer::deliver_response;
use cambium_wire::Message;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};

use cambium_tls::{client_tls_config, ClientTlsConfig, TlsIdentity, TlsRoots};

use crate::client::{connect_tls, signed_envelope};
use crate::cutter::BatchConfig;
use crate::error::{OrdererError, Result};
use crate::node::{NodeConfig, NodeTls, OrdererNode};
use crate::settings::{ChannelSettings, Consenter, DEFAULT_SNAPSHOT_INTERVAL_BYTES};

const CHANNEL: &str = "benchchannel";

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Orderers in the Raft group (1, 3 or 5).
    pub nodes: usize,
    /// Concurrent broadcasters, each with its own stream.
    pub broadcasters: usize,
    /// Envelopes each broadcaster sends.
    pub envelopes_per_broadcaster: usize,
    /// Envelope payload size in bytes.
    pub envelope_size: usize,
    /// Envelopes in flight per broadcaster.
    pub window: usize,
    /// The channel's batch timeout.
    pub batch_timeout: Duration,
    /// The channel's MaxMessageCount.
    pub max_message_count: u32,
    /// Serve and connect over TLS.
    pub tls: bool,
    /// Offered load in envelopes per second over all broadcasters; `None`: as fast as the
    /// window allows (saturation). With a rate, each envelope's latency counts from when it
    /// was due, so a backlog shows in the latency instead of slowing the sender down.
    pub rate: Option<f64>,
    /// The orderers cut a block at once when none is in flight (`NodeConfig::cut_when_idle`).
    pub cut_when_idle: bool,
}

impl Default for LoadOptions {
    /// The setting: 16 broadcasters, 1 KiB envelopes, 5 ms batch timeout.
    fn default() -> Self {
        LoadOptions {
            nodes: 1,
            broadcasters: 16,
            envelopes_per_broadcaster: 500,
            envelope_size: 1024,
            window: 32,
            batch_timeout: Duration::from_millis(5),
            max_message_count: 500,
            tls: true,
            rate: None,
            cut_when_idle: true,
        }
    }
}

/// What was measured.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Orderers in the group.
    pub nodes: usize,
    /// Envelopes acknowledged `SUCCESS`.
    pub envelopes: usize,
    /// Envelopes refused.
    pub failed: usize,
    /// Acknowledged envelopes per second over the whole run.
    pub throughput: f64,
    /// Median Broadcast→SUCCESS latency, ms.
    pub p50_ms: f64,
    /// 90th percentile latency, ms.
    pub p90_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Median Broadcast→block latency, ms: from sending an envelope to the arrival, on a
    /// Deliver stream, of the block that holds it.
    pub block_p50_ms: f64,
    /// 90th percentile Broadcast→block latency, ms.
    pub block_p90_ms: f64,
    /// 99th percentile Broadcast→block latency, ms.
    pub block_p99_ms: f64,
    /// Acknowledged envelopes that the Deliver stream did not show in a block.
    pub missing_from_blocks: usize,
    /// Blocks cut.
    pub blocks: u64,
    /// Whether the run used TLS.
    pub tls: bool,
    /// The offered load (envelopes/s), if the run was paced.
    pub offered_rate: Option<f64>,
    /// CPU time (user and system, every thread of the process: orderers and broadcasters)
    /// per acknowledged envelope, in microseconds; a measure of work that a machine shared
    /// with other load disturbs less than throughput. `None` where it cannot be read.
    pub cpu_us_per_envelope: Option<f64>,
}

/// User plus system CPU time of the whole process so far.
fn process_cpu() -> Option<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given and nothing else.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).ok()?)
            .checked_add(Duration::from_micros(u64::try_from(t.tv_usec).ok()?))
    };
    time(usage.ru_utime)?.checked_add(time(usage.ru_stime)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs the load and reports throughput and latency.
pub async fn run(options: &LoadOptions) -> Result<LoadReport> {
    let dir = tempfile::tempdir()
        .map_err(|e| OrdererError::io("creating", std::path::Path::new("temp dir"), e))?;
    let mut yaml = String::from("OrdererOrgs:\n  - Name: Orderer\n    Domain: example.com\n    EnableNodeOUs: true\n    Specs:\n");
    for i in 0..options.nodes {
        yaml.push_str(&format!("      - Hostname: orderer{i}\n"));
    }
    yaml.push_str("PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n    Users:\n      Count: 1\n");
    let config = CryptoConfig::from_yaml(&yaml).map_err(|e| OrdererError::Config(e.to_string()))?;
    let crypto = generate(
        &config,
        &dir.path().join("crypto"),
        GenerateOptions::default(),
    )
    .map_err(|e| OrdererError::Config(e.to_string()))?;
    let configs = crypto
        .orgs
        .iter()
        .map(|o| MspConfig::from_dir(&o.msp_dir, &o.msp_id))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let msps = Arc::new(MspManager::from_configs(&configs)?);
    let orderer_org = crypto.org("OrdererMSP").expect("generated");
    let org1 = crypto.org("Org1MSP").expect("generated");
    let user = load_signing_identity(&org1.users[1].msp_dir, "Org1MSP")?;

    let mut listeners = Vec::new();
    for _ in 0..options.nodes {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| OrdererError::Network(e.to_string()))?;
        let addr = l
            .local_addr()
            .map_err(|e| OrdererError::Network(e.to_string()))?
            .to_string();
        listeners.push((l, addr));
    }
    let settings = ChannelSettings {
        channel_id: CHANNEL.into(),
        batch: BatchConfig {
            max_message_count: options.max_message_count,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
            timeout: options.batch_timeout,
        },
        msps,
        policies: PolicyGroup::new()
            .with_policy(
                "Writers",
                Policy::Signature(
                    parse("OR('Org1MSP.member')")
                        .map_err(|e| OrdererError::Config(e.to_string()))?,
                ),
            )
            .with_policy(
                "Readers",
                Policy::Signature(
                    parse("OR('Org1MSP.member')")
                        .map_err(|e| OrdererError::Config(e.to_string()))?,
                ),
            ),
        consenters: listeners
            .iter()
            .enumerate()
            .map(|(i, (_, a))| Consenter {
                id: i as u64 + 1,
                address: a.clone(),
            })
            .collect(),
        last_config: 0,
        orderer_tls_roots: TlsRoots::load(std::slice::from_ref(&orderer_org.tls_ca.cert))
            .map_err(tls_err)?,
        snapshot_interval_bytes: DEFAULT_SNAPSHOT_INTERVAL_BYTES,
    };
    // Handshakes accept client certificates of every organisation's TLS CA.
    let all_tls_cas = TlsRoots::from_msp_configs(&configs).map_err(tls_err)?;
    let admin = load_signing_identity(&orderer_org.nodes[0].msp_dir, "OrdererMSP")?;
    let genesis_env = signed_envelope(&admin, CHANNEL, HeaderType::Config, b"bench genesis")?;
    let genesis = cambium_ledger::Block::new(0, Vec::new(), vec![genesis_env]).encode();
    let mut nodes = Vec::new();
    let mut servers = Vec::new();
    for (i, (listener, addr)) in listeners.into_iter().enumerate() {
        let signer = load_signing_identity(&orderer_org.nodes[i].msp_dir, "OrdererMSP")?;
        let tls = if options.tls {
            let id = &orderer_org.nodes[i];
            Some(NodeTls {
                identity: TlsIdentity::load(&id.tls_cert, &id.tls_key).map_err(tls_err)?,
                client_roots: all_tls_cas.clone(),
                client_auth_required: false,
            })
        } else {
            None
        };
        let node = OrdererNode::with_tls(
            NodeConfig {
                data_dir: dir.path().join(format!("orderer{i}")),
                advertised_address: addr.clone(),
                cut_when_idle: options.cut_when_idle,
            },
            signer,
            tls,
        );
        servers.push(node.serve(listener)?);
        node.join_channel(&genesis, settings.clone()).await?;
        nodes.push((node, addr));
    }
    // Wait for a leader and send to it (followers would forward, adding a hop).
    let deadline = Instant::now() + Duration::from_secs(10);
    let leader_addr = loop {
        let leader = nodes.iter().find(|(n, _)| {
            n.channel(CHANNEL)
                .map(|c| c.leader == Some(c.consenter_id))
                .unwrap_or(false)
        });
        if let Some((_, addr)) = leader {
            break addr.clone();
        }
        if Instant::now() > deadline {
            return Err(OrdererError::Raft(
                "no Raft leader was elected within 10 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Pre-sign every envelope so the client's signing does not compete with the measurement.
    let payload = vec![0xabu8; options.envelope_size];
    let mut batches = Vec::new();
    for _ in 0..options.broadcasters {
        let mut envs = Vec::with_capacity(options.envelopes_per_broadcaster);
        for _ in 0..options.envelopes_per_broadcaster {
            let bytes = signed_envelope(&user, CHANNEL, HeaderType::EndorserTransaction, &payload)?;
            envs.push(
                common::Envelope::decode(bytes.as_slice())
                    .map_err(|e| OrdererError::Network(e.to_string()))?,
            );
        }
        batches.push(envs);
    }
    let client_tls = if options.tls {
        Some(client_tls_config(&settings.orderer_tls_roots, None, None).map_err(tls_err)?)
    } else {
        None
    };
    let start_height = nodes[0].0.channel(CHANNEL)?.height;
    let total = options.broadcasters * options.envelopes_per_broadcaster;
    let reader = load_signing_identity(&org1.users[1].msp_dir, "Org1MSP")?;
    // The envelopes to wait for: all of them, until the refused ones are known.
    let (expected_tx, expected) = tokio::sync::watch::channel(total);
    let watcher = {
        let (addr, tls) = (leader_addr.clone(), client_tls.clone());
        tokio::spawn(async move {
            watch_blocks(&addr, tls.as_ref(), &reader, start_height, expected).await
        })
    };
    let sent_at: SentAt = Arc::default();
    // Each broadcaster offers its share of the rate, the broadcasters' first envelopes spread
    // over one interval so that they do not arrive in bursts.
    let interval = options
        .rate
        .filter(|r| *r > 0.0 && r.is_finite())
        .map(|r| Duration::from_secs_f64(options.broadcasters as f64 / r));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, envs) in batches.into_iter().enumerate() {
        let addr = leader_addr.clone();
        let window = options.window;
        let tls = client_tls.clone();
        let sent_at = sent_at.clone();
        let pacing = interval.map(|every| Pacing {
            first: started + every.mul_f64(i as f64 / options.broadcasters as f64),
            every,
        });
        tasks.push(tokio::spawn(async move {
            broadcaster(&addr, tls.as_ref(), envs, window, pacing, &sent_at).await
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (lat, fail) = t
            .await
            .map_err(|e| OrdererError::Network(e.to_string()))??;
        latencies.extend(lat);
        failed += fail;
    }
    let elapsed = started.elapsed().as_secs_f64();
    expected_tx.send_replace(latencies.len());
    // Every acknowledged envelope is in a block that is already deliverable.
    let seen = tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .map_err(|_| {
            OrdererError::Network("Deliver did not show every envelope within 10 s".into())
        })?
        .map_err(|e| OrdererError::Network(e.to_string()))??;
    let sent_at = std::mem::take(&mut *sent_at.lock().expect("sent lock"));
    let mut block_latencies: Vec<f64> = sent_at
        .iter()
        .filter_map(|(signature, sent)| {
            seen.get(signature)
                .map(|at| at.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
        })
        .collect();
    let missing_from_blocks = latencies.len().saturating_sub(block_latencies.len());
    block_latencies.sort_by(|a, b| a.total_cmp(b));
    let cpu = cpu_before
        .zip(process_cpu())
        .map(|(before, after)| after.saturating_sub(before));
    let blocks = nodes[0].0.channel(CHANNEL)?.height - start_height;
    for s in servers {
        s.stop().await;
    }
    for (n, _) in &nodes {
        n.shutdown().await;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(LoadReport {
        nodes: options.nodes,
        envelopes: latencies.len(),
        failed,
        throughput: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p90_ms: percentile(&latencies, 0.90),
        p99_ms: percentile(&latencies, 0.99),
        block_p50_ms: percentile(&block_latencies, 0.50),
        block_p90_ms: percentile(&block_latencies, 0.90),
        block_p99_ms: percentile(&block_latencies, 0.99),
        missing_from_blocks,
        blocks,
        tls: options.tls,
        offered_rate: interval.and(options.rate),
        cpu_us_per_envelope: cpu
            .filter(|_| !latencies.is_empty())
            .map(|c| c.as_secs_f64() * 1e6 / latencies.len() as f64),
    })
}

fn tls_err(e: cambium_tls::TlsError) -> OrdererError {
    OrdererError::Config(format!("bench TLS material: {e}"))
}

/// When each envelope was sent (or due), by its signature.
type SentAt = Arc<Mutex<HashMap<Vec<u8>, Instant>>>;

/// Follows the channel's blocks from `start` on a Deliver stream from `addr`, noting when each
/// envelope (known by its signature) arrives, until as many envelopes as `expected` says were
/// seen.
async fn watch_blocks(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
    reader: &cambium_msp::SigningIdentity,
    start: u64,
    mut expected: tokio::sync::watch::Receiver<usize>,
) -> Result<HashMap<Vec<u8>, Instant>> {
    let seek = cambium_wire::encode_seek_info(&SeekInfo::new(
        SeekPosition::Specified(start),
        SeekPosition::Specified(u64::MAX),
    ));
    let request = signed_envelope(reader, CHANNEL, HeaderType::DeliverSeekInfo, &seek)?;
    let request = common::Envelope::decode(request.as_slice())
        .map_err(|e| OrdererError::Network(e.to_string()))?;
    let mut client = connect_tls(addr, tls).await?;
    let mut stream = client
        .deliver(tokio_stream::iter([request]))
        .await
        .map_err(|e| OrdererError::Network(format!("deliver: {e}")))?
        .into_inner();
    let mut seen = HashMap::with_capacity(*expected.borrow());
    let mut settled = false;
    while seen.len() < *expected.borrow_and_update() {
        let message = tokio::select! {
            message = stream.message() => message,
            changed = expected.changed(), if !settled => {
                settled = changed.is_err();
                continue;
            }
        };
        let message = message
            .map_err(|e| OrdererError::Network(format!("deliver: {e}")))?
            .ok_or_else(|| OrdererError::Network("the Deliver stream ended early".into()))?;
        let at = Instant::now();
        match message.r#type {
            Some(deliver_response::Type::Block(block)) => {
                for bytes in block.data.map(|d| d.data).unwrap_or_default() {
                    let envelope = common::Envelope::decode(bytes.as_slice())
                        .map_err(|e| OrdererError::Network(format!("block envelope: {e}")))?;
                    seen.entry(envelope.signature).or_insert(at);
                }
            }
            other => {
                return Err(OrdererError::Network(format!(
                    "Deliver answered {other:?} before every envelope was seen"
                )))
            }
        }
    }
    Ok(seen)
}

/// When a paced broadcaster's envelopes are due: `first`, then one every `every`.
#[derive(Clone, Copy, Debug)]
struct Pacing {
    first: Instant,
    every: Duration,
}

/// One broadcaster: a stream with at most `window` envelopes in flight, sent as soon as
/// possible or when due under `pacing`; returns latencies (ms) of successes, counted from
/// sending or from when the envelope was due, and the number of refusals.
async fn broadcaster(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
    envelopes: Vec<common::Envelope>,
    window: usize,
    pacing: Option<Pacing>,
    sent_at: &SentAt,
) -> Result<(Vec<f64>, usize)> {
    let mut client = connect_tls(addr, tls).await?;
    let (tx, rx) = mpsc::channel(window.max(1));
    let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(window.max(1)));
    let total = envelopes.len();
    let sender = {
        let (sent, permits, sent_at) = (sent.clone(), permits.clone(), sent_at.clone());
        tokio::spawn(async move {
            for (i, env) in envelopes.into_iter().enumerate() {
                let due = pacing.map(|p| p.first + p.every.mul_f64(i as f64));
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let Ok(permit) = permits.acquire().await else {
                    return;
                };
                permit.forget();
                let at = due.unwrap_or_else(Instant::now);
                sent.lock().expect("sent lock").push_back(at);
                sent_at
                    .lock()
                    .expect("sent lock")
                    .insert(env.signature.clone(), at);
                if tx.send(env).await.is_err() {
                    return;
                }
            }
        })
    };
    let mut replies = client
        .broadcast(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|e| OrdererError::Network(format!("broadcast: {e}")))?
        .into_inner();
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for _ in 0..total {
        let Some(reply) = replies
            .message()
            .await
            .map_err(|e| OrdererError::Network(format!("broadcast: {e}")))?
        else {
            break;
        };
        let at = sent.lock().expect("sent lock").pop_front();
        permits.add_permits(1);
        if reply.status == Status::Success as i32 {
            if let Some(at) = at {
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            }
        } else {
            failed += 1;
        }
    }
    sender.abort();
    Ok((latencies, failed))
}
