//! Fabric's `orderer.AtomicBroadcast` service: Broadcast and Deliver.
//!
//! Broadcast checks each envelope (well-formed, channel exists, size within
//! `AbsoluteMaxBytes`, creator's signature and the channel's `Writers` policy), forwards it to
//! the Raft leader when this orderer is a follower, and answers `SUCCESS` only once the block
//! holding it is committed. Replies on one stream come in the order the envelopes were sent.
//! A `CONFIG_UPDATE` is also authorized against the current config and ordered as a CONFIG
//! block of its own (see [`crate::update`]); a raw `CONFIG` envelope is refused.
//!
//! Deliver serves blocks for a signed `SeekInfo` after checking the timestamp window and the
//! channel's `Readers` policy, then answers `SUCCESS` and waits for the next request.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cambium_msp::policy::SignedData;
use cambium_primitives::{HeaderType, SeekBehavior, SeekContentType, SeekPosition};
use cambium_wire::common::{self, Status};
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::atomic_broadcast_server::AtomicBroadcast;
use cambium_wire::orderer::{deliver_response, BroadcastResponse, DeliverResponse};
use cambium_wire::tx::{parse_envelope, EnvelopeView};
use cambium_wire::Message;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::chain::{Chain, LEADER_WAIT};
use crate::cluster::ChannelTrust;
use crate::node::NodeInner;
use crate::settings::{READERS, WRITERS};
use crate::status::Rejection;

/// gRPC metadata key marking an envelope forwarded by a follower, so it is never forwarded again.
const FORWARDED: &str = "x-cambium-forwarded";
/// Fabric's Deliver time window (`peer.authentication.timewindow`): 15 minutes.
const TIME_WINDOW_SECS: i64 = 15 * 60;

/// The AtomicBroadcast service of an orderer node.
#[derive(Clone)]
pub struct AtomicBroadcastService {
    pub(crate) node: Arc<NodeInner>,
}

/// The current unix time in seconds (for signature and certificate checks, never for state).
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn signed_data(view: &EnvelopeView) -> Result<Vec<SignedData>, Rejection> {
    let identity = view.creator.clone().ok_or_else(|| {
        Rejection::bad_request(
            "the envelope's signature header has no creator; sign it with an enrolled identity",
        )
    })?;
    Ok(vec![SignedData {
        data: view.payload_bytes.clone(),
        identity,
        signature: view.signature.clone(),
    }])
}

impl NodeInner {
    /// Parses an envelope and finds its channel (shared by Broadcast and Deliver).
    fn envelope_channel(&self, bytes: &[u8]) -> Result<(EnvelopeView, Arc<Chain>), Rejection> {
        let view = parse_envelope(bytes)
            .map_err(|e| Rejection::bad_request(format!("malformed envelope: {e}")))?;
        let chain = self.view_channel(&view)?;
        Ok((view, chain))
    }

    /// The chain an envelope names.
    fn view_channel(&self, view: &EnvelopeView) -> Result<Arc<Chain>, Rejection> {
        let channel = &view.channel_header.channel_id;
        self.chain(channel).ok_or_else(|| {
            Rejection::not_found(format!(
                "channel '{channel}' does not exist on this orderer; check the channel name or join the orderer to it"
            ))
        })
    }

    /// Checks one broadcast envelope: well-formed, channel known, size, header type, creator's
    /// signature and the `Writers` policy; a CONFIG_UPDATE is also authorized against the
    /// current config (and again when it is cut). Returns the chain and whether the envelope
    /// is a CONFIG_UPDATE; fills in `labels` as far as the envelope could be read.
    fn check_broadcast(
        &self,
        bytes: &[u8],
        labels: &mut BroadcastLabels,
    ) -> Result<(Arc<Chain>, bool), Rejection> {
        let view = parse_envelope(bytes)
            .map_err(|e| Rejection::bad_request(format!("malformed envelope: {e}")))?;
        labels.channel.clone_from(&view.channel_header.channel_id);
        labels.header_type = view
            .channel_header
            .known_header_type()
            .map_or("UNKNOWN", HeaderType::name);
        let chain = self.view_channel(&view)?;
        let state = chain.current();
        let max = state.settings.batch.absolute_max_bytes as usize;
        if bytes.len() > max {
            return Err(Rejection::bad_request(format!(
                "envelope of {} bytes exceeds the channel's AbsoluteMaxBytes of {max} bytes; send a smaller transaction, or raise the channel's BatchSize AbsoluteMaxBytes with a config update (`cambium channel update --absolute-max-bytes N`)",
                bytes.len()
            )));
        }
        let config_update = match view.channel_header.known_header_type() {
            Some(HeaderType::EndorserTransaction | HeaderType::Message) => false,
            Some(HeaderType::ConfigUpdate) => true,
            Some(HeaderType::Config) => {
                return Err(Rejection::bad_request(
                    "a CONFIG envelope cannot be broadcast: only the orderer writes CONFIG \
                     transactions; send a CONFIG_UPDATE (header type 2) signed by the required \
                     admins instead (cambium channel update)",
                ))
            }
            _ => {
                return Err(Rejection::bad_request(format!(
                    "header type {} cannot be broadcast; send ENDORSER_TRANSACTION (3) or MESSAGE (0) envelopes",
                    view.channel_header.header_type
                )))
            }
        };
        let signed = signed_data(&view)?;
        // Checked on the calling task: each envelope's check runs in its own task, so the
        // runtime's workers verify signatures in parallel without handing each one to the
        // blocking pool (a thread hand-off per envelope that cost more than it saved).
        let now = now_secs();
        state
            .settings
            .check_policy(WRITERS, &signed, now)
            .map_err(Rejection::forbidden)?;
        if config_update {
            let config = state.config.as_ref().ok_or_else(crate::chain::no_config)?;
            crate::update::authorize(config, &view, now)?;
        }
        Ok((chain, config_update))
    }

    /// Orders a checked envelope: hands it to the local cutter when this node leads (keeping
    /// the stream's order), otherwise forwards it to the leader.
    async fn route(
        self: &Arc<Self>,
        chain: Arc<Chain>,
        bytes: Vec<u8>,
        config_update: bool,
        forwarded: bool,
    ) -> Result<Pending, Rejection> {
        let leader = self.wait_for_leader(&chain).await?;
        if leader == chain.node_id {
            return Ok(Pending::Ordered(chain.enqueue(bytes, config_update).await?));
        }
        if forwarded {
            return Err(Rejection::unavailable(
                "this orderer is not the Raft leader either; retry in a moment",
            ));
        }
        let addr = chain.address_of(leader).ok_or_else(|| {
            Rejection::unavailable(format!(
                "the Raft leader {leader} has no known address; retry"
            ))
        })?;
        let node = self.clone();
        Ok(Pending::Forwarded(tokio::spawn(async move {
            node.forward(&addr, chain.trust.current().as_deref(), bytes)
                .await
        })))
    }

    async fn wait_for_leader(&self, chain: &Chain) -> Result<u64, Rejection> {
        let mut metrics = chain.raft.metrics();
        let wait = async {
            loop {
                if let Some(leader) = metrics.borrow_and_update().current_leader {
                    return Some(leader);
                }
                if metrics.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(LEADER_WAIT, wait)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| {
                Rejection::unavailable(format!(
                    "channel '{}' has no Raft leader (no quorum of orderers reachable); retry later",
                    chain.settings().channel_id
                ))
            })
    }

    /// Sends an envelope to the leader's Broadcast and relays its answer.
    async fn forward(
        &self,
        addr: &str,
        trust: Option<&ChannelTrust>,
        bytes: Vec<u8>,
    ) -> Result<(), Rejection> {
        let channel = self
            .connections
            .get(addr, trust)
            .map_err(Rejection::unavailable)?;
        let mut client = AtomicBroadcastClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let envelope = common::Envelope::decode(bytes.as_slice())
            .map_err(|e| Rejection::bad_request(format!("malformed envelope: {e}")))?;
        let mut request = tonic::Request::new(tokio_stream::iter([envelope]));
        request
            .metadata_mut()
            .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
        let unavailable = |e: tonic::Status| {
            Rejection::unavailable(format!(
                "forwarding to the leader at {addr} failed: {}",
                e.message()
            ))
        };
        let mut replies = client
            .broadcast(request)
            .await
            .map_err(unavailable)?
            .into_inner();
        let reply = replies
            .message()
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                Rejection::unavailable(format!("the leader at {addr} closed the stream; retry"))
            })?;
        match Status::try_from(reply.status) {
            Ok(Status::Success) => Ok(()),
            Ok(status) => Err(Rejection::new(status, reply.info)),
            Err(_) => Err(Rejection::internal(format!(
                "the leader answered unknown status {}",
                reply.status
            ))),
        }
    }

    /// Checks a Deliver request; returns the chain and the block range and options.
    fn deliver_request(
        &self,
        bytes: &[u8],
    ) -> Result<(Arc<Chain>, cambium_primitives::SeekInfo), Rejection> {
        let (view, chain) = self.envelope_channel(bytes)?;
        if view.channel_header.known_header_type() != Some(HeaderType::DeliverSeekInfo) {
            return Err(Rejection::bad_request(format!(
                "Deliver expects a DELIVER_SEEK_INFO (5) envelope, got header type {}",
                view.channel_header.header_type
            )));
        }
        let now = now_secs();
        let Some(ts) = view.channel_header.timestamp else {
            return Err(Rejection::bad_request(
                "the channel header has no timestamp; set it to the current time",
            ));
        };
        if (ts.seconds - now).abs() > TIME_WINDOW_SECS {
            return Err(Rejection::bad_request(format!(
                "the request timestamp is {}s away from the orderer's clock, more than the 15 minute window; fix the client's clock",
                (ts.seconds - now).abs()
            )));
        }
        let signed = signed_data(&view)?;
        chain
            .settings()
            .check_policy(READERS, &signed, now)
            .map_err(Rejection::forbidden)?;
        let seek = cambium_wire::decode_seek_info(&view.data)
            .map_err(|e| Rejection::bad_request(format!("malformed SeekInfo: {e}")))?;
        Ok((chain, seek))
    }
}

/// What the metrics count a Broadcast envelope under.
#[derive(Debug, Default)]
struct BroadcastLabels {
    /// The channel the envelope names (empty if it could not be read).
    channel: String,
    /// Fabric's name of its header type (empty if it could not be read).
    header_type: &'static str,
}

/// A checked envelope with its bytes, handed from the checking task to the routing stage.
struct Checked {
    bytes: Vec<u8>,
    labels: BroadcastLabels,
    result: Result<(Arc<Chain>, bool), Rejection>,
}

/// An envelope's outcome still to come, in the order replies are sent.
pub(crate) enum Pending {
    /// In this node's cutter: resolves when its block is committed.
    Ordered(oneshot::Receiver<Result<(), Rejection>>),
    /// Forwarded to the leader, whose answer is relayed.
    Forwarded(JoinHandle<Result<(), Rejection>>),
    /// Already decided (refused before ordering).
    Done(Result<(), Rejection>),
}

impl Pending {
    async fn outcome(self) -> Result<(), Rejection> {
        match self {
            Pending::Done(outcome) => outcome,
            Pending::Ordered(rx) => rx.await.unwrap_or_else(|_| {
                Err(Rejection::unavailable(
                    "the channel stopped before the envelope was ordered; retry",
                ))
            }),
            Pending::Forwarded(task) => task.await.unwrap_or_else(|e| {
                Err(Rejection::internal(format!(
                    "forwarding the envelope failed: {e}"
                )))
            }),
        }
    }
}

fn status_response(status: Status) -> DeliverResponse {
    DeliverResponse {
        r#type: Some(deliver_response::Type::Status(status as i32)),
    }
}

/// Serves one SeekInfo: sends blocks, then the final status.
async fn serve_seek(
    chain: &Chain,
    seek: cambium_primitives::SeekInfo,
    out: &mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
) -> Status {
    let mut height_rx = chain.height.clone();
    let mut stopped = chain.stopped.clone();
    let height = *height_rx.borrow();
    let position = |p: SeekPosition| match p {
        SeekPosition::Oldest => 0,
        SeekPosition::Newest => height.saturating_sub(1),
        SeekPosition::Specified(n) => n,
        SeekPosition::NextCommit => height,
    };
    let start = position(seek.start);
    let stop = position(seek.stop);
    if stop < start {
        return Status::BadRequest;
    }
    if start > height {
        return Status::NotFound;
    }
    let mut number = start;
    loop {
        while number >= *height_rx.borrow_and_update() {
            if seek.behavior == SeekBehavior::FailIfNotReady {
                return Status::NotFound;
            }
            tokio::select! {
                changed = height_rx.changed() => if changed.is_err() {
                    return Status::ServiceUnavailable;
                },
                // The channel was removed or the node is stopping: end the stream so the
                // task lets go of the channel's stores.
                _ = stopped.wait_for(|s| *s) => return Status::ServiceUnavailable,
            }
        }
        let stored = match chain.blocks.block(number) {
            Ok(Some(b)) => b,
            _ => return Status::InternalServerError,
        };
        let Ok(mut block) = common::Block::decode(stored.bytes.as_slice()) else {
            return Status::InternalServerError;
        };
        if seek.content_type == SeekContentType::HeaderWithSig {
            block.data = None;
        }
        let response = DeliverResponse {
            r#type: Some(deliver_response::Type::Block(block)),
        };
        tokio::select! {
            sent = out.send(Ok(response)) => if sent.is_err() {
                return Status::Success;
            },
            _ = stopped.wait_for(|s| *s) => return Status::ServiceUnavailable,
        }
        if number == stop {
            return Status::Success;
        }
        number += 1;
    }
}

#[tonic::async_trait]
impl AtomicBroadcast for AtomicBroadcastService {
    type BroadcastStream = ReceiverStream<Result<BroadcastResponse, tonic::Status>>;
    type DeliverStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;

    async fn broadcast(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        let forwarded = request.metadata().contains_key(FORWARDED);
        let mut incoming = request.into_inner();
        let (out_tx, out_rx) = mpsc::channel(1024);
        // Three stages per stream, so replies keep the sending order while work overlaps:
        // envelopes are checked concurrently, each in its own task (signatures dominate and
        // the runtime's workers verify them in parallel); the checked ones enter the cutter
        // in the order they were sent; replies wait for each envelope's outcome in order.
        let (checked_tx, mut checked_rx) = mpsc::channel::<JoinHandle<Checked>>(1024);
        let (pending_tx, mut pending_rx) = mpsc::channel::<(BroadcastLabels, Pending)>(1024);
        let node = self.node.clone();
        let mut stop = self.node.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let envelope = tokio::select! {
                    next = incoming.next() => match next {
                        Some(Ok(envelope)) => envelope,
                        _ => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                };
                let node = node.clone();
                let check = tokio::spawn(async move {
                    let bytes = envelope.encode_to_vec();
                    let mut labels = BroadcastLabels::default();
                    let result = node.check_broadcast(&bytes, &mut labels);
                    Checked {
                        bytes,
                        labels,
                        result,
                    }
                });
                if checked_tx.send(check).await.is_err() {
                    break;
                }
            }
        });
        let node = self.node.clone();
        tokio::spawn(async move {
            while let Some(check) = checked_rx.recv().await {
                let (labels, pending) = match check.await {
                    Ok(Checked {
                        bytes,
                        labels,
                        result: Ok((chain, config_update)),
                    }) => {
                        let routed = node.route(chain, bytes, config_update, forwarded).await;
                        (labels, routed.unwrap_or_else(|r| Pending::Done(Err(r))))
                    }
                    Ok(Checked {
                        labels,
                        result: Err(r),
                        ..
                    }) => (labels, Pending::Done(Err(r))),
                    Err(e) => (
                        BroadcastLabels::default(),
                        Pending::Done(Err(Rejection::internal(format!(
                            "checking the envelope failed: {e}"
                        )))),
                    ),
                };
                if pending_tx.send((labels, pending)).await.is_err() {
                    break;
                }
            }
        });
        let metrics = self.node.metrics.clone();
        tokio::spawn(async move {
            while let Some((labels, pending)) = pending_rx.recv().await {
                let outcome = pending.outcome().await;
                let status = outcome.as_ref().err().map_or(Status::Success, |r| r.status);
                metrics.record_broadcast(&labels.channel, labels.header_type, status.as_str_name());
                let reply = match outcome {
                    Ok(()) => BroadcastResponse {
                        status: Status::Success as i32,
                        info: String::new(),
                    },
                    Err(r) => BroadcastResponse {
                        status: r.status as i32,
                        info: r.info,
                    },
                };
                if out_tx.send(Ok(reply)).await.is_err() {
                    break;
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(out_rx)))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let (out_tx, out_rx) = mpsc::channel(16);
        let node = self.node.clone();
        let mut stop = self.node.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let envelope = tokio::select! {
                    next = incoming.next() => match next {
                        Some(Ok(envelope)) => envelope,
                        _ => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                };
                let status = match node.deliver_request(&envelope.encode_to_vec()) {
                    Ok((chain, seek)) => serve_seek(&chain, seek, &out_tx).await,
                    Err(rejection) => {
                        tracing::info!("deliver refused: {rejection}");
                        rejection.status
                    }
                };
                if out_tx.send(Ok(status_response(status))).await.is_err() {
                    break;
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(out_rx)))
    }
}

/// How long the node waits for in-flight work when it stops.
pub(crate) const STOP_GRACE: Duration = Duration::from_millis(200);
