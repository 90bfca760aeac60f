//! The folder layout: exactly Fabric cryptogen's files, nothing missing and nothing extra.

use std::fs;

use cambium_cryptogen::{plan, CryptoConfig, OrgKind};

use crate::support::*;

/// The files cryptogen writes for one identity (relative to the organisation), `tls` = server/client.
fn identity_files(
    folder: &str,
    name: &str,
    tls: &str,
    domain: &str,
    node_ous: bool,
    admin_cert: Option<&str>,
) -> Vec<String> {
    let base = format!("{folder}/{name}");
    let mut files = vec![
        format!("{base}/msp/cacerts/ca.{domain}-cert.pem"),
        format!("{base}/msp/keystore/priv_sk"),
        format!("{base}/msp/signcerts/{name}-cert.pem"),
        format!("{base}/msp/tlscacerts/tlsca.{domain}-cert.pem"),
        format!("{base}/tls/ca.crt"),
        format!("{base}/tls/{tls}.crt"),
        format!("{base}/tls/{tls}.key"),
    ];
    if node_ous {
        files.push(format!("{base}/msp/config.yaml"));
    } else if let Some(admin) = admin_cert {
        files.push(format!("{base}/msp/admincerts/{admin}-cert.pem"));
    }
    files
}

fn expected_org_files(
    domain: &str,
    kind: OrgKind,
    nodes: &[&str],
    users: &[&str],
    node_ous: bool,
) -> Vec<String> {
    let admin = format!("Admin@{domain}");
    let mut files = vec![
        format!("ca/ca.{domain}-cert.pem"),
        "ca/priv_sk".to_owned(),
        format!("tlsca/tlsca.{domain}-cert.pem"),
        "tlsca/priv_sk".to_owned(),
        format!("msp/cacerts/ca.{domain}-cert.pem"),
        format!("msp/tlscacerts/tlsca.{domain}-cert.pem"),
        if node_ous {
            "msp/config.yaml".to_owned()
        } else {
            format!("msp/admincerts/{admin}-cert.pem")
        },
    ];
    for node in nodes {
        files.extend(identity_files(
            kind.nodes_folder(),
            node,
            "server",
            domain,
            node_ous,
            Some(&admin),
        ));
    }
    for user in users {
        // Without NodeOUs each user's MSP lists the user itself as admin.
        files.extend(identity_files(
            "users",
            user,
            "client",
            domain,
            node_ous,
            Some(user),
        ));
    }
    files.sort();
    files
}

#[test]
fn default_network_has_exactly_fabrics_layout() {
    let (dir, network) = generated(&CryptoConfig::default_network());
    let mut top: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(
        top,
        ["ordererOrganizations", "peerOrganizations"],
        "no staging folder is left behind"
    );

    let orderer = network.org("OrdererMSP").unwrap();
    assert_eq!(
        orderer.dir,
        dir.path().join("ordererOrganizations/example.com")
    );
    assert_eq!(
        files_under(&orderer.dir),
        expected_org_files(
            "example.com",
            OrgKind::Orderer,
            &["orderer.example.com"],
            &["Admin@example.com"],
            true
        )
    );
    for n in [1, 2] {
        let domain = format!("org{n}.example.com");
        let org = network.org(&format!("Org{n}MSP")).unwrap();
        assert_eq!(org.dir, dir.path().join("peerOrganizations").join(&domain));
        assert_eq!(org.msp_dir, org.dir.join("msp"));
        let peer = format!("peer0.{domain}");
        let admin = format!("Admin@{domain}");
        let user = format!("User1@{domain}");
        assert_eq!(
            files_under(&org.dir),
            expected_org_files(&domain, OrgKind::Peer, &[&peer], &[&admin, &user], true)
        );
        // Empty admincerts folders exist in every MSP, as cryptogen creates them.
        assert!(org.msp_dir.join("admincerts").is_dir());
        assert!(org.nodes[0].msp_dir.join("admincerts").is_dir());
    }
}

#[test]
fn every_path_in_the_result_exists_and_copies_are_identical() {
    let (_dir, network) = generated(&CryptoConfig::default_network());
    for org in &network.orgs {
        for path in [&org.ca.cert, &org.ca.key, &org.tls_ca.cert, &org.tls_ca.key] {
            assert!(path.is_file(), "{}", path.display());
        }
        let ca = fs::read(&org.ca.cert).unwrap();
        let tls_ca = fs::read(&org.tls_ca.cert).unwrap();
        let ca_name = format!("{}-cert.pem", org.ca.common_name);
        let tls_ca_name = format!("{}-cert.pem", org.tls_ca.common_name);
        assert_eq!(
            fs::read(org.msp_dir.join("cacerts").join(&ca_name)).unwrap(),
            ca
        );
        assert_eq!(
            fs::read(org.msp_dir.join("tlscacerts").join(&tls_ca_name)).unwrap(),
            tls_ca
        );
        for id in org.nodes.iter().chain(&org.users) {
            for path in [
                &id.cert,
                &id.key,
                &id.tls_cert,
                &id.tls_key,
                &id.tls_ca_cert,
            ] {
                assert!(path.is_file(), "{}", path.display());
            }
            assert_eq!(fs::read(&id.tls_ca_cert).unwrap(), tls_ca);
            assert_eq!(
                fs::read(id.msp_dir.join("cacerts").join(&ca_name)).unwrap(),
                ca
            );
            assert_eq!(
                fs::read(id.msp_dir.join("tlscacerts").join(&tls_ca_name)).unwrap(),
                tls_ca
            );
            let config = fs::read_to_string(id.msp_dir.join("config.yaml")).unwrap();
            assert_eq!(
                config,
                fs::read_to_string(org.msp_dir.join("config.yaml")).unwrap()
            );
            assert!(
                config.contains(&format!("Certificate: cacerts/{ca_name}")),
                "{config}"
            );
        }
    }
}

#[test]
fn without_node_ous_admincerts_hold_the_admin() {
    let mut config = CryptoConfig::default_network();
    config.peer_orgs.truncate(1);
    config.peer_orgs[0].enable_node_ous = false;
    config.orderer_orgs.clear();
    let (_dir, network) = generated(&config);
    let org = &network.orgs[0];
    assert!(!org.node_ous);
    assert_eq!(
        files_under(&org.dir),
        expected_org_files(
            "org1.example.com",
            OrgKind::Peer,
            &["peer0.org1.example.com"],
            &["Admin@org1.example.com", "User1@org1.example.com"],
            false
        )
    );
    let admin_cert = fs::read(&org.admin().cert).unwrap();
    let name = "Admin@org1.example.com-cert.pem";
    assert_eq!(
        fs::read(org.msp_dir.join("admincerts").join(name)).unwrap(),
        admin_cert
    );
    assert_eq!(
        fs::read(org.nodes[0].msp_dir.join("admincerts").join(name)).unwrap(),
        admin_cert
    );
    let user = &org.users[1];
    assert_eq!(
        fs::read(
            user.msp_dir
                .join("admincerts/User1@org1.example.com-cert.pem")
        )
        .unwrap(),
        fs::read(&user.cert).unwrap()
    );
}

#[test]
fn the_result_serialises_to_json_for_scripts() {
    let (_dir, network) = generated(&CryptoConfig::default_network());
    let json = serde_json::to_value(&network).unwrap();
    let orgs = json["orgs"].as_array().unwrap();
    assert_eq!(orgs.len(), 3);
    let org1 = &orgs[1];
    assert_eq!(org1["msp_id"], "Org1MSP");
    assert_eq!(org1["kind"], "peer");
    assert_eq!(org1["msp_dir"], network.orgs[1].msp_dir.to_str().unwrap());
    let peer = &org1["nodes"][0];
    assert_eq!(peer["role"], "peer");
    assert_eq!(
        peer["tls_dir"],
        network.orgs[1].nodes[0].tls_dir.to_str().unwrap()
    );
    assert_eq!(peer["key"], network.orgs[1].nodes[0].key.to_str().unwrap());
    assert_eq!(org1["users"][0]["role"], "admin");
    assert_eq!(
        org1["users"][1]["tls_cert"],
        network.orgs[1].users[1].tls_cert.to_str().unwrap()
    );
}

#[test]
fn missing_files_tells_whether_material_is_on_disk() {
    let config = CryptoConfig::default_network();
    let dir = tempfile::tempdir().unwrap();
    let planned = plan(&config, dir.path()).unwrap();
    // 3 organisations x 4 CA files, 8 identities x 5 files.
    assert_eq!(planned.key_and_cert_files().len(), 3 * 4 + 8 * 5);
    assert_eq!(
        planned.missing_files().len(),
        planned.key_and_cert_files().len()
    );
    let generated = cambium_cryptogen::generate(&config, dir.path(), Default::default()).unwrap();
    assert_eq!(generated, planned);
    assert!(planned.missing_files().is_empty());
    let key = &planned.orgs[2].nodes[0].tls_key;
    fs::remove_file(key).unwrap();
    assert_eq!(planned.missing_files(), [key.as_path()]);
}
