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
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            orderer: DEFAULT_ORDERER_PORT,
            admin: DEFAULT_ADMIN_PORT,
            org1_peer: DEFAULT_ORG1_PEER_PORT,
            org2_peer: DEFAULT_ORG2_PEER_PORT,
        }
    }
}

impl Ports {
    /// Four consecutive ports from `base`: orderer, Org1's peer, Org2's peer, admin. With
    /// `base` 0, four ports the system reports free right now.
    pub fn from_base(base: u16) -> Result<Ports> {
        if base == 0 {
            return Ports::free();
        }
        if base > u16::MAX - 3 {
            return Err(NodeError::Rejected(format!(
                "--base-port {base} leaves no room for four ports; use a port below {}",
                u16::MAX - 3
            )));
        }
        Ok(Ports {
            orderer: base,
            org1_peer: base + 1,
            org2_peer: base + 2,
            admin: base + 3,
        })
    }

    /// Four distinct ports that are free now (the system picks them).
    pub fn free() -> Result<Ports> {
        // Hold all four listeners at once so the system cannot hand out one port twice.
        let listeners = (0..4)
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
        })
    }

    /// Each port with the flag that changes it, in start order.
    pub fn with_flags(&self) -> [(u16, &'static str); 4] {
        [
            (self.orderer, "--orderer-port"),
            (self.admin, "--admin-port"),
            (self.org1_peer, "--org1-peer-port"),
            (self.org2_peer, "--org2-peer-port"),
        ]
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
    fn base_port_lays_out_four_consecutive_ports() {
        let ports = Ports::from_base(20000).unwrap();
        assert_eq!(
            ports,
            Ports {
                orderer: 20000,
                org1_peer: 20001,
                org2_peer: 20002,
                admin: 20003
            }
        );
        assert!(Ports::from_base(u16::MAX - 1).is_err());
    }

    #[test]
    fn free_ports_are_distinct_and_pass_the_check() {
        let ports = Ports::from_base(0).unwrap();
        let mut all: Vec<u16> = ports.with_flags().iter().map(|(p, _)| *p).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4);
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
        ports.admin = ports.orderer;
        assert!(ports
            .check_free()
            .unwrap_err()
            .to_string()
            .contains("given twice"));
    }
}
