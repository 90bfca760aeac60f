//! Loading identities and trust sets, and what the errors say.

use cambium_tls::{PeerVerifier, TlsIdentity, TlsRoots};
use tokio_rustls::rustls::pki_types::CertificateDer;

fn check_err(result: Result<impl std::fmt::Debug, cambium_tls::TlsError>, expected: &[&str]) {
    let err = result.unwrap_err().to_string();
    for part in expected {
        assert!(err.contains(part), "'{err}' lacks '{part}'");
    }
}

#[test]
fn identities_and_roots_load_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let net = cambium_testing::default_crypto(dir.path());
    let org1 = net.org("Org1MSP").unwrap();
    let peer = &org1.nodes[0];

    let identity = TlsIdentity::load(&peer.tls_cert, &peer.tls_key).unwrap();
    assert_eq!(identity.cert_pem(), std::fs::read(&peer.tls_cert).unwrap());
    assert!(!format!("{identity:?}").contains("PRIVATE"));

    let missing = dir.path().join("nope.crt");
    check_err(
        TlsIdentity::load(&missing, &peer.tls_key),
        &["nope.crt", "check the path"],
    );
    check_err(
        TlsIdentity::load(&peer.tls_key, &peer.tls_key),
        &["server.key", "BEGIN CERTIFICATE"],
    );
    check_err(
        TlsIdentity::load(&peer.tls_cert, &peer.tls_cert),
        &["server.crt", "no usable private key"],
    );
    // Another node's key does not belong to this certificate.
    let other = &net.org("Org2MSP").unwrap().nodes[0];
    check_err(
        TlsIdentity::load(&peer.tls_cert, &other.tls_key),
        &["does not belong", "server.crt", "server.key"],
    );

    // A folder contributes every file; duplicates collapse.
    let from_dir = TlsRoots::load(&[org1.msp_dir.join("tlscacerts")]).unwrap();
    let from_file = TlsRoots::load(&[peer.tls_ca_cert.clone(), org1.tls_ca.cert.clone()]).unwrap();
    assert_eq!(from_dir, from_file);
    assert_eq!(from_file.len(), 1);

    // Channel MSPs give every organisation's TLS CA; the PEM bundle round-trips.
    let configs: Vec<_> = net
        .orgs
        .iter()
        .map(|o| cambium_msp::MspConfig::from_dir(&o.msp_dir, &o.msp_id).unwrap())
        .collect();
    let all = TlsRoots::from_msp_configs(&configs).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(TlsRoots::from_pem(&all.to_pem(), "bundle").unwrap(), all);

    check_err(
        cambium_tls::client_tls_config(&TlsRoots::new(), None, None),
        &["no trusted CA certificates"],
    );
}

#[test]
fn peer_verifier_accepts_only_chains_to_its_roots() {
    let dir = tempfile::tempdir().unwrap();
    let net = cambium_testing::default_crypto(dir.path());
    let orderer_org = net.org("OrdererMSP").unwrap();
    let orderer_roots = TlsRoots::load(std::slice::from_ref(&orderer_org.tls_ca.cert)).unwrap();
    let verifier = PeerVerifier::new(&orderer_roots).unwrap();
    let chain = |id: &cambium_cryptogen::Identity| {
        let identity = TlsIdentity::load(&id.tls_cert, &id.tls_key).unwrap();
        vec![CertificateDer::from(identity.leaf_der().to_vec())]
    };
    verifier.verify(&chain(&orderer_org.nodes[0])).unwrap();
    let peer = &net.org("Org1MSP").unwrap().nodes[0];
    check_err(
        verifier.verify(&chain(peer)),
        &["not issued by a trusted CA"],
    );
    check_err(verifier.verify(&[]), &["no certificate"]);
    check_err(PeerVerifier::new(&TlsRoots::new()), &["no trusted CA"]);
}
