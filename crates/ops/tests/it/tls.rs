//! HTTPS with client authentication: `/healthz` and `/version` answer any TLS client,
//! `/metrics` and `/logspec` only clients with a certificate from the configured CAs.

use std::sync::Arc;

use cambium_cryptogen::Role;
use cambium_ops::{serve, Operations, OpsConfig};

use crate::https_request;

#[tokio::test]
async fn client_certificates_guard_metrics_but_not_healthz() {
    let dev = cambium_testing::DevNetwork::new("opstls");
    let org = dev.crypto.org("Org1MSP").expect("Org1");
    let node = org.nodes.iter().find(|i| i.role == Role::Peer).unwrap();
    let user = org.users.iter().find(|i| i.role == Role::Client).unwrap();
    let host = node.hostname.clone().expect("a peer has a hostname");

    let mut config = OpsConfig::new("127.0.0.1:0");
    config.tls.enabled = true;
    config.tls.cert = Some(node.tls_cert.clone());
    config.tls.key = Some(node.tls_key.clone());
    config.tls.client_root_cas = vec![node.tls_ca_cert.clone()];
    config.tls.client_auth_required = true;
    let server = serve(&config, Arc::new(Operations::new())).await.unwrap();
    assert!(server.url().starts_with("https://"));
    let addr = server.local_addr();
    let ca = &node.tls_ca_cert;

    assert_eq!(
        https_request(addr, &host, ca, None, "/healthz").await.0,
        200
    );
    assert_eq!(
        https_request(addr, &host, ca, None, "/version").await.0,
        200
    );
    let (status, body) = https_request(addr, &host, ca, None, "/metrics").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("client certificate"), "{body}");

    let client = Some((user.tls_cert.as_path(), user.tls_key.as_path()));
    let (status, body) = https_request(addr, &host, ca, client, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.ends_with("# EOF\n"));
    server.shutdown().await;

    // Without clientAuthRequired every TLS client reads the metrics.
    config.tls.client_auth_required = false;
    let open = serve(&config, Arc::new(Operations::new())).await.unwrap();
    assert_eq!(
        https_request(open.local_addr(), &host, ca, None, "/metrics")
            .await
            .0,
        200
    );
    open.shutdown().await;
}
