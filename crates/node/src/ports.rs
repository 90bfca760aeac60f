//! The loopback ports of a development network, their defaults (Fabric's test-network ports)
//! and the check that they are free before anything starts.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};

/// The host every node listens on and every endpoint names: loopback only.
pub const HOST: &str = "127.0.0.1";

/// Default orderer port (AtomicBroadcast and the Raft transport).
pub const DEFAULT_ORDERER_PORT: u16 = 7050;
/// Default port of the orderer's channel participation API.
pub const DEFAULT_ADMIN_PORT: u16 = 7053;
/// Default port of Org1's peer.
pub const DEFAULT_ORG1_PEER_PORT: u16 = 7051;
/// Default port of Org2's peer.
pub const DEFAULT_ORG2_PEER_PORT: u16 = 9051;
/// Default port of the orderer's operations endpoint (`/healthz`, `/metrics`, `/logspec`).
pub const DEFAULT_ORDERER_OPS_PORT: u16 = 9443;
/// Default port of Org1's peer's operations endpoint.
pub const DEFAULT_ORG1_OPS_PORT: u16 = 9444;
/// Default port of Org2's peer's operations endpoint.
pub const DEFAULT_ORG2_OPS_PORT: u16 = 9445;

/// How many ports a network listens on.
const PORT_COUNT: usize = 7;

/// The ports a network listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// The orderer: AtomicBroadcast and the Raft transport.
    pub orderer: u16,
    /// The orderer's channel participation (admin) API.
    pub admin: u16,
    /// Org1's peer: Endorser, Deliver and Gateway.
    pub org1_peer: u16,
    /// Org2's peer.
    pub org2_peer: u16,
    /// The orderer's operations endpoint (plain HTTP). The operations ports are not part of
    /// the channel; a data directory written before they existed gets the defaults.
    #[serde(default = "default_orderer_ops")]
    pub orderer_ops: u16,
    /// Org1's peer's operations endpoint.
    #[serde(default = "default_org1_ops")]
    pub org1_ops: u16,
    /// Org2's peer's operations endpoint.
    #[serde(default = "default_org2_ops")]
    pub org2_ops: u16,
}

fn default_orderer_ops() -> u16 {
    DEFAULT_ORDERER_OPS_PORT
}

fn default_org1_ops() -> u16 {
    DEFAULT_ORG1_OPS_PORT
}

fn default_org2_ops() -> u16 {
    DEFAULT_ORG2_OPS_PORT
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            orderer: DEFAULT_ORDERER_PORT,
            admin: DEFAULT_ADMIN_PORT,
            org1_peer: DEFAULT_ORG1_PEER_PORT,
            org2_peer: DEFAULT_ORG2_PEER_PORT,
            orderer_ops: DEFAULT_ORDERER_OPS_PORT,
            org1_ops: DEFAULT_ORG1_OPS_PORT,
            org2_ops: DEFAULT_ORG2_OPS_PORT,
        }
    }
}

impl Ports {
    /// Seven consecutive ports from `base`: orderer, Org1's peer, Org2's peer, admin, then
    /// the operations endpoints of the orderer, Org1's peer and Org2's peer. With `base` 0,
    /// seven ports the system reports free right now.
    pub fn from_base(base: u16) -> Result<Ports> {
        if base == 0 {
            return Ports::free();
        }
        let last = PORT_COUNT as u16 - 1;
        if base > u16::MAX - last {
            return Err(NodeError::Rejected(format!(
                "--base-port {base} leaves no room for {PORT_COUNT} ports; use a port below {}",
                u16::MAX - last
            )));
        }
        Ok(Ports {
            orderer: base,
            org1_peer: base + 1,
            org2_peer: base + 2,
            admin: base + 3,
            orderer_ops: base + 4,
            org1_ops: base + 5,
            org2_ops: base + 6,
        })
    }

    /// Seven distinct ports that are free now (the system picks them).
    pub fn free() -> Result<Ports> {
        // Hold all the listeners at once so the system cannot hand out one port twice.
        let listeners = (0..PORT_COUNT)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| NodeError::Rejected(format!("finding free ports: {e}")))?;
        let port = |i: usize| -> Result<u16> {
            listeners[i]
                .local_addr()
                .map(|a| a.port())
                .map_err(|e| NodeError::Rejected(format!("finding free ports: {e}")))
        };
        Ok(Ports {
            orderer: port(0)?,
            org1_peer: port(1)?,
            org2_peer: port(2)?,
            admin: port(3)?,
            orderer_ops: port(4)?,
            org1_ops: port(5)?,
            org2_ops: port(6)?,
        })
    }

    /// Each port with the flag that changes it, in start order.
    pub fn with_flags(&self) -> [(u16, &'static str); PORT_COUNT] {
        [
            (self.orderer, "--orderer-port"),
            (self.admin, "--admin-port"),
            (self.orderer_ops, "--orderer-ops-port"),
            (self.org1_peer, "--org1-peer-port"),
            (self.org1_ops, "--org1-ops-port"),
            (self.org2_peer, "--org2-peer-port"),
            (self.org2_ops, "--org2-ops-port"),
        ]
    }

    /// The flag that moves `port` (the first listed, if it is given twice; `--base-port` for
    /// a port this network does not use).
    pub fn flag_of(&self, port: u16) -> &'static str {
        self.with_flags()
            .into_iter()
            .find(|(p, _)| *p == port)
            .map_or("--base-port", |(_, flag)| flag)
    }

    /// Whether the ports that are part of the channel (the orderer's and the peers') and the
    /// admin API's are the same; the operations ports may differ.
    pub fn same_network_ports(&self, other: &Ports) -> bool {
        (self.orderer, self.admin, self.org1_peer, self.org2_peer)
            == (other.orderer, other.admin, other.org1_peer, other.org2_peer)
    }

    /// Fails with [`NodeError::PortInUse`] naming the first port another process holds, or
    /// a port listed twice.
    pub fn check_free(&self) -> Result<()> {
        let all = self.with_flags();
        for (i, (port, flag)) in all.iter().enumerate() {
            if all[..i].iter().any(|(p, _)| p == port) {
                return Err(NodeError::Rejected(format!(
                    "port {port} is given twice; pass a different {flag}"
                )));
            }
            if TcpListener::bind(socket(*port)).is_err() {
                return Err(NodeError::PortInUse { port: *port, flag });
            }
        }
        Ok(())
    }
}

/// `127.0.0.1:port`.
pub fn socket(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// `127.0.0.1:port` as text, as endpoints and channel configs name it.
pub fn endpoint(port: u16) -> String {
    format!("{HOST}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_port_lays_out_seven_consecutive_ports() {
        let ports = Ports::from_base(20000).unwrap();
        assert_eq!(
            ports,
            Ports {
                orderer: 20000,
                org1_peer: 20001,
                org2_peer: 20002,
                admin: 20003,
                orderer_ops: 20004,
                org1_ops: 20005,
                org2_ops: 20006,
            }
        );
        assert!(Ports::from_base(u16::MAX - 6).is_ok());
        let err = Ports::from_base(u16::MAX - 5).unwrap_err().to_string();
        assert!(err.contains("no room for 7 ports"), "{err}");
    }

    #[test]
    fn a_state_file_from_before_the_operations_ports_gets_the_defaults() {
        let old = r#"{"orderer":7050,"admin":7053,"org1_peer":7051,"org2_peer":9051}"#;
        let ports: Ports = serde_json::from_str(old).unwrap();
        assert_eq!(ports, Ports::default());
    }

    #[test]
    fn free_ports_are_distinct_and_pass_the_check() {
        let ports = Ports::from_base(0).unwrap();
        let mut all: Vec<u16> = ports.with_flags().iter().map(|(p, _)| *p).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), PORT_COUNT);
        ports.check_free().unwrap();
    }

    #[test]
    fn a_taken_port_is_named_with_its_flag() {
        let mut ports = Ports::free().unwrap();
        let holder = TcpListener::bind(socket(0)).unwrap();
        ports.org1_peer = holder.local_addr().unwrap().port();
        let err = ports.check_free().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "port {} is in use; pass --org1-peer-port PORT (or --base-port) or stop the other process",
                ports.org1_peer
            )
        );
        assert_eq!(ports.flag_of(ports.org1_ops), "--org1-ops-port");
        ports.admin = ports.orderer;
        assert!(ports
            .check_free()
            .unwrap_err()
            .to_string()
            .contains("given twice"));
    }
}
