//! A gateway load for the multi-process tests: clients that create assets through one peer's
//! Gateway exactly as a Fabric application does (Endorse, sign, Submit, CommitStatus) and
//! remember every transaction the network acknowledged as committed VALID. A failed attempt
//! is retried as a new transaction, as applications retry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cambium_node::client;
use cambium_node::connect::{connect, status_text, ClientTls};
use cambium_node::ConnectionProfile;
use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::{
    CommitStatusRequest, EndorseRequest, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use cambium_wire::Message;
use tonic::transport::Channel;

/// How long one step of a transaction may take before the attempt counts as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// What a load run saw.
#[derive(Debug, Default)]
pub(crate) struct LoadReport {
    /// Transactions acknowledged as committed VALID, by ID.
    pub(crate) committed: Vec<String>,
    /// Failed attempts by step and cause.
    pub(crate) failures: BTreeMap<String, u64>,
    /// Seconds the run took.
    pub(crate) elapsed_s: f64,
}

impl LoadReport {
    pub(crate) fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// Who submits, and through which gateway peer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Submitter<'a> {
    /// The connection profile.
    pub(crate) profile: &'a Path,
    /// The organisation (`Org1`).
    pub(crate) org: &'a str,
    /// Its user (`User1`).
    pub(crate) user: &'a str,
    /// The gateway peer's name.
    pub(crate) peer: &'a str,
}

/// Runs `clients` writers as `who` until `stop` is set or `max_per_client` writes each are
/// acknowledged; keys start with `tag`.
pub(crate) async fn run(
    who: Submitter<'_>,
    clients: usize,
    max_per_client: usize,
    stop: Arc<AtomicBool>,
    tag: &str,
) -> LoadReport {
    let Submitter {
        profile: profile_path,
        org,
        user,
        peer,
    } = who;
    let profile = ConnectionProfile::load(profile_path).expect("the profile loads");
    let (org_key, _) = profile.organization(org).expect("org in profile");
    let org_key = org_key.to_owned();
    let signer = Arc::new(profile.signing_identity(&org_key, user).expect("user"));
    let files = profile.client_files(&org_key, user).expect("user files");
    let tls = ClientTls {
        cert: std::fs::read(&files.tls_cert).unwrap(),
        key: std::fs::read(&files.tls_key).unwrap(),
    };
    let (_, node) = profile.peer(peer).expect("peer in profile");
    let node = node.clone();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let signer = Arc::clone(&signer);
        let stop = Arc::clone(&stop);
        let node = node.clone();
        let tls = tls.clone();
        let tag = format!("{tag}-{c}");
        tasks.push(tokio::spawn(async move {
            let mut report = LoadReport::default();
            let mut attempt = 0u64;
            let mut channel: Option<Channel> = None;
            while !stop.load(Ordering::Relaxed) && report.committed.len() < max_per_client {
                attempt += 1;
                let key = format!("{tag}-{attempt}");
                if channel.is_none() {
                    match tokio::time::timeout(STEP_TIMEOUT, connect(&node, Some(&tls))).await {
                        Ok(Ok(c)) => channel = Some(c),
                        Ok(Err(e)) => {
                            *report.failures.entry(format!("connect: {e}")).or_default() += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(_) => {
                            *report
                                .failures
                                .entry("connect: timed out".to_owned())
                                .or_default() += 1;
                            continue;
                        }
                    }
                }
                let gw = GatewayClient::new(channel.clone().expect("connected above"));
                match write(gw, &signer, &key).await {
                    Ok(tx_id) => report.committed.push(tx_id),
                    Err(cause) => {
                        *report.failures.entry(cause).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            report
        }));
    }
    let mut all = LoadReport::default();
    for t in tasks {
        let r = t.await.expect("a load client panicked");
        all.committed.extend(r.committed);
        for (k, v) in r.failures {
            *all.failures.entry(k).or_default() += v;
        }
    }
    all.elapsed_s = started.elapsed().as_secs_f64();
    all
}

async fn step<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(s)) => {
            // Fabric's gateway puts each endorser's or orderer's own message in the details.
            let details = cambium_wire::status::gateway_error_details(&s)
                .unwrap_or_default()
                .iter()
                .map(|d| format!(" [{} {}: {}]", d.msp_id, d.address, d.message))
                .collect::<String>();
            Err(format!(
                "{what}: {}{details}",
                first_words(&status_text(&s))
            ))
        }
        Err(_) => Err(format!("{what}: timed out")),
    }
}

/// The status and the start of its message: enough to group failures.
fn first_words(text: &str) -> String {
    text.chars().take(90).collect()
}

/// One CreateAsset; returns its transaction ID once committed VALID.
async fn write(
    mut gw: GatewayClient<Channel>,
    signer: &cambium_msp::SigningIdentity,
    key: &str,
) -> Result<String, String> {
    let args = ["CreateAsset", key, "blue", "5", "drill", "100"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let proposal = client::signed_proposal(signer, super::procnet::CHANNEL, "basic", args)
        .map_err(|e| format!("sign: {e}"))?;
    let tx_id = proposal.tx_id.clone();
    let endorsed = step(
        "endorse",
        gw.endorse(EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: super::procnet::CHANNEL.to_owned(),
            proposed_transaction: Some(proposal.message),
            endorsing_organizations: Vec::new(),
        }),
    )
    .await?
    .into_inner();
    let mut envelope = endorsed
        .prepared_transaction
        .ok_or("endorse: no prepared transaction")?;
    envelope.signature = signer.sign(&envelope.payload).map_err(|e| e.to_string())?;
    step(
        "submit",
        gw.submit(SubmitRequest {
            transaction_id: tx_id.clone(),
            channel_id: super::procnet::CHANNEL.to_owned(),
            prepared_transaction: Some(envelope),
        }),
    )
    .await?;
    let request = CommitStatusRequest {
        transaction_id: tx_id.clone(),
        channel_id: super::procnet::CHANNEL.to_owned(),
        identity: cambium_wire::encode_serialized_identity(&signer.serialized()),
    }
    .encode_to_vec();
    let signature = signer.sign(&request).map_err(|e| e.to_string())?;
    let status = step(
        "commit status",
        gw.commit_status(SignedCommitStatusRequest { request, signature }),
    )
    .await?
    .into_inner();
    if status.result == 0 {
        Ok(tx_id)
    } else {
        Err(format!(
            "committed as {}",
            client::validation_code_name(status.result)
        ))
    }
}

/// Connects `who` to its gateway peer; returns the client and its signer.
async fn gateway(
    who: Submitter<'_>,
) -> Result<(GatewayClient<Channel>, cambium_msp::SigningIdentity), String> {
    let profile = ConnectionProfile::load(who.profile).expect("the profile loads");
    let (org_key, _) = profile.organization(who.org).expect("org in profile");
    let org_key = org_key.to_owned();
    let signer = profile.signing_identity(&org_key, who.user).expect("user");
    let files = profile
        .client_files(&org_key, who.user)
        .expect("user files");
    let tls = ClientTls {
        cert: std::fs::read(&files.tls_cert).unwrap(),
        key: std::fs::read(&files.tls_key).unwrap(),
    };
    let (_, node) = profile.peer(who.peer).expect("peer in profile");
    let channel = connect(node, Some(&tls))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    Ok((GatewayClient::new(channel), signer))
}

/// ReadAsset of `key` by `who` through its gateway (Evaluate): the contract's JSON answer.
pub(crate) async fn read_once(who: Submitter<'_>, key: &str) -> Result<String, String> {
    let (mut gw, signer) = gateway(who).await?;
    let args = ["ReadAsset", key]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let proposal = client::signed_proposal(&signer, super::procnet::CHANNEL, "basic", args)
        .map_err(|e| format!("sign: {e}"))?;
    let reply = step(
        "evaluate",
        gw.evaluate(EvaluateRequest {
            transaction_id: proposal.tx_id.clone(),
            channel_id: super::procnet::CHANNEL.to_owned(),
            proposed_transaction: Some(proposal.message),
            target_organizations: Vec::new(),
        }),
    )
    .await?
    .into_inner();
    let payload = reply.result.map(|r| r.payload).unwrap_or_default();
    String::from_utf8(payload).map_err(|e| format!("evaluate: the answer is not UTF-8: {e}"))
}

/// One CreateAsset of `key` by `who`: the transaction ID
/// once committed VALID, or the failure.
pub(crate) async fn write_once(who: Submitter<'_>, key: &str) -> Result<String, String> {
    let (gw, signer) = gateway(who).await?;
    write(gw, &signer, key).await
}
