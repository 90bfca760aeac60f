//! The channel YAML: defaults, profiles and channel IDs, and the errors users see.

use std::time::Duration;

use cambium_channel::yaml::LoadOptions;
use cambium_channel::{ChannelConfig, ChannelError, DEFAULT_CHANNEL_YAML};

use crate::support::Fixture;

/// A single-channel file (no profiles, no merge keys) that relies on defaults.
const MINIMAL: &str = "\
ChannelID: single
Organizations:
  - Name: OrdererMSP
    ID: OrdererMSP
    MSPDir: crypto/ordererOrganizations/example.com/msp
    OrdererEndpoints: [orderer.example.com:7050]
  - Name: Org1MSP
    ID: Org1MSP
    MSPDir: crypto/peerOrganizations/org1.example.com/msp
    AnchorPeers:
      - Host: peer0.org1.example.com
        Port: 7051
  - Name: Org2MSP
    MSPDir: crypto/peerOrganizations/org2.example.com/msp
Orderer:
  OrdererType: etcdraft
  EtcdRaft:
    Consenters:
      - Host: orderer.example.com
        Port: 7050
        ClientTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
        ServerTLSCert: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt
  BatchTimeout: 5ms
  Organizations: [OrdererMSP]
Application:
  Organizations: [Org1MSP, Org2MSP]
";

fn load(f: &Fixture, text: &str) -> cambium_channel::Result<cambium_channel::ChannelSpec> {
    f.load_text("test.yaml", text, &LoadOptions::default())
}

fn load_err(f: &Fixture, text: &str) -> String {
    match load(f, text).and_then(|spec| ChannelConfig::from_spec(&spec)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn sample_with(from: &str, to: &str) -> String {
    assert!(DEFAULT_CHANNEL_YAML.contains(from), "{from}");
    DEFAULT_CHANNEL_YAML.replacen(from, to, 1)
}

#[test]
fn a_minimal_file_gets_fabrics_sample_defaults() {
    let f = Fixture::new();
    let spec = load(&f, MINIMAL).unwrap();
    let sample = f.spec();
    assert_eq!(spec.channel_id, "single");
    assert_eq!(spec.policies, sample.policies);
    assert_eq!(spec.capabilities, sample.capabilities);
    assert_eq!(spec.application.policies, sample.application.policies);
    assert_eq!(
        spec.application.capabilities,
        sample.application.capabilities
    );
    assert_eq!(spec.orderer.policies, sample.orderer.policies);
    assert_eq!(
        spec.application.organizations["Org1MSP"],
        sample.application.organizations["Org1MSP"]
    );
    // ID defaults to Name; no anchor peers were given for Org2.
    let org2 = &spec.application.organizations["Org2MSP"];
    assert_eq!(org2.msp_id(), "Org2MSP");
    assert_eq!(
        org2.policies,
        sample.application.organizations["Org2MSP"].policies
    );
    assert!(org2.anchor_peers.is_empty());
    assert_eq!(spec.orderer.organizations, sample.orderer.organizations);
    assert_eq!(spec.orderer.batch_timeout, Duration::from_millis(5));
    let b = spec.orderer.batch_size;
    assert_eq!(
        (
            b.max_message_count,
            b.absolute_max_bytes,
            b.preferred_max_bytes
        ),
        (500, 10 << 20, 2 << 20)
    );
    assert!(spec.orderer_addresses.is_empty());
    let config = ChannelConfig::from_spec(&spec).unwrap();
    assert!(!config
        .channel_group()
        .values
        .contains_key("OrdererAddresses"));
    assert_eq!(config.orderer_endpoints().len(), 1);
}

#[test]
fn the_channel_id_option_overrides_the_file() {
    let f = Fixture::new();
    let options = LoadOptions {
        channel_id: Some("override".into()),
        profile: None,
    };
    let spec = f.load_text("test.yaml", MINIMAL, &options).unwrap();
    assert_eq!(spec.channel_id, "override");
    let without = MINIMAL.replacen("ChannelID: single\n", "", 1);
    let err = load_err(&f, &without);
    assert!(err.contains("--channel-id"), "{err}");
    let bad = MINIMAL.replacen("single", "My_Channel", 1);
    let err = load_err(&f, &bad);
    assert!(
        err.contains("My_Channel") && err.contains("lowercase"),
        "{err}"
    );
}

#[test]
fn unknown_keys_name_the_key_and_line() {
    let f = Fixture::new();
    let text = MINIMAL.replacen(
        "    MSPDir: crypto/peerOrganizations/org1.example.com/msp\n",
        "    MSPDir: crypto/peerOrganizations/org1.example.com/msp\n    Bogus: 1\n",
        1,
    );
    let err = load_err(&f, &text);
    assert!(err.contains("unknown field `Bogus`"), "{err}");
    assert!(err.contains("line 10"), "{err}");

    // With merge keys (the sample), the line is found too.
    let text = sample_with(
        "  BatchTimeout: 2s\n",
        "  BatchTimeout: 2s\n  BatchTimout: 3s\n",
    );
    let line = text
        .lines()
        .position(|l| l.contains("BatchTimout"))
        .unwrap()
        + 1;
    let err = load_err(&f, &text);
    assert!(err.contains("unknown field `BatchTimout`"), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");

    let err = load_err(&f, &MINIMAL.replacen("Port: 7051", "Port: seventy", 1));
    assert!(err.contains("line 12"), "{err}");
}

#[test]
fn bad_policy_rules_name_the_policy_and_column() {
    let f = Fixture::new();
    let err = load_err(
        &f,
        &sample_with(
            "Rule: \"OR('Org1MSP.peer')\"",
            "Rule: \"OR('Org1MSP.peer'\"",
        ),
    );
    assert!(
        err.contains("/Channel/Application/Org1MSP/Endorsement"),
        "{err}"
    );
    assert!(err.contains("column"), "{err}");

    let err = load_err(
        &f,
        &sample_with(
            "Rule: \"MAJORITY Endorsement\"",
            "Rule: \"MOST Endorsement\"",
        ),
    );
    assert!(
        err.contains("/Channel/Application/LifecycleEndorsement"),
        "{err}"
    );
    assert!(err.contains("MOST"), "{err}");

    let err = load_err(
        &f,
        &sample_with(
            "      Type: ImplicitMeta\n      Rule: \"ANY Readers\"",
            "      Type: Implicit\n      Rule: \"ANY Readers\"",
        ),
    );
    assert!(
        err.contains("/Channel/Application/Readers") && err.contains("Implicit"),
        "{err}"
    );
}

#[test]
fn rules_naming_msps_outside_the_channel_are_refused() {
    let f = Fixture::new();
    let err = load_err(
        &f,
        &sample_with(
            "Rule: \"OR('Org2MSP.peer')\"",
            "Rule: \"OR('Org3MSP.peer')\"",
        ),
    );
    assert!(
        err.contains("/Channel/Application/Org2MSP/Endorsement"),
        "{err}"
    );
    assert!(err.contains("Org3MSP"), "{err}");
}

#[test]
fn missing_files_and_organisations_are_named() {
    let f = Fixture::new();
    let err = load_err(
        &f,
        &MINIMAL.replacen("org2.example.com/msp", "org9.example.com/msp", 1),
    );
    assert!(
        err.contains("Org2MSP") && err.contains("org9.example.com"),
        "{err}"
    );
    let err = load_err(
        &f,
        &MINIMAL.replacen("[Org1MSP, Org2MSP]", "[Org1MSP, Org5MSP]", 1),
    );
    assert!(
        err.contains("Org5MSP") && err.contains("not listed"),
        "{err}"
    );
    let err = load_err(&f, &MINIMAL.replacen("tls/server.crt", "tls/nope.crt", 1));
    assert!(
        err.contains("nope.crt") && err.contains("ClientTLSCert"),
        "{err}"
    );
}

#[test]
fn profiles_are_chosen_by_name() {
    let f = Fixture::new();
    let spec = f
        .load_text(
            "p.yaml",
            DEFAULT_CHANNEL_YAML,
            &LoadOptions {
                channel_id: None,
                profile: Some("TwoOrgsApplicationGenesis".into()),
            },
        )
        .unwrap();
    assert_eq!(spec, f.spec());
    let err = f
        .load_text(
            "p.yaml",
            DEFAULT_CHANNEL_YAML,
            &LoadOptions {
                channel_id: None,
                profile: Some("Nope".into()),
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("TwoOrgsApplicationGenesis"),
        "{err}"
    );
    let err = f
        .load_text(
            "m.yaml",
            MINIMAL,
            &LoadOptions {
                channel_id: None,
                profile: Some("Any".into()),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("no Profiles"), "{err}");
}

#[test]
fn batch_settings_are_checked() {
    let f = Fixture::new();
    let text = MINIMAL.replacen(
        "  BatchTimeout: 5ms\n",
        "  BatchTimeout: 5ms\n  BatchSize:\n    AbsoluteMaxBytes: 1 MB\n    PreferredMaxBytes: 2 MB\n",
        1,
    );
    let err = load_err(&f, &text);
    assert!(
        err.contains("PreferredMaxBytes") && err.contains("AbsoluteMaxBytes"),
        "{err}"
    );
    let err = load_err(&f, &MINIMAL.replacen("5ms", "5 parsecs", 1));
    assert!(err.contains("BatchTimeout"), "{err}");
    let err = load_err(
        &f,
        &MINIMAL.replacen("OrdererType: etcdraft", "OrdererType: solo", 1),
    );
    assert!(err.contains("solo") && err.contains("etcdraft"), "{err}");
}

#[test]
fn errors_are_typed() {
    let f = Fixture::new();
    let err = load(&f, "Orderer: [").unwrap_err();
    assert!(matches!(err, ChannelError::Yaml { .. }), "{err}");
}
