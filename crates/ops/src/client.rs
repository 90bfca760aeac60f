//! A small HTTP/1.1 client for plain-HTTP endpoints over hyper's connection API (which decodes
//! chunked and length-delimited bodies), with a deadline: [`get`] reads one path of an
//! operations endpoint (the rollout brake follows `/metrics` with it instead of a Prometheus
//! server), and [`exchange`] makes any request (the orderer's channel participation client).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::error::{OpsError, Result};

/// The largest body [`get`] accepts: a `/metrics` page of a busy peer is a few hundred
/// kilobytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// `GET path` from the operations endpoint `url` (`http://HOST:PORT`, a trailing `/` allowed)
/// within `timeout`; the body of a `200` answer as text. Any other status, a connection that
/// fails or an answer too slow or too large is an [`OpsError::Scrape`] naming the endpoint.
pub async fn get(url: &str, path: &str, timeout: Duration) -> Result<String> {
    let failed = |reason: String| OpsError::Scrape {
        url: url.to_owned(),
        reason,
    };
    let authority = authority(url).map_err(failed)?;
    let (status, body) = exchange(authority, http::Method::GET, path, None, timeout)
        .await
        .map_err(|e| match e {
            ExchangeError::Connect(reason) => failed(format!(
                "{reason}; is the peer running with an operations listenAddress there?"
            )),
            ExchangeError::Other(reason) => failed(reason),
        })?;
    if status != http::StatusCode::OK {
        return Err(failed(format!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| failed(format!("the answer to GET {path} is not UTF-8 text")))
}

/// Why an [`exchange`] failed, in words for the caller to put in its own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// Nothing accepted the connection (the server is not running there).
    Connect(String),
    /// The exchange started but failed: handshake, request, answer too slow or too large.
    Other(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeError::Connect(reason) | ExchangeError::Other(reason) => f.write_str(reason),
        }
    }
}

/// One HTTP/1.1 request to the plain-HTTP server at `authority` (`HOST:PORT`) within
/// `timeout`, with an optional body and its content type; returns the answer's status and body
/// (at most [`MAX_BODY_BYTES`]), whatever the status.
pub async fn exchange(
    authority: &str,
    method: http::Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
    timeout: Duration,
) -> std::result::Result<(http::StatusCode, bytes::Bytes), ExchangeError> {
    let other = ExchangeError::Other;
    let work = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| ExchangeError::Connect(format!("cannot connect to {authority}: {e}")))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<bytes::Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| other(format!("the HTTP handshake failed: {e}")))?;
        let driver = tokio::spawn(connection);
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::HOST, authority);
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                bytes::Bytes::from(bytes)
            }
            None => bytes::Bytes::new(),
        };
        let request = request.body(Full::new(bytes)).map_err(|e| {
            other(format!(
                "the path '{path}' is not a valid request target: {e}"
            ))
        })?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| other(format!("{method} {path} failed: {e}")))?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| other(format!("cannot read the answer to {method} {path}: {e}")))?
            .to_bytes();
        driver.abort();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| other(format!("no answer to {method} {path} within {timeout:?}")))?
}

/// The `HOST:PORT` of a plain-HTTP endpoint URL, or why it is not one.
pub fn authority(url: &str) -> std::result::Result<&str, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            "only plain-HTTP operations endpoints can be read (http://HOST:PORT); for a TLS one, \
             scrape it with Prometheus"
                .to_owned()
        } else {
            "write the operations endpoint as http://HOST:PORT".to_owned()
        });
    };
    let authority = rest.trim_end_matches('/');
    let port_ok = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok || authority.contains('/') {
        return Err(format!(
            "'{authority}' is not HOST:PORT; write the operations endpoint as http://HOST:PORT"
        ));
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_plain_http_host_and_port() {
        assert_eq!(authority("http://127.0.0.1:9443"), Ok("127.0.0.1:9443"));
        assert_eq!(authority("http://peer0:9443/"), Ok("peer0:9443"));
        for bad in [
            "https://127.0.0.1:9443",
            "127.0.0.1:9443",
            "http://127.0.0.1",
            "http://:9443",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:9443/metrics",
        ] {
            assert!(authority(bad).is_err(), "{bad} accepted");
        }
        assert!(authority("https://x:1").unwrap_err().contains("plain-HTTP"));
    }
}
