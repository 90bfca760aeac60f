//! MSP validation: chains, intermediates, validity, CRLs, NodeOUs, principals and errors.

use cambium_msp::{Msp, MspConfig, MspManager};
use cambium_primitives::{MspRole, Principal, SerializedIdentity};

use crate::pki::{date, ou, Ca, Org, AT};

fn err_text<T: std::fmt::Debug>(r: Result<T, cambium_msp::MspError>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn each_role_validates_with_its_node_ou() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    for (leaf, role) in [
        (&org.peer, MspRole::Peer),
        (&org.client, MspRole::Client),
        (&org.admin, MspRole::Admin),
        (&org.orderer, MspRole::Orderer),
    ] {
        let id = msp.validate(&leaf.serialized("Org1MSP"), AT).unwrap();
        assert_eq!(id.node_role(), Some(role));
        assert_eq!(id.is_admin(), role == MspRole::Admin);
        assert_eq!(id.msp_id(), "Org1MSP");
        assert_eq!(id.serialized().id_bytes, leaf.cert_pem.as_bytes());
        assert_eq!(
            id.organizational_units()[0].organizational_unit_identifier,
            role.as_str()
        );
        assert_eq!(id.id().len(), 64);
    }
    // Validation is cached; a second call answers the same.
    let again = msp.validate(&org.peer.serialized("Org1MSP"), AT).unwrap();
    assert_eq!(again.node_role(), Some(MspRole::Peer));
}

#[test]
fn certificate_fields_are_parsed() {
    let org = Org::new(1);
    let id = Msp::new(&org.config())
        .unwrap()
        .validate(&org.peer.serialized("Org1MSP"), AT)
        .unwrap();
    let cert = id.certificate();
    assert_eq!(cert.subject(), "CN=peer0.org1.example.com,OU=peer,C=US");
    assert_eq!(
        cert.issuer(),
        "CN=ca.org1.example.com,O=org1.example.com,C=US"
    );
    assert_eq!(cert.common_name(), Some("peer0.org1.example.com"));
    assert_eq!(cert.organizational_units(), ["peer"]);
    assert_eq!(cert.serial_hex(), "0a");
    assert_eq!(cert.not_before(), 1_577_836_800);
    assert_eq!(cert.not_after(), 2_208_988_800);
    assert!(cert.key_curve() == Some(cambium_msp::Curve::P256) && !cert.is_ca());
    assert_eq!(cert.public_key().len(), 65);
    assert!(cert.authority_key_id().is_some());
    let ca = Msp::new(&org.config()).unwrap();
    let root = ca.root_certs().next().unwrap();
    assert_eq!(cert.authority_key_id(), root.subject_key_id());
}

#[test]
fn signatures_of_a_signing_identity_verify_through_its_validated_identity() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let signer = org.client.signing("Org1MSP");
    assert_eq!(signer.serialized(), org.client.serialized("Org1MSP"));
    let sig = signer.sign(b"proposal bytes").unwrap();
    let id = msp.validate(&signer.serialized(), AT).unwrap();
    id.verify(b"proposal bytes", &sig).unwrap();
    let err = err_text(id.verify(b"other bytes", &sig));
    assert_eq!(
        err,
        "signature verification failed for 'CN=User1@org1.example.com,OU=client,C=US' of Org1MSP: the signature was not made by this identity's key over these bytes"
    );
    // A raw r‖s signature (as some non-Fabric signers produce) is refused as non-DER.
    let err = err_text(id.verify(b"proposal bytes", &[1u8; 64]));
    assert!(
        err.starts_with("signature is not a DER-encoded ECDSA signature"),
        "{err}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_not_a_member() {
    let (org1, org2) = (Org::new(1), Org::new(2));
    let msp = Msp::new(&org1.config()).unwrap();
    assert_eq!(
        err_text(msp.validate(&org2.peer.serialized("Org1MSP"), AT)),
        "certificate for 'CN=peer0.org2.example.com,OU=peer,C=US' was not issued by any CA of Org1MSP; check that the client uses an identity of this org"
    );
    assert_eq!(
        err_text(msp.validate(&org1.peer.serialized("Org2MSP"), AT)),
        "identity belongs to MSP 'Org2MSP', not to Org1MSP; send it to the MSP that issued it"
    );
}

#[test]
fn validity_window_is_checked_at_the_given_time() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let expired = org.ca.issue_valid(
        "old.org1.example.com",
        &["peer"],
        40,
        date(2019, 1, 1),
        date(2021, 1, 1),
    );
    assert_eq!(
        err_text(msp.validate(&expired.serialized("Org1MSP"), AT)),
        "certificate for 'CN=old.org1.example.com,OU=peer,C=US' expired at 2021-01-01T00:00:00Z (checked at 2026-06-01T00:00:00Z); renew the certificate"
    );
    // The same certificate was fine while it was valid.
    msp.validate(&expired.serialized("Org1MSP"), 1_600_000_000)
        .unwrap();
    let future = org.ca.issue_valid(
        "new.org1.example.com",
        &["peer"],
        41,
        date(2030, 1, 1),
        date(2035, 1, 1),
    );
    let err = err_text(msp.validate(&future.serialized("Org1MSP"), AT));
    assert!(
        err.contains("is not valid before 2030-01-01T00:00:00Z"),
        "{err}"
    );
    // An identity is no better than its CA: after the root expires, so does the peer.
    let long = org.ca.issue_valid(
        "long.org1.example.com",
        &["peer"],
        42,
        date(2020, 1, 1),
        date(2050, 1, 1),
    );
    let err = err_text(msp.validate(&long.serialized("Org1MSP"), 2_300_000_000));
    assert!(
        err.contains(
            "has an issuing CA 'CN=ca.org1.example.com,O=org1.example.com,C=US' that expired"
        ),
        "{err}"
    );
}

#[test]
fn revoked_certificates_are_refused() {
    let org = Org::new(1);
    let mut config = org.config();
    config.revocation_list = vec![org.ca.crl(&[org.client.serial]).into_bytes()];
    let msp = Msp::new(&config).unwrap();
    assert_eq!(
        err_text(msp.validate(&org.client.serialized("Org1MSP"), AT)),
        "certificate for 'CN=User1@org1.example.com,OU=client,C=US' (serial 0b) has been revoked by a CRL of Org1MSP; use a certificate that has not been revoked"
    );
    msp.validate(&org.peer.serialized("Org1MSP"), AT).unwrap();
}

#[test]
fn a_crl_signed_by_no_ca_of_the_msp_is_a_config_error() {
    let (org1, org2) = (Org::new(1), Org::new(2));
    let mut config = org1.config();
    config.revocation_list = vec![org2.ca.crl(&[10]).into_bytes()];
    let err = err_text(Msp::new(&config));
    assert_eq!(
        err,
        "MSP Org1MSP is misconfigured: CRL #1 (issuer 'CN=ca.org2.example.com,O=org2.example.com,C=US') is not signed by any CA of the MSP; remove it or add the CA that issued it"
    );
}

#[test]
fn intermediates_extend_the_chain_and_their_crls_count() {
    let root = Ca::root("ca.org5.example.com", "org5.example.com");
    let int = root.intermediate("ica.org5.example.com", "org5.example.com");
    let peer = int.issue("peer0.org5.example.com", &["peer"], 50);
    let client = int.issue("User1@org5.example.com", &["client"], 51);
    let direct = root.issue("direct.org5.example.com", &["peer"], 52);
    let config = MspConfig {
        name: "Org5MSP".to_owned(),
        root_certs: vec![root.cert_pem.clone().into_bytes()],
        intermediate_certs: vec![int.cert_pem.clone().into_bytes()],
        revocation_list: vec![int.crl(&[51]).into_bytes()],
        node_ous: Some(cambium_msp::NodeOusConfig {
            enable: true,
            client_ou_identifier: ou(&int.cert_pem, "client"),
            peer_ou_identifier: ou(&int.cert_pem, "peer"),
            admin_ou_identifier: ou(&int.cert_pem, "admin"),
            orderer_ou_identifier: None,
        }),
        ..MspConfig::default()
    };
    let msp = Msp::new(&config).unwrap();
    let id = msp.validate(&peer.serialized("Org5MSP"), AT).unwrap();
    assert_eq!(id.node_role(), Some(MspRole::Peer));
    let err = err_text(msp.validate(&client.serialized("Org5MSP"), AT));
    assert!(err.contains("has been revoked"), "{err}");
    let err = err_text(msp.validate(&direct.serialized("Org5MSP"), AT));
    assert!(err.contains("also issues intermediate CAs"), "{err}");
    // An intermediate whose root is missing is a configuration error.
    let orphan = MspConfig {
        root_certs: vec![Ca::root("x", "y").cert_pem.into_bytes()],
        ..config
    };
    let err = err_text(Msp::new(&orphan));
    assert!(err.contains("intermediate CA certificate 'CN=ica.org5.example.com,O=org5.example.com,C=US' was not issued by any root CA"), "{err}");
}

#[test]
fn node_ous_need_exactly_one_role() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let none = org.ca.issue("nobody.org1.example.com", &["sales"], 60);
    let err = err_text(msp.validate(&none.serialized("Org1MSP"), AT));
    assert_eq!(
        err,
        "certificate for 'CN=nobody.org1.example.com,OU=sales,C=US' is not a valid identity of Org1MSP: NodeOUs are enabled and its OUs [\"sales\"] include none of the role OUs (client: 'client', peer: 'peer', admin: 'admin', orderer: 'orderer'); issue it with exactly one role OU"
    );
    let both = org
        .ca
        .issue("both.org1.example.com", &["peer", "client"], 61);
    let err = err_text(msp.validate(&both.serialized("Org1MSP"), AT));
    assert!(
        err.contains("carries several role OUs (peer, client)"),
        "{err}"
    );
}

#[test]
fn bad_inputs_get_helpful_errors() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let garbage = SerializedIdentity {
        msp_id: "Org1MSP".to_owned(),
        id_bytes: b"not a certificate".to_vec(),
    };
    let err = err_text(msp.validate(&garbage, AT));
    assert!(
        err.starts_with("the identity's certificate is not valid PEM (")
            && err.ends_with("expected a '-----BEGIN CERTIFICATE-----' block"),
        "{err}"
    );
    let ca_as_id = SerializedIdentity {
        msp_id: "Org1MSP".to_owned(),
        id_bytes: org.ca.cert_pem.clone().into_bytes(),
    };
    assert_eq!(
        err_text(msp.validate(&ca_as_id, AT)),
        "certificate for 'CN=ca.org1.example.com,O=org1.example.com,C=US' is a CA certificate and cannot be used as an identity of Org1MSP; use a certificate issued by the CA"
    );
    let err = err_text(cambium_msp::SigningIdentity::new(
        "Org1MSP",
        org.peer.cert_pem.clone().into_bytes(),
        org.client.key_pem.as_bytes(),
    ));
    assert_eq!(
        err,
        "private key does not match certificate 'CN=peer0.org1.example.com,OU=peer,C=US': the key belongs to another certificate; use the key that was generated with this certificate"
    );
    let leaf_as_root = MspConfig {
        root_certs: vec![org.peer.cert_pem.clone().into_bytes()],
        ..org.config()
    };
    assert!(err_text(Msp::new(&leaf_as_root)).contains("basic constraints do not say CA:TRUE"));
    let no_admins = MspConfig {
        node_ous: None,
        ..org.config()
    };
    assert!(err_text(Msp::new(&no_admins)).contains("no administrators"));
}

#[test]
fn manager_finds_msps_by_id() {
    let (org1, org2) = (Org::new(1), Org::new(2));
    let mgr = MspManager::from_configs(&[org1.config(), org2.config()]).unwrap();
    assert_eq!(mgr.msp_ids(), ["Org1MSP", "Org2MSP"]);
    assert_eq!(
        mgr.validate(&org2.peer.serialized("Org2MSP"), AT)
            .unwrap()
            .msp_id(),
        "Org2MSP"
    );
    let cert = mgr
        .deserialize_identity(&org1.peer.serialized("Org1MSP"))
        .unwrap();
    assert_eq!(cert.common_name(), Some("peer0.org1.example.com"));
    assert_eq!(
        err_text(mgr.validate(&org1.peer.serialized("Org9MSP"), AT)),
        "unknown MSP ID 'Org9MSP'; known MSPs: Org1MSP, Org2MSP"
    );
    assert!(
        err_text(MspManager::from_configs(&[org1.config(), org1.config()]))
            .contains("two MSPs share this ID")
    );
}

#[test]
fn principals_follow_fabric_rules() {
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let legacy = Msp::new(&org.legacy_config()).unwrap();
    let role = |r| Principal::Role {
        msp_id: "Org1MSP".to_owned(),
        role: r,
    };
    let id =
        |m: &Msp, leaf: &crate::pki::Leaf| m.validate(&leaf.serialized("Org1MSP"), AT).unwrap();

    // (msp, signer, principal, expected error fragment or None for satisfied)
    let peer_ou = |m: &Msp, leaf: &crate::pki::Leaf| {
        let i = id(m, leaf);
        Principal::OrganizationUnit {
            msp_id: "Org1MSP".to_owned(),
            ou: "peer".to_owned(),
            certifiers_identifier: i.organizational_units()[0].certifiers_identifier.clone(),
        }
    };
    let cases: Vec<(&Msp, &crate::pki::Leaf, Principal, Option<&str>)> = vec![
        (&msp, &org.peer, role(MspRole::Member), None),
        (&msp, &org.peer, role(MspRole::Peer), None),
        (&msp, &org.peer, role(MspRole::Client), Some("its role is peer, not client (the client OU is 'client')")),
        (&msp, &org.admin, role(MspRole::Admin), None),
        (&msp, &org.client, role(MspRole::Admin), Some("it is not listed in admincerts and does not carry the admin OU 'admin'")),
        (&msp, &org.orderer, role(MspRole::Orderer), None),
        (&msp, &org.peer, peer_ou(&msp, &org.peer), None),
        (&msp, &org.peer, Principal::Identity(org.peer.serialized("Org1MSP")), None),
        (&msp, &org.client, Principal::Identity(org.peer.serialized("Org1MSP")), Some("the principal names another certificate")),
        (&msp, &org.peer, Principal::Role { msp_id: "Org2MSP".to_owned(), role: MspRole::Member }, Some("the principal asks for an identity of Org2MSP")),
        (&legacy, &org.admin, role(MspRole::Admin), None),
        (&legacy, &org.peer, role(MspRole::Admin), Some("it is not listed in admincerts")),
        (&legacy, &org.client, role(MspRole::Member), None),
        (&legacy, &org.peer, role(MspRole::Peer), Some("NodeOUs are not enabled in Org1MSP, so it cannot tell client, peer and orderer identities apart; enable NodeOUs in the MSP's config.yaml")),
    ];
    for (m, leaf, principal, expected) in cases {
        let identity = id(m, leaf);
        let result = m.satisfies_principal(&identity, &principal);
        match expected {
            None => result.unwrap_or_else(|e| panic!("{principal:?}: {e}")),
            Some(fragment) => {
                let err = result.unwrap_err().to_string();
                assert!(
                    err.contains(fragment) && err.starts_with("identity '"),
                    "{principal:?}: {err}"
                );
            }
        }
    }
}

#[test]
fn well_formed_identities_are_single_canonical_pem_blocks() {
    let org = Org::new(1);
    let good = org.peer.serialized("Org1MSP");
    cambium_msp::check_well_formed(&good).unwrap();
    let mut trailing = good.clone();
    trailing.id_bytes.extend_from_slice(b"\n");
    assert_eq!(
        cambium_msp::check_well_formed(&trailing).unwrap_err().to_string(),
        "identity of Org1MSP is not well-formed: 1 bytes follow the PEM block; send the certificate's PEM exactly as issued"
    );
    let key_block = SerializedIdentity {
        msp_id: "Org1MSP".to_owned(),
        id_bytes: org.peer.key_pem.clone().into_bytes(),
    };
    let err = cambium_msp::check_well_formed(&key_block)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("its PEM block is a 'PRIVATE KEY', not a 'CERTIFICATE'"),
        "{err}"
    );
}

#[test]
fn p384_cas_and_identities_are_accepted() {
    // The Fabric Gateway clients may use P-384 keys; some CAs do too.
    let ca = Ca::root_with(
        "ca.org6.example.com",
        "org6.example.com",
        &rcgen::PKCS_ECDSA_P384_SHA384,
    );
    let p384 = &rcgen::PKCS_ECDSA_P384_SHA384;
    let client = ca.issue_full(
        "User1@org6.example.com",
        &["client"],
        70,
        date(2020, 1, 1),
        date(2040, 1, 1),
        p384,
    );
    let peer = ca.issue("peer0.org6.example.com", &["peer"], 71);
    let config = MspConfig {
        name: "Org6MSP".to_owned(),
        root_certs: vec![ca.cert_pem.clone().into_bytes()],
        node_ous: Some(cambium_msp::NodeOusConfig {
            enable: true,
            client_ou_identifier: ou(&ca.cert_pem, "client"),
            peer_ou_identifier: ou(&ca.cert_pem, "peer"),
            admin_ou_identifier: ou(&ca.cert_pem, "admin"),
            orderer_ou_identifier: None,
        }),
        ..MspConfig::default()
    };
    let msp = Msp::new(&config).unwrap();
    let id = msp.validate(&client.serialized("Org6MSP"), AT).unwrap();
    assert_eq!(id.certificate().key_curve(), Some(cambium_msp::Curve::P384));
    assert_eq!(id.node_role(), Some(MspRole::Client));
    assert_eq!(
        msp.validate(&peer.serialized("Org6MSP"), AT)
            .unwrap()
            .node_role(),
        Some(MspRole::Peer)
    );
    // Cambium signs with P-256 only, and says so.
    let err = err_text(cambium_msp::SigningIdentity::new(
        "Org6MSP",
        client.cert_pem.clone().into_bytes(),
        client.key_pem.as_bytes(),
    ));
    assert!(err.contains("signs with P-256"), "{err}");
}

#[test]
fn identity_ids_hash_the_low_s_form_of_the_certificate_as_fabric_does() {
    // ring signs certificates with a random nonce, so about half come out high-S; Fabric
    // re-encodes those with the low-S signature before hashing (`sanitizeCert`).
    let org = Org::new(1);
    let msp = Msp::new(&org.config()).unwrap();
    let root = msp.root_certs().next().unwrap().clone();
    let (mut saw_high, mut saw_low) = (false, false);
    for serial in 100..164u64 {
        let leaf = org
            .ca
            .issue(&format!("peer{serial}.org1.example.com"), &["peer"], serial);
        let id = msp.validate(&leaf.serialized("Org1MSP"), AT).unwrap();
        let cert = id.certificate();
        let sanitized = cert.sanitized_der(root.key_curve());
        let reparsed = cambium_msp::Certificate::from_der(sanitized.clone(), "sanitized").unwrap();
        assert_eq!(id.id(), hex::encode(reparsed.fingerprint()));
        assert_eq!(reparsed.tbs_hash(), cert.tbs_hash());
        assert!(
            reparsed.is_issued_by(&root),
            "the low-S form must still verify"
        );
        assert_eq!(
            reparsed.sanitized_der(root.key_curve()),
            sanitized,
            "sanitising is idempotent"
        );
        if sanitized == cert.der() {
            saw_low = true;
            assert_eq!(id.id(), hex::encode(cert.fingerprint()));
        } else {
            saw_high = true;
            assert_ne!(id.id(), hex::encode(cert.fingerprint()));
            // Both encodings are the same identity for the MSP.
            let low = SerializedIdentity {
                msp_id: "Org1MSP".to_owned(),
                id_bytes: pem_of(&sanitized).into_bytes(),
            };
            assert_eq!(msp.validate(&low, AT).unwrap().id(), id.id());
        }
        if saw_high && saw_low {
            return;
        }
    }
    panic!("64 certificates should include both high-S and low-S signatures");
}

fn pem_of(der: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
