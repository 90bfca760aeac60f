//! Config errors through the public API: nothing is written when a config is wrong.

use cambium_cryptogen::{generate, plan, CryptoConfig, CryptogenError, GenerateOptions};

fn check_yaml_error(yaml: &str, fragments: &[&str]) {
    let err = CryptoConfig::from_yaml(yaml).map(|_| ()).unwrap_err();
    let text = err.to_string();
    for fragment in fragments {
        assert!(
            text.contains(fragment),
            "error for {yaml:?} lacks {fragment:?}: {text}"
        );
    }
}

#[test]
fn bad_yaml_names_the_key_and_line() {
    check_yaml_error(
        "PeerOrgs:\n  - Name: Org1\n    Domain: a.test\n    Tempalte:\n      Count: 1\n",
        &["unknown field `Tempalte`", "line 4"],
    );
    check_yaml_error(
        "PeerOrgs:\n  - Name: Org1\n    Domain: a.test\n    Users:\n      Count: many\n",
        &["Users.Count", "line 5"],
    );
    check_yaml_error(
        "PeerOrgs:\n  - Name: Org1\n    Domain: a.test\n    Specs:\n      - CommonName: x\n",
        &["missing field `Hostname`"],
    );
    check_yaml_error("PeerOrgs:\n  - Name: [unclosed\n", &["line"]);
    check_yaml_error(
        "Orgs: []\n",
        &["unknown field `Orgs`", "OrdererOrgs", "PeerOrgs"],
    );
}

#[test]
fn bad_values_are_refused_before_anything_is_written() {
    let cases = [
        ("PeerOrgs:\n  - Name: Org1\n    Domain: a.test\n    Template:\n      Count: 1\n      Hostname: \"{{.Host}}\"\n", "PeerOrgs[0] (Org1).Template.Hostname"),
        ("PeerOrgs:\n  - Name: Org1\n    Domain: ../escape\n", "PeerOrgs[0] (Org1).Domain"),
        ("PeerOrgs:\n  - Name: Org1\n    Domain: a.test\n    Specs:\n      - Hostname: p\n        CommonName: \"a/b\"\n", "PeerOrgs[0] (Org1).Specs[0].CommonName"),
        ("OrdererOrgs:\n  - Name: X\n    Domain: a.test\nPeerOrgs:\n  - Name: X\n    Domain: b.test\n", "PeerOrgs[0] (X).Name"),
    ];
    for (yaml, key) in cases {
        let config = CryptoConfig::from_yaml(yaml).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let err = generate(&config, &out, GenerateOptions::default()).unwrap_err();
        match &err {
            CryptogenError::ConfigValue { key: got, .. } => assert_eq!(got, key, "{err}"),
            other => panic!("unexpected error {other:?}"),
        }
        assert!(!out.exists(), "nothing is written for an invalid config");
        assert_eq!(
            plan(&config, &out).unwrap_err().to_string(),
            err.to_string()
        );
    }
}
