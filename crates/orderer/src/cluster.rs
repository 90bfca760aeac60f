//! Orderer-to-orderer transport: openraft's RPCs over gRPC.
//!
//! Each RPC is one unary gRPC call, `/cambium.orderer.Cluster/Raft`, whose request and reply
//! bodies are bincode-encoded [`ClusterRequest`] and [`ClusterReply`]. Fabric's own
//! `orderer.Cluster/Step` stream carries one-way etcd-raft messages and has no reply message
//! for consensus traffic, while openraft's RPCs are request/response (the AppendEntries reply
//! drives replication), so a unary call is the natural fit.
//!
//! The service shares the orderer's gRPC listener, so TLS for it comes with the listener's.
//! With TLS on, orderer-to-orderer traffic is mutual TLS: the calling orderer presents its TLS
//! certificate and trusts only the TLS CAs of the channel's orderer organisations for the
//! server's; the receiving orderer accepts a Raft RPC for a channel only if the caller's
//! certificate chains to those same CAs ([`RaftRouter::authorize`]). The listener's handshake
//! trusts a wider set (clients of every organisation may Broadcast and Deliver), so the
//! per-channel check happens after the handshake, on the certificate the handshake verified.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};
use cambium_tls::{CertificateDer, ClientTlsConfig, PeerVerifier, TlsIdentity, TlsRoots};
use openraft::error::{Fatal, ReplicationClosed, StreamingError};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode, OptionalSend, Snapshot, SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

use crate::raft::{ChannelRaft, TypeConfig};

/// The gRPC method path of the Raft transport.
pub const RAFT_METHOD: &str = "/cambium.orderer.Cluster/Raft";
/// The gRPC service name of the Raft transport.
pub const SERVICE_NAME: &str = "cambium.orderer.Cluster";

/// One Raft RPC for a channel's group.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRpc {
    /// Replicate entries or heartbeat.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Ask for a vote.
    Vote(VoteRequest<u64>),
    /// Send a snapshot chunk (openraft's chunked transfer; Cambium's nodes send
    /// [`RaftRpc::FullSnapshot`], which is kept so older senders are still understood).
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Install a snapshot: a chain height mark (see [`crate::raft::ChainMark`]). The receiver
    /// pulls the blocks it lacks below the mark with [`RaftRpc::Blocks`] before it answers.
    FullSnapshot {
        /// The sender's vote.
        vote: Vote<u64>,
        /// What the snapshot covers.
        meta: SnapshotMeta<u64, BasicNode>,
        /// The snapshot's data, as the sender's state machine built it.
        #[serde(with = "crate::raft::byte_buf")]
        data: Vec<u8>,
    },
    /// Read blocks `from..to` of the channel's chain, as many as fit in one reply
    /// ([`MAX_BLOCKS_REPLY_BYTES`], at least one).
    Blocks {
        /// The first block wanted.
        from: u64,
        /// One past the last block wanted.
        to: u64,
    },
}

/// Bytes of blocks one [`RaftRpc::Blocks`] reply carries at most (a larger block still goes
/// alone).
pub const MAX_BLOCKS_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// One block's bytes in a reply, encoded as a byte string.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlockBytes(#[serde(with = "crate::raft::byte_buf")] pub Vec<u8>);

/// A Raft RPC addressed to a channel.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClusterRequest {
    /// The channel whose group the RPC is for.
    pub channel: String,
    /// The RPC.
    pub rpc: RaftRpc,
}

/// The reply to a [`RaftRpc`], or why the receiver could not handle it.
#[derive(Debug, Serialize, Deserialize)]
pub enum ClusterReply {
    /// Reply to AppendEntries.
    AppendEntries(AppendEntriesResponse<u64>),
    /// Reply to Vote.
    Vote(VoteResponse<u64>),
    /// Reply to InstallSnapshot.
    InstallSnapshot(InstallSnapshotResponse<u64>),
    /// Reply to FullSnapshot, once the snapshot is installed.
    Snapshot(SnapshotResponse<u64>),
    /// Reply to Blocks: consecutive blocks from the first asked for (none if the chain is not
    /// that high).
    Blocks(Vec<BlockBytes>),
    /// The receiver does not serve the channel or its Raft node failed.
    Error(String),
}

/// Finds the Raft node of a channel on the receiving orderer.
pub trait RaftRouter: Send + Sync + 'static {
    /// The channel's Raft node, if this orderer serves it.
    fn raft(&self, channel: &str) -> Option<ChannelRaft>;

    /// Whether a caller that presented `peer_certs` (leaf first; `None` on a plaintext
    /// connection) may send Raft RPCs for `channel`; the error says why not.
    fn authorize(
        &self,
        channel: &str,
        peer_certs: Option<&[CertificateDer<'static>]>,
    ) -> Result<(), String>;

    /// Blocks `from..to` of `channel`'s chain, stopping before the total passes `max_bytes`
    /// (but with at least one block if `from` exists).
    fn blocks(
        &self,
        channel: &str,
        from: u64,
        to: u64,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, String>;
}

/// Handles one encoded request on the receiving side.
async fn handle(
    router: &dyn RaftRouter,
    body: &[u8],
    peer_certs: Option<&[CertificateDer<'static>]>,
) -> ClusterReply {
    let request: ClusterRequest = match bincode::deserialize(body) {
        Ok(r) => r,
        Err(e) => return ClusterReply::Error(format!("undecodable cluster request: {e}")),
    };
    if let Err(why) = router.authorize(&request.channel, peer_certs) {
        tracing::warn!(channel = %request.channel, "refused a Raft RPC: {why}");
        return ClusterReply::Error(format!("refused for channel '{}': {why}", request.channel));
    }
    let Some(raft) = router.raft(&request.channel) else {
        return ClusterReply::Error(format!(
            "this orderer does not serve channel '{}'",
            request.channel
        ));
    };
    match request.rpc {
        RaftRpc::AppendEntries(rpc) => match raft.append_entries(rpc).await {
            Ok(r) => ClusterReply::AppendEntries(r),
            Err(e) => ClusterReply::Error(e.to_string()),
        },
        RaftRpc::Vote(rpc) => match raft.vote(rpc).await {
            Ok(r) => ClusterReply::Vote(r),
            Err(e) => ClusterReply::Error(e.to_string()),
        },
        RaftRpc::InstallSnapshot(rpc) => match raft.install_snapshot(rpc).await {
            Ok(r) => ClusterReply::InstallSnapshot(r),
            Err(e) => ClusterReply::Error(e.to_string()),
        },
        RaftRpc::FullSnapshot { vote, meta, data } => {
            let snapshot = Snapshot {
                meta,
                snapshot: Box::new(std::io::Cursor::new(data)),
            };
            match raft.install_full_snapshot(vote, snapshot).await {
                Ok(r) => ClusterReply::Snapshot(r),
                Err(e) => ClusterReply::Error(e.to_string()),
            }
        }
        RaftRpc::Blocks { from, to } => {
            match router.blocks(&request.channel, from, to, MAX_BLOCKS_REPLY_BYTES) {
                Ok(blocks) => ClusterReply::Blocks(blocks.into_iter().map(BlockBytes).collect()),
                Err(e) => ClusterReply::Error(e),
            }
        }
    }
}

/// Raw bytes as a gRPC message body.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesCodec;

/// Encoder and decoder of [`BytesCodec`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesCoder;

impl Encoder for BytesCoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for BytesCoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = BytesCoder;
    type Decoder = BytesCoder;
    fn encoder(&mut self) -> BytesCoder {
        BytesCoder
    }
    fn decoder(&mut self) -> BytesCoder {
        BytesCoder
    }
}

/// The server side of the Raft transport, to add to a tonic server.
#[derive(Clone)]
pub struct ClusterServer {
    router: Arc<dyn RaftRouter>,
}

impl ClusterServer {
    /// A server that dispatches RPCs through `router`.
    pub fn new(router: Arc<dyn RaftRouter>) -> Self {
        ClusterServer { router }
    }
}

struct RaftMethod(Arc<dyn RaftRouter>);

impl tonic::server::UnaryService<Vec<u8>> for RaftMethod {
    type Response = Vec<u8>;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<tonic::Response<Vec<u8>>, Status>> + Send>,
    >;
    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        let router = self.0.clone();
        Box::pin(async move {
            let certs = request.peer_certs();
            let reply = handle(
                router.as_ref(),
                request.get_ref(),
                certs.as_deref().map(Vec::as_slice),
            )
            .await;
            let bytes = bincode::serialize(&reply)
                .map_err(|e| Status::internal(format!("encoding the raft reply: {e}")))?;
            Ok(tonic::Response::new(bytes))
        })
    }
}

impl<B> tower_service::Service<http::Request<B>> for ClusterServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let router = self.router.clone();
        Box::pin(async move {
            if req.uri().path() != RAFT_METHOD {
                return Ok(Status::unimplemented(format!(
                    "{} is not a method of {SERVICE_NAME}",
                    req.uri().path()
                ))
                .into_http());
            }
            let mut grpc = tonic::server::Grpc::new(BytesCodec)
                .apply_max_message_size_config(Some(256 * 1024 * 1024), Some(256 * 1024 * 1024));
            Ok(grpc.unary(RaftMethod(router), req).await)
        })
    }
}

impl tonic::server::NamedService for ClusterServer {
    const NAME: &'static str = SERVICE_NAME;
}

/// An orderer's TLS material for connections to other orderers (mutual TLS).
#[derive(Clone, Debug)]
pub struct ClusterTls {
    /// The certificate and key this orderer presents to the others.
    pub identity: TlsIdentity,
    /// CAs to trust for a channel whose configuration names no orderer TLS CAs (channels
    /// built from a config block always name them).
    pub fallback_roots: TlsRoots,
}

/// Whom one channel's group trusts on the cluster transport: the TLS CAs of the channel's
/// orderer organisations, as a client (checking the other orderer's server certificate) and as
/// a server (checking the caller's client certificate).
#[derive(Clone, Debug)]
pub struct ChannelTrust {
    /// Fingerprint of the trusted CAs; connections are shared between channels trusting the
    /// same CAs.
    key: [u8; 32],
    client: ClientTlsConfig,
    verifier: PeerVerifier,
    /// Leaf certificates verified recently, with when: every AppendEntries carries the
    /// caller's chain, and re-verifying it each time would cost a signature check per RPC.
    verified: Arc<Mutex<BTreeMap<Vec<u8>, Instant>>>,
}

/// How long a verified orderer certificate is trusted before it is checked again (so an
/// expired certificate is noticed).
const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// Most verified certificates remembered per channel.
const VERIFIED_CACHE_SIZE: usize = 64;

impl ChannelTrust {
    /// Accepts a caller's certificate chain if it leads to the channel's orderer TLS CAs.
    pub fn verify(&self, peer_certs: Option<&[CertificateDer<'static>]>) -> Result<(), String> {
        let certs = peer_certs.ok_or(
            "the caller presented no TLS client certificate; orderers of this channel talk mutual TLS",
        )?;
        let leaf = certs
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default();
        let fresh = |at: &Instant| at.elapsed() < VERIFIED_FOR;
        if self
            .verified
            .lock()
            .expect("verified lock")
            .get(&leaf)
            .is_some_and(fresh)
        {
            return Ok(());
        }
        self.verifier.verify(certs).map_err(|e| {
            format!("{e} (only the TLS CAs of the channel's orderer organisations are trusted)")
        })?;
        let mut verified = self.verified.lock().expect("verified lock");
        if verified.len() >= VERIFIED_CACHE_SIZE {
            verified.clear();
        }
        verified.insert(leaf, Instant::now());
        Ok(())
    }
}

/// A cached connection: the orderer's address and the fingerprint of the CAs trusted for it.
type ConnectionKey = (String, Option<[u8; 32]>);

/// Connections to the other orderers, shared by the Raft groups of all channels.
#[derive(Clone, Default)]
pub struct Connections {
    channels: Arc<Mutex<BTreeMap<ConnectionKey, Channel>>>,
    tls: Option<Arc<ClusterTls>>,
}

impl Connections {
    /// Connections that use mutual TLS with `tls`, or plaintext when `None`.
    pub fn new(tls: Option<ClusterTls>) -> Self {
        Connections {
            channels: Arc::default(),
            tls: tls.map(Arc::new),
        }
    }

    /// Whether connections use TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// The trust of a channel whose orderer organisations' TLS CAs are `orderer_roots` (the
    /// fallback roots if empty); `None` without TLS.
    pub fn trust(&self, orderer_roots: &TlsRoots) -> Result<Option<Arc<ChannelTrust>>, String> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let roots = if orderer_roots.is_empty() {
            &tls.fallback_roots
        } else {
            orderer_roots
        };
        let mut hash = Sha256::new();
        for der in roots.der() {
            hash.update((der.len() as u64).to_be_bytes());
            hash.update(der);
        }
        let client = cambium_tls::client_tls_config(roots, Some(&tls.identity), None)
            .map_err(|e| format!("orderer-to-orderer TLS: {e}"))?;
        let verifier =
            PeerVerifier::new(roots).map_err(|e| format!("orderer-to-orderer TLS: {e}"))?;
        Ok(Some(Arc::new(ChannelTrust {
            key: hash.finalize().into(),
            client,
            verifier,
            verified: Arc::default(),
        })))
    }

    /// A lazily connected gRPC channel to `addr` (`host:port`), reused across calls; over
    /// mutual TLS with `trust` when given.
    pub fn get(&self, addr: &str, trust: Option<&ChannelTrust>) -> Result<Channel, String> {
        let key = (addr.to_string(), trust.map(|t| t.key));
        let mut map = self.channels.lock().expect("connections lock");
        if let Some(ch) = map.get(&key) {
            return Ok(ch.clone());
        }
        let endpoint = cambium_tls::endpoint(addr, trust.map(|t| &t.client))
            .map_err(|e| format!("orderer address '{addr}': {e}"))?
            .connect_timeout(Duration::from_millis(500));
        let ch = endpoint.connect_lazy();
        map.insert(key, ch.clone());
        Ok(ch)
    }
}

/// A channel's [`ChannelTrust`], replaced when a config block changes the TLS CAs of the
/// channel's orderer organisations; `None` inside without TLS.
#[derive(Clone, Default)]
pub struct SharedTrust(Arc<std::sync::RwLock<Option<Arc<ChannelTrust>>>>);

impl SharedTrust {
    /// Shared trust starting as `trust`.
    pub fn new(trust: Option<Arc<ChannelTrust>>) -> Self {
        SharedTrust(Arc::new(std::sync::RwLock::new(trust)))
    }

    /// The trust in force.
    pub fn current(&self) -> Option<Arc<ChannelTrust>> {
        self.0.read().expect("trust lock").clone()
    }

    /// Puts `trust` in force for new connections and checks.
    pub fn replace(&self, trust: Option<Arc<ChannelTrust>>) {
        *self.0.write().expect("trust lock") = trust;
    }
}

/// How long a follower may take to install a snapshot, pulling the blocks it lacks.
const SNAPSHOT_INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one [`RaftRpc::Blocks`] call may take.
const BLOCKS_TIMEOUT: Duration = Duration::from_secs(60);

/// Pulls blocks of one channel's chain from another orderer of the channel, over the cluster
/// transport (mutual TLS as the channel's Raft traffic): how a node that installs a snapshot
/// gets the blocks below the snapshot's height mark that it does not have.
#[derive(Clone)]
pub struct BlockPuller {
    channel: String,
    connections: Connections,
    trust: SharedTrust,
}

impl BlockPuller {
    /// A puller for `channel` over `connections`, with mutual TLS as `trust` says.
    pub fn new(channel: &str, connections: Connections, trust: SharedTrust) -> Self {
        BlockPuller {
            channel: channel.to_string(),
            connections,
            trust,
        }
    }

    /// Blocks from `from` (towards `to`, exclusive) of the orderer at `addr`: consecutive, at
    /// least one unless it has none from `from`, and at most a reply's worth.
    pub async fn pull(&self, addr: &str, from: u64, to: u64) -> Result<Vec<Vec<u8>>, String> {
        let client = ClusterClient {
            channel: self.channel.clone(),
            addr: addr.to_string(),
            connections: self.connections.clone(),
            trust: self.trust.clone(),
        };
        match client
            .call(RaftRpc::Blocks { from, to }, BLOCKS_TIMEOUT)
            .await
        {
            Ok(ClusterReply::Blocks(blocks)) => Ok(blocks.into_iter().map(|b| b.0).collect()),
            Ok(_) => Err(format!(
                "{addr} sent an unexpected reply to a block request"
            )),
            Err(CallError::Unreachable(m) | CallError::Network(m)) => Err(m),
            Err(CallError::Remote(m)) => Err(format!("{addr} refused the block request: {m}")),
        }
    }
}

/// openraft's network factory for one channel.
#[derive(Clone)]
pub struct ClusterNetwork {
    channel: String,
    connections: Connections,
    trust: SharedTrust,
}

impl ClusterNetwork {
    /// The network of `channel`'s group over `connections`, with mutual TLS as `trust` says
    /// when each RPC is sent.
    pub fn new(channel: &str, connections: Connections, trust: SharedTrust) -> Self {
        ClusterNetwork {
            channel: channel.to_string(),
            connections,
            trust,
        }
    }
}

/// A connection from this node's group to one peer node.
pub struct ClusterClient {
    channel: String,
    addr: String,
    connections: Connections,
    trust: SharedTrust,
}

impl RaftNetworkFactory<TypeConfig> for ClusterNetwork {
    type Network = ClusterClient;
    async fn new_client(&mut self, _target: u64, node: &BasicNode) -> ClusterClient {
        ClusterClient {
            channel: self.channel.clone(),
            addr: node.addr.clone(),
            connections: self.connections.clone(),
            trust: self.trust.clone(),
        }
    }
}

enum CallError {
    Unreachable(String),
    Network(String),
    Remote(String),
}

impl ClusterClient {
    async fn call(&self, rpc: RaftRpc, timeout: Duration) -> Result<ClusterReply, CallError> {
        let body = bincode::serialize(&ClusterRequest {
            channel: self.channel.clone(),
            rpc,
        })
        .map_err(|e| CallError::Network(e.to_string()))?;
        let channel = self
            .connections
            .get(&self.addr, self.trust.current().as_deref())
            .map_err(CallError::Unreachable)?;
        call_raw(channel, &self.addr, body, timeout).await
    }
}

/// Sends one encoded [`ClusterRequest`] on `channel` and decodes the reply (a refusal by the
/// receiver is an error carrying its reason).
pub async fn send(
    channel: Channel,
    addr: &str,
    request: &ClusterRequest,
    timeout: Duration,
) -> Result<ClusterReply, String> {
    let body = bincode::serialize(request).map_err(|e| e.to_string())?;
    call_raw(channel, addr, body, timeout)
        .await
        .map_err(|e| match e {
            CallError::Unreachable(m) | CallError::Network(m) | CallError::Remote(m) => m,
        })
}

async fn call_raw(
    channel: Channel,
    addr: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<ClusterReply, CallError> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(256 * 1024 * 1024);
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| CallError::Unreachable(format!("{addr}: {e}")))?;
        let reply = grpc
            .unary(
                tonic::Request::new(body),
                http::uri::PathAndQuery::from_static(RAFT_METHOD),
                BytesCodec,
            )
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unavailable => {
                    CallError::Unreachable(format!("{addr}: {}", s.message()))
                }
                _ => CallError::Network(format!("{addr}: {}", s.message())),
            })?;
        bincode::deserialize::<ClusterReply>(reply.get_ref())
            .map_err(|e| CallError::Network(format!("undecodable reply from {addr}: {e}")))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(ClusterReply::Error(e))) => Err(CallError::Remote(e)),
        Ok(r) => r,
        Err(_) => Err(CallError::Network(format!(
            "{addr} did not answer within {timeout:?}"
        ))),
    }
}

fn rpc_error<E: std::error::Error>(
    target: &ClusterClient,
    e: CallError,
) -> RPCError<u64, BasicNode, E> {
    match e {
        CallError::Unreachable(m) => RPCError::Unreachable(Unreachable::new(&AnyError::error(m))),
        CallError::Network(m) => RPCError::Network(NetworkError::new(&AnyError::error(m))),
        CallError::Remote(m) => RPCError::Network(NetworkError::new(&AnyError::error(format!(
            "{} refused: {m}",
            target.addr
        )))),
    }
}

fn unexpected<E: std::error::Error>(what: &str) -> RPCError<u64, BasicNode, E> {
    RPCError::Network(NetworkError::new(&AnyError::error(format!(
        "unexpected reply to {what}"
    ))))
}

impl RaftNetwork<TypeConfig> for ClusterClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        match self
            .call(RaftRpc::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(ClusterReply::AppendEntries(r)) => Ok(r),
            Ok(_) => Err(unexpected("AppendEntries")),
            Err(e) => Err(rpc_error(self, e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        match self
            .call(RaftRpc::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(ClusterReply::InstallSnapshot(r)) => Ok(r),
            Ok(_) => Err(unexpected("InstallSnapshot")),
            Err(e) => Err(rpc_error(self, e)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        // The receiver pulls the blocks it lacks before it answers, which takes as long as
        // its gap: the call gets its own generous limit instead of openraft's per-chunk one.
        let rpc = RaftRpc::FullSnapshot {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot.into_inner(),
        };
        let reply = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            reply = self.call(rpc, SNAPSHOT_INSTALL_TIMEOUT) => reply,
        };
        match reply {
            Ok(ClusterReply::Snapshot(r)) => Ok(r),
            Ok(_) => Err(StreamingError::Network(NetworkError::new(
                &AnyError::error("unexpected reply to FullSnapshot"),
            ))),
            Err(CallError::Unreachable(m)) => Err(StreamingError::Unreachable(Unreachable::new(
                &AnyError::error(m),
            ))),
            Err(CallError::Network(m)) => Err(StreamingError::Network(NetworkError::new(
                &AnyError::error(m),
            ))),
            Err(CallError::Remote(m)) => Err(StreamingError::Network(NetworkError::new(
                &AnyError::error(format!("{} refused the snapshot: {m}", self.addr)),
            ))),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        match self.call(RaftRpc::Vote(rpc), option.hard_ttl()).await {
            Ok(ClusterReply::Vote(r)) => Ok(r),
            Ok(_) => Err(unexpected("Vote")),
            Err(e) => Err(rpc_error(self, e)),
        }
    }
}
