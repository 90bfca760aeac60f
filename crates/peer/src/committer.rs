//! The committer of one channel: pulls blocks from the orderers over Deliver, checks each
//! block's orderer signature and chain, validates it, commits it and announces it.
//!
//! - **Pull.** A signed `SeekInfo{start: Specified(height), stop: Specified(u64::MAX),
//!   BLOCK_UNTIL_READY}` to one orderer at a time; on any failure the next endpoint is tried
//!   after a backoff that doubles up to `limits.reconnectMaxBackoffMs` (reset by a committed
//!   block). Endpoints are `orderer.endpoints` from the peer config, else the channel's.
//! - **Verify.** The `SIGNATURES` metadata must satisfy `/Channel/Orderer/BlockValidation`;
//!   the ledger checks the number, the previous hash and the data hash.
//! - **Validate and commit.** [`cambium_validator::validate_block`] over a snapshot of the
//!   ledger with the policies of the [`crate::PolicySource`], then one atomic ledger commit. A
//!   valid CONFIG transaction replaces the channel configuration from the next block on.
//! - **Stall, never skip.** A block that fails verification, validation or commit leaves the
//!   ledger at the last good block; the reason goes to the log and to
//!   [`crate::CommitterState::Stalled`], and the committer retries (another orderer may send a
//!   good block).
//!
//! # The time identities are checked at
//!
//! Validation needs a time every peer agrees on (see `cambium_validator`): the newest channel
//! header timestamp among the block's transactions, or, for a block without any, the
//! orderer signer's certificate start (Fabric itself validates chains at `NotBefore`).

use std::sync::Arc;
use std::time::Duration;

use cambium_channel::ChannelConfig;
use cambium_ledger::{Block, BlockWriter, SnapshotSource};
use cambium_primitives::{HeaderType, SeekInfo, SeekPosition};
use cambium_validator::{validate_block, ValidationOptions};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::deliver_response;
use cambium_wire::{common, Message};
use tonic::transport::Endpoint;

use crate::channel::{ChannelState, CommitterState};
use crate::node::{tx_codes, Shared};

/// The channel policy an orderer's block signatures must satisfy.
pub const BLOCK_VALIDATION_POLICY: &str = "/Channel/Orderer/BlockValidation";

/// The first wait between two attempts to reach an orderer.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How a pull from one orderer ended.
enum PullEnd {
    /// The peer is stopping.
    Stopped,
    /// The connection or the stream failed, or the orderer answered a status.
    Network(String),
    /// A block could not be verified or committed.
    Stalled(String),
}

/// Runs the committer of `channel` until the peer stops.
pub(crate) async fn run(shared: Arc<Shared>, channel: Arc<ChannelState>) {
    let mut stop = shared.stop.subscribe();
    let max_backoff = Duration::from_millis(shared.config.limits.reconnect_max_backoff_ms.max(1));
    let mut backoff = FIRST_BACKOFF.min(max_backoff);
    let mut next_endpoint = 0usize;
    let mut last_error: Option<String> = None;
    // Set while the last block offered could not be committed; the status keeps saying so
    // until a block commits.
    let mut stalled: Option<String> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let endpoints = orderer_endpoints(&shared, &channel.config());
        if endpoints.is_empty() {
            let reason = format!(
                "channel '{}' names no orderer endpoints; set orderer.endpoints in the peer configuration",
                channel.id
            );
            tracing::warn!(channel = %channel.id, "{reason}");
            channel.set_state(CommitterState::Stalled { reason });
        } else {
            let orderer = endpoints[next_endpoint % endpoints.len()].clone();
            next_endpoint = next_endpoint.wrapping_add(1);
            if stalled.is_none() {
                channel.set_state(CommitterState::Connecting {
                    orderer: orderer.clone(),
                    last_error: last_error.clone(),
                });
            }
            let height_before = channel.height();
            let end = pull(&shared, &channel, &orderer, &mut stop, &mut stalled).await;
            if channel.height() > height_before {
                backoff = FIRST_BACKOFF.min(max_backoff);
            }
            match end {
                PullEnd::Stopped => break,
                PullEnd::Network(reason) => {
                    tracing::info!(channel = %channel.id, %orderer, "deliver from the orderer ended: {reason}");
                    last_error = Some(reason);
                }
                PullEnd::Stalled(reason) => {
                    tracing::error!(channel = %channel.id, %orderer, height = channel.height(), "committer stalled: {reason}");
                    channel.set_state(CommitterState::Stalled {
                        reason: reason.clone(),
                    });
                    stalled = Some(reason.clone());
                    last_error = Some(reason);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        backoff = (backoff * 2).min(max_backoff);
    }
    channel.set_state(CommitterState::Stopped);
}

fn orderer_endpoints(shared: &Shared, config: &ChannelConfig) -> Vec<String> {
    if !shared.config.orderer.endpoints.is_empty() {
        return shared.config.orderer.endpoints.clone();
    }
    config
        .orderer_endpoints()
        .into_iter()
        .map(|e| e.address)
        .collect()
}

/// Pulls and commits blocks from one orderer until the stream ends, a block is refused or
/// the peer stops.
async fn pull(
    shared: &Arc<Shared>,
    channel: &Arc<ChannelState>,
    orderer: &str,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    stalled: &mut Option<String>,
) -> PullEnd {
    let config = channel.config();
    let scheme = if shared.orderer_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let endpoint = match Endpoint::from_shared(format!("{scheme}://{orderer}")) {
        Ok(e) => e,
        Err(e) => return PullEnd::Network(format!("bad orderer address '{orderer}': {e}")),
    };
    let mut endpoint = endpoint
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(60))
        .keep_alive_while_idle(true);
    if let Some(tls) = &shared.orderer_tls {
        let tls = match tls.client_config(&config) {
            Ok(t) => t,
            Err(reason) => return PullEnd::Network(format!("TLS towards {orderer}: {reason}")),
        };
        endpoint = match endpoint.tls_config(tls) {
            Ok(e) => e,
            Err(e) => return PullEnd::Network(format!("TLS settings for {orderer}: {e}")),
        };
    }
    let connection = tokio::select! {
        c = endpoint.connect() => c,
        _ = stop.wait_for(|s| *s) => return PullEnd::Stopped,
    };
    let connection = match connection {
        Ok(c) => c,
        Err(e) => return PullEnd::Network(format!("cannot connect to {orderer}: {e}")),
    };
    let max = shared.config.limits.max_message_bytes;
    let mut client = AtomicBroadcastClient::new(connection)
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let seek = SeekInfo::new(
        SeekPosition::Specified(channel.height()),
        SeekPosition::Specified(u64::MAX),
    );
    let request = match cambium_orderer::client::signed_envelope(
        &shared.signer,
        &channel.id,
        HeaderType::DeliverSeekInfo,
        &cambium_wire::encode_seek_info(&seek),
    )
    .map_err(|e| e.to_string())
    .and_then(|bytes| common::Envelope::decode(bytes.as_slice()).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return PullEnd::Stalled(format!("cannot sign the Deliver request: {e}")),
    };
    let stream = tokio::select! {
        s = client.deliver(tokio_stream::iter([request])) => s,
        _ = stop.wait_for(|s| *s) => return PullEnd::Stopped,
    };
    let mut stream = match stream {
        Ok(s) => s.into_inner(),
        Err(e) => return PullEnd::Network(format!("Deliver on {orderer}: {}", e.message())),
    };
    if stalled.is_none() {
        channel.set_state(CommitterState::Receiving {
            orderer: orderer.to_owned(),
        });
    }
    loop {
        let message = tokio::select! {
            m = stream.message() => m,
            _ = stop.wait_for(|s| *s) => return PullEnd::Stopped,
        };
        let message = match message {
            Ok(Some(m)) => m,
            Ok(None) => return PullEnd::Network(format!("{orderer} closed the Deliver stream")),
            Err(e) => return PullEnd::Network(format!("Deliver from {orderer}: {}", e.message())),
        };
        match message.r#type {
            Some(deliver_response::Type::Block(block)) => {
                let bytes = block.encode_to_vec();
                let (shared, channel2) = (Arc::clone(shared), Arc::clone(channel));
                let source = orderer.to_owned();
                let done = tokio::task::spawn_blocking(move || {
                    commit_block(&shared, &channel2, &bytes, &source)
                })
                .await;
                match done {
                    Ok(Ok(())) => {
                        if stalled.take().is_some() {
                            channel.set_state(CommitterState::Receiving {
                                orderer: orderer.to_owned(),
                            });
                        }
                    }
                    Ok(Err(reason)) => return PullEnd::Stalled(reason),
                    Err(e) => {
                        return PullEnd::Stalled(format!("committing a block failed to run: {e}"))
                    }
                }
            }
            Some(deliver_response::Type::Status(status)) => {
                let name = common::Status::try_from(status)
                    .map(|s| s.as_str_name().to_owned())
                    .unwrap_or_else(|_| status.to_string());
                return PullEnd::Network(format!("{orderer} answered status {name}"));
            }
            None => {}
        }
    }
}

/// The time identities in `block` are checked at (see the module docs).
fn identity_time(
    block: &Block,
    config: &ChannelConfig,
    signers: &[cambium_msp::policy::SignedData],
) -> i64 {
    let newest = block
        .data
        .iter()
        .filter_map(|envelope| cambium_wire::tx::parse_envelope(envelope).ok())
        .filter_map(|view| view.channel_header.timestamp.map(|t| t.seconds))
        .max();
    newest
        .or_else(|| {
            signers.first().and_then(|s| {
                config
                    .msp_manager()
                    .deserialize_identity(&s.identity)
                    .ok()
                    .map(|cert| cert.not_before())
            })
        })
        .unwrap_or(0)
}

/// Verifies, validates and commits one delivered block; `Err` says why it was refused.
/// Blocks below the height (a resend after failover) are skipped.
fn commit_block(
    shared: &Shared,
    channel: &ChannelState,
    bytes: &[u8],
    orderer: &str,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let block =
        Block::decode(bytes).map_err(|e| format!("a block from {orderer} does not decode: {e}"))?;
    let height = channel.height();
    if block.number < height {
        return Ok(());
    }
    if block.number > height {
        return Err(format!(
            "{orderer} sent block {} but the ledger height is {height}; it skipped blocks",
            block.number
        ));
    }
    let config = channel.config();
    let signatures = cambium_orderer::block_signatures(&block).map_err(|e| {
        format!(
            "block {} from {orderer} has unreadable orderer signatures: {e}",
            block.number
        )
    })?;
    if signatures.signed.is_empty() {
        return Err(format!(
            "block {} from {orderer} carries no orderer signature; it was not produced by the channel's orderers",
            block.number
        ));
    }
    let at = identity_time(&block, &config, &signatures.signed);
    config
        .evaluate(BLOCK_VALIDATION_POLICY, &signatures.signed, at)
        .map_err(|e| {
            format!(
                "block {} from {orderer} fails {BLOCK_VALIDATION_POLICY}: {e}; the block is not committed (check that the orderer belongs to the channel's orderer organisations)",
                block.number
            )
        })?;
    let snapshot = channel
        .ledger
        .snapshot()
        .map_err(|e| format!("reading the ledger: {e}"))?;
    let checked = started.elapsed();
    let policies = shared.policies.policies(&channel.id, &snapshot);
    let options = ValidationOptions::at(at).with_threads(shared.config.limits.validator_threads);
    let mut validation = validate_block(
        &block,
        config.as_ref(),
        policies.as_ref(),
        &snapshot,
        &options,
    )
    .map_err(|e| format!("validating block {}: {e}", block.number))?;
    drop(policies);
    drop(snapshot);
    let validated = started.elapsed();
    for tx in validation
        .transactions
        .iter()
        .filter(|t| !t.code.is_valid())
    {
        tracing::debug!(
            channel = %channel.id,
            block = block.number,
            index = tx.index,
            tx_id = tx.tx_id.as_deref().unwrap_or(""),
            code = ?tx.code,
            reason = tx.reason.as_deref().unwrap_or(""),
            "transaction invalid"
        );
    }
    let new_config = match validation.transactions.iter().find(|t| t.is_config) {
        Some(t) => Some(
            ChannelConfig::from_config_envelope(&block.data[t.index]).map_err(|e| {
                format!(
                    "block {} holds a valid config transaction whose config does not build: {e}",
                    block.number
                )
            })?,
        ),
        None => None,
    };
    let number = block.number;
    let codes = tx_codes(&validation.transactions);
    // Each transaction's code, and the contract version that endorsed it (moved out: the
    // commit below does not need it).
    let code_names: Vec<(&'static str, Option<(String, String)>)> = validation
        .transactions
        .iter_mut()
        .map(|t| (t.code.name(), t.chaincode.take()))
        .collect();
    // A config block's configuration is in force before the block is visible, so whoever sees
    // the new height (Deliver, the endorser, the next block's validation) also sees it; if the
    // commit fails, the previous configuration is put back.
    let previous = new_config.as_ref().map(|_| channel.config());
    if let Some(config) = new_config {
        tracing::info!(channel = %channel.id, block = number, sequence = config.sequence(), "channel configuration updated");
        shared.apply_config(channel, config);
    }
    if let Err(e) = channel.ledger.commit_block(&validation.into_commit(block)) {
        if let Some(previous) = previous {
            shared.apply_config(channel, ChannelConfig::clone(&previous));
        }
        return Err(format!("committing block {number}: {e}"));
    }
    // Counted before the announcement, so whoever learns of the commit sees it counted.
    let metrics = &shared.metrics;
    for (name, chaincode) in code_names {
        metrics.record_transaction(&channel.id, name);
        if let Some((contract, version)) = chaincode {
            metrics.record_contract_transaction(&channel.id, &contract, &version, name);
        }
    }
    metrics.set_height(&channel.id, number + 1);
    let total = started.elapsed();
    metrics.observe_block_commit(&channel.id, total.as_secs_f64());
    channel.publish(number, &codes);
    // Fabric's "Committed block [N] with K transaction(s) in T ms (...)", at debug.
    tracing::debug!(
        channel = %channel.id,
        block = number,
        transactions = codes.len(),
        ms = total.as_secs_f64() * 1e3,
        decode_and_orderer_check_ms = checked.as_secs_f64() * 1e3,
        validate_ms = (validated - checked).as_secs_f64() * 1e3,
        commit_ms = (total - validated).as_secs_f64() * 1e3,
        "committed block"
    );
    Ok(())
}
