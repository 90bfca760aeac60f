//! `cambium up` and the commands that act on its network: start on free ports, deploy
//! asset-transfer, transactions through the gateway, restart with the same state, and the
//! errors users meet first.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{cambium, path_arg, refused, stderr, stdout, succeeds};

/// A `cambium up` process, stopped with SIGTERM when dropped.
struct Up {
    child: Child,
}

impl Up {
    /// Starts `cambium up ARGS` and waits for its `ready` line.
    fn start(args: &[&str]) -> Up {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cambium"))
            .arg("up")
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cambium up starts");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("ready") => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("cambium up did not print `ready`; it printed: {seen:?}");
                }
            }
        }
        assert!(
            seen.iter().any(|l| l.contains("cambium contract deploy")),
            "the summary names the deploy command: {seen:?}"
        );
        Up { child }
    }

    /// Stops it as Ctrl-C would and checks that it exits cleanly.
    fn stop(mut self) {
        terminate(&self.child);
        let status = self.child.wait().expect("cambium up exits");
        assert!(
            status.success(),
            "cambium up exits cleanly on SIGTERM: {status}"
        );
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            terminate(&self.child);
            let _ = self.child.wait();
        }
    }
}

fn terminate(child: &Child) {
    let pid = i32::try_from(child.id()).expect("a pid fits i32");
    // SAFETY: sending a signal to our own child process by its pid.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// asset-transfer built for wasm32 into the shared target folder.
fn asset_transfer_wasm() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_cambium"));
    let target = exe
        .ancestors()
        .nth(2)
        .expect("the binary lives in <target>/<profile>")
        .join("contract-wasm");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/asset-transfer");
    cambium_vm::toolchain::build(&dir, &target)
        .unwrap_or_else(|e| panic!("cannot build asset-transfer for wasm32: {e}"))
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = cambium(args);
    assert!(
        out.status.success(),
        "cambium {args:?} failed: {}",
        stderr(&out)
    );
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("cambium {args:?} printed no JSON ({e}): {}", stdout(&out)))
}

#[test]
fn up_deploy_transact_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("net");
    let data = path_arg(&data);
    let wasm = asset_transfer_wasm();

    let up = Up::start(&["--data-dir", data, "--base-port", "0"]);
    let profile: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(data).join("connection-profile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(profile["organizations"]["Org1"]["mspid"], "Org1MSP");
    assert!(profile["peers"]["peer0.org1.example.com"]["url"]
        .as_str()
        .unwrap()
        .starts_with("grpcs://127.0.0.1:"));
    assert!(Path::new(data).join("connection-profile.yaml").is_file());

    let deployed = json(&[
        "contract",
        "deploy",
        path_arg(&wasm),
        "--name",
        "basic",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(deployed["definition"]["sequence"], 1);
    assert_eq!(deployed["approved"], serde_json::json!(["Org1", "Org2"]));

    // A user's calls from the command line, as `peer chaincode invoke` and `query`.
    let create = [
        "contract",
        "invoke",
        "basic",
        "CreateAsset",
        "cli-1",
        "red",
        "4",
        "Noor",
        "50",
        "--data-dir",
        data,
    ];
    let invoked = json(&[&create[..], &["--json"]].concat());
    assert!(invoked["block"].as_u64().unwrap() > 0, "{invoked}");
    assert_eq!(invoked["status"], 200, "{invoked}");
    let out = succeeds(&[
        "contract",
        "query",
        "basic",
        "-c",
        r#"{"Args":["ReadAsset","cli-1"]}"#,
        "--data-dir",
        data,
    ]);
    assert!(out.contains("\"Owner\":\"Noor\""), "{out}");
    let out = cambium(&create);
    assert!(
        !out.status.success(),
        "a second CreateAsset of cli-1 is refused"
    );
    assert!(
        stderr(&out).contains("the asset cli-1 already exists"),
        "{}",
        stderr(&out)
    );

    // The channel as operators look at it: every peer's height, hashes and state digest, and
    // blocks fetched into files (a config block reads back with `channel inspect`).
    let mut info = serde_json::Value::Null;
    for _ in 0..50 {
        info = json(&["channel", "getinfo", "--data-dir", data, "--json"]);
        if info["agree"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(info["agree"], true, "{info}");
    let peers = info["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2, "{info}");
    assert!(peers[0]["height"].as_u64().unwrap() > 3, "{info}");
    assert_eq!(
        peers[0]["state_digest"].as_str().unwrap().len(),
        64,
        "{info}"
    );
    // The orderer's side, through its channel participation API (like osnadmin).
    let status = json(&[
        "orderer",
        "channel",
        "list",
        "-c",
        "mychannel",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(status["status"], "active", "{status}");
    assert_eq!(status["consensusRelation"], "consenter", "{status}");
    assert!(
        status["height"].as_u64().unwrap() >= peers[0]["height"].as_u64().unwrap(),
        "the orderer is not behind the peers: {status}"
    );
    let table = stdout(&cambium(&[
        "orderer",
        "channel",
        "list",
        "--data-dir",
        data,
    ]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("mychannel ") && l.contains("active")),
        "{table}"
    );
    let genesis = std::path::Path::new(data).join("mychannel.block");
    refused(
        &[
            "orderer",
            "channel",
            "join",
            "-b",
            path_arg(&genesis),
            "--data-dir",
            data,
        ],
        "already joined; remove it first",
    );
    refused(
        &[
            "orderer",
            "channel",
            "remove",
            "-c",
            "nochannel",
            "--data-dir",
            data,
        ],
        "'nochannel' does not exist on this orderer",
    );
    let listed = json(&["peer", "channel", "list", "--data-dir", data, "--json"]);
    assert_eq!(
        listed,
        serde_json::json!({
            "peer0.org1.example.com": ["mychannel"],
            "peer0.org2.example.com": ["mychannel"]
        })
    );
    let out = cambium(&[
        "peer",
        "channel",
        "list",
        "--peer",
        "peer9",
        "--data-dir",
        data,
    ]);
    assert!(
        stderr(&out).contains("known: peer0.org1.example.com, peer0.org2.example.com"),
        "{}",
        stderr(&out)
    );
    let config_block = Path::new(data).join("fetched_config.block");
    let fetched = json(&[
        "channel",
        "fetch",
        "config",
        path_arg(&config_block),
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(
        fetched["block"], 0,
        "the genesis block is the only config block: {fetched}"
    );
    let out = cambium(&["channel", "inspect", path_arg(&config_block)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("mychannel"), "{}", stdout(&out));
    let newest = json(&[
        "channel",
        "fetch",
        "newest",
        path_arg(&Path::new(data).join("newest.block")),
        "--data-dir",
        data,
        "--json",
    ]);
    assert!(newest["block"].as_u64().unwrap() >= 3, "{newest}");
    let out = cambium(&["channel", "fetch", "99999", "--data-dir", data]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("block 99999"), "{}", stderr(&out));
    let out = cambium(&["channel", "fetch", "latest", "--data-dir", data]);
    assert!(
        stderr(&out).contains("write newest, oldest, config or a block number"),
        "{}",
        stderr(&out)
    );

    let bench = json(&[
        "bench",
        "gateway",
        "--data-dir",
        data,
        "--clients",
        "2",
        "--connections",
        "1",
        "--duration",
        "1",
        "--read-percent",
        "20",
        "--json",
    ]);
    assert_eq!(bench["connections"], 1, "{bench}");
    for field in [
        "throughput",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "submitted",
        "failed",
    ] {
        assert!(
            bench.get(field).is_some(),
            "bench JSON has {field}: {bench}"
        );
    }
    assert!(
        bench["valid"].as_u64().unwrap() > 0,
        "transactions commit through the gateway: {bench}"
    );
    assert_eq!(bench["failed"], 0, "{bench}");

    // The rollout brake finds the peers' operations endpoints in the data directory, or in
    // the prometheus.yml beside a profile (it scrapes each before looking at the rollout); a
    // connection profile alone does not list them.
    let watch = |network: &[&str]| -> Vec<String> {
        [
            "contract",
            "rollout",
            "watch",
            "basic",
            "--max-error-rate",
            "0.05",
        ]
        .iter()
        .chain(network)
        .map(|s| (*s).to_owned())
        .collect()
    };
    let args = watch(&["--data-dir", data, "--json"]);
    let watched = json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(watched["outcome"], "ended", "{watched}");
    assert_eq!(watched["state"], "NONE", "{watched}");
    let ccp = Path::new(data).join("connection-profile.json");
    let args = watch(&["--profile", path_arg(&ccp), "--json"]);
    let watched = json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(watched["state"], "NONE", "{watched}");
    let alone = tmp.path().join("profile-alone.json");
    std::fs::copy(&ccp, &alone).unwrap();
    let args = watch(&["--profile", path_arg(&alone)]);
    let out = cambium(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("give each peer's operations endpoint with --metrics"),
        "{}",
        stderr(&out)
    );

    // The admin commands step by step, for a second name over the installed package.
    let package_id = deployed["package_id"].as_str().unwrap();
    let def = ["--name", "basic2", "--version", "2.0", "--sequence", "1"];
    let with = |cmd: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["contract".to_owned(), cmd.to_owned()];
        args.extend(def.iter().chain(extra).map(|s| (*s).to_owned()));
        args.extend([
            "--data-dir".to_owned(),
            data.to_owned(),
            "--json".to_owned(),
        ]);
        args
    };
    let run = |args: Vec<String>| cambium(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(with(
        "approve",
        &["--org", "Org1", "--package-id", package_id],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let readiness = run(with("checkcommitreadiness", &["--org", "Org2"]));
    let readiness: serde_json::Value = serde_json::from_str(&stdout(&readiness)).unwrap();
    assert_eq!(
        readiness["approvals"],
        serde_json::json!({"Org1MSP": true, "Org2MSP": false})
    );
    let out = run(with("commit", &["--org", "Org1"]));
    assert!(
        !out.status.success(),
        "a commit without Org2's approval fails"
    );
    assert!(
        stderr(&out).contains("Org2MSP"),
        "the error names the missing approval: {}",
        stderr(&out)
    );
    let out = run(with(
        "approve",
        &["--org", "Org2", "--package-id", package_id],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(with("commit", &["--org", "Org2"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let approved = json(&[
        "contract",
        "queryapproved",
        "--name",
        "basic2",
        "--org",
        "Org2",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(approved["package_id"], package_id);
    assert_eq!(approved["version"], "2.0");
    let committed = json(&["contract", "querycommitted", "--data-dir", data, "--json"]);
    let names: Vec<&str> = committed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["basic", "basic2"]);
    refused(
        &[
            "contract",
            "queryinstalled",
            "--org",
            "Org3",
            "--data-dir",
            data,
        ],
        "organization 'Org3' is not in this network; known: Org1, Org2",
    );
    refused(
        &[
            "contract",
            "deploy",
            "no/such/contract",
            "--name",
            "x",
            "--data-dir",
            data,
        ],
        "no/such/contract does not exist",
    );
    up.stop();

    // A second start resumes: same ports (no flags), same contracts.
    let up = Up::start(&["--data-dir", data]);
    let committed = json(&[
        "contract",
        "querycommitted",
        "--name",
        "basic",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(committed[0]["sequence"], 1, "{committed}");
    let installed = json(&[
        "contract",
        "queryinstalled",
        "--org",
        "Org2",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(installed[0]["package_id"], deployed["package_id"]);
    let again = json(&[
        "contract",
        "deploy",
        path_arg(&wasm),
        "--name",
        "basic",
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(
        again["definition"]["sequence"], 2,
        "the next sequence comes from querycommitted"
    );
    up.stop();
}

#[test]
fn an_orderer_leaves_and_rejoins_a_channel_through_its_participation_api() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("net");
    let data = path_arg(&data);
    let up = Up::start(&["--data-dir", data, "--base-port", "0"]);
    let listed = json(&["orderer", "channel", "list", "--data-dir", data, "--json"]);
    assert_eq!(listed["channels"][0]["name"], "mychannel", "{listed}");

    let out = succeeds(&[
        "orderer",
        "channel",
        "remove",
        "-c",
        "mychannel",
        "--data-dir",
        data,
    ]);
    assert!(
        out.starts_with("removed mychannel from 127.0.0.1:"),
        "{out}"
    );
    let listed = json(&["orderer", "channel", "list", "--data-dir", data, "--json"]);
    assert_eq!(listed["channels"], serde_json::json!([]), "{listed}");
    let out = cambium(&["orderer", "channel", "list", "--data-dir", data]);
    assert!(
        stdout(&out).contains("serves no channel"),
        "{}",
        stdout(&out)
    );

    let genesis = std::path::Path::new(data).join("mychannel.block");
    let joined = json(&[
        "orderer",
        "channel",
        "join",
        "-b",
        path_arg(&genesis),
        "--data-dir",
        data,
        "--json",
    ]);
    assert_eq!(joined["name"], "mychannel", "{joined}");
    assert_eq!(joined["status"], "active", "{joined}");
    assert!(joined["height"].as_u64().unwrap() >= 1, "{joined}");

    // Bad input: an address that is not HOST:PORT, nothing listening, a block that is not one.
    refused(
        &["orderer", "channel", "list", "-o", "localhost"],
        "write the orderer's adminListenAddress as HOST:PORT",
    );
    refused(
        &["orderer", "channel", "list", "-o", "127.0.0.1:1"],
        "is an orderer running with its adminListenAddress there?",
    );
    let junk = tmp.path().join("junk.block");
    std::fs::write(&junk, b"not a block").unwrap();
    refused(
        &[
            "orderer",
            "channel",
            "join",
            "-b",
            path_arg(&junk),
            "--data-dir",
            data,
        ],
        "refused POST /participation/v1/channels (400",
    );
    up.stop();
}

#[test]
fn a_taken_port_says_which_flag_moves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let data = tmp.path().join("net");
    let out = cambium(&[
        "up",
        "--data-dir",
        path_arg(&data),
        "--base-port",
        "0",
        "--orderer-port",
        &port,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("port {port} is in use; pass --orderer-port PORT")),
        "{}",
        stderr(&out)
    );
    assert!(
        !data.exists(),
        "nothing is written when the ports are taken"
    );
}

#[test]
fn commands_without_a_network_say_how_to_start_one() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    let out = cambium(&[
        "contract",
        "querycommitted",
        "--data-dir",
        path_arg(&missing),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no network in"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cambium up --data-dir"),
        "{}",
        stderr(&out)
    );

    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let out = cambium(&["up", "--data-dir", path_arg(tmp.path()), "--base-port", "0"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a Cambium network"),
        "{}",
        stderr(&out)
    );

    let out = cambium(&[
        "bench",
        "gateway",
        "--profile",
        path_arg(&tmp.path().join("ccp.json")),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}
