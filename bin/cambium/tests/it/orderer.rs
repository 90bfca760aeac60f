//! Tests of `cambium orderer start`: three orderer processes on loopback form a Raft cluster
//! from a genesis block joined through the channel participation API.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cambium_orderer::client::{self, HeaderType, Seek};

use crate::support::{cambium, path_arg as arg};

/// Kills the orderer processes when the test ends, pass or fail.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// One HTTP/1.1 request; returns the status code and the body.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn height(admin: u16) -> u64 {
    let (status, body) = http(admin, "GET", "/participation/v1/channels/mychannel", b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["height"].as_u64().unwrap()
}

#[test]
fn three_orderer_processes_order_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = cambium(&[
        "crypto",
        "generate",
        "--out",
        arg(&dir.path().join("crypto")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ports = free_ports(6);
    let (grpc, admin) = (&ports[..3], &ports[3..]);
    // The sample channel with three consenters on loopback and a short batch timeout.
    let sample = String::from_utf8(cambium(&["channel", "default-config"]).stdout).unwrap();
    let tls = "crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt";
    let consenters: String = grpc
        .iter()
        .map(|p| format!("      - Host: 127.0.0.1\n        Port: {p}\n        ClientTLSCert: {tls}\n        ServerTLSCert: {tls}\n"))
        .collect();
    let start = sample
        .find("    Consenters:\n")
        .expect("the sample has consenters")
        + "    Consenters:\n".len();
    let end = sample[start..].find("  BatchTimeout").unwrap() + start;
    let yaml = format!("{}{}{}", &sample[..start], consenters, &sample[end..])
        .replace("BatchTimeout: 2s", "BatchTimeout: 50ms");
    std::fs::write(dir.path().join("channel.yaml"), yaml).unwrap();
    let genesis = dir.path().join("genesis.block");
    let out = cambium(&[
        "channel",
        "genesis",
        "--config",
        arg(&dir.path().join("channel.yaml")),
        "--out",
        arg(&genesis),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let genesis = std::fs::read(&genesis).unwrap();

    let mut children = Processes(Vec::new());
    for i in 0..3 {
        let config = dir.path().join(format!("orderer{i}.yaml"));
        std::fs::write(
            &config,
            format!(
                "listenAddress: 127.0.0.1:{}\nadminListenAddress: 127.0.0.1:{}\ndataDir: data{i}\nmsp:\n  dir: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/msp\n  id: OrdererMSP\ntls:\n  enabled: false\n",
                grpc[i], admin[i]
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join(format!("orderer{i}.log"))).unwrap();
        children.0.push(
            Command::new(env!("CARGO_BIN_EXE_cambium"))
                .args(["orderer", "start", "--config", arg(&config)])
                .stdout(log.try_clone().unwrap())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap(),
        );
    }
    for &p in admin {
        wait_for_port(p, Duration::from_secs(20));
    }
    for &p in admin {
        let (status, body) = http(p, "POST", "/participation/v1/channels", &genesis);
        assert_eq!(status, 201, "join: {body}");
    }
    let (status, body) = http(admin[0], "GET", "/participation/v1/channels", b"");
    assert_eq!(status, 200);
    assert!(body.contains("\"mychannel\""), "{body}");
    let (status, body) = http(admin[0], "POST", "/participation/v1/channels", &genesis);
    assert_eq!(status, 405, "joining twice is refused: {body}");

    // Org1's user broadcasts through orderer 1 (a follower or the leader) until it succeeds.
    let user = client::load_identity(
        &dir.path()
            .join("crypto/peerOrganizations/org1.example.com/users/User1@org1.example.com/msp"),
        "Org1MSP",
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", grpc[1]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let envelopes: Vec<Vec<u8>> = (0..5)
            .map(|_| {
                client::signed_envelope(
                    &user,
                    "mychannel",
                    HeaderType::EndorserTransaction,
                    &[1u8; 1024],
                )
                .unwrap()
            })
            .collect();
        let replies = client::block_on(client::broadcast(&addr, &envelopes)).unwrap();
        if replies.iter().all(|(s, _)| client::is_success(*s)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "broadcast never succeeded: {replies:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // All three processes reach the same height (at least the block just acknowledged; a
    // follower learns of a commit with the next heartbeat) and the same chain.
    let deadline = Instant::now() + Duration::from_secs(10);
    let target = loop {
        let heights: Vec<u64> = admin.iter().map(|&p| height(p)).collect();
        if heights.iter().all(|h| *h >= 2 && *h == heights[0]) {
            break heights[0];
        }
        assert!(
            Instant::now() < deadline,
            "orderers did not converge: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let chains: Vec<Vec<[u8; 32]>> = grpc
        .iter()
        .map(|p| {
            let (blocks, status) = client::block_on(client::deliver(
                &format!("127.0.0.1:{p}"),
                &user,
                "mychannel",
                Seek::Oldest,
                Seek::Specified(target - 1),
            ))
            .unwrap();
            assert!(client::is_success(status));
            blocks.iter().map(|b| b.header_hash()).collect()
        })
        .collect();
    assert_eq!(chains[0].len() as u64, target);
    assert_eq!(chains[0], chains[1]);
    assert_eq!(chains[0], chains[2]);

    // Removing the channel from one orderer.
    let (status, _) = http(
        admin[2],
        "DELETE",
        "/participation/v1/channels/mychannel",
        b"",
    );
    assert_eq!(status, 204);
    let (status, body) = http(admin[2], "GET", "/participation/v1/channels/mychannel", b"");
    assert_eq!(status, 404);
    assert!(body.contains("join it"), "{body}");
}
