//! Reading MSP folders in the layout of Fabric's cryptogen (and `cambium-cryptogen`).

use std::fs;
use std::path::Path;

use cambium_msp::{load_signing_identity, Msp, MspConfig, MspError};
use cambium_primitives::MspRole;

use crate::pki::{Org, AT};

const CONFIG_YAML: &str = "NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.org1.example.com-cert.pem
    OrganizationalUnitIdentifier: orderer
";

fn write(path: &Path, contents: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// Lays out `peers/peer0.org1.example.com/msp` as Fabric's cryptogen does.
fn cryptogen_peer_msp(dir: &Path, org: &Org) {
    write(
        &dir.join("cacerts/ca.org1.example.com-cert.pem"),
        &org.ca.cert_pem,
    );
    write(
        &dir.join("tlscacerts/tlsca.org1.example.com-cert.pem"),
        &org.ca.cert_pem,
    );
    write(
        &dir.join("signcerts/peer0.org1.example.com-cert.pem"),
        &org.peer.cert_pem,
    );
    write(&dir.join("keystore/priv_sk"), &org.peer.key_pem);
    write(&dir.join("config.yaml"), CONFIG_YAML);
    fs::create_dir_all(dir.join("admincerts")).unwrap();
}

#[test]
fn a_cryptogen_peer_folder_loads_validates_and_signs() {
    let org = Org::new(1);
    let tmp = tempfile::tempdir().unwrap();
    let msp_dir = tmp.path().join("msp");
    cryptogen_peer_msp(&msp_dir, &org);

    let config = MspConfig::from_dir(&msp_dir, "Org1MSP").unwrap();
    assert_eq!(config.name, "Org1MSP");
    assert_eq!(config.root_certs, [org.ca.cert_pem.as_bytes()]);
    assert_eq!(config.tls_root_certs.len(), 1);
    assert!(
        config.admins.is_empty()
            && config.intermediate_certs.is_empty()
            && config.revocation_list.is_empty()
    );
    let node_ous = config.node_ous.as_ref().unwrap();
    assert!(node_ous.enable);
    assert_eq!(
        node_ous
            .peer_ou_identifier
            .as_ref()
            .unwrap()
            .organizational_unit_identifier,
        "peer"
    );
    assert_eq!(
        node_ous.admin_ou_identifier.as_ref().unwrap().certificate,
        org.ca.cert_pem.as_bytes()
    );

    let msp = Msp::new(&config).unwrap();
    assert!(msp.node_ous_enabled());
    assert_eq!(msp.tls_root_certs().len(), 1);
    let signer = load_signing_identity(&msp_dir, "Org1MSP").unwrap();
    assert_eq!(
        signer.serialized().id_bytes,
        fs::read(msp_dir.join("signcerts/peer0.org1.example.com-cert.pem")).unwrap()
    );
    let identity = msp.validate(&signer.serialized(), AT).unwrap();
    assert_eq!(identity.node_role(), Some(MspRole::Peer));
    let sig = signer.sign(b"endorsement").unwrap();
    identity.verify(b"endorsement", &sig).unwrap();
}

#[test]
fn crls_and_intermediates_in_the_folder_are_used() {
    let org = Org::new(1);
    let tmp = tempfile::tempdir().unwrap();
    cryptogen_peer_msp(tmp.path(), &org);
    write(
        &tmp.path().join("crls/crl.pem"),
        &org.ca.crl(&[org.client.serial]),
    );
    let msp = Msp::new(&MspConfig::from_dir(tmp.path(), "Org1MSP").unwrap()).unwrap();
    let err = msp
        .validate(&org.client.serialized("Org1MSP"), AT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has been revoked"), "{err}");
    msp.validate(&org.admin.serialized("Org1MSP"), AT).unwrap();
}

#[test]
fn a_key_of_a_pkcs8_pem_with_another_name_is_found() {
    // fabric-ca names keys `<ski>_sk`; any file of keystore/ that fits the certificate will do.
    let org = Org::new(1);
    let tmp = tempfile::tempdir().unwrap();
    cryptogen_peer_msp(tmp.path(), &org);
    fs::remove_file(tmp.path().join("keystore/priv_sk")).unwrap();
    write(
        &tmp.path().join("keystore/0a_other_sk"),
        &org.client.key_pem,
    );
    write(&tmp.path().join("keystore/ff11_sk"), &org.peer.key_pem);
    let signer = load_signing_identity(tmp.path(), "Org1MSP").unwrap();
    assert_eq!(
        signer.certificate().common_name(),
        Some("peer0.org1.example.com")
    );
}

#[test]
fn broken_folders_say_what_to_fix() {
    let org = Org::new(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let err = MspConfig::from_dir(&dir.join("nope"), "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("is not a directory; pass the folder that holds cacerts/ and signcerts/"),
        "{err}"
    );

    fs::create_dir_all(dir.join("signcerts")).unwrap();
    let err = MspConfig::from_dir(dir, "Org1MSP").unwrap_err().to_string();
    assert!(
        err.ends_with(
            "cacerts/ is missing or empty; put the organisation's root CA certificate there"
        ),
        "{err}"
    );
    let err = load_signing_identity(dir, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("signcerts/ is missing or empty; put the node's or user's certificate there"),
        "{err}"
    );

    cryptogen_peer_msp(dir, &org);
    write(&dir.join("keystore/priv_sk"), &org.client.key_pem);
    let err = load_signing_identity(dir, "Org1MSP").unwrap_err();
    assert!(matches!(err, MspError::KeyMismatch { .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with("private key does not match certificate 'CN=peer0.org1.example.com"));

    write(
        &dir.join("keystore/priv_sk"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let err = load_signing_identity(dir, "Org1MSP")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("priv_sk is not a usable EC P-256 private key"),
        "{err}"
    );

    write(
        &dir.join("config.yaml"),
        &CONFIG_YAML.replace("cacerts/ca.org1", "cacerts/missing.org1"),
    );
    let err = MspConfig::from_dir(dir, "Org1MSP").unwrap_err().to_string();
    assert!(
        err.contains("Certificate 'cacerts/missing.org1.example.com-cert.pem' cannot be read"),
        "{err}"
    );

    write(&dir.join("config.yaml"), "NodeOUs: [not, a, map]\n");
    let err = MspConfig::from_dir(dir, "Org1MSP").unwrap_err().to_string();
    assert!(
        err.contains("config.yaml is not a valid MSP config.yaml"),
        "{err}"
    );

    write(&dir.join("config.yaml"), CONFIG_YAML);
    write(&dir.join("cacerts/ca.org1.example.com-cert.pem"), "garbage");
    let err = Msp::new(&MspConfig::from_dir(dir, "Org1MSP").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("root CA certificate #1 is not valid PEM"),
        "{err}"
    );
}

#[test]
fn admincerts_intermediates_and_ou_identifiers_are_read() {
    use crate::pki::Ca;
    let root = Ca::root("ca.org7.example.com", "org7.example.com");
    let int = root.intermediate("ica.org7.example.com", "org7.example.com");
    let admin = int.issue("Admin@org7.example.com", &["sales"], 1);
    let seller = int.issue("seller@org7.example.com", &["sales"], 2);
    let other = int.issue("x@org7.example.com", &["marketing"], 3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("cacerts/ca.pem"), &root.cert_pem);
    write(&dir.join("intermediatecerts/ica.pem"), &int.cert_pem);
    write(
        &dir.join("admincerts/Admin@org7.example.com-cert.pem"),
        &admin.cert_pem,
    );
    write(
        &dir.join("config.yaml"),
        "OrganizationalUnitIdentifiers:\n  - Certificate: intermediatecerts/ica.pem\n    OrganizationalUnitIdentifier: sales\n",
    );
    let config = MspConfig::from_dir(dir, "Org7MSP").unwrap();
    assert_eq!(config.intermediate_certs.len(), 1);
    assert_eq!(config.admins.len(), 1);
    assert_eq!(
        config.organizational_unit_identifiers[0].organizational_unit_identifier,
        "sales"
    );
    assert!(config.node_ous.is_none());
    let msp = Msp::new(&config).unwrap();
    assert!(!msp.node_ous_enabled());
    assert!(msp
        .validate(&admin.serialized("Org7MSP"), AT)
        .unwrap()
        .is_admin());
    assert!(!msp
        .validate(&seller.serialized("Org7MSP"), AT)
        .unwrap()
        .is_admin());
    let err = msp
        .validate(&other.serialized("Org7MSP"), AT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "none of its OUs [\"marketing\"] is one of the MSP's organisational units (sales)"
        ),
        "{err}"
    );
}
