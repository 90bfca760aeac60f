//! The certificates and keys themselves: chains, curves, extensions, subjects and SANs.

use std::path::PathBuf;

use cambium_cryptogen::{CryptoConfig, GeneratedNetwork, Role};
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME, OID_X509_LOCALITY_NAME,
    OID_X509_ORGANIZATIONAL_UNIT, OID_X509_ORGANIZATION_NAME, OID_X509_STATE_OR_PROVINCE_NAME,
};

use crate::support::*;

fn custom_config() -> CryptoConfig {
    CryptoConfig::from_yaml(
        r#"
PeerOrgs:
  - Name: Acme
    Domain: acme.test
    EnableNodeOUs: true
    CA:
      Hostname: rootca
      Country: DE
      Province: Berlin
      Locality: Berlin
      OrganizationalUnit: Ledger Team
      StreetAddress: Hauptstrasse 1
      PostalCode: "10115"
    Specs:
      - Hostname: foo
        CommonName: foo27.other.test
        SANS:
          - "bar.{{.Domain}}"
          - "{{.Hostname}}.alt.test"
          - 172.16.10.31
          - "::1"
    Template:
      Count: 2
      Start: 3
      SANS:
        - "{{.CommonName}}.mirror.test"
    Users:
      Count: 2
"#,
    )
    .unwrap()
}

fn all_cert_and_key_pairs(network: &GeneratedNetwork) -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = Vec::new();
    for org in &network.orgs {
        pairs.push((org.ca.key.clone(), org.ca.cert.clone()));
        pairs.push((org.tls_ca.key.clone(), org.tls_ca.cert.clone()));
        for id in org.nodes.iter().chain(&org.users) {
            pairs.push((id.key.clone(), id.cert.clone()));
            pairs.push((id.tls_key.clone(), id.tls_cert.clone()));
        }
    }
    pairs
}

#[test]
fn every_certificate_verifies_against_its_ca() {
    for config in [CryptoConfig::default_network(), custom_config()] {
        let (_dir, network) = generated(&config);
        for org in &network.orgs {
            // CAs are self-signed.
            assert_issued_by(&org.ca.cert, &org.ca.cert);
            assert_issued_by(&org.tls_ca.cert, &org.tls_ca.cert);
            let mut signing = Vec::new();
            let mut tls = Vec::new();
            for id in org.nodes.iter().chain(&org.users) {
                assert_issued_by(&id.cert, &org.ca.cert);
                assert_issued_by(&id.tls_cert, &org.tls_ca.cert);
                signing.push(id.cert.clone());
                tls.push(id.tls_cert.clone());
            }
            // The same chains, checked a second time by OpenSSL.
            let checked =
                openssl_verify(&org.ca.cert, &signing) & openssl_verify(&org.tls_ca.cert, &tls);
            assert!(
                checked
                    || std::process::Command::new("openssl")
                        .arg("version")
                        .output()
                        .is_err()
            );
            // A signing cert must not verify against the TLS CA: the two CAs are distinct.
            let der = cert_der(&org.nodes.first().unwrap_or(&org.users[0]).cert);
            let tls_ca_der = cert_der(&org.tls_ca.cert);
            assert!(parse(&der)
                .verify_signature(Some(parse(&tls_ca_der).public_key()))
                .is_err());
        }
    }
}

#[test]
fn keys_are_p256_pkcs8_and_match_their_certificates() {
    let (_dir, network) = generated(&custom_config());
    let pairs = all_cert_and_key_pairs(&network);
    assert_eq!(pairs.len(), 2 + 2 * (3 + 3));
    for (key, cert) in &pairs {
        assert_key_matches(key, cert);
    }
    // Keys are not shared between any two certificates.
    let mut keys: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(key, _)| pem_contents(key, "PRIVATE KEY"))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), pairs.len());
    // A key does not match someone else's certificate (the check above can fail).
    let result = std::panic::catch_unwind(|| assert_key_matches(&pairs[0].0, &pairs[1].1));
    assert!(result.is_err());
}

#[test]
fn ca_certificates_are_cas_with_cryptogen_subjects() {
    let (_dir, network) = generated(&CryptoConfig::default_network());
    let org1 = network.org("Org1MSP").unwrap();
    for (path, cn) in [
        (&org1.ca.cert, "ca.org1.example.com"),
        (&org1.tls_ca.cert, "tlsca.org1.example.com"),
    ] {
        let der = cert_der(path);
        let cert = parse(&der);
        let bc = cert
            .basic_constraints()
            .unwrap()
            .expect("basicConstraints present");
        assert!(bc.critical && bc.value.ca);
        let ku = cert.key_usage().unwrap().expect("keyUsage present").value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
        // SKI is SHA-256 of the public point, as cryptogen computes it.
        let point = cert.public_key().subject_public_key.as_ref();
        assert_eq!(
            subject_key_id(&cert),
            ring::digest::digest(&ring::digest::SHA256, point).as_ref()
        );
        assert_eq!(subject_values(&cert, &OID_X509_COMMON_NAME), [cn]);
        assert_eq!(
            subject_values(&cert, &OID_X509_ORGANIZATION_NAME),
            ["org1.example.com"]
        );
        assert_eq!(subject_values(&cert, &OID_X509_COUNTRY_NAME), ["US"]);
        assert_eq!(
            subject_values(&cert, &OID_X509_STATE_OR_PROVINCE_NAME),
            ["California"]
        );
        assert_eq!(
            subject_values(&cert, &OID_X509_LOCALITY_NAME),
            ["San Francisco"]
        );
        // About ten years, starting a few minutes ago.
        let validity = cert.validity();
        let span = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert_eq!(span, 3650 * 24 * 3600);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - 8 * 60..=now - 4 * 60).contains(&validity.not_before.timestamp()));
    }
}

#[test]
fn leaf_certificates_carry_node_ous_key_usage_and_sans() {
    let (_dir, network) = generated(&CryptoConfig::default_network());
    let mut seen_roles = Vec::new();
    for org in &network.orgs {
        for id in org.nodes.iter().chain(&org.users) {
            let der = cert_der(&id.cert);
            let cert = parse(&der);
            assert_eq!(
                subject_values(&cert, &OID_X509_ORGANIZATIONAL_UNIT),
                [id.role.node_ou()],
                "{}",
                id.name
            );
            assert_eq!(
                subject_values(&cert, &OID_X509_COMMON_NAME),
                [id.name.as_str()]
            );
            assert!(subject_values(&cert, &OID_X509_ORGANIZATION_NAME).is_empty());
            assert_eq!(subject_values(&cert, &OID_X509_COUNTRY_NAME), ["US"]);
            let ku = cert.key_usage().unwrap().unwrap().value;
            assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.key_encipherment());
            assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
            assert!(cert.extended_key_usage().unwrap().is_none());
            seen_roles.push(id.role);

            let der = cert_der(&id.tls_cert);
            let tls = parse(&der);
            let eku = tls
                .extended_key_usage()
                .unwrap()
                .expect("TLS certs have an EKU")
                .value;
            assert!(eku.server_auth && eku.client_auth);
            let ku = tls.key_usage().unwrap().unwrap().value;
            assert!(ku.digital_signature() && ku.key_encipherment());
            assert!(subject_values(&tls, &OID_X509_ORGANIZATIONAL_UNIT).is_empty());
            assert_eq!(sans(&tls), id.tls_sans, "{}", id.name);
        }
    }
    seen_roles.sort();
    seen_roles.dedup();
    assert_eq!(
        seen_roles,
        [Role::Client, Role::Peer, Role::Admin, Role::Orderer]
    );

    let org1 = network.org("Org1MSP").unwrap();
    let der = cert_der(&org1.nodes[0].tls_cert);
    assert_eq!(
        sans(&parse(&der)),
        ["peer0.org1.example.com", "peer0", "localhost", "127.0.0.1"]
    );
    let der = cert_der(&network.org("OrdererMSP").unwrap().nodes[0].tls_cert);
    assert_eq!(
        sans(&parse(&der)),
        ["orderer.example.com", "orderer", "localhost", "127.0.0.1"]
    );
    // Users' TLS certificates name no host, as with cryptogen.
    let der = cert_der(&org1.admin().tls_cert);
    assert!(sans(&parse(&der)).is_empty());
}

#[test]
fn configured_subject_fields_and_sans_reach_the_certificates() {
    let (_dir, network) = generated(&custom_config());
    let org = network.org("AcmeMSP").unwrap();
    assert_eq!(org.ca.common_name, "rootca.acme.test");
    assert_eq!(org.tls_ca.common_name, "tlsrootca.acme.test");
    let der = cert_der(&org.ca.cert);
    let ca = parse(&der);
    let subject = ca.subject().to_string();
    for fragment in [
        "C=DE",
        "ST=Berlin",
        "L=Berlin",
        "O=acme.test",
        "OU=Ledger Team",
        "CN=rootca.acme.test",
    ] {
        assert!(subject.contains(fragment), "{subject} lacks {fragment}");
    }
    let street = x509_parser::der_parser::oid!(2.5.4 .9);
    let postal = x509_parser::der_parser::oid!(2.5.4 .17);
    assert_eq!(subject_values(&ca, &street), ["Hauptstrasse 1"]);
    assert_eq!(subject_values(&ca, &postal), ["10115"]);

    let names: Vec<_> = org.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["foo27.other.test", "peer3.acme.test", "peer4.acme.test"]
    );
    let foo = &org.nodes[0];
    let der = cert_der(&foo.cert);
    let cert = parse(&der);
    // The CA's OU and the NodeOU are both present, as cryptogen writes them.
    assert_eq!(
        subject_values(&cert, &OID_X509_ORGANIZATIONAL_UNIT),
        ["Ledger Team", "peer"]
    );
    assert_eq!(subject_values(&cert, &street), ["Hauptstrasse 1"]);
    let der = cert_der(&foo.tls_cert);
    assert_eq!(
        sans(&parse(&der)),
        [
            "foo27.other.test",
            "foo",
            "bar.acme.test",
            "foo.alt.test",
            "172.16.10.31",
            "::1",
            "localhost",
            "127.0.0.1"
        ]
    );
    let der = cert_der(&org.nodes[2].tls_cert);
    assert_eq!(
        sans(&parse(&der)),
        [
            "peer4.acme.test",
            "peer4",
            "peer4.acme.test.mirror.test",
            "localhost",
            "127.0.0.1"
        ]
    );
    let users: Vec<_> = org.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        users,
        ["Admin@acme.test", "User1@acme.test", "User2@acme.test"]
    );
}

#[test]
fn without_node_ous_certificates_have_no_node_ou() {
    let mut config = CryptoConfig::default_network();
    for org in config.orderer_orgs.iter_mut().chain(&mut config.peer_orgs) {
        org.enable_node_ous = false;
    }
    let (_dir, network) = generated(&config);
    for org in &network.orgs {
        for id in org.nodes.iter().chain(&org.users) {
            assert_eq!(id.node_ou, None);
            let der = cert_der(&id.cert);
            assert!(
                subject_values(&parse(&der), &OID_X509_ORGANIZATIONAL_UNIT).is_empty(),
                "{}",
                id.name
            );
            assert_issued_by(&id.cert, &org.ca.cert);
        }
    }
}

/// Half the order of P-256, rounded down: the largest S that Fabric accepts.
const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

#[test]
fn certificate_signatures_are_low_s() {
    // Fabric rejects high-S ECDSA signatures; cryptogen signs certificates with low S.
    let (_dir, network) = generated(&large_org_config());
    let mut checked = 0;
    for org in &network.orgs {
        for path in [&org.ca.cert, &org.tls_ca.cert].into_iter().chain(
            org.nodes
                .iter()
                .chain(&org.users)
                .flat_map(|id| [&id.cert, &id.tls_cert]),
        ) {
            let der = cert_der(path);
            let cert = parse(&der);
            let (_, sig) = x509_parser::der_parser::parse_der(&cert.signature_value.data).unwrap();
            let parts = sig.as_sequence().unwrap();
            assert_eq!(parts.len(), 2);
            let s = parts[1].as_slice().unwrap();
            let s = &s[s.iter().take_while(|b| **b == 0).count()..];
            let mut s32 = [0u8; 32];
            s32[32 - s.len()..].copy_from_slice(s);
            assert!(
                s32 <= P256_HALF_ORDER,
                "{} has a high-S signature",
                path.display()
            );
            checked += 1;
        }
    }
    // With this many signatures, about half would be high-S without normalisation.
    assert_eq!(checked, 2 + 2 * 41);
}

fn large_org_config() -> CryptoConfig {
    let mut config = CryptoConfig::default_network();
    config.orderer_orgs.clear();
    config.peer_orgs.truncate(1);
    config.peer_orgs[0].template.count = 10;
    config.peer_orgs[0].users.count = 30;
    config
}
