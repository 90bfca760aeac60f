//! gRPC connections to the nodes a connection profile lists: TLS when the URL is `grpcs://`
//! (trusting the profile's TLS CA, checking the certificate against the profile's
//! `ssl-target-name-override`), with a client certificate for mutual TLS when one is given.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{NodeError, Result};
use crate::profile::Node;

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest message a client sends or accepts (Fabric's limit is 100 MB).
pub const MAX_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// A client TLS certificate and key (PEM), for nodes that require mutual TLS.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// Certificate PEM.
    pub cert: Vec<u8>,
    /// Key PEM.
    pub key: Vec<u8>,
}

/// An endpoint for `node`, not yet connected.
pub fn endpoint(node: &Node, client_tls: Option<&ClientTls>) -> Result<Endpoint> {
    let address = node.address().to_owned();
    let bad = |reason: String| NodeError::Connect {
        endpoint: node.url.clone(),
        reason,
    };
    let ca = node.tls_ca_pem()?;
    let scheme = if ca.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
        .map_err(|e| bad(format!("not a valid address ({e})")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(60))
        .keep_alive_while_idle(true);
    if let Some(ca) = ca {
        let host = address
            .rsplit_once(':')
            .map_or(address.as_str(), |(h, _)| h);
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name(node.tls_name_override().unwrap_or(host));
        if let Some(client) = client_tls {
            tls = tls.identity(Identity::from_pem(&client.cert, &client.key));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| bad(format!("TLS settings refused ({e})")))?;
    }
    Ok(endpoint)
}

/// A connected channel to `node`.
pub async fn connect(node: &Node, client_tls: Option<&ClientTls>) -> Result<Channel> {
    endpoint(node, client_tls)?
        .connect()
        .await
        .map_err(|e| NodeError::Connect {
            endpoint: node.url.clone(),
            reason: error_chain(&e),
        })
}

/// An error and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// A gRPC status as one line: code and message.
pub fn status_text(status: &tonic::Status) -> String {
    if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{:?}: {}", status.code(), status.message())
    }
}
