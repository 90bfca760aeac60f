//! Tests of `cambium orderer start`: three orderer processes on loopback form a Raft cluster
//! from a genesis block joined through the channel participation API, in plaintext and with
//! TLS (mutual TLS between the orderers and, with `clientAuthRequired`, for clients too).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
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
    three_orderer_processes(false);
}

#[test]
fn three_orderer_processes_order_and_agree_over_tls() {
    three_orderer_processes(true);
}

/// The `tls:` section of an orderer's YAML: the orderer node's TLS certificate, every
/// organisation's TLS CA for client certificates, clients must present one.
fn tls_yaml(enabled: bool) -> String {
    if !enabled {
        return "tls:\n  enabled: false\n".into();
    }
    let node = "crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls";
    format!(
        "tls:\n  enabled: true\n  cert: {node}/server.crt\n  key: {node}/server.key\n  clientAuthRequired: true\n  rootCAs:\n    - crypto/ordererOrganizations/example.com/msp/tlscacerts\n    - crypto/peerOrganizations/org1.example.com/msp/tlscacerts\n    - crypto/peerOrganizations/org2.example.com/msp/tlscacerts\n"
    )
}

/// Mutual TLS as Org1's user: its TLS client certificate, trusting the orderers' TLS CA.
fn user_tls(crypto: &Path) -> client::ClientTlsConfig {
    let user = crypto.join("peerOrganizations/org1.example.com/users/User1@org1.example.com/tls");
    client::tls_config(
        &[crypto.join("ordererOrganizations/example.com/msp/tlscacerts")],
        Some((&user.join("client.crt"), &user.join("client.key"))),
    )
    .unwrap()
}

fn three_orderer_processes(use_tls: bool) {
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
                "listenAddress: 127.0.0.1:{}\nadminListenAddress: 127.0.0.1:{}\ndataDir: data{i}\nmsp:\n  dir: crypto/ordererOrganizations/example.com/orderers/orderer.example.com/msp\n  id: OrdererMSP\n{}",
                grpc[i], admin[i], tls_yaml(use_tls)
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
    let client_tls = use_tls.then(|| user_tls(&dir.path().join("crypto")));
    let client_tls = client_tls.as_ref();
    if use_tls {
        // Neither a plaintext client nor one without a client certificate gets through.
        let envelope = vec![client::signed_envelope(
            &user,
            "mychannel",
            HeaderType::EndorserTransaction,
            b"x",
        )
        .unwrap()];
        assert!(client::block_on(client::broadcast(&addr, &envelope)).is_err());
        let anonymous = client::tls_config(
            &[dir
                .path()
                .join("crypto/ordererOrganizations/example.com/msp/tlscacerts")],
            None,
        )
        .unwrap();
        assert!(
            client::block_on(client::broadcast_tls(&addr, Some(&anonymous), &envelope)).is_err()
        );
    }
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
        let replies =
            client::block_on(client::broadcast_tls(&addr, client_tls, &envelopes)).unwrap();
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
            let (blocks, status) = client::block_on(client::deliver_tls(
                &format!("127.0.0.1:{p}"),
                client_tls,
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
