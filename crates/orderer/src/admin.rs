//! Channel participation API (HTTP/JSON), shaped like Fabric's `osnadmin` endpoints:
//!
//! - `GET /participation/v1/channels`: the channels, `{"systemChannel": null, "channels":
//!   [{"name", "url"}]}`;
//! - `GET /participation/v1/channels/{name}`: one channel's status and height;
//! - `POST /participation/v1/channels` with the genesis block as the body (raw bytes, or
//!   `multipart/form-data` with a `config-block` part as `osnadmin` sends it): join;
//! - `DELETE /participation/v1/channels/{name}`: remove the channel and its data.
//!
//! Errors answer `{"error": "..."}` with 400, 404, 405 or 500.
//!
//! [`Participation`] is the client (`cambium orderer channel list|join|remove`, like
//! `osnadmin channel …`); both ends use the same JSON types.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::OrdererError;
use crate::node::{ChannelInfo, OrdererNode};

/// Path prefix of the API.
pub const PREFIX: &str = "/participation/v1/channels";

/// Serves the API on `listener` until the returned task is aborted.
pub fn serve(node: OrdererNode, listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let node = node.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let node = node.clone();
                    async move { Ok::<_, Infallible>(handle(&node, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response<Full<Bytes>> {
    reply(status, json!({ "error": message.to_string() }))
}

/// A channel in the list (`GET /participation/v1/channels`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel name.
    pub name: String,
    /// Its path in this API.
    pub url: String,
}

/// The channels an orderer serves, as `osnadmin channel list` shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelList {
    /// Always `null`: Cambium has no system channel (nor has Fabric since 2.3's
    /// channel participation).
    pub system_channel: Option<ChannelRef>,
    /// The channels joined.
    pub channels: Vec<ChannelRef>,
}

/// One channel's status on this orderer, as `osnadmin channel list --channelID` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatus {
    /// The channel name.
    pub name: String,
    /// Its path in this API.
    pub url: String,
    /// `consenter`: every Cambium orderer of a channel is in its Raft group.
    pub consensus_relation: String,
    /// `active` once joined.
    pub status: String,
    /// Blocks in this orderer's chain.
    pub height: u64,
    /// This orderer's Raft ID in the channel.
    #[serde(default)]
    pub consenter_id: Option<u64>,
    /// The Raft leader's ID, when known.
    #[serde(default)]
    pub leader: Option<u64>,
}

impl From<&ChannelInfo> for ChannelStatus {
    fn from(info: &ChannelInfo) -> Self {
        ChannelStatus {
            name: info.name.clone(),
            url: format!("{PREFIX}/{}", info.name),
            consensus_relation: "consenter".to_owned(),
            status: "active".to_owned(),
            height: info.height,
            consenter_id: Some(info.consenter_id),
            leader: info.leader,
        }
    }
}

fn info_json(info: &ChannelInfo) -> serde_json::Value {
    serde_json::to_value(ChannelStatus::from(info)).expect("the status serializes")
}

fn status_of(e: &OrdererError) -> StatusCode {
    match e {
        OrdererError::ChannelNotFound(_) => StatusCode::NOT_FOUND,
        OrdererError::ChannelExists(_) => StatusCode::METHOD_NOT_ALLOWED,
        OrdererError::Config(_) | OrdererError::Wire(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `config-block` part of a multipart body, or the body itself.
fn block_from_body(content_type: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    else {
        return Ok(body.to_vec());
    };
    let boundary = format!("--{}", boundary.trim_matches('"'));
    let parts = split(body, boundary.as_bytes());
    for part in parts {
        let Some(end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..end]);
        if headers.contains("name=\"config-block\"") {
            let mut data = &part[end + 4..];
            if data.ends_with(b"\r\n") {
                data = &data[..data.len() - 2];
            }
            return Ok(data.to_vec());
        }
    }
    Err(
        "the multipart body has no 'config-block' part; send the genesis block as config-block"
            .into(),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut body: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(body, sep) {
        out.push(&body[..i]);
        body = &body[i + sep.len()..];
    }
    out.push(body);
    out
}

async fn handle(node: &OrdererNode, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let method = req.method().clone();
    let name = path
        .strip_prefix(PREFIX)
        .map(|r| r.trim_start_matches('/').to_string());
    let Some(name) = name else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no endpoint at {path}; use {PREFIX}"),
        );
    };
    match (method, name.is_empty()) {
        (Method::GET, true) => match node.channels() {
            Ok(list) => reply(
                StatusCode::OK,
                serde_json::to_value(ChannelList {
                    system_channel: None,
                    channels: list
                        .iter()
                        .map(|c| ChannelRef {
                            name: c.name.clone(),
                            url: format!("{PREFIX}/{}", c.name),
                        })
                        .collect(),
                })
                .expect("the list serializes"),
            ),
            Err(e) => error(status_of(&e), e),
        },
        (Method::GET, false) => match node.channel(&name) {
            Ok(info) => reply(StatusCode::OK, info_json(&info)),
            Err(e) => error(status_of(&e), e),
        },
        (Method::POST, true) => {
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
            };
            let block = match block_from_body(&content_type, &body) {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, e),
            };
            match crate::config::join_from_block(node, &block).await {
                Ok(info) => reply(StatusCode::CREATED, info_json(&info)),
                Err(e) => error(status_of(&e), e),
            }
        }
        (Method::DELETE, false) => match node.remove_channel(&name).await {
            Ok(()) => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::new(Bytes::new()))
                .expect("a valid response"),
            Err(e) => error(status_of(&e), e),
        },
        (m, _) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{m} is not allowed on {path}; use GET, POST (join) or DELETE (remove)"),
        ),
    }
}

/// How long a call to the channel participation API may take (a join creates the channel's
/// ledger and starts its Raft group).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A client of an orderer's channel participation API at `HOST:PORT` (plain HTTP; the API is
/// bound to loopback on the orderer's host).
#[derive(Clone, Debug)]
pub struct Participation {
    address: String,
}

impl Participation {
    /// The API at `address` (`HOST:PORT`, as the orderer's `adminListenAddress`).
    pub fn new(address: impl Into<String>) -> Self {
        Participation {
            address: address.into(),
        }
    }

    /// The address this client calls.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The channels the orderer serves.
    pub async fn list(&self) -> Result<ChannelList, String> {
        let body = self.call(Method::GET, PREFIX, None, StatusCode::OK).await?;
        serde_json::from_slice(&body).map_err(|e| self.garbled(&e))
    }

    /// One channel's status; a channel the orderer does not serve is an error naming it.
    pub async fn status(&self, channel: &str) -> Result<ChannelStatus, String> {
        let path = format!("{PREFIX}/{channel}");
        let body = self.call(Method::GET, &path, None, StatusCode::OK).await?;
        serde_json::from_slice(&body).map_err(|e| self.garbled(&e))
    }

    /// Joins the orderer to the channel whose genesis block is `block`.
    pub async fn join(&self, block: Vec<u8>) -> Result<ChannelStatus, String> {
        let body = self
            .call(
                Method::POST,
                PREFIX,
                Some(("application/octet-stream", block)),
                StatusCode::CREATED,
            )
            .await?;
        serde_json::from_slice(&body).map_err(|e| self.garbled(&e))
    }

    /// Removes the channel and its data from the orderer.
    pub async fn remove(&self, channel: &str) -> Result<(), String> {
        let path = format!("{PREFIX}/{channel}");
        self.call(Method::DELETE, &path, None, StatusCode::NO_CONTENT)
            .await
            .map(|_| ())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        expected: StatusCode,
    ) -> Result<Bytes, String> {
        use cambium_ops::client::{exchange, ExchangeError};
        let (status, answer) = exchange(&self.address, method.clone(), path, body, CALL_TIMEOUT)
            .await
            .map_err(|e| match e {
                ExchangeError::Connect(reason) => format!(
                    "{reason}; is an orderer running with its adminListenAddress there? (`cambium up` serves it on 7053, or on --base-port + 3)"
                ),
                ExchangeError::Other(reason) => {
                    format!("the channel participation API at {}: {reason}", self.address)
                }
            })?;
        if status == expected {
            return Ok(answer);
        }
        #[derive(Deserialize)]
        struct ApiError {
            error: String,
        }
        let why = serde_json::from_slice::<ApiError>(&answer)
            .map(|e| e.error)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned()
            });
        Err(format!(
            "the orderer at {} refused {method} {path} ({status}): {why}",
            self.address
        ))
    }

    fn garbled(&self, e: &serde_json::Error) -> String {
        format!(
            "the orderer at {} answered something that is not the channel participation API's JSON ({e}); is {} an orderer's adminListenAddress?",
            self.address, self.address
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_config_block_is_extracted() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"b\"\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x02\r\n\x03\r\n--XyZ--\r\n";
        let got = block_from_body("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(got, b"\x01\x02\r\n\x03");
        assert_eq!(
            block_from_body("application/octet-stream", b"raw").unwrap(),
            b"raw"
        );
        let err = block_from_body("multipart/form-data; boundary=XyZ", b"--XyZ\r\n\r\n--XyZ--")
            .unwrap_err();
        assert!(err.contains("config-block"), "{err}");
    }
}
