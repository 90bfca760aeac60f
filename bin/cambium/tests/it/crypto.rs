//! Tests of `cambium crypto …`.

use std::path::Path;

use cambium_cryptogen::CryptoConfig;

use crate::support::{cambium, path_arg, stderr, stdout};

#[test]
fn default_config_prints_the_built_in_network() {
    let output = cambium(&["crypto", "default-config"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = CryptoConfig::from_yaml(&stdout(&output)).unwrap();
    assert_eq!(config, CryptoConfig::default_network());
}

#[test]
fn generate_writes_the_default_network_and_reports_it_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crypto");
    let output = cambium(&["crypto", "generate", "--out", path_arg(&out), "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let orgs = json["orgs"].as_array().unwrap();
    let ids: Vec<_> = orgs.iter().map(|o| o["msp_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["OrdererMSP", "Org1MSP", "Org2MSP"]);
    for org in orgs {
        assert!(Path::new(org["msp_dir"].as_str().unwrap())
            .join("config.yaml")
            .is_file());
        for id in org["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .chain(org["users"].as_array().unwrap())
        {
            for key in ["cert", "key", "tls_cert", "tls_key", "tls_ca_cert"] {
                let path = id[key].as_str().unwrap();
                assert!(Path::new(path).is_file(), "{key} {path}");
            }
            assert!(Path::new(id["tls_dir"].as_str().unwrap()).is_dir());
        }
    }
    let peer_cert = &orgs[1]["nodes"][0]["tls_cert"];
    assert_eq!(
        peer_cert.as_str().unwrap(),
        out.join("peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt")
            .to_str()
            .unwrap()
    );
}

#[test]
fn a_second_generate_refuses_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = path_arg(dir.path());
    let first = cambium(&["crypto", "generate", "--out", out]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = stdout(&first);
    for fragment in [
        "3 organisation(s), 8 identities",
        "Org1MSP (org1.example.com), NodeOUs on",
        "peer0.org1.example.com",
    ] {
        assert!(
            summary.contains(fragment),
            "summary lacks {fragment:?}:\n{summary}"
        );
    }
    let key = dir
        .path()
        .join("peerOrganizations/org1.example.com/ca/priv_sk");
    let before = std::fs::read(&key).unwrap();

    let second = cambium(&["crypto", "generate", "--out", out]);
    assert!(!second.status.success());
    let expected = format!(
        "{} already exists: organisation Org1 (org1.example.com) already has crypto material in this folder; \
         to add another organisation give it a Name and Domain of its own, or pass --force to replace Org1 \
         (org1.example.com)'s material (its existing identities will stop working)",
        key.display()
    );
    assert!(stderr(&second).contains(&expected), "{}", stderr(&second));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    let forced = cambium(&["crypto", "generate", "--out", out, "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn generate_reads_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crypto.yaml");
    std::fs::write(
        &config,
        "PeerOrgs:\n  - Name: Acme\n    Domain: acme.test\n    Specs:\n      - Hostname: node\n        SANS: [10.0.0.7]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    // `--output` is cryptogen's spelling of `--out`.
    let output = cambium(&[
        "crypto",
        "generate",
        "--config",
        path_arg(&config),
        "--output",
        path_arg(&out),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["orgs"][0]["msp_id"], "AcmeMSP");
    assert_eq!(json["orgs"][0]["node_ous"], false);
    let sans: Vec<_> = json["orgs"][0]["nodes"][0]["tls_sans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        sans,
        [
            "node.acme.test",
            "node",
            "10.0.0.7",
            "localhost",
            "127.0.0.1"
        ]
    );
    assert!(out
        .join("peerOrganizations/acme.test/msp/admincerts/Admin@acme.test-cert.pem")
        .is_file());
}

#[test]
fn bad_configs_fail_with_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crypto.yaml");
    std::fs::write(
        &config,
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.test\n    Usres:\n      Count: 1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = cambium(&[
        "crypto",
        "generate",
        "--config",
        path_arg(&config),
        "--out",
        path_arg(&out),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    for fragment in [
        "crypto.yaml",
        "unknown field `Usres`",
        "line 4",
        "cambium crypto default-config",
    ] {
        assert!(err.contains(fragment), "stderr lacks {fragment:?}: {err}");
    }
    assert!(!out.exists());

    let missing = cambium(&[
        "crypto",
        "generate",
        "--config",
        path_arg(&dir.path().join("nope.yaml")),
        "--out",
        path_arg(&out),
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("could not read crypto config"),
        "{}",
        stderr(&missing)
    );
}
