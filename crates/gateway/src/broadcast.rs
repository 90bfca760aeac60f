//! Submitting to orderers: a small pool of long-lived `AtomicBroadcast.Broadcast` streams per
//! orderer, with submissions pipelined on them, and failover between orderers.
//!
//! An orderer answers the envelopes of one Broadcast stream in order, one reply each. So a
//! stream can carry many submitters at once: each submitter queues a waiter and sends its
//! envelope under one lock (keeping the queue in the stream's order), and a reader task hands
//! each reply to the oldest waiter. A stream that breaks fails its waiters (who fail over) and
//! is replaced on the next submission. With [`crate::GatewayOptions::broadcast_streams`]
//! streams per orderer, 64 concurrent submitters share a few streams over one connection
//! instead of opening 64.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cambium_wire::common::{Envelope, Status as OrdererStatus};
use cambium_wire::gateway::ErrorDetail;
use cambium_wire::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use cambium_wire::orderer::BroadcastResponse;
use tokio::sync::{mpsc, oneshot};
use tonic::Code;

use crate::connect::{Connections, MAX_MESSAGE_SIZE};

/// An orderer to submit to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrdererTarget {
    /// `host:port`.
    pub(crate) address: String,
    /// The orderer organisation's MSP ID (empty for the channel-wide addresses).
    pub(crate) msp_id: String,
    /// The orderer organisation's TLS roots (PEM).
    pub(crate) tls_roots: Vec<Vec<u8>>,
}

/// How a submission ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// An orderer refused the transaction (a status other than SUCCESS and
    /// SERVICE_UNAVAILABLE): Fabric reports it as Aborted with the orderer's status and info.
    Rejected {
        /// The orderer's status name, e.g. `BAD_REQUEST`.
        status: String,
        /// The orderer's info text.
        info: String,
        /// The orderer's detail.
        detail: ErrorDetail,
    },
    /// No orderer could take the transaction; one detail per orderer tried.
    Unreachable(Vec<ErrorDetail>),
}

type Reply = Result<BroadcastResponse, String>;

struct StreamState {
    sender: mpsc::UnboundedSender<Envelope>,
    waiters: VecDeque<oneshot::Sender<Reply>>,
    broken: Option<String>,
}

/// One open Broadcast stream with its queue of waiting submitters.
struct BroadcastStream {
    state: Mutex<StreamState>,
}

impl BroadcastStream {
    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn usable(&self) -> bool {
        self.lock().broken.is_none()
    }

    fn pending(&self) -> usize {
        self.lock().waiters.len()
    }

    /// Queues `envelope`; the receiver gets this envelope's reply.
    fn send(&self, envelope: Envelope) -> Result<oneshot::Receiver<Reply>, String> {
        let mut state = self.lock();
        if let Some(reason) = &state.broken {
            return Err(reason.clone());
        }
        let (tx, rx) = oneshot::channel();
        if state.sender.send(envelope).is_err() {
            let reason = "the Broadcast stream closed".to_owned();
            state.broken = Some(reason.clone());
            return Err(reason);
        }
        state.waiters.push_back(tx);
        Ok(rx)
    }

    fn fail(&self, reason: String) {
        let mut state = self.lock();
        state.broken = Some(reason.clone());
        for waiter in state.waiters.drain(..) {
            let _ = waiter.send(Err(reason.clone()));
        }
    }

    fn deliver(&self, reply: BroadcastResponse) {
        if let Some(waiter) = self.lock().waiters.pop_front() {
            // The submitter may have given up (timeout); its reply is dropped.
            let _ = waiter.send(Ok(reply));
        }
    }
}

/// Opens a Broadcast stream on `channel` and starts its reader task.
async fn open_stream(
    channel: tonic::transport::Channel,
    address: &str,
) -> Result<Arc<BroadcastStream>, String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut client = AtomicBroadcastClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let stream = Arc::new(BroadcastStream {
        state: Mutex::new(StreamState {
            sender,
            waiters: VecDeque::new(),
            broken: None,
        }),
    });
    let mut replies = client
        .broadcast(tokio_stream::wrappers::UnboundedReceiverStream::new(
            receiver,
        ))
        .await
        .map_err(|s| format!("opening a Broadcast stream: {}", s.message()))?
        .into_inner();
    let reader = Arc::clone(&stream);
    let address = address.to_owned();
    tokio::spawn(async move {
        loop {
            match replies.message().await {
                Ok(Some(reply)) => reader.deliver(reply),
                Ok(None) => {
                    reader.fail(format!("{address} closed the Broadcast stream"));
                    break;
                }
                Err(status) => {
                    reader.fail(format!(
                        "the Broadcast stream to {address} failed: {}",
                        status.message()
                    ));
                    break;
                }
            }
        }
    });
    Ok(stream)
}

/// The streams open to one orderer.
#[derive(Default)]
struct Pool {
    streams: Vec<Arc<BroadcastStream>>,
    next: usize,
}

/// Broadcast streams to every orderer the gateway has submitted to, by address.
pub(crate) struct Broadcaster {
    connections: Arc<Connections>,
    streams_per_orderer: usize,
    timeout: Duration,
    pools: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<Pool>>>>,
    rotation: AtomicUsize,
}

impl Broadcaster {
    pub(crate) fn new(
        connections: Arc<Connections>,
        streams_per_orderer: usize,
        timeout: Duration,
    ) -> Broadcaster {
        Broadcaster {
            connections,
            streams_per_orderer: streams_per_orderer.max(1),
            timeout,
            pools: Mutex::new(BTreeMap::new()),
            rotation: AtomicUsize::new(0),
        }
    }

    /// Submits `envelope` to the orderers, starting at a rotating position so load spreads,
    /// and moving to the next orderer when one is unreachable, times out or answers
    /// SERVICE_UNAVAILABLE.
    pub(crate) async fn submit(
        &self,
        orderers: &[OrdererTarget],
        envelope: Envelope,
    ) -> Result<(), SubmitError> {
        let mut details = Vec::new();
        let start = self.rotation.fetch_add(1, Ordering::Relaxed);
        for i in 0..orderers.len() {
            let target = &orderers[(start + i) % orderers.len()];
            let detail = |message: String| ErrorDetail {
                address: target.address.clone(),
                msp_id: target.msp_id.clone(),
                message,
            };
            match self.submit_to(target, envelope.clone()).await {
                Ok(reply) if reply.status == OrdererStatus::Success as i32 => return Ok(()),
                Ok(reply) if reply.status == OrdererStatus::ServiceUnavailable as i32 => {
                    tracing::debug!(orderer = %target.address, info = %reply.info, "orderer unavailable; trying the next");
                    details.push(detail(format!(
                        "received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, info={}",
                        reply.info
                    )));
                }
                Ok(reply) => {
                    let status = OrdererStatus::try_from(reply.status)
                        .map(|s| s.as_str_name().to_owned())
                        .unwrap_or_else(|_| reply.status.to_string());
                    let message = format!(
                        "received unsuccessful response from orderer: status={status}, info={}",
                        reply.info
                    );
                    return Err(SubmitError::Rejected {
                        status,
                        info: reply.info,
                        detail: detail(message),
                    });
                }
                Err(message) => {
                    tracing::debug!(orderer = %target.address, %message, "orderer unreachable; trying the next");
                    details.push(detail(message));
                }
            }
        }
        Err(SubmitError::Unreachable(details))
    }

    async fn submit_to(
        &self,
        target: &OrdererTarget,
        envelope: Envelope,
    ) -> Result<BroadcastResponse, String> {
        // The timeout covers dialling and opening the stream too, so an unreachable orderer
        // costs at most one broadcast timeout before the next one is tried.
        let attempt = async {
            let stream = self.stream(target).await?;
            let reply = stream.send(envelope)?;
            reply
                .await
                .map_err(|_| "the Broadcast stream closed before replying".to_owned())?
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no reply within the broadcast timeout of {} ms",
                self.timeout.as_millis()
            )),
        }
    }

    /// A usable stream to `target`: an idle one if there is one, a new one while the pool has
    /// room, otherwise the next in turn.
    async fn stream(&self, target: &OrdererTarget) -> Result<Arc<BroadcastStream>, String> {
        let pool = {
            let mut pools = self
                .pools
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(pools.entry(target.address.clone()).or_default())
        };
        let mut pool = pool.lock().await;
        pool.streams.retain(|s| s.usable());
        if let Some(idle) = pool.streams.iter().find(|s| s.pending() == 0) {
            return Ok(Arc::clone(idle));
        }
        if pool.streams.len() < self.streams_per_orderer {
            let channel = self
                .connections
                .channel(&target.address, &target.tls_roots)
                .map_err(|e| e.to_string())?;
            let stream = open_stream(channel, &target.address).await?;
            pool.streams.push(Arc::clone(&stream));
            return Ok(stream);
        }
        pool.next = (pool.next + 1) % pool.streams.len();
        Ok(Arc::clone(&pool.streams[pool.next]))
    }

    /// How many streams are open to `address` (for tests and diagnostics).
    pub(crate) async fn open_streams(&self, address: &str) -> usize {
        let pool = self
            .pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(address)
            .cloned();
        match pool {
            Some(pool) => pool
                .lock()
                .await
                .streams
                .iter()
                .filter(|s| s.usable())
                .count(),
            None => 0,
        }
    }
}

/// The gRPC code Fabric gives a submission that reached no orderer.
pub(crate) const UNREACHABLE_CODE: Code = Code::Unavailable;
