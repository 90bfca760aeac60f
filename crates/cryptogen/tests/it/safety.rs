//! Existing material is never overwritten by accident, and failures leave no half-written org.

use std::fs;
use std::path::Path;

use cambium_cryptogen::{generate, CryptoConfig, CryptogenError, GenerateOptions};

use crate::support::*;

const FORCE: GenerateOptions = GenerateOptions { force: true };

fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(root)
        .into_iter()
        .map(|f| {
            let bytes = fs::read(root.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

fn no_staging_left(out: &Path) {
    for entry in fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.starts_with('.'), "left behind {name}");
    }
}

#[test]
fn a_second_run_refuses_and_changes_nothing() {
    let config = CryptoConfig::default_network();
    let (dir, _) = generated(&config);
    let before = snapshot(dir.path());
    let err = generate(&config, dir.path(), GenerateOptions::default()).unwrap_err();
    let expected = dir
        .path()
        .join("peerOrganizations/org1.example.com/ca/priv_sk");
    match &err {
        CryptogenError::AlreadyExists { path, .. } => assert_eq!(path, &expected),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{} already exists: organisation Org1 (org1.example.com) already has crypto material in this folder; to add another organisation give it a Name and Domain of its own, or pass --force to replace Org1 (org1.example.com)'s material (its existing identities will stop working)",
            expected.display()
        )
    );
    assert_eq!(snapshot(dir.path()), before);
    no_staging_left(dir.path());
}

#[test]
fn a_clash_in_any_org_refuses_the_whole_run() {
    let mut config = CryptoConfig::default_network();
    let (dir, _) = generated(&config);
    // Org2 is new; Org1's material would be replaced.
    config.peer_orgs[1].domain = "org3.example.com".into();
    config.peer_orgs[1].name = "Org3".into();
    config.orderer_orgs.clear();
    let err = generate(&config, dir.path(), GenerateOptions::default()).unwrap_err();
    assert!(matches!(err, CryptogenError::AlreadyExists { .. }), "{err}");
    assert!(!dir
        .path()
        .join("peerOrganizations/org3.example.com")
        .exists());
}

#[test]
fn one_more_org_is_added_beside_the_others_without_touching_them() {
    let (dir, _) = generated(&CryptoConfig::default_network());
    let before = snapshot(dir.path());
    let org3 = CryptoConfig::from_yaml(
        "PeerOrgs:\n  - Name: Org3\n    Domain: org3.example.com\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n    Users:\n      Count: 1\n",
    )
    .unwrap();
    let added = generate(&org3, dir.path(), GenerateOptions::default()).unwrap();
    assert_eq!(added.orgs.len(), 1);
    assert!(added.org("Org3MSP").unwrap().admin().cert.is_file());
    let after = snapshot(dir.path());
    let kept: Vec<_> = after
        .iter()
        .filter(|(path, _)| !path.starts_with("peerOrganizations/org3.example.com"))
        .cloned()
        .collect();
    assert_eq!(kept, before, "the existing organisations are untouched");
    no_staging_left(dir.path());

    // The same organisation again is refused, naming it, and the fix.
    let err = generate(&org3, dir.path(), GenerateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("organisation Org3 (org3.example.com) already has crypto material")
            && err.contains("a Name and Domain of its own"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), after);
}

#[test]
fn force_replaces_every_key_and_certificate() {
    let config = CryptoConfig::default_network();
    let (dir, first) = generated(&config);
    let old_ca = fs::read(&first.orgs[1].ca.cert).unwrap();
    // A stale node from an earlier config disappears with the organisation it belonged to.
    let stale = first.orgs[1].dir.join("peers/peer9.org1.example.com");
    fs::create_dir_all(&stale).unwrap();
    let second = generate(&config, dir.path(), FORCE).unwrap();
    assert_eq!(first, second, "same config, same paths");
    assert_ne!(fs::read(&second.orgs[1].ca.cert).unwrap(), old_ca);
    assert!(!stale.exists());
    for org in &second.orgs {
        for id in org.nodes.iter().chain(&org.users) {
            assert_issued_by(&id.cert, &org.ca.cert);
        }
    }
    no_staging_left(dir.path());
}

#[test]
fn empty_org_folders_are_filled_but_other_content_is_refused() {
    let config = CryptoConfig::default_network();
    let dir = tempfile::tempdir().unwrap();
    let org1 = dir.path().join("peerOrganizations/org1.example.com");
    fs::create_dir_all(&org1).unwrap();
    generate(&config, dir.path(), GenerateOptions::default()).unwrap();
    assert!(org1.join("ca/priv_sk").is_file());

    let other = tempfile::tempdir().unwrap();
    let org2 = other.path().join("peerOrganizations/org2.example.com");
    fs::create_dir_all(&org2).unwrap();
    fs::write(org2.join("notes.txt"), "mine").unwrap();
    let err = generate(&config, other.path(), GenerateOptions::default()).unwrap_err();
    match err {
        CryptogenError::AlreadyExists { path, .. } => assert_eq!(path, org2),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(fs::read_to_string(org2.join("notes.txt")).unwrap(), "mine");
    assert!(!other.path().join("ordererOrganizations").exists());
}

#[test]
fn a_failed_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the peer organisations' folder should go makes generation fail.
    fs::write(dir.path().join("peerOrganizations"), "in the way").unwrap();
    let err = generate(
        &CryptoConfig::default_network(),
        dir.path(),
        GenerateOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, CryptogenError::Io { .. }), "{err}");
    assert!(!dir.path().join("ordererOrganizations").exists());
    no_staging_left(dir.path());
}

#[test]
fn a_failed_forced_run_restores_the_previous_material() {
    let config = CryptoConfig::default_network();
    let (dir, _) = generated(&config);
    let orderer_before = snapshot(&dir.path().join("ordererOrganizations"));
    // The orderer organisation is moved into place first; the peer organisations then cannot be.
    fs::remove_dir_all(dir.path().join("peerOrganizations")).unwrap();
    fs::write(dir.path().join("peerOrganizations"), "in the way").unwrap();
    let err = generate(&config, dir.path(), FORCE).unwrap_err();
    assert!(matches!(err, CryptogenError::Io { .. }), "{err}");
    assert_eq!(
        snapshot(&dir.path().join("ordererOrganizations")),
        orderer_before
    );
    no_staging_left(dir.path());
}
