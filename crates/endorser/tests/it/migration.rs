//! Atomic migration: committing a definition whose package exports `migrate` runs the
//! migration inside the commit's simulation on every endorser, so the migrated state and the
//! new definition commit in one transaction, or (when the migration fails) not at all.

use std::sync::OnceLock;

use cambium_ledger::{SnapshotSource, StateReader};
use cambium_primitives::TxValidationCode as Code;
use cambium_wire::lifecycle as lc;
use cambium_wire::Message;

use crate::lifecycle::{Def, Network};
use crate::rollout::{define, install_both, install_wasm};
use crate::support::contract_wasm;

/// The example upgrade pair: v1 stores `owner,value`, v2 stores JSON and migrates v1 records.
fn ledger_pair() -> &'static (Vec<u8>, Vec<u8>) {
    static PAIR: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PAIR.get_or_init(|| {
        (
            contract_wasm("asset-ledger-v1"),
            contract_wasm("asset-ledger-v2"),
        )
    })
}

fn committed_sequence(network: &Network) -> i64 {
    let result: lc::QueryChaincodeDefinitionResult = network.query(
        0,
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs {
            name: "asset-ledger".into(),
        }
        .encode_to_vec(),
    );
    result.sequence
}

fn digest(network: &Network) -> [u8; 32] {
    network.orgs[0]
        .ledger
        .snapshot()
        .expect("snapshot")
        .state_digest()
        .expect("digest")
}

#[test]
fn a_commit_runs_the_new_packages_migration_in_the_same_transaction() {
    let (v1_wasm, v2_wasm) = ledger_pair();
    let network = Network::new();
    let v1 = install_wasm(&network, v1_wasm, "ledger_1");
    let v2 = install_wasm(&network, v2_wasm, "ledger_2");
    define(&network, &Def::new("asset-ledger", 1, "1.0"), &v1);
    let (code, _) = network.invoke("asset-ledger", &["CreateAsset", "a1", "alice", "10"], false);
    assert_eq!(code, Code::Valid);
    let (_, stored) = network.invoke("asset-ledger", &["ReadAsset", "a1"], false);
    assert_eq!(stored, b"alice,10");

    // The commit's read/write set carries the migrated record next to the definition.
    let def2 = Def::new("asset-ledger", 2, "2.0");
    network.approve(0, &def2, Some(&v2));
    network.approve(1, &def2, Some(&v2));
    let admin = network.admin(0);
    let (proposal, responses) =
        network.lifecycle(&[0, 1], admin, "CommitChaincodeDefinition", def2.commit());
    let prp = cambium_wire::tx::parse_proposal_response_payload(&responses[0].payload).unwrap();
    let rwset = cambium_wire::decode_tx_rwset(&prp.action.results).unwrap();
    let migrated = rwset
        .ns
        .iter()
        .find(|ns| ns.namespace == "asset-ledger")
        .expect("the migration's writes are in the commit");
    assert_eq!(migrated.writes.len(), 1);
    assert!(rwset.ns.iter().any(|ns| ns.namespace == "_lifecycle"));
    assert_eq!(
        responses[0].payload, responses[1].payload,
        "both endorsers migrate alike"
    );
    // Each peer reports what the migration cost beside (not inside) the endorsed payload.
    let note = &responses[0].response.message;
    assert!(
        note.starts_with("migration of 'asset-ledger' from version '1.0': ")
            && note.contains(" keys read, 1 written, ")
            && note.ends_with(" fuel"),
        "{note}"
    );
    let tx = Network::envelope(admin, &proposal, &responses);
    assert_eq!(network.submit(vec![tx]), [Code::Valid]);

    // The very next block reads the migrated record with v2.
    let (code, json) = network.invoke("asset-ledger", &["ReadAsset", "a1"], false);
    assert_eq!(code, Code::Valid);
    let json = String::from_utf8(json).unwrap();
    assert!(
        json.contains("\"currency\":\"USD\"") && json.contains("\"owner\":\"alice\""),
        "{json}"
    );
}

#[test]
fn a_failing_migration_fails_the_commit_and_changes_nothing() {
    let (_, v2_wasm) = ledger_pair();
    let network = Network::new();
    // Sequence 1 runs the kv module, which stores a record v2's migration cannot read.
    let kv = install_both(&network, "kv_1");
    let v2 = install_wasm(&network, v2_wasm, "ledger_2");
    define(&network, &Def::new("asset-ledger", 1, "1.0"), &kv);
    let (code, _) = network.invoke("asset-ledger", &["put", "asset/bad", "garbage"], false);
    assert_eq!(code, Code::Valid);

    let def2 = Def::new("asset-ledger", 2, "2.0");
    network.approve(0, &def2, Some(&v2));
    network.approve(1, &def2, Some(&v2));
    let before = digest(&network);
    let (_, responses) = network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        def2.commit(),
    );
    for r in &responses {
        assert_eq!(r.response.status, 500);
        assert!(r.endorsement.is_none());
        let message = &r.response.message;
        assert!(
            message.contains("the migration of 'asset-ledger' from version '1.0' to '2.0' failed")
                && message.contains("cannot migrate 'asset/bad'")
                && message.contains("version '1.0' stays in force"),
            "{message}"
        );
    }
    // Nothing was endorsed, so nothing can commit: sequence 1 and its state stay.
    assert_eq!(digest(&network), before);
    assert_eq!(committed_sequence(&network), 1);
    let (code, value) = network.invoke("asset-ledger", &["get", "asset/bad"], false);
    assert_eq!((code, value.as_slice()), (Code::Valid, &b"garbage"[..]));
}
