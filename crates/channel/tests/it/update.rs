//! Config updates: computing them, signing them, and the orderer-side authorization rules.

use std::time::Duration;

use cambium_channel::{compute_update, sign_update, ChannelConfig};
use cambium_msp::SigningIdentity;
use cambium_primitives::Policy;
use cambium_wire::config::{ConfigGroup, Value};
use cambium_wire::config_update::ConfigUpdateEnvelope;

use crate::support::{now, signer, Fixture};

const ORDERER_ADMIN: (&str, &str) = ("OrdererMSP", "Admin@example.com");
const ORG1_ADMIN: (&str, &str) = ("Org1MSP", "Admin@org1.example.com");
const ORG2_ADMIN: (&str, &str) = ("Org2MSP", "Admin@org2.example.com");

fn admins(f: &Fixture, who: &[(&str, &str)]) -> Vec<SigningIdentity> {
    who.iter().map(|(msp, name)| signer(f, msp, name)).collect()
}

fn envelope(
    config: &ChannelConfig,
    updated: &ConfigGroup,
    signers: &[SigningIdentity],
) -> ConfigUpdateEnvelope {
    let update = compute_update(config.channel_id(), config.channel_group(), updated).unwrap();
    let bytes = update.encode().unwrap();
    ConfigUpdateEnvelope {
        signatures: signers
            .iter()
            .map(|s| sign_update(&bytes, s).unwrap())
            .collect(),
        config_update: bytes,
    }
}

fn with_batch_timeout(config: &ChannelConfig, timeout: &str) -> ConfigGroup {
    let mut root = config.channel_group().clone();
    root.groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .value = Value::BatchTimeout(timeout.to_owned());
    root
}

#[test]
fn an_orderer_admin_changes_the_batch_timeout() {
    let f = Fixture::new();
    let config = f.config();
    let updated = with_batch_timeout(&config, "250ms");
    let env = envelope(&config, &updated, &admins(&f, &[ORDERER_ADMIN]));
    let next = config.authorize_update(&env, now()).unwrap();
    assert_eq!(next.sequence(), config.sequence() + 1);
    assert_eq!(next.batch_timeout(), Duration::from_millis(250));
    // Only the changed value moved a version; everything else is as it was.
    let old = &config.channel_group().groups["Orderer"];
    let new = &next.channel_group().groups["Orderer"];
    assert_eq!(
        new.values["BatchTimeout"].version,
        old.values["BatchTimeout"].version + 1
    );
    assert_eq!(new.version, old.version);
    assert_eq!(new.values["BatchSize"], old.values["BatchSize"]);
    assert_eq!(
        next.channel_group().groups["Application"],
        config.channel_group().groups["Application"]
    );
}

#[test]
fn the_mod_policy_of_each_changed_element_must_be_satisfied() {
    let f = Fixture::new();
    let config = f.config();
    let updated = with_batch_timeout(&config, "1s");
    // Application admins are not orderer admins.
    let env = envelope(&config, &updated, &admins(&f, &[ORG1_ADMIN, ORG2_ADMIN]));
    let err = config
        .authorize_update(&env, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/Channel/Orderer/Admins"), "{err}");
    assert!(err.contains("value /Channel/Orderer/BatchTimeout"), "{err}");

    // Changing the channel's Endorsement policy needs MAJORITY of the application orgs'
    // admins: with two orgs, both.
    let mut root = config.channel_group().clone();
    root.groups
        .get_mut("Application")
        .unwrap()
        .policies
        .get_mut("Endorsement")
        .unwrap()
        .policy = Policy::Signature(
        cambium_msp::policy::parse("AND('Org1MSP.peer', 'Org2MSP.peer')").unwrap(),
    );
    let one = envelope(&config, &root, &admins(&f, &[ORG1_ADMIN]));
    let err = config
        .authorize_update(&one, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/Channel/Application/Admins"), "{err}");
    let both = envelope(&config, &root, &admins(&f, &[ORG1_ADMIN, ORG2_ADMIN]));
    let next = config.authorize_update(&both, now()).unwrap();
    assert_eq!(
        next.channel_group().groups["Application"].policies["Endorsement"].policy,
        root.groups["Application"].policies["Endorsement"].policy
    );
}

#[test]
fn removing_an_org_rewrites_its_parent_group() {
    let f = Fixture::new();
    let config = f.config();
    let mut root = config.channel_group().clone();
    root.groups
        .get_mut("Application")
        .unwrap()
        .groups
        .remove("Org2MSP");
    let update = compute_update(config.channel_id(), config.channel_group(), &root).unwrap();
    let app = &update.write_set.groups["Application"];
    assert_eq!(
        app.version,
        config.channel_group().groups["Application"].version + 1
    );
    assert!(app.groups.contains_key("Org1MSP") && !app.groups.contains_key("Org2MSP"));
    let env = envelope(&config, &root, &admins(&f, &[ORG1_ADMIN, ORG2_ADMIN]));
    let next = config.authorize_update(&env, now()).unwrap();
    let orgs: Vec<_> = next
        .application_orgs()
        .into_iter()
        .map(|o| o.msp_id)
        .collect();
    assert_eq!(orgs, vec!["Org1MSP".to_owned()]);
}

#[test]
fn stale_tampered_misdirected_and_empty_updates_are_rejected() {
    let f = Fixture::new();
    let config = f.config();
    let orderer_admin = admins(&f, &[ORDERER_ADMIN]);
    let first = envelope(
        &config,
        &with_batch_timeout(&config, "500ms"),
        &orderer_admin,
    );
    let next = config.authorize_update(&first, now()).unwrap();
    // An update computed from the old config no longer applies.
    let stale = envelope(
        &config,
        &with_batch_timeout(&config, "750ms"),
        &orderer_admin,
    );
    let err = next
        .authorize_update(&stale, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("recompute the update"), "{err}");

    // A byte changed after signing: the signature no longer covers the update.
    let mut tampered = envelope(
        &config,
        &with_batch_timeout(&config, "2500ms"),
        &orderer_admin,
    );
    let mut update =
        cambium_wire::config_update::ConfigUpdate::decode(&tampered.config_update).unwrap();
    update
        .write_set
        .groups
        .get_mut("Orderer")
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .value = Value::BatchTimeout("3s".into()).encode();
    tampered.config_update = update.encode().unwrap();
    let err = config
        .authorize_update(&tampered, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not satisfy"), "{err}");

    // Sent to another channel.
    let mut other = first.clone();
    let mut update =
        cambium_wire::config_update::ConfigUpdate::decode(&other.config_update).unwrap();
    update.channel_id = "otherchannel".into();
    other.config_update = update.encode().unwrap();
    let err = config
        .authorize_update(&other, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("'otherchannel'"), "{err}");

    // Nothing to change.
    let err = compute_update(
        config.channel_id(),
        config.channel_group(),
        config.channel_group(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not differ"), "{err}");

    // Garbage bytes.
    let junk = ConfigUpdateEnvelope {
        config_update: vec![0xff, 0x01],
        signatures: Vec::new(),
    };
    assert!(config.authorize_update(&junk, now()).is_err());
}

#[test]
fn an_org_from_its_own_file_is_added_by_a_majority_of_admins() {
    let f = Fixture::new();
    let org3 = cambium_cryptogen::generate(
        &cambium_cryptogen::CryptoConfig::from_yaml(
            "PeerOrgs:\n  - Name: Org3\n    Domain: org3.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n",
        )
        .unwrap(),
        &f.dir.join("crypto"),
        cambium_cryptogen::GenerateOptions::default(),
    )
    .unwrap();
    assert_eq!(org3.orgs.len(), 1);
    let file = f.dir.join("org3.yaml");
    std::fs::write(
        &file,
        "Name: Org3MSP\nID: Org3MSP\nMSPDir: crypto/peerOrganizations/org3.example.com/msp\nAnchorPeers:\n  - Host: peer0.org3.example.com\n    Port: 11051\n",
    )
    .unwrap();
    let (name, org) = cambium_channel::yaml::load_org(&file).unwrap();
    assert_eq!((name.as_str(), org.msp_id()), ("Org3MSP", "Org3MSP"));
    assert!(
        org.policies.contains_key("Endorsement"),
        "a peer organisation's default policies are filled in"
    );
    let config = f.config();
    let root =
        cambium_channel::spec::add_application_org(config.channel_group(), &name, &org).unwrap();

    // One admin of two is not a MAJORITY: the error names the policy.
    let one = envelope(&config, &root, &admins(&f, &[ORG1_ADMIN]));
    let err = config
        .authorize_update(&one, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/Channel/Application/Admins"), "{err}");
    let both = envelope(&config, &root, &admins(&f, &[ORG1_ADMIN, ORG2_ADMIN]));
    let next = config.authorize_update(&both, now()).unwrap();
    let orgs: Vec<_> = next
        .application_orgs()
        .into_iter()
        .map(|o| o.msp_id)
        .collect();
    assert_eq!(orgs, ["Org1MSP", "Org2MSP", "Org3MSP"]);
    let anchors = next.anchor_peers("Org3MSP");
    assert_eq!(anchors.len(), 1);
    assert_eq!(
        (anchors[0].host.as_str(), anchors[0].port),
        ("peer0.org3.example.com", 11051)
    );
    assert!(next.msp_manager().msp("Org3MSP").is_ok());

    // The same organisation twice, or an MSP ID the channel has, is refused.
    let err = cambium_channel::spec::add_application_org(next.channel_group(), &name, &org)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already used by /Channel/Application/Org3MSP"),
        "{err}"
    );
    let err = cambium_channel::spec::add_application_org(next.channel_group(), "Org3Again", &org)
        .unwrap_err()
        .to_string();
    assert!(err.contains("MSP ID Org3MSP is already used"), "{err}");

    // An unknown key in the file names it.
    std::fs::write(&file, "Name: Org3MSP\nMSPDir: x\nAnchorPeer: []\n").unwrap();
    let err = cambium_channel::yaml::load_org(&file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AnchorPeer") && err.contains("org3.yaml"),
        "{err}"
    );
}
