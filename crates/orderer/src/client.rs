//! A small AtomicBroadcast client: signed envelopes, Broadcast and Deliver, for tools, the
//! load generator and tests of other crates and processes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_ledger::Block;
use cambium_msp::SigningIdentity;
use cambium_primitives::{SeekInfo, SeekPosition, Timestamp};
pub use cambium_tls::ClientTlsConfig;
use cambium_wire::common::{self, Status};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::deliver_response;
use cambium_wire::Message;
use rand::RngCore;
use tonic::transport::Channel;

use crate::error::{OrdererError, Result};

/// The current time as a protobuf timestamp.
pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// A signed envelope of `header_type` on `channel` carrying `data`, with a fresh nonce and
/// the transaction ID Fabric derives from it. The signature is not memoized (see
/// [`SigningIdentity::sign_as_remote_client`]).
pub fn signed_envelope(
    signer: &SigningIdentity,
    channel: &str,
    header_type: HeaderType,
    data: &[u8],
) -> Result<Vec<u8>> {
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let mut nonce = vec![0u8; cambium_wire::tx::NONCE_SIZE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let channel_header = cambium_wire::tx::ChannelHeaderFields {
        header_type: header_type as i32,
        timestamp: Some(now()),
        channel_id: channel.into(),
        tx_id: cambium_wire::tx::compute_tx_id(&nonce, &creator),
        ..Default::default()
    };
    let signature_header = cambium_wire::tx::signature_header_bytes(&creator, &nonce);
    let payload =
        cambium_wire::tx::payload_bytes(&channel_header.encode(), &signature_header, data);
    // Signed as a client elsewhere would sign it: not recorded in this process's memo of
    // verified signatures, so an orderer in this process (tests, `cambium bench ordering`)
    // pays the full verification cost.
    let signature = signer.sign_as_remote_client(&payload)?;
    Ok(cambium_wire::tx::envelope_bytes(&payload, &signature))
}

/// Client TLS settings trusting the CA certificates in `ca_files` (PEM files or folders such
/// as an organisation's `msp/tlscacerts`), presenting `identity` (certificate and key files,
/// e.g. a user's `tls/client.crt` and `tls/client.key`) for mutual TLS when given.
pub fn tls_config(
    ca_files: &[std::path::PathBuf],
    identity: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<ClientTlsConfig> {
    let tls_err = |e: cambium_tls::TlsError| OrdererError::Config(format!("client TLS: {e}"));
    let roots = cambium_tls::TlsRoots::load(ca_files).map_err(tls_err)?;
    let identity = identity
        .map(|(cert, key)| cambium_tls::TlsIdentity::load(cert, key))
        .transpose()
        .map_err(tls_err)?;
    cambium_tls::client_tls_config(&roots, identity.as_ref(), None).map_err(tls_err)
}

/// A connected AtomicBroadcast client over plaintext gRPC.
pub async fn connect(addr: &str) -> Result<AtomicBroadcastClient<Channel>> {
    connect_tls(addr, None).await
}

/// A connected AtomicBroadcast client, over TLS when `tls` is given (build it with
/// [`cambium_tls::client_tls_config`]: the orderers' TLS CA, and a client identity for mutual
/// TLS).
pub async fn connect_tls(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<AtomicBroadcastClient<Channel>> {
    let channel = cambium_tls::endpoint(addr, tls)
        .map_err(|e| OrdererError::Network(e.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| OrdererError::Network(format!("connecting to {addr}: {}", error_chain(&e))))?;
    Ok(AtomicBroadcastClient::new(channel)
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(256 * 1024 * 1024))
}

/// Broadcasts `envelopes` on one plaintext stream; returns each reply's status and info, in
/// order.
pub async fn broadcast(addr: &str, envelopes: &[Vec<u8>]) -> Result<Vec<(i32, String)>> {
    broadcast_tls(addr, None, envelopes).await
}

/// [`broadcast`], over TLS when `tls` is given.
pub async fn broadcast_tls(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
    envelopes: &[Vec<u8>],
) -> Result<Vec<(i32, String)>> {
    let mut client = connect_tls(addr, tls).await?;
    let messages = envelopes
        .iter()
        .map(|e| common::Envelope::decode(e.as_slice()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| OrdererError::Network(format!("malformed envelope: {e}")))?;
    let mut replies = client
        .broadcast(tokio_stream::iter(messages))
        .await
        .map_err(|e| OrdererError::Network(format!("broadcast to {addr}: {e}")))?
        .into_inner();
    let mut out = Vec::with_capacity(envelopes.len());
    while out.len() < envelopes.len() {
        match replies.message().await {
            Ok(Some(r)) => out.push((r.status, r.info)),
            Ok(None) => break,
            Err(e) => return Err(OrdererError::Network(format!("broadcast to {addr}: {e}"))),
        }
    }
    Ok(out)
}

/// Delivers blocks `[start, stop]` of `channel` as `signer` over plaintext gRPC; returns the
/// blocks and the final status code.
pub async fn deliver(
    addr: &str,
    signer: &SigningIdentity,
    channel: &str,
    start: SeekPosition,
    stop: SeekPosition,
) -> Result<(Vec<Block>, i32)> {
    deliver_tls(addr, None, signer, channel, start, stop).await
}

/// [`deliver`], over TLS when `tls` is given.
pub async fn deliver_tls(
    addr: &str,
    tls: Option<&ClientTlsConfig>,
    signer: &SigningIdentity,
    channel: &str,
    start: SeekPosition,
    stop: SeekPosition,
) -> Result<(Vec<Block>, i32)> {
    let seek = cambium_wire::encode_seek_info(&SeekInfo::new(start, stop));
    let request = signed_envelope(signer, channel, HeaderType::DeliverSeekInfo, &seek)?;
    let request = common::Envelope::decode(request.as_slice())
        .map_err(|e| OrdererError::Network(e.to_string()))?;
    let mut client = connect_tls(addr, tls).await?;
    let mut stream = client
        .deliver(tokio_stream::iter([request]))
        .await
        .map_err(|e| OrdererError::Network(format!("deliver from {addr}: {e}")))?
        .into_inner();
    let mut blocks = Vec::new();
    loop {
        let message = stream
            .message()
            .await
            .map_err(|e| OrdererError::Network(format!("deliver from {addr}: {e}")))?
            .ok_or_else(|| {
                OrdererError::Network(format!("{addr} closed the Deliver stream without a status"))
            })?;
        match message.r#type {
            Some(deliver_response::Type::Block(b)) => {
                blocks.push(Block::decode(&b.encode_to_vec())?)
            }
            Some(deliver_response::Type::Status(s)) => return Ok((blocks, s)),
            None => {}
        }
    }
}

/// An error with its sources, so a TLS failure shows the certificate problem rather than
/// only "transport error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether a reply status is `SUCCESS`.
pub fn is_success(status: i32) -> bool {
    status == Status::Success as i32
}

/// Runs `future` on a fresh current-thread runtime (for synchronous callers).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

pub use cambium_primitives::{HeaderType, SeekPosition as Seek};

/// Loads a signing identity from a local MSP folder (`signcerts/`, `keystore/`).
pub fn load_identity(msp_dir: &std::path::Path, msp_id: &str) -> Result<SigningIdentity> {
    Ok(cambium_msp::load_signing_identity(msp_dir, msp_id)?)
}

/// The async runtime type callers without their own get from [`runtime`].
pub type Runtime = tokio::runtime::Runtime;

/// A multi-threaded runtime for synchronous callers such as the command line.
pub fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
