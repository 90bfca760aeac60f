//! `ChaincodeEvents`: one response per committed block that has matching events, from the
//! start position Fabric's gateway uses.
//!
//! Start: if `after_transaction_id` names a committed transaction, its block, skipping every
//! event up to and including that transaction; otherwise a `Specified` block, or the current
//! height for `NextCommit` or no position. `Oldest` and `Newest` are InvalidArgument, as in
//! Fabric. Only events of VALID transactions whose chaincode ID, event name and transaction ID
//! are all set are sent.

use std::pin::Pin;
use std::sync::Arc;

use cambium_wire::block::StoredBlockTransactions;
use cambium_wire::gateway::{ChaincodeEventsRequest, ChaincodeEventsResponse};
use cambium_wire::orderer::seek_position::Type as Seek;
use cambium_wire::status::gateway_status;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_stream::StreamExt;
use tonic::{Code, Status};

use crate::{PeerContext, PeerError};

/// The stream of `ChaincodeEvents` responses.
pub type EventStream =
    Pin<Box<dyn futures_core::Stream<Item = Result<ChaincodeEventsResponse, Status>> + Send>>;

/// How many responses may wait for a slow client before the stream stops reading blocks.
const BUFFER: usize = 16;

fn ledger_status(error: &PeerError) -> Status {
    let code = match error {
        PeerError::ChannelNotFound(_) => Code::NotFound,
        PeerError::Ledger(_) => Code::Aborted,
        PeerError::ShuttingDown => Code::Unavailable,
    };
    gateway_status(code, error.to_string(), &[])
}

/// Where the stream starts: a block number, and the transaction after which events count
/// within that block.
async fn start(
    peer: &Arc<dyn PeerContext>,
    request: &ChaincodeEventsRequest,
) -> Result<(u64, Option<String>), Status> {
    let channel_id = request.channel_id.as_str();
    if !request.after_transaction_id.is_empty() {
        let found = peer
            .transaction_block(channel_id, &request.after_transaction_id)
            .await
            .map_err(|e| ledger_status(&e))?;
        if let Some(block) = found {
            return Ok((block, Some(request.after_transaction_id.clone())));
        }
    }
    let position = request.start_position.and_then(|p| p.r#type);
    match position {
        Some(Seek::Specified(s)) => Ok((s.number, None)),
        None | Some(Seek::NextCommit(_)) => peer
            .height(channel_id)
            .map(|h| (h, None))
            .map_err(|e| ledger_status(&e)),
        Some(Seek::Oldest(_)) | Some(Seek::Newest(_)) => Err(gateway_status(
            Code::InvalidArgument,
            "invalid start position type: only Specified and NextCommit are supported for chaincode events; use a block number",
            &[],
        )),
    }
}

/// The response for one block, or `None` if it has no matching event.
fn block_response(
    number: u64,
    bytes: Vec<u8>,
    chaincode: &str,
    after: Option<&str>,
) -> Result<Option<ChaincodeEventsResponse>, Status> {
    let block = StoredBlockTransactions::decode(bytes).map_err(|e| {
        gateway_status(
            Code::Aborted,
            format!("cannot read the events of block {number}: {e}"),
            &[],
        )
    })?;
    let mut events = block.chaincode_events(chaincode);
    if let Some(after) = after {
        let position = block
            .transactions
            .iter()
            .find(|t| t.tx_id == after)
            .map(|t| t.index);
        if let Some(position) = position {
            events.retain(|(index, _)| *index > position);
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(ChaincodeEventsResponse {
        events: events.into_iter().map(|(_, e)| (&e).into()).collect(),
        block_number: block.number,
    }))
}

/// Starts streaming the events `request` asks for; `permit` (a concurrency slot) is held
/// until the stream ends.
pub(crate) async fn stream(
    peer: Arc<dyn PeerContext>,
    request: ChaincodeEventsRequest,
    permit: OwnedSemaphorePermit,
) -> Result<EventStream, Status> {
    let (first, after) = start(&peer, &request).await?;
    let mut blocks = peer
        .committed_blocks(&request.channel_id, first)
        .map_err(|e| ledger_status(&e))?;
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let next = tokio::select! {
                () = tx.closed() => break,
                next = blocks.next() => next,
            };
            let item = match next {
                None => break,
                Some(Err(e)) => Err(ledger_status(&e)),
                Some(Ok(stored)) => {
                    let after = if stored.number == first {
                        after.as_deref()
                    } else {
                        None
                    };
                    match block_response(stored.number, stored.bytes, &request.chaincode_id, after)
                    {
                        Ok(None) => continue,
                        Ok(Some(response)) => Ok(response),
                        Err(status) => Err(status),
                    }
                }
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
