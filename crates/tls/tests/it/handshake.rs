//! Handshakes between a TLS echo server and clients: server-only TLS, mutual TLS, foreign
//! certificates on either side, ALPN, server name override and idle keepalive.

use std::sync::Arc;
use std::time::Duration;

use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork};
use cambium_tls::{client_tls_config, server_tls_config, ClientAuth, TlsIdentity, TlsRoots};
use tokio_rustls::rustls;

use crate::echo;

/// The default network (OrdererMSP, Org1MSP, Org2MSP) and an unrelated one with its own CAs.
struct Material {
    _dir: tempfile::TempDir,
    ours: GeneratedNetwork,
    foreign: GeneratedNetwork,
}

fn material() -> Material {
    let dir = tempfile::tempdir().unwrap();
    let ours = cambium_testing::default_crypto(&dir.path().join("ours"));
    let foreign = cambium_cryptogen::generate(
        &CryptoConfig::default_network(),
        &dir.path().join("foreign"),
        GenerateOptions::default(),
    )
    .unwrap();
    Material {
        _dir: dir,
        ours,
        foreign,
    }
}

fn peer_identity(net: &GeneratedNetwork) -> TlsIdentity {
    let node = &net.org("Org1MSP").unwrap().nodes[0];
    TlsIdentity::load(&node.tls_cert, &node.tls_key).unwrap()
}

fn user_identity(net: &GeneratedNetwork, msp: &str) -> TlsIdentity {
    let user = net.org(msp).unwrap().users.last().unwrap();
    TlsIdentity::load_dir(&user.tls_dir).unwrap()
}

fn tls_ca(net: &GeneratedNetwork, msp: &str) -> TlsRoots {
    TlsRoots::load(&[net.org(msp).unwrap().tls_ca.cert.clone()]).unwrap()
}

fn all_tls_cas(net: &GeneratedNetwork) -> TlsRoots {
    let configs: Vec<_> = net
        .orgs
        .iter()
        .map(|o| cambium_msp::MspConfig::from_dir(&o.msp_dir, &o.msp_id).unwrap())
        .collect();
    TlsRoots::from_msp_configs(&configs).unwrap()
}

#[tokio::test]
async fn server_only_tls_serves_a_client_that_trusts_the_ca() {
    let m = material();
    let server = server_tls_config(&peer_identity(&m.ours), &ClientAuth::None).unwrap();
    let running = echo::serve(Some(server)).await;
    let client = client_tls_config(&tls_ca(&m.ours, "Org1MSP"), None, None).unwrap();
    let reply = echo::connect_and_call(running.addr, Some(&client), b"hi")
        .await
        .unwrap();
    assert_eq!(reply, b"hi\0", "no client certificate was presented");
    // A plaintext client cannot talk to the TLS listener.
    assert!(echo::connect_and_call(running.addr, None, b"hi")
        .await
        .is_err());
}

#[tokio::test]
async fn mutual_tls_serves_a_client_from_a_trusted_ca() {
    let m = material();
    let server = server_tls_config(
        &peer_identity(&m.ours),
        &ClientAuth::Required(all_tls_cas(&m.ours)),
    )
    .unwrap();
    let running = echo::serve(Some(server)).await;
    let client = client_tls_config(
        &tls_ca(&m.ours, "Org1MSP"),
        Some(&user_identity(&m.ours, "Org2MSP")),
        None,
    )
    .unwrap();
    let reply = echo::connect_and_call(running.addr, Some(&client), b"hi")
        .await
        .unwrap();
    assert_eq!(reply, b"hi\x01", "the server saw the client's certificate");

    // Without a client certificate the handshake fails when client auth is required.
    let anonymous = client_tls_config(&tls_ca(&m.ours, "Org1MSP"), None, None).unwrap();
    assert!(
        echo::connect_and_call(running.addr, Some(&anonymous), b"hi")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_client_certificate_from_a_foreign_ca_is_rejected() {
    let m = material();
    for auth in [
        ClientAuth::Required(all_tls_cas(&m.ours)),
        ClientAuth::Optional(all_tls_cas(&m.ours)),
    ] {
        let server = server_tls_config(&peer_identity(&m.ours), &auth).unwrap();
        let running = echo::serve(Some(server)).await;
        let intruder = client_tls_config(
            &tls_ca(&m.ours, "Org1MSP"),
            Some(&user_identity(&m.foreign, "Org1MSP")),
            None,
        )
        .unwrap();
        let result = echo::connect_and_call(running.addr, Some(&intruder), b"hi").await;
        assert!(result.is_err(), "{auth:?}: foreign certificate accepted");
    }
    // With optional client auth, a client without a certificate is still served.
    let server = server_tls_config(
        &peer_identity(&m.ours),
        &ClientAuth::Optional(all_tls_cas(&m.ours)),
    )
    .unwrap();
    let running = echo::serve(Some(server)).await;
    let anonymous = client_tls_config(&tls_ca(&m.ours, "Org1MSP"), None, None).unwrap();
    assert_eq!(
        echo::connect_and_call(running.addr, Some(&anonymous), b"x")
            .await
            .unwrap(),
        b"x\0"
    );
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_server_ca_fails() {
    let m = material();
    let server = server_tls_config(&peer_identity(&m.ours), &ClientAuth::None).unwrap();
    let running = echo::serve(Some(server)).await;
    // Same names, different CA: only the trust decides.
    let client = client_tls_config(&tls_ca(&m.foreign, "Org1MSP"), None, None).unwrap();
    let err = echo::connect_and_call(running.addr, Some(&client), b"hi")
        .await
        .unwrap_err();
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
}

#[tokio::test]
async fn server_name_override_selects_the_checked_name() {
    let m = material();
    let server = server_tls_config(&peer_identity(&m.ours), &ClientAuth::None).unwrap();
    let running = echo::serve(Some(server)).await;
    let roots = tls_ca(&m.ours, "Org1MSP");
    let right = client_tls_config(&roots, None, Some("peer0.org1.example.com")).unwrap();
    assert!(echo::connect_and_call(running.addr, Some(&right), b"a")
        .await
        .is_ok());
    let wrong = client_tls_config(&roots, None, Some("peer9.org1.example.com")).unwrap();
    assert!(echo::connect_and_call(running.addr, Some(&wrong), b"a")
        .await
        .is_err());
}

#[tokio::test]
async fn the_server_negotiates_alpn_h2() {
    let m = material();
    let server = server_tls_config(&peer_identity(&m.ours), &ClientAuth::None).unwrap();
    let running = echo::serve(Some(server)).await;

    let mut store = rustls::RootCertStore::empty();
    for der in tls_ca(&m.ours, "Org1MSP").der() {
        store
            .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
            .unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(cambium_tls::ALPN_H2));
}

#[tokio::test]
async fn an_idle_client_that_pings_keeps_its_connection() {
    let m = material();
    let server = server_tls_config(&peer_identity(&m.ours), &ClientAuth::None).unwrap();
    let running = echo::serve(Some(server)).await;
    let client = client_tls_config(&tls_ca(&m.ours, "Org1MSP"), None, None).unwrap();
    // Ping far more often than Caliper's two minutes, with no call in flight.
    let channel = cambium_tls::endpoint(&running.addr.to_string(), Some(&client))
        .unwrap()
        .http2_keep_alive_interval(Duration::from_millis(50))
        .keep_alive_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    assert!(echo::call(channel.clone(), b"1").await.is_ok());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(echo::call(channel, b"2").await.unwrap(), b"2\0");
}
