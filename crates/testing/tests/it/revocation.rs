//! Revocation through the channel: a CRL added to an organisation's MSP by a config update
//! (`cambium channel update --config channel.yaml`, signed by that organisation's admin) stops
//! the revoked client's submissions from that block on, while its colleagues go on.

use std::time::Duration;

use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber,
};

use crate::load;
use crate::procnet::{cambium_ok, ProcNet, CHANNEL};

const GATEWAY: &str = "peer0.org1.example.com";

/// A CRL of Org1's CA revoking the certificate `revoked_pem`.
fn crl(org_dir: &std::path::Path, revoked_pem: &str) -> String {
    let ca_dir = org_dir.join("ca");
    let mut ca_cert = None;
    let mut ca_key = None;
    for entry in std::fs::read_dir(&ca_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("PRIVATE KEY") {
            ca_key = Some(text);
        } else if text.contains("CERTIFICATE") {
            ca_cert = Some(text);
        }
    }
    let (ca_cert, ca_key) = (ca_cert.expect("CA cert"), ca_key.expect("CA key"));
    let ca_der = pem::parse(&ca_cert).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der.contents()).unwrap();
    let ski = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("cryptogen CAs carry a subject key identifier");
    let leaf_der = pem::parse(revoked_pem).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(leaf_der.contents()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now - time::Duration::minutes(1),
        next_update: now + time::Duration::days(30),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(leaf.raw_serial()),
            revocation_time: now - time::Duration::minutes(1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::PreSpecified(ski),
    };
    let key = KeyPair::from_pem(&ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, key).unwrap();
    params.signed_by(&issuer).unwrap().pem().unwrap()
}

#[test]
fn a_crl_in_channel_config_stops_the_revoked_client() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = ProcNet::generate(tmp.path(), 2, 1, 1);
    net.start_all_fresh();
    crate::network::deploy(&net);
    let rt = crate::network::runtime();
    let write = |user: &str, key: &str| {
        let who = load::Submitter {
            profile: &net.profile,
            org: "Org1",
            user,
            peer: GATEWAY,
        };
        rt.block_on(load::write_once(who, key))
    };
    write("User2", "before-1").expect("User2 submits before the CRL");

    let org1 = net.root.join("crypto/peerOrganizations/org1.example.com");
    let user2_cert = std::fs::read_dir(org1.join("users/User2@org1.example.com/msp/signcerts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let crl = crl(&org1, &std::fs::read_to_string(user2_cert).unwrap());
    std::fs::create_dir_all(org1.join("msp/crls")).unwrap();
    std::fs::write(org1.join("msp/crls/crl.pem"), crl).unwrap();
    let height = net.wait_same_height(1, Duration::from_secs(30));
    let admin = org1.join("users/Admin@org1.example.com/msp");
    cambium_ok(&[
        "channel",
        "update",
        "--channel",
        CHANNEL,
        "--orderer",
        &net.orderers[0].address,
        "--tls-ca",
        net.root
            .join("crypto/ordererOrganizations/example.com/msp/tlscacerts")
            .to_str()
            .unwrap(),
        "--config",
        net.root.join("channel.yaml").to_str().unwrap(),
        "--signer",
        &format!("Org1MSP={}", admin.display()),
    ]);
    net.wait_same_height(height + 1, Duration::from_secs(30));

    let err = write("User2", "after-1").expect_err("User2 is revoked");
    assert!(
        err.starts_with("endorse:") && err.contains("has been revoked by a CRL of Org1MSP"),
        "the endorsing peers refuse the revoked creator and say why: {err}"
    );
    write("User1", "after-2").expect("User1 of the same organisation still submits");
    net.stop_all();
}
