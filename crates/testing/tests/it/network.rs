//! A network from `cambium network generate` run as separate `cambium` processes on loopback
//! (3 Raft orderers, 2 organisations × 2 peers): deploy asset-transfer with `--profile`, load
//! through the Gateway, and the fault drills — kill -9 a peer, kill the Raft leader, restart the
//! whole network from its data folders — each asserting that every acknowledged transaction is
//! on every peer and that all peers end with one state digest. Also the operator's bad input.
//!
//! Network namespaces with veth links would need `ip netns` and root; these tests use loopback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod add_org;

use crate::load;
use crate::procnet::{
    cambium, check_ledger, codes_in_blocks, http, metric_sum, wait_for, ProcNet, CHANNEL,
};

/// The gateway every load goes through (never killed by a drill).
const GATEWAY: &str = "peer0.org1.example.com";

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn deploy(net: &ProcNet) {
    let started = Instant::now();
    let contract = cambium_testing::workspace_root().join("contracts/asset-transfer");
    let out = cambium(&[
        "contract",
        "deploy",
        contract.to_str().unwrap(),
        "--name",
        "basic",
        "--profile",
        net.profile.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "deploy with --profile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["approved"], serde_json::json!(["Org1", "Org2"]));
    assert_eq!(
        report["installed"].as_array().unwrap().len(),
        net.peers.len(),
        "installed on every peer: {report}"
    );
    eprintln!("deploy: {:.1} s", started.elapsed().as_secs_f64());
}

/// Org1's User1 through [`GATEWAY`].
fn submitter(profile: &std::path::Path) -> load::Submitter<'_> {
    load::Submitter {
        profile,
        org: "Org1",
        user: "User1",
        peer: GATEWAY,
    }
}

/// A bounded load: `clients` × `per_client` acknowledged writes.
pub(crate) fn load_n(
    rt: &tokio::runtime::Runtime,
    net: &ProcNet,
    clients: usize,
    per_client: usize,
    tag: &str,
) -> load::LoadReport {
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(load::run(
        submitter(&net.profile),
        clients,
        per_client,
        stop,
        tag,
    ))
}

/// A load that runs until the returned flag is set; join the handle for its report.
fn load_background(
    rt: &tokio::runtime::Runtime,
    net: &ProcNet,
    tag: &str,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<load::LoadReport>) {
    let stop = Arc::new(AtomicBool::new(false));
    let profile = net.profile.clone();
    let flag = Arc::clone(&stop);
    let tag = tag.to_owned();
    let handle =
        rt.spawn(async move { load::run(submitter(&profile), 3, usize::MAX, flag, &tag).await });
    (stop, handle)
}

/// Stops every node, then checks on disk that every peer holds every acknowledged
/// transaction as VALID and that all peers have one height and one state digest.
pub(crate) fn stop_and_check(net: &mut ProcNet, committed: &[String]) -> u64 {
    net.stop_all();
    let mut seen = Vec::new();
    for (i, p) in net.peers.iter().enumerate() {
        let ledger = net.ledger(i);
        let (digest, height, missing) = check_ledger(&ledger, committed);
        assert!(
            missing.is_empty(),
            "{} lacks {} of {} acknowledged transactions, e.g. {:?}",
            p.name,
            missing.len(),
            committed.len(),
            &missing[..missing.len().min(3)]
        );
        seen.push((p.name.clone(), height, hex::encode(digest)));
    }
    assert!(
        seen.iter()
            .all(|(_, h, d)| *h == seen[0].1 && *d == seen[0].2),
        "the peers differ: {seen:#?}"
    );
    seen[0].1
}

#[test]
fn generated_network_runs_as_processes_loads_and_survives_a_peer_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = ProcNet::generate(tmp.path(), 2, 2, 3);
    let started = Instant::now();
    net.start_all_fresh();
    eprintln!(
        "3 orderers and 4 peers started and joined: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    deploy(&net);
    let rt = runtime();

    // A clean load: nothing may fail.
    let baseline = load_n(&rt, &net, 4, 10, "base");
    assert_eq!(baseline.failed(), 0, "failures: {:?}", baseline.failures);
    assert_eq!(baseline.committed.len(), 40);
    eprintln!(
        "baseline: 40 writes in {:.1} s ({:.1}/s)",
        baseline.elapsed_s,
        40.0 / baseline.elapsed_s
    );
    let mut committed = baseline.committed;

    // Metrics of a peer that has run since the start, at a height nothing else changes.
    let height = net.wait_same_height(2, Duration::from_secs(30));
    let metrics = net.metrics(0);
    let metric_valid = metric_sum(&metrics, "ledger_transactions_total", &["VALID"]);
    let metric_all = metric_sum(&metrics, "ledger_transactions_total", &[]);
    assert_eq!(
        metric_sum(&metrics, "ledger_height", &[&format!("\"{CHANNEL}\"")]) as u64,
        height
    );

    // Drill: kill -9 a peer under load, restart it; it catches up.
    let (stop, handle) = load_background(&rt, &net, "peerkill");
    std::thread::sleep(Duration::from_secs(2));
    let victim = net.peers[3].name.clone();
    net.kill(&victim);
    std::thread::sleep(Duration::from_secs(2));
    let restarted = Instant::now();
    net.start_peer(3);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let during = rt.block_on(handle).unwrap();
    let caught_up = net.wait_same_height(height + 1, Duration::from_secs(60));
    eprintln!(
        "peer kill drill: {} writes acknowledged, failed attempts {:?}; {victim} at height {caught_up} {:.1} s after its restart",
        during.committed.len(),
        during.failures,
        restarted.elapsed().as_secs_f64()
    );
    assert!(
        !during.committed.is_empty(),
        "the load went on during the drill"
    );
    assert_eq!(
        during.failed(),
        0,
        "a non-gateway peer's crash is invisible to clients: {:?}",
        during.failures
    );
    committed.extend(during.committed);

    let final_height = stop_and_check(&mut net, &committed);
    assert!(final_height >= caught_up);

    // The counters of peer0.org1 agree with its blocks as of the scrape (block 0 is the
    // genesis block the peer joined with, not one it committed).
    let codes = codes_in_blocks(&net.ledger(0), 1, height);
    let valid = codes.get(&0).copied().unwrap_or(0);
    let all: u64 = codes.values().sum();
    assert_eq!(
        metric_valid as u64, valid,
        "VALID transactions: /metrics vs blocks 1..{height}"
    );
    assert_eq!(
        metric_all as u64, all,
        "all transactions: /metrics vs blocks 1..{height}"
    );
    eprintln!("metrics: {all} transactions ({valid} VALID) in blocks 1..{height} match /metrics");
}

#[test]
fn raft_leader_kill_and_whole_network_restart_lose_no_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = ProcNet::generate(tmp.path(), 2, 2, 3);
    net.start_all_fresh();
    deploy(&net);
    let rt = runtime();

    // Drill: kill -9 the Raft leader under load.
    let (stop, handle) = load_background(&rt, &net, "leaderkill");
    std::thread::sleep(Duration::from_secs(2));
    let leader = net
        .wait_leader(Duration::from_secs(10), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let index = net.orderer_by_consenter(leader);
    let name = net.orderers[index].name.clone();
    let killed = Instant::now();
    net.kill(&name);
    let new_leader = net
        .wait_leader(Duration::from_secs(30), Some(index))
        .unwrap_or_else(|e| panic!("after killing {name}: {e}"));
    let elected = killed.elapsed();
    assert_ne!(new_leader, leader);
    std::thread::sleep(Duration::from_secs(3));
    net.start_orderer(index);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let during = rt.block_on(handle).unwrap();
    eprintln!(
        "leader kill drill: consenter {leader} ({name}) killed; consenter {new_leader} leads after {:.0} ms; {} writes acknowledged, failed attempts (retried) {:?}",
        elected.as_secs_f64() * 1000.0,
        during.committed.len(),
        during.failures
    );
    assert!(
        !during.committed.is_empty(),
        "the load went on during the drill"
    );
    let mut committed = during.committed;

    // A config update signed by one organisation only is refused, naming the policy.
    let first = &net.orderers[(index + 1) % 3];
    let org1_admin = net
        .root
        .join("crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp");
    let out = cambium(&[
        "channel",
        "update",
        "--channel",
        CHANNEL,
        "--orderer",
        &first.address,
        "--tls-ca",
        net.root
            .join("crypto/ordererOrganizations/example.com/msp/tlscacerts")
            .to_str()
            .unwrap(),
        "--max-message-count",
        "50",
        "--signer",
        &format!("Org1MSP={}", org1_admin.display()),
        "--wait",
        "10s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an update without enough signatures is refused"
    );
    assert!(
        err.contains("Admins") && err.to_lowercase().contains("sign"),
        "the error names the policy and the signatures: {err}"
    );

    // Drill: stop everything and start it again from the data folders.
    net.stop_all();
    let restarted = Instant::now();
    net.restart_all();
    eprintln!(
        "whole-network restart: ready {:.1} s after the first start command",
        restarted.elapsed().as_secs_f64()
    );
    let after = load_n(&rt, &net, 3, 10, "afterrestart");
    assert_eq!(after.committed.len(), 30, "failures: {:?}", after.failures);
    committed.extend(after.committed);
    let height = stop_and_check(&mut net, &committed);
    eprintln!(
        "{} acknowledged transactions on all 4 peers at height {height}",
        committed.len()
    );
}

#[test]
fn bad_node_input_names_the_file_the_field_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = ProcNet::generate(tmp.path(), 1, 1, 1);
    let peer = net.peers[0].clone();
    let text = std::fs::read_to_string(&peer.config).unwrap();

    // An unknown key.
    let bad = peer.config.with_file_name("bad.yaml");
    std::fs::write(&bad, format!("{text}\nlistenAdress: 127.0.0.1:1\n")).unwrap();
    let out = cambium(&["peer", "start", "--config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bad.yaml") && err.contains("listenAdress"),
        "{err}"
    );

    // A missing certificate.
    let orderer = net.orderers[0].clone();
    let cert = net.root.join(
        "crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/tls/server.crt",
    );
    let saved = std::fs::read(&cert).unwrap();
    std::fs::remove_file(&cert).unwrap();
    let out = cambium(&[
        "orderer",
        "start",
        "--config",
        orderer.config.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server.crt"),
        "the error names the missing file: {err}"
    );
    std::fs::write(&cert, saved).unwrap();

    // A port in use.
    let holder = std::net::TcpListener::bind(&peer.address).unwrap();
    net.join_peer(0);
    let out = cambium(&["peer", "start", "--config", peer.config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&peer.address),
        "the error names the address: {err}"
    );
    drop(holder);

    // An orderer that does not answer: the peer runs, and /healthz says which orderer it
    // cannot reach.
    net.start_peer(0);
    let body = std::cell::RefCell::new(String::new());
    wait_for(
        "/healthz to report the unreachable orderer",
        Duration::from_secs(30),
        || match http(&peer.aux_address, "GET", "/healthz", &[]) {
            Ok((503, b)) => {
                *body.borrow_mut() = b;
                true
            }
            _ => false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", net.log_tail(&peer.name)));
    let body = body.into_inner();
    assert!(body.contains(&orderer.address), "{body}");
    net.stop(&peer.name);
}

/// The rest of #9's bad-input list, beside [`bad_node_input_names_the_file_the_field_and_the_fix`]:
/// an orderer YAML with an unknown key, a peer whose TLS certificate is missing, an orderer
/// whose port is taken, and a config update sent to an orderer address that does not answer.
/// Each error names the file, field or address; a node refused at start leaves no data behind.
#[test]
fn bad_orderer_input_and_an_unanswering_orderer_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let net = ProcNet::generate(tmp.path(), 1, 1, 1);
    let orderer = net.orderers[0].clone();
    let peer = net.peers[0].clone();
    let refused = |args: &[&str]| -> String {
        let out = cambium(args);
        assert!(!out.status.success(), "cambium {args:?} is refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // An orderer YAML with an unknown key: the file and the key.
    let text = std::fs::read_to_string(&orderer.config).unwrap();
    let bad = orderer.config.with_file_name("typo.yaml");
    std::fs::write(&bad, format!("{text}\nbatchTimout: 1s\n")).unwrap();
    let err = refused(&["orderer", "start", "--config", bad.to_str().unwrap()]);
    assert!(
        err.contains("typo.yaml") && err.contains("batchTimout"),
        "{err}"
    );
    assert!(!orderer.data_dir.exists(), "nothing is written: {err}");

    // A peer whose TLS certificate is missing: the file.
    let cert = net.root.join(
        "crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt",
    );
    let saved = std::fs::read(&cert).unwrap();
    std::fs::remove_file(&cert).unwrap();
    let err = refused(&["peer", "start", "--config", peer.config.to_str().unwrap()]);
    assert!(err.contains("server.crt"), "{err}");
    assert!(
        !peer.aux_address.is_empty() && std::net::TcpListener::bind(&peer.aux_address).is_ok(),
        "the operations endpoint is not left bound"
    );
    std::fs::write(&cert, saved).unwrap();

    // An orderer whose gRPC port is taken: the address.
    let holder = std::net::TcpListener::bind(&orderer.address).unwrap();
    let err = refused(&[
        "orderer",
        "start",
        "--config",
        orderer.config.to_str().unwrap(),
    ]);
    assert!(err.contains(&orderer.address), "{err}");
    drop(holder);

    // A config update sent to an orderer address nothing answers at: the address.
    let admin = net
        .root
        .join("crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp");
    let err = refused(&[
        "channel",
        "update",
        "--channel",
        CHANNEL,
        "--orderer",
        &orderer.address,
        "--tls-ca",
        net.root
            .join("crypto/ordererOrganizations/example.com/msp/tlscacerts")
            .to_str()
            .unwrap(),
        "--batch-timeout",
        "1s",
        "--signer",
        &format!("Org1MSP={}", admin.display()),
    ]);
    assert!(
        err.contains(&format!("from orderer {}", orderer.address))
            && err.contains("--orderer names its gRPC address"),
        "{err}"
    );
}
