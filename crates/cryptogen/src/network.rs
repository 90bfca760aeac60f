//! What generation produced: organisations, their MSP folders, and every identity's files.
//!
//! These types describe paths only; they hold no key material. [`crate::plan`] computes them
//! without touching the disk, so a caller can find existing material again after a restart.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Every organisation written by one [`crate::generate`] call, in config order
/// (orderer organisations first, then peer organisations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedNetwork {
    /// The output folder given to [`crate::generate`]; every path below starts with it.
    pub out_dir: PathBuf,
    /// The organisations.
    pub orgs: Vec<GeneratedOrg>,
}

impl GeneratedNetwork {
    /// The organisation with this MSP ID (e.g. `Org1MSP`).
    pub fn org(&self, msp_id: &str) -> Option<&GeneratedOrg> {
        self.orgs.iter().find(|org| org.msp_id == msp_id)
    }

    /// Organisations that run orderers.
    pub fn orderer_orgs(&self) -> impl Iterator<Item = &GeneratedOrg> {
        self.orgs.iter().filter(|org| org.kind == OrgKind::Orderer)
    }

    /// Organisations that run peers.
    pub fn peer_orgs(&self) -> impl Iterator<Item = &GeneratedOrg> {
        self.orgs.iter().filter(|org| org.kind == OrgKind::Peer)
    }

    /// How many identities (nodes and users, CAs not counted) were written.
    pub fn identity_count(&self) -> usize {
        self.orgs
            .iter()
            .map(|org| org.nodes.len() + org.users.len())
            .sum()
    }

    /// Every key and certificate file of this network, each organisation's CAs first.
    pub fn key_and_cert_files(&self) -> Vec<&Path> {
        let mut files = Vec::new();
        for org in &self.orgs {
            files.extend(
                [&org.ca.key, &org.ca.cert, &org.tls_ca.key, &org.tls_ca.cert]
                    .map(PathBuf::as_path),
            );
            for id in org.nodes.iter().chain(&org.users) {
                files.extend(
                    [
                        &id.key,
                        &id.cert,
                        &id.tls_key,
                        &id.tls_cert,
                        &id.tls_ca_cert,
                    ]
                    .map(PathBuf::as_path),
                );
            }
        }
        files
    }

    /// The key and certificate files that are not on disk. Empty when everything [`crate::plan`]
    /// describes exists, e.g. to decide on a restart whether material must be generated.
    pub fn missing_files(&self) -> Vec<&Path> {
        self.key_and_cert_files()
            .into_iter()
            .filter(|path| !path.is_file())
            .collect()
    }
}

/// Whether an organisation runs orderers or peers; decides its folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// Listed under `OrdererOrgs`; written to `ordererOrganizations/<domain>/orderers/`.
    Orderer,
    /// Listed under `PeerOrgs`; written to `peerOrganizations/<domain>/peers/`.
    Peer,
}

impl OrgKind {
    /// The top-level folder of this kind: `ordererOrganizations` or `peerOrganizations`.
    pub fn folder(self) -> &'static str {
        match self {
            OrgKind::Orderer => "ordererOrganizations",
            OrgKind::Peer => "peerOrganizations",
        }
    }

    /// The folder for this kind's nodes inside the organisation: `orderers` or `peers`.
    pub fn nodes_folder(self) -> &'static str {
        match self {
            OrgKind::Orderer => "orderers",
            OrgKind::Peer => "peers",
        }
    }

    /// The role of this kind's nodes.
    pub fn node_role(self) -> Role {
        match self {
            OrgKind::Orderer => Role::Orderer,
            OrgKind::Peer => Role::Peer,
        }
    }
}

/// One organisation's material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedOrg {
    /// `Name` from the config, e.g. `Org1`.
    pub name: String,
    /// MSP ID: `Name` followed by `MSP` (`Org1` → `Org1MSP`, `Orderer` → `OrdererMSP`), the
    /// convention of Fabric's samples and test network. cryptogen itself writes no MSP ID.
    pub msp_id: String,
    /// `Domain` from the config.
    pub domain: String,
    /// Orderer or peer organisation.
    pub kind: OrgKind,
    /// Whether certificates carry NodeOUs and MSP folders have `config.yaml`.
    pub node_ous: bool,
    /// `<out>/<kind folder>/<domain>`.
    pub dir: PathBuf,
    /// The organisation's verifying MSP folder (`cacerts`, `tlscacerts`, `admincerts` or `config.yaml`),
    /// what a channel config refers to.
    pub msp_dir: PathBuf,
    /// The signing CA (`ca/`).
    pub ca: CaFiles,
    /// The TLS CA (`tlsca/`).
    pub tls_ca: CaFiles,
    /// Peers or orderers, in config order (`Specs`, then `Template`).
    pub nodes: Vec<Identity>,
    /// `Admin@<domain>` first, then `User1@<domain>` … in order.
    pub users: Vec<Identity>,
}

impl GeneratedOrg {
    /// The organisation's admin user, `Admin@<domain>`.
    pub fn admin(&self) -> &Identity {
        // `plan` always puts the admin first; keep this in step with it.
        &self.users[0]
    }
}

/// A CA's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaFiles {
    /// The CA's common name, e.g. `ca.org1.example.com` or `tlsca.org1.example.com`.
    pub common_name: String,
    /// Its folder (`ca/` or `tlsca/`).
    pub dir: PathBuf,
    /// `<common name>-cert.pem`, self-signed.
    pub cert: PathBuf,
    /// `priv_sk`, PKCS#8 PEM, mode 0600.
    pub key: PathBuf,
}

/// What an identity is for; with NodeOUs enabled this is the OU in its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A user (`User<N>@<domain>`).
    Client,
    /// A peer node.
    Peer,
    /// The organisation's admin (`Admin@<domain>`).
    Admin,
    /// An orderer node.
    Orderer,
}

impl Role {
    /// The NodeOU value Fabric expects for this role: `client`, `peer`, `admin` or `orderer`.
    pub fn node_ou(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Peer => "peer",
            Role::Admin => "admin",
            Role::Orderer => "orderer",
        }
    }

    /// Whether this is a node (its TLS files are `server.*`) rather than a user (`client.*`).
    pub fn is_node(self) -> bool {
        matches!(self, Role::Peer | Role::Orderer)
    }
}

/// One node or user: its local MSP folder and its TLS folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Common name, which also names its folder: `peer0.org1.example.com`, `Admin@org1.example.com`.
    pub name: String,
    /// What it is for.
    pub role: Role,
    /// The OU in its signing certificate (`Some(role.node_ou())` when NodeOUs are enabled).
    pub node_ou: Option<String>,
    /// Short host name of a node (`peer0`); `None` for users.
    pub hostname: Option<String>,
    /// Its folder: `<org>/peers/<name>`, `<org>/orderers/<name>` or `<org>/users/<name>`.
    pub dir: PathBuf,
    /// Local MSP folder (`cacerts`, `tlscacerts`, `signcerts`, `keystore`, `admincerts`, `config.yaml`).
    pub msp_dir: PathBuf,
    /// Signing certificate, `msp/signcerts/<name>-cert.pem`.
    pub cert: PathBuf,
    /// Signing key, `msp/keystore/priv_sk` (PKCS#8 PEM, mode 0600).
    pub key: PathBuf,
    /// TLS folder.
    pub tls_dir: PathBuf,
    /// TLS certificate: `tls/server.crt` for nodes, `tls/client.crt` for users.
    pub tls_cert: PathBuf,
    /// TLS key: `tls/server.key` or `tls/client.key` (mode 0600).
    pub tls_key: PathBuf,
    /// The TLS CA's certificate, `tls/ca.crt`.
    pub tls_ca_cert: PathBuf,
    /// Subject alternative names of the TLS certificate (DNS names and IP addresses as text).
    pub tls_sans: Vec<String>,
}
