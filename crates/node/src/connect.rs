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

/// A gRPC status as one line: code and message, then what each node said when the status
/// carries Fabric Gateway error details (the message then only says "see attached details").
pub fn status_text(status: &tonic::Status) -> String {
    let mut text = if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{:?}: {}", status.code(), status.message())
    };
    let details = cambium_wire::status::gateway_error_details(status).unwrap_or_default();
    if !details.is_empty() {
        let said: Vec<String> = details
            .iter()
            .map(|d| match (d.address.is_empty(), d.msp_id.is_empty()) {
                (false, false) => format!("{} ({}): {}", d.address, d.msp_id, d.message),
                (false, true) => format!("{}: {}", d.address, d.message),
                (true, false) => format!("{}: {}", d.msp_id, d.message),
                (true, true) => d.message.clone(),
            })
            .collect();
        text.push_str(" (");
        text.push_str(&said.join("; "));
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_wire::gateway::ErrorDetail;

    #[test]
    fn a_status_reads_with_what_each_node_said() {
        let plain = tonic::Status::unavailable("connection refused");
        assert_eq!(status_text(&plain), "Unavailable: connection refused");
        assert_eq!(status_text(&tonic::Status::cancelled("")), "Cancelled");

        let detailed = cambium_wire::status::gateway_status(
            tonic::Code::Aborted,
            "failed to endorse transaction, see attached details for more info",
            &[
                ErrorDetail {
                    address: "peer0.org1.example.com:7051".into(),
                    msp_id: "Org1MSP".into(),
                    message: "chaincode response 500, Incorrect number of arguments".into(),
                },
                ErrorDetail {
                    address: String::new(),
                    msp_id: "Org2MSP".into(),
                    message: "no peer available".into(),
                },
            ],
        );
        assert_eq!(
            status_text(&detailed),
            "Aborted: failed to endorse transaction, see attached details for more info \
             (peer0.org1.example.com:7051 (Org1MSP): chaincode response 500, Incorrect number of \
             arguments; Org2MSP: no peer available)"
        );
    }
}
