//! Fabric's common connection profile for a development network, written as JSON and YAML into
//! the data directory, and read back by every command that acts on a network.
//!
//! The shape is what Fabric SDKs and Hyperledger Caliper read: `organizations.<org>.mspid` and
//! `.peers`, `peers.<name>.url` (`grpcs://host:port` with TLS, `grpc://` without),
//! `tlsCACerts.pem` and `.path`, `grpcOptions.ssl-target-name-override`, `orderers`, and the
//! admin's `adminPrivateKey`/`signedCert` paths. Cambium adds its own `clients` section with
//! every user's signing and TLS files, which Fabric tools ignore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cambium_cryptogen::{GeneratedOrg, Identity};
use cambium_msp::SigningIdentity;
use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};
use crate::network::{Network, PROFILE_JSON, PROFILE_YAML};
use crate::ports::endpoint;

/// A common connection profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionProfile {
    /// The network's name.
    pub name: String,
    /// The profile format version, `1.0.0` as Fabric's samples write it.
    pub version: String,
    /// Which organisation an SDK acts for by default.
    #[serde(default)]
    pub client: ClientSection,
    /// Channels and the nodes that serve them.
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelSection>,
    /// Organisations by name (`Org1`).
    pub organizations: BTreeMap<String, Organization>,
    /// Orderers by name.
    #[serde(default)]
    pub orderers: BTreeMap<String, Node>,
    /// Peers by name.
    pub peers: BTreeMap<String, Node>,
    /// Certificate authorities (none: a development network has no CA server).
    #[serde(default)]
    pub certificate_authorities: BTreeMap<String, serde_json::Value>,
    /// Cambium's own section: each organisation's client identities.
    #[serde(default)]
    pub clients: BTreeMap<String, OrgClients>,
}

/// The profile's `client` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSection {
    /// The default organisation's name.
    #[serde(default)]
    pub organization: String,
}

/// One channel's nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelSection {
    /// Orderer names.
    #[serde(default)]
    pub orderers: Vec<String>,
    /// Peer names with their roles.
    #[serde(default)]
    pub peers: BTreeMap<String, PeerRoles>,
}

/// What a peer does for a channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRoles {
    /// It endorses.
    pub endorsing_peer: bool,
    /// It answers queries.
    pub chaincode_query: bool,
    /// It answers ledger queries.
    pub ledger_query: bool,
    /// It delivers events.
    pub event_source: bool,
}

/// An organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// MSP ID, e.g. `Org1MSP`.
    pub mspid: String,
    /// Its peers' names.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Its CA names (none here).
    #[serde(default)]
    pub certificate_authorities: Vec<String>,
    /// The admin's private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_private_key: Option<PemOrPath>,
    /// The admin's signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_cert: Option<PemOrPath>,
}

impl Organization {
    /// The entry for a generated organisation: its MSP ID, the named peers and its admin's key
    /// and certificate by path.
    pub fn generated(org: &GeneratedOrg, peers: Vec<String>) -> Organization {
        let admin = org.admin();
        Organization {
            mspid: org.msp_id.clone(),
            peers,
            certificate_authorities: Vec::new(),
            admin_private_key: Some(PemOrPath {
                pem: None,
                path: Some(admin.key.clone()),
            }),
            signed_cert: Some(PemOrPath {
                pem: None,
                path: Some(admin.cert.clone()),
            }),
        }
    }
}

/// A peer or orderer endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// `grpcs://host:port` (TLS) or `grpc://host:port`.
    pub url: String,
    /// The CA that signed the node's TLS certificate.
    #[serde(
        default,
        rename = "tlsCACerts",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_ca_certs: Option<PemOrPath>,
    /// gRPC options; `ssl-target-name-override` is the name the TLS certificate carries.
    #[serde(default)]
    pub grpc_options: BTreeMap<String, serde_json::Value>,
}

/// A PEM given inline or as a file path, as profiles allow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PemOrPath {
    /// The PEM text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// The file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// An organisation's client identities (Cambium's `clients` section).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgClients {
    /// MSP ID.
    pub mspid: String,
    /// Users by name: `Admin`, `User1`, …
    pub users: BTreeMap<String, ClientIdentity>,
}

/// One client identity's files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientIdentity {
    /// Signing certificate (PEM).
    pub cert: PathBuf,
    /// Signing key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The local MSP folder.
    pub msp_dir: PathBuf,
    /// TLS client certificate, for mutual TLS.
    pub tls_cert: PathBuf,
    /// TLS client key.
    pub tls_key: PathBuf,
}

/// The name of the orderer's TLS certificate and the profile's orderer key.
const SSL_OVERRIDE: &str = "ssl-target-name-override";

impl ConnectionProfile {
    /// The profile of `network`, with absolute paths and inline TLS CA certificates.
    pub fn for_network(network: &Network) -> Result<ConnectionProfile> {
        let scheme = if network.state.tls { "grpcs" } else { "grpc" };
        let orderer_org = network.orderer_org();
        let mut orderers = BTreeMap::new();
        for node in &orderer_org.nodes {
            orderers.insert(
                node.name.clone(),
                node_entry(
                    scheme,
                    network.state.ports.orderer,
                    &node.name,
                    &orderer_org.tls_ca.cert,
                )?,
            );
        }
        let mut peers = BTreeMap::new();
        let mut organizations = BTreeMap::new();
        let mut clients = BTreeMap::new();
        let mut channel = ChannelSection {
            orderers: orderers.keys().cloned().collect(),
            peers: BTreeMap::new(),
        };
        let network_peers = network.peers();
        for org in network.peer_orgs() {
            let org_peers: Vec<_> = network_peers.iter().filter(|p| p.org == org.name).collect();
            for peer in &org_peers {
                peers.insert(
                    peer.name.clone(),
                    node_entry(scheme, peer.port, &peer.name, &org.tls_ca.cert)?,
                );
                channel.peers.insert(
                    peer.name.clone(),
                    PeerRoles {
                        endorsing_peer: true,
                        chaincode_query: true,
                        ledger_query: true,
                        event_source: true,
                    },
                );
            }
            organizations.insert(
                org.name.clone(),
                Organization::generated(org, org_peers.iter().map(|p| p.name.clone()).collect()),
            );
            clients.insert(org.name.clone(), org_clients(org));
        }
        Ok(ConnectionProfile {
            name: "cambium-dev".to_owned(),
            version: "1.0.0".to_owned(),
            client: ClientSection {
                organization: network
                    .peer_orgs()
                    .first()
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
            },
            channels: BTreeMap::from([(network.state.channel.clone(), channel)]),
            organizations,
            orderers,
            peers,
            certificate_authorities: BTreeMap::new(),
            clients,
        })
    }

    /// Writes the profile as `connection-profile.json` and `.yaml` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| NodeError::Rejected(format!("encoding the profile: {e}")))?;
        crate::network::write(&dir.join(PROFILE_JSON), json.as_bytes())?;
        let yaml = serde_norway::to_string(self)
            .map_err(|e| NodeError::Rejected(format!("encoding the profile: {e}")))?;
        crate::network::write(&dir.join(PROFILE_YAML), yaml.as_bytes())
    }

    /// Reads a profile written as JSON or YAML (YAML is a superset, so one parser reads both).
    pub fn load(path: &Path) -> Result<ConnectionProfile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NodeError::Profile {
                    path: path.to_owned(),
                    reason:
                        "does not exist; start a network with `cambium up` or pass --profile FILE"
                            .to_owned(),
                }
            } else {
                NodeError::io("reading", path, e)
            }
        })?;
        serde_norway::from_str(&text).map_err(|e| NodeError::Profile {
            path: path.to_owned(),
            reason: format!("is not a connection profile ({e})"),
        })
    }

    /// The organisation named `name` (`Org1`, `org1`, or its MSP ID `Org1MSP`).
    pub fn organization(&self, name: &str) -> Result<(&str, &Organization)> {
        self.organizations
            .iter()
            .find(|(key, org)| {
                key.eq_ignore_ascii_case(name) || org.mspid.eq_ignore_ascii_case(name)
            })
            .map(|(key, org)| (key.as_str(), org))
            .ok_or_else(|| NodeError::Unknown {
                what: "organization",
                name: name.to_owned(),
                known: self
                    .organizations
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The signing identity of user `user` (`Admin`, `User1`, …) of organisation `org`.
    pub fn signing_identity(&self, org: &str, user: &str) -> Result<SigningIdentity> {
        let (key, organization) = self.organization(org)?;
        let files = self.client_files(key, user)?;
        let cert =
            std::fs::read(&files.cert).map_err(|e| NodeError::io("reading", &files.cert, e))?;
        let private =
            std::fs::read(&files.key).map_err(|e| NodeError::io("reading", &files.key, e))?;
        Ok(SigningIdentity::new(&organization.mspid, cert, &private)?)
    }

    /// The files of user `user` of the organisation keyed `org_key`: from Cambium's `clients`
    /// section, or for `Admin` from `adminPrivateKey`/`signedCert`.
    pub fn client_files(&self, org_key: &str, user: &str) -> Result<ClientIdentity> {
        if let Some(found) = self.clients.get(org_key).and_then(|c| {
            c.users
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(user))
        }) {
            return Ok(found.1.clone());
        }
        let organization = &self.organizations[org_key];
        if user.eq_ignore_ascii_case("admin") {
            if let (
                Some(PemOrPath {
                    path: Some(key), ..
                }),
                Some(PemOrPath {
                    path: Some(cert), ..
                }),
            ) = (&organization.admin_private_key, &organization.signed_cert)
            {
                return Ok(ClientIdentity {
                    cert: cert.clone(),
                    key: key.clone(),
                    msp_dir: PathBuf::new(),
                    tls_cert: PathBuf::new(),
                    tls_key: PathBuf::new(),
                });
            }
        }
        Err(NodeError::Unknown {
            what: "user",
            name: format!("{user} of {org_key}"),
            known: self
                .clients
                .get(org_key)
                .map(|c| c.users.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        })
    }

    /// The peer named `name`, or the organisation's first peer when `name` is `None`.
    pub fn peer_of(&self, org: &str, name: Option<&str>) -> Result<(&str, &Node)> {
        let (_, organization) = self.organization(org)?;
        let wanted = match name {
            Some(n) => n.to_owned(),
            None => organization
                .peers
                .first()
                .cloned()
                .ok_or_else(|| NodeError::Unknown {
                    what: "peer",
                    name: format!("any peer of {org}"),
                    known: self.peers.keys().cloned().collect::<Vec<_>>().join(", "),
                })?,
        };
        self.peer(&wanted)
    }

    /// The peer named `name`.
    pub fn peer(&self, name: &str) -> Result<(&str, &Node)> {
        self.peers
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
            .ok_or_else(|| NodeError::Unknown {
                what: "peer",
                name: name.to_owned(),
                known: self.peers.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// The first orderer.
    pub fn orderer(&self) -> Result<(&str, &Node)> {
        self.orderers
            .iter()
            .next()
            .map(|(k, v)| (k.as_str(), v))
            .ok_or_else(|| {
                NodeError::Rejected(
                    "the connection profile lists no orderers; add one under `orderers`".to_owned(),
                )
            })
    }

    /// The profile's only channel, or the first.
    pub fn channel(&self) -> Result<&str> {
        self.channels
            .keys()
            .next()
            .map(String::as_str)
            .ok_or_else(|| {
                NodeError::Rejected(
                    "the connection profile lists no channels; pass --channel".to_owned(),
                )
            })
    }
}

impl Node {
    /// The TLS CA certificate PEM, inline or read from its path; `None` for a `grpc://` node.
    pub fn tls_ca_pem(&self) -> Result<Option<Vec<u8>>> {
        if !self.url.starts_with("grpcs://") {
            return Ok(None);
        }
        let certs = self.tls_ca_certs.as_ref().ok_or_else(|| {
            NodeError::Rejected(format!(
                "{} uses TLS but has no tlsCACerts in the profile",
                self.url
            ))
        })?;
        if let Some(pem) = &certs.pem {
            return Ok(Some(pem.as_bytes().to_vec()));
        }
        let path = certs.path.as_ref().ok_or_else(|| {
            NodeError::Rejected(format!("{}: tlsCACerts needs `pem` or `path`", self.url))
        })?;
        std::fs::read(path)
            .map(Some)
            .map_err(|e| NodeError::io("reading", path, e))
    }

    /// `host:port` without the scheme.
    pub fn address(&self) -> &str {
        self.url
            .strip_prefix("grpcs://")
            .or_else(|| self.url.strip_prefix("grpc://"))
            .unwrap_or(&self.url)
    }

    /// The name the node's TLS certificate must carry, if the profile overrides it.
    pub fn tls_name_override(&self) -> Option<&str> {
        self.grpc_options.get(SSL_OVERRIDE).and_then(|v| v.as_str())
    }
}

fn node_entry(scheme: &str, port: u16, name: &str, tls_ca: &Path) -> Result<Node> {
    node_entry_at(scheme, &endpoint(port), name, tls_ca)
}

/// A profile entry for the node `name` at `address` (`host:port`) whose TLS certificate
/// `tls_ca` signed.
pub(crate) fn node_entry_at(
    scheme: &str,
    address: &str,
    name: &str,
    tls_ca: &Path,
) -> Result<Node> {
    let pem = std::fs::read_to_string(tls_ca).map_err(|e| NodeError::io("reading", tls_ca, e))?;
    Ok(Node {
        url: format!("{scheme}://{address}"),
        tls_ca_certs: Some(PemOrPath {
            pem: Some(pem),
            path: Some(tls_ca.to_owned()),
        }),
        grpc_options: BTreeMap::from([
            (SSL_OVERRIDE.to_owned(), serde_json::Value::from(name)),
            ("hostnameOverride".to_owned(), serde_json::Value::from(name)),
        ]),
    })
}

/// An organisation's users as the profile's `clients` section lists them.
pub(crate) fn org_clients(org: &GeneratedOrg) -> OrgClients {
    let users = org
        .users
        .iter()
        .map(|id: &Identity| {
            let short = id.name.split('@').next().unwrap_or(&id.name).to_owned();
            (
                short,
                ClientIdentity {
                    cert: id.cert.clone(),
                    key: id.key.clone(),
                    msp_dir: id.msp_dir.clone(),
                    tls_cert: id.tls_cert.clone(),
                    tls_key: id.tls_key.clone(),
                },
            )
        })
        .collect();
    OrgClients {
        mspid: org.msp_id.clone(),
        users,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Ports;

    #[test]
    fn profile_has_what_caliper_and_the_sdks_read_and_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let network = Network::create(tmp.path(), Ports::from_base(22000).unwrap(), true).unwrap();
        let profile = ConnectionProfile::for_network(&network).unwrap();
        profile.write(&network.root).unwrap();

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(network.profile_json_path()).unwrap()).unwrap();
        assert_eq!(json["organizations"]["Org1"]["mspid"], "Org1MSP");
        assert_eq!(
            json["organizations"]["Org2"]["peers"][0],
            "peer0.org2.example.com"
        );
        let peer = &json["peers"]["peer0.org1.example.com"];
        assert_eq!(peer["url"], "grpcs://127.0.0.1:22001");
        assert!(peer["tlsCACerts"]["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN "));
        assert_eq!(
            peer["grpcOptions"]["ssl-target-name-override"],
            "peer0.org1.example.com"
        );
        assert_eq!(
            json["orderers"]["orderer.example.com"]["url"],
            "grpcs://127.0.0.1:22000"
        );
        assert!(json["organizations"]["Org1"]["adminPrivateKey"]["path"].is_string());

        for path in [network.profile_json_path(), network.profile_yaml_path()] {
            assert_eq!(ConnectionProfile::load(&path).unwrap(), profile);
        }
        let admin = profile.signing_identity("org1msp", "admin").unwrap();
        assert_eq!(admin.msp_id(), "Org1MSP");
        let user = profile.signing_identity("Org2", "User1").unwrap();
        assert_eq!(user.msp_id(), "Org2MSP");
        let (name, node) = profile.peer_of("Org2", None).unwrap();
        assert_eq!(
            (name, node.address()),
            ("peer0.org2.example.com", "127.0.0.1:22002")
        );
        assert!(node.tls_ca_pem().unwrap().is_some());
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let network = Network::create(tmp.path(), Ports::from_base(22100).unwrap(), false).unwrap();
        let profile = ConnectionProfile::for_network(&network).unwrap();
        assert_eq!(
            profile.organization("Org3").unwrap_err().to_string(),
            "organization 'Org3' is not in this network; known: Org1, Org2"
        );
        assert!(profile
            .signing_identity("Org1", "User9")
            .unwrap_err()
            .to_string()
            .contains("known: Admin, User1"));
        assert_eq!(
            profile.peers["peer0.org1.example.com"].url,
            "grpc://127.0.0.1:22101"
        );
        let err = ConnectionProfile::load(&tmp.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
