//! Issue #9's add-an-organisation scenario, end to end with the operator's commands: a running
//! network of Org1 and Org2 gets Org3 through `cambium network add-org` (crypto material, its
//! definition, its peer's `peer.yaml`, profiles, README steps), the channel update the README
//! prints (signed by a MAJORITY of the existing admins), Org3's peer joining with the genesis
//! block and catching up through that update, Org3's admin installing the package and
//! approving the already committed definition late, and then Org3 endorsing: a new sequence
//! whose policy needs Org3, transactions through Org3's and Org1's gateways committed VALID,
//! a query by Org3's client, and one state digest on every peer, old and new. No existing node
//! is restarted or reconfigured: they trust Org3's TLS CA from the channel config.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::load::{self, Submitter};
use crate::network::{deploy, runtime, stop_and_check};
use crate::procnet::{cambium_exe, cambium_ok, http, node_info, wait_for, ProcNet};

/// The policy of sequence 2: Org3 and one of the founders must endorse.
const ORG3_POLICY: &str = "AND('Org3MSP.peer', OR('Org1MSP.peer', 'Org2MSP.peer'))";

/// Runs the `cambium …` line of the README whose command starts with `prefix`, from the
/// network folder, as an operator pastes it; returns its stdout.
fn run_readme_line(root: &Path, readme: &str, prefix: &str) -> String {
    let line = readme
        .lines()
        .rev()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("the README has no `{prefix}…` line:\n{readme}"));
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let out = Command::new(cambium_exe())
        .args(&args)
        .current_dir(root)
        .output()
        .expect("cambium runs");
    assert!(
        out.status.success(),
        "`{line}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_new_org_joins_catches_up_approves_late_and_endorses() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    // Two spare ports after the network's: Org3's peer (gRPC, operations).
    let mut net = ProcNet::generate_with_spare(tmp.path(), 2, 1, 1, 2);
    net.start_all_fresh();
    deploy(&net);
    let rt = runtime();
    let before = network_load(&rt, &net, "Org1", "peer0.org1.example.com", "before");
    let mut committed = vec![before];

    // 1-2. Org3's material, definition, node configuration and profiles.
    let json = cambium_ok(&[
        "network",
        "add-org",
        "--dir",
        net.root.to_str().unwrap(),
        "--name",
        "Org3",
        "--json",
    ]);
    let added: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(added["msp_id"], "Org3MSP");
    assert_eq!(added["channel_yaml_updated"], true);
    let org3_peer = node_info(&added["peers"][0]);
    assert_eq!(org3_peer.name, "peer0.org3.example.com");
    let org3_profile = std::path::PathBuf::from(added["profile"].as_str().unwrap());
    // Asking again is refused, naming the organisation and the fix.
    let again = crate::procnet::cambium(&[
        "network",
        "add-org",
        "--dir",
        net.root.to_str().unwrap(),
        "--name",
        "Org3",
    ]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("Org3MSP") && err.contains("pick another --name"),
        "{err}"
    );

    // No node is restarted and no node's configuration changes: the orderer and the peers
    // trust Org3's TLS CA from the config block that adds Org3 on (Org3's peer reaches the
    // orderer and the founders' peers over mutual TLS below).
    assert!(
        added.get("restart").is_none(),
        "add-org asks for no restart: {json}"
    );
    let readme = std::fs::read_to_string(net.root.join("README.md")).unwrap();
    assert!(
        !readme.contains("Restart each existing node") && readme.contains("no restart"),
        "{readme}"
    );

    // 3. The channel update from the README, signed by Org1's and Org2's admins.
    let height = net.wait_same_height(1, Duration::from_secs(30));
    let update = run_readme_line(&net.root, &readme, "cambium channel update --channel");
    assert!(
        update.contains("Signed by Org1MSP")
            && update.contains("Signed by Org2MSP")
            && update.contains("organisations Org1MSP, Org2MSP, Org3MSP"),
        "{update}"
    );
    net.wait_same_height(height + 1, Duration::from_secs(30));

    // 4. Org3's peer joins with the genesis block, starts and catches up through the update.
    net.peers.push(org3_peer.clone());
    let org3 = net.peers.len() - 1;
    let joined = Instant::now();
    net.join_peer(org3);
    net.start_peer(org3);
    wait_for("Org3's peer to be healthy", Duration::from_secs(60), || {
        matches!(
            http(&org3_peer.aux_address, "GET", "/healthz", &[]),
            Ok((200, _))
        )
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", net.log_tail(&org3_peer.name)));
    let target = net.height(0);
    wait_for(
        "Org3's peer to catch up with the others",
        Duration::from_secs(60),
        || net.height(org3) >= target,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", net.log_tail(&org3_peer.name)));
    let caught_up = net.wait_same_height(target, Duration::from_secs(30));
    eprintln!(
        "Org3's peer caught up to height {caught_up} {:.1} s after joining",
        joined.elapsed().as_secs_f64()
    );

    // Org3's admin installs the package and approves the committed definition (sequence 1).
    let contract = cambium_testing::workspace_root().join("contracts/asset-transfer");
    let org3_args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "--profile",
                org3_profile.to_str().unwrap(),
                "--org",
                "Org3",
                "--json",
            ]
            .map(str::to_owned),
        );
        args
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cambium_ok(&refs)
    };
    let installed: serde_json::Value = serde_json::from_str(&run(org3_args(&[
        "contract",
        "install",
        contract.to_str().unwrap(),
        "--label",
        "basic_1.0",
    ])))
    .unwrap();
    let package_id = installed["package_id"].as_str().unwrap().to_owned();
    run(org3_args(&[
        "contract",
        "approve",
        "--name",
        "basic",
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--package-id",
        &package_id,
    ]));
    let committed_defs = run(org3_args(&[
        "contract",
        "querycommitted",
        "--name",
        "basic",
    ]));
    let defs: serde_json::Value = serde_json::from_str(&committed_defs).unwrap();
    let approvals = &defs[0]["approvals"];
    assert_eq!(
        approvals["Org3MSP"], true,
        "Org3's late approval of sequence 1 is recorded: {committed_defs}"
    );

    // Org3's client submits and queries through Org3's gateway under sequence 1.
    committed.push(network_load(&rt, &net, "Org3", &org3_peer.name, "org3seq1"));

    // A new sequence whose policy needs Org3: every organisation approves, then commit.
    let upgraded = cambium_ok(&[
        "contract",
        "upgrade",
        "basic",
        "--package",
        contract.to_str().unwrap(),
        "--version",
        "1.1",
        "--signature-policy",
        ORG3_POLICY,
        "--profile",
        net.profile.to_str().unwrap(),
        "--json",
    ]);
    eprintln!("upgrade to a policy that needs Org3: {upgraded}");

    // Transactions through Org3's and Org1's gateways: each needs Org3's endorsement (the
    // validator checks the policy), so VALID proves Org3's peer endorsed.
    committed.push(network_load(&rt, &net, "Org3", &org3_peer.name, "org3seq2"));
    committed.push(network_load(
        &rt,
        &net,
        "Org1",
        "peer0.org1.example.com",
        "org1seq2",
    ));
    let who = Submitter {
        profile: &org3_profile,
        org: "Org3",
        user: "User1",
        peer: &org3_peer.name,
    };
    // Keys are TAG-CLIENT-ATTEMPT, and no attempt failed.
    let asset = rt
        .block_on(load::read_once(who, "org1seq2-0-1"))
        .expect("Org3's client reads an asset Org1 wrote");
    assert!(
        asset.contains("\"ID\":\"org1seq2-0-1\"") || asset.contains("org1seq2-0-1"),
        "{asset}"
    );

    let org1_seq2 = committed.last().unwrap().clone();
    let committed: Vec<String> = committed.into_iter().flatten().collect();
    let height = stop_and_check(&mut net, &committed);
    // Under sequence 2, Org1's gateway found Org3's peer from its anchor peer and had it
    // endorse: every such transaction carries an Org3MSP endorsement.
    let ledger = net.ledger(org3);
    for tx_id in &org1_seq2 {
        let msps = endorser_msps(&ledger, tx_id);
        assert!(
            msps.iter().any(|m| m == "Org3MSP") && msps.len() >= 2,
            "{tx_id} is endorsed by {msps:?}"
        );
    }
    eprintln!(
        "add-org scenario: {} transactions on all 3 peers at height {height}, {:.1} s in all",
        committed.len(),
        started.elapsed().as_secs_f64()
    );
}

/// A few acknowledged writes by `org`'s User1 through `peer`; all must commit VALID.
fn network_load(
    rt: &tokio::runtime::Runtime,
    net: &ProcNet,
    org: &str,
    peer: &str,
    tag: &str,
) -> Vec<String> {
    let profile = if org == "Org3" {
        net.root.join("profiles/org3.json")
    } else {
        net.profile.clone()
    };
    let who = Submitter {
        profile: &profile,
        org,
        user: "User1",
        peer,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let report = rt.block_on(load::run(who, 2, 3, stop, tag));
    assert_eq!(
        report.failed(),
        0,
        "{org} through {peer} ({tag}): {:?}",
        report.failures
    );
    assert_eq!(report.committed.len(), 6);
    report.committed
}

/// The MSP IDs of the endorsers of committed transaction `tx_id`, from the block on disk.
fn endorser_msps(ledger: &cambium_ledger::Ledger, tx_id: &str) -> Vec<String> {
    use cambium_ledger::BlockReader;
    use cambium_wire::Message;

    let location = ledger
        .transaction(tx_id)
        .unwrap()
        .unwrap_or_else(|| panic!("{tx_id} is in the ledger"));
    let stored = ledger.block(location.block_num).unwrap().unwrap();
    let block = cambium_wire::common::Block::decode(stored.bytes.as_slice()).unwrap();
    let data = block.data.expect("block data");
    let envelope = cambium_wire::tx::parse_envelope(&data.data[location.tx_num as usize]).unwrap();
    let actions = cambium_wire::tx::parse_transaction(&envelope.data).unwrap();
    actions[0]
        .endorsements
        .iter()
        .map(|e| {
            cambium_wire::convert::decode_serialized_identity(&e.endorser)
                .unwrap()
                .msp_id
        })
        .collect()
}
