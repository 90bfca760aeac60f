//! The peer's `protos.Deliver` service: `Deliver` (full blocks), `DeliverFiltered` (filtered
//! blocks) and `DeliverWithPrivateData` (full blocks; Cambium keeps no private data).
//!
//! Each request on a stream is one signed `DELIVER_SEEK_INFO` envelope, checked in Fabric's
//! order (`common/deliver/deliver.go`): the envelope and its headers decode (else
//! `BAD_REQUEST`), the timestamp is within `limits.timeWindowSecs` of the peer's clock
//! (`BAD_REQUEST`), the channel is joined (`NOT_FOUND`), the creator satisfies the ACL
//! `event/Block` or `event/FilteredBlock` — by default `/Channel/Application/Readers`
//! (`FORBIDDEN`) — and the `SeekInfo` decodes with a start and a stop (`BAD_REQUEST`).
//!
//! Positions: Oldest = 0, Newest = height − 1, NextCommit = height, Specified(n) = n. A stop
//! below the start is `BAD_REQUEST`; a start above the height is `NOT_FOUND`. Missing
//! blocks are waited for (`BLOCK_UNTIL_READY`) or answered `NOT_FOUND`
//! (`FAIL_IF_NOT_READY`). After the stop block the service sends `SUCCESS` and waits for the
//! next request on the same stream. Blocks are read from the ledger one at a time, so a slow
//! reader holds at most the stream's small send buffer.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cambium_msp::policy::SignedData;
use cambium_primitives::{HeaderType, SeekBehavior, SeekContentType, SeekInfo, SeekPosition};
use cambium_wire::common::{self, Status};
use cambium_wire::peer::deliver_response::Type;
use cambium_wire::peer::deliver_server::Deliver;
use cambium_wire::peer::{BlockAndPrivateData, DeliverResponse};
use cambium_wire::tx::parse_envelope;
use cambium_wire::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::channel::ChannelState;
use crate::node::Shared;

/// The policy Fabric's default ACLs give `event/Block` and `event/FilteredBlock`.
pub const DEFAULT_EVENT_POLICY: &str = "/Channel/Application/Readers";

/// Which RPC a stream belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Full,
    Filtered,
    PrivateData,
}

impl Kind {
    /// The ACL resource Fabric checks for this RPC.
    fn resource(self) -> &'static str {
        match self {
            Kind::Filtered => "event/FilteredBlock",
            Kind::Full | Kind::PrivateData => "event/Block",
        }
    }
}

/// Serves `protos.Deliver` from the peer's ledgers.
#[derive(Clone)]
pub(crate) struct DeliverService {
    shared: Arc<Shared>,
}

impl DeliverService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        DeliverService { shared }
    }

    fn open(
        &self,
        kind: Kind,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> ReceiverStream<Result<DeliverResponse, tonic::Status>> {
        let mut incoming = request.into_inner();
        let (out, rx) = mpsc::channel(8);
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            while let Some(Ok(envelope)) = incoming.next().await {
                let status = match check(&shared, kind, &envelope.encode_to_vec()) {
                    Ok((channel, seek)) => serve(&shared, &channel, kind, seek, &out).await,
                    Err((status, reason)) => {
                        tracing::info!(status = status.as_str_name(), "deliver refused: {reason}");
                        status.into()
                    }
                };
                let Some(status) = status_or_gone(status) else {
                    break;
                };
                let reply = DeliverResponse {
                    r#type: Some(Type::Status(status as i32)),
                };
                if out.send(Ok(reply)).await.is_err() {
                    break;
                }
            }
        });
        ReceiverStream::new(rx)
    }
}

/// `None` when the client went away (nothing more to send).
fn status_or_gone(status: Served) -> Option<Status> {
    match status {
        Served::Status(s) => Some(s),
        Served::Gone => None,
    }
}

/// How serving one request ended.
enum Served {
    Status(Status),
    Gone,
}

impl From<Status> for Served {
    fn from(s: Status) -> Self {
        Served::Status(s)
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

type Refusal = (Status, String);

/// Checks one request; returns the channel and the seek, or the status to answer.
fn check(
    shared: &Shared,
    kind: Kind,
    bytes: &[u8],
) -> Result<(Arc<ChannelState>, SeekInfo), Refusal> {
    let bad = |m: String| (Status::BadRequest, m);
    let view = parse_envelope(bytes).map_err(|e| bad(format!("malformed envelope: {e}")))?;
    let header = &view.channel_header;
    if header.known_header_type() != Some(HeaderType::DeliverSeekInfo) {
        return Err(bad(format!(
            "Deliver expects a DELIVER_SEEK_INFO (5) envelope, got header type {}",
            header.header_type
        )));
    }
    let Some(ts) = header.timestamp else {
        return Err(bad("the channel header has no timestamp".to_owned()));
    };
    let now = now_secs();
    let window = i64::try_from(shared.config.limits.time_window_secs).unwrap_or(i64::MAX);
    if (ts.seconds - now).abs() > window {
        return Err(bad(format!(
            "the request timestamp is {}s away from the peer's clock, outside the {window}s window; fix the client's clock",
            (ts.seconds - now).abs()
        )));
    }
    let channel = shared.channel(&header.channel_id).ok_or_else(|| {
        (
            Status::NotFound,
            format!("channel '{}' is not joined by this peer", header.channel_id),
        )
    })?;
    let Some(identity) = view.creator.clone() else {
        return Err((
            Status::Forbidden,
            "the request has no creator; sign it with an enrolled identity".to_owned(),
        ));
    };
    let signed = [SignedData {
        data: view.payload_bytes.clone(),
        identity,
        signature: view.signature.clone(),
    }];
    let config = channel.config();
    let policy = config
        .acls()
        .get(kind.resource())
        .cloned()
        .unwrap_or_else(|| DEFAULT_EVENT_POLICY.to_owned());
    config.evaluate(&policy, &signed, now).map_err(|e| {
        (
            Status::Forbidden,
            format!("{} ({policy}) refuses the creator: {e}", kind.resource()),
        )
    })?;
    let seek = cambium_wire::decode_seek_info(&view.data)
        .map_err(|e| bad(format!("malformed SeekInfo: {e}")))?;
    Ok((channel, seek))
}

/// The response carrying block `bytes` for `kind`. A filtered block is read from the stored
/// bytes without decoding the whole block: every listener reads every block, and a block can
/// hold a migration's megabyte of writes that a filtered block leaves out.
fn response(
    kind: Kind,
    bytes: Vec<u8>,
    content: SeekContentType,
) -> Result<DeliverResponse, String> {
    let kind = match kind {
        Kind::Filtered if content != SeekContentType::HeaderWithSig => Type::FilteredBlock(
            cambium_wire::block::StoredBlockTransactions::decode(bytes)
                .map_err(|e| e.to_string())?
                .into_filtered_block(),
        ),
        _ => {
            let mut block = common::Block::decode(bytes.as_slice())
                .map_err(|e| format!("a stored block does not decode: {e}"))?;
            if content == SeekContentType::HeaderWithSig {
                block.data = None;
            }
            match kind {
                Kind::Full => Type::Block(block),
                Kind::PrivateData => Type::BlockAndPrivateData(BlockAndPrivateData {
                    block: Some(block),
                    private_data_map: Default::default(),
                }),
                Kind::Filtered => Type::FilteredBlock(
                    cambium_wire::block::filtered_block(&block).map_err(|e| e.to_string())?,
                ),
            }
        }
    };
    Ok(DeliverResponse { r#type: Some(kind) })
}

/// Sends the blocks of one request, returning the final status.
async fn serve(
    shared: &Shared,
    channel: &ChannelState,
    kind: Kind,
    seek: SeekInfo,
    out: &mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
) -> Served {
    let mut height_rx = channel.height_watch();
    let mut closed = channel.closed_watch();
    let mut stop = shared.stop.subscribe();
    let height = *height_rx.borrow_and_update();
    let position = |p: SeekPosition| match p {
        SeekPosition::Oldest => 0,
        SeekPosition::Newest => height.saturating_sub(1),
        SeekPosition::NextCommit => height,
        SeekPosition::Specified(n) => n,
    };
    let (start, stop_at) = (position(seek.start), position(seek.stop));
    if stop_at < start {
        return Status::BadRequest.into();
    }
    if start > height {
        return Status::NotFound.into();
    }
    let mut number = start;
    loop {
        while number >= *height_rx.borrow_and_update() {
            if seek.behavior == SeekBehavior::FailIfNotReady {
                return Status::NotFound.into();
            }
            tokio::select! {
                changed = height_rx.changed() => if changed.is_err() {
                    return Status::ServiceUnavailable.into();
                },
                _ = closed.wait_for(|c| *c) => return Status::ServiceUnavailable.into(),
                _ = stop.wait_for(|s| *s) => return Status::ServiceUnavailable.into(),
                _ = out.closed() => return Served::Gone,
            }
        }
        let message = match channel.block(number) {
            Ok(Some(stored)) => response(kind, stored.bytes, seek.content_type),
            Ok(None) => Err(format!("block {number} is missing below the height")),
            Err(e) => Err(e.to_string()),
        };
        let message = match message {
            Ok(m) => m,
            Err(reason) => {
                tracing::error!(channel = %channel.id, block = number, "deliver cannot read a block: {reason}");
                return Status::InternalServerError.into();
            }
        };
        if out.send(Ok(message)).await.is_err() {
            return Served::Gone;
        }
        shared
            .metrics
            .record_deliver_block(&channel.id, kind == Kind::Filtered);
        if number == stop_at {
            return Status::Success.into();
        }
        number += 1;
    }
}

#[tonic::async_trait]
impl Deliver for DeliverService {
    type DeliverStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;
    type DeliverFilteredStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;
    type DeliverWithPrivateDataStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        Ok(tonic::Response::new(self.open(Kind::Full, request)))
    }

    async fn deliver_filtered(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverFilteredStream>, tonic::Status> {
        Ok(tonic::Response::new(self.open(Kind::Filtered, request)))
    }

    async fn deliver_with_private_data(
        &self,
        request: tonic::Request<tonic::Streaming<common::Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverWithPrivateDataStream>, tonic::Status> {
        Ok(tonic::Response::new(self.open(Kind::PrivateData, request)))
    }
}
