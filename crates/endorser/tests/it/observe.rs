//! Endorsements reported per contract version to an observer (what the peer's
//! `cambium_contract_endorsements_total` and `…_duration_seconds` are recorded from), and
//! contracts called from a contract refused while frozen or retired.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cambium_endorser::{
    EndorsementObserver, EndorsementOutcome, EndorsementRecorder, Endorser, ProposalResponse,
    StaticRegistry,
};
use cambium_ledger::{Block, BlockCommit, BlockWriter, KeyWrite, Ledger, TxOutcome};
use cambium_lifecycle::governance::status_key;
use cambium_lifecycle::{ContractState, ContractStatus};
use cambium_wire::Message;

use crate::support::{contract_wasm, endorser, net, proposal, registry};

type Key = (String, String, String, EndorsementOutcome);

/// Everything recorded: per channel, contract, version and outcome, the count and the
/// simulation times.
#[derive(Default)]
struct Seen {
    asked: Mutex<u32>,
    records: Arc<Mutex<BTreeMap<Key, Vec<Duration>>>>,
}

struct Recorder {
    key: (String, String, String),
    records: Arc<Mutex<BTreeMap<Key, Vec<Duration>>>>,
}

impl EndorsementRecorder for Recorder {
    fn record(&self, outcome: EndorsementOutcome, simulation: Duration) {
        let (channel, contract, version) = self.key.clone();
        self.records
            .lock()
            .unwrap()
            .entry((channel, contract, version, outcome))
            .or_default()
            .push(simulation);
    }
}

impl EndorsementObserver for Seen {
    fn recorder(
        &self,
        channel: &str,
        contract: &str,
        version: &str,
    ) -> Arc<dyn EndorsementRecorder> {
        *self.asked.lock().unwrap() += 1;
        Arc::new(Recorder {
            key: (channel.into(), contract.into(), version.into()),
            records: Arc::clone(&self.records),
        })
    }
}

impl Seen {
    fn count(&self, contract: &str, version: &str, outcome: EndorsementOutcome) -> usize {
        self.records
            .lock()
            .unwrap()
            .get(&(
                "mychannel".to_owned(),
                contract.to_owned(),
                version.to_owned(),
                outcome,
            ))
            .map_or(0, Vec::len)
    }

    fn total(&self) -> usize {
        self.records.lock().unwrap().values().map(Vec::len).sum()
    }
}

fn ledger(dir: &tempfile::TempDir) -> Arc<Ledger> {
    Arc::new(Ledger::open(dir.path()).expect("ledger opens"))
}

fn observed(registry: StaticRegistry, ledger: &Arc<Ledger>) -> (Endorser, Arc<Seen>) {
    let n = net();
    let e = endorser(
        Arc::clone(&n.vm),
        Arc::clone(&n.org1_peer),
        Arc::clone(ledger),
        registry,
    );
    let seen = Arc::new(Seen::default());
    assert!(e.set_observer(Arc::clone(&seen) as Arc<dyn EndorsementObserver>));
    assert!(
        !e.set_observer(Arc::new(Seen::default())),
        "the first observer stays"
    );
    (e, seen)
}

fn send(e: &Endorser, chaincode: &str, args: &[&str], nonce: u8) -> ProposalResponse {
    e.process_proposal(&proposal(&net().org1_client, chaincode, args, nonce))
        .expect("answered")
}

#[test]
fn each_simulated_proposal_is_reported_once_under_its_version_and_result() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    let (e, seen) = observed(registry(), &ledger);
    let long_key = "k".repeat(cambium_vm::limits::MAX_KEY_BYTES + 1);
    let sent: &[(&[&str], i32)] = &[
        (&["put", "a", "1"], 200),
        (&["put", "b", "2"], 200),
        (&["get", "missing"], 404),
        (&["incr", "a"], 200),
        (&["put_many", "p", "100000", "v"], 400),
        (&["put", &long_key, "v"], 500),
        (&["nosuchfunction"], 400),
    ];
    for (i, (args, status)) in sent.iter().enumerate() {
        let r = send(&e, "kv", args, i as u8);
        assert_eq!(r.response.status, *status, "{args:?}: {:?}", r.response);
    }
    use EndorsementOutcome::*;
    assert_eq!(seen.count("kv", "1.0", Ok), 3);
    assert_eq!(seen.count("kv", "1.0", ContractError), 3);
    assert_eq!(seen.count("kv", "1.0", Failed), 1);
    // Refusals before a version is chosen are not a version's: an unknown contract, a
    // system chaincode, a proposal that does not unpack.
    send(&e, "nosuchcontract", &["put", "a", "1"], 20);
    send(&e, "qscc", &["GetChainInfo", "mychannel"], 21);
    assert!(!e.process_proposal(b"not a proposal").unwrap().is_endorsed());
    assert_eq!(seen.total(), 7);
    assert!(seen
        .records
        .lock()
        .unwrap()
        .values()
        .flatten()
        .all(|d| *d > Duration::ZERO && *d < Duration::from_secs(30)));

    // Another version of kv (as a rollout routes some proposals to it) counts apart.
    e.add_channel(cambium_endorser::EndorserChannel {
        config: Arc::clone(&net().config),
        ledger: Arc::clone(&ledger) as Arc<dyn cambium_endorser::LedgerSource>,
        contracts: Arc::new(StaticRegistry::new().with("kv", "2.0", Arc::clone(&net().kv))),
    });
    send(&e, "kv", &["put", "c", "3"], 30);
    send(&e, "kv", &["get", "missing"], 31);
    assert_eq!(seen.count("kv", "2.0", Ok), 1);
    assert_eq!(seen.count("kv", "2.0", ContractError), 1);
    assert_eq!(seen.count("kv", "1.0", Ok), 3, "1.0 unchanged");
    assert_eq!(
        *seen.asked.lock().unwrap(),
        2,
        "one recorder per version, cached"
    );
}

/// A ledger whose block 0 stores `state` as the governance status of kv.
fn kv_with_status(dir: &tempfile::TempDir, state: ContractState) -> Arc<Ledger> {
    let ledger = ledger(dir);
    let status = ContractStatus {
        name: "kv".into(),
        state: state as i32,
        reason: "incident 7".into(),
    };
    ledger
        .commit_block(&BlockCommit {
            block: Block::new(0, Vec::new(), vec![b"governance".to_vec()]),
            outcomes: vec![TxOutcome::valid(vec![KeyWrite::put(
                cambium_lifecycle::NAMESPACE,
                status_key("kv"),
                status.encode_to_vec(),
            )])],
        })
        .expect("block 0 commits");
    ledger
}

/// kv, and the testbed contract (`call NAME FUNCTION ARG` invokes another contract) as `tb`.
fn with_caller() -> StaticRegistry {
    let tb = net()
        .vm
        .install(&contract_wasm("testbed"))
        .expect("testbed installs");
    registry().with("tb", "1.0", Arc::new(tb))
}

fn check_refused_call(state: ContractState, word: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = kv_with_status(&dir, state);
    let (e, seen) = observed(with_caller(), &ledger);
    let direct = send(&e, "kv", &["get", "a"], 1);
    assert_eq!(direct.response.status, 500);
    let expected = format!("contract kv is {word} since block 0: incident 7");
    assert!(
        direct.response.message.starts_with(&expected),
        "{}",
        direct.response.message
    );

    let nested = send(&e, "tb", &["call", "kv", "get", "a"], 2);
    assert_eq!(nested.response.status, 500, "{:?}", nested.response);
    assert!(!nested.is_endorsed());
    assert!(nested.payload.is_empty());
    assert_eq!(
        nested.response.message,
        format!(
            "error in simulation: contract tb called kv, which refuses it: {}",
            direct.response.message
        )
    );
    // Deterministic: the other organisation's endorser, and a second try, say the same.
    let n = net();
    let org2 = endorser(
        Arc::clone(&n.vm),
        Arc::clone(&n.org2_peer),
        Arc::clone(&ledger),
        with_caller(),
    );
    let again = org2
        .process_proposal(&proposal(
            &n.org1_client,
            "tb",
            &["call", "kv", "get", "a"],
            3,
        ))
        .unwrap();
    assert_eq!(again.response, nested.response);
    // The caller's version counts a failed endorsement.
    assert_eq!(seen.count("tb", "1.0", EndorsementOutcome::Failed), 1);
}

#[test]
fn a_contract_calling_a_frozen_contract_is_refused_with_the_freeze() {
    check_refused_call(ContractState::Frozen, "frozen");
}

#[test]
fn a_contract_calling_a_retired_contract_is_refused_with_the_retirement() {
    check_refused_call(ContractState::Retired, "retired");
}

#[test]
fn a_contract_calling_an_active_contract_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = kv_with_status(&dir, ContractState::Active);
    let (e, seen) = observed(with_caller(), &ledger);
    let r = send(&e, "tb", &["call", "kv", "get", "a"], 1);
    assert_eq!(r.response.status, 200, "{:?}", r.response);
    assert!(r.is_endorsed());
    let answer = String::from_utf8(r.response.payload).unwrap();
    assert!(answer.starts_with("404|"), "kv ran and answered: {answer}");
    assert_eq!(seen.count("tb", "1.0", EndorsementOutcome::Ok), 1);
}
